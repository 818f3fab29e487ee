// Who is calling, as a key for per-caller limits (FairWorkQueue's fairness,
// user-service's login throttle): the authenticated identity of the peer
// when its connection carries one (the subject of a verified mTLS client
// certificate, from grpc::AuthContext), else the peer's IP address without
// the port; for IPv6 its /64 prefix, which one host or site usually holds
// whole (RFC 6177), so that hopping addresses within it does not give a
// client more shares.
//
//   const std::string key = CallerKeyOf(*context);  // "ip:192.0.2.7", "id:post-service"
//
// Behind a proxy or gateway that does not authenticate its clients, every
// call has the proxy's key: limits then apply to the proxy as a whole.
//
// Thread-safety: free functions without state.
#ifndef MICROBLOG_COMMON_RPC_CALLER_KEY_H_
#define MICROBLOG_COMMON_RPC_CALLER_KEY_H_

#include <string>
#include <string_view>

#include <grpcpp/server_context.h>

namespace microblog {

// The key of `context`'s caller, as described above.
std::string CallerKeyOf(const grpc::ServerContextBase& context);

// The key of a peer as grpc::ServerContext::peer() names it:
// "ipv4:192.0.2.7:5000" -> "ip:192.0.2.7", "ipv6:[2001:db8:1:2::5]:443" ->
// "ip:2001:db8:1:2::/64", "unix:/run/x.sock" -> "unix"; anything else is
// kept whole.
std::string CallerKeyFromPeer(std::string_view peer);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_CALLER_KEY_H_
