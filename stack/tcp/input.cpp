// Segment arrival: RFC 9293 section 3.10.7 ("SEGMENT ARRIVES"), step by step and in its order,
// with the RST and SYN rules of RFC 5961. The headings below are the RFC's.
#include <algorithm>

#include "stack/core/trace.h"
#include "stack/tcp/syn_cookie.h"
#include "stack/tcp/tcp.h"

namespace tcpip {

void TcpLayer::receive(Instant now, const Ipv4RxInfo& info, Packet payload) {
    Pass pass(*this);
    ++stats_.rx_segments;
    auto header = TcpHeader::parse(payload.bytes());
    if (!header) {
        ++stats_.rx_malformed;
        if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Tcp, TraceDir::Rx, payload.bytes(), TraceNote::TcpMalformed);
        return;
    }
    if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Tcp, TraceDir::Rx, payload.bytes());
    // A device with checksum offload may have vouched for it already (PacketOffload).
    if (config_.verify_rx_checksums && !payload.offload().checksum_verified &&
        !header->checksum_valid(info.header.src, info.header.dst)) {
        ++stats_.rx_bad_checksum;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpBadChecksum);
        return;
    }
    // TCP is for unicast only (RFC 1122 4.2.3.10): a segment to a broadcast address is dropped.
    if (info.link_broadcast || info.header.dst != ip_.address()) {
        ++stats_.rx_malformed;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpNotUnicast);
        return;
    }
    Segment seg{TcpRepr::from(*header), header->payload(), info.header.src, info.header.dst,
                static_cast<std::uint8_t>(info.header.tos & ecn::kMask)};

    if (TcpSocket* s = find_connection(seg.dst, seg.header.dst_port, seg.src, seg.header.src_port)) {
        if (s->log) tcp_log::received(now, *s, seg.header, seg.payload.size());
        segment_arrives(now, s, seg);
        return;
    }
    if (TcpSocket* listener = find_listener(seg.dst, seg.header.dst_port)) {
        listen_input(now, listener, seg);
        return;
    }
    // "If the state is CLOSED (i.e., TCB does not exist) then all data in the incoming segment is
    // discarded. An incoming segment containing a RST is discarded. An incoming segment not
    // containing a RST causes a RST to be sent in response."
    ++stats_.rx_no_socket;
    if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, seg.header.flags.rst() ? TraceNote::TcpNoSocketRst : TraceNote::TcpNoSocket);
    if (!seg.header.flags.rst()) send_reset_for(now, seg);
}

// ---- LISTEN ------------------------------------------------------------------------------------

void TcpLayer::listen_input(Instant now, TcpSocket* listener, const Segment& seg) {
    const TcpFlags flags = seg.header.flags;
    // "First, check for a RST": an incoming RST is ignored.
    if (flags.rst()) {
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpListenRst);
        return;
    }
    // "Second, check for an ACK": any acknowledgment is bad here: <SEQ=SEG.ACK><CTL=RST>. Unless
    // it is the third step of a handshake we answered with a SYN cookie (as Linux, only looked
    // for while cookies were sent recently: otherwise every stray ACK would cost two hashes).
    if (flags.ack()) {
        const auto& overflow = listener->queues.last_overflow;
        if (!flags.syn() && config_.tcp_syncookies && overflow &&
            now - *overflow < Duration::seconds(60 * (syn_cookie::kMaxAgeMinutes + 1))) {
            cookie_ack(now, listener, seg);
            return;
        }
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpListenAck);
        send_reset_for(now, seg);
        return;
    }
    // "Third, check for a SYN".
    if (!flags.syn()) {  // "Fourth, other data or control": drop it.
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpListenNotSyn);
        return;
    }

    // Limits, as Linux applies them. A full accept queue drops the SYN (the peer retries; the
    // application is not keeping up, and cookies would only make more connections it cannot
    // take). So does the stack's connection limit. A full SYN queue, the mark of a SYN flood,
    // is answered with a SYN cookie instead: a real client still gets in, and the flood costs no
    // memory.
    if (connections_.size() >= config_.tcp_max_connections) {
        ++stats_.connection_limit_dropped;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpConnectionLimit);
        return;
    }
    if (listener->queues.accept_queue.size() >= listener->queues.backlog) {
        ++stats_.syn_dropped;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpAcceptQueueFull);
        return;
    }
    if (listener->queues.syn_queue >= config_.tcp_max_syn_backlog) {
        if (!config_.tcp_syncookies) {
            ++stats_.syn_dropped;
            return;
        }
        listener->queues.last_overflow = now;
        std::uint16_t mss = std::min(seg.header.options.mss.value_or(536), our_mss());
        if (listener->opts.user_mss != 0) mss = std::min(mss, listener->opts.user_mss);
        const syn_cookie::Tuple tuple{seg.dst, seg.header.dst_port, seg.src, seg.header.src_port};
        const std::size_t index = syn_cookie::mss_index(mss);
        const SeqNum cookie = syn_cookie::make(cookie_key_, tuple, seg.header.seq, syn_cookie::minute(now), index);
        const auto window = static_cast<std::uint16_t>(std::min<std::size_t>(listener->opts.rcvbuf, 65535));
        TcpOptions options;
        options.mss = syn_cookie::kMssTable[index];
        const auto& syn_ts = seg.header.options.timestamps;
        if (config_.tcp_timestamps && syn_ts) {  // the other options ride in our TSval
            syn_cookie::CookieOptions kept;
            kept.wscale = seg.header.options.window_scale;
            kept.sack = config_.tcp_sack && seg.header.options.sack_permitted;
            if (kept.wscale) options.window_scale = receive_wscale(listener);
            options.sack_permitted = kept.sack;
            const std::uint32_t ts_now = static_cast<std::uint32_t>(now.total_millis()) + syn_cookie::ts_offset(cookie_key_, tuple);
            options.timestamps = TcpOptions::Timestamps{syn_cookie::encode_timestamp(ts_now, kept), syn_ts->tsval};
        }
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpSynCookieSent);
        send_syn_ack_cookie(now, seg, cookie, options, window);
        ++stats_.syn_cookies_sent;
        return;
    }
    TcpSocket* child = make_child(now, listener, seg);

    // "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ ... ISS should be selected and a SYN
    // segment sent of the form <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>."
    child->rcv.irs = seg.header.seq;
    child->rcv.nxt = seg.header.seq + 1;
    child->rcv.adv = child->rcv.nxt;
    apply_options(now, child, seg.header.options);
    child->snd.iss = initial_sequence_number(now, child->local_address, child->local_port, child->remote_address,
                                             child->remote_port);
    child->snd.una = child->snd.iss;
    child->snd.nxt = child->snd.iss;
    child->snd.max = child->snd.iss;
    child->snd.sml = child->snd.iss;
    child->snd.cwnd_usage_seq = child->snd.iss;
    child->snd.wnd = seg.header.window;  // never scaled in a SYN (RFC 7323 2.2)
    child->snd.max_wnd = child->snd.wnd;
    child->snd.wl1 = seg.header.seq;
    child->snd.wl2 = seg.header.ack;
    ecn_accept_syn(child, seg);
    register_connection(child);
    ++listener->queues.syn_queue;
    ++stats_.passive_opens;
    child->state = TcpState::SynReceived;
    if (Tracer* t = config_.tracer) [[unlikely]] t->tcp_state(child->local_port, child->remote_port, "LISTEN", "SYN-RECEIVED");
    if (child->log) tcp_log::state_changed(now, *child, TcpState::Listen);
    transmit(now, child, child->snd.iss, 0, TcpFlags::kSyn | TcpFlags::kAck);
    child->snd.nxt = child->snd.iss + 1;
    child->snd.max = child->snd.nxt;
    child->timers.rto = now + child->snd.rtt.rto();
    arm_timer(child);
}

