// A throwaway certificate authority for TLS tests: a CA, a server
// certificate for 127.0.0.1 / localhost and a client certificate, made with
// the openssl command-line tool in a temporary directory.
//
//   TestCertificates certs;
//   tls.pem_root_certs = certs.Read("ca.crt");
//   env["TLS_CERT_FILE"] = certs.Path("server.crt");
#ifndef MICROBLOG_TESTS_SUPPORT_TEST_CERTIFICATES_H_
#define MICROBLOG_TESTS_SUPPORT_TEST_CERTIFICATES_H_

#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace microblog {
namespace test_support {

class TestCertificates {
 public:
  // Files: ca.crt, ca.key, server.crt, server.key, client.crt, client.key.
  // Throws std::runtime_error (with openssl's output) when openssl fails.
  TestCertificates();

  // Adds NAME.crt and NAME.key: a client certificate whose identity is the
  // URI SAN `uri_san` (e.g. a SPIFFE id).
  void AddClient(const std::string& name, const std::string& uri_san);

  std::string Path(const std::string& file) const { return (dir_.path() / file).string(); }
  // The contents of `file`.
  std::string Read(const std::string& file) const;

 private:
  void Openssl(const std::vector<std::string>& args) const;

  TempDir dir_{"mbcert"};
};

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_TEST_CERTIFICATES_H_
