#include "server/daemon/tcp_peer_uid.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

// A real loopback connection: the kernel's sock_diag answer and the full
// tables both name this process's uid for the client end, and nothing for
// a port no socket uses.
TEST(TcpPeerUidTest, FindsARealLoopbackConnection) {
  int server = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(server, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(server, 1), 0);
  ASSERT_EQ(getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int server_port = ntohs(addr.sin_port);
  int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  sockaddr_in from = {};
  len = sizeof(from);
  int accepted = accept(server, reinterpret_cast<sockaddr*>(&from), &len);
  ASSERT_GE(accepted, 0);
  const std::string peer = PeerAddress("127.0.0.1", ntohs(from.sin_port));

  uid_t uid = 12345;
  EXPECT_TRUE(SockDiagPeerUid(peer, server_port, &uid));
  EXPECT_EQ(uid, geteuid());
  absl::StatusOr<uid_t> found = LoopbackPeerUid(peer, server_port);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, geteuid());
  EXPECT_FALSE(
      SockDiagPeerUid(peer, server_port == 65535 ? 1 : server_port + 1, &uid));
  EXPECT_EQ(LoopbackPeerUid(peer, server_port == 65535 ? 1 : server_port + 1)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  close(accepted);
  close(client);
  close(server);
}

}  // namespace
}  // namespace ocx::daemon
