// Segment arrival: RFC 9293 section 3.10.7 ("SEGMENT ARRIVES"), step by step and in its order,
// with the RST and SYN rules of RFC 5961. The headings below are the RFC's.
#include <algorithm>

#include "stack/tcp/tcp.h"

namespace tcpip {

void TcpLayer::receive(Instant now, const Ipv4RxInfo& info, Packet payload) {
    ++stats_.rx_segments;
    auto header = TcpHeader::parse(payload.bytes());
    if (!header) {
        ++stats_.rx_malformed;
        return;
    }
    // A device with checksum offload may have vouched for it already (PacketOffload).
    if (config_.verify_rx_checksums && !payload.offload().checksum_verified &&
        !header->checksum_valid(info.header.src, info.header.dst)) {
        ++stats_.rx_bad_checksum;
        return;
    }
    // TCP is for unicast only (RFC 1122 4.2.3.10): a segment to a broadcast address is dropped.
    if (info.link_broadcast || info.header.dst != ip_.address()) {
        ++stats_.rx_malformed;
        return;
    }
    Segment seg{TcpRepr::from(*header), header->payload(), info.header.src, info.header.dst};

    if (TcpSocket* s = find_connection(seg.dst, seg.header.dst_port, seg.src, seg.header.src_port)) {
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
    if (!seg.header.flags.rst()) send_reset_for(now, seg);
}

// ---- LISTEN ------------------------------------------------------------------------------------

void TcpLayer::listen_input(Instant now, TcpSocket* listener, const Segment& seg) {
    const TcpFlags flags = seg.header.flags;
    // "First, check for a RST": an incoming RST is ignored.
    if (flags.rst()) return;
    // "Second, check for an ACK": any acknowledgment is bad here: <SEQ=SEG.ACK><CTL=RST>.
    if (flags.ack()) {
        send_reset_for(now, seg);
        return;
    }
    // "Third, check for a SYN".
    if (!flags.syn()) return;  // "Fourth, other data or control": drop it.

    // The listen backlog: a bounded number of half-open children and of connections waiting for
    // accept(). When full, the SYN is dropped (the peer will retry): established connections are
    // not affected.
    if (listener->syn_queue >= config_.tcp_max_syn_backlog || listener->accept_queue.size() >= listener->backlog) {
        ++stats_.syn_dropped;
        return;
    }
    TcpSocket* child = open();
    child->listener = listener;
    child->copy_options_from(*listener);
    child->local_address = seg.dst;
    child->local_port = seg.header.dst_port;
    child->remote_address = seg.src;
    child->remote_port = seg.header.src_port;
    set_up_connection(child, 0, false);

    // "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ ... ISS should be selected and a SYN
    // segment sent of the form <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>."
    child->irs = seg.header.seq;
    child->rcv_nxt = seg.header.seq + 1;
    child->rcv_adv = child->rcv_nxt;
    apply_options(child, seg.header.options);
    child->iss = initial_sequence_number(now, child->local_address, child->local_port, child->remote_address,
                                         child->remote_port);
    child->snd_una = child->iss;
    child->snd_nxt = child->iss;
    child->snd_max = child->iss;
    child->snd_sml = child->iss;
    child->snd_wnd = seg.header.window;  // never scaled in a SYN (RFC 7323 2.2)
    child->max_snd_wnd = child->snd_wnd;
    child->snd_wl1 = seg.header.seq;
    child->snd_wl2 = seg.header.ack;
    child->last_activity = now;
    register_connection(child);
    ++listener->syn_queue;
    ++stats_.passive_opens;
    child->state = TcpState::SynReceived;
    transmit(now, child, child->iss, 0, TcpFlags::kSyn | TcpFlags::kAck);
    child->snd_nxt = child->iss + 1;
    child->snd_max = child->snd_nxt;
    child->rto_deadline = now + child->rtt->rto();
    arm_timer(child);
}

// What a SYN's options tell us: the peer's MSS (536 without the option, RFC 9293 3.7.1) and
// whether both sides scale windows (RFC 7323: only if both SYNs carry the option).
void TcpLayer::apply_options(TcpSocket* s, const TcpOptions& options) {
    std::uint16_t peer_mss = options.mss.value_or(536);
    std::uint16_t mss = std::min(peer_mss, our_mss());
    if (s->user_mss != 0) mss = std::min(mss, s->user_mss);
    s->mss = std::max<std::uint16_t>(mss, 64);  // never absurdly small (Linux clamps at 88)
    s->congestion = make_new_reno(s->mss);
    if (options.window_scale) {
        s->wscale_ok = true;
        s->snd_wscale = std::min<std::uint8_t>(*options.window_scale, 14);
    } else {
        s->wscale_ok = false;
        s->snd_wscale = 0;
        s->rcv_wscale = 0;
    }
}

// ---- SYN-SENT ----------------------------------------------------------------------------------

void TcpLayer::syn_sent_input(Instant now, TcpSocket* s, const Segment& seg) {
    const TcpFlags flags = seg.header.flags;
    // "First, check the ACK bit": an ACK outside (ISS, SND.NXT] is unacceptable.
    if (flags.ack() && (seg.header.ack <= s->iss || seg.header.ack > s->snd_max)) {
        if (!flags.rst()) send_reset_for(now, seg);
        return;
    }
    // "Second, check the RST bit": with an acceptable ACK, the connection is refused.
    if (flags.rst()) {
        if (flags.ack()) {
            ++stats_.rx_resets;
            fail(now, s, SocketError::ConnectionRefused);
        }
        return;
    }
    // "Fourth, check the SYN bit".
    if (!flags.syn()) return;
    s->irs = seg.header.seq;
    s->rcv_nxt = seg.header.seq + 1;
    s->rcv_adv = s->rcv_nxt;
    apply_options(s, seg.header.options);
    s->last_activity = now;
    if (flags.ack()) {
        // Our SYN is acknowledged: ESTABLISHED. The RTT sample is good unless the SYN was resent.
        if (s->retransmits == 0 && s->timed_seq) s->rtt->sample(now - s->timed_sent_at);
        s->snd_una = seg.header.ack;
        // "The window field in a SYN (i.e., a <SYN> or <SYN,ACK>) segment itself is never scaled"
        // (RFC 7323 2.2), even when it carries the option that scales the later ones.
        s->snd_wnd = seg.header.window;
        s->max_snd_wnd = s->snd_wnd;
        s->snd_wl1 = seg.header.seq;
        s->snd_wl2 = seg.header.ack;
        s->rto_deadline.reset();
        s->retransmits = 0;
        s->timed_seq.reset();
        enter_state(now, s, TcpState::Established);
        s->ack_now = true;
        output(now, s);
        return;
    }
    // A SYN without ACK: simultaneous open. "Enter SYN-RECEIVED, form a SYN,ACK segment".
    s->snd_wnd = seg.header.window;
    s->snd_wl1 = seg.header.seq;
    enter_state(now, s, TcpState::SynReceived);
    transmit(now, s, s->iss, 0, TcpFlags::kSyn | TcpFlags::kAck);
    s->rto_deadline = now + s->rtt->rto();
    arm_timer(s);
}

// ---- The synchronized states -----------------------------------------------------------------------

// RFC 9293 3.10.7.4 "first, check sequence number": the four cases of segment length and window.
bool TcpLayer::segment_acceptable(const TcpSocket* s, const Segment& seg) const {
    const std::uint32_t len = static_cast<std::uint32_t>(seg.payload.size()) + (seg.header.flags.syn() ? 1 : 0) +
                              (seg.header.flags.fin() ? 1 : 0);
    const std::uint32_t wnd = s->rcv_wnd;
    const SeqNum seq = seg.header.seq;
    auto in_window = [&](SeqNum x) { return s->rcv_nxt <= x && x < s->rcv_nxt + wnd; };
    if (len == 0) return wnd == 0 ? seq == s->rcv_nxt : in_window(seq);
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
    if (s->state == TcpState::SynReceived && flags.syn() && !flags.rst() && seg.header.seq == s->irs) {
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
        if (sockets_.contains(s) && is_synchronized(s->state)) {
            s->ack_now = true;
            output(now, s);
        }
        return;
    }

    // ---- first, check sequence number ----
    if (!segment_acceptable(s, seg)) {
        // "If an incoming segment is not acceptable, an acknowledgment should be sent in reply
        // (unless the RST bit is set)".
        ++stats_.rx_out_of_window;
        if (!flags.rst()) {
            if (s->state == TcpState::TimeWait && flags.fin()) {
                // "The only thing that can arrive in this state is a retransmission of the remote
                // FIN. Acknowledge it, and restart the 2 MSL timeout." (RFC 9293 3.10.7.4, eighth)
                // A retransmitted FIN lies left of RCV.NXT, so it arrives here.
                s->time_wait_deadline = now + config_.tcp_time_wait;
                arm_timer(s);
            }
            s->ack_now = true;
            output(now, s);
        }
        return;
    }
    s->last_activity = now;
    s->keepalive_probes_sent = 0;
    if (s->keepalive && s->state == TcpState::Established) {
        s->keepalive_deadline = now + s->keepalive_idle;
        arm_timer(s);
    }

    // ---- second, check the RST bit (RFC 5961 section 3.2) ----
    if (flags.rst()) {
        if (seg.header.seq != s->rcv_nxt) {
            // In the window but not exact: maybe a blind attack. Answer with a challenge ACK.
            send_challenge_ack(now, s);
            return;
        }
        ++stats_.rx_resets;
        switch (s->state) {
            case TcpState::SynReceived:
                // From a passive open: back to LISTEN, i.e. the child goes away quietly.
                if (s->listener != nullptr) {
                    destroy(s);
                } else {
                    fail(now, s, SocketError::ConnectionRefused);
                }
                return;
            case TcpState::Established:
            case TcpState::FinWait1:
            case TcpState::FinWait2:
            case TcpState::CloseWait:
                ++stats_.established_resets;
                fail(now, s, SocketError::ConnectionReset);
                return;
            default:  // CLOSING, LAST-ACK, TIME-WAIT: "enter the CLOSED state, delete the TCB"
                if (s->user_closed || s->state == TcpState::TimeWait) {
                    destroy(s);
                } else {
                    fail(now, s, SocketError::ConnectionReset);
                }
                return;
        }
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
    bool drop = false;
    process_ack(now, s, seg, drop);
    if (drop || !sockets_.contains(s)) return;

    // ---- sixth, check the URG bit (urgent data is not supported: the pointer is ignored) ----

    // ---- seventh, process the segment text ----
    if (!seg.payload.empty()) process_text(now, s, seg);

    // ---- eighth, check the FIN bit ----
    if (flags.fin()) process_fin(now, s, seg);
    if (!sockets_.contains(s)) return;

    output(now, s);
}

void TcpLayer::process_ack(Instant now, TcpSocket* s, const Segment& seg, bool& drop) {
    const SeqNum ack = seg.header.ack;

    // A zero-window probe (on_persist) carries one byte at SND.NXT that is not counted as sent. A
    // receiver whose window had opened (its update lost) keeps the byte and acknowledges it: that
    // ACK is for data we did send. Count the byte as sent now; otherwise the ACK would look like
    // one for unsent data and be dropped, every later probe would be a duplicate, and the
    // connection would stall for good.
    if (s->persist_backoff > 0 && ack == s->snd_max + 1 && s->snd_nxt == s->snd_max &&
        s->send_buffer.size() > s->in_flight()) {
        s->snd_nxt = ack;
        s->snd_max = ack;
    }

    if (s->state == TcpState::SynReceived) {
        // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state ... If the segment
        // acknowledgment is not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it."
        if (!(s->snd_una < ack && ack <= s->snd_max)) {
            send_reset_for(now, seg);
            drop = true;
            return;
        }
        if (s->retransmits == 0 && s->timed_seq) s->rtt->sample(now - s->timed_sent_at);
        s->snd_una = s->iss + 1;
        s->snd_wnd = static_cast<std::uint32_t>(seg.header.window) << s->snd_wscale;
        s->max_snd_wnd = s->snd_wnd;
        s->snd_wl1 = seg.header.seq;
        s->snd_wl2 = ack;
        s->rto_deadline.reset();
        s->retransmits = 0;
        s->timed_seq.reset();
        if (TcpSocket* l = s->listener) {
            if (l->syn_queue > 0) --l->syn_queue;
            l->accept_queue.push_back(s);
            l->notify();
        }
        enter_state(now, s, TcpState::Established);
    }

    // RFC 5961 section 5.2: an ACK of data never sent is answered and dropped.
    if (ack > s->snd_max) {
        s->ack_now = true;
        output(now, s);
        drop = true;
        return;
    }

    if (ack < s->snd_una) return;  // an old duplicate: ignore it (RFC 9293: "it can be ignored")

    const std::uint32_t in_flight_before = s->in_flight();
    if (s->snd_una < ack) {
        // New data acknowledged.
        std::uint32_t acked = static_cast<std::uint32_t>(ack - s->snd_una);
        std::uint32_t data_acked = acked;
        bool fin_acked = false;
        if (s->fin_sent && ack == s->fin_seq + 1) {
            fin_acked = true;
            data_acked -= 1;
        }
        s->send_buffer.consume(data_acked);
        // RFC 6298 (5.2)/(5.3): restart the timer when new data is acknowledged; stop it when
        // everything is. An RTT sample from the timed segment, unless it was retransmitted (Karn).
        if (s->timed_seq && *s->timed_seq <= ack) {
            s->rtt->sample(now - s->timed_sent_at);
            s->timed_seq.reset();
        }
        s->snd_una = ack;
        if (s->snd_nxt < s->snd_una) s->snd_nxt = s->snd_una;
        s->retransmits = 0;
        s->soft_error.reset();
        const bool retransmit_hole = s->congestion->on_ack(acked, ack.raw(), in_flight_before);
        s->dup_acks = 0;
        if (s->snd_una == s->snd_max) {
            s->rto_deadline.reset();
        } else {
            s->rto_deadline = now + s->rtt->rto();
            if (retransmit_hole) {
                // NewReno partial ACK (RFC 6582 3.2 step 3): the next hole is lost too.
                retransmit_first(now, s);
            }
        }
        arm_timer(s);
        s->notify();  // send buffer space opened

        if (fin_acked) {
            switch (s->state) {
                case TcpState::FinWait1:
                    enter_state(now, s, TcpState::FinWait2);
                    if (s->user_closed) {
                        s->time_wait_deadline = now + config_.tcp_fin_timeout;
                        arm_timer(s);
                    }
                    break;
                case TcpState::Closing:
                    enter_state(now, s, TcpState::TimeWait);
                    drop = true;
                    return;
                case TcpState::LastAck:
                    // "The only thing that can arrive in this state is an acknowledgment of our
                    // FIN. If our FIN is now acknowledged, delete the TCB."
                    s->state = TcpState::Closed;
                    s->connect_reported = true;
                    unregister_connection(s);
                    destroy(s);
                    drop = true;
                    return;
                default: break;
            }
        }
    } else if (seg.payload.empty() && !seg.header.flags.fin() && !seg.header.flags.syn() && s->snd_una != s->snd_max &&
               static_cast<std::uint32_t>(seg.header.window) << s->snd_wscale == s->snd_wnd) {
        // RFC 5681 section 2 "DUPLICATE ACKNOWLEDGMENT": no data, no SYN/FIN, same ACK, same
        // window, with data outstanding.
        ++s->dup_acks;
        if (s->congestion->on_dup_ack(s->snd_una.raw(), s->snd_max.raw(), s->in_flight())) {
            ++stats_.fast_retransmits;
            s->timed_seq.reset();
            retransmit_first(now, s);
            s->rto_deadline = now + s->rtt->rto();
            arm_timer(s);
        }
    }

    update_window(s, seg);
}

// RFC 9293 3.10.7.4: "If SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK), set
// SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
void TcpLayer::update_window(TcpSocket* s, const Segment& seg) {
    if (s->snd_wl1 < seg.header.seq || (s->snd_wl1 == seg.header.seq && s->snd_wl2 <= seg.header.ack)) {
        const std::uint32_t old = s->snd_wnd;
        s->snd_wnd = static_cast<std::uint32_t>(seg.header.window) << s->snd_wscale;
        s->max_snd_wnd = std::max(s->max_snd_wnd, s->snd_wnd);
        s->snd_wl1 = seg.header.seq;
        s->snd_wl2 = seg.header.ack;
        if (s->snd_wnd > 0) {
            s->persist_deadline.reset();
            s->persist_backoff = 0;
            if (old == 0) s->notify();
        }
    }
}

void TcpLayer::process_text(Instant now, TcpSocket* s, const Segment& seg) {
    // Only ESTABLISHED, FIN-WAIT-1 and FIN-WAIT-2 take data; after the peer's FIN, more data is
    // a protocol error we ignore.
    if (s->state != TcpState::Established && s->state != TcpState::FinWait1 && s->state != TcpState::FinWait2) return;
    if (s->fin_received) return;

    Bytes data = seg.payload;
    std::int32_t offset = seg.header.seq - s->rcv_nxt;
    if (offset < 0) {
        // The front was already received (a retransmission overlapping new data): trim it.
        const std::size_t old = static_cast<std::size_t>(-static_cast<std::int64_t>(offset));
        if (old >= data.size()) {
            ++stats_.rx_duplicate;
            s->ack_now = true;
            return;
        }
        data = data.subspan(old);
        offset = 0;
    }
    if (s->shut_rd) {
        // shutdown(SHUT_RD): accept and discard (Linux acknowledges and drops the bytes).
        if (offset == 0) {
            s->rcv_nxt += static_cast<std::uint32_t>(data.size());
            s->ack_now = true;
        }
        return;
    }
    // Anything beyond the space we have is cut off (the peer exceeded the window).
    const std::size_t space = s->receive_buffer.free();
    if (static_cast<std::size_t>(offset) >= space) {
        s->ack_now = true;
        return;
    }
    data = data.first(std::min(data.size(), space - static_cast<std::size_t>(offset)));

    if (offset == 0) {
        s->receive_buffer.write_at(0, data);
        const std::size_t extra = s->assembler.take_front(data.size());
        s->receive_buffer.commit(data.size() + extra);
        s->rcv_nxt += static_cast<std::uint32_t>(data.size() + extra);
        if (extra > 0 || !s->assembler.empty()) {
            // Filling a hole: acknowledge at once, so the sender's recovery ends quickly (RFC 5681 4.2).
            s->ack_now = true;
        } else if (++s->segments_since_ack >= 2) {
            // At least every second full-sized segment is acknowledged (RFC 5681 4.2).
            s->ack_now = true;
        } else if (!s->delayed_ack_deadline) {
            s->delayed_ack_deadline = now + config_.tcp_delayed_ack;
            arm_timer(s);
        }
        s->notify();
    } else {
        // Out of order: keep it at its place, and send an immediate duplicate ACK (RFC 5681 4.2)
        // so the sender's fast retransmit can start.
        ++stats_.rx_out_of_order;
        if (s->assembler.add(static_cast<std::size_t>(offset), data.size())) {
            s->receive_buffer.write_at(static_cast<std::size_t>(offset), data);
        }
        s->ack_now = true;
    }
}

void TcpLayer::process_fin(Instant now, TcpSocket* s, const Segment& seg) {
    // The FIN counts only when everything before it has arrived.
    const SeqNum fin_seq = seg.header.seq + static_cast<std::uint32_t>(seg.payload.size());
    if (fin_seq != s->rcv_nxt || s->fin_received) {
        if (s->fin_received && fin_seq + 1 == s->rcv_nxt) s->ack_now = true;  // a retransmitted FIN
        return;
    }
    s->fin_received = true;
    s->rcv_nxt += 1;
    s->ack_now = true;
    switch (s->state) {
        case TcpState::SynReceived:
        case TcpState::Established: enter_state(now, s, TcpState::CloseWait); break;
        case TcpState::FinWait1:
            // Our FIN not yet acknowledged (else we would be in FIN-WAIT-2): simultaneous close.
            enter_state(now, s, TcpState::Closing);
            break;
        case TcpState::FinWait2: enter_state(now, s, TcpState::TimeWait); break;
        case TcpState::TimeWait:
            s->time_wait_deadline = now + config_.tcp_time_wait;  // "restart the 2 MSL time-out"
            arm_timer(s);
            break;
        default: break;
    }
    s->notify();
}

}  // namespace tcpip
