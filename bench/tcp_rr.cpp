// tcp-rr: request/response and connection-rate measurements on the kernel's sockets, in the manner
// of netperf's TCP_RR and TCP_CRR. bench/e2e.sh runs the clients against our stack (tcpip-echo on
// a TAP) and against the kernel (this program's own server, across a veth pair).
//
//   tcp-rr server PORT             echo server: every byte goes back on its connection; many
//                                  connections at once (one poll loop); runs until killed
//   tcp-rr rr HOST PORT SECONDS    one connection with TCP_NODELAY: send 1 byte, receive the 1-byte
//                                  answer, repeat for SECONDS; each round trip is one transaction
//   tcp-rr crr HOST PORT SECONDS [PORTS]
//                                  connect, send 1 byte, receive 1 byte, close, repeat for SECONDS;
//                                  each round is one connection. With PORTS (default 1), the
//                                  connections go in turn to PORTS consecutive server ports from
//                                  PORT (see below)
//
// A client prints one line of key=value pairs, for scripts to read, e.g.
//   mode=rr count=123456 errors=0 seconds=5.000 per_second=24691.2 p50_us=38.1 p99_us=61.0
// where the percentiles are of the time one transaction (rr) or one whole connection (crr) took.
// Exit status: 0 when something was measured, 1 when nothing could be (the server refused, or an
// answer did not come within kAnswerTimeout), 2 for bad arguments (one line on stderr).
//
// The crr client closes first, normally (no SO_LINGER tricks), so each connection leaves a
// TIME-WAIT entry on the client side for 60 s. bench/e2e.sh widens the client namespace's ephemeral
// port range and gives each repetition a server port of its own, so the ports do not run out; if
// they do all the same (connect fails with EADDRNOTAVAIL), the run ends there and reports the rate
// measured until then. The kernel reuses a TIME-WAIT port for a new connection to the same server
// address and port only when the old connection had TCP timestamps (tcp_tw_reuse); against a
// server without them (lwIP as Debian builds it), about 32,000 connections (the even ports, which
// connect() tries first) use up one server port for 60 s, after which every connect() searches for
// milliseconds. PORTS spreads the connections over several server ports, so that limit is the
// client's, not the server's, and out of the way.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// How long a client waits for one answer (or one connect) before it calls the run failed.
constexpr int kAnswerTimeoutSeconds = 2;
// A crr run gives up after this many failed connections in a row: the server is gone.
constexpr int kMaxConsecutiveErrors = 50;

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "tcp-rr: %s (usage: tcp-rr server PORT | tcp-rr rr HOST PORT SECONDS | tcp-rr crr HOST PORT SECONDS [PORTS])\n",
                 message.c_str());
    std::exit(2);
}

std::uint16_t parse_port(const char* text) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 1 || v > 65535) {
        usage_error(std::string("bad port '") + text + "'");
    }
    return static_cast<std::uint16_t>(v);
}

double parse_seconds(const char* text) {
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v > 0) || v > 3600) {
        usage_error(std::string("bad number of seconds '") + text + "' (0 < SECONDS <= 3600)");
    }
    return v;
}

sockaddr_in parse_address(const char* host, std::uint16_t port) {
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &at.sin_addr) != 1) usage_error(std::string("bad IPv4 address '") + host + "'");
    return at;
}

// ---- server ----

// One connection: the bytes received that could not be sent back yet (the peer is not reading).
struct Connection {
    int fd = -1;
    std::vector<char> pending;
};

// Reads what is there and echoes it; false when the connection is over (closed or failed).
// While anything is pending, nothing more is read: a peer that does not read its answers gets
// no more service, so memory stays bounded.
bool serve(Connection& c, std::vector<char>& buffer) {
    for (;;) {
        while (!c.pending.empty()) {
            const ssize_t n = send(c.fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
            c.pending.erase(c.pending.begin(), c.pending.begin() + n);
        }
        const ssize_t n = recv(c.fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n == 0) return false;  // the client closed: close our side too
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        c.pending.assign(buffer.data(), buffer.data() + n);
    }
}

int run_server(std::uint16_t port) {
    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(port);
    at.sin_addr.s_addr = htonl(INADDR_ANY);
    if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(listener, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0 || listen(listener, 1024) != 0) {
        std::fprintf(stderr, "tcp-rr: server on port %u: %s\n", port, std::strerror(errno));
        return 1;
    }
    std::printf("tcp-rr: serving echo on port %u\n", port);
    std::fflush(stdout);

    std::vector<Connection> connections;
    std::vector<pollfd> fds;
    std::vector<char> buffer(65536);
    for (;;) {
        fds.clear();
        fds.push_back({listener, POLLIN, 0});
        for (const Connection& c : connections) {
            fds.push_back({c.fd, static_cast<short>(c.pending.empty() ? POLLIN : POLLOUT), 0});
        }
        if (poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            std::fprintf(stderr, "tcp-rr: poll: %s\n", std::strerror(errno));
            return 1;
        }
        // Connections first: their entries in fds follow the listener's, in the same order.
        std::vector<Connection> still_open;
        for (std::size_t i = 0; i < connections.size(); ++i) {
            Connection& c = connections[i];
            if (fds[1 + i].revents != 0 && !serve(c, buffer)) {
                close(c.fd);
                continue;
            }
            still_open.push_back(std::move(c));
        }
        connections = std::move(still_open);
        if (fds[0].revents != 0) {
            for (;;) {
                const int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
                if (fd < 0) break;  // EAGAIN: all accepted (or a transient error: poll again)
                // A 1-byte answer must go at once, not wait for Nagle's algorithm.
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                connections.push_back(Connection{fd, {}});
            }
        }
    }
}

// ---- clients ----

// A blocking socket whose every send, receive and connect gives up after kAnswerTimeoutSeconds.
int client_socket() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    timeval timeout{kAnswerTimeoutSeconds, 0};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);  // also bounds connect()
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// One transaction on a connected socket: a 1-byte request and its 1-byte answer.
bool transaction(int fd) {
    const char request = 'x';
    ssize_t n;
    do n = send(fd, &request, 1, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
    if (n != 1) return false;
    char answer = 0;
    do n = recv(fd, &answer, 1, 0); while (n < 0 && errno == EINTR);
    if (n == 0) errno = ECONNRESET;  // closed before answering
    return n == 1;
}

// The q-quantile (0..1) of the samples, in microseconds; reorders them.
double quantile_us(std::vector<std::int64_t>& ns, double q) {
    if (ns.empty()) return 0;
    const auto k = static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1));
    std::nth_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(k), ns.end());
    return static_cast<double>(ns[k]) / 1000.0;
}

