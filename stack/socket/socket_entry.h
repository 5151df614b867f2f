// SocketEntry: what the facade keeps per descriptor, around the transport's own socket.
//
// The transport (a UdpSocket or a TcpSocket, one alternative of `transport`) holds the protocol
// state and is owned by its layer; the entry holds what POSIX adds on top: the descriptor,
// O_NONBLOCK, timeouts, shutdown flags, where a stream socket is in connect() (Linux's
// sock->state, which is not the TCP state), and the means to wake the threads waiting on it.
// Every field is guarded by the owning Runtime's mutex.
#pragma once

#include <sys/socket.h>

#include <condition_variable>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "stack/core/time.h"
#include "stack/tcp/tcp_socket.h"
#include "stack/udp/udp.h"

namespace tcpip {

struct EpollWatch;

struct SocketEntry {
    // Linux's socket_state for a stream socket (SS_UNCONNECTED, SS_CONNECTING, SS_CONNECTED): it
    // decides what a second connect() says (EALREADY while connecting, 0 once when a
    // non-blocking connect has completed, EISCONN after that).
    enum class Connection { Unconnected, Connecting, Connected };

    int fd = -1;                          // our descriptor: the number of an eventfd we hold open
    int type = 0;                         // SOCK_DGRAM or SOCK_STREAM
    // Owned by its layer; null once closed. A TcpSocket is handed back with TcpLayer::close(),
    // after which the facade never touches it (the layer frees it when the connection is over).
    std::variant<UdpSocket*, TcpSocket*> transport;

    bool nonblocking = false;             // O_NONBLOCK (fcntl, or SOCK_NONBLOCK at socket())
    bool shut_rd = false;                 // shutdown(SHUT_RD): recv returns 0 once the queue is empty
    bool shut_wr = false;                 // shutdown(SHUT_WR): send fails with EPIPE
    bool closed = false;                  // close() ran; waiters still holding the entry give up
    Connection connection = Connection::Unconnected;  // stream sockets only
    // Linux's sk_rcvtimeo / sk_sndtimeo: Duration::max() waits forever (the default, and what a
    // zero timeval sets); Duration::zero() does not wait at all (what a negative tv_sec sets).
    Duration rcvtimeo = Duration::max();
    Duration sndtimeo = Duration::max();
    int sndbuf = 212992;                  // UDP's SO_SNDBUF as getsockopt reports it (net.core.wmem_default)
    std::optional<Duration> linger;       // SO_LINGER with l_onoff (TCP: copied into TcpSocket::linger)
    bool broadcast = false;               // SO_BROADCAST on a stream socket: kept, means nothing (as Linux)

    std::condition_variable cv;           // blocked calls wait here, on the runtime's mutex
    std::vector<int> poll_waiters;        // eventfds of tcpip::poll calls waiting on this socket
    bool event_pending = false;           // in the runtime's list of entries to notify (see Runtime::on_stack_event)
    // The epoll instances watching this socket (epoll_set.h), in the order they registered;
    // notify() queues each on its set's ready list, and wakes at most one sleeping thread among
    // the instances that registered with EPOLLEXCLUSIVE.
    std::vector<std::shared_ptr<EpollWatch>> epoll_watches;

    UdpSocket* udp() const {
        auto* p = std::get_if<UdpSocket*>(&transport);
        return p ? *p : nullptr;
    }
    TcpSocket* tcp() const {
        auto* p = std::get_if<TcpSocket*>(&transport);
        return p ? *p : nullptr;
    }
    bool is_stream() const { return type == SOCK_STREAM; }

    // Something changed (data, an error, shutdown, close): wake every waiter. Under the lock.
    void notify();
};

}  // namespace tcpip
