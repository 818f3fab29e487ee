// A minimal HTTP/1.1 GET for tests (the services' /metrics endpoint,
// Prometheus's HTTP API): one request on a fresh TCP connection, the whole
// response read until the server closes it, a chunked body decoded.
//
//   HttpResponse response = HttpGet("127.0.0.1:9464", "/metrics");
//   EXPECT_EQ(response.status, 200);
#ifndef MICROBLOG_TESTS_SUPPORT_HTTP_GET_H_
#define MICROBLOG_TESTS_SUPPORT_HTTP_GET_H_

#include <string>

namespace microblog {
namespace test_support {

struct HttpResponse {
  int status = 0;       // 0 when there was no parsable response
  std::string headers;  // the header block, status line included
  std::string body;
};

// GET `path` from `address` ("host:port", IPv4). Throws std::runtime_error
// when it cannot connect; a response that does not parse has status 0.
// `body` is the payload: a chunked one (Go's servers chunk the larger
// answers) comes decoded.
HttpResponse HttpGet(const std::string& address, const std::string& path);

// `value` percent-encoded for a URL's query string: every byte but
// RFC 3986's unreserved characters (e.g. a PromQL query).
std::string UrlEncode(const std::string& value);

// Sends `bytes` as they are to `address` and returns what came back before
// the server closed the connection (or 2 s passed): for garbage requests.
std::string SendRaw(const std::string& address, const std::string& bytes);

// A TCP connection a test drives by hand, to play a client that connects
// and then sends nothing, or trickles a request it never finishes (a
// "slowloris"). Closed on destruction. Not thread-safe.
class RawConnection {
 public:
  // Connects to `address` ("host:port", IPv4); throws std::runtime_error
  // when it cannot.
  explicit RawConnection(const std::string& address);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Sends `bytes`; false when the connection is gone.
  bool Send(const std::string& bytes);
  // Whether the server has closed the connection (whatever it sent before,
  // e.g. a 408, is read and dropped). Never blocks.
  bool ClosedByServer();

 private:
  int fd_;
};

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_HTTP_GET_H_
