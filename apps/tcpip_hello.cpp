// tcpip-hello: the smallest TCP server, and the one that closes first. Each client that connects
// gets one line ("hello N\n", N counting from 1) and then the server calls close() at once (no
// shutdown, no waiting for the client): the server side goes FIN-WAIT-1, FIN-WAIT-2 and then
// TIME-WAIT, so a stream of short connections fills the TIME-WAIT table, which is what the
// interop test interop/hardening runs it for (past tcp_max_time_wait, whose entries the stack then
// drops and counts as tcp time_wait_dropped). Also a demo of the plain blocking style of the API:
// one connection at a time, accept / send / close.
//
//   tcpip-hello [--port N] [shared options]     (default port 7000)
//
// Prints one line when ready (listening), runs until SIGINT or SIGTERM, then prints the stack's
// statistics and this app's own (section "hello").
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>

#include "apps/app_common.h"
#include "stack/socket/socket.h"

namespace {

struct HelloStats {
    tcpip::Counter accepted = 0;     // connections
    tcpip::Counter greeted = 0;      // the whole line sent before close()
    tcpip::Counter send_errors = 0;  // the send failed (the client had gone): closed without the line

    template <class F>
    void for_each(F&& f) const {
        f("accepted", accepted); f("greeted", greeted); f("send_errors", send_errors);
    }
};

}  // namespace

int main(int argc, char** argv) {
    using namespace tcpip;
    long long port = 7000;
    app::Args args("tcpip-hello", "[--port N] [shared options]\n\nA TCP server that sends each client one line and closes first.\n"
                                  "  --port N            TCP port (default 7000)\n");
    args.add_option({"--port", "-p"}, [&](std::string_view v) { return app::parse_int(v, 1, 65535, port); });
    app::CommonOptions options = args.parse(argc, argv);

    app::RuntimeHost host("tcpip-hello", options);
    host.stop_on_signals();

    const sockaddr_in at = app::socket_address(Ipv4Address(), static_cast<std::uint16_t>(port));
    const int listener = tcpip::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (listener < 0 || tcpip::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        tcpip::bind(listener, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0 ||
        tcpip::listen(listener, 256) != 0) {
        std::cerr << "tcpip-hello: TCP port " << port << ": " << std::strerror(errno) << "\n";
        return 1;
    }

    std::cout << "tcpip-hello: ready on " << options.tap << ", " << options.ip << ", port " << port << std::endl;

    HelloStats stats;
    while (!host.stop_requested()) {
        // Wait for a connection or a stop signal; then accept, which does not block now.
        pollfd fds[2] = {{listener, POLLIN, 0}, {host.stop_fd(), POLLIN, 0}};
        const int n = tcpip::poll(fds, 2, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::cerr << "tcpip-hello: poll: " << std::strerror(errno) << "\n";
            break;
        }
        if (fds[1].revents != 0) break;
        if ((fds[0].revents & POLLIN) == 0) continue;
        const int c = tcpip::accept(listener, nullptr, nullptr);
        if (c < 0) continue;  // the connection was reset while queued
        ++stats.accepted;
        const std::string line = "hello " + std::to_string(stats.accepted) + "\n";
        // A short line fits the send buffer: one send takes it all, or fails.
        if (tcpip::send(c, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size())) {
            ++stats.greeted;
        } else {
            ++stats.send_errors;
        }
        tcpip::close(c);  // first, with the line possibly still unacknowledged: the stack sends it, then FIN
    }
    tcpip::close(listener);

    std::cout << "tcpip-hello: stopping; statistics:\n";
    host.print_stats(std::cout);
    print_stats(std::cout, "hello", stats);
    return 0;
}
