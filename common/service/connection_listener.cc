#include "common/service/connection_listener.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/log.h"

namespace microblog {
namespace {

// How long the loop pauses after an accept4() failure it could not work
// around (no reserve descriptor to free): short, so that a flood that ends
// is noticed at once, long enough not to spin.
constexpr int kRetryPauseMs = 20;
constexpr std::chrono::seconds kLogInterval{10};

std::string ErrnoText(int error) { return std::strerror(error); }

// "host:port" or "[v6]:port" split; false when there is no port.
bool SplitHostPort(const std::string& address, std::string& host, std::string& port) {
  if (!address.empty() && address.front() == '[') {
    const std::size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return false;
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const std::size_t colon = address.rfind(':');
    if (colon == std::string::npos) return false;
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  int number = 0;
  return absl::SimpleAtoi(port, &number) && number >= 0 && number <= 65535;
}

int PortOf(int fd) {
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) return 0;
  if (bound.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (bound.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  }
  return 0;
}

void SetPort(sockaddr* address, int port) {
  if (address->sa_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(address)->sin_port = htons(static_cast<uint16_t>(port));
  } else if (address->sa_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(address)->sin6_port = htons(static_cast<uint16_t>(port));
  }
}

// One listening socket for `info` (port replaced by `port` when non-zero);
// -1 with `error` set when it cannot be made.
int ListenOn(const addrinfo& info, int port, bool v6_only, int& error) {
  const int fd =
      socket(info.ai_family, info.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, info.ai_protocol);
  if (fd < 0) {
    error = errno;
    return -1;
  }
  const int on = 1;
  // SO_REUSEADDR (rebinding a port in TIME_WAIT after a restart), never
  // SO_REUSEPORT: one process per port.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  if (info.ai_family == AF_INET6) {
    const int v6 = v6_only ? 1 : 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof(v6));
  }
  sockaddr_storage address{};
  std::memcpy(&address, info.ai_addr, info.ai_addrlen);
  if (port != 0) SetPort(reinterpret_cast<sockaddr*>(&address), port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), info.ai_addrlen) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    error = errno;
    close(fd);
    return -1;
  }
  return fd;
}

long long NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

long RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? -1 : static_cast<long>(limit.rlim_cur);
}

absl::StatusOr<std::unique_ptr<ConnectionListener>> ConnectionListener::Bind(
    const std::string& address, Registry* metrics) {
  std::string host;
  std::string port;
  if (!SplitHostPort(address, host, port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", address, "\" is not host:port"));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int resolved =
      getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (resolved != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve listen address \"", address, "\": ", gai_strerror(resolved)));
  }
  bool has_v4 = false;
  for (const addrinfo* info = found; info != nullptr; info = info->ai_next) {
    has_v4 = has_v4 || info->ai_family == AF_INET;
  }
  std::vector<int> fds;
  int bound_port = 0;
  absl::Status failure;
  for (const addrinfo* info = found; info != nullptr; info = info->ai_next) {
    if (info->ai_family != AF_INET && info->ai_family != AF_INET6) continue;
    int error = 0;
    const int fd = ListenOn(*info, bound_port, /*v6_only=*/has_v4, error);
    if (fd < 0) {
      // A host without IPv6 cannot bind "localhost"'s ::1: skip it, as
      // gRPC does, as long as another address is bound.
      if (info->ai_family == AF_INET6 && (error == EADDRNOTAVAIL || error == EAFNOSUPPORT)) {
        continue;
      }
      failure = absl::UnavailableError(
          absl::StrCat("cannot listen on ", address, ": ", ErrnoText(error)));
      break;
    }
    if (bound_port == 0) bound_port = PortOf(fd);
    fds.push_back(fd);
  }
  freeaddrinfo(found);
  if (failure.ok() && fds.empty()) {
    failure = absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, ": no IPv4 or IPv6 address to bind"));
  }
  if (!failure.ok()) {
    for (int fd : fds) close(fd);
    return failure;
  }
  return std::unique_ptr<ConnectionListener>(
      new ConnectionListener(std::move(fds), bound_port, metrics));
}

ConnectionListener::ConnectionListener(std::vector<int> fds, int port, Registry* metrics)
    : fds_(std::move(fds)), port_(port) {
  if (metrics != nullptr) {
    CounterFamily& shed = metrics->AddCounter(
        "microblog_connections_shed_total",
        "Client connections closed as soon as accepted: fd_headroom when the process held "
        "nearly as many descriptors as its open-file limit allows, fd_exhausted when accept "
        "itself ran out of descriptors.",
        {"reason"});
    shed_headroom_ = &shed.WithLabels({"fd_headroom"});
    shed_exhausted_ = &shed.WithLabels({"fd_exhausted"});
  }
}

