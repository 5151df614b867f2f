// Sending: what goes out and when. RFC 9293 section 3.8.6 (windows, silly window syndrome
// avoidance, zero-window probing), RFC 1122 4.2.3.4 (Nagle), RFC 5681 (the congestion window).
#include <algorithm>

#include "stack/tcp/tcp.h"

namespace tcpip {

std::uint32_t TcpLayer::receive_space(const TcpSocket* s) const {
    return static_cast<std::uint32_t>(s->receive_buffer.free());
}

// The window field for an outgoing segment (RFC 9293 3.8.6.2.2, receiver SWS avoidance): the
// right edge (rcv_nxt + window) never moves left, and it moves right only in steps of at least
// min(half the buffer, one MSS), so we never invite the sender to send tiny segments.
std::uint16_t TcpLayer::window_to_advertise(TcpSocket* s) {
    const std::uint32_t space = receive_space(s);
    const std::uint32_t promised = s->rcv_nxt < s->rcv_adv ? static_cast<std::uint32_t>(s->rcv_adv - s->rcv_nxt) : 0;
    const std::uint32_t step = std::min<std::uint32_t>(static_cast<std::uint32_t>(s->receive_buffer.capacity() / 2), s->mss);
    std::uint32_t window = space >= promised + step ? space : std::min(promised, space);
    window = std::min<std::uint32_t>(window, std::uint32_t{65535} << s->rcv_wscale);
    const std::uint32_t field = window >> s->rcv_wscale;
    window = field << s->rcv_wscale;  // what the peer will compute from the field
    s->rcv_wnd = window;
    if (s->rcv_nxt + window > s->rcv_adv) s->rcv_adv = s->rcv_nxt + window;
    return static_cast<std::uint16_t>(field);
}

// Builds and sends one segment: `length` bytes of data from the send buffer at `seq`, with flags.
void TcpLayer::transmit(Instant now, TcpSocket* s, SeqNum seq, std::size_t length, TcpFlags flags) {
    Packet packet = pool_.allocate(length + TcpOptions::kMaxLen + TcpHeader::kMinHeaderLen);
    if (length > 0) {
        const std::size_t offset = static_cast<std::size_t>(seq - s->snd_una);
        s->send_buffer.peek(offset, packet.append(length));
    }
    TcpRepr repr;
    repr.src_port = s->local_port;
    repr.dst_port = s->remote_port;
    repr.seq = seq;
    repr.flags = flags;
    if (flags.syn()) {
        // Our MSS (RFC 9293 3.7.1: the MTU minus the IP and TCP headers) and the window scale we
        // use; in a SYN-ACK the scale is only sent if the peer's SYN had it (RFC 7323 1.3).
        repr.options.mss = s->user_mss ? std::min(our_mss(), s->user_mss) : our_mss();
        if (s->state == TcpState::SynSent || s->state == TcpState::Closed || s->wscale_ok) {
            repr.options.window_scale = s->rcv_wscale;
        }
        // The window of a SYN is never scaled (RFC 7323 2.2).
        repr.window = static_cast<std::uint16_t>(std::min<std::size_t>(receive_space(s), 65535));
        s->rcv_wnd = repr.window;
        s->rcv_adv = s->rcv_nxt + repr.window;
    } else {
        repr.window = window_to_advertise(s);
    }
    if (flags.ack()) {
        repr.ack = s->rcv_nxt;
        // Any segment carrying an ACK answers everything received so far.
        s->ack_now = false;
        s->segments_since_ack = 0;
        s->delayed_ack_deadline.reset();
    }
    // With a device that offloads: it completes the checksum, and cuts a segment longer than one
    // MSS into MSS-sized ones (TSO; see send_limit()).
    if (ip_.device_capabilities().tx_checksum_offload) {
        repr.emit_checksum_partial(packet, s->local_address, s->remote_address);
    } else {
        repr.emit(packet, s->local_address, s->remote_address);
    }
    if (length > s->mss) packet.offload().segment_size = s->mss;

    Ipv4SendOptions options;
    options.dont_fragment = true;  // as Linux: TCP sizes its own segments (path MTU discovery)
    (void)ip_.send(now, s->remote_address, IpProtocol::Tcp, std::move(packet), options);
    ++stats_.tx_segments;

    // Time one segment per round trip (RFC 6298 3: Karn), never a retransmission.
    const SeqNum end = seq + static_cast<std::uint32_t>(length) + (flags.syn() ? 1 : 0) + (flags.fin() ? 1 : 0);
    if (end > seq && seq >= s->snd_max && !s->timed_seq) {
        s->timed_seq = end;
        s->timed_sent_at = now;
    }
    if (length > 0) s->last_send = now;
}

// A segment without data carries SND.MAX, the highest sequence number sent, not SND.NXT: after a
// timeout SND.NXT goes back to resend (go-back-N), and an ACK stamped with that older number
// would fall left of the peer's window, be judged unacceptable and dropped; two sides both
// retransmitting would then never hear each other's ACKs (seen in simulation).
void TcpLayer::send_ack(Instant now, TcpSocket* s) {
    transmit(now, s, s->snd_max, 0, TcpFlags::kAck);
}

// RFC 5961 section 7: challenge ACKs, rate-limited in Linux; we send one per offending segment,
// counted, since each answers a segment the peer sent us.
void TcpLayer::send_challenge_ack(Instant now, TcpSocket* s) {
    ++stats_.challenge_acks;
    send_ack(now, s);
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
    repr.seq = s->snd_max;  // SND.MAX: in the window even after a go-back (see send_ack)
    repr.ack = s->rcv_nxt;
    repr.flags = TcpFlags::kRst | TcpFlags::kAck;
    Packet packet = pool_.allocate(TcpHeader::kMinHeaderLen);
    repr.emit(packet, s->local_address, s->remote_address);
    (void)ip_.send(now, s->remote_address, IpProtocol::Tcp, std::move(packet));
    ++stats_.tx_resets;
    ++stats_.tx_segments;
}

// Resends the earliest unacknowledged segment: the SYN, the SYN-ACK, data, or the FIN.
void TcpLayer::retransmit_first(Instant now, TcpSocket* s) {
    ++stats_.retransmitted_segments;
    ++s->total_retransmits;
    // Karn (RFC 6298 3): if the segment being timed is the one sent again, its ACK gives no sample.
    if (s->timed_seq && *s->timed_seq <= s->snd_una + static_cast<std::uint32_t>(s->mss) + 1) s->timed_seq.reset();
    if (s->state == TcpState::SynSent) {
        transmit(now, s, s->iss, 0, TcpFlags::kSyn);
        return;
    }
    if (s->state == TcpState::SynReceived && s->snd_una == s->iss) {
        transmit(now, s, s->iss, 0, TcpFlags::kSyn | TcpFlags::kAck);
        return;
    }
    // One segment from snd_una, without moving snd_nxt (fast retransmit, NewReno partial ACK).
    const std::size_t data_outstanding = s->send_buffer.size();
    const std::size_t length = std::min<std::size_t>(data_outstanding, s->mss);
    if (length > 0) {
        TcpFlags flags = TcpFlags::kAck;
        if (length == data_outstanding && s->fin_sent) flags = flags | TcpFlags::kFin;
        transmit(now, s, s->snd_una, length, flags);
    } else if (s->fin_sent) {
        transmit(now, s, s->fin_seq, 0, TcpFlags::kFin | TcpFlags::kAck);
    }
}

// Nagle's algorithm (RFC 1122 4.2.3.4): while data is unacknowledged, hold a small segment back
// until a full one can go (or everything is acknowledged). TCP_NODELAY turns it off.
// As Linux, Minshall's variant: only an unacknowledged *small* segment holds the next small one, so
// the tail of a large write is not kept waiting for the ACK of the full segments before it (which a
// receiver delaying its ACKs would hold back for 40 ms).
bool TcpLayer::nagle_allows(const TcpSocket* s, std::size_t length, std::size_t unsent) const {
    if (length >= s->mss) return true;
    if (s->nodelay) return true;
    if (s->snd_sml <= s->snd_una) return true;  // no small segment in flight
    // A FIN will follow this data: no point in waiting (Linux sends it at once too).
    return s->fin_queued && length == unsent;
}

// The most data one transmit() may carry: one MSS, or, when the device does TCP segmentation
// offload, as many whole MSS-sized segments as fit in one IPv4 datagram (the device cuts them
// apart; Linux's own TSO does the same). Everything above TCP — windows, Nagle, SWS avoidance,
// the congestion window — still counts bytes, so only the number of frames changes.
std::size_t TcpLayer::send_limit(const TcpSocket* s) const {
    const DeviceCapabilities& caps = ip_.device_capabilities();
    if (!caps.tx_tcp_segmentation || !caps.tx_checksum_offload || s->mss == 0) return s->mss;
    const std::size_t room = Ipv4Layer::kMaxSegmentationPayload - TcpHeader::kMaxHeaderLen;
    return std::max<std::size_t>(room / s->mss, 1) * s->mss;
}

void TcpLayer::output(Instant now, TcpSocket* s) {
    const bool can_send_data = s->state == TcpState::Established || s->state == TcpState::CloseWait ||
                               s->state == TcpState::FinWait1 || s->state == TcpState::Closing ||
                               s->state == TcpState::LastAck;
    if (can_send_data) {
        for (;;) {
            // Data already sent (between snd_una and snd_nxt), not counting our FIN.
            const SeqNum sent_up_to = seq_min(s->snd_nxt, s->fin_sent ? s->fin_seq : s->snd_nxt);
            const std::size_t sent = static_cast<std::size_t>(sent_up_to - s->snd_una);
            const std::size_t unsent = s->send_buffer.size() > sent ? s->send_buffer.size() - sent : 0;

            // The usable window: the smaller of the peer's window and the congestion window,
            // less what is in flight.
            const std::uint32_t flight = static_cast<std::uint32_t>(s->snd_nxt - s->snd_una);
            const std::uint32_t window = std::min(s->snd_wnd, s->congestion->cwnd());
            const std::uint32_t usable = window > flight ? window - flight : 0;

            if (unsent > 0) {
                std::size_t length = std::min<std::size_t>({unsent, send_limit(s), usable});
                if (length == 0) break;
                // Several segments in one (TSO): whole segments only, unless it is the end of
                // the data; the remainder waits for the rules below, as a lone segment would.
                if (length > s->mss && length < unsent) length -= length % s->mss;
                // Sender SWS avoidance (RFC 9293 3.8.6.2.1): send a full segment, or all that is
                // left if Nagle allows, or at least half the largest window the peer offered.
                const bool full = length >= s->mss;
                const bool all = length == unsent && nagle_allows(s, length, unsent);
                const bool half_window = s->max_snd_wnd > 0 && length >= s->max_snd_wnd / 2 && nagle_allows(s, length, unsent);
                // Going back after a timeout: data already sent once is not held back (else a
                // segment sent into a small window and lost would never be sent again).
                const bool resend = s->snd_nxt < s->snd_max;
                if (!full && !all && !half_window && !resend) break;
                TcpFlags flags = TcpFlags::kAck;
                if (length == unsent) flags = flags | TcpFlags::kPsh;
                if (s->snd_nxt < s->snd_max) {
                    ++stats_.retransmitted_segments;
                    ++s->total_retransmits;
                }
                if (s->snd_nxt == s->snd_una && now - s->last_send > s->rtt->rto() && s->last_send != Instant{}) {
                    s->congestion->on_idle_restart();  // RFC 5681 4.1: idle longer than an RTO
                }
                transmit(now, s, s->snd_nxt, length, flags);
                s->snd_nxt += static_cast<std::uint32_t>(length);
                s->snd_max = seq_max(s->snd_max, s->snd_nxt);
                if (length < s->mss) s->snd_sml = s->snd_nxt;
                if (!s->rto_deadline) {
                    s->rto_deadline = now + s->rtt->rto();
                    arm_timer(s);
                }
                continue;
            }
            // All data is out: the FIN follows it.
            if (s->fin_queued && (!s->fin_sent || s->snd_nxt == s->fin_seq)) {
                if (!s->fin_sent) {
                    s->fin_seq = s->snd_nxt;
                    s->fin_sent = true;
                }
                transmit(now, s, s->fin_seq, 0, TcpFlags::kFin | TcpFlags::kAck);
                s->snd_nxt = s->fin_seq + 1;
                s->snd_max = seq_max(s->snd_max, s->snd_nxt);
                if (s->state == TcpState::Established) enter_state(now, s, TcpState::FinWait1);
                if (s->state == TcpState::CloseWait) enter_state(now, s, TcpState::LastAck);
                if (!s->rto_deadline) {
                    s->rto_deadline = now + s->rtt->rto();
                    arm_timer(s);
                }
            }
            break;
        }
        // Data waiting and nothing in flight: the window (zero, or too small for the SWS rule
        // above) holds it, and no ACK will come to say it opened unless the persist timer asks
        // (RFC 9293 3.8.6.1 zero-window probes; 3.8.6.2.1 (iv), the override timeout for a small
        // window; Linux arms its probe timer in both cases).
        const std::size_t sent = static_cast<std::size_t>(seq_min(s->snd_nxt, s->fin_sent ? s->fin_seq : s->snd_nxt) - s->snd_una);
        if (s->send_buffer.size() > sent && s->snd_nxt == s->snd_una && !s->persist_deadline) {
            s->persist_deadline = now + s->rtt->rto();
            arm_timer(s);
        }
    }
    if (s->ack_now && s->state != TcpState::Closed && s->state != TcpState::Listen && s->state != TcpState::SynSent) {
        send_ack(now, s);
    }
}

}  // namespace tcpip
