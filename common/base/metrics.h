// Prometheus metrics: counter, gauge and histogram families with labels,
// kept in a Registry and rendered in the text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/). Served
// over HTTP by MetricsServer (metrics_server.h).
//
//   Registry registry;
//   CounterFamily& handled = registry.AddCounter(
//       "grpc_server_handled_total", "RPCs completed on the server.",
//       {"grpc_method", "grpc_code"});
//   handled.WithLabels({"GetUser", "OK"}).Increment();
//   registry.AddGauge("microblog_db_pool_connections", "...", {"pool", "state"})
//       .WithLabels({"primary", "idle"}).Set(3);
//   registry.AddCollector([](Registry::Samples& out) { ... });  // at scrape time
//   std::string text = registry.Render();
//
// Series are created on first use (or up front, to exist at 0) and live as
// long as the registry; WithLabels() returns a reference that stays valid,
// so hot paths look a series up once and keep it. Adding a family whose name
// exists returns the existing one: each component (a connection pool, a
// batcher) adds what it needs without knowing who else reports the same
// metric with other labels.
//
// Thread-safety: everything may be used from any thread. Updating a series
// is lock-free (atomics); creating one and rendering take the family's
// mutex.
#ifndef MICROBLOG_COMMON_BASE_METRICS_H_
#define MICROBLOG_COMMON_BASE_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

namespace microblog {

// A value that only goes up.
class Counter {
 public:
  void Increment(double by = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double by);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts of observations in cumulative buckets, with their sum.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double value);

  // Cumulative count of each bound, then of +Inf; sum of the observations.
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double>* bounds_;                // upper bounds, ascending
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, +Inf last
  std::atomic<double> sum_{0};
};

// A family of one metric's series, told apart by their label values.
template <typename Series>
class Family {
 public:
  Family(std::vector<std::string> label_names, std::function<std::unique_ptr<Series>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}

  // The series with these label values (one per label name), created at
  // its zero value on first use.
  Series& WithLabels(const std::vector<std::string>& values) {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<Series>& series = series_[values];
    if (!series) series = make_();
    return *series;
  }

  const std::vector<std::string>& label_names() const { return label_names_; }

  // Calls `visit(label values, series)` for each series, in label order,
  // before it returns.
  void ForEach(absl::FunctionRef<void(const std::vector<std::string>& values, const Series& series)>
                   visit) const {
    absl::MutexLock lock(&mu_);
    for (const auto& [values, series] : series_) visit(values, *series);
  }

 private:
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<Series>()> make_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
 public:
  // One sample a collector reports at scrape time.
  struct Sample {
    std::string name;  // family name
    std::string help;
    std::string type;  // "gauge" or "counter"
    std::vector<std::pair<std::string, std::string>> labels;
    double value = 0;
  };
  using Samples = std::vector<Sample>;

  // Names must be valid Prometheus metric names (counters' ending in
  // _total), label names valid label names. The returned family lives as
  // long as the registry. A name added again returns the family added first
  // (help and bounds of the first call); adding it with another type or
  // other label names is a programming error and aborts.
  CounterFamily& AddCounter(const std::string& name, const std::string& help,
                            std::vector<std::string> label_names);
  GaugeFamily& AddGauge(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names);
  HistogramFamily& AddHistogram(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names, std::vector<double> bounds);
  // Runs `collect` at every Render(): for values read from elsewhere
  // (/proc) or computed at scrape time. Samples of one name must be
  // consecutive, and their names not those of families. What `collect`
  // reads must outlive the registry's scrapes.
  void AddCollector(std::function<void(Samples&)> collect);

  // Every family and collected sample, in text format 0.0.4.
  std::string Render() const;

 private:
  struct Entry {
    std::string name;
    std::string help;
    std::unique_ptr<CounterFamily> counters;
    std::unique_ptr<GaugeFamily> gauges;
    std::unique_ptr<HistogramFamily> histograms;
    std::unique_ptr<std::vector<double>> bounds;
  };
  // The entry named `name`, or a new one made by `make`, checked to be of
  // `kind` with `label_names`.
  Entry& FindOrAdd(const std::string& name, const char* kind,
                   const std::vector<std::string>& label_names,
                   absl::FunctionRef<std::unique_ptr<Entry>()> make);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(Samples&)>> collectors_ ABSL_GUARDED_BY(mu_);
};

// go-grpc-prometheus's (Prometheus client's) default histogram buckets, in
// seconds.
const std::vector<double>& DefaultLatencyBuckets();

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_METRICS_H_
