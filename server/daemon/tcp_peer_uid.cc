#include "server/daemon/tcp_peer_uid.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"

namespace ocx::daemon {
namespace {

// An address as the kernel stores it: 4 or 16 bytes in network order.
struct Endpoint {
  std::vector<unsigned char> address;
  int port = -1;
};

constexpr int kEstablished = 1;

// "ipv4:1.2.3.4:5" or "ipv6:[::1]:5".
bool ParsePeer(absl::string_view peer, Endpoint* out) {
  bool v6 = absl::ConsumePrefix(&peer, "ipv6:");
  if (!v6 && !absl::ConsumePrefix(&peer, "ipv4:")) return false;
  size_t colon = peer.rfind(':');
  if (colon == absl::string_view::npos) return false;
  std::string host(peer.substr(0, colon));
  if (!absl::SimpleAtoi(peer.substr(colon + 1), &out->port)) return false;
  if (v6) {
    if (host.size() < 2 || host.front() != '[' || host.back() != ']') {
      return false;
    }
    host = host.substr(1, host.size() - 2);
    size_t zone = host.find('%');
    if (zone != std::string::npos) host.resize(zone);
  }
  out->address.resize(v6 ? 16 : 4);
  return inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(),
                   out->address.data()) == 1;
}

// "0100007F:A0E1" (tcp) or 32 hex digits + ":port" (tcp6). The kernel
// prints each 32-bit word of the address as a native-endian integer.
bool ParseTableEndpoint(absl::string_view text, Endpoint* out) {
  size_t colon = text.find(':');
  if (colon == absl::string_view::npos) return false;
  absl::string_view hex = text.substr(0, colon);
  if (hex.size() != 8 && hex.size() != 32) return false;
  out->address.resize(hex.size() / 2);
  for (size_t word = 0; word < hex.size() / 8; ++word) {
    uint32_t value = 0;
    if (!absl::SimpleHexAtoi(hex.substr(word * 8, 8), &value)) return false;
    memcpy(out->address.data() + word * 4, &value, 4);
  }
  return absl::SimpleHexAtoi(text.substr(colon + 1), &out->port);
}

// An IPv4 address as tcp6 lists it for a dual-stack socket: ::ffff:a.b.c.d.
std::vector<unsigned char> V4Mapped(const std::vector<unsigned char>& v4) {
  std::vector<unsigned char> v6(16, 0);
  v6[10] = v6[11] = 0xff;
  std::copy(v4.begin(), v4.end(), v6.begin() + 12);
  return v6;
}

bool SameAddress(const std::vector<unsigned char>& table,
                 const std::vector<unsigned char>& peer) {
  if (table == peer) return true;
  return peer.size() == 4 && table == V4Mapped(peer);
}

// Columns: sl local_address rem_address st tx:rx tr:tm retrnsmt uid ...
bool FindIn(absl::string_view table, const Endpoint& peer, int server_port,
            uid_t* uid) {
  for (absl::string_view line : absl::StrSplit(table, '\n')) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 8 || f[0] == "sl") continue;
    Endpoint local, remote;
    int state = 0;
    uint32_t owner = 0;
    if (!ParseTableEndpoint(f[1], &local) ||
        !ParseTableEndpoint(f[2], &remote) ||
        !absl::SimpleHexAtoi(f[3], &state) || !absl::SimpleAtoi(f[7], &owner)) {
      continue;
    }
    if (state == kEstablished && local.port == peer.port &&
        remote.port == server_port &&
        SameAddress(local.address, peer.address)) {
      *uid = static_cast<uid_t>(owner);
      return true;
    }
  }
  return false;
}

