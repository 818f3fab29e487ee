// ConnectionListener (common/service/connection_listener.h): how it binds. What it
// does under a flood of connections is tested against the real services
// (the hostile.* tests).
#include "common/service/connection_listener.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace microblog {
namespace {

TEST(ConnectionListener, PortZeroPicksAFreePort) {
  auto listener = ConnectionListener::Bind("127.0.0.1:0");
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_GT((*listener)->port(), 0);
}

TEST(ConnectionListener, ATakenPortIsAnErrorNotASharedPort) {
  auto first = ConnectionListener::Bind("127.0.0.1:0");
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string address = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = ConnectionListener::Bind(address);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(second.status().message(), "cannot listen on " + address + ": Address already in use");
}

TEST(ConnectionListener, APortHeldWithSoReusePortByAnotherSocketIsRefusedToo) {
  // What gRPC's own listener does: SO_REUSEPORT. Ours must not join it.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  const int on = 1;
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)), 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  auto listener = ConnectionListener::Bind("127.0.0.1:" + std::to_string(ntohs(address.sin_port)));
  EXPECT_EQ(listener.status().code(), absl::StatusCode::kUnavailable);
  close(fd);
}

TEST(ConnectionListener, AddressesItCannotParseOrResolveAreInvalid) {
  for (const char* bad : {"50051", "localhost", "[::1", "[::1]50051", "host:port", "host:70000",
                          "no-such-host.invalid:50051"}) {
    auto listener = ConnectionListener::Bind(bad);
    EXPECT_EQ(listener.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ConnectionListener, BindsEveryAddressOfAWildcardOrName) {
  auto any = ConnectionListener::Bind("0.0.0.0:0");
  ASSERT_TRUE(any.ok()) << any.status();
  auto local = ConnectionListener::Bind("localhost:0");
  ASSERT_TRUE(local.ok()) << local.status();
}

}  // namespace
}  // namespace microblog
