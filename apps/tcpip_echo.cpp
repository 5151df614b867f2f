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
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
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

struct TcpEchoStats {
    tcpip::Counter accepted = 0;      // connections
    tcpip::Counter closed = 0;        // connections finished (both sides done) or failed
    tcpip::Counter bytes_echoed = 0;
    tcpip::Counter errors = 0;        // a connection that ended with an error (reset, timeout)

    template <class F>
    void for_each(F&& f) const {
        f("accepted", accepted); f("closed", closed); f("bytes_echoed", bytes_echoed); f("errors", errors);
    }
};

// One TCP client: what it sent us that we could not yet send back.
struct TcpClient {
    int fd = -1;
    std::vector<char> pending;
    std::size_t pending_from = 0;
    bool peer_done = false;  // the client half-closed: echo what is left, then close
};

void set_nonblocking(int fd) { tcpip::fcntl(fd, F_SETFL, tcpip::fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

// Sends what is pending; false if the connection failed.
bool flush(TcpClient& c, TcpEchoStats& stats) {
    while (c.pending_from < c.pending.size()) {
        const ssize_t n = tcpip::send(c.fd, c.pending.data() + c.pending_from, c.pending.size() - c.pending_from,
                                      MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
        c.pending_from += static_cast<std::size_t>(n);
        stats.bytes_echoed += static_cast<tcpip::Counter>(n);
    }
    // Everything echoed. A large block's storage goes back to the allocator (an idle client
    // keeps nothing: 10,000 clients that once sent 64 KiB would otherwise hold 640 MB); a small
    // one is kept, so a request/response exchange allocates nothing.
    if (c.pending.capacity() > 4096) {
        std::vector<char>().swap(c.pending);
    } else {
        c.pending.clear();
    }
    c.pending_from = 0;
    return true;
}

// Reads what the client sent (only while nothing is pending) and echoes it; false when the
// connection is over, successfully or not.
bool serve(TcpClient& c, TcpEchoStats& stats, std::vector<char>& buffer) {
    if (!flush(c, stats)) {
        ++stats.errors;
        return false;
    }
    while (c.pending.empty() && !c.peer_done) {
        const ssize_t n = tcpip::recv(c.fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            ++stats.errors;
            return false;
        }
        if (n == 0) {
            c.peer_done = true;
            break;
        }
        c.pending.assign(buffer.data(), buffer.data() + n);
        if (!flush(c, stats)) {
            ++stats.errors;
            return false;
        }
    }
    // Everything echoed and the client has finished: close (a FIN after the last byte).
    return !(c.peer_done && c.pending.empty());
}

}  // namespace

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

    const int fd = tcpip::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(static_cast<std::uint16_t>(port));
    at.sin_addr.s_addr = htonl(INADDR_ANY);
    if (fd < 0 || tcpip::bind(fd, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0) {
        std::cerr << "tcpip-echo: UDP port " << port << ": " << std::strerror(errno) << "\n";
        return 1;
    }

    const int listener = tcpip::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (listener < 0 || tcpip::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        tcpip::bind(listener, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0 || tcpip::listen(listener, 256) != 0) {
        std::cerr << "tcpip-echo: TCP port " << port << ": " << std::strerror(errno) << "\n";
        return 1;
    }
    set_nonblocking(listener);

    std::cout << "tcpip-echo: ready on " << options.tap << ", " << options.ip << " (" << options.mac
              << "), answering ARP, ICMP echo, and UDP and TCP echo on port " << port << std::endl;

    EchoStats stats;
    TcpEchoStats tcp_stats;
    std::vector<TcpClient> clients;
    std::vector<char> buffer(65536);  // the largest UDP payload is 65,507 bytes
    std::vector<pollfd> fds;
    while (!host.stop_requested()) {
        fds.clear();
        fds.push_back({fd, POLLIN, 0});
        fds.push_back({host.stop_fd(), POLLIN, 0});
        fds.push_back({listener, POLLIN, 0});
        for (const TcpClient& c : clients) {
            fds.push_back({c.fd, static_cast<short>(c.pending.empty() ? POLLIN : POLLOUT), 0});
        }
        const int n = tcpip::poll(fds.data(), fds.size(), -1);
        if (n < 0) {
            if (errno == EINTR) continue;  // a signal: the loop condition decides
            std::cerr << "tcpip-echo: poll: " << std::strerror(errno) << "\n";
            break;
        }
        if (fds[1].revents != 0) break;

        // TCP connections first (their indices in fds follow the three fixed entries).
        std::vector<TcpClient> still_open;
        for (std::size_t i = 0; i < clients.size(); ++i) {
            TcpClient& c = clients[i];
            if (fds[3 + i].revents != 0 && !serve(c, tcp_stats, buffer)) {
                tcpip::close(c.fd);
                ++tcp_stats.closed;
                continue;
            }
            still_open.push_back(std::move(c));
        }
        clients = std::move(still_open);
        if (fds[2].revents != 0) {
            for (;;) {
                const int c = tcpip::accept(listener, nullptr, nullptr);
                if (c < 0) break;
                set_nonblocking(c);
                clients.push_back(TcpClient{c, {}, 0, false});
                ++tcp_stats.accepted;
            }
        }

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
    for (const TcpClient& c : clients) tcpip::close(c.fd);
    tcpip::close(listener);
    tcpip::close(fd);

    std::cout << "tcpip-echo: stopping; statistics:\n";
    host.print_stats(std::cout);
    print_stats(std::cout, "udp_echo", stats);
    print_stats(std::cout, "tcp_echo", tcp_stats);
    return 0;
}
