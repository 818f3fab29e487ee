#include "support/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <optional>
#include <stdexcept>

namespace microblog {
namespace test_support {
namespace {

int ConnectTcp(const std::string& address) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("bad address " + address);
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  if (inet_pton(AF_INET, address.substr(0, colon).c_str(), &target.sin_addr) != 1) {
    throw std::runtime_error("bad address " + address);
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  if (connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
    close(fd);
    throw std::runtime_error("cannot connect to " + address);
  }
  return fd;
}

// A connection whose reads give up after 2 s of silence.
int Connect(const std::string& address) {
  const int fd = ConnectTcp(address);
  timeval timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

std::string Exchange(int fd, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string received;
  char buffer[4096];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    received.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  return received;
}

// The payload of a chunked body (RFC 9112 section 7.1: hex size line, data,
// CRLF, until a chunk of size 0; extensions and trailers ignored); nullopt
// when it is cut short or malformed.
std::optional<std::string> Dechunk(const std::string& chunked) {
  std::string payload;
  std::size_t at = 0;
  for (;;) {
    const std::size_t line_end = chunked.find("\r\n", at);
    if (line_end == std::string::npos) return std::nullopt;
    const std::string size_line = chunked.substr(at, line_end - at);
    if (size_line.empty() || !std::isxdigit(static_cast<unsigned char>(size_line[0]))) {
      return std::nullopt;
    }
    const std::size_t size = std::stoul(size_line, nullptr, 16);
    if (size == 0) return payload;
    const std::size_t data = line_end + 2;
    if (size > chunked.size() || data + size + 2 > chunked.size()) return std::nullopt;
    payload.append(chunked, data, size);
    at = data + size + 2;
  }
}

bool IsChunked(std::string headers) {
  std::transform(headers.begin(), headers.end(), headers.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return headers.find("\r\ntransfer-encoding: chunked") != std::string::npos;
}

}  // namespace

HttpResponse HttpGet(const std::string& address, const std::string& path) {
  const std::string raw =
      Exchange(Connect(address),
               "GET " + path + " HTTP/1.1\r\nHost: " + address + "\r\nConnection: close\r\n\r\n");
  HttpResponse response;
  const std::size_t end_of_headers = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end_of_headers == std::string::npos) return response;
  response.headers = raw.substr(0, end_of_headers);
  response.body = raw.substr(end_of_headers + 4);
  if (IsChunked(response.headers)) {
    std::optional<std::string> payload = Dechunk(response.body);
    if (!payload.has_value()) return {};
    response.body = std::move(*payload);
  }
  response.status = std::stoi(raw.substr(9, 3));
  return response;
}

std::string UrlEncode(const std::string& value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~') {
      encoded += c;
    } else {
      encoded += '%';
      encoded += kHex[byte >> 4];
      encoded += kHex[byte & 0xF];
    }
  }
  return encoded;
}

std::string SendRaw(const std::string& address, const std::string& bytes) {
  return Exchange(Connect(address), bytes);
}

RawConnection::RawConnection(const std::string& address) : fd_(ConnectTcp(address)) {}

RawConnection::~RawConnection() { close(fd_); }

bool RawConnection::Send(const std::string& bytes) {
  return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

bool RawConnection::ClosedByServer() {
  char buffer[4096];
  for (;;) {
    const ssize_t n = recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n == 0) return true;
    return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  }
}

}  // namespace test_support
}  // namespace microblog