// A new connection of `listener`'s, for the peer that sent `seg`: options inherited from the
// listener (as Linux), buffers sized (not yet allocated), not yet in any table.
TcpSocket* TcpLayer::make_child(Instant now, TcpSocket* listener, const Segment& seg) {
    TcpSocket* child = open();
    child->listener = listener;
    child->opts = listener->opts;
    child->local_address = seg.dst;
    child->local_port = seg.header.dst_port;
    child->remote_address = seg.src;
    child->remote_port = seg.header.src_port;
    set_up_connection(child);
    child->timers.last_activity = now;
    return child;
}

// The ACK that completes a handshake answered with a SYN cookie (RFC 4987 3.6). If the cookie in
// SEG.ACK - 1 checks out, the connection is made as if the SYN had been queued, ESTABLISHED at
// once, with the MSS the cookie carries and, if the ACK carries timestamps, the window scale and
// SACK its TSecr returns (syn_cookie.h); without them, no window scaling and no SACK.
void TcpLayer::cookie_ack(Instant now, TcpSocket* listener, const Segment& seg) {
    const SeqNum client_isn = seg.header.seq - 1;
    const SeqNum cookie = seg.header.ack - 1;
    const syn_cookie::Tuple tuple{seg.dst, seg.header.dst_port, seg.src, seg.header.src_port};
    const auto index = syn_cookie::check(cookie_key_, tuple, client_isn, cookie, syn_cookie::minute(now));
    const auto& ack_ts = seg.header.options.timestamps;
    std::optional<syn_cookie::CookieOptions> kept;
    if (index && config_.tcp_timestamps && ack_ts) kept = syn_cookie::decode_timestamp(ack_ts->tsecr);
    if (!index) {
        ++stats_.syn_cookies_failed;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpSynCookieBad);
        send_reset_for(now, seg);
        return;
    }
    if (connections_.size() >= config_.tcp_max_connections) {
        ++stats_.connection_limit_dropped;
        return;
    }
    if (listener->queues.accept_queue.size() >= listener->queues.backlog) {
        ++stats_.syn_dropped;  // as Linux: dropped; the client's retransmission may find room
        return;
    }
    ++stats_.syn_cookies_ok;
    ++stats_.passive_opens;
    TcpSocket* child = make_child(now, listener, seg);
    TcpOptions options;
    options.mss = syn_cookie::kMssTable[*index];
    if (kept) {
        options.timestamps = ack_ts;
        options.window_scale = kept->wscale;
        options.sack_permitted = kept->sack;
        child->ts.offset = syn_cookie::ts_offset(cookie_key_, tuple);  // the clock the SYN-ACK's TSval came from
    }
    apply_options(now, child, options);
    child->rcv.irs = client_isn;
    child->rcv.nxt = seg.header.seq;
    // The window our SYN-ACK offered (send_syn_ack_cookie): the data this ACK may carry is judged by it.
    child->rcv.wnd = static_cast<std::uint32_t>(std::min<std::size_t>(child->opts.rcvbuf, 65535));
    child->rcv.adv = child->rcv.nxt + child->rcv.wnd;
    child->snd.iss = cookie;
    child->snd.una = seg.header.ack;
    child->snd.nxt = seg.header.ack;
    child->snd.max = seg.header.ack;
    child->snd.sml = seg.header.ack;
    child->snd.cwnd_usage_seq = seg.header.ack;
    child->snd.wnd = std::uint32_t{seg.header.window} << child->snd.wscale;  // scaled: the ACK is no SYN
    child->snd.max_wnd = child->snd.wnd;
    child->snd.wl1 = seg.header.seq;
    child->snd.wl2 = seg.header.ack;
    register_connection(child);
    listener->queues.accept_queue.push_back(child);
    if (enter_state(now, child, TcpState::Established) == Verdict::Gone) return;
    listener->notify();
    // Data or a FIN on the ACK is taken as on any established connection.
    if (!seg.payload.empty() || seg.header.flags.fin()) segment_arrives(now, child, seg);
}

