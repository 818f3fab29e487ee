#include "common/base/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"

namespace microblog {
namespace {

void AddTo(std::atomic<double>& target, double by) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by, std::memory_order_relaxed)) {
  }
}

// A sample value as Prometheus parses it.
std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // The shortest text that parses back to the same double.
  char text[64];
  const std::to_chars_result written = std::to_chars(text, text + sizeof text, value);
  return std::string(text, written.ptr);
}

// Backslash and line feed escaped, and double quote too in label values
// (HELP text keeps it).
std::string Escape(const std::string& text, bool quote) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || (quote && c == '"')) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Labels(const std::vector<std::pair<std::string, std::string>>& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", labels[i].first, "=\"",
                    Escape(labels[i].second, /*quote=*/true), "\"");
  }
  return out + "}";
}

std::vector<std::pair<std::string, std::string>> Zip(const std::vector<std::string>& names,
                                                     const std::vector<std::string>& values) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out.emplace_back(names[i], values[i]);
  }
  return out;
}

void Header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  absl::StrAppend(&out, "# HELP ", name, " ", Escape(help, /*quote=*/false), "\n# TYPE ", name, " ",
                  type, "\n");
}

}  // namespace

void Counter::Increment(double by) { AddTo(value_, by); }

void Gauge::Add(double by) { AddTo(value_, by); }

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (std::size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double value) {
  std::size_t bucket = 0;
  while (bucket < bounds_->size() && value > (*bounds_)[bucket]) ++bucket;
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  AddTo(sum_, value);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> cumulative;
  uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    cumulative.push_back(total);
  }
  return cumulative;
}

Registry::Entry& Registry::FindOrAdd(const std::string& name, const char* kind,
                                     const std::vector<std::string>& label_names,
                                     absl::FunctionRef<std::unique_ptr<Entry>()> make) {
  absl::MutexLock lock(&mu_);
  for (const std::unique_ptr<Entry>& entry : entries_) {
    if (entry->name != name) continue;
    const char* existing = entry->counters ? "counter" : entry->gauges ? "gauge" : "histogram";
    const std::vector<std::string>& existing_labels =
        entry->counters ? entry->counters->label_names()
        : entry->gauges ? entry->gauges->label_names()
                        : entry->histograms->label_names();
    if (std::string(existing) != kind || existing_labels != label_names) {
      std::fprintf(stderr, "metric %s added twice with different types or labels\n", name.c_str());
      std::abort();
    }
    return *entry;
  }
  entries_.push_back(make());
  return *entries_.back();
}

CounterFamily& Registry::AddCounter(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names) {
  return *FindOrAdd(name, "counter", label_names, [&] {
            auto entry = std::make_unique<Entry>();
            entry->name = name;
            entry->help = help;
            entry->counters = std::make_unique<CounterFamily>(
                label_names, [] { return std::make_unique<Counter>(); });
            return entry;
          }).counters;
}

GaugeFamily& Registry::AddGauge(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names) {
  return *FindOrAdd(name, "gauge", label_names, [&] {
            auto entry = std::make_unique<Entry>();
            entry->name = name;
            entry->help = help;
            entry->gauges = std::make_unique<GaugeFamily>(label_names,
                                                          [] { return std::make_unique<Gauge>(); });
            return entry;
          }).gauges;
}

HistogramFamily& Registry::AddHistogram(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds) {
  return *FindOrAdd(name, "histogram", label_names, [&] {
            auto entry = std::make_unique<Entry>();
            entry->name = name;
            entry->help = help;
            entry->bounds = std::make_unique<std::vector<double>>(std::move(bounds));
            const std::vector<double>* kept = entry->bounds.get();
            entry->histograms = std::make_unique<HistogramFamily>(
                label_names, [kept] { return std::make_unique<Histogram>(kept); });
            return entry;
          }).histograms;
}

void Registry::AddCollector(std::function<void(Samples&)> collect) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collect));
}

std::string Registry::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const std::unique_ptr<Entry>& entry : entries_) {
    if (entry->counters) {
      Header(out, entry->name, entry->help, "counter");
      entry->counters->ForEach([&](const std::vector<std::string>& values, const Counter& c) {
        absl::StrAppend(&out, entry->name, Labels(Zip(entry->counters->label_names(), values)), " ",
                        FormatValue(c.value()), "\n");
      });
    } else if (entry->gauges) {
      Header(out, entry->name, entry->help, "gauge");
      entry->gauges->ForEach([&](const std::vector<std::string>& values, const Gauge& g) {
        absl::StrAppend(&out, entry->name, Labels(Zip(entry->gauges->label_names(), values)), " ",
                        FormatValue(g.value()), "\n");
      });
    } else {
      Header(out, entry->name, entry->help, "histogram");
      entry->histograms->ForEach([&](const std::vector<std::string>& values, const Histogram& h) {
        std::vector<std::pair<std::string, std::string>> labels =
            Zip(entry->histograms->label_names(), values);
        const std::vector<uint64_t> counts = h.CumulativeCounts();
        for (std::size_t i = 0; i < counts.size(); ++i) {
          auto with_le = labels;
          with_le.emplace_back("le", i < entry->bounds->size() ? FormatValue((*entry->bounds)[i])
                                                               : std::string("+Inf"));
          absl::StrAppend(&out, entry->name, "_bucket", Labels(with_le), " ", counts[i], "\n");
        }
        absl::StrAppend(&out, entry->name, "_sum", Labels(labels), " ", FormatValue(h.sum()), "\n",
                        entry->name, "_count", Labels(labels), " ", counts.back(), "\n");
      });
    }
  }
  Samples samples;
  for (const auto& collect : collectors_) collect(samples);
  std::string last_name;
  for (const Sample& sample : samples) {
    if (sample.name != last_name) {
      Header(out, sample.name, sample.help, sample.type.c_str());
      last_name = sample.name;
    }
    absl::StrAppend(&out, sample.name, Labels(sample.labels), " ", FormatValue(sample.value), "\n");
  }
  return out;
}

const std::vector<double>& DefaultLatencyBuckets() {
  static const std::vector<double> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                               0.5,   1,    2.5,   5,    10};
  return kBuckets;
}

}  // namespace microblog
