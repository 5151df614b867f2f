// SocketEntry: what the facade keeps per descriptor, around the transport's own socket.
//
// The transport (UdpSocket now, TcpSocket later: one more alternative in `transport`) holds the
// protocol state; the entry holds what POSIX adds on top: the descriptor, O_NONBLOCK, timeouts,
// shutdown flags, and the means to wake the threads waiting on it. Every field is guarded by the
// owning Runtime's mutex.
#pragma once

#include <condition_variable>
#include <variant>
#include <vector>

#include "stack/core/time.h"
#include "stack/udp/udp.h"

namespace tcpip {

struct SocketEntry {
    int fd = -1;                          // our descriptor: the number of an eventfd we hold open
    int type = 0;                         // SOCK_DGRAM (SOCK_STREAM when TCP arrives)
    std::variant<UdpSocket*> transport;   // owned by its layer; null once closed

    bool nonblocking = false;             // O_NONBLOCK (fcntl, or SOCK_NONBLOCK at socket())
    bool shut_rd = false;                 // shutdown(SHUT_RD): recv returns 0 once the queue is empty
    bool shut_wr = false;                 // shutdown(SHUT_WR): send fails with EPIPE
    bool closed = false;                  // close() ran; waiters still holding the entry give up
    // Linux's sk_rcvtimeo / sk_sndtimeo: Duration::max() waits forever (the default, and what a
    // zero timeval sets); Duration::zero() does not wait at all (what a negative tv_sec sets).
    Duration rcvtimeo = Duration::max();
    Duration sndtimeo = Duration::max();
    int sndbuf = 212992;                  // SO_SNDBUF as getsockopt reports it (net.core.wmem_default)

    std::condition_variable cv;           // blocked recv/send wait here, on the runtime's mutex
    std::vector<int> poll_waiters;        // eventfds of tcpip::poll calls waiting on this socket

    UdpSocket* udp() const {
        auto* p = std::get_if<UdpSocket*>(&transport);
        return p ? *p : nullptr;
    }

    // Something changed (data, an error, shutdown, close): wake every waiter. Under the lock.
    void notify();
};

}  // namespace tcpip
