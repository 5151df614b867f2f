// Sending: what goes out and when. RFC 9293 section 3.8.6 (windows, silly window syndrome
// avoidance, zero-window probing), RFC 1122 4.2.3.4 (Nagle), RFC 5681 (the congestion window).
#include <algorithm>

#include "stack/core/trace.h"

#include "stack/tcp/tcp.h"

namespace tcpip {

std::uint32_t TcpLayer::receive_space(const TcpSocket* s) const {
    return static_cast<std::uint32_t>(s->rcv.buffer.free());
}

// The window field for an outgoing segment (RFC 9293 3.8.6.2.2, receiver SWS avoidance): the
// right edge (rcv_nxt + window) never moves left, and it moves right only in steps of at least
// min(half the buffer, one MSS), so we never invite the sender to send tiny segments.
//
// The field counts units of 2^wscale bytes. Rounding a window down to a whole unit could move the
// edge left of one already advertised, and the peer may have sent up to that edge: so the
// promise is rounded up instead (as Linux's tcp_select_window), which may offer a few bytes more
// than the buffer holds; segment input stores only what fits.
std::uint16_t TcpLayer::window_to_advertise(TcpSocket* s) {
    const std::uint32_t space = receive_space(s);
    const std::uint32_t promised = s->rcv.nxt < s->rcv.adv ? static_cast<std::uint32_t>(s->rcv.adv - s->rcv.nxt) : 0;
    const std::uint32_t step = std::min<std::uint32_t>(static_cast<std::uint32_t>(s->rcv.buffer.capacity() / 2), s->mss);
    const std::uint32_t unit = std::uint32_t{1} << s->rcv.wscale;
    std::uint32_t window = space >= promised + step ? space : promised;
    window = std::min<std::uint32_t>(window, std::uint32_t{65535} << s->rcv.wscale);
    std::uint32_t field = window >> s->rcv.wscale;
    if ((field << s->rcv.wscale) < promised) field = (promised + unit - 1) >> s->rcv.wscale;
    window = field << s->rcv.wscale;  // what the peer will compute from the field
    s->rcv.wnd = window;
    if (s->rcv.nxt + window > s->rcv.adv) s->rcv.adv = s->rcv.nxt + window;
    return static_cast<std::uint16_t>(field);
}

// Our TSval (RFC 7323 section 5.4): the stack's clock in milliseconds, as Linux's (TCP_TS_HZ
// 1000), plus the connection's random offset, so that TSvals tell nothing about our uptime and
// connections do not share a clock.
std::uint32_t TcpLayer::tsval(Instant now, const TcpSocket* s) const {
    return static_cast<std::uint32_t>(now.total_millis()) + s->ts.offset;
}

// The SACK blocks of an ACK (RFC 2018 section 4): first a D-SACK for a duplicate just received
// (RFC 2883), then the block holding the most recent out-of-order segment, then the blocks
// reported most recently, as many as fit. A segment with `length` bytes of data must still fit in
// one MSS of the path with its options (Linux shrinks the data instead; we leave blocks out and
// let a bare ACK carry them all, see transmit()). Returns in `options`; clears the D-SACK once sent.
void TcpLayer::add_sack_blocks(TcpSocket* s, TcpOptions& options, std::size_t length) {
    std::array<SackBlock, TcpOptions::kMaxSackBlocks + 1> blocks{};
    std::size_t count = 0;
    bool dsack_first = false;
    if (s->rcv.dsack) {
        blocks[count++] = *s->rcv.dsack;
        dsack_first = true;
    }
    // Each remembered sequence number stands for the assembler range that holds it now.
    std::uint8_t kept = 0;
    for (std::uint8_t i = 0; i < s->rcv.sack_recent_count; ++i) {
        const SeqNum anchor = s->rcv.sack_recent[i];
        if (anchor < s->rcv.nxt) continue;  // now in order: no longer reported
        const auto offset = static_cast<std::size_t>(anchor - s->rcv.nxt);
        const Assembler::Range* holder = nullptr;
        for (const auto& r : s->rcv.assembler.ranges()) {
            if (r.start <= offset && offset < r.end) holder = &r;
        }
        if (holder == nullptr) continue;
        const SackBlock block{s->rcv.nxt + static_cast<std::uint32_t>(holder->start),
                              s->rcv.nxt + static_cast<std::uint32_t>(holder->end)};
        bool seen = false;
        for (std::size_t j = dsack_first ? 1 : 0; j < count; ++j) seen = seen || blocks[j] == block;
        if (seen) continue;
        s->rcv.sack_recent[kept++] = anchor;
        if (count < blocks.size()) blocks[count++] = block;
    }
    s->rcv.sack_recent_count = kept;
    if (count == 0) return;
    // Room: the MSS of the path (our segment size plus the timestamps option, if on) holds the
    // data of one segment and every option.
    std::size_t fit = TcpOptions::kMaxSackBlocks;
    if (length > 0) {
        const std::size_t path_mss = s->mss + (s->ts_ok ? 12u : 0u);
        const std::size_t piece = std::min<std::size_t>(length, s->mss);
        const std::size_t used = piece + (s->ts_ok ? 12u : 0u);
        const std::size_t room = path_mss > used ? path_mss - used : 0;
        fit = room >= 4 + TcpOptions::kSackBlockLen ? (room - 4) / TcpOptions::kSackBlockLen : 0;
    }
    for (std::size_t i = 0; i < count && i < fit; ++i) (void)options.add_sack(blocks[i]);
    const std::size_t sent = std::min<std::size_t>(options.sack_count, options.sack_capacity());
    if (dsack_first && sent > 0) {
        s->rcv.dsack.reset();
        ++stats_.dsacks_sent;
    }
    // What did not fit goes in a bare ACK right after (output() sends it while ack_now is set).
    if (sent < count) s->rcv.ack_now = true;
}

// Builds and sends one segment: `length` bytes of data from the send buffer at `seq`, with flags.
void TcpLayer::transmit(Instant now, TcpSocket* s, SeqNum seq, std::size_t length, TcpFlags flags, bool record) {
    if (s->log) tcp_log::sent(now, *s, seq, length, flags);
    Packet packet = pool_.allocate(length + TcpOptions::kMaxLen + TcpHeader::kMinHeaderLen);
    if (length > 0) {
        const std::size_t offset = static_cast<std::size_t>(seq - s->snd.una);
        s->snd.buffer.peek(offset, packet.append(length));
    }
    std::uint8_t ecn_field = 0;
    flags = ecn_outgoing(s, seq, length, flags, ecn_field);  // ECE, CWR and ECT(0) (ecn.cpp)
    TcpRepr repr;
    repr.src_port = s->local_port;
    repr.dst_port = s->remote_port;
    repr.seq = seq;
    repr.flags = flags;
    bool timestamps = s->ts_ok;
    if (flags.syn()) {
        // Our MSS (RFC 9293 3.7.1: the MTU minus the IP and TCP headers) and the window scale we
        // use; in a SYN-ACK the scale is only sent if the peer's SYN had it (RFC 7323 1.3), and
        // likewise SACK-Permitted (RFC 2018) and timestamps (RFC 7323): a SYN offers what
        // StackConfig allows, a SYN-ACK what both allow.
        repr.options.mss = s->opts.user_mss ? std::min(our_mss(), s->opts.user_mss) : our_mss();
        const bool offering = s->state == TcpState::SynSent || s->state == TcpState::Closed;
        if (offering || s->wscale_ok) repr.options.window_scale = s->rcv.wscale;
        repr.options.sack_permitted = offering ? config_.tcp_sack : s->sack_ok;
        timestamps = offering ? config_.tcp_timestamps : s->ts_ok;
        // The window of a SYN is never scaled (RFC 7323 2.2).
        repr.window = static_cast<std::uint16_t>(std::min<std::size_t>(receive_space(s), 65535));
        s->rcv.wnd = repr.window;
        s->rcv.adv = s->rcv.nxt + repr.window;
    } else {
        repr.window = window_to_advertise(s);
    }
    // RFC 7323 section 3.2: TSval on every segment once negotiated; TSecr echoes TS.Recent (0 in
    // our SYN, which has nothing to echo).
    if (timestamps) {
        repr.options.timestamps = TcpOptions::Timestamps{tsval(now, s), s->state == TcpState::SynSent ? 0u : s->ts.recent};
    }
    if (flags.ack()) {
        repr.ack = s->rcv.nxt;
        s->ts.last_ack_sent = s->rcv.nxt;
        // Any segment carrying an ACK answers everything received so far.
        s->rcv.ack_now = false;
        s->rcv.segments_since_ack = 0;
        s->timers.delayed_ack.reset();
        if (s->sack_ok && !flags.syn()) add_sack_blocks(s, repr.options, length);
    }
    // With a device that offloads: it completes the checksum, and cuts a segment longer than one
    // MSS into MSS-sized ones (TSO; see send_limit()).
    if (ip_.device_capabilities().tx_checksum_offload) {
        repr.emit_checksum_partial(packet, s->local_address, s->remote_address);
    } else {
        repr.emit(packet, s->local_address, s->remote_address);
    }
    if (length > s->mss) packet.offload().segment_size = s->mss;
    if (Tracer* t = config_.tracer) [[unlikely]] {
        // Sent before (SND.MAX is past it): a retransmission. A keepalive probe (no data, no SYN
        // or FIN, at SND.MAX - 1) is not one.
        const bool again = seq < s->snd.max && (length > 0 || flags.syn() || flags.fin());
        t->packet(now, TraceLayer::Tcp, TraceDir::Tx, packet.bytes(), again ? TraceNote::TcpRetransmission : TraceNote::None);
    }

    Ipv4SendOptions options;
    options.dont_fragment = true;  // as Linux: TCP sizes its own segments (path MTU discovery)
    options.tos = ecn_field;
    (void)ip_.send(now, s->remote_address, IpProtocol::Tcp, std::move(packet), options);
    ++stats_.tx_segments;

    // Time one segment per round trip (RFC 6298 3: Karn), never a retransmission.
    const SeqNum end = seq + static_cast<std::uint32_t>(length) + (flags.syn() ? 1 : 0) + (flags.fin() ? 1 : 0);
    if (end > seq && seq >= s->snd.max && !s->snd.timed_seq) {
        s->snd.timed_seq = end;
        s->snd.timed_sent_at = now;
    }
    if (length > 0) {
        s->snd.last_send = now;
        pacing_sent(now, s, length);
        if (s->snd.cc && s->snd.cc->in_cwnd_reduction()) s->snd.cc->on_recovery_sent(static_cast<std::uint32_t>(length));  // PRR's prr_out
    }
    // The scoreboard keeps every data or FIN transmission of a connection that SACKs: new ones as
    // entries, retransmissions as marks (and, for the undo, counted with the TSval of the first).
    if (record && s->sack_ok && !flags.syn() && end > seq && is_synchronized(s->state)) {
        const std::uint32_t resent = s->rec.scoreboard.on_send(seq, end, now);
        if (resent > 0 && s->rec.undo_armed) {
            s->rec.undo_retrans += (resent + s->mss - 1) / s->mss;
            if (!s->rec.first_rxt_seq) {
                s->rec.first_rxt_seq = seq;
                s->rec.first_rxt_tsval = tsval(now, s);
            }
        }
    }
}

// A segment without data carries SND.MAX, the highest sequence number sent, not SND.NXT: after a
// timeout SND.NXT goes back to resend (go-back-N), and an ACK stamped with that older number
// would fall left of the peer's window, be judged unacceptable and dropped; two sides both
// retransmitting would then never hear each other's ACKs (seen in simulation).
void TcpLayer::send_ack(Instant now, TcpSocket* s) {
    transmit(now, s, s->snd.max, 0, TcpFlags::kAck);
}

// RFC 5961 section 7: challenge ACKs are rate-limited, so that a flood of forged RSTs and SYNs
// cannot make us flood the real peer with ACKs. The limit is per socket, a burst of
// tcp_challenge_ack_burst per tcp_challenge_ack_interval: Linux's first limit was one global
// counter (1 per second for all connections), and an off-path attacker could read it, counting
// the challenge ACKs it provoked on its own connection, to learn whether a guessed 4-tuple and
// sequence number were in someone else's window (CVE-2016-5696). A per-socket budget tells an
// attacker nothing about other connections.
void TcpLayer::send_challenge_ack(Instant now, TcpSocket* s) {
    if (now - s->challenge_interval_start >= config_.tcp_challenge_ack_interval ||
        s->challenge_interval_start == Instant{}) {
        s->challenge_interval_start = now;
        s->challenge_acks_left = config_.tcp_challenge_ack_burst;
    }
    if (s->challenge_acks_left == 0) {
        ++stats_.challenge_acks_limited;
        return;
    }
    --s->challenge_acks_left;
    ++stats_.challenge_acks;
    if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpChallengeAck);
    send_ack(now, s);
}

