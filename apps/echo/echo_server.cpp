#include "apps/echo/echo_server.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "stack/socket/socket.h"

namespace tcpip::echo {
namespace {

void set_nonblocking(int fd) { tcpip::fcntl(fd, F_SETFL, tcpip::fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

}  // namespace

EchoServer::~EchoServer() { close_all(); }

std::string EchoServer::open(std::uint16_t port) {
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(port);
    at.sin_addr.s_addr = htonl(INADDR_ANY);
    udp_ = tcpip::socket(AF_INET, SOCK_DGRAM, 0);
    if (udp_ < 0 || tcpip::bind(udp_, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0) {
        return "UDP port " + std::to_string(port) + ": " + std::strerror(errno);
    }
    listener_ = tcpip::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (listener_ < 0 || tcpip::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        tcpip::bind(listener_, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0 ||
        tcpip::listen(listener_, 256) != 0) {
        return "TCP port " + std::to_string(port) + ": " + std::strerror(errno);
    }
    set_nonblocking(listener_);
    return "";
}

void EchoServer::poll_set(std::vector<pollfd>& fds) const {
    fds.push_back({udp_, POLLIN, 0});
    fds.push_back({listener_, POLLIN, 0});
    for (const Client& c : clients_) fds.push_back({c.fd, static_cast<short>(c.pending.empty() ? POLLIN : POLLOUT), 0});
}

void EchoServer::serve(const pollfd* ready) {
    auto is_ready = [&](std::size_t entry) { return ready == nullptr || ready[entry].revents != 0; };
    // TCP connections first (their entries follow the UDP socket's and the listener's). Those
    // that end are closed and the rest moved down in place, in order: no allocation per call.
    std::size_t kept = 0;
    for (std::size_t i = 0; i < clients_.size(); ++i) {
        Client& c = clients_[i];
        if (is_ready(2 + i) && !serve_client(c)) {
            tcpip::close(c.fd);
            ++tcp_stats_.closed;
            continue;
        }
        if (kept != i) clients_[kept] = std::move(c);
        ++kept;
    }
    clients_.resize(kept);
    if (is_ready(1)) {
        for (;;) {
            const int fd = tcpip::accept(listener_, nullptr, nullptr);
            if (fd < 0) break;
            set_nonblocking(fd);
            clients_.push_back(Client{fd, {}, 0, false});
            ++tcp_stats_.accepted;
        }
    }
    if (ready == nullptr || (ready[0].revents & (POLLIN | POLLERR)) != 0) serve_udp();
}

// Sends what is pending; false if the connection failed.
bool EchoServer::flush(Client& c) {
    while (c.pending_from < c.pending.size()) {
        const ssize_t n = tcpip::send(c.fd, c.pending.data() + c.pending_from, c.pending.size() - c.pending_from,
                                      MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
        c.pending_from += static_cast<std::size_t>(n);
        tcp_stats_.bytes_echoed += static_cast<Counter>(n);
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
bool EchoServer::serve_client(Client& c) {
    if (!flush(c)) {
        ++tcp_stats_.errors;
        return false;
    }
    while (c.pending.empty() && !c.peer_done) {
        const ssize_t n = tcpip::recv(c.fd, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            ++tcp_stats_.errors;
            return false;
        }
        if (n == 0) {
            c.peer_done = true;
            break;
        }
        c.pending.assign(buffer_.data(), buffer_.data() + n);
        if (!flush(c)) {
            ++tcp_stats_.errors;
            return false;
        }
    }
    // Everything echoed and the client has finished: close (a FIN after the last byte).
    return !(c.peer_done && c.pending.empty());
}

// Drains what is queued (a bounded batch, so a flood cannot keep a signal waiting).
void EchoServer::serve_udp() {
    for (int batch = 0; batch < 256; ++batch) {
        sockaddr_in from{};
        socklen_t from_len = sizeof from;
        const ssize_t got = tcpip::recvfrom(udp_, buffer_.data(), buffer_.size(), MSG_DONTWAIT,
                                            reinterpret_cast<sockaddr*>(&from), &from_len);
        if (got < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) ++udp_stats_.rx_errors;
            break;
        }
        ++udp_stats_.rx_datagrams;
        const ssize_t sent = tcpip::sendto(udp_, buffer_.data(), static_cast<std::size_t>(got), 0,
                                           reinterpret_cast<const sockaddr*>(&from), from_len);
        if (sent == got) {
            ++udp_stats_.tx_datagrams;
        } else {
            ++udp_stats_.tx_errors;
        }
    }
}

void EchoServer::close_all() {
    for (const Client& c : clients_) tcpip::close(c.fd);
    clients_.clear();
    if (listener_ >= 0) tcpip::close(listener_);
    if (udp_ >= 0) tcpip::close(udp_);
    listener_ = udp_ = -1;
}

}  // namespace tcpip::echo