// Asks the kernel (sock_diag, as ss(8) does) for the one established TCP
// socket from `peer` to `server_address`:`server_port`; false when it does
// not answer with one. A lookup of one socket by its four-tuple, where
// reading /proc/net/tcp makes the kernel walk and print every socket (most
// of a console request's CPU on a busy host).
bool FindBySockDiag(const Endpoint& peer,
                    const std::vector<unsigned char>& server_address,
                    int server_port, uid_t* uid) {
  if (server_address.size() != peer.address.size()) return false;
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return false;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message = {};
  message.header.nlmsg_len = sizeof(message);
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST;
  inet_diag_req_v2& r = message.request;
  r.sdiag_family = peer.address.size() == 4 ? AF_INET : AF_INET6;
  r.sdiag_protocol = IPPROTO_TCP;
  r.idiag_states = 1u << TCP_ESTABLISHED;
  r.id.idiag_sport = htons(static_cast<uint16_t>(peer.port));
  r.id.idiag_dport = htons(static_cast<uint16_t>(server_port));
  memcpy(r.id.idiag_src, peer.address.data(), peer.address.size());
  memcpy(r.id.idiag_dst, server_address.data(), server_address.size());
  r.id.idiag_cookie[0] = r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  bool found = false;
  if (sendto(fd, &message, sizeof(message), 0,
             reinterpret_cast<sockaddr*>(&kernel),
             sizeof(kernel)) == static_cast<ssize_t>(sizeof(message))) {
    alignas(nlmsghdr) char answer[8192];
    ssize_t n = recv(fd, answer, sizeof(answer), 0);
    auto* h = reinterpret_cast<nlmsghdr*>(answer);
    if (n > 0 && NLMSG_OK(h, static_cast<unsigned>(n)) &&
        h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
        h->nlmsg_len >= NLMSG_LENGTH(sizeof(inet_diag_msg))) {
      const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      if (m->idiag_state == TCP_ESTABLISHED &&
          ntohs(m->id.idiag_sport) == peer.port &&
          ntohs(m->id.idiag_dport) == server_port) {
        *uid = static_cast<uid_t>(m->idiag_uid);
        found = true;
      }
    }
  }
  close(fd);
  return found;
}

}  // namespace

absl::StatusOr<uid_t> LoopbackPeerUidIn(absl::string_view grpc_peer,
                                        int server_port,
                                        absl::string_view tcp_table,
                                        absl::string_view tcp6_table) {
  Endpoint peer;
  if (!ParsePeer(grpc_peer, &peer)) {
    return absl::InvalidArgumentError(
        absl::StrCat("peer \"", grpc_peer, "\" is not a TCP address"));
  }
  uid_t uid = 0;
  if (FindIn(tcp_table, peer, server_port, &uid) ||
      FindIn(tcp6_table, peer, server_port, &uid)) {
    return uid;
  }
  return absl::NotFoundError(absl::StrCat("no local socket is connected from ",
                                          grpc_peer, " to port ", server_port));
}

bool SockDiagPeerUid(absl::string_view grpc_peer, int server_port, uid_t* uid) {
  Endpoint peer;
  return ParsePeer(grpc_peer, &peer) &&
         FindBySockDiag(peer, peer.address, server_port, uid);
}

absl::StatusOr<uid_t> LoopbackPeerUid(absl::string_view grpc_peer,
                                      int server_port) {
  // Most loopback clients dial the address they come from (127.0.0.1 to
  // 127.0.0.1, ::1 to ::1): one exact lookup. Others (another loopback
  // address, a v4-mapped peer) are found in the full tables.
  uid_t uid = 0;
  if (SockDiagPeerUid(grpc_peer, server_port, &uid)) return uid;
  absl::StatusOr<std::string> tcp = ReadFile("/proc/net/tcp");
  absl::StatusOr<std::string> tcp6 = ReadFile("/proc/net/tcp6");
  return LoopbackPeerUidIn(grpc_peer, server_port, tcp.ok() ? *tcp : "",
                           tcp6.ok() ? *tcp6 : "");
}

std::string PeerAddress(const std::string& ip, int port) {
  if (ip.find(':') != std::string::npos) {
    return absl::StrCat("ipv6:[", ip, "]:", port);
  }
  return absl::StrCat("ipv4:", ip, ":", port);
}

absl::StatusOr<Identity> LoopbackPeerIdentity(absl::string_view grpc_peer,
                                              int server_port,
                                              const std::string& admin_group) {
  absl::StatusOr<uid_t> uid = LoopbackPeerUid(grpc_peer, server_port);
  if (!uid.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("cannot tell who is calling from ", grpc_peer, " (",
                     uid.status().message(), ")"));
  }
  absl::StatusOr<Identity> id = IdentityOfUid(*uid, admin_group);
  if (!id.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the caller's uid ", *uid, " has no local account on the ocxd host"));
  }
  id->via = "loopback tcp";
  return id;
}

}  // namespace ocx::daemon