// The SYN-ACK of a listener whose SYN queue is full (syn_cookie.h): nothing is remembered, so it
// is built from the SYN alone, with the options the caller chose: the MSS the cookie carries, and
// window scale, SACK-Permitted and timestamps only if the cookie's timestamp can keep them. Its
// window, never scaled in a SYN, is final.
void TcpLayer::send_syn_ack_cookie(Instant now, const Segment& syn, SeqNum cookie, const TcpOptions& options_,
                                   std::uint16_t window) {
    TcpRepr repr;
    repr.src_port = syn.header.dst_port;
    repr.dst_port = syn.header.src_port;
    repr.seq = cookie;
    repr.ack = syn.header.seq + 1;
    repr.flags = TcpFlags::kSyn | TcpFlags::kAck;
    repr.window = window;
    repr.options = options_;
    Packet packet = pool_.allocate(TcpHeader::kMinHeaderLen + TcpOptions::kMaxLen);
    repr.emit(packet, syn.dst, syn.src);
    if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Tcp, TraceDir::Tx, packet.bytes());
    Ipv4SendOptions options;
    options.dont_fragment = true;
    (void)ip_.send(now, syn.src, IpProtocol::Tcp, std::move(packet), options);
    ++stats_.tx_segments;
}

// A RST in answer to a segment that has no connection (RFC 9293 3.10.7.1): "If the incoming
// segment has an ACK field, the reset takes its sequence number from the ACK field of the
// segment, otherwise the reset has sequence number zero and the ACK field is set to the sum of
// the sequence number and segment length of the incoming segment."
void TcpLayer::send_reset_for(Instant now, const Segment& seg) {
    TcpRepr repr;
    repr.src_port = seg.header.dst_port;
    repr.dst_port = seg.header.src_port;
    if (seg.header.flags.ack()) {
        repr.seq = seg.header.ack;
        repr.flags = TcpFlags::kRst;
    } else {
        repr.seq = SeqNum(0);
        repr.ack = seg.header.seq + static_cast<std::uint32_t>(seg.payload.size()) + (seg.header.flags.syn() ? 1 : 0) +
                   (seg.header.flags.fin() ? 1 : 0);
        repr.flags = TcpFlags::kRst | TcpFlags::kAck;
    }
    Packet packet = pool_.allocate(TcpHeader::kMinHeaderLen);
    repr.emit(packet, seg.dst, seg.src);
    if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Tcp, TraceDir::Tx, packet.bytes(), TraceNote::TcpResetSent);
    (void)ip_.send(now, seg.src, IpProtocol::Tcp, std::move(packet));
    ++stats_.tx_resets;
    ++stats_.tx_segments;
}