// What a SYN's options tell us: the peer's MSS (536 without the option, RFC 9293 3.7.1), whether
// both sides scale windows (RFC 7323: only if both SYNs carry the option), and whether SACK (RFC
// 2018) and timestamps (RFC 7323) are on: offered by the peer and allowed by StackConfig (a SYN-ACK
// offers only what the SYN did, so on the active side this is what both offered).
void TcpLayer::apply_options(Instant now, TcpSocket* s, const TcpOptions& options) {
    s->sack_ok = config_.tcp_sack && options.sack_permitted;
    s->ts_ok = config_.tcp_timestamps && options.timestamps.has_value();
    if (s->ts_ok) {
        s->ts.recent = options.timestamps->tsval;
        s->ts.recent_at = now;
    }
    std::uint16_t peer_mss = options.mss.value_or(536);
    std::uint16_t mss = std::min(peer_mss, our_mss());
    if (s->opts.user_mss != 0) mss = std::min(mss, s->opts.user_mss);
    s->mss = std::max<std::uint16_t>(mss, 64);  // never absurdly small (Linux clamps at 88)
    // Every segment will carry the 12 bytes of timestamps (10 and two NOPs), and the MSS option
    // counts data only (RFC 6691): so a segment holds 12 bytes less data, as Linux's mss_cache.
    if (s->ts_ok) s->mss = static_cast<std::uint16_t>(s->mss - 12);
    s->mss_limit = s->mss;                       // the path MTU may lower mss later, never raise it past this
    s->snd.cc = make_congestion(s);
    if (options.window_scale) {
        s->wscale_ok = true;
        s->snd.wscale = std::min<std::uint8_t>(*options.window_scale, 14);
    } else {
        s->wscale_ok = false;
        s->snd.wscale = 0;
        s->rcv.wscale = 0;
    }
}

// RFC 7323 section 5.3, R1 (PAWS): a segment whose TSval is older than TS.Recent is an old duplicate
// (from an earlier incarnation, or wrapped sequence numbers): "treat the arriving segment as not
// acceptable". Not for a RST, and not once TS.Recent is more than 24 days old (section 5.5: the
// peer's clock may have wrapped since). Two exceptions from Linux (tcp_paws_discard): a TSval one
// tick old (TCP_PAWS_WINDOW), and a disordered duplicate ACK (tcp_disordered_ack), whose SACK
// blocks the sender's recovery needs.
bool TcpLayer::paws_reject(Instant now, const TcpSocket* s, const Segment& seg) const {
    if (!s->ts_ok || !seg.header.options.timestamps || seg.header.flags.rst()) return false;
    if (now - s->ts.recent_at > Duration::seconds(24 * 24 * 3600)) return false;
    const auto lag = static_cast<std::int32_t>(s->ts.recent - seg.header.options.timestamps->tsval);
    if (lag <= 1) return false;
    return !disordered_ack(s, seg, lag);
}

// A pure duplicate ACK overtaken on the way by a later one (reordering on the reverse path): it
// acknowledges nothing new (SEG.ACK = SND.UNA), carries no data, sits exactly at RCV.NXT, leaves the
// window as it is, and its TSval is at most one RTO older than TS.Recent. It cannot be an old
// duplicate from an earlier incarnation doing harm, and its SACK blocks are news: take it.
bool TcpLayer::disordered_ack(const TcpSocket* s, const Segment& seg, std::int32_t lag_ms) const {
    const TcpFlags flags = seg.header.flags;
    return flags.ack() && !flags.syn() && !flags.fin() && seg.payload.empty() && seg.header.seq == s->rcv.nxt &&
           seg.header.ack == s->snd.una &&
           (static_cast<std::uint32_t>(seg.header.window) << s->snd.wscale) == s->snd.wnd &&
           lag_ms <= s->snd.rtt.rto().total_millis();
}

// RFC 7323 section 4.3 (3): "If SEG.TSval >= TS.Recent and SEG.SEQ <= Last.ACK.sent, then SEG.TSval
// is copied to TS.Recent": we echo the timestamp of the segment that advanced our ACK, so the
// peer's RTT sample covers the time we held the ACK back, and a segment out of order never sets it.
void TcpLayer::update_ts_recent(Instant now, TcpSocket* s, const Segment& seg) {
    if (!s->ts_ok || !seg.header.options.timestamps) return;
    const std::uint32_t tsval = seg.header.options.timestamps->tsval;
    const bool newer = static_cast<std::int32_t>(tsval - s->ts.recent) >= 0;
    if ((newer || now - s->ts.recent_at > Duration::seconds(24 * 24 * 3600)) && seg.header.seq <= s->ts.last_ack_sent) {
        s->ts.recent = tsval;
        s->ts.recent_at = now;
    }
}

// ---- SYN-SENT ----------------------------------------------------------------------------------

