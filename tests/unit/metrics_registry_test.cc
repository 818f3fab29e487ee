// The metrics Registry (common/base/metrics.h): the Prometheus text exposition
// it renders, and families added again by other components. What the
// services expose is tested against them (e2e/metrics_test.cc).
#include <string>

#include <gtest/gtest.h>

#include "common/base/metrics.h"

namespace microblog {
namespace {

// The exposition format 0.0.4, exactly: HELP/TYPE once per family, label
// values and HELP escaped, cumulative buckets ending in +Inf = _count,
// collected samples after the families.
TEST(Metrics, RendersTextFormatExactly) {
  Registry registry;
  CounterFamily& calls =
      registry.AddCounter("calls_total", "Calls.\nAll of them \\ counted.", {"path"});
  calls.WithLabels({"a\"b\\c\nd"}).Increment(2);
  calls.WithLabels({"plain"}).Increment(0.5);
  HistogramFamily& latency = registry.AddHistogram("latency_seconds", "Latency.", {}, {0.1, 1});
  latency.WithLabels({}).Observe(0.05);
  latency.WithLabels({}).Observe(0.5);
  latency.WithLabels({}).Observe(7);
  registry.AddCollector([](Registry::Samples& out) {
    out.push_back({"open_fds", "Open.", "gauge", {}, 3});
  });
  EXPECT_EQ(registry.Render(),
            "# HELP calls_total Calls.\\nAll of them \\\\ counted.\n"
            "# TYPE calls_total counter\n"
            "calls_total{path=\"a\\\"b\\\\c\\nd\"} 2\n"
            "calls_total{path=\"plain\"} 0.5\n"
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{le=\"0.1\"} 1\n"
            "latency_seconds_bucket{le=\"1\"} 2\n"
            "latency_seconds_bucket{le=\"+Inf\"} 3\n"
            "latency_seconds_sum 7.55\n"
            "latency_seconds_count 3\n"
            "# HELP open_fds Open.\n"
            "# TYPE open_fds gauge\n"
            "open_fds 3\n");
}

// Components add the families they need without coordinating: the same
// name returns the same family, whose series they share or tell apart by
// labels; gauges go up and down.
TEST(Metrics, AddingAFamilyAgainReturnsItAndGaugesRender) {
  Registry registry;
  GaugeFamily& first = registry.AddGauge("pool_connections", "Connections.", {"pool"});
  GaugeFamily& again = registry.AddGauge("pool_connections", "Ignored help.", {"pool"});
  EXPECT_EQ(&first, &again);
  first.WithLabels({"primary"}).Set(3);
  again.WithLabels({"primary"}).Add(-1);
  again.WithLabels({"events"}).Add(0.5);
  CounterFamily& counter = registry.AddCounter("waits_total", "Waits.", {});
  EXPECT_EQ(&counter, &registry.AddCounter("waits_total", "Waits.", {}));
  counter.WithLabels({}).Increment();
  EXPECT_EQ(registry.Render(),
            "# HELP pool_connections Connections.\n"
            "# TYPE pool_connections gauge\n"
            "pool_connections{pool=\"events\"} 0.5\n"
            "pool_connections{pool=\"primary\"} 2\n"
            "# HELP waits_total Waits.\n"
            "# TYPE waits_total counter\n"
            "waits_total 1\n");
  EXPECT_DEATH(registry.AddCounter("pool_connections_total", "x", {}).WithLabels({}).Increment();
               registry.AddGauge("waits_total", "Not a gauge.", {}), "added twice");
}

}  // namespace
}  // namespace microblog