// An abort: <SEQ=SND.NXT><CTL=RST> (RFC 9293 3.10.4 "ABORT call").
void TcpLayer::send_reset(Instant now, TcpSocket* s) {
    if (!is_synchronized(s->state) && s->state != TcpState::SynReceived) return;
    TcpRepr repr;
    repr.src_port = s->local_port;
    repr.dst_port = s->remote_port;
    repr.seq = s->snd.max;  // SND.MAX: in the window even after a go-back (see send_ack)
    repr.ack = s->rcv.nxt;
    repr.flags = TcpFlags::kRst | TcpFlags::kAck;
    Packet packet = pool_.allocate(TcpHeader::kMinHeaderLen);
    repr.emit(packet, s->local_address, s->remote_address);
    if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Tcp, TraceDir::Tx, packet.bytes(), TraceNote::TcpResetSent);
    (void)ip_.send(now, s->remote_address, IpProtocol::Tcp, std::move(packet));
    ++stats_.tx_resets;
    ++stats_.tx_segments;
}

// Resends the earliest unacknowledged segment: the SYN, the SYN-ACK, data, or the FIN.
void TcpLayer::retransmit_first(Instant now, TcpSocket* s) {
    ++stats_.retransmitted_segments;
    ++s->total_retransmits;
    // Karn (RFC 6298 3): if the segment being timed is the one sent again, its ACK gives no sample.
    if (s->snd.timed_seq && *s->snd.timed_seq <= s->snd.una + static_cast<std::uint32_t>(s->mss) + 1) s->snd.timed_seq.reset();
    if (s->state == TcpState::SynSent) {
        s->ecn.requested = false;  // as Linux (tcp_ecn_fallback): a SYN sent again asks for no ECN
        transmit(now, s, s->snd.iss, 0, TcpFlags::kSyn);
        return;
    }
    if (s->state == TcpState::SynReceived && s->snd.una == s->snd.iss) {
        transmit(now, s, s->snd.iss, 0, TcpFlags::kSyn | TcpFlags::kAck);
        return;
    }
    // One segment from snd_una, without moving snd_nxt (fast retransmit, NewReno partial ACK).
    const std::size_t data_outstanding = s->snd.buffer.size();
    const std::size_t length = std::min<std::size_t>(data_outstanding, s->mss);
    if (length > 0) {
        TcpFlags flags = TcpFlags::kAck;
        if (length == data_outstanding && s->snd.fin_sent) flags = flags | TcpFlags::kFin;
        transmit(now, s, s->snd.una, length, flags);
    } else if (s->snd.fin_sent) {
        transmit(now, s, s->snd.fin_seq, 0, TcpFlags::kFin | TcpFlags::kAck);
    }
}