void TcpLayer::syn_sent_input(Instant now, TcpSocket* s, const Segment& seg) {
    const TcpFlags flags = seg.header.flags;
    // "First, check the ACK bit": an ACK outside (ISS, SND.NXT] is unacceptable.
    if (flags.ack() && (seg.header.ack <= s->snd.iss || seg.header.ack > s->snd.max)) {
        if (!flags.rst()) send_reset_for(now, seg);
        return;
    }
    // "Second, check the RST bit": with an acceptable ACK, the connection is refused.
    if (flags.rst()) {
        if (flags.ack()) {
            ++stats_.rx_resets;
            (void)fail(now, s, SocketError::ConnectionRefused);
        }
        return;
    }
    // "Fourth, check the SYN bit".
    if (!flags.syn()) return;
    s->rcv.irs = seg.header.seq;
    s->rcv.nxt = seg.header.seq + 1;
    s->rcv.adv = s->rcv.nxt;
    apply_options(now, s, seg.header.options);
    s->timers.last_activity = now;
    ecn_syn_ack_arrived(s, seg);  // a SYN without ACK (simultaneous open) is no ECN answer
    if (flags.ack()) {
        // Our SYN is acknowledged: ESTABLISHED. The RTT sample is good unless the SYN was resent;
        // then the timestamp echoed tells which SYN it answers (RFC 7323 section 4).
        if (s->timers.retransmits == 0 && s->snd.timed_seq) {
            rtt_sample(s, now - s->snd.timed_sent_at);
        } else if (s->ts_ok && seg.header.options.timestamps && seg.header.options.timestamps->tsecr != 0) {
            const auto ms = static_cast<std::int32_t>(tsval(now, s) - seg.header.options.timestamps->tsecr);
            if (ms >= 0) rtt_sample(s, Duration::millis(std::max(ms, 1)));
        }
        s->snd.una = seg.header.ack;
        // "The window field in a SYN (i.e., a <SYN> or <SYN,ACK>) segment itself is never scaled"
        // (RFC 7323 2.2), even when it carries the option that scales the later ones.
        s->snd.wnd = seg.header.window;
        s->snd.max_wnd = s->snd.wnd;
        s->snd.wl1 = seg.header.seq;
        s->snd.wl2 = seg.header.ack;
        s->timers.rto.reset();
        s->timers.retransmits = 0;
        s->snd.timed_seq.reset();
        (void)enter_state(now, s, TcpState::Established);
        s->rcv.ack_now = true;
        output(now, s);
        return;
    }
    // A SYN without ACK: simultaneous open. "Enter SYN-RECEIVED, form a SYN,ACK segment".
    s->snd.wnd = seg.header.window;
    s->snd.wl1 = seg.header.seq;
    (void)enter_state(now, s, TcpState::SynReceived);
    transmit(now, s, s->snd.iss, 0, TcpFlags::kSyn | TcpFlags::kAck);
    s->timers.rto = now + s->snd.rtt.rto();
    arm_timer(s);
}

// ---- The synchronized states -----------------------------------------------------------------------

// RFC 9293 3.10.7.4 "first, check sequence number": the four cases of segment length and window.
// RCV.WND is what is left of the window we advertised: up to the right edge we promised
// (rcv.adv), which never moves left, since the peer may send up to it (Linux's
// tcp_receive_window). A segment without data is also taken at the edge itself, as Linux's
// tcp_sequence does: a sender that filled the window sends its ACKs there, and when a segment up
// to the edge did not fit in the buffer they would otherwise all be dropped, their ACKs unread.
// (A RST there is still outside: RFC 5961 3.2 drops it silently.)
bool TcpLayer::segment_acceptable(const TcpSocket* s, const Segment& seg) const {
    const std::uint32_t len = static_cast<std::uint32_t>(seg.payload.size()) + (seg.header.flags.syn() ? 1 : 0) +
                              (seg.header.flags.fin() ? 1 : 0);
    const std::uint32_t wnd = s->rcv.nxt < s->rcv.adv ? static_cast<std::uint32_t>(s->rcv.adv - s->rcv.nxt) : 0;
    const SeqNum seq = seg.header.seq;
    auto in_window = [&](SeqNum x) { return s->rcv.nxt <= x && x < s->rcv.nxt + wnd; };
    if (len == 0) {
        if (wnd == 0) return seq == s->rcv.nxt;
        return in_window(seq) || (seq == s->rcv.nxt + wnd && !seg.header.flags.rst());  // RFC 5961 3.2: not a RST
    }
    if (wnd == 0) return false;
    return in_window(seq) || in_window(seq + (len - 1));
}

