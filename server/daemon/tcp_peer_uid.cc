#include "server/daemon/tcp_peer_uid.h"

#include <arpa/inet.h>
#include <string.h>

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

absl::StatusOr<uid_t> LoopbackPeerUid(absl::string_view grpc_peer,
                                      int server_port) {
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
