// The stream (TCP) halves of the Runtime's calls (runtime.h): each mirrors the Linux function
// named beside it (net/ipv4/af_inet.c, net/ipv4/tcp.c, net/ipv4/inet_connection_sock.c,
// net/core/stream.c), in the order Linux checks things, since that decides which errno a call
// gets. The protocol itself is TcpLayer's (stack/tcp/tcp.h); this file adds what POSIX puts on
// top of it: blocking and timeouts, descriptors for accepted connections, Linux's errno choices
// and poll bits, and the socket options.
//
// Every function runs under the runtime's lock. A call that waits releases it (Runtime::wait)
// and, when it wakes, reads entry.tcp() again: a concurrent connect(AF_UNSPEC) or shutdown of a
// listener swaps the TcpSocket (tcp_disconnect), and a close() takes it away.
//
// Signals: Linux raises SIGPIPE on EPIPE unless MSG_NOSIGNAL is given. We never raise signals:
// MSG_NOSIGNAL is accepted and changes nothing.
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

#include "stack/socket/error_map.h"
#include "stack/socket/posix.h"
#include "stack/socket/runtime.h"

namespace tcpip {

using namespace posix;

namespace {

// Linux's bounds for the TCP options (include/net/tcp.h).
constexpr int kTcpMinMss = 88;            // TCP_MIN_MSS
constexpr int kMaxTcpWindow = 32767;      // MAX_TCP_WINDOW: the largest TCP_MAXSEG accepted
constexpr int kMaxTcpKeepIdle = 32767;    // MAX_TCP_KEEPIDLE, seconds
constexpr int kMaxTcpKeepIntvl = 32767;   // MAX_TCP_KEEPINTVL, seconds
constexpr int kMaxTcpKeepCnt = 127;       // MAX_TCP_KEEPCNT
constexpr std::uint32_t kInfiniteSsthresh = 0x7fffffff;  // TCP_INFINITE_SSTHRESH
constexpr std::size_t kCongestionNameMax = 16;            // TCP_CA_NAME_MAX

// Linux's numbering of the TCP states (include/net/tcp_states.h; <netinet/tcp.h> has the names),
// which tcp_info.tcpi_state and tools such as ss use.
std::uint8_t linux_state(TcpState state) {
    switch (state) {
        case TcpState::Established: return TCP_ESTABLISHED;
        case TcpState::SynSent: return TCP_SYN_SENT;
        case TcpState::SynReceived: return TCP_SYN_RECV;
        case TcpState::FinWait1: return TCP_FIN_WAIT1;
        case TcpState::FinWait2: return TCP_FIN_WAIT2;
        case TcpState::TimeWait: return TCP_TIME_WAIT;
        case TcpState::Closed: return TCP_CLOSE;
        case TcpState::CloseWait: return TCP_CLOSE_WAIT;
        case TcpState::LastAck: return TCP_LAST_ACK;
        case TcpState::Listen: return TCP_LISTEN;
        case TcpState::Closing: return TCP_CLOSING;
    }
    return TCP_CLOSE;
}

bool handshaking(const TcpSocket* s) { return s->state == TcpState::SynSent || s->state == TcpState::SynReceived; }

// The connection is over after having been set up (reset, timed out, or closed by both sides and
// gone): Linux's tcp_done has set sk_shutdown to SHUTDOWN_MASK. A socket that was never connected,
// or whose failed connect() has been reported by connect() (which disconnects it), is not.
bool finished(const SocketEntry& entry, const TcpSocket* s) {
    return s->state == TcpState::Closed && s->connect_reported &&
           entry.connection != SocketEntry::Connection::Unconnected;
}

std::uint32_t seconds_of(Duration d) { return static_cast<std::uint32_t>(d.total_micros() / 1000000); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Creating, disconnecting, closing

TcpSocket* Runtime::tcp_open(SocketEntry& entry) {
    TcpSocket* s = stack_.tcp().open();
    // Called by the layer (under the lock) when data, space, a connection or an error arrives.
    s->on_event = [this, raw = &entry] { on_stack_event(*raw); };
    entry.transport = s;
    return s;
}

// tcp_disconnect, for connect(AF_UNSPEC) and shutdown() of a listener or of a connect in
// progress: the connection is aborted (RST if one was established, as Linux) and the descriptor
// gets a fresh, unconnected socket with the same options. Unlike Linux, the local port is not
// kept: the next connect or listen picks or binds one anew.
void Runtime::tcp_disconnect(SocketEntry& entry) {
    TcpSocket* old = entry.tcp();
    TcpSocket* fresh = stack_.tcp().open();
    TcpUserOptions options = stack_.tcp().options(old);
    call_layer([&](Instant now) {
        stack_.tcp().set_options(now, fresh, options);
        options.linger = Duration::zero();  // abort, do not close gracefully
        stack_.tcp().set_options(now, old, options);
        stack_.tcp().close(now, old);
        return 0;
    });
    fresh->on_event = [this, raw = &entry] { on_stack_event(*raw); };
    entry.transport = fresh;
    entry.connection = SocketEntry::Connection::Unconnected;
    entry.shut_rd = entry.shut_wr = false;
    entry.notify();
}

// SO_LINGER with a time (inet_release -> tcp_close -> sk_stream_wait_close): close() blocks until
// everything sent has been acknowledged, FIN included, or the time is up. Done here by shutting
// the sending side first and waiting for the FIN's ACK; TcpLayer::close then finds a connection
// in FIN-WAIT-2 or TIME-WAIT (or already gone). With unread data, or a zero linger, there is
// nothing to wait for: the layer resets the connection.
void Runtime::tcp_linger(Lock& lock, SocketEntry& entry) {
    TcpSocket* s = entry.tcp();
    if (!entry.linger || *entry.linger == Duration::zero() || !s->rcv.buffer.empty()) return;
    if (s->state != TcpState::Established && s->state != TcpState::CloseWait) return;
    (void)call_layer([&](Instant now) { return stack_.tcp().shutdown(now, s, false, true); });
    wait(lock, entry, deadline_after(false, *entry.linger), [&] {
        TcpSocket* t = entry.tcp();
        if (t == nullptr || t->error) return true;
        // The state moves on (to FIN-WAIT-1 or LAST-ACK) only when the FIN is sent, which waits
        // behind any data the window does not yet let out.
        if (!t->snd.fin_sent) return false;
        switch (t->state) {
            case TcpState::FinWait1:
            case TcpState::Closing:
            case TcpState::LastAck: return false;  // our FIN is not acknowledged yet
            default: return true;
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Addresses

// inet_bind, after the length and family checks of Runtime::bind: an address not ours, then the
// layer's "already bound" and "in use".
int Runtime::tcp_bind(SocketEntry& entry, const sockaddr* addr, socklen_t len) {
    auto endpoint = read_address(addr, len);
    if (!endpoint) return fail(endpoint.error());
    if (!endpoint->address.is_unspecified() && endpoint->address != stack_.address()) return fail(EADDRNOTAVAIL);
    auto bound = stack_.tcp().bind(entry.tcp(), endpoint->address, endpoint->port);
    if (!bound) return fail(to_errno(bound.error()));
    return 0;
}

int Runtime::tcp_getsockname(SocketEntry& entry, sockaddr* addr, socklen_t* len) {
    const TcpSocket& s = *entry.tcp();
    return copy_address_out(make_sockaddr(s.local_address, s.local_port), addr, len);
}

// inet_getname(peer): ENOTCONN unless connected (a closed or still-connecting socket has no peer).
int Runtime::tcp_getpeername(SocketEntry& entry, sockaddr* addr, socklen_t* len) {
    const TcpSocket& s = *entry.tcp();
    if (s.remote_port == 0 || s.state == TcpState::Closed || s.state == TcpState::SynSent) return fail(ENOTCONN);
    return copy_address_out(make_sockaddr(s.remote_address, s.remote_port), addr, len);
}

// ---------------------------------------------------------------------------------------------
// Connections

// inet_stream_connect. The switch is on Linux's socket state, not the TCP state: a second
// connect while one is in progress says EALREADY (blocking, it waits for the result as the first
// would), the first connect after a non-blocking one has completed says 0, and after that EISCONN.
// A blocking connect waits until the handshake ends or SO_SNDTIMEO passes (then EINPROGRESS, the
// handshake going on). A failed connect reports the layer's error (ECONNREFUSED for a RST,
// ETIMEDOUT, EHOSTUNREACH when ARP gets no answer) and leaves the socket unconnected, ready to try
// again.
int Runtime::tcp_connect(Lock& lock, SocketEntry& entry, const sockaddr* addr, socklen_t len) {
    if (addr->sa_family == AF_UNSPEC) {
        tcp_disconnect(entry);
        return 0;
    }
    int error = 0;
    switch (entry.connection) {
        case SocketEntry::Connection::Connected: return fail(EISCONN);
        case SocketEntry::Connection::Connecting: error = EALREADY; break;
        case SocketEntry::Connection::Unconnected: {
            TcpSocket* s = entry.tcp();
            if (s->state != TcpState::Closed) return fail(EISCONN);  // a listener, as Linux
            // tcp_v4_connect
            if (static_cast<int>(len) < 0 || len < sizeof(sockaddr_in)) return fail(EINVAL);
            sockaddr_in sin;
            std::memcpy(&sin, addr, sizeof sin);
            if (sin.sin_family != AF_INET) return fail(EAFNOSUPPORT);
            const Ipv4Address to(ntohl(sin.sin_addr.s_addr));
            auto started = call_layer([&](Instant now) { return stack_.tcp().connect(now, s, to, ntohs(sin.sin_port)); });
            if (!started && started.error() != SocketError::InProgress) return fail(to_errno(started.error()));
            entry.connection = SocketEntry::Connection::Connecting;
            error = EINPROGRESS;
            break;
        }
    }
    if (handshaking(entry.tcp())) {
        const auto deadline = deadline_after(entry.nonblocking, entry.sndtimeo);
        const bool done = wait(lock, entry, deadline, [&] { return entry.closed || !handshaking(entry.tcp()); });
        if (entry.closed) return fail(EBADF);
        if (!done) return fail(error);
    }
    TcpSocket* s = entry.tcp();
    if (s->state == TcpState::Closed) {
        // sock_error, or ECONNABORTED if SO_ERROR has collected it already; then disconnect.
        const int reason = s->error ? to_errno(*std::exchange(s->error, std::nullopt)) : ECONNABORTED;
        entry.connection = SocketEntry::Connection::Unconnected;
        return fail(reason);
    }
    entry.connection = SocketEntry::Connection::Connected;
    return 0;
}

// inet_listen: only an unconnected or listening socket (EINVAL otherwise); the layer binds an
// ephemeral port if none was bound, and clamps the backlog as Linux does. The buffer sizes set so
// far are the listener's, and every accepted connection inherits them.
int Runtime::tcp_listen(SocketEntry& entry, int backlog) {
    TcpSocket* s = entry.tcp();
    if (entry.connection != SocketEntry::Connection::Unconnected) return fail(EINVAL);
    auto listening = stack_.tcp().listen(s, backlog);
    if (!listening) return fail(to_errno(listening.error()));
    return 0;
}

// inet_accept + inet_csk_accept: EINVAL unless listening; waits (SO_RCVTIMEO bounds it, then
// EAGAIN) for an established connection. The new descriptor does not inherit O_NONBLOCK (accept4
// flags would set it), but, as sk_clone_lock copies the listener, it does inherit the timeouts,
// SO_LINGER and the TCP options. As Linux, a connection reset while it waited in the queue is
// still handed out; its first recv says ECONNRESET.
int Runtime::tcp_accept(Lock& lock, SocketEntry& entry, sockaddr* addr, socklen_t* len) {
    if (entry.tcp()->state != TcpState::Listen) return fail(EINVAL);
    // Checked before taking a connection, so a bad buffer does not lose one (Linux would drop it).
    if (addr != nullptr && len == nullptr) return fail(EFAULT);
    if (addr != nullptr && static_cast<int>(*len) < 0) return fail(EINVAL);

    const auto deadline = deadline_after(entry.nonblocking, entry.rcvtimeo);
    wait(lock, entry, deadline, [&] {
        return entry.closed || entry.tcp()->state != TcpState::Listen || !entry.tcp()->queues.accept_queue.empty();
    });
    if (entry.closed) return fail(EBADF);
    TcpSocket* listener = entry.tcp();
    if (listener->state != TcpState::Listen) return fail(EINVAL);  // shut down meanwhile
    if (listener->queues.accept_queue.empty()) return fail(EAGAIN);

    // The descriptor first (EMFILE leaves the connection queued), then the connection.
    const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return -1;
    auto child = stack_.tcp().accept(listener);
    if (!child) {
        ::close(fd);
        return fail(to_errno(child.error()));
    }
    auto accepted = std::make_shared<SocketEntry>();
    accepted->fd = fd;
    accepted->type = SOCK_STREAM;
    accepted->connection = SocketEntry::Connection::Connected;
    accepted->rcvtimeo = entry.rcvtimeo;
    accepted->sndtimeo = entry.sndtimeo;
    accepted->linger = entry.linger;
    accepted->broadcast = entry.broadcast;
    TcpSocket* s = *child;  // it inherited the listener's options, SO_LINGER included
    s->on_event = [this, raw = accepted.get()] { on_stack_event(*raw); };
    accepted->transport = s;
    add_entry_locked(accepted);
    if (addr != nullptr) copy_address_out(make_sockaddr(s->remote_address, s->remote_port), addr, len);
    return fd;
}

// ---------------------------------------------------------------------------------------------
// Data

// tcp_sendmsg: waits for the handshake (sk_stream_wait_connect), then copies into the send buffer
// as space opens (sk_stream_wait_memory) until everything is queued. A non-blocking socket or
// MSG_DONTWAIT copies what fits: a partial count, or EAGAIN if nothing fit; SO_SNDTIMEO bounds
// the waits the same way. An error after some bytes were queued returns the count and leaves the
// error for the next call. Linux's errno choices: EPIPE on a socket that is not connected (or is
// listening) and after shutdown(SHUT_WR); a pending error (ECONNRESET, ETIMEDOUT) first.
// MSG_OOB (urgent data) is not supported: EOPNOTSUPP. MSG_NOSIGNAL and MSG_MORE are accepted.
ssize_t Runtime::tcp_send(Lock& lock, SocketEntry& entry, const void* buf, std::size_t len, int flags) {
    if (flags & MSG_OOB) return fail(EOPNOTSUPP);
    if (buf == nullptr && len > 0) return fail(EFAULT);
    const auto* bytes = static_cast<const std::uint8_t*>(buf);
    const auto deadline = deadline_after(entry.nonblocking || (flags & MSG_DONTWAIT), entry.sndtimeo);
    std::size_t copied = 0;
    for (;;) {
        TcpSocket* s = entry.tcp();
        if (copied > 0 && s->error) return static_cast<ssize_t>(copied);  // the error is for the next call
        auto sent = call_layer([&](Instant now) { return stack_.tcp().send(now, s, Bytes{bytes + copied, len - copied}); });
        if (sent) {
            copied += *sent;
            if (copied == len) return static_cast<ssize_t>(len);
            if (*sent > 0) continue;  // the next try finds the buffer full, and waits
        } else if (sent.error() != SocketError::WouldBlock) {
            if (copied > 0) return static_cast<ssize_t>(copied);
            // sk_stream_wait_connect: EPIPE for a socket that was never connected, as Linux.
            return fail(sent.error() == SocketError::NotConnected ? EPIPE : to_errno(sent.error()));
        }
        const bool ready = wait(lock, entry, deadline, [&] {
            if (entry.closed) return true;
            const TcpSocket* t = entry.tcp();
            return handshaking(t) ? t->error.has_value() : stack_.tcp().writable(t) || t->state == TcpState::Closed ||
                                                               t->snd.fin_queued;
        });
        if (entry.closed) return copied > 0 ? static_cast<ssize_t>(copied) : fail(EBADF);
        if (!ready) return copied > 0 ? static_cast<ssize_t>(copied) : fail(EAGAIN);
    }
}

// tcp_recvmsg: what is there (at least one byte: waits for it), or with MSG_WAITALL all `len`
// bytes unless the stream ends, an error comes or the wait times out. 0 at the end of the stream
// (after the peer's FIN, or our SHUT_RD); a reset says ECONNRESET once, then 0, as Linux. ENOTCONN
// on a listening or never-connected socket. MSG_PEEK copies without consuming (it does not wait
// for MSG_WAITALL's full length). MSG_OOB: EINVAL (no urgent data is ever kept).
ssize_t Runtime::tcp_recv(Lock& lock, SocketEntry& entry, void* buf, std::size_t len, int flags) {
    if (flags & MSG_OOB) return fail(EINVAL);
    if (buf == nullptr && len > 0) return fail(EFAULT);
    if (entry.tcp()->state == TcpState::Listen) return fail(ENOTCONN);
    if (len == 0) return 0;
    auto* bytes = static_cast<std::uint8_t*>(buf);
    const bool peek = (flags & MSG_PEEK) != 0;
    const std::size_t target = (flags & MSG_WAITALL) && !peek ? len : 1;
    const auto deadline = deadline_after(entry.nonblocking || (flags & MSG_DONTWAIT), entry.rcvtimeo);
    std::size_t copied = 0;
    for (;;) {
        TcpSocket* s = entry.tcp();
        if (copied == 0 || !s->rcv.buffer.empty()) {
            auto got = call_layer(
                [&](Instant now) { return stack_.tcp().recv(now, s, MutableBytes{bytes + copied, len - copied}, peek); });
            if (got) {
                if (*got == 0) return static_cast<ssize_t>(copied);  // end of stream
                copied += *got;
                if (copied >= target) return static_cast<ssize_t>(copied);
                continue;
            }
            if (got.error() != SocketError::WouldBlock) return fail(to_errno(got.error()));
        } else if (stack_.tcp().readable(s)) {
            return static_cast<ssize_t>(copied);  // end of stream or an error: for the next call
        }
        const bool ready = wait(lock, entry, deadline, [&] {
            return entry.closed || entry.tcp()->state == TcpState::Listen || stack_.tcp().readable(entry.tcp());
        });
        if (entry.closed) return copied > 0 ? static_cast<ssize_t>(copied) : fail(EBADF);
        if (entry.tcp()->state == TcpState::Listen) return copied > 0 ? static_cast<ssize_t>(copied) : fail(ENOTCONN);
        if (!ready) return copied > 0 ? static_cast<ssize_t>(copied) : fail(EAGAIN);
    }
}

// inet_shutdown for a stream socket. A connection shuts the directions asked (SHUT_WR sends our
// FIN after the queued data). On a listener, SHUT_RD or SHUT_RDWR stops listening (blocked accept
// calls return EINVAL), and on a connect in progress any `how` abandons it: both by disconnecting
// (tcp_disconnect above), as Linux does. An unconnected socket says ENOTCONN (its flags set all
// the same, so blocked callers wake).
int Runtime::tcp_shutdown(SocketEntry& entry, int how) {
    TcpSocket* s = entry.tcp();
    const bool read = how == SHUT_RD || how == SHUT_RDWR;
    const bool write = how == SHUT_WR || how == SHUT_RDWR;
    if (entry.connection == SocketEntry::Connection::Connecting) {
        entry.connection = handshaking(s) || s->state == TcpState::Closed ? SocketEntry::Connection::Unconnected
                                                                          : SocketEntry::Connection::Connected;
    }
    switch (s->state) {
        case TcpState::Listen:
            if (read) tcp_disconnect(entry);
            return 0;
        case TcpState::SynSent:
            tcp_disconnect(entry);
            return 0;
        case TcpState::Closed:
            entry.shut_rd = entry.shut_rd || read;
            entry.shut_wr = entry.shut_wr || write;
            entry.notify();
            return fail(ENOTCONN);
        default: break;
    }
    entry.shut_rd = entry.shut_rd || read;
    entry.shut_wr = entry.shut_wr || write;
    auto done = call_layer([&](Instant now) { return stack_.tcp().shutdown(now, s, read, write); });
    entry.notify();
    if (!done) return fail(to_errno(done.error()));
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Options: SOL_SOCKET (sk_setsockopt) and IPPROTO_TCP (do_tcp_setsockopt)

// SO_RCVBUF / SO_SNDBUF follow Linux's arithmetic (capped at rmem_max / wmem_max, doubled, at
// least the minimum) and getsockopt reports the doubled figure. The doubling is Linux's allowance
// for its own bookkeeping: the bytes of payload a buffer holds are half of it, the value the
// application asked for, and that is the limit given to the layer (TcpUserOptions). Sizes set
// before connect() or listen() apply (accepted connections inherit the listener's); on a live
// connection the send limit follows and the receive limit only grows (TcpLayer::set_options).
// TCP_MAXSEG before connect() caps our MSS (TcpUserOptions::user_mss). TCP_CONGESTION takes an
// algorithm's name ("reno"; ENOENT for one we do not have).
int Runtime::tcp_setsockopt(SocketEntry& entry, int level, int name, const void* value, socklen_t len) {
    TcpSocket* s = entry.tcp();
    // Options change only through the layer, which applies what follows from them.
    TcpUserOptions options = stack_.tcp().options(s);
    auto apply = [&] {
        return call_layer([&](Instant now) {
            stack_.tcp().set_options(now, s, options);
            return 0;
        });
    };
    if (level == SOL_SOCKET) {
        switch (name) {
            case SO_RCVTIMEO: return read_timeout(value, len, entry.rcvtimeo);
            case SO_SNDTIMEO: return read_timeout(value, len, entry.sndtimeo);
            case SO_LINGER: {
                if (read_linger(value, len, entry.linger) < 0) return -1;
                options.linger = entry.linger;
                return apply();
            }
            default: break;
        }
        auto v = read_int(value, len);
        if (!v) return fail(v.error());
        switch (name) {
            case SO_REUSEADDR: options.reuse_address = *v != 0; return apply();
            case SO_BROADCAST: entry.broadcast = *v != 0; return 0;
            case SO_KEEPALIVE: options.keepalive = *v != 0; return apply();
            case SO_RCVBUF:  // a size the application chose: no auto-tuning (as Linux)
                options.rcvbuf = static_cast<std::size_t>(buffer_size(*v, kRmemMax, kMinRcvbuf) / 2);
                options.rcvbuf_locked = true;
                return apply();
            case SO_SNDBUF:  // likewise: the send buffer keeps this size
                options.sndbuf = static_cast<std::size_t>(buffer_size(*v, kWmemMax, kMinSndbuf) / 2);
                options.sndbuf_locked = true;
                return apply();
            default: return fail(ENOPROTOOPT);  // including the read-only SO_TYPE, SO_ERROR, SO_ACCEPTCONN
        }
    }
    if (level != IPPROTO_TCP) return fail(ENOPROTOOPT);  // no IP-level options yet
    if (name == TCP_CONGESTION) {
        // A name, as Linux takes it: up to TCP_CA_NAME_MAX bytes, NUL-terminated or not.
        if (value == nullptr) return fail(EFAULT);
        std::string_view text(static_cast<const char*>(value), std::min<std::size_t>(len, kCongestionNameMax));
        text = text.substr(0, text.find('\0'));
        auto algorithm = congestion_from_name(text);
        if (!algorithm) return fail(ENOENT);  // Linux: no such algorithm loaded
        options.congestion = *algorithm;
        return apply();
    }
    auto v = read_int(value, len);
    if (!v) return fail(v.error());
    switch (name) {
        case TCP_NODELAY: options.nodelay = *v != 0; return apply();  // what Nagle held back goes now
        case TCP_MAXSEG:
            if (*v != 0 && (*v < kTcpMinMss || *v > kMaxTcpWindow)) return fail(EINVAL);
            options.user_mss = static_cast<std::uint16_t>(*v);
            return apply();
        case TCP_KEEPIDLE:
            if (*v < 1 || *v > kMaxTcpKeepIdle) return fail(EINVAL);
            options.keepalive_idle = Duration::seconds(*v);
            return apply();
        case TCP_KEEPINTVL:
            if (*v < 1 || *v > kMaxTcpKeepIntvl) return fail(EINVAL);
            options.keepalive_interval = Duration::seconds(*v);
            return apply();
        case TCP_KEEPCNT:
            if (*v < 1 || *v > kMaxTcpKeepCnt) return fail(EINVAL);
            options.keepalive_count = static_cast<std::uint32_t>(*v);
            return apply();
        default: return fail(ENOPROTOOPT);  // including the read-only TCP_INFO
    }
}

// TCP_INFO fills the system's struct tcp_info (<netinet/tcp.h>) from TcpLayer::info(), in Linux's
// units (tcp_get_info):
//   tcpi_state          the TCP state in Linux's numbering (TCP_ESTABLISHED = 1, ... TCP_CLOSING)
//   tcpi_retransmits    consecutive RTO expiries without progress (TcpTimers::retransmits)
//   tcpi_options        TCPI_OPT_WSCALE when both sides scale windows, TCPI_OPT_SACK and
//                       TCPI_OPT_TIMESTAMPS when those were negotiated (RFC 2018, RFC 7323)
//   tcpi_snd_wscale, tcpi_rcv_wscale   the shifts, when scaling is on
//   tcpi_rto, tcpi_ato  the retransmission timeout and the delayed-ACK timeout, microseconds
//   tcpi_snd_mss, tcpi_rcv_mss, tcpi_advmss   the connection's MSS (we keep one for both ways)
//   tcpi_pmtu           MSS + 40 (the IPv4 and TCP headers without options)
//   tcpi_unacked        segments in flight: bytes in flight / MSS, rounded up (Linux: packets_out)
//   tcpi_rtt, tcpi_rttvar   smoothed RTT and its variation (RFC 6298), microseconds
//   tcpi_snd_cwnd       the congestion window in segments (bytes / MSS), as Linux counts it
//   tcpi_snd_ssthresh   in segments; 0x7fffffff (TCP_INFINITE_SSTHRESH) until the first loss
//   tcpi_rcv_ssthresh   the receive window we last advertised, bytes
//   tcpi_total_retrans  segments retransmitted over the connection's life
//   tcpi_lost, tcpi_sacked, tcpi_retrans   with SACK: segments marked lost, SACKed, and retransmitted
//                       and still in flight, from the scoreboard (Linux's lost_out, sacked_out, retrans_out)
//   tcpi_reordering     the reordering degree in segments, 3 until RACK sees more (tp->reordering)
// Fields we do not track (ca_state, probes, backoff, fackets, the last_* times, rcv_rtt,
// rcv_space) are 0. A shorter buffer gets the first bytes, as Linux.
int Runtime::tcp_getsockopt(SocketEntry& entry, int level, int name, void* value, socklen_t* len) {
    if (level != SOL_SOCKET && level != IPPROTO_TCP) return fail(ENOPROTOOPT);
    if (len == nullptr) return fail(EFAULT);
    if (static_cast<int>(*len) < 0) return fail(EINVAL);
    TcpSocket* s = entry.tcp();
    int v = 0;
    timeval tv{};
    linger lg{};
    tcp_info ti{};
    const void* src = &v;
    socklen_t size = sizeof v;
    if (level == SOL_SOCKET) {
        switch (name) {
            case SO_REUSEADDR: v = s->opts.reuse_address; break;
            case SO_BROADCAST: v = entry.broadcast; break;
            case SO_KEEPALIVE: v = s->opts.keepalive; break;
            case SO_RCVBUF: v = static_cast<int>(std::min<std::size_t>(s->opts.rcvbuf * 2, INT_MAX)); break;
            case SO_SNDBUF: v = static_cast<int>(std::min<std::size_t>(s->opts.sndbuf * 2, INT_MAX)); break;
            case SO_TYPE: v = entry.type; break;
            case SO_ACCEPTCONN: v = s->state == TcpState::Listen; break;
            case SO_ERROR:  // returns and clears the pending error (sock_error)
                v = s->error ? to_errno(*std::exchange(s->error, std::nullopt)) : 0;
                break;
            case SO_RCVTIMEO: tv = timeout_value(entry.rcvtimeo); src = &tv; size = sizeof tv; break;
            case SO_SNDTIMEO: tv = timeout_value(entry.sndtimeo); src = &tv; size = sizeof tv; break;
            case SO_LINGER: lg = linger_value(entry.linger); src = &lg; size = sizeof lg; break;
            default: return fail(ENOPROTOOPT);
        }
        return copy_option_out(src, size, value, len);
    }
    char congestion[kCongestionNameMax] = {};
    switch (name) {
        case TCP_NODELAY: v = s->opts.nodelay; break;
        case TCP_MAXSEG:
            // tp->mss_cache, or the user's value while not connected (536 until then, as Linux).
            v = s->opts.user_mss != 0 && (s->state == TcpState::Closed || s->state == TcpState::Listen) ? s->opts.user_mss
                                                                                                      : s->mss;
            break;
        case TCP_KEEPIDLE: v = static_cast<int>(seconds_of(s->opts.keepalive_idle)); break;
        case TCP_KEEPINTVL: v = static_cast<int>(seconds_of(s->opts.keepalive_interval)); break;
        case TCP_KEEPCNT: v = static_cast<int>(s->opts.keepalive_count); break;
        case TCP_CONGESTION: {
            const std::string_view n = congestion_name(stack_.tcp().info(s).congestion);
            std::copy(n.begin(), n.end(), congestion);
            src = congestion;
            size = sizeof congestion;
            break;
        }
        case TCP_INFO: {
            const TcpInfo info = stack_.tcp().info(s);
            const std::uint32_t mss = std::max<std::uint32_t>(info.mss, 1);
            ti.tcpi_state = linux_state(info.state);
            ti.tcpi_retransmits = static_cast<std::uint8_t>(std::min<std::uint32_t>(s->timers.retransmits, 255));
            if (info.sack) ti.tcpi_options |= TCPI_OPT_SACK;
            if (info.timestamps) ti.tcpi_options |= TCPI_OPT_TIMESTAMPS;
            if (s->wscale_ok) {
                ti.tcpi_options |= TCPI_OPT_WSCALE;
                ti.tcpi_snd_wscale = info.snd_wscale & 0xf;
                ti.tcpi_rcv_wscale = info.rcv_wscale & 0xf;
            }
            ti.tcpi_rto = static_cast<std::uint32_t>(info.rto.total_micros());
            ti.tcpi_ato = static_cast<std::uint32_t>(stack_.config().tcp_delayed_ack.total_micros());
            ti.tcpi_snd_mss = info.mss;
            ti.tcpi_rcv_mss = info.mss;
            ti.tcpi_advmss = info.mss;
            ti.tcpi_pmtu = info.mss + 40;
            ti.tcpi_unacked = (info.bytes_in_flight + mss - 1) / mss;
            ti.tcpi_rtt = static_cast<std::uint32_t>(info.srtt.total_micros());
            ti.tcpi_rttvar = static_cast<std::uint32_t>(info.rttvar.total_micros());
            ti.tcpi_snd_cwnd = info.cwnd / mss;
            ti.tcpi_snd_ssthresh = info.ssthresh >= kInfiniteSsthresh ? kInfiniteSsthresh : info.ssthresh / mss;
            ti.tcpi_rcv_ssthresh = info.rcv_wnd;
            ti.tcpi_total_retrans = info.retransmits;
            ti.tcpi_lost = info.lost;
            ti.tcpi_sacked = info.sacked;
            ti.tcpi_retrans = info.retrans;
            ti.tcpi_reordering = info.reordering;
            src = &ti;
            size = sizeof ti;
            break;
        }
        default: return fail(ENOPROTOOPT);
    }
    return copy_option_out(src, size, value, len);
}

// ---------------------------------------------------------------------------------------------
// poll

// tcp_poll, from the layer's readiness (readable / writable / hung_up / peer_closed) and error:
//   listener          POLLIN when a connection waits for accept()
//   POLLHUP           both directions shut (ours by shutdown or close, the peer's by FIN), or the
//                     socket is closed: also a fresh, never-connected socket, as Linux says
//   POLLIN|POLLRDHUP  the receiving side is shut: the peer's FIN, our SHUT_RD, or a reset
//   POLLIN            data, end of stream, or an error to collect (not during the handshake)
//   POLLOUT           send buffer space; also after SHUT_WR and on a closed socket, where send
//                     fails at once rather than blocking (not during the handshake)
//   POLLERR           a pending error (SO_ERROR reads it)
// POLLERR and POLLHUP are reported whether asked for or not.
short Runtime::tcp_events(SocketEntry& entry, short requested) {
    const TcpSocket* s = entry.tcp();
    const TcpLayer& tcp = stack_.tcp();
    int mask = 0;
    if (s->state == TcpState::Listen) {
        if (tcp.readable(s)) mask |= POLLIN | POLLRDNORM;
    } else {
        const bool over = finished(entry, s);
        const bool rcv_shut = entry.shut_rd || s->rcv.shut_rd || tcp.peer_closed(s) || over;
        const bool snd_shut = entry.shut_wr || s->snd.fin_queued || over;
        if ((rcv_shut && snd_shut) || s->state == TcpState::Closed || tcp.hung_up(s)) mask |= POLLHUP;
        if (rcv_shut) mask |= POLLIN | POLLRDNORM | POLLRDHUP;
        if (!handshaking(s)) {
            // (A socket back to unconnected after a failed connect() is closed but has nothing to read.)
            if (tcp.readable(s) && (s->state != TcpState::Closed || over || s->error)) mask |= POLLIN | POLLRDNORM;
            if (snd_shut || s->state == TcpState::Closed || tcp.writable(s)) mask |= POLLOUT | POLLWRNORM;
        }
        if (s->error) mask |= POLLERR;
    }
    return static_cast<short>(mask & (requested | POLLERR | POLLHUP));
}

}  // namespace tcpip
