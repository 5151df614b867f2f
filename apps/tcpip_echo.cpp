// tcpip-echo: runs the stack on a TAP and serves the echo service at every layer it knows.
//
//   ARP         answers who-has for our address
//   ICMP        echo reply to every echo request (ping), at any size, fragmented or not
//   UDP         echo on --port (RFC 862): each datagram goes back to its sender, up to 65,507 bytes
//   TCP         echo on --port arrives with the TCP layer
//
// The stack runs in a tcpip::Runtime on its own thread (ARP and ICMP are answered there); the UDP
// service is an ordinary socket program on the main thread, written only against the BSD-like
// API: socket, bind, then a loop of tcpip::poll over the socket and the signal pipe, recvfrom and
// sendto.
//
// Prints one line when ready, runs until SIGINT or SIGTERM, then prints the stack's statistics
// and this app's own (section "udp_echo": datagrams echoed, and sends that failed).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <vector>

#include "apps/app_common.h"
#include "stack/socket/socket.h"

namespace {

struct EchoStats {
    tcpip::Counter rx_datagrams = 0;  // received on the echo port
    tcpip::Counter tx_datagrams = 0;  // sent back
    tcpip::Counter tx_errors = 0;     // a send that failed: that datagram was not echoed
    tcpip::Counter rx_errors = 0;     // a receive that failed (a pending ICMP error, say)

    template <class F>
    void for_each(F&& f) const {
        f("rx_datagrams", rx_datagrams); f("tx_datagrams", tx_datagrams); f("tx_errors", tx_errors);
        f("rx_errors", rx_errors);
    }
};

}  // namespace

int main(int argc, char** argv) {
    using namespace tcpip;
    long long port = 7;
    app::Args args("tcpip-echo", "[--port N] [shared options]\n\nServes ARP, ICMP echo (ping) and UDP echo on the TAP.\n"
                                 "  --port N            echo port for UDP and TCP (default 7)\n");
    args.add_option({"--port", "-p"}, [&](std::string_view v) { return app::parse_int(v, 1, 65535, port); });
    app::CommonOptions options = args.parse(argc, argv);

    app::RuntimeHost host("tcpip-echo", options);
    host.stop_on_signals();

    const int fd = tcpip::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(static_cast<std::uint16_t>(port));
    at.sin_addr.s_addr = htonl(INADDR_ANY);
    if (fd < 0 || tcpip::bind(fd, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0) {
        std::cerr << "tcpip-echo: UDP port " << port << ": " << std::strerror(errno) << "\n";
        return 1;
    }

    std::cout << "tcpip-echo: ready on " << options.tap << ", " << options.ip << " (" << options.mac
              << "), answering ARP, ICMP echo and UDP echo on port " << port << std::endl;

    EchoStats stats;
    std::vector<char> buffer(65536);  // the largest UDP payload is 65,507 bytes
    while (!host.stop_requested()) {
        pollfd fds[2] = {{fd, POLLIN, 0}, {host.stop_fd(), POLLIN, 0}};
        const int n = tcpip::poll(fds, 2, -1);
        if (n < 0) {
            if (errno == EINTR) continue;  // a signal: the loop condition decides
            std::cerr << "tcpip-echo: poll: " << std::strerror(errno) << "\n";
            break;
        }
        if (fds[1].revents != 0) break;
        if ((fds[0].revents & (POLLIN | POLLERR)) == 0) continue;
        // Drain what is queued (a bounded batch, so a flood cannot keep a signal waiting), then
        // wait again.
        for (int batch = 0; batch < 256; ++batch) {
            sockaddr_in from{};
            socklen_t from_len = sizeof from;
            const ssize_t got = tcpip::recvfrom(fd, buffer.data(), buffer.size(), MSG_DONTWAIT,
                                                reinterpret_cast<sockaddr*>(&from), &from_len);
            if (got < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK) ++stats.rx_errors;
                break;
            }
            ++stats.rx_datagrams;
            const ssize_t sent = tcpip::sendto(fd, buffer.data(), static_cast<std::size_t>(got), 0,
                                               reinterpret_cast<const sockaddr*>(&from), from_len);
            if (sent == got) {
                ++stats.tx_datagrams;
            } else {
                ++stats.tx_errors;
            }
        }
    }
    tcpip::close(fd);

    std::cout << "tcpip-echo: stopping; statistics:\n";
    host.print_stats(std::cout);
    print_stats(std::cout, "udp_echo", stats);
    return 0;
}
