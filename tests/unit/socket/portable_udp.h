// One UDP echo round trip, written once against the POSIX socket names and compiled twice: with
// `Api = KernelSockets` it runs on the kernel's sockets, with `Api = TcpipSockets` on ours. The
// code between is the same text; only the namespace the names come from changes.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

#include "stack/socket/socket.h"

namespace tcpip::socket_test {

struct KernelSockets {
    static constexpr auto& socket = ::socket;
    static constexpr auto& bind = ::bind;
    static constexpr auto& setsockopt = ::setsockopt;
    static constexpr auto& getsockname = ::getsockname;
    static constexpr auto& sendto = ::sendto;
    static constexpr auto& recvfrom = ::recvfrom;
    static constexpr auto& close = ::close;
};

struct TcpipSockets {
    static constexpr auto& socket = tcpip::socket;
    static constexpr auto& bind = tcpip::bind;
    static constexpr auto& setsockopt = tcpip::setsockopt;
    static constexpr auto& getsockname = tcpip::getsockname;
    static constexpr auto& sendto = tcpip::sendto;
    static constexpr auto& recvfrom = tcpip::recvfrom;
    static constexpr auto& close = tcpip::close;
};

// A UDP socket bound to `at` (port 0: any), which gives up on a recv after two seconds.
// Returns the descriptor and writes the bound address back into `at`.
template <class Api>
int open_udp(sockaddr_in& at) {
    int fd = Api::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return -1;
    timeval two_seconds{2, 0};
    socklen_t len = sizeof at;
    if (Api::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) < 0 ||
        Api::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &two_seconds, sizeof two_seconds) < 0 ||
        Api::getsockname(fd, reinterpret_cast<sockaddr*>(&at), &len) < 0) {
        Api::close(fd);
        return -1;
    }
    return fd;
}

// The client sends `message` to the server, the server echoes it to whoever sent it, the client
// returns what came back ("" on any error).
template <class Api>
std::string echo_once(int client, int server, const sockaddr_in& server_at, const std::string& message) {
    char buf[1500];
    sockaddr_in peer{};
    socklen_t peer_len = sizeof peer;
    if (Api::sendto(client, message.data(), message.size(), 0, reinterpret_cast<const sockaddr*>(&server_at),
                    sizeof server_at) < 0) {
        return "";
    }
    ssize_t n = Api::recvfrom(server, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &peer_len);
    if (n < 0 || Api::sendto(server, buf, n, 0, reinterpret_cast<sockaddr*>(&peer), peer_len) < 0) return "";
    n = Api::recvfrom(client, buf, sizeof buf, 0, nullptr, nullptr);
    return n < 0 ? "" : std::string(buf, n);
}

}  // namespace tcpip::socket_test
