// The echo service of tcpip-echo (UDP and TCP, RFC 862) as a socket program that never blocks,
// so that two callers can drive it: tcpip-echo's loop, which waits in tcpip::poll over
// poll_set() and then calls serve(), and tcpip-replay, which calls serve() after each frame it
// plays (every call is non-blocking, so serving a descriptor that is not ready does nothing).
//
// One serve() does, in this order: each TCP client that is ready (echo what it sent; close once
// it half-closed and everything went back), then the listener (accept every waiting
// connection), then the UDP socket (a bounded batch of datagrams back to their senders). A
// client whose peer does not read its echo is not read from either (back-pressure), so memory
// stays bounded.
#pragma once

#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "stack/core/stats.h"

namespace tcpip::echo {

struct UdpEchoStats {
    Counter rx_datagrams = 0;  // received on the echo port
    Counter tx_datagrams = 0;  // sent back
    Counter tx_errors = 0;     // a send that failed: that datagram was not echoed
    Counter rx_errors = 0;     // a receive that failed (a pending ICMP error, say)

    template <class F>
    void for_each(F&& f) const {
        f("rx_datagrams", rx_datagrams); f("tx_datagrams", tx_datagrams); f("tx_errors", tx_errors);
        f("rx_errors", rx_errors);
    }
};

struct TcpEchoStats {
    Counter accepted = 0;      // connections
    Counter closed = 0;        // connections finished (both sides done) or failed
    Counter bytes_echoed = 0;
    Counter errors = 0;        // a connection that ended with an error (reset, timeout)

    template <class F>
    void for_each(F&& f) const {
        f("accepted", accepted); f("closed", closed); f("bytes_echoed", bytes_echoed); f("errors", errors);
    }
};

class EchoServer {
public:
    EchoServer() = default;
    ~EchoServer();
    EchoServer(const EchoServer&) = delete;
    EchoServer& operator=(const EchoServer&) = delete;

    // Opens the UDP socket and the TCP listener on `port` in the default runtime; "" or why not.
    std::string open(std::uint16_t port);

    // Appends what to wait for: the UDP socket, the listener, then each client (POLLIN, or
    // POLLOUT while its echo waits for room). serve() takes the same entries back.
    void poll_set(std::vector<pollfd>& fds) const;
    // Serves what is ready: `ready` are the entries poll_set() appended, with revents filled;
    // null serves everything (what is not ready answers EAGAIN and is left alone).
    void serve(const pollfd* ready = nullptr);

    void close_all();
    const UdpEchoStats& udp_stats() const { return udp_stats_; }
    const TcpEchoStats& tcp_stats() const { return tcp_stats_; }

private:
    struct Client {
        int fd = -1;
        std::vector<char> pending;     // what it sent us that we could not yet send back
        std::size_t pending_from = 0;
        bool peer_done = false;        // the client half-closed: echo what is left, then close
    };
    bool flush(Client& c);
    bool serve_client(Client& c);
    void serve_udp();

    int udp_ = -1;
    int listener_ = -1;
    std::vector<Client> clients_;
    std::vector<char> buffer_ = std::vector<char>(65536);  // the largest UDP payload is 65,507 bytes
    UdpEchoStats udp_stats_;
    TcpEchoStats tcp_stats_;
};

}  // namespace tcpip::echo