// Nagle's algorithm (RFC 1122 4.2.3.4): while data is unacknowledged, hold a small segment back
// until a full one can go (or everything is acknowledged). TCP_NODELAY turns it off.
// As Linux, Minshall's variant: only an unacknowledged *small* segment holds the next small one, so
// the tail of a large write is not kept waiting for the ACK of the full segments before it (which a
// receiver delaying its ACKs would hold back for 40 ms).
bool TcpLayer::nagle_allows(const TcpSocket* s, std::size_t length, std::size_t unsent) const {
    if (length >= s->mss) return true;
    if (s->opts.nodelay) return true;
    if (s->snd.sml <= s->snd.una) return true;  // no small segment in flight
    // A FIN will follow this data: no point in waiting (Linux sends it at once too).
    return s->snd.fin_queued && length == unsent;
}

// The most data one transmit() may carry (before pacing, see burst_limit()): one MSS, or, when the device does TCP segmentation
// offload, as many whole MSS-sized segments as fit in one IPv4 datagram (the device cuts them
// apart; Linux's own TSO does the same). Everything above TCP — windows, Nagle, SWS avoidance,
// the congestion window — still counts bytes, so only the number of frames changes.
std::size_t TcpLayer::send_limit(const TcpSocket* s) const {
    const DeviceCapabilities& caps = ip_.device_capabilities();
    if (!caps.tx_tcp_segmentation || !caps.tx_checksum_offload || s->mss == 0) return s->mss;
    const std::size_t room = Ipv4Layer::kMaxSegmentationPayload - TcpHeader::kMaxHeaderLen;
    return std::max<std::size_t>(room / s->mss, 1) * s->mss;
}

