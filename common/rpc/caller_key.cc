#include "common/rpc/caller_key.h"

#include <arpa/inet.h>

#include <cstring>

#include <grpcpp/security/auth_context.h>

namespace microblog {
namespace {

// (Debian's Abseil has its own absl::string_view, not std::string_view, so
// absl::StartsWith does not take the peer's std::string_view.)
bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::string Ip(std::string_view address, std::string_view suffix = "") {
  std::string key = "ip:";
  key.append(address);
  key.append(suffix);
  return key;
}

}  // namespace

std::string CallerKeyFromPeer(std::string_view peer) {
  if (StartsWith(peer, "ipv4:")) {
    std::string_view address = peer.substr(5);
    const std::size_t colon = address.rfind(':');
    if (colon != std::string_view::npos) address = address.substr(0, colon);
    return Ip(address);
  }
  if (StartsWith(peer, "ipv6:")) {
    std::string_view address = peer.substr(5);
    if (StartsWith(address, "[")) {
      const std::size_t close = address.find(']');
      if (close != std::string_view::npos) address = address.substr(1, close - 1);
    }
    // A zone ("fe80::1%eth0") is not part of the address.
    address = address.substr(0, address.find('%'));
    unsigned char bytes[16];
    if (inet_pton(AF_INET6, std::string(address).c_str(), bytes) == 1) {
      // An IPv4-mapped address is that IPv4 address.
      static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      char text[INET6_ADDRSTRLEN];
      if (std::memcmp(bytes, kMapped, sizeof(kMapped)) == 0 &&
          inet_ntop(AF_INET, bytes + 12, text, sizeof(text)) != nullptr) {
        return Ip(text);
      }
      std::memset(bytes + 8, 0, 8);
      if (inet_ntop(AF_INET6, bytes, text, sizeof(text)) != nullptr) {
        return Ip(text, "/64");
      }
    }
    return Ip(address);
  }
  if (StartsWith(peer, "unix:")) return "unix";
  return std::string(peer);
}

std::string CallerKeyOf(const grpc::ServerContextBase& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    const std::vector<grpc::string_ref> identity = auth->GetPeerIdentity();
    if (!identity.empty()) {
      return "id:" + std::string(identity.front().data(), identity.front().size());
    }
  }
  return CallerKeyFromPeer(context.peer());
}

}  // namespace microblog
