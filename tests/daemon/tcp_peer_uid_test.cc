#include "server/daemon/tcp_peer_uid.h"

#include "gtest/gtest.h"

namespace ocx::daemon {
namespace {

// Lines as /proc/net/tcp prints them on a little-endian machine: a server
// on 127.0.0.1:8080 (0x1F90), its accepted socket (uid 0) and the client's
// socket from 127.0.0.1:40000 (0x9C40, uid 1001).
constexpr char kTcp[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
    "retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 "
    "00000000     0        0 2 1 0000000000000000 20 4 30 10 -1\n"
    "   2: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 "
    "00000000  1001        0 3 1 0000000000000000 20 4 30 10 -1\n";

// The same over IPv6 ::1 (port 0xA000 = 40960, uid 1002) and a v4-mapped
// client ::ffff:127.0.0.1:40001 (0x9C41, uid 1003).
constexpr char kTcp6[] =
    "  sl  local_address                         remote_address        "
    "                st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
    "   0: 00000000000000000000000001000000:A000 "
    "00000000000000000000000001000000:1F90 01 00000000:00000000 "
    "00:00000000 00000000  1002        0 4 1\n"
    "   1: 0000000000000000FFFF00000100007F:9C41 "
    "0000000000000000FFFF00000100007F:1F90 01 00000000:00000000 "
    "00:00000000 00000000  1003        0 5 1\n";

TEST(TcpPeerUidTest, FindsTheClientEndOfTheConnection) {
  EXPECT_EQ(*LoopbackPeerUidIn("ipv4:127.0.0.1:40000", 8080, kTcp, kTcp6),
            1001u);
  EXPECT_EQ(*LoopbackPeerUidIn("ipv6:[::1]:40960", 8080, kTcp, kTcp6), 1002u);
  EXPECT_EQ(*LoopbackPeerUidIn("ipv4:127.0.0.1:40001", 8080, kTcp, kTcp6),
            1003u);
}

TEST(TcpPeerUidTest, OtherPortsAndPeersAreNotFound) {
  EXPECT_EQ(LoopbackPeerUidIn("ipv4:127.0.0.1:40000", 9090, kTcp, kTcp6)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(LoopbackPeerUidIn("ipv4:127.0.0.2:40000", 8080, kTcp, kTcp6)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(LoopbackPeerUidIn("unix:/run/ocx/ocxd.sock", 8080, kTcp, kTcp6)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// What an HTTP library reports (address and port apart) reads as a peer.
TEST(TcpPeerUidTest, PeerAddressFormsBothFamilies) {
  EXPECT_EQ(PeerAddress("127.0.0.1", 40000), "ipv4:127.0.0.1:40000");
  EXPECT_EQ(PeerAddress("::1", 40960), "ipv6:[::1]:40960");
  EXPECT_EQ(*LoopbackPeerUidIn(PeerAddress("::1", 40960), 8080, kTcp, kTcp6),
            1002u);
}

}  // namespace
}  // namespace ocx::daemon