void TcpLayer::segment_arrives(Instant now, TcpSocket* s, const Segment& seg) {
    if (s->state == TcpState::SynSent) {
        syn_sent_input(now, s, seg);
        return;
    }
    const TcpFlags flags = seg.header.flags;

    // SYN-RECEIVED: the peer's SYN again, or (simultaneous open) its SYN-ACK. Both start at IRS,
    // left of RCV.NXT, so the acceptability test below would reject them and answer a bare ACK.
    if (s->state == TcpState::SynReceived && flags.syn() && !flags.rst() && seg.header.seq == s->rcv.irs) {
        if (!flags.ack()) {
            // Our SYN-ACK was lost: send it again, as Linux does. (A bare ACK carries no SYN and
            // the peer in SYN-SENT would drop it.)
            retransmit_first(now, s);
            return;
        }
        // RFC 9293 figure 8, line 6 (and Linux): the SYN-ACK completes a simultaneous open. Its
        // SYN was received already: trim it ("only the new parts are processed") and take the
        // rest, its ACK, as usual. Then acknowledge it, for a peer that reads 3.10.7.4 strictly and
        // found our own SYN-ACK unacceptable: it still waits for an ACK of its SYN.
        Segment rest = seg;
        rest.header.flags.set(TcpFlags::kSyn, false);
        rest.header.seq = seg.header.seq + 1;
        segment_arrives(now, s, rest);
        if (!s->gone && is_synchronized(s->state)) {
            s->rcv.ack_now = true;
            output(now, s);
        }
        return;
    }

    // ---- first, check sequence number (with PAWS first, RFC 7323 section 5.3 R1) ----
    if (paws_reject(now, s, seg)) {
        ++stats_.paws_rejected;
        if (s->sack_ok && !seg.payload.empty()) {
            s->rcv.dsack = SackBlock{seg.header.seq, seg.header.seq + static_cast<std::uint32_t>(seg.payload.size())};
        }
        s->rcv.ack_now = true;
        output(now, s);
        return;
    }
    if (!segment_acceptable(s, seg)) {
        // "If an incoming segment is not acceptable, an acknowledgment should be sent in reply
        // (unless the RST bit is set)".
        ++stats_.rx_out_of_window;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpOutOfWindow);
        if (!flags.rst()) {
            if (s->state == TcpState::TimeWait && flags.fin()) {
                // "The only thing that can arrive in this state is a retransmission of the remote
                // FIN. Acknowledge it, and restart the 2 MSL timeout." (RFC 9293 3.10.7.4, eighth)
                // A retransmitted FIN lies left of RCV.NXT, so it arrives here.
                s->timers.time_wait = now + config_.tcp_time_wait;
                arm_timer(s);
            }
            // Data we had already: reported as a duplicate (RFC 2883 section 4, D-SACK).
            const SeqNum end = seg.header.seq + static_cast<std::uint32_t>(seg.payload.size());
            if (s->sack_ok && !seg.payload.empty() && end <= s->rcv.nxt) s->rcv.dsack = SackBlock{seg.header.seq, end};
            s->rcv.ack_now = true;
            output(now, s);
        }
        return;
    }
    update_ts_recent(now, s, seg);
    s->timers.last_activity = now;
    s->timers.keepalive_probes = 0;
    if (s->opts.keepalive && s->state == TcpState::Established) {
        s->timers.keepalive = now + s->opts.keepalive_idle;
        arm_timer(s);
    }

    // ---- second, check the RST bit (RFC 5961 section 3.2) ----
    if (flags.rst()) {
        (void)process_rst(now, s, seg);
        return;
    }

    // ---- third, check security (no IP security options: nothing to do) ----

    // ---- fourth, check the SYN bit (RFC 5961 section 4.2) ----
    if (flags.syn()) {
        // A SYN in a synchronized state gets a challenge ACK, whatever its sequence number. (The
        // peer's own SYN again in SYN-RECEIVED was handled above.)
        send_challenge_ack(now, s);
        return;
    }

    // ---- fifth, check the ACK field ----
    if (!flags.ack()) return;  // "if the ACK bit is off, drop the segment and return"
    ecn_segment_arrived(s, seg);  // CE marks and the peer's CWR (RFC 3168 6.1.3)
    if (process_ack(now, s, seg) != Verdict::Continue) return;

    // ---- sixth, check the URG bit (urgent data is not supported: the pointer is ignored) ----

    // ---- seventh, process the segment text ----
    if (!seg.payload.empty()) process_text(now, s, seg);

    // ---- eighth, check the FIN bit ----
    if (flags.fin() && process_fin(now, s, seg) == Verdict::Gone) return;

    output(now, s);
}

// RFC 9293 3.10.7.4 "second, check the RST bit", with RFC 5961 section 3.2: only a RST at exactly
// RCV.NXT resets the connection; one elsewhere in the window gets a challenge ACK.
Verdict TcpLayer::process_rst(Instant now, TcpSocket* s, const Segment& seg) {
    if (seg.header.seq != s->rcv.nxt) {
        // In the window but not exact: maybe a blind attack. Answer with a challenge ACK.
        send_challenge_ack(now, s);
        return Verdict::Drop;
    }
    ++stats_.rx_resets;
    if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpResetAccepted);
    switch (s->state) {
        case TcpState::SynReceived:
            // From a passive open: back to LISTEN, i.e. the child goes away quietly.
            if (s->listener != nullptr) {
                destroy(s);
                return Verdict::Gone;
            }
            return fail(now, s, SocketError::ConnectionRefused);
        case TcpState::Established:
        case TcpState::FinWait1:
        case TcpState::FinWait2:
        case TcpState::CloseWait:
            ++stats_.established_resets;
            return fail(now, s, SocketError::ConnectionReset);
        default:  // CLOSING, LAST-ACK, TIME-WAIT: "enter the CLOSED state, delete the TCB"
            if (s->user_closed || s->state == TcpState::TimeWait) {
                destroy(s);
                return Verdict::Gone;
            }
            return fail(now, s, SocketError::ConnectionReset);
    }
}

