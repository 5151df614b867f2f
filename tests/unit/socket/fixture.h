// Two Runtimes on one MemoryLink, and helpers to compare our errno with the kernel's.
//
//     a: 10.0.0.1/24 (02:00:00:00:00:01)  <-- MemoryLink -->  b: 10.0.0.2/24 (02:00:00:00:00:02)
//
// Threadless tests drive both stacks with pump(); threaded tests call start_threads(). The kernel
// comparisons use real UDP sockets on 127.0.0.1 only.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "drivers/memory_link.h"
#include "stack/socket/socket.h"

namespace tcpip::socket_test {

inline constexpr MacAddress kMacA{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
inline constexpr MacAddress kMacB{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
inline constexpr Ipv4Address kIpA{10, 0, 0, 1};
inline constexpr Ipv4Address kIpB{10, 0, 0, 2};

inline sockaddr_in addr(Ipv4Address ip, std::uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(ip.to_u32());
    return sin;
}
inline sockaddr_in loopback(std::uint16_t port) { return addr(Ipv4Address(127, 0, 0, 1), port); }
inline const sockaddr* sa(const sockaddr_in& sin) { return reinterpret_cast<const sockaddr*>(&sin); }
inline sockaddr* sa(sockaddr_in& sin) { return reinterpret_cast<sockaddr*>(&sin); }

// The errno of a call that must fail (0 if it succeeded).
template <class Call>
int errno_of(Call call) {
    errno = 0;
    return call() < 0 ? errno : 0;
}

// The port a socket is bound to, through the given getsockname.
template <class GetSockName>
std::uint16_t port_of(GetSockName getsockname_fn, int fd) {
    sockaddr_in sin{};
    socklen_t len = sizeof sin;
    if (getsockname_fn(fd, sa(sin), &len) != 0) return 0;
    return ntohs(sin.sin_port);
}
inline std::uint16_t our_port(int fd) { return port_of([](int f, sockaddr* s, socklen_t* l) { return tcpip::getsockname(f, s, l); }, fd); }
inline std::uint16_t kernel_port(int fd) { return port_of([](int f, sockaddr* s, socklen_t* l) { return ::getsockname(f, s, l); }, fd); }

// A kernel UDP socket, closed at the end of the scope.
struct KernelSocket {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    ~KernelSocket() {
        if (fd >= 0) ::close(fd);
    }
    operator int() const { return fd; }
};

class TwoRuntimes : public ::testing::Test {
protected:
    MemoryLink link{kMacA, kMacB};  // thread-safe: each endpoint may be driven by its own thread
    Runtime a{link.a(), {Ipv4Cidr{kIpA, 24}, std::nullopt}, {}, 1};
    Runtime b{link.b(), {Ipv4Cidr{kIpB, 24}, std::nullopt}, {}, 2};

    void SetUp() override { Runtime::set_default(&a); }
    void TearDown() override { Runtime::set_default(nullptr); }

    void start_threads() {
        a.start_thread();
        b.start_thread();
    }
    // Threadless: lets frames cross the link until both sides are quiet (ARP, then the data).
    void pump(int rounds = 8) {
        for (int i = 0; i < rounds; ++i) {
            a.poll();
            b.poll();
        }
    }
    // A UDP socket in runtime `r`, bound to (ip, port).
    int bound(Runtime& r, Ipv4Address ip, std::uint16_t port) {
        int fd = r.socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in sin = addr(ip, port);
        EXPECT_EQ(r.bind(fd, sa(sin), sizeof sin), 0) << std::strerror(errno);
        return fd;
    }
};

}  // namespace tcpip::socket_test