ConnectionListener::~ConnectionListener() {
  Stop();
  for (int fd : fds_) close(fd);
}

void ConnectionListener::Start(grpc::experimental::ExternalConnectionAcceptor* acceptor) {
  acceptor_ = acceptor;
  rlimit limit{};
  long open_files = 1024;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    open_files = static_cast<long>(limit.rlim_cur);
  } else if (limit.rlim_cur == RLIM_INFINITY) {
    open_files = 1L << 20;
  }
  // An eighth of the limit, at least 64 and at most 4096 descriptors, kept
  // for the service's own needs (its pool opens up to DB_POOL_SIZE
  // connections lazily, reconnects after a database restart, answers
  // scrapes); with tiny limits, half of them.
  const long headroom = std::clamp(open_files / 8, 64L, 4096L);
  headroom_from_ = open_files > 2 * headroom ? open_files - headroom : open_files / 2;
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  thread_ = std::thread([this] { AcceptLoop(); });
}

void ConnectionListener::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
    Log(LogLevel::kError, "cannot wake the listener", {{"cause", ErrnoText(errno)}});
  }
  thread_.join();
  for (int fd : fds_) close(fd);
  fds_.clear();
  close(wake_fd_);
  wake_fd_ = -1;
  if (reserve_fd_ >= 0) close(reserve_fd_);
  reserve_fd_ = -1;
}

void ConnectionListener::AcceptLoop() {
  std::vector<pollfd> polled;
  for (int fd : fds_) polled.push_back({fd, POLLIN, 0});
  polled.push_back({wake_fd_, POLLIN, 0});
  int pause_ms = -1;
  while (true) {
    const int ready = poll(polled.data(), polled.size(), pause_ms);
    if (ready < 0 && errno != EINTR) {
      Log(LogLevel::kError, "listener poll failed", {{"cause", ErrnoText(errno)}});
    }
    if (polled.back().revents != 0) return;  // Stop()
    pause_ms = -1;
    for (std::size_t i = 0; i + 1 < polled.size(); ++i) {
      // After a pause, try every socket: a failed accept leaves its
      // connection pending, and poll() reports it again anyway.
      if (polled[i].revents == 0 && ready > 0) continue;
      if (!AcceptPending(polled[i].fd)) pause_ms = kRetryPauseMs;
    }
  }
}

bool ConnectionListener::AcceptPending(int listen_fd) {
  while (true) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (fd >= headroom_from_) {
        Shed(fd, shed_headroom_, "fd_headroom");
        continue;
      }
      const int on = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
      grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters connection;
      connection.listener_fd = listen_fd;
      connection.fd = fd;
      acceptor_->HandleNewConnection(&connection);
      continue;
    }
    switch (errno) {
      case EINTR:
      case ECONNABORTED:
      case EPROTO:
      case EPERM:  // refused by a firewall rule
        continue;
      case EAGAIN:
#if EAGAIN != EWOULDBLOCK
      case EWOULDBLOCK:
#endif
        return true;  // nothing more pending
      case EMFILE:
      case ENFILE:
      case ENOBUFS:
      case ENOMEM: {
        // Out of descriptors (or kernel memory) after all: free the
        // reserve, take one pending connection off the queue and close it,
        // so the client learns at once instead of waiting in the backlog,
        // then retry after a pause.
        const int error = errno;
        if (reserve_fd_ >= 0) {
          close(reserve_fd_);
          reserve_fd_ = -1;
          const int dropped = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (dropped >= 0) Shed(dropped, shed_exhausted_, "fd_exhausted");
          reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        } else {
          reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        if (LogDue())
          Log(LogLevel::kWarn, "accept failed; retrying", {{"cause", ErrnoText(error)}});
        return false;
      }
      default:
        Log(LogLevel::kError, "accept failed; retrying", {{"cause", ErrnoText(errno)}});
        return false;
    }
  }
}

void ConnectionListener::Shed(int fd, Counter* counter, const char* reason) {
  close(fd);
  if (counter != nullptr) counter->Increment();
  ++shed_since_log_;
  if (!LogDue()) return;
  Log(LogLevel::kWarn, "connections shed: open-file limit nearly reached",
      {{"reason", reason},
       {"shed", static_cast<int64_t>(shed_since_log_)},
       {"descriptors_from", static_cast<int64_t>(headroom_from_)}});
  shed_since_log_ = 0;
}

bool ConnectionListener::LogDue() {
  const long long now = NowNanos();
  if (now - last_log_ns_ <
      std::chrono::duration_cast<std::chrono::nanoseconds>(kLogInterval).count()) {
    return false;
  }
  last_log_ns_ = now;
  return true;
}

}  // namespace microblog
