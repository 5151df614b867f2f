// tcpip-nc: netcat over our stack. Standard input goes to the socket, what the socket receives
// goes to standard output.
//
//   tcpip-nc [shared options] HOST PORT                 TCP client
//   tcpip-nc -l [shared options] [HOST] PORT            TCP server: accepts one connection
//   tcpip-nc -u [-q SECS] [shared options] HOST PORT     UDP client: datagrams to HOST:PORT
//   tcpip-nc -u -l [-q SECS] [shared options] [HOST] PORT
//                                                      UDP server: bound to PORT (on HOST, if
//                                                      given); replies go to the last sender
//
// Written only against the BSD-like socket API, in the one-thread event-driven style: a
// tcpip::poll over the socket (ours), standard input (a kernel descriptor) and the signal pipe.
// UDP: each read() of standard input becomes one datagram (so a line typed at a terminal is one
// datagram), and each datagram received is written out as it is. A server reads standard input
// only once it knows a peer to send to.
//
// End: at the end of standard input, tcpip-nc waits SECS more seconds (-q, default 1) for what
// is still coming back, then exits with 0. SIGINT or SIGTERM end it at once (also 0). An error
// from the socket (e.g. ECONNREFUSED after an ICMP port unreachable) is printed and exits with 1;
// a bad flag exits with 2.
//
// TCP: at the end of standard input the sending side is shut down (a FIN: half-close) and
// tcpip-nc keeps receiving until the peer closes its side too; then it exits with 0. A refused
// connection or a reset prints the error and exits with 1.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/app_common.h"
#include "stack/socket/socket.h"

namespace {

using namespace tcpip;

constexpr std::size_t kMaxDatagram = 65507;  // 65535 - 20 (IPv4) - 8 (UDP)

struct NcOptions {
    bool udp = false;
    bool listen = false;
    std::optional<Ipv4Address> host;
    std::uint16_t port = 0;
    double quit_after = 1.0;  // -q: seconds to wait after the end of standard input
};

// Everything that depends on the kind of socket, behind the one pump loop in main(). Each call
// returns false on an error it has already printed.
class Transport {
public:
    virtual ~Transport() = default;
    virtual int fd() const = 0;
    // Whether standard input may be read now (a server needs a peer to send to first).
    virtual bool ready_to_send() const = 0;
    virtual bool send(const char* data, std::size_t len) = 0;
    // Receives what is queued, without blocking, and writes it to standard output.
    virtual bool receive_all() = 0;
    // Standard input ended (a stream will shut down its sending side here).
    virtual void input_ended() {}
    // A stream is over when the peer has closed its side: nothing more will come.
    virtual bool finished() const { return false; }
    // Datagrams have no end: after standard input ends, wait -q seconds for replies.
    virtual bool waits_after_input() const { return true; }
};

bool write_all(int fd, const char* data, std::size_t len) {
    while (len > 0) {
        const ssize_t n = ::write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += n;
        len -= static_cast<std::size_t>(n);
    }
    return true;
}

void print_error(const std::string& what) { std::cerr << "tcpip-nc: " << what << ": " << std::strerror(errno) << "\n"; }

class UdpTransport final : public Transport {
public:
    ~UdpTransport() override {
        if (fd_ >= 0) tcpip::close(fd_);
    }

