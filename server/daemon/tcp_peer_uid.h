// Who owns the client end of a loopback TCP connection, from the kernel's
// socket tables (/proc/net/tcp and /proc/net/tcp6). Both ends of a loopback
// connection are sockets of this machine, so the table lists the client's
// socket too: the ESTABLISHED entry whose local address is the caller's
// peer address and whose remote port is the server's port. Its uid is the
// account that created that socket; a client cannot choose it.
//
// Only meaningful for loopback connections (a remote client's socket is on
// another machine); ocxd uses it for plain-text loopback listeners only.
//
// Thread-safe: reads the tables at the time of the call.
#ifndef OCX_SERVER_DAEMON_TCP_PEER_UID_H_
#define OCX_SERVER_DAEMON_TCP_PEER_UID_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/identity.h"

namespace ocx::daemon {

// The uid owning the client socket of `grpc_peer` (what
// grpc::ServerContext::peer() gives: "ipv4:127.0.0.1:41234" or
// "ipv6:[::1]:41234") connected to our `server_port`. NOT_FOUND when the
// tables list no such connection; INVALID_ARGUMENT for another kind of peer.
absl::StatusOr<uid_t> LoopbackPeerUid(absl::string_view grpc_peer,
                                      int server_port);

// The same by one sock_diag lookup of the socket from `grpc_peer` to the
// same address at `server_port` (what LoopbackPeerUid tries first); false
// when the kernel lists no such socket.
bool SockDiagPeerUid(absl::string_view grpc_peer, int server_port, uid_t* uid);

// `ip`:`port` (an IPv4 or IPv6 address as text, e.g. what an HTTP library
// reports for the peer) in the form LoopbackPeerUid takes.
std::string PeerAddress(const std::string& ip, int port);

// The local account owning the client socket of `grpc_peer` connected to
// `server_port`, with `admin_group` making admins, identified "via
// loopback tcp". UNAUTHENTICATED when the tables do not list the
// connection, PERMISSION_DENIED when the uid has no account; each message
// says which and ends where the caller's own advice may follow.
absl::StatusOr<Identity> LoopbackPeerIdentity(absl::string_view grpc_peer,
                                              int server_port,
                                              const std::string& admin_group);

// The same over given table texts (the /proc/net/tcp and tcp6 formats), for
// tests.
absl::StatusOr<uid_t> LoopbackPeerUidIn(absl::string_view grpc_peer,
                                        int server_port,
                                        absl::string_view tcp_table,
                                        absl::string_view tcp6_table);

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_TCP_PEER_UID_H_