// RFC 9293 3.10.7.4 "fifth, check the ACK field". Drop: the segment goes no further (an
// unacceptable ACK, answered). Gone: the ACK ended the connection (our FIN acknowledged in
// LAST-ACK, or CLOSING to a TIME-WAIT over its bound).
Verdict TcpLayer::process_ack(Instant now, TcpSocket* s, const Segment& seg) {
    const SeqNum ack = seg.header.ack;

    // A zero-window probe (on_persist) carries one byte at SND.NXT that is not counted as sent. A
    // receiver whose window had opened (its update lost) keeps the byte and acknowledges it: that
    // ACK is for data we did send. Count the byte as sent now; otherwise the ACK would look like
    // one for unsent data and be dropped, every later probe would be a duplicate, and the
    // connection would stall for good.
    if (s->timers.probes > 0 && ack == s->snd.max + 1 && s->snd.nxt == s->snd.max &&
        s->snd.buffer.size() > s->snd.in_flight()) {
        s->snd.nxt = ack;
        s->snd.max = ack;
    }

    if (s->state == TcpState::SynReceived) {
        // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state ... If the segment
        // acknowledgment is not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it."
        if (!(s->snd.una < ack && ack <= s->snd.max)) {
            send_reset_for(now, seg);
            return Verdict::Drop;
        }
        if (s->timers.retransmits == 0 && s->snd.timed_seq) {
            rtt_sample(s, now - s->snd.timed_sent_at);
        } else if (s->ts_ok && seg.header.options.timestamps && seg.header.options.timestamps->tsecr != 0) {
            const auto ms = static_cast<std::int32_t>(tsval(now, s) - seg.header.options.timestamps->tsecr);
            if (ms >= 0) rtt_sample(s, Duration::millis(std::max(ms, 1)));
        }
        s->snd.una = s->snd.iss + 1;
        s->snd.wnd = static_cast<std::uint32_t>(seg.header.window) << s->snd.wscale;
        s->snd.max_wnd = s->snd.wnd;
        s->snd.wl1 = seg.header.seq;
        s->snd.wl2 = ack;
        s->timers.rto.reset();
        s->timers.retransmits = 0;
        s->snd.timed_seq.reset();
        if (TcpSocket* l = s->listener) {
            if (l->queues.syn_queue > 0) --l->queues.syn_queue;
            l->queues.accept_queue.push_back(s);
            l->notify();
        }
        if (enter_state(now, s, TcpState::Established) == Verdict::Gone) return Verdict::Gone;
    }

    // RFC 5961 section 5.2: an ACK of data never sent is answered and dropped.
    if (ack > s->snd.max) {
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpAckOfUnsent);
        s->rcv.ack_now = true;
        output(now, s);
        return Verdict::Drop;
    }

    // For PRR (prr_ack): what the scoreboard held before this ACK.
    const std::uint32_t sacked_before = s->rec.scoreboard.sacked_bytes();
    const Counter lost_before = stats_.rack_lost;
    if (ack < s->snd.una) {
        // An old duplicate: "it can be ignored" (RFC 9293); its SACK blocks still tell (Linux reads
        // them too: a D-SACK often comes on such an ACK).
        if (s->sack_ok) {
            sack_input(now, s, seg);
            prr_ack(s, s->snd.una, sacked_before, lost_before, 0, false);
        }
        return Verdict::Continue;
    }

    const std::uint32_t in_flight_before = s->snd.in_flight();
    const SeqNum una_before = s->snd.una;
    std::uint32_t reno_delivered = 0;  // without SACK: what this ACK delivered (RFC 6937 DeliveredData)
    bool reno_lost = false;            // without SACK: it showed the next hole lost too (a partial ACK)
    if (s->snd.una < ack) {
        // New data acknowledged.
        std::uint32_t acked = static_cast<std::uint32_t>(ack - s->snd.una);
        std::uint32_t data_acked = acked;
        bool fin_acked = false;
        if (s->snd.fin_sent && ack == s->snd.fin_seq + 1) {
            fin_acked = true;
            data_acked -= 1;
        }
        s->snd.buffer.consume(data_acked);
        release_buffers(s);
        // RFC 6298 (5.2)/(5.3): restart the timer when new data is acknowledged; stop it when
        // everything is. An RTT sample from the timed segment, unless it was retransmitted (Karn).
        // With timestamps, the echoed TSval times a retransmission too, since it says which
        // transmission the ACK answers (RFC 7323 section 4, RTTM): when Karn stopped the timing
        // (a retransmission), the sample comes from TSecr, in milliseconds as Linux's
        // tcp_rtt_tsopt_us (0 counts as 1).
        // Every ACK's TSecr also times the path for the congestion controller (HyStart++ wants
        // a sample per ACK, RFC 9406 4.2), while the RTO keeps RFC 6298's one sample per round trip.
        std::optional<Duration> ts_sample;
        if (s->ts_ok && seg.header.options.timestamps && seg.header.options.timestamps->tsecr != 0) {
            const auto ms = static_cast<std::int32_t>(tsval(now, s) - seg.header.options.timestamps->tsecr);
            if (ms >= 0) ts_sample = Duration::millis(std::max(ms, 1));
        }
        if (s->snd.timed_seq && *s->snd.timed_seq <= ack) {
            rtt_sample(s, now - s->snd.timed_sent_at);
            s->snd.timed_seq.reset();
        } else if (!s->snd.timed_seq && ts_sample) {
            rtt_sample(s, *ts_sample);
        } else if (ts_sample && s->snd.rtt.has_sample()) {
            s->snd.cc->on_rtt(*ts_sample, s->snd.rtt.srtt());
        }
        const SeqNum prior_una = s->snd.una;
        s->snd.una = ack;
        if (s->sack_ok) {
            bool original_acked = false;  // data sent only once (Linux's FLAG_ORIG_SACK_ACKED)
            s->rec.scoreboard.on_cumulative_ack(ack, [&](const Scoreboard::Entry& e) {
                original_acked = original_acked || !e.ever_retransmitted;
                rack_delivered(now, s, e, &seg);
            });
            // Eifel (RFC 3522): the first ACK to cover the episode's first retransmission echoes a
            // TSval from before it: the original arrived, the retransmission was spurious.
            if (s->rec.undo_armed && s->rec.first_rxt_seq && prior_una <= *s->rec.first_rxt_seq &&
                *s->rec.first_rxt_seq < ack) {
                const auto& ts = seg.header.options.timestamps;
                if (s->ts_ok && ts && ts->tsecr != 0 &&
                    static_cast<std::int32_t>(ts->tsecr - s->rec.first_rxt_tsval) < 0) {
                    undo(s);
                }
                s->rec.first_rxt_seq.reset();
            }
            if (s->rec.rto_high && *s->rec.rto_high <= ack) {
                s->rec.rto_high.reset();
                s->rec.frto = 0;
            }
            if (s->rec.frto != 0) frto_ack(s, original_acked);
        }
        if (s->snd.nxt < s->snd.una) s->snd.nxt = s->snd.una;
        s->timers.retransmits = 0;
        s->soft_error.reset();
        if (!s->sack_ok) {
            // As Linux's tcp_remove_reno_sacks: the duplicate ACKs counted part of this already; one
            // MSS of it at least is new.
            std::uint32_t& dup = s->rec.reno_sacked;
            reno_delivered = acked > dup ? acked - dup : std::min<std::uint32_t>(acked, s->mss);
            dup = acked >= dup + s->mss ? 0 : dup - (acked > s->mss ? acked - s->mss : 0);
            dup = std::min(dup, s->snd.in_flight());
        }
        const bool retransmit_hole = s->snd.cc->on_ack(now, acked, ack, in_flight_before);
        reno_lost = retransmit_hole;
        snd_buffer_expand(s);  // the send buffer keeps ahead of the window (autotune.cpp)
        if (s->snd.una == s->snd.max) {
            s->timers.rto.reset();
        } else {
            s->timers.rto = now + s->snd.rtt.rto();
            if (retransmit_hole) {
                // NewReno partial ACK (RFC 6582 3.2 step 3): the next hole is lost too.
                if (s->log) tcp_log::cause(now, *s, TcpLogEvent::PartialAck);
                retransmit_first(now, s);
            }
        }
        arm_timer(s);
        s->notify();  // send buffer space opened

        if (fin_acked) {
            switch (s->state) {
                case TcpState::FinWait1:
                    if (enter_state(now, s, TcpState::FinWait2) == Verdict::Gone) return Verdict::Gone;
                    if (s->user_closed) {
                        s->timers.time_wait = now + config_.tcp_fin_timeout;
                        arm_timer(s);
                    }
                    break;
                case TcpState::Closing:
                    if (enter_state(now, s, TcpState::TimeWait) == Verdict::Gone) return Verdict::Gone;
                    return Verdict::Drop;
                case TcpState::LastAck:
                    // "The only thing that can arrive in this state is an acknowledgment of our
                    // FIN. If our FIN is now acknowledged, delete the TCB."
                    s->connect_reported = true;
                    destroy(s);
                    return Verdict::Gone;
                default: break;
            }
        }
    } else if (!s->sack_ok && seg.payload.empty() && !seg.header.flags.fin() && !seg.header.flags.syn() &&
               s->snd.una != s->snd.max && static_cast<std::uint32_t>(seg.header.window) << s->snd.wscale == s->snd.wnd) {
        // RFC 5681 section 2 "DUPLICATE ACKNOWLEDGMENT": no data, no SYN/FIN, same ACK, same
        // window, with data outstanding. It says a segment left the network.
        s->rec.reno_sacked = std::min(s->rec.reno_sacked + s->mss, s->snd.in_flight());
        reno_delivered = s->mss;
        if (s->snd.cc->on_dup_ack(s->snd.una, s->snd.max, s->snd.in_flight())) {
            ++stats_.fast_retransmits;
            if (s->log) tcp_log::cause(now, *s, TcpLogEvent::FastRetransmit);
            s->snd.timed_seq.reset();
            retransmit_first(now, s);
            s->timers.rto = now + s->snd.rtt.rto();
            arm_timer(s);
        }
    }

    // F-RTO: a duplicate ACK after the timeout's retransmission says the timeout was real.
    if (s->rec.frto != 0 && ack == una_before && s->snd.una != s->snd.max && seg.payload.empty()) frto_dupack(s);
    // With SACK, loss is found from the blocks and the clock (RACK), not by counting duplicates.
    if (s->sack_ok && is_synchronized(s->state)) sack_input(now, s, seg);
    // ECE: reduce the window, once per window of data (RFC 3168 6.1.2); PRR's first step is this
    // ACK's, as Linux's tcp_enter_cwr comes before its tcp_cwnd_reduction.
    ecn_ack_arrived(s, seg);
    prr_ack(s, una_before, sacked_before, lost_before, reno_delivered, reno_lost);

    update_window(s, seg);
    return Verdict::Continue;
}