    // Client: a connected socket, so that its sends have a fixed peer and an ICMP error about
    // them comes back as the socket's error (ECONNREFUSED), as with the kernel's `nc -u`.
    bool open_client(Ipv4Address host, std::uint16_t port) {
        if (!open()) return false;
        sockaddr_in to = app::socket_address(host, port);
        if (tcpip::connect(fd_, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
            print_error("connect " + host.to_string() + ":" + std::to_string(port));
            return false;
        }
        peer_ = to;
        connected_ = true;
        return true;
    }

    // Server: bound to the port; replies go to whoever sent last.
    bool open_server(std::optional<Ipv4Address> host, std::uint16_t port) {
        if (!open()) return false;
        sockaddr_in at = app::socket_address(host.value_or(Ipv4Address::any()), port);
        if (tcpip::bind(fd_, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0) {
            print_error("bind port " + std::to_string(port));
            return false;
        }
        return true;
    }

    int fd() const override { return fd_; }
    bool ready_to_send() const override { return peer_.has_value(); }

    bool send(const char* data, std::size_t len) override {
        const ssize_t n = connected_ ? tcpip::send(fd_, data, len, 0)
                                     : tcpip::sendto(fd_, data, len, 0, reinterpret_cast<const sockaddr*>(&*peer_),
                                                     sizeof *peer_);
        if (n < 0) {
            print_error("send");
            return false;
        }
        return true;
    }

    bool receive_all() override {
        for (;;) {
            sockaddr_in from{};
            socklen_t from_len = sizeof from;
            const ssize_t n = tcpip::recvfrom(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT,
                                              reinterpret_cast<sockaddr*>(&from), &from_len);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
                print_error("receive");
                return false;
            }
            if (!connected_) peer_ = from;
            if (!write_all(STDOUT_FILENO, buffer_.data(), static_cast<std::size_t>(n))) {
                print_error("standard output");
                return false;
            }
        }
    }

private:
    bool open() {
        fd_ = tcpip::socket(AF_INET, SOCK_DGRAM, 0);
        if (fd_ < 0) print_error("socket");
        return fd_ >= 0;
    }

    int fd_ = -1;
    bool connected_ = false;
    std::optional<sockaddr_in> peer_;  // where standard input goes
    std::vector<char> buffer_ = std::vector<char>(kMaxDatagram + 1);
};

class TcpTransport final : public Transport {
public:
    ~TcpTransport() override {
        if (conn_ >= 0) tcpip::close(conn_);
        if (listener_ >= 0) tcpip::close(listener_);
    }

