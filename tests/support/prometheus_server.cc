#include "support/prometheus_server.h"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "support/eventually.h"
#include "support/http_get.h"

namespace microblog {
namespace test_support {
namespace {

// As many as ServiceProcess: a taken port is the only expected failure.
constexpr int kStartAttempts = 3;

// The field `name` of `object`; an empty Value when it is absent, so that a
// malformed answer fails the type checks below instead of crashing.
const google::protobuf::Value& Field(const google::protobuf::Struct& object,
                                     const std::string& name) {
  const auto it = object.fields().find(name);
  return it == object.fields().end() ? google::protobuf::Value::default_instance() : it->second;
}

}  // namespace

PrometheusServer::PrometheusServer(const std::map<std::string, std::string>& targets,
                                   std::chrono::milliseconds scrape_interval,
                                   std::chrono::milliseconds startup_timeout) {
  // The timeout is set as well because its default (10 s) must not exceed
  // the interval.
  const std::string interval = std::to_string(scrape_interval.count()) + "ms";
  std::ofstream config(dir_.path() / "prometheus.yml");
  config << "global:\n"
         << "  scrape_interval: " << interval << "\n"
         << "  scrape_timeout: " << interval << "\n"
         << "scrape_configs:\n";
  for (const auto& [job, target] : targets) {
    config << "  - job_name: '" << job << "'\n"
           << "    static_configs:\n"
           << "      - targets: ['" << target << "']\n";
  }
  config.close();
  if (!config) {
    throw std::runtime_error("cannot write " + (dir_.path() / "prometheus.yml").string());
  }

  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    if (TryStart(startup_timeout)) return;
  }
  throw std::runtime_error("prometheus exited during start-up " + std::to_string(kStartAttempts) +
                           " times; last output:\n" + child_->ReadOutput());
}

bool PrometheusServer::TryStart(std::chrono::milliseconds startup_timeout) {
  address_ = "127.0.0.1:" + std::to_string(FreeTcpPort());
  try {
    child_ = std::make_unique<ChildProcess>(
        "prometheus",
        std::vector<std::string>{"--config.file=" + (dir_.path() / "prometheus.yml").string(),
                                 "--storage.tsdb.path=" + (dir_.path() / "data").string(),
                                 "--web.listen-address=" + address_},
        EnvVars{}, dir_.path().string());
  } catch (const std::runtime_error& e) {
    // The one failure a developer machine is likely to hit: say what to do.
    throw std::runtime_error(std::string(e.what()) +
                             ": this test needs a real Prometheus server, Debian's `prometheus` "
                             "package (scripts/install-deps.sh installs it)");
  }

  bool exited = false;
  const bool ready = Eventually(
      [&] {
        exited = !child_->Running();
        if (exited) return true;
        try {
          return HttpGet(address_, "/-/ready").status == 200;
        } catch (const std::runtime_error&) {
          return false;  // not listening yet
        }
      },
      startup_timeout);
  if (exited) return false;
  if (ready) return true;
  throw std::runtime_error("prometheus was not ready within " +
                           std::to_string(startup_timeout.count()) + " ms; output:\n" +
                           child_->ReadOutput());
}

std::vector<PromSample> PrometheusServer::Query(const std::string& promql) const {
  const HttpResponse response = HttpGet(address_, "/api/v1/query?query=" + UrlEncode(promql));
  const auto failure = [&](const std::string& why) {
    return std::runtime_error("Prometheus query " + promql + ": " + why + "; HTTP " +
                              std::to_string(response.status) + " " + response.body);
  };
  // Its answer: {"status": "success", "data": {"resultType": "vector",
  // "result": [{"metric": {label: value...}, "value": [time, "value"]}...]}}.
  google::protobuf::Struct answer;
  const auto parsed = google::protobuf::util::JsonStringToMessage(response.body, &answer);
  if (!parsed.ok()) throw failure("not JSON (" + parsed.ToString() + ")");
  if (Field(answer, "status").string_value() != "success") throw failure("not a success");
  const google::protobuf::Struct& data = Field(answer, "data").struct_value();
  if (Field(data, "resultType").string_value() != "vector") throw failure("not an instant vector");

  std::vector<PromSample> samples;
  for (const google::protobuf::Value& element : Field(data, "result").list_value().values()) {
    PromSample sample;
    const google::protobuf::Struct& metric = Field(element.struct_value(), "metric").struct_value();
    for (const auto& [name, value] : metric.fields()) sample.labels[name] = value.string_value();
    // Values come as strings, to carry "+Inf" and "NaN" (strtod reads both).
    const google::protobuf::ListValue& pair = Field(element.struct_value(), "value").list_value();
    const std::string value = pair.values_size() == 2 ? pair.values(1).string_value() : "";
    char* end = nullptr;
    sample.value = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0') throw failure("a sample without [time, \"value\"]");
    samples.push_back(std::move(sample));
  }
  return samples;
}

}  // namespace test_support
}  // namespace microblog
