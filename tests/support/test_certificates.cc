#include "support/test_certificates.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/child_process.h"
#include "support/read_file.h"

namespace microblog {
namespace test_support {
namespace {

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TestCertificates::TestCertificates() {
  std::ofstream(dir_.path() / "server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  std::ofstream(dir_.path() / "client.ext") << "extendedKeyUsage=clientAuth\n";
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                       "-nodes"};
  Openssl(Concat({"req", "-x509", "-days", "2", "-subj", "/CN=microblog test CA", "-keyout",
                  "ca.key", "-out", "ca.crt"},
                 ec));
  for (const std::string name : {"server", "client"}) {
    Openssl(Concat({"req", "-subj", "/CN=" + name, "-keyout", name + ".key", "-out", name + ".csr"},
                   ec));
    Openssl({"x509", "-req", "-days", "2", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey",
             "ca.key", "-CAcreateserial", "-extfile", name + ".ext", "-out", name + ".crt"});
  }
}

void TestCertificates::AddClient(const std::string& name, const std::string& uri_san) {
  std::ofstream(dir_.path() / (name + ".ext"))
      << "extendedKeyUsage=clientAuth\nsubjectAltName=URI:" << uri_san << "\n";
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                       "-nodes"};
  Openssl(
      Concat({"req", "-subj", "/CN=" + name, "-keyout", name + ".key", "-out", name + ".csr"}, ec));
  Openssl({"x509", "-req", "-days", "2", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
           "-CAcreateserial", "-extfile", name + ".ext", "-out", name + ".crt"});
}

std::string TestCertificates::Read(const std::string& file) const {
  return ReadFile(dir_.path() / file);
}

void TestCertificates::Openssl(const std::vector<std::string>& args) const {
  RunResult result =
      RunToCompletion("openssl", args, {}, std::chrono::seconds(60), dir_.path().string());
  if (result.exit_code != 0) throw std::runtime_error("openssl failed: " + result.output);
}

}  // namespace test_support
}  // namespace microblog
