// The gRPC server's TCP listener, run by us instead of by gRPC, so that no
// flood of connections can stop a service accepting and no second process
// can share its port.
//
// Why not gRPC's own listener (AddListeningPort): gRPC 1.51 stops accepting
// for good after accept4() fails once with EMFILE (grpc/grpc#20418; no fix
// upstream in 1.51), so a client that opens as many connections as the
// open-file limit allows leaves the service deaf to every new client after
// they closed. And it binds with SO_REUSEPORT, so a second process started
// on a taken port silently takes a share of the new connections.
//
// What this listener does instead:
//  - binds `address` itself, without SO_REUSEPORT: a taken port is an error
//    at start-up ("address already in use");
//  - accepts on a thread of its own and hands each connection to gRPC
//    through ServerBuilder's ExternalConnectionAcceptor, where it becomes
//    an ordinary gRPC connection (TLS included);
//  - keeps descriptor headroom: a connection whose descriptor number falls
//    in the top `headroom` of the open-file limit is closed at once (the
//    kernel hands out the lowest free number, so such a number means the
//    process holds at least that many). The headroom stays for what the
//    service itself must open while flooded: database connections, the
//    channel to user-service, metrics scrapes. So the process never reaches
//    EMFILE through its clients, and calls on connections already open keep
//    working;
//  - should accept4() fail anyway (EMFILE from another thread's files,
//    ENFILE, ENOBUFS), it frees a reserved descriptor, accepts and closes
//    one pending connection, takes the reserve back and retries shortly:
//    it never stops accepting. A flood that ends leaves it accepting new
//    connections at once.
// Shed connections are counted in microblog_connections_shed_total{reason}
// and logged at most once every 10 s.
//
//   absl::StatusOr<std::unique_ptr<ConnectionListener>> listener =
//       ConnectionListener::Bind("0.0.0.0:50051", &registry);
//   auto acceptor = builder.experimental().AddExternalConnectionAcceptor(
//       grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, credentials);
//   std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
//   (*listener)->Start(acceptor.get());
//   ...
//   (*listener)->Stop();   // before server->Shutdown()
//
// Thread-safety: Bind/Start/Stop from one thread; the accept loop runs on
// the listener's own thread.
#ifndef MICROBLOG_COMMON_SERVICE_CONNECTION_LISTENER_H_
#define MICROBLOG_COMMON_SERVICE_CONNECTION_LISTENER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/server_builder.h>

#include "absl/status/statusor.h"
#include "common/base/metrics.h"

namespace microblog {

// Raises the soft open-file limit (RLIMIT_NOFILE) to the hard one, as Go's
// runtime does at start-up: the soft limit of 1024 that many systems still
// default to is far below what a server with thousands of clients needs,
// and the hard limit is what the operator allows. Returns the soft limit
// now in force.
long RaiseOpenFileLimit();

class ConnectionListener {
 public:
  // Binds and listens on `address`: "host:port" ("0.0.0.0:50051",
  // "127.0.0.1:0", "localhost:50051", "[::]:50051"); every address the host
  // resolves to is bound (IPv6 ones v6-only when IPv4 ones are bound too).
  // Port 0 picks a free port. INVALID_ARGUMENT for an address it cannot
  // parse or resolve; UNAVAILABLE naming the address and the system's
  // reason (e.g. "Address already in use") when it cannot bind. `metrics`,
  // if not null, gets microblog_connections_shed_total and must outlive the
  // listener.
  static absl::StatusOr<std::unique_ptr<ConnectionListener>> Bind(const std::string& address,
                                                                  Registry* metrics = nullptr);
  // Stop()s.
  ~ConnectionListener();

  ConnectionListener(const ConnectionListener&) = delete;
  ConnectionListener& operator=(const ConnectionListener&) = delete;

  // The port bound (the one picked, for port 0).
  int port() const { return port_; }

  // Starts accepting on the listener's thread, handing every connection to
  // `acceptor` (borrowed; it must outlive Stop()). Call it once, after the
  // server started: gRPC drops connections handed to it before.
  void Start(grpc::experimental::ExternalConnectionAcceptor* acceptor);

  // Stops accepting, closes the listening sockets and joins the thread.
  // Connections already handed to gRPC are gRPC's. Idempotent.
  void Stop();

 private:
  ConnectionListener(std::vector<int> fds, int port, Registry* metrics);
  void AcceptLoop();
  // Accepts what is pending on `fd`; false when accept4 failed in a way
  // that calls for a pause before the next try.
  bool AcceptPending(int fd);
  // Closes `fd`, counts it in `counter` (null without metrics) and logs,
  // rate-limited, why.
  void Shed(int fd, Counter* counter, const char* reason);
  // Whether a warning may be logged now: at most one every 10 s, so that a
  // flood does not flood the log too.
  bool LogDue();

  std::vector<int> fds_;  // listening sockets
  int port_;
  int wake_fd_ = -1;        // eventfd: Stop() wakes the loop
  int reserve_fd_ = -1;     // /dev/null, freed to accept-and-close under EMFILE
  long headroom_from_ = 0;  // descriptors at or above this number are shed
  grpc::experimental::ExternalConnectionAcceptor* acceptor_ = nullptr;
  Counter* shed_headroom_ = nullptr;  // null without metrics
  Counter* shed_exhausted_ = nullptr;
  std::thread thread_;
  long long last_log_ns_ = 0;  // the accept thread's own
  long shed_since_log_ = 0;
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_SERVICE_CONNECTION_LISTENER_H_