// Linux's tcp_cwnd_validate: after sending, whether the window left no room for another segment;
// remembered until SND.UNA passes what was sent then (one round trip), so that a window filled at
// any time in the round counts as used when its ACKs come (NewReno::on_ack grows only such a window).
void TcpLayer::note_cwnd_usage(TcpSocket* s) {
    SendSequence& snd = s->snd;
    const std::uint32_t pipe = s->sack_ok ? s->rec.scoreboard.pipe() : static_cast<std::uint32_t>(snd.nxt - snd.una);
    const bool limited = pipe + s->mss > snd.cc->cwnd();
    if (limited || !(snd.una < snd.cwnd_usage_seq)) {
        snd.cwnd_usage_seq = snd.nxt;
        snd.cwnd_limited = limited;
    }
    snd.cc->on_cwnd_usage(snd.cwnd_limited);
}

void TcpLayer::output(Instant now, TcpSocket* s) {
    if (s->gone) return;
    const bool can_send_data = s->state == TcpState::Established || s->state == TcpState::CloseWait ||
                               s->state == TcpState::FinWait1 || s->state == TcpState::Closing ||
                               s->state == TcpState::LastAck;
    if (can_send_data) {
        // The path MTU to somewhere went down since this connection last looked (pmtu.cpp).
        if (s->pmtu_generation != ip_.path_mtu_generation()) (void)fit_mss_to_path(now, s);
        // Loss recovery with SACK first (RFC 6675 NextSeg rule 1): the segments judged lost, as
        // cwnd - pipe allows. Not while going back after a timeout: that resends everything anyway.
        // Nor while F-RTO sends new data to test the timeout.
        if (s->sack_ok && s->snd.nxt == s->snd.max && s->rec.frto == 0 && s->rec.scoreboard.lost_bytes() > 0) {
            retransmit_lost(now, s);
        }
        const std::size_t burst = burst_limit(s);  // what one departure may carry (pacing.cpp)
        for (;;) {
            // Data already sent (between snd_una and snd_nxt), not counting our FIN.
            const SeqNum sent_up_to = seq_min(s->snd.nxt, s->snd.fin_sent ? s->snd.fin_seq : s->snd.nxt);
            const std::size_t sent = static_cast<std::size_t>(sent_up_to - s->snd.una);
            const std::size_t unsent = s->snd.buffer.size() > sent ? s->snd.buffer.size() - sent : 0;

            // The usable window: the smaller of the peer's window and the congestion window,
            // less what is in flight. With SACK, "in flight" is RFC 6675's pipe for the congestion
            // window (SACKed and lost bytes have left the network), while the peer's window still
            // counts from SND.UNA.
            const std::uint32_t flight = static_cast<std::uint32_t>(s->snd.nxt - s->snd.una);
            std::uint32_t usable = s->snd.wnd > flight ? s->snd.wnd - flight : 0;
            const std::uint32_t pipe = s->sack_ok ? s->rec.scoreboard.pipe() : flight;
            const std::uint32_t cwnd = s->snd.cc->cwnd();
            usable = std::min(usable, cwnd > pipe ? cwnd - pipe : 0);

            if (unsent > 0) {
                std::size_t length = std::min<std::size_t>({unsent, burst, usable});
                if (s->sack_ok && s->snd.nxt < s->snd.max) {
                    // Going back after a timeout: what the peer SACKed since is not sent again (as
                    // Linux's tcp_xmit_retransmit_queue); a segment stops where a SACKed range begins.
                    const SeqNum data_end = s->snd.fin_sent ? s->snd.fin_seq : s->snd.max;
                    const SeqNum skip = seq_min(s->rec.scoreboard.skip_sacked(s->snd.nxt), data_end);
                    if (skip != s->snd.nxt) {
                        s->snd.nxt = skip;
                        continue;
                    }
                    const SeqNum stop = s->rec.scoreboard.next_sacked(s->snd.nxt);
                    if (stop > s->snd.nxt) length = std::min<std::size_t>(length, static_cast<std::size_t>(stop - s->snd.nxt));
                }
                if (s->ecn.send_cwr) length = std::min<std::size_t>(length, s->mss);  // CWR on one segment, not a TSO burst
                if (length == 0) break;
                // Several segments in one (TSO): whole segments only, unless it is the end of
                // the data; the remainder waits for the rules below, as a lone segment would.
                if (length > s->mss && length < unsent) length -= length % s->mss;
                // Sender SWS avoidance (RFC 9293 3.8.6.2.1): send a full segment, or all that is
                // left if Nagle allows, or at least half the largest window the peer offered.
                const bool full = length >= s->mss;
                const bool all = length == unsent && nagle_allows(s, length, unsent);
                const bool half_window = s->snd.max_wnd > 0 && length >= s->snd.max_wnd / 2 && nagle_allows(s, length, unsent);
                // Going back after a timeout: data already sent once is not held back (else a
                // segment sent into a small window and lost would never be sent again).
                const bool resend = s->snd.nxt < s->snd.max;
                if (!full && !all && !half_window && !resend) break;
                // The segment may go: when the pacing clock says (pacing.cpp), else the pacing
                // timer calls output() again.
                if (pacing_wait(now, s)) break;
                TcpFlags flags = TcpFlags::kAck;
                if (length == unsent) flags = flags | TcpFlags::kPsh;
                if (s->snd.nxt < s->snd.max) {
                    ++stats_.retransmitted_segments;
                    ++s->total_retransmits;
                }
                if (s->snd.nxt == s->snd.una && now - s->snd.last_send > s->snd.rtt.rto() && s->snd.last_send != Instant{}) {
                    s->snd.cc->on_idle_restart();  // RFC 5681 4.1: idle longer than an RTO
                }
                transmit(now, s, s->snd.nxt, length, flags);
                s->snd.nxt += static_cast<std::uint32_t>(length);
                s->snd.max = seq_max(s->snd.max, s->snd.nxt);
                if (length < s->mss) s->snd.sml = s->snd.nxt;
                if (!s->timers.rto) {
                    s->timers.rto = now + s->snd.rtt.rto();
                    arm_timer(s);
                }
                continue;
            }
            // All data is out: the FIN follows it.
            if (s->snd.fin_queued && (!s->snd.fin_sent || s->snd.nxt == s->snd.fin_seq)) {
                if (!s->snd.fin_sent) {
                    s->snd.fin_seq = s->snd.nxt;
                    s->snd.fin_sent = true;
                }
                transmit(now, s, s->snd.fin_seq, 0, TcpFlags::kFin | TcpFlags::kAck);
                s->snd.nxt = s->snd.fin_seq + 1;
                s->snd.max = seq_max(s->snd.max, s->snd.nxt);
                if (s->state == TcpState::Established) (void)enter_state(now, s, TcpState::FinWait1);
                if (s->state == TcpState::CloseWait) (void)enter_state(now, s, TcpState::LastAck);
                if (!s->timers.rto) {
                    s->timers.rto = now + s->snd.rtt.rto();
                    arm_timer(s);
                }
            }
            break;
        }
        // Data waiting and nothing in flight: the window (zero, or too small for the SWS rule
        // above) holds it, and no ACK will come to say it opened unless the persist timer asks
        // (RFC 9293 3.8.6.1 zero-window probes; 3.8.6.2.1 (iv), the override timeout for a small
        // window; Linux arms its probe timer in both cases).
        const std::size_t sent = static_cast<std::size_t>(seq_min(s->snd.nxt, s->snd.fin_sent ? s->snd.fin_seq : s->snd.nxt) - s->snd.una);
        if (s->snd.buffer.size() > sent && s->snd.nxt == s->snd.una && !s->timers.persist) {
            s->timers.persist = now + s->snd.rtt.rto();
            arm_timer(s);
        }
        note_cwnd_usage(s);
        if (s->sack_ok) schedule_tlp(now, s);
    }
    if (s->rcv.ack_now && s->state != TcpState::Closed && s->state != TcpState::Listen && s->state != TcpState::SynSent) {
        send_ack(now, s);
    }
}

}  // namespace tcpip
