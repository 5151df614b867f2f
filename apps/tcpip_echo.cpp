// tcpip-echo: runs the stack on a TAP and serves the echo service at every layer it knows.
//
//   ARP         answers who-has for our address
//   ICMP        echo reply to every echo request (ping), at any size, fragmented or not
//   UDP         echo on --port (RFC 862): each datagram goes back to its sender, up to 65,507 bytes
//   TCP         echo on --port, many clients at once: each byte goes back on its connection, and
//               when the client half-closes, so do we once everything is echoed
//
// The stack runs in a tcpip::Runtime on its own thread (ARP and ICMP are answered there); the UDP
// and TCP services are an ordinary socket program on the main thread, written only against the
// BSD-like API in the event-driven style: non-blocking sockets and one tcpip::poll over the UDP
// socket, the TCP listener, every TCP connection and the signal pipe. A connection whose peer
// does not read its echo is not read from either (back-pressure), so memory stays bounded.
//
// Prints one line when ready, runs until SIGINT or SIGTERM, then prints the stack's statistics
// and this app's own (sections "udp_echo" and "tcp_echo").
// The service itself is apps/echo/echo_server.h, which tcpip-replay runs too.
#include <poll.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <vector>

#include "apps/app_common.h"
#include "apps/echo/echo_server.h"
#include "stack/socket/socket.h"

int main(int argc, char** argv) {
    using namespace tcpip;
    long long port = 7;
    app::Args args("tcpip-echo", "[--port N] [shared options]\n\nServes ARP, ICMP echo (ping), and UDP and TCP echo on the TAP.\n"
                                 "  --port N            echo port for UDP and TCP (default 7)\n"
                                 "  --stack-thread      run the stack on its own thread (default: inside this app's poll loop)\n");
    args.add_option({"--port", "-p"}, [&](std::string_view v) { return app::parse_int(v, 1, 65535, port); });
    // One thread by default: the stack runs inside this loop's tcpip::poll (run to completion),
    // which answers a request with no thread hand-off. --stack-thread gives the stack its own.
    auto mode = app::RuntimeHost::StackThread::Caller;
    args.add_flag({"--stack-thread"}, [&] { mode = app::RuntimeHost::StackThread::OwnThread; });
    app::CommonOptions options = args.parse(argc, argv);

    app::RuntimeHost host("tcpip-echo", options, mode);
    host.stop_on_signals();

    echo::EchoServer server;
    if (const std::string error = server.open(static_cast<std::uint16_t>(port)); !error.empty()) {
        std::cerr << "tcpip-echo: " << error << "\n";
        return 1;
    }

    std::cout << "tcpip-echo: ready on " << options.tap << ", " << options.ip << " (" << options.mac
              << "), answering ARP, ICMP echo, and UDP and TCP echo on port " << port << std::endl;

    std::vector<pollfd> fds;
    while (!host.stop_requested()) {
        fds.clear();
        fds.push_back({host.stop_fd(), POLLIN, 0});
        server.poll_set(fds);
        const int n = tcpip::poll(fds.data(), fds.size(), -1);
        if (n < 0) {
            if (errno == EINTR) continue;  // a signal: the loop condition decides
            std::cerr << "tcpip-echo: poll: " << std::strerror(errno) << "\n";
            break;
        }
        if (fds[0].revents != 0) break;
        server.serve(fds.data() + 1);
    }
    server.close_all();

    std::cout << "tcpip-echo: stopping; statistics:\n";
    host.print_stats(std::cout);
    print_stats(std::cout, "udp_echo", server.udp_stats());
    print_stats(std::cout, "tcp_echo", server.tcp_stats());
    return 0;
}