    bool open_client(Ipv4Address host, std::uint16_t port) {
        conn_ = tcpip::socket(AF_INET, SOCK_STREAM, 0);
        if (conn_ < 0) {
            print_error("socket");
            return false;
        }
        sockaddr_in to = app::socket_address(host, port);
        if (tcpip::connect(conn_, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
            print_error("connect " + host.to_string() + ":" + std::to_string(port));
            return false;
        }
        return true;
    }

    bool open_server(std::optional<Ipv4Address> host, std::uint16_t port) {
        listener_ = tcpip::socket(AF_INET, SOCK_STREAM, 0);
        if (listener_ < 0) {
            print_error("socket");
            return false;
        }
        int one = 1;
        tcpip::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in at = app::socket_address(host.value_or(Ipv4Address::any()), port);
        if (tcpip::bind(listener_, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0 ||
            tcpip::listen(listener_, 1) != 0) {
            print_error("listen on port " + std::to_string(port));
            return false;
        }
        return true;
    }

    // Until a connection is accepted, the descriptor to wait on is the listener.
    int fd() const override { return conn_ >= 0 ? conn_ : listener_; }
    bool ready_to_send() const override { return conn_ >= 0 && !peer_closed_; }
    bool waits_after_input() const override { return false; }
    bool finished() const override { return peer_closed_; }

    bool send(const char* data, std::size_t len) override {
        // A blocking send: it returns once everything is in the send buffer (or on an error), so
        // standard input is read only as fast as the connection drains.
        while (len > 0) {
            const ssize_t n = tcpip::send(conn_, data, len, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                print_error("send");
                return false;
            }
            data += n;
            len -= static_cast<std::size_t>(n);
        }
        return true;
    }

    bool receive_all() override {
        if (conn_ < 0) {
            // The listener is readable: one connection to take; the listener is closed then, as nc does.
            sockaddr_in from{};
            socklen_t from_len = sizeof from;
            conn_ = tcpip::accept(listener_, reinterpret_cast<sockaddr*>(&from), &from_len);
            if (conn_ < 0) {
                print_error("accept");
                return false;
            }
            tcpip::close(listener_);
            listener_ = -1;
            return true;
        }
        for (;;) {
            const ssize_t n = tcpip::recv(conn_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
                print_error("receive");
                return false;
            }
            if (n == 0) {
                peer_closed_ = true;
                return true;
            }
            if (!write_all(STDOUT_FILENO, buffer_.data(), static_cast<std::size_t>(n))) {
                print_error("standard output");
                return false;
            }
        }
    }

    void input_ended() override {
        if (conn_ >= 0) tcpip::shutdown(conn_, SHUT_WR);  // half-close: our FIN
    }

private:
    int listener_ = -1;
    int conn_ = -1;
    bool peer_closed_ = false;
    std::vector<char> buffer_ = std::vector<char>(1 << 16);
};

}  // namespace

int main(int argc, char** argv) {
    NcOptions nc;
    std::vector<std::string> positionals;
    auto keep = [&](std::string_view v) {
        positionals.emplace_back(v);
        return std::string();
    };
    app::Args args("tcpip-nc",
                   "[-u] [-l] [-q SECS] [shared options] [HOST] PORT\n\n"
                   "Netcat over the tcpip stack: standard input to the socket, the socket to standard output.\n"
                   "  -u                  UDP instead of TCP\n"
                   "  -l                  listen on PORT (on HOST if given); TCP takes one connection, UDP\n"
                   "                      replies go to the last sender\n"
                   "  -q SECS             after the end of standard input, wait SECS for replies (default 1)\n");
    args.add_flag({"-u"}, [&] { nc.udp = true; });
    args.add_flag({"-l"}, [&] { nc.listen = true; });
    args.add_option({"-q"}, [&](std::string_view v) { return app::parse_seconds(v, 0.0, nc.quit_after); });
    args.add_positional("HOST", false, keep);
    args.add_positional("PORT", false, keep);
    app::CommonOptions options = args.parse(argc, argv);
    options.stdout_is_data = true;  // standard output is the data: --trace writes on stderr

    // [HOST] PORT: the last positional is the port.
    if (positionals.empty()) args.fail("missing PORT");
    long long port = 0;
    if (auto error = app::parse_int(positionals.back(), 1, 65535, port); !error.empty()) {
        args.fail("PORT: " + error);
    }
    nc.port = static_cast<std::uint16_t>(port);
    if (positionals.size() == 2) {
        auto host = Ipv4Address::parse(positionals.front());
        if (!host) args.fail("HOST: '" + positionals.front() + "': " + to_string(host.error()) + " (an IPv4 address)");
        nc.host = *host;
    }
    if (!nc.listen && !nc.host) args.fail("missing HOST (or -l to listen)");
    app::RuntimeHost host("tcpip-nc", options);
    host.stop_on_signals();

    std::unique_ptr<Transport> transport;
    if (nc.udp) {
        auto udp = std::make_unique<UdpTransport>();
        const bool opened = nc.listen ? udp->open_server(nc.host, nc.port) : udp->open_client(*nc.host, nc.port);
        if (!opened) return 1;
        transport = std::move(udp);
    } else {
        auto tcp = std::make_unique<TcpTransport>();
        const bool opened = nc.listen ? tcp->open_server(nc.host, nc.port) : tcp->open_client(*nc.host, nc.port);
        if (!opened) return 1;
        transport = std::move(tcp);
    }

    // The pump.
    using SteadyClock = std::chrono::steady_clock;
    std::vector<char> input(kMaxDatagram);
    bool input_open = true;
    std::optional<SteadyClock::time_point> quit_at;  // set at the end of standard input
    int status = 0;
    while (!host.stop_requested()) {
        const bool read_input = input_open && transport->ready_to_send();
        pollfd fds[3] = {{transport->fd(), POLLIN, 0},
                         {read_input ? STDIN_FILENO : -1, POLLIN, 0},
                         {host.stop_fd(), POLLIN, 0}};
        int timeout_ms = -1;
        if (quit_at) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*quit_at - SteadyClock::now());
            timeout_ms = static_cast<int>(std::max<long long>(left.count(), 0));
        }
        const int n = tcpip::poll(fds, 3, timeout_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            print_error("poll");
            status = 1;
            break;
        }
        if (fds[2].revents != 0) break;
        if (fds[0].revents != 0 && !transport->receive_all()) {
            status = 1;
            break;
        }
        if (fds[1].revents != 0) {
            const ssize_t got = ::read(STDIN_FILENO, input.data(), input.size());
            if (got < 0 && errno != EINTR && errno != EAGAIN) {
                print_error("standard input");
                status = 1;
                break;
            }
            if (got == 0) {
                input_open = false;
                transport->input_ended();
                if (transport->waits_after_input()) {
                    quit_at = SteadyClock::now() + std::chrono::microseconds(static_cast<long long>(nc.quit_after * 1e6));
                }
            } else if (got > 0 && !transport->send(input.data(), static_cast<std::size_t>(got))) {
                status = 1;
                break;
            }
        }
        if (quit_at && SteadyClock::now() >= *quit_at) break;
        if (transport->finished()) break;
    }
    transport.reset();  // closes the socket before the runtime goes
    return status;
}
