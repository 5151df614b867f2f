// The TCP layer: sockets, the connection table, opening and closing, timers. Segment arrival is
// in input.cpp, sending in output.cpp.
#include "stack/tcp/tcp.h"

#include <algorithm>

#include "stack/core/trace.h"

namespace tcpip {

std::size_t TcpLayer::TupleHash::operator()(const Tuple& t) const {
    std::uint64_t a = (std::uint64_t{std::get<0>(t)} << 16) | std::get<1>(t);
    std::uint64_t b = (std::uint64_t{std::get<2>(t)} << 16) | std::get<3>(t);
    return static_cast<std::size_t>(mix64(a ^ mix64(b)));
}

TcpLayer::TcpLayer(Ipv4Layer& ip, TimerQueue& timers, PacketPool& pool, const StackConfig& config, TcpStats& stats,
                   std::uint64_t seed)
    : ip_(ip), timers_(timers), pool_(pool), config_(config), stats_(stats), random_(seed ^ 0x7c9),
      buffer_cache_(config.tcp_buffer_cache) {
    isn_key_ = SipKey{random_.next(), random_.next()};
    cookie_key_ = SipKey{random_.next(), random_.next()};
    ip_.register_protocol(IpProtocol::Tcp, this);
}

TcpLayer::~TcpLayer() {
    ip_.register_protocol(IpProtocol::Tcp, nullptr);
    for (auto& [raw, s] : sockets_) {
        if (s->wakeup) timers_.cancel(s->wakeup->first);
    }
}

// ---- Sockets ---------------------------------------------------------------------------------

TcpSocket* TcpLayer::open() {
    auto s = std::make_unique<TcpSocket>(config_.tcp_min_rto, config_.tcp_max_rto);
    s->opts.rcvbuf = config_.tcp_rcvbuf;
    s->opts.sndbuf = config_.tcp_sndbuf;
    s->opts.keepalive_idle = config_.tcp_keepalive_idle;
    s->opts.keepalive_interval = config_.tcp_keepalive_interval;
    s->opts.keepalive_count = config_.tcp_keepalive_probes;
    s->snd.buffer.use_cache(&buffer_cache_);
    s->rcv.buffer.use_cache(&buffer_cache_);
    if (config_.tcp_log_entries > 0) s->log = std::make_unique<TcpLog>(++log_ids_, config_.tcp_log_entries);
    TcpSocket* raw = s.get();
    sockets_.emplace(raw, std::move(s));
    return raw;
}

void TcpLayer::set_options(Instant now, TcpSocket* s, const TcpUserOptions& options) {
    Pass pass(*this);
    const TcpUserOptions old = std::exchange(s->opts, options);
    // Buffer sizes: before the connection is set up only the limits change (set_up_connection
    // applies them). On a live connection, as Linux, the send limit follows at once (never below
    // what is queued), and the receive limit never shrinks below what was advertised.
    if (s->state != TcpState::Closed && s->state != TcpState::Listen) {
        if (options.sndbuf != old.sndbuf) s->snd.buffer.set_capacity(std::max(options.sndbuf, s->snd.buffer.size()));
        if (options.rcvbuf > old.rcvbuf) s->rcv.buffer.set_capacity(options.rcvbuf);
    }
    if (options.keepalive != old.keepalive || options.keepalive_idle != old.keepalive_idle) keepalive_changed(now, s);
    if (options.congestion != old.congestion && s->snd.cc) {
        // Switched on a live connection (Linux allows it): the new algorithm starts from its own
        // initial window, as after Linux's tcp_reinit_congestion_control.
        s->snd.cc = make_congestion(s);
    }
    if (options.nodelay && !old.nodelay && is_synchronized(s->state)) output(now, s);
}

std::unique_ptr<CongestionControl> TcpLayer::make_congestion(const TcpSocket* s) const {
    auto cc = make_congestion_control(s->opts.congestion.value_or(config_.tcp_congestion), s->mss);
    if (s->snd.rtt.has_sample()) cc->on_rtt(s->snd.rtt.srtt(), s->snd.rtt.srtt());  // an algorithm switched on a live connection
    return cc;
}

std::string TcpLayer::check_invariants() const {
    std::size_t time_wait = 0, orphans = 0;
    for (const auto& [raw, owned] : sockets_) {
        const TcpSocket& s = *owned;
        auto broken = [&](const char* what) {
            return std::string(what) + " (" + to_string(s.state) + ", port " + std::to_string(s.local_port) + ")";
        };
        if (s.gone) return broken("a gone socket is still in the table");
        if (s.log && s.log->size() > s.log->capacity()) return broken("event log beyond its bound");
        if (s.state == TcpState::TimeWait) ++time_wait;
        if (s.counted_orphan) {
            ++orphans;
            if (!s.user_closed || s.state == TcpState::TimeWait) return broken("counted as an orphan, but is not one");
        }
        if (s.state == TcpState::Listen) {
            if (s.queues.accept_queue.size() > s.queues.backlog) return broken("accept queue beyond the backlog");
            if (s.queues.syn_queue > config_.tcp_max_syn_backlog) return broken("SYN queue beyond its bound");
            continue;
        }
        if (s.rcv.buffer.size() > s.rcv.buffer.capacity()) return broken("receive buffer beyond its capacity");
        if (s.rcv.buffer.capacity() > std::max(s.opts.rcvbuf, config_.tcp_rmem_max)) return broken("receive buffer auto-tuned beyond tcp_rmem_max");
        if (s.snd.buffer.size() > s.snd.buffer.capacity()) return broken("send buffer beyond its capacity");
        if (s.rcv.buffer.allocated() > s.rcv.buffer.capacity() || s.snd.buffer.allocated() > s.snd.buffer.capacity()) {
            return broken("buffer storage beyond its capacity");
        }
        for (const auto& range : s.rcv.assembler.ranges()) {
            if (range.start >= range.end || range.end > s.rcv.buffer.free()) return broken("out-of-order data outside the window");
        }
        if (s.rcv.sack_recent_count > TcpOptions::kMaxSackBlocks) return broken("more SACK blocks remembered than fit");
        if (!s.ecn.ok && (s.ecn.echo || s.ecn.send_cwr)) return broken("ECN echo or CWR on a connection without ECN");
        if (s.ecn.requested && s.state != TcpState::SynSent && s.state != TcpState::Closed) return broken("ECN still requested after the handshake");
        if (s.mss > s.mss_limit) return broken("MSS beyond what the handshake allowed");
        // Pacing (pacing.cpp): no clock when it is off; an armed pacing timer is the clock's time.
        if (!config_.tcp_pacing && (s.pace.next_ns != 0 || s.timers.pacing)) return broken("pacing state with pacing off");
        if (s.timers.pacing && s.timers.pacing->total_micros() != (s.pace.next_ns + 999) / 1000) {
            return broken("pacing timer not at the pacing clock's time");
        }
        if (s.pace.segments_out > 10) return broken("pacing's unpaced-segment count beyond 10");
        if (s.state == TcpState::Closed) continue;
        if (s.sack_ok && is_synchronized(s.state) && s.state != TcpState::TimeWait) {
            // The scoreboard (scoreboard.h) covers [SND.UNA, at most SND.MAX), its marks agree
            // with its counters, and what it counts in flight is no more than was sent.
            const Scoreboard& sb = s.rec.scoreboard;
            if (std::string why = sb.check(); !why.empty()) return broken(why.c_str());
            if (sb.begin() != s.snd.una) return broken("scoreboard does not start at SND.UNA");
            if (sb.end() > s.snd.max) return broken("scoreboard beyond SND.MAX");
            if (sb.sacked_bytes() + sb.lost_bytes() > sb.flight()) return broken("scoreboard counts more SACKed and lost than in flight");
            if (sb.retransmitted_bytes() > sb.flight()) return broken("scoreboard counts more retransmitted than in flight");
            if (s.rec.tlp_end && *s.rec.tlp_end > s.snd.max) return broken("tail loss probe beyond SND.MAX");
            if (s.rec.frto != 0 && !s.rec.rto_high) return broken("F-RTO on outside an RTO recovery");
        }
        if (s.sack_ok && s.rec.reno_sacked != 0) return broken("duplicate ACKs counted as delivered with SACK on");
        if (s.rec.reno_sacked > s.snd.in_flight()) return broken("duplicate ACKs count more than is in flight");
        if (!s.sack_ok && (!s.rec.scoreboard.empty() || s.rcv.sack_recent_count != 0 || s.rcv.dsack)) {
            return broken("SACK state on a connection without SACK");
        }
        if (!(s.snd.una <= s.snd.nxt && s.snd.nxt <= s.snd.max)) return broken("not SND.UNA <= SND.NXT <= SND.MAX");
        // (SND.UNA and RCV.NXT are not compared with ISS and IRS: after 2^31 bytes sequence
        // numbers wrap, and modular comparison would call a long connection broken.)
        if (s.rcv.adv < s.rcv.nxt && s.rcv.wnd != 0) return broken("advertised edge left of RCV.NXT");
        // Unacknowledged bytes are in the send buffer: SND.MAX - SND.UNA counts them, plus the SYN
        // while unacknowledged, plus the FIN once sent, plus a zero-window probe byte at most.
        const std::uint32_t flight = s.snd.in_flight();
        if (flight > s.snd.buffer.size() + 3) return broken("more in flight than the send buffer holds");
        if (find_connection(s.local_address, s.local_port, s.remote_address, s.remote_port) != &s) {
            return broken("a connection missing from the 4-tuple table");
        }
    }
    if (time_wait != time_wait_count_) return "TIME-WAIT count is " + std::to_string(time_wait_count_) + ", not " + std::to_string(time_wait);
    if (orphans != orphan_count_) return "orphan count is " + std::to_string(orphan_count_) + ", not " + std::to_string(orphans);
    for (const auto& [tuple, s] : connections_) {
        if (!sockets_.contains(s)) return "the 4-tuple table names a socket the layer does not own";
    }
    for (const auto& [raw, s] : sockets_) {
        if (s->wakeup && s->gone) return "a timer for a socket the layer destroyed";
    }
    return {};
}

std::size_t TcpLayer::buffer_bytes() const {
    std::size_t bytes = 0;
    for (const auto& [raw, s] : sockets_) bytes += s->snd.buffer.allocated() + s->rcv.buffer.allocated();
    return bytes;
}

bool TcpLayer::port_in_use(const TcpSocket* s, Ipv4Address address, std::uint16_t port) const {
    auto it = bound_.find(port);
    if (it == bound_.end()) return false;
    for (const TcpSocket* other : it->second) {
        if (other == s) continue;
        bool overlap = address.is_unspecified() || other->local_address.is_unspecified() ||
                       address == other->local_address;
        if (!overlap) continue;
        // SO_REUSEADDR on both lets a socket bind next to connections still on the port (for a
        // server restarting while old connections sit in TIME-WAIT), but never next to a listener.
        if (s && s->opts.reuse_address && other->opts.reuse_address && other->state != TcpState::Listen) continue;
        return true;
    }
    return false;
}

Result<void, SocketError> TcpLayer::bind(TcpSocket* s, Ipv4Address address, std::uint16_t port) {
    if (s->local_port != 0) return Unexpected(SocketError::InvalidArgument);
    if (!address.is_unspecified() && address != ip_.address()) return Unexpected(SocketError::AddressNotAvailable);
    if (port == 0) {
        auto picked = pick_ephemeral_port(Ipv4Address::any(), 0);
        if (!picked) return Unexpected(picked.error());
        port = *picked;
    } else if (port_in_use(s, address, port)) {
        return Unexpected(SocketError::AddressInUse);
    }
    s->local_address = address;
    s->local_port = port;
    bound_[port].push_back(s);
    return {};
}

Result<std::uint16_t, SocketError> TcpLayer::pick_ephemeral_port(Ipv4Address, std::uint16_t) {
    // RFC 6056 algorithm 1: a random starting point, then the first free port.
    // The range is StackConfig's (the IANA dynamic ports unless a shard was given a slice).
    const std::uint16_t first = config_.ephemeral_port_first;
    const std::uint32_t range = static_cast<std::uint32_t>(config_.ephemeral_port_last - first) + 1;
    const std::uint32_t start = random_.below(range);
    for (std::uint32_t i = 0; i < range; ++i) {
        auto port = static_cast<std::uint16_t>(first + (start + i) % range);
        if (!bound_.contains(port)) return port;
    }
    return Unexpected(SocketError::AddressNotAvailable);
}

Result<void, SocketError> TcpLayer::listen(TcpSocket* s, int backlog) {
    if (s->state != TcpState::Closed && s->state != TcpState::Listen) return Unexpected(SocketError::InvalidArgument);
    if (s->local_port == 0) {
        if (auto bound = bind(s, Ipv4Address::any(), 0); !bound) return bound;
    } else if (s->state != TcpState::Listen) {
        // Another socket may have bound next to us with SO_REUSEADDR; a listener must be alone.
        for (TcpSocket* other : bound_[s->local_port]) {
            if (other != s && other->state == TcpState::Listen) return Unexpected(SocketError::AddressInUse);
        }
    }
    // As Linux: the backlog is clamped to [1, somaxconn]; 0 still allows one connection.
    s->queues.backlog = static_cast<std::size_t>(std::clamp(backlog, 1, 4096));
    s->state = TcpState::Listen;
    return {};
}

Result<TcpSocket*, SocketError> TcpLayer::accept(TcpSocket* listener) {
    if (listener->state != TcpState::Listen) return Unexpected(SocketError::InvalidArgument);
    if (listener->queues.accept_queue.empty()) return Unexpected(SocketError::WouldBlock);
    TcpSocket* child = listener->queues.accept_queue.front();
    listener->queues.accept_queue.pop_front();
    child->listener = nullptr;
    return child;
}

Result<void, SocketError> TcpLayer::connect(Instant now, TcpSocket* s, Ipv4Address address, std::uint16_t port) {
    switch (s->state) {
        case TcpState::Closed: break;
        case TcpState::SynSent:
        case TcpState::SynReceived: return Unexpected(SocketError::AlreadyInProgress);
        case TcpState::Listen: return Unexpected(SocketError::InvalidArgument);
        default: return Unexpected(SocketError::AlreadyConnected);
    }
    if (s->error) {
        SocketError e = *s->error;
        s->error.reset();
        return Unexpected(e);
    }
    if (port == 0 || address.is_unspecified()) return Unexpected(SocketError::ConnectionRefused);
    if (address.is_broadcast() || address.is_multicast() || address == ip_.cidr().broadcast()) {
        return Unexpected(SocketError::NetworkUnreachable);  // Linux: ENETUNREACH for broadcast TCP
    }
    if (s->local_port == 0) {
        auto picked = pick_ephemeral_port(address, port);
        if (!picked) return Unexpected(picked.error());
        s->local_port = *picked;
        bound_[s->local_port].push_back(s);
    }
    if (find_connection(ip_.address(), s->local_port, address, port)) return Unexpected(SocketError::AddressNotAvailable);
    s->local_address = ip_.address();
    s->remote_address = address;
    s->remote_port = port;

    s->snd.iss = initial_sequence_number(now, s->local_address, s->local_port, address, port);
    s->snd.una = s->snd.iss;
    s->snd.nxt = s->snd.iss;
    s->snd.max = s->snd.iss;
    s->snd.sml = s->snd.iss;
    s->snd.cwnd_usage_seq = s->snd.iss;
    set_up_connection(s);
    s->ecn.requested = config_.tcp_ecn == 1;  // ask for ECN in our SYN (RFC 3168 6.1.1)
    register_connection(s);
    ++stats_.active_opens;
    enter_state(now, s, TcpState::SynSent);
    transmit(now, s, s->snd.iss, 0, TcpFlags::kSyn);
    s->snd.nxt = s->snd.iss + 1;
    s->snd.max = s->snd.nxt;
    s->timers.rto = now + s->snd.rtt.rto();
    arm_timer(s);
    return Unexpected(SocketError::InProgress);
}

std::uint16_t TcpLayer::our_mss() const {
    return static_cast<std::uint16_t>(ip_.max_unfragmented_payload() - TcpHeader::kMinHeaderLen);
}

// Buffer limits, RTT estimator and congestion control for a connection about to start, and the
// window scale we will offer: the smallest shift that lets the whole receive buffer be advertised.
// The buffers' storage comes later, with the data (ring_buffer.h).
void TcpLayer::set_up_connection(TcpSocket* s) {
    s->rcv.buffer.reset(s->opts.rcvbuf);
    s->snd.buffer.reset(s->opts.sndbuf);
    s->rcv.assembler.clear();
    s->rcv.autotune = ReceiveAutotune{};
    s->rcv.wscale = receive_wscale(s);
    s->mss = std::min<std::uint16_t>(our_mss(), 536);
    s->mss_limit = s->mss;
    s->pmtu_generation = 0;
    s->snd.rtt = RttEstimator(config_.tcp_min_rto, config_.tcp_max_rto);
    s->snd.cc = make_congestion(s);
    s->rec = LossRecovery{};
    s->rcv.sack_recent_count = 0;
    s->rcv.dsack.reset();
    s->sack_ok = s->ts_ok = false;
    s->ts = TimestampState{};
    s->ts.offset = static_cast<std::uint32_t>(random_.next());  // RFC 7323 5.4: a random clock start
    s->ecn = TcpEcn{};
    s->pace = TcpPacing{};
}

// The window scale we offer: it must let the largest window the buffer may ever offer be said:
// with auto-tuning, tcp_rmem_max's (Linux's tcp_select_initial_window does the same, hence its
// usual 7). A function of the socket's options alone, so a SYN cookie's ACK finds the same.
std::uint8_t TcpLayer::receive_wscale(const TcpSocket* s) const {
    const std::size_t largest = autotuned(s) ? std::max(s->opts.rcvbuf, config_.tcp_rmem_max) : s->opts.rcvbuf;
    std::uint8_t scale = 0;
    while (scale < 14 && (largest >> scale) > 65535) ++scale;
    return scale;
}

// Gives back buffer storage that holds nothing (an idle connection keeps none). Out-of-order data
// lives beyond the receive buffer's back, so the receive buffer is kept while there is any.
void TcpLayer::release_buffers(TcpSocket* s) {
    if (s->snd.buffer.empty()) s->snd.buffer.release();
    if (s->rcv.buffer.empty() && s->rcv.assembler.empty()) s->rcv.buffer.release();
}

SeqNum TcpLayer::initial_sequence_number(Instant now, Ipv4Address local, std::uint16_t lport, Ipv4Address remote,
                                         std::uint16_t rport) {
    // RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is a
    // timer ticking every 4 microseconds and F a keyed pseudorandom function (SipHash here).
    std::uint8_t tuple[12];
    local.copy_to(tuple);
    store_be16(tuple + 4, lport);
    remote.copy_to(tuple + 6);
    store_be16(tuple + 10, rport);
    const auto f = static_cast<std::uint32_t>(siphash24(isn_key_, tuple, sizeof tuple));
    const auto m = static_cast<std::uint32_t>(now.total_micros() / 4);
    return SeqNum(m + f);
}

void TcpLayer::register_connection(TcpSocket* s) {
    connections_[Tuple{s->local_address.to_u32(), s->local_port, s->remote_address.to_u32(), s->remote_port}] = s;
}

void TcpLayer::unregister_connection(TcpSocket* s) {
    auto it = connections_.find(Tuple{s->local_address.to_u32(), s->local_port, s->remote_address.to_u32(), s->remote_port});
    if (it != connections_.end() && it->second == s) connections_.erase(it);
}

TcpSocket* TcpLayer::find_connection(Ipv4Address local, std::uint16_t lport, Ipv4Address remote,
                                     std::uint16_t rport) const {
    auto it = connections_.find(Tuple{local.to_u32(), lport, remote.to_u32(), rport});
    return it == connections_.end() ? nullptr : it->second;
}

TcpSocket* TcpLayer::find_listener(Ipv4Address local, std::uint16_t lport) const {
    auto it = bound_.find(lport);
    if (it == bound_.end()) return nullptr;
    TcpSocket* wildcard = nullptr;
    for (TcpSocket* s : it->second) {
        if (s->state != TcpState::Listen) continue;
        if (s->local_address == local) return s;  // the specific address wins
        if (s->local_address.is_unspecified()) wildcard = s;
    }
    return wildcard;
}

// ---- Data ------------------------------------------------------------------------------------

Result<std::size_t, SocketError> TcpLayer::send(Instant now, TcpSocket* s, Bytes data) {
    Pass pass(*this);
    if (s->error) {
        SocketError e = *s->error;
        s->error.reset();
        return Unexpected(e);
    }
    switch (s->state) {
        case TcpState::Established:
        case TcpState::CloseWait: break;
        case TcpState::SynSent:
        case TcpState::SynReceived: return Unexpected(SocketError::WouldBlock);  // wait for the handshake
        case TcpState::Closed:
        case TcpState::Listen: return Unexpected(s->connect_reported ? SocketError::BrokenPipe : SocketError::NotConnected);
        default: return Unexpected(SocketError::BrokenPipe);  // after shutdown(SHUT_WR) or close
    }
    if (s->snd.fin_queued) return Unexpected(SocketError::BrokenPipe);
    if (data.empty()) return std::size_t{0};
    const std::size_t n = s->snd.buffer.write(data);
    if (n == 0) return Unexpected(SocketError::WouldBlock);
    output(now, s);
    return n;
}

Result<std::size_t, SocketError> TcpLayer::recv(Instant now, TcpSocket* s, MutableBytes out, bool peek) {
    Pass pass(*this);
    if (!s->rcv.buffer.empty() && !out.empty()) {
        const std::size_t before_space = receive_space(s);
        const std::size_t n = peek ? s->rcv.buffer.peek(0, out) : s->rcv.buffer.read(out);
        // RFC 9293 3.8.6.2.2 (receiver SWS avoidance): announce the opened window once it has grown
        // by at least min(half the buffer, one MSS) beyond what we last advertised.
        if (!peek) {
            rcv_space_adjust(now, s);  // once per RTT: grow the buffer to what the path delivers (autotune.cpp)
            const std::size_t space = receive_space(s);
            const std::size_t threshold = std::min<std::size_t>(s->rcv.buffer.capacity() / 2, s->mss);
            if (space >= s->rcv.wnd + threshold && before_space < s->rcv.wnd + threshold) {
                s->rcv.ack_now = true;
                output(now, s);
            }
            release_buffers(s);
        }
        return n;
    }
    if (s->error) {
        SocketError e = *s->error;
        s->error.reset();
        return Unexpected(e);
    }
    if (s->rcv.fin_received || s->rcv.shut_rd) return std::size_t{0};  // end of stream
    switch (s->state) {
        case TcpState::Closed:
        case TcpState::Listen:
            return s->connect_reported ? Result<std::size_t, SocketError>(std::size_t{0})
                                       : Result<std::size_t, SocketError>(Unexpected(SocketError::NotConnected));
        default: break;
    }
    if (out.empty()) return std::size_t{0};
    return Unexpected(SocketError::WouldBlock);
}

Result<void, SocketError> TcpLayer::shutdown(Instant now, TcpSocket* s, bool read, bool write) {
    Pass pass(*this);
    if (!is_synchronized(s->state) && s->state != TcpState::SynSent && s->state != TcpState::SynReceived) {
        return Unexpected(SocketError::NotConnected);
    }
    if (read) {
        s->rcv.shut_rd = true;
        s->notify();
    }
    if (write && !s->snd.fin_queued) {
        if (s->state == TcpState::SynSent) {
            fail(now, s, SocketError::NotConnected);  // nothing was ever said: just stop
            return {};
        }
        s->snd.fin_queued = true;
        output(now, s);
    }
    return {};
}

void TcpLayer::close(Instant now, TcpSocket* s) {
    Pass pass(*this);
    s->user_closed = true;
    s->on_event = nullptr;
    if (s->state == TcpState::Listen) {
        // Connections nobody accepted are reset, as Linux does (inet_csk_listen_stop(): RST, not
        // the FIN a close() of each would send, since nobody will ever read them).
        for (TcpSocket* child : s->queues.accept_queue) {
            child->listener = nullptr;
            child->user_closed = true;
            send_reset(now, child);
            if (child->state == TcpState::Established || child->state == TcpState::CloseWait) ++stats_.established_resets;
            destroy(child);
        }
        s->queues.accept_queue.clear();
        // Half-open children go quietly, as Linux drops its request sockets: their final ACK will
        // find the port closed and get a RST. (Left alone, they would become connections nobody
        // owns or closes.)
        std::vector<TcpSocket*> half_open;
        for (auto& [raw, owned] : sockets_) {
            if (raw->listener == s) half_open.push_back(raw);
        }
        for (TcpSocket* child : half_open) {
            child->listener = nullptr;
            child->user_closed = true;
            destroy(child);
        }
        destroy(s);
        return;
    }
    const bool unread = !s->rcv.buffer.empty();
    const bool zero_linger = s->opts.linger && *s->opts.linger == Duration::zero();
    switch (s->state) {
        case TcpState::Closed:
        case TcpState::SynSent:
            destroy(s);
            return;
        case TcpState::TimeWait:
            return;  // it finishes by itself
        default: break;
    }
    if (unread || zero_linger) {
        // RFC 9293 3.10.4 allows an abort; Linux sends RST when data would be lost (RFC 2525 2.17).
        send_reset(now, s);
        if (s->state == TcpState::Established || s->state == TcpState::CloseWait) ++stats_.established_resets;
        destroy(s);
        return;
    }
    // From here the connection is an orphan: nobody will read from it or write to it, and the
    // stack finishes it alone. Their number is bounded, as Linux's tcp_max_orphans: over it, the
    // connection is reset at once instead of closed gracefully.
    s->counted_orphan = true;
    ++orphan_count_;
    if (orphan_count_ > config_.tcp_max_orphans) {
        (void)abort_orphan(now, s);
        return;
    }
    if (!s->snd.fin_queued) {
        s->snd.fin_queued = true;
        output(now, s);
    }
    if (s->gone) return;
    if (s->state == TcpState::FinWait2) {
        s->timers.time_wait = now + config_.tcp_fin_timeout;
        arm_timer(s);
    }
}

// An orphan we give up on (too many of them, or its peer stopped answering or reading): reset
// and freed, counted, as Linux's tcp_done() after "too many orphaned sockets" or orphan retries.
Verdict TcpLayer::abort_orphan(Instant now, TcpSocket* s) {
    ++stats_.orphans_dropped;
    send_reset(now, s);
    if (s->state == TcpState::Established || s->state == TcpState::CloseWait) ++stats_.established_resets;
    destroy(s);
    return Verdict::Gone;
}

// ---- Readiness ---------------------------------------------------------------------------------

bool TcpLayer::readable(const TcpSocket* s) const {
    if (s->state == TcpState::Listen) return !s->queues.accept_queue.empty();
    return !s->rcv.buffer.empty() || s->rcv.fin_received || s->rcv.shut_rd || s->error.has_value() ||
           (s->state == TcpState::Closed && s->connect_reported);
}

bool TcpLayer::writable(const TcpSocket* s) const {
    if (s->error) return true;  // the call will report it
    if (s->state != TcpState::Established && s->state != TcpState::CloseWait) {
        return s->state == TcpState::Closed && s->connect_reported;  // a failed connect: POLLOUT|POLLERR
    }
    return !s->snd.fin_queued && s->snd.buffer.free() > 0;
}

bool TcpLayer::hung_up(const TcpSocket* s) const {
    // Linux: POLLHUP when both directions are shut, or the connection is gone.
    if (s->state == TcpState::Closed) return s->connect_reported;
    return s->rcv.fin_received && s->snd.fin_queued;
}

bool TcpLayer::peer_closed(const TcpSocket* s) const { return s->rcv.fin_received; }

void TcpLayer::for_each_socket(const std::function<void(const TcpSocket&)>& f) const {
    for (const auto& [key, socket] : sockets_) f(*socket);
}

TcpInfo TcpLayer::info(const TcpSocket* s) const {
    TcpInfo i;
    i.state = s->state;
    i.srtt = s->snd.rtt.srtt();
    i.rttvar = s->snd.rtt.rttvar();
    i.rto = s->snd.rtt.rto();
    i.mss = s->mss;
    if (s->snd.cc) {
        i.cwnd = s->snd.cc->cwnd();
        i.ssthresh = s->snd.cc->ssthresh();
    }
    i.bytes_in_flight = s->snd.in_flight();
    i.retransmits = s->total_retransmits;
    if (s->sack_ok && s->mss > 0) {
        const Scoreboard& sb = s->rec.scoreboard;
        auto segments = [&](std::uint32_t bytes) { return (bytes + s->mss - 1) / s->mss; };
        i.lost = segments(sb.lost_bytes());
        i.sacked = segments(sb.sacked_bytes());
        i.retrans = segments(sb.retransmitted_bytes());
    }
    i.reordering = s->rec.reordering;
    i.sack = s->sack_ok;
    i.timestamps = s->ts_ok;
    i.snd_wnd = s->snd.wnd;
    i.rcv_wnd = s->rcv.wnd;
    i.snd_wscale = s->snd.wscale;
    i.rcv_wscale = s->rcv.wscale;
    i.congestion = s->opts.congestion.value_or(config_.tcp_congestion);
    i.pacing_rate = pacing_rate(s);
    return i;
}

void TcpLayer::enable_log(TcpSocket* s, std::size_t entries) {
    s->log = entries == 0 ? nullptr : std::make_unique<TcpLog>(++log_ids_, entries);
}

// ---- States and endings ----------------------------------------------------------------------

Verdict TcpLayer::enter_state(Instant now, TcpSocket* s, TcpState state) {
    const TcpState old = s->state;
    s->state = state;
    if (Tracer* t = config_.tracer) [[unlikely]] t->tcp_state(s->local_port, s->remote_port, to_string(old), to_string(state));
    if (s->log) tcp_log::state_changed(now, *s, old);
    if (state == TcpState::Established && old != TcpState::Established) {
        s->rec.scoreboard.reset(s->snd.una);
        s->rec.rack_fack = s->snd.una;
        // RACK's minimum RTT starts from the handshake's sample, as Linux's tcp_min_rtt: a
        // retransmission acknowledged sooner than that cannot have been what was delivered.
        if (s->snd.rtt.has_sample()) s->rec.min_rtt = s->snd.rtt.srtt();
    }
    if (state == TcpState::TimeWait) {
        // Everything but the 2*MSL timer stops (RFC 9293 3.10.7.4 "TIME-WAIT STATE"). An orphan
        // that reaches TIME-WAIT is counted there, not among the orphans (as Linux).
        s->timers.rto.reset();
        s->timers.persist.reset();
        s->timers.keepalive.reset();
        s->timers.delayed_ack.reset();
        s->timers.rack.reset();
        s->timers.tlp.reset();
        s->timers.pacing.reset();
        s->timers.time_wait = now + config_.tcp_time_wait;
        if (s->counted_orphan) {
            s->counted_orphan = false;
            --orphan_count_;
        }
        release_buffers(s);
        if (old != TcpState::TimeWait) ++time_wait_count_;
        if (time_wait_count_ > config_.tcp_max_time_wait) {
            // Bounded TIME-WAIT (as Linux's tcp_max_tw_buckets): the new entry is dropped at once.
            ++stats_.time_wait_dropped;
            destroy(s);
            return Verdict::Gone;
        }
        arm_timer(s);
    }
    if (state == TcpState::Established && s->opts.keepalive) {
        s->timers.keepalive = now + s->opts.keepalive_idle;
        arm_timer(s);
    }
    s->notify();
    return Verdict::Continue;
}

// The connection is over with an error the application must see (ECONNRESET, ETIMEDOUT, ...).
// Gone if nobody is there to see it (the socket is freed); otherwise the socket stays, CLOSED
// with its error, until the application closes it.
Verdict TcpLayer::fail(Instant now, TcpSocket* s, SocketError error) {
    (void)now;
    if (s->state == TcpState::SynSent || s->state == TcpState::SynReceived) ++stats_.attempt_fails;
    if (s->user_closed || (s->listener != nullptr && s->state == TcpState::SynReceived)) {
        destroy(s);  // nobody will read the error
        return Verdict::Gone;
    }
    // A connection queued for accept but reset before the application took it: Linux hands it
    // out anyway and the application sees the reset; we do the same.
    s->error = error;
    s->connect_reported = true;
    unregister_connection(s);
    if (s->state == TcpState::TimeWait && time_wait_count_ > 0) --time_wait_count_;
    if (Tracer* t = config_.tracer) [[unlikely]] t->tcp_state(s->local_port, s->remote_port, to_string(s->state), "CLOSED");
    const TcpState old = std::exchange(s->state, TcpState::Closed);
    if (s->log) tcp_log::state_changed(now, *s, old);
    s->timers.rto.reset();
    s->timers.persist.reset();
    s->timers.keepalive.reset();
    s->timers.delayed_ack.reset();
    s->timers.time_wait.reset();
    s->timers.rack.reset();
    s->timers.tlp.reset();
    s->timers.pacing.reset();
    s->snd.buffer.reset(0);
    s->notify();
    return Verdict::Gone;
}

// Takes the socket out of every table and parks it, to be freed when the current pass ends (see
// "Object lifetimes" in tcp.h). A socket the application still holds (an accepted connection that
// was reset) is not freed: it stays, CLOSED, until the application calls close().
void TcpLayer::destroy(TcpSocket* s) {
    if (s->gone) return;
    if (Tracer* t = config_.tracer; t && s->state != TcpState::Closed) [[unlikely]] {
        t->tcp_state(s->local_port, s->remote_port, to_string(s->state), "CLOSED");
    }
    // The application holds every socket it opened or accepted until it calls close(); a child
    // not yet accepted is the layer's alone.
    const bool held_by_application = !s->user_closed && s->listener == nullptr;
    if (s->state == TcpState::TimeWait && time_wait_count_ > 0) --time_wait_count_;
    if (s->counted_orphan) {
        s->counted_orphan = false;
        --orphan_count_;
    }
    unregister_connection(s);
    if (s->local_port != 0) {
        auto it = bound_.find(s->local_port);
        if (it != bound_.end()) {
            std::erase(it->second, s);
            if (it->second.empty()) bound_.erase(it);
        }
    }
    if (s->wakeup) {
        timers_.cancel(s->wakeup->first);
        s->wakeup.reset();
    }
    if (s->listener != nullptr) {
        TcpSocket* l = s->listener;
        std::erase(l->queues.accept_queue, s);
        if (s->state == TcpState::SynReceived && l->queues.syn_queue > 0) --l->queues.syn_queue;
        s->listener = nullptr;
    }
    if (held_by_application) {
        s->state = TcpState::Closed;
        s->connect_reported = true;
        s->timers = TcpTimers{};
        s->notify();
        return;
    }
    s->state = TcpState::Closed;
    s->gone = true;
    auto it = sockets_.find(s);
    if (it == sockets_.end()) return;
    graveyard_.push_back(std::move(it->second));
    sockets_.erase(it);
    if (pass_depth_ == 0) graveyard_.clear();  // not inside a pass (the layer's destructor)
}

// ---- Timers ------------------------------------------------------------------------------------

void TcpLayer::arm_timer(TcpSocket* s) {
    if (s->gone) return;
    std::optional<Instant> earliest;
    for (const auto& d : {s->timers.rto, s->timers.persist, s->timers.delayed_ack, s->timers.time_wait,
                          s->timers.keepalive, s->timers.rack, s->timers.tlp, s->timers.pacing}) {
        if (d && (!earliest || *d < *earliest)) earliest = d;
    }
    if (!earliest) return;  // a stale wake-up, if any, finds nothing due and does no harm
    if (s->wakeup) {
        if (s->wakeup->second <= *earliest) return;  // the scheduled wake-up comes first: it re-arms
        timers_.cancel(s->wakeup->first);
    }
    TimerId id = timers_.schedule(*earliest, [this, s](Instant now) { on_timer(now, s); });
    s->wakeup = {id, *earliest};
}

void TcpLayer::on_timer(Instant now, TcpSocket* s) {
    Pass pass(*this);
    s->wakeup.reset();
    if (s->timers.time_wait && now >= *s->timers.time_wait) {
        s->timers.time_wait.reset();
        // TIME-WAIT over (or an orphaned FIN-WAIT-2 gave up): the connection is gone.
        if (s->state == TcpState::TimeWait || s->user_closed) {
            destroy(s);
            return;
        }
    }
    if (s->timers.delayed_ack && now >= *s->timers.delayed_ack) {
        s->timers.delayed_ack.reset();
        send_ack(now, s);
    }
    if (s->timers.rack && now >= *s->timers.rack) {
        // RACK's reordering window has passed for a segment (RFC 8985 6.3): judge it again.
        s->timers.rack.reset();
        rack_detect_loss(now, s);
        if (enter_recovery_if_lost(now, s)) {
            // No ACK to count: PRR lets one segment's worth go, as Linux's tcp_rack_reo_timeout.
            const std::uint32_t pipe = s->rec.scoreboard.pipe();
            s->snd.cc->on_recovery_ack(s->mss, pipe, pipe, false, false);
        }
        output(now, s);
    }
    if (s->timers.tlp && now >= *s->timers.tlp) {
        s->timers.tlp.reset();
        on_tlp(now, s);
    }
    if (s->timers.pacing && now >= *s->timers.pacing) {
        // The pacing clock lets the next burst go (pacing.cpp).
        s->timers.pacing.reset();
        output(now, s);
    }
    if (s->timers.rto && now >= *s->timers.rto) {
        s->timers.rto.reset();
        if (on_rto(now, s) == Verdict::Gone) return;
    }
    if (s->timers.persist && now >= *s->timers.persist) {
        s->timers.persist.reset();
        if (on_persist(now, s) == Verdict::Gone) return;
    }
    if (s->timers.keepalive && now >= *s->timers.keepalive) {
        s->timers.keepalive.reset();
        if (on_keepalive(now, s) == Verdict::Gone) return;
    }
    arm_timer(s);
}

// RFC 6298 section 5: on expiry, retransmit the earliest unacknowledged segment, back off the
// timer, and (RFC 5681) collapse the congestion window. After too many tries, give up: an orphan
// sooner (tcp_orphan_retries), since nobody waits for its result.
Verdict TcpLayer::on_rto(Instant now, TcpSocket* s) {
    if (s->snd.una == s->snd.max) return Verdict::Continue;  // nothing outstanding any more
    ++stats_.timeouts;
    const bool handshake = s->state == TcpState::SynSent || s->state == TcpState::SynReceived;
    const std::uint32_t limit = handshake ? config_.tcp_syn_retries : config_.tcp_retries;
    if (s->user_closed && s->timers.retransmits >= config_.tcp_orphan_retries) return abort_orphan(now, s);
    if (s->timers.retransmits >= limit) return fail(now, s, s->soft_error.value_or(SocketError::TimedOut));
    if (!handshake && s->sack_ok) {
        // With SACK: the first expiry of an episode may be undone if it proves spurious (Eifel,
        // D-SACK); every mark goes (RFC 2018 section 8: the receiver may have reneged), all that
        // is outstanding is lost, and no fast recovery starts until SND.UNA passes SND.MAX.
        // F-RTO on the first expiry of an episode, if more than the first segment is out (else
        // there is nothing to tell a spurious timeout by) and no fast recovery was on (as Linux:
        // its retransmissions would blur what the ACKs say).
        s->rec.frto = 0;
        if (!s->rec.rto_high) {
            s->rec.prior_cwnd = s->snd.cc->cwnd();
            s->rec.prior_ssthresh = s->snd.cc->ssthresh();
            arm_undo(s);
            if (s->snd.in_flight() > s->mss && !s->snd.cc->in_recovery()) s->rec.frto = 1;
        }
        s->rec.scoreboard.on_timeout();
        s->rec.rto_high = s->snd.max;
        s->rec.tlp_end.reset();
        s->timers.rack.reset();
        s->timers.tlp.reset();
    }
    ++s->timers.retransmits;
    s->snd.rtt.back_off();
    if (s->log) tcp_log::cause(now, *s, TcpLogEvent::Timeout);
    s->snd.timed_seq.reset();  // Karn: nothing retransmitted is timed
    if (handshake) {
        retransmit_first(now, s);
    } else {
        // Go back to the first unacknowledged byte and send again as the (now one-segment)
        // congestion window allows; everything after it is presumed lost.
        s->snd.cc->on_rto(s->snd.in_flight());
        s->rec.reno_sacked = 0;  // the duplicate ACKs' count starts again (Linux's tcp_reset_reno_sack)
        s->snd.nxt = s->snd.una;
        s->timers.rto.reset();
        output(now, s);
    }
    s->timers.rto = now + s->snd.rtt.rto();
    return Verdict::Continue;
}

// RFC 9293 3.8.6.1: the window is zero and we have data: probe with one byte beyond the window
// (as Linux does: it sends an old or new byte to make the receiver answer with its window).
// RFC 1122 4.2.2.17: as long as the receiver answers the probes, the connection MUST stay open,
// however long its window stays closed. For an orphan nobody waits, and a peer that never reads
// would hold it and its buffers forever: as Linux (tcp_probe_timer), an orphan gives up after
// tcp_orphan_retries probes.
Verdict TcpLayer::on_persist(Instant now, TcpSocket* s) {
    if (s->snd.buffer.size() <= s->snd.in_flight()) return Verdict::Continue;
    if (s->snd.wnd != 0) {
        // RFC 9293 3.8.6.2.1 (iv), the override timeout: the window is open but smaller than the
        // sender SWS rule wants, and with nothing in flight no ACK will come to widen it (its update
        // may have been lost). Send what fits, as Linux's tcp_write_wakeup() does.
        if (s->snd.una != s->snd.max) return Verdict::Continue;  // data in flight: its ACK or the RTO comes first
        const std::size_t length = std::min<std::size_t>({s->snd.buffer.size(), s->snd.wnd, s->mss});
        TcpFlags flags = TcpFlags::kAck;
        if (length == s->snd.buffer.size()) flags = flags | TcpFlags::kPsh;
        transmit(now, s, s->snd.nxt, length, flags);
        s->snd.nxt += static_cast<std::uint32_t>(length);
        s->snd.max = s->snd.nxt;
        if (length < s->mss) s->snd.sml = s->snd.nxt;
        s->timers.rto = now + s->snd.rtt.rto();
        return Verdict::Continue;
    }
    if (s->user_closed && s->timers.probes >= config_.tcp_orphan_retries) return abort_orphan(now, s);
    ++stats_.window_probes;
    const std::size_t offset = static_cast<std::size_t>(s->snd.nxt - s->snd.una);
    if (offset < s->snd.buffer.size()) {
        // The probe byte is not counted as sent: the window was zero, so it will be sent again
        // (process_ack believes an ACK for it, should the peer keep it). Nor is it timed: its ACK
        // comes when the window opens, which says nothing about the round-trip time.
        const bool timing = s->snd.timed_seq.has_value();
        transmit(now, s, s->snd.nxt, 1, TcpFlags::kAck, /*record=*/false);
        if (!timing) s->snd.timed_seq.reset();
    }
    ++s->timers.probes;
    Duration next = s->snd.rtt.rto();
    for (std::uint32_t i = 0; i < s->timers.probes && next < config_.tcp_max_rto; ++i) next = next * 2;
    s->timers.persist = now + std::min(next, config_.tcp_max_rto);
    return Verdict::Continue;
}

void TcpLayer::keepalive_changed(Instant now, TcpSocket* s) {
    if (!s->opts.keepalive || (s->state != TcpState::Established && s->state != TcpState::CloseWait)) {
        s->timers.keepalive.reset();
        return;
    }
    // Idle time already spent counts: the first probe goes `idle` after the last segment received.
    s->timers.keepalive = std::max(now, s->timers.last_activity + s->opts.keepalive_idle);
    arm_timer(s);
}

Verdict TcpLayer::on_keepalive(Instant now, TcpSocket* s) {
    if (!s->opts.keepalive || (s->state != TcpState::Established && s->state != TcpState::CloseWait)) {
        return Verdict::Continue;
    }
    const Duration idle = now - s->timers.last_activity;
    if (idle < s->opts.keepalive_idle) {
        s->timers.keepalive = s->timers.last_activity + s->opts.keepalive_idle;
        return Verdict::Continue;
    }
    if (s->timers.keepalive_probes >= s->opts.keepalive_count) return fail(now, s, SocketError::TimedOut);
    // RFC 1122 4.2.3.6: a segment with SEG.SEQ = SND.NXT-1 and no data, which makes the peer answer
    // with an ACK.
    ++s->timers.keepalive_probes;
    transmit(now, s, s->snd.max - 1, 0, TcpFlags::kAck);
    s->timers.keepalive = now + s->opts.keepalive_interval;
    return Verdict::Continue;
}

// ---- ICMP and ARP failures -----------------------------------------------------------------------

void TcpLayer::icmp_error(Instant now, const IcmpErrorInfo& error) {
    Pass pass(*this);
    if (error.quoted_payload.size() < 8) return;
    const std::uint16_t lport = load_be16(error.quoted_payload, 0);
    const std::uint16_t rport = load_be16(error.quoted_payload, 2);
    const SeqNum seq(load_be32(error.quoted_payload, 4));
    TcpSocket* s = find_connection(error.quoted.src, lport, error.quoted.dst, rport);
    // RFC 5927: only believe errors about a connection of ours and data in flight on it; anything
    // else may be forged by someone who guessed the ports.
    if (s == nullptr || seq < s->snd.una || seq > s->snd.max) {
        ++stats_.icmp_ignored;
        return;
    }
    if (error.type == IcmpType::DestinationUnreachable && error.code == IcmpUnreachableCode::FragmentationNeeded) {
        path_mtu_reduced(now, s, seq, error.next_hop_mtu);  // not an error: a smaller path (pmtu.cpp)
        return;
    }
    if (error.type == IcmpType::DestinationUnreachable &&
        (error.code == IcmpUnreachableCode::Port || error.code == IcmpUnreachableCode::Protocol) &&
        s->state == TcpState::SynSent) {
        // A hard error while connecting: ECONNREFUSED (RFC 1122 4.2.3.9 lets a host abort).
        (void)fail(now, s, SocketError::ConnectionRefused);
        return;
    }
    // Everything else is soft: kept, and reported only if the connection times out.
    s->soft_error = error.type == IcmpType::DestinationUnreachable && error.code == IcmpUnreachableCode::Net
                        ? SocketError::NetworkUnreachable
                        : SocketError::HostUnreachable;
}

void TcpLayer::unreachable(Instant now, const UnreachableInfo& info) {
    Pass pass(*this);
    auto header = TcpHeader::parse(info.payload);
    if (!header) return;
    TcpSocket* s = find_connection(ip_.address(), header->src_port(), info.destination, header->dst_port());
    if (s == nullptr) return;
    if (s->state == TcpState::SynSent) {
        (void)fail(now, s, SocketError::HostUnreachable);  // as Linux: connect() to a silent neighbour
        return;
    }
    s->soft_error = SocketError::HostUnreachable;
}

}  // namespace tcpip