void print_result(const char* mode, std::vector<std::int64_t>& samples, long errors, double seconds) {
    const double p50 = quantile_us(samples, 0.50);
    const double p99 = quantile_us(samples, 0.99);
    std::printf("mode=%s count=%zu errors=%ld seconds=%.3f per_second=%.1f p50_us=%.1f p99_us=%.1f\n", mode,
                samples.size(), errors, seconds, static_cast<double>(samples.size()) / seconds, p50, p99);
}

std::int64_t elapsed_ns(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count();
}

int run_rr(const sockaddr_in& server, double seconds) {
    const int fd = client_socket();
    if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0) {
        std::fprintf(stderr, "tcp-rr: connect: %s\n", std::strerror(errno));
        return 1;
    }
    std::vector<std::int64_t> samples;
    samples.reserve(1 << 20);
    long errors = 0;
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration<double>(seconds);
    auto now = start;
    while (now < deadline) {
        const auto before = now;
        if (!transaction(fd)) {
            std::fprintf(stderr, "tcp-rr: transaction: %s\n", std::strerror(errno));
            ++errors;
            break;  // one connection: it is broken, the run ends here
        }
        now = Clock::now();
        samples.push_back(elapsed_ns(before, now));
    }
    close(fd);
    print_result("rr", samples, errors, static_cast<double>(elapsed_ns(start, now)) / 1e9);
    return samples.empty() ? 1 : 0;
}

int run_crr(sockaddr_in server, int ports, double seconds) {
    const std::uint16_t first_port = ntohs(server.sin_port);
    int next_port = 0;  // of `ports`, the one the next connection goes to
    std::vector<std::int64_t> samples;
    samples.reserve(1 << 18);
    long errors = 0;
    int consecutive_errors = 0;
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration<double>(seconds);
    auto now = start;
    while (now < deadline && consecutive_errors < kMaxConsecutiveErrors) {
        const auto before = now;
        server.sin_port = htons(static_cast<std::uint16_t>(first_port + next_port));
        next_port = (next_port + 1) % ports;
        const int fd = client_socket();
        const bool ok = fd >= 0 && connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) == 0 &&
                        transaction(fd);
        const int error = errno;
        if (fd >= 0) close(fd);  // an ordinary close: FIN, and TIME-WAIT on our side
        now = Clock::now();
        if (!ok && error == EADDRNOTAVAIL) {
            // Every ephemeral port to this server is in TIME-WAIT: the rate up to now is still a
            // fair measurement, so the run just ends early.
            std::fprintf(stderr, "tcp-rr: ephemeral ports exhausted after %zu connections; ending the run\n",
                         samples.size());
            break;
        }
        if (ok) {
            consecutive_errors = 0;
            samples.push_back(elapsed_ns(before, now));
        } else {
            if (consecutive_errors == 0) std::fprintf(stderr, "tcp-rr: connection: %s\n", std::strerror(error));
            ++errors;
            ++consecutive_errors;
        }
    }
    print_result("crr", samples, errors, static_cast<double>(elapsed_ns(start, now)) / 1e9);
    return samples.empty() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) usage_error("missing mode");
    const std::string mode = argv[1];
    if (mode == "server") {
        if (argc != 3) usage_error("server takes one argument, PORT");
        return run_server(parse_port(argv[2]));
    }
    if (mode == "rr") {
        if (argc != 5) usage_error("rr takes three arguments, HOST PORT SECONDS");
        return run_rr(parse_address(argv[2], parse_port(argv[3])), parse_seconds(argv[4]));
    }
    if (mode == "crr") {
        if (argc != 5 && argc != 6) usage_error("crr takes HOST PORT SECONDS [PORTS]");
        const std::uint16_t port = parse_port(argv[3]);
        const int ports = argc == 6 ? parse_port(argv[5]) : 1;
        if (port + ports - 1 > 65535) usage_error("PORT + PORTS - 1 is beyond 65535");
        return run_crr(parse_address(argv[2], port), ports, parse_seconds(argv[4]));
    }
    usage_error("unknown mode '" + mode + "'");
}
