#include "support/dns_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace microblog {
namespace test_support {
namespace {

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kClassIn = 1;
constexpr size_t kHeaderSize = 12;

std::vector<uint32_t> Parse(const std::vector<std::string>& addresses) {
  std::vector<uint32_t> parsed;
  for (const std::string& address : addresses) {
    in_addr addr{};
    if (inet_pton(AF_INET, address.c_str(), &addr) != 1) {
      throw std::runtime_error("FakeDns: not an IPv4 address: " + address);
    }
    parsed.push_back(addr.s_addr);
  }
  return parsed;
}

void PutU16(std::string& out, uint16_t value) {
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value & 0xff));
}

uint16_t GetU16(const std::string& in, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(in[at]) << 8) |
                               static_cast<uint8_t>(in[at + 1]));
}

}  // namespace

FakeDns::FakeDns(std::vector<std::string> ipv4_addresses) : addresses_(Parse(ipv4_addresses)) {
  fd_ = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("FakeDns: socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    close(fd_);
    throw std::runtime_error(std::string("FakeDns: bind: ") + std::strerror(err));
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

FakeDns::~FakeDns() {
  stop_ = true;
  thread_.join();
  close(fd_);
}

void FakeDns::SetAddresses(std::vector<std::string> ipv4_addresses) {
  std::vector<uint32_t> parsed = Parse(ipv4_addresses);
  std::lock_guard<std::mutex> lock(mu_);
  addresses_ = std::move(parsed);
}

std::string FakeDns::Target(const std::string& host, int port) const {
  return "dns://127.0.0.1:" + std::to_string(port_) + "/" + host + ":" + std::to_string(port);
}

void FakeDns::Serve() {
  char buffer[1500];
  while (!stop_) {
    pollfd ready{fd_, POLLIN, 0};
    if (poll(&ready, 1, 100) <= 0) continue;  // checks stop_ every 100 ms
    sockaddr_in from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n =
        recvfrom(fd_, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) continue;
    const std::string answer = Answer(std::string(buffer, static_cast<size_t>(n)));
    if (answer.empty()) continue;
    sendto(fd_, answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
}

std::string FakeDns::Answer(const std::string& query) {
  // Header, then one question: labels up to the root label, type, class.
  if (query.size() < kHeaderSize || (static_cast<uint8_t>(query[2]) & 0x80) != 0 ||
      GetU16(query, 4) != 1) {
    return "";
  }
  size_t at = kHeaderSize;
  while (at < query.size() && query[at] != 0) at += 1 + static_cast<uint8_t>(query[at]);
  if (at + 5 > query.size()) return "";
  const size_t question_end = at + 5;  // root label, type, class
  const uint16_t type = GetU16(query, at + 1);
  const uint16_t klass = GetU16(query, at + 3);

  std::vector<uint32_t> addresses;
  if (type == kTypeA && klass == kClassIn) {
    std::lock_guard<std::mutex> lock(mu_);
    addresses = addresses_;
    ++queries_;
  }
  std::string out = query.substr(0, 2);  // the query's id
  // QR, AA, RD as asked, RA; NOERROR.
  out.push_back(static_cast<char>(0x84 | (static_cast<uint8_t>(query[2]) & 0x01)));
  out.push_back(static_cast<char>(0x80));
  PutU16(out, 1);                                        // questions
  PutU16(out, static_cast<uint16_t>(addresses.size()));  // answers
  PutU16(out, 0);                                        // authority
  PutU16(out, 0);                                        // additional
  out += query.substr(kHeaderSize, question_end - kHeaderSize);
  for (uint32_t address : addresses) {
    PutU16(out, static_cast<uint16_t>(0xc000 | kHeaderSize));  // the name: the question's
    PutU16(out, kTypeA);
    PutU16(out, kClassIn);
    PutU16(out, 0);  // TTL 0: nothing caches the answer
    PutU16(out, 0);
    PutU16(out, 4);
    out.append(reinterpret_cast<const char*>(&address), 4);
  }
  return out;
}

}  // namespace test_support
}  // namespace microblog