// RFC 9293 3.10.7.4: "If SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK), set
// SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
void TcpLayer::update_window(TcpSocket* s, const Segment& seg) {
    if (s->snd.wl1 < seg.header.seq || (s->snd.wl1 == seg.header.seq && s->snd.wl2 <= seg.header.ack)) {
        const std::uint32_t old = s->snd.wnd;
        s->snd.wnd = static_cast<std::uint32_t>(seg.header.window) << s->snd.wscale;
        s->snd.max_wnd = std::max(s->snd.max_wnd, s->snd.wnd);
        s->snd.wl1 = seg.header.seq;
        s->snd.wl2 = seg.header.ack;
        if (s->snd.wnd > 0) {
            s->timers.persist.reset();
            s->timers.probes = 0;
            if (old == 0) s->notify();
        }
    }
}

void TcpLayer::process_text(Instant now, TcpSocket* s, const Segment& seg) {
    // Only ESTABLISHED, FIN-WAIT-1 and FIN-WAIT-2 take data; after the peer's FIN, more data is
    // a protocol error we ignore.
    if (s->state != TcpState::Established && s->state != TcpState::FinWait1 && s->state != TcpState::FinWait2) return;
    if (s->rcv.fin_received) return;

    Bytes data = seg.payload;
    std::int32_t offset = seg.header.seq - s->rcv.nxt;
    if (offset < 0) {
        // The front was already received (a retransmission overlapping new data): trim it.
        const std::size_t old = static_cast<std::size_t>(-static_cast<std::int64_t>(offset));
        if (old >= data.size()) {
            ++stats_.rx_duplicate;
            if (s->sack_ok) s->rcv.dsack = SackBlock{seg.header.seq, seg.header.seq + static_cast<std::uint32_t>(seg.payload.size())};
            if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpDuplicate);
            s->rcv.ack_now = true;
            return;
        }
        // The front was a duplicate: reported (RFC 2883 section 4.1.3, as Linux).
        if (s->sack_ok) s->rcv.dsack = SackBlock{seg.header.seq, s->rcv.nxt};
        data = data.subspan(old);
        offset = 0;
    }
    if (s->rcv.shut_rd) {
        // shutdown(SHUT_RD): accept and discard (Linux acknowledges and drops the bytes).
        if (offset == 0) {
            s->rcv.nxt += static_cast<std::uint32_t>(data.size());
            s->rcv.ack_now = true;
        }
        return;
    }
    // Anything beyond the space we have is cut off (the peer exceeded the window).
    const std::size_t space = s->rcv.buffer.free();
    if (static_cast<std::size_t>(offset) >= space) {
        s->rcv.ack_now = true;
        return;
    }
    data = data.first(std::min(data.size(), space - static_cast<std::size_t>(offset)));

    if (offset == 0) {
        s->rcv.buffer.write_at(0, data);
        const std::size_t extra = s->rcv.assembler.take_front(data.size());
        s->rcv.buffer.commit(data.size() + extra);
        s->rcv.nxt += static_cast<std::uint32_t>(data.size() + extra);
        if (Tracer* t = config_.tracer) [[unlikely]] {
            t->note(TraceLayer::Tcp, TraceNote::TcpDataQueued, static_cast<std::uint32_t>(data.size() + extra),
                    static_cast<std::uint32_t>(s->rcv.buffer.size()));
        }
        rcv_rtt_measure(now, s);  // the receiver's RTT, for auto-tuning (autotune.cpp)
        if (extra > 0 || !s->rcv.assembler.empty()) {
            // Filling a hole: acknowledge at once, so the sender's recovery ends quickly (RFC 5681 4.2).
            s->rcv.ack_now = true;
        } else if (++s->rcv.segments_since_ack >= 2) {
            // At least every second full-sized segment is acknowledged (RFC 5681 4.2).
            s->rcv.ack_now = true;
        } else if (!s->timers.delayed_ack) {
            s->timers.delayed_ack = now + config_.tcp_delayed_ack;
            arm_timer(s);
        }
        s->notify();
    } else {
        // Out of order: keep it at its place, and send an immediate duplicate ACK (RFC 5681 4.2)
        // so the sender's fast retransmit can start.
        ++stats_.rx_out_of_order;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Tcp, TraceNote::TcpOutOfOrder, static_cast<std::uint32_t>(data.size()));
        const auto start = static_cast<std::size_t>(offset);
        if (s->sack_ok) {
            // Bytes we hold already, beyond a hole: a D-SACK for them (RFC 2883 section 4.1.2).
            for (const auto& r : s->rcv.assembler.ranges()) {
                const std::size_t from = std::max(r.start, start), to = std::min(r.end, start + data.size());
                if (from < to) {
                    s->rcv.dsack = SackBlock{s->rcv.nxt + static_cast<std::uint32_t>(from), s->rcv.nxt + static_cast<std::uint32_t>(to)};
                    break;
                }
            }
        }
        if (s->rcv.assembler.add(start, data.size())) {
            s->rcv.buffer.write_at(start, data);
            if (s->sack_ok) note_received_out_of_order(s, s->rcv.nxt + static_cast<std::uint32_t>(offset));
        }
        s->rcv.ack_now = true;
    }
}

// RFC 9293 3.10.7.4 "eighth, check the FIN bit". Gone: the FIN took us to a TIME-WAIT that the
// bound on TIME-WAIT entries cut short.
Verdict TcpLayer::process_fin(Instant now, TcpSocket* s, const Segment& seg) {
    // The FIN counts only when everything before it has arrived.
    const SeqNum fin_seq = seg.header.seq + static_cast<std::uint32_t>(seg.payload.size());
    if (fin_seq != s->rcv.nxt || s->rcv.fin_received) {
        if (s->rcv.fin_received && fin_seq + 1 == s->rcv.nxt) s->rcv.ack_now = true;  // a retransmitted FIN
        return Verdict::Continue;
    }
    s->rcv.fin_received = true;
    s->rcv.nxt += 1;
    s->rcv.ack_now = true;
    Verdict verdict = Verdict::Continue;
    switch (s->state) {
        case TcpState::SynReceived:
        case TcpState::Established: verdict = enter_state(now, s, TcpState::CloseWait); break;
        case TcpState::FinWait1:
            // Our FIN not yet acknowledged (else we would be in FIN-WAIT-2): simultaneous close.
            verdict = enter_state(now, s, TcpState::Closing);
            break;
        case TcpState::FinWait2:
            // The FIN is acknowledged first (as Linux's tcp_fin): the FIN-WAIT-2 -> TIME-WAIT step
            // may free the socket (the TIME-WAIT bound), and the peer must still hear its ACK.
            // Whoever called us must not use the socket then, and is told so.
            send_ack(now, s);
            verdict = enter_state(now, s, TcpState::TimeWait);
            break;
        case TcpState::TimeWait:
            s->timers.time_wait = now + config_.tcp_time_wait;  // "restart the 2 MSL time-out"
            arm_timer(s);
            break;
        default: break;
    }
    if (verdict == Verdict::Gone) return verdict;
    s->notify();
    return Verdict::Continue;
}

}  // namespace tcpip
