// Explicit Congestion Notification for TCP (RFC 3168 section 6.1). Instead of dropping a packet
// when its queue builds up, a router marks it CE (congestion experienced) in the IP header. The
// receiving TCP echoes the mark to the sender with ECE on its ACKs until the sender answers with
// CWR ("congestion window reduced"); the sender reduces its window as for a loss, once per window
// of data, but retransmits nothing: nothing was lost.
//
//   negotiation   SYN with ECE and CWR ("I can do ECN"); SYN-ACK with ECE alone ("so can I")
//                 (6.1.1). StackConfig::tcp_ecn has Linux's meanings: 0 never, 1 ask on our
//                 connections and accept, 2 (Linux's default) accept only when the peer asks.
//   sender        new data segments leave ECT(0); never SYNs, pure ACKs, retransmissions or
//                 window probes (6.1.1, 6.1.5, 6.1.6), as Linux.
//   receiver      a CE mark sets ECE on every ACK until a segment with CWR arrives (6.1.3); the
//                 first ACK goes at once, as Linux's quick ACK on CE.
//   reaction      an ACK with ECE reduces the window (CongestionControl::on_ecn_echo) unless one
//                 was reduced within the last window of data or a loss recovery is under way; the
//                 next new data segment carries CWR (6.1.2). As Linux (CA_CWR), ssthresh is cut
//                 at once and cwnd comes down to it by PRR over the next round trip, as in a
//                 loss recovery, rather than at once.
#include "stack/ipv4/header.h"
#include "stack/tcp/tcp.h"

namespace tcpip {

// A listener's child, from the peer's SYN: ECN if the SYN asks for it (ECE and CWR both set) and we
// accept it at all. Our SYN-ACK will then carry ECE.
void TcpLayer::ecn_accept_syn(TcpSocket* child, const Segment& syn) const {
    const TcpFlags f = syn.header.flags;
    child->ecn.ok = config_.tcp_ecn != 0 && f.ece() && f.cwr();
}

// Our SYN asked for ECN: the peer agrees with ECE and without CWR (a SYN-ACK with both is a peer
// that reflects flags it does not understand, RFC 3168 6.1.1).
void TcpLayer::ecn_syn_ack_arrived(TcpSocket* s, const Segment& syn_ack) const {
    const TcpFlags f = syn_ack.header.flags;
    s->ecn.ok = s->ecn.requested && f.ece() && !f.cwr();
    s->ecn.requested = false;
}

// An acceptable segment on a synchronized connection: the receiver's side. The peer's CWR ends
// our echo; a CE mark (on this segment, even with CWR) starts it again.
void TcpLayer::ecn_segment_arrived(TcpSocket* s, const Segment& seg) {
    if (!s->ecn.ok) return;
    if (seg.header.flags.cwr()) s->ecn.echo = false;
    if ((seg.ecn & ecn::kMask) == ecn::kCe) {
        ++stats_.ecn_ce_received;
        if (!s->ecn.echo) s->rcv.ack_now = true;  // tell the sender now, not after a delayed ACK
        s->ecn.echo = true;
    }
}

// An ACK from the peer (after SND.UNA moved): the sender's reaction to ECE.
void TcpLayer::ecn_ack_arrived(TcpSocket* s, const Segment& seg) {
    if (!s->ecn.ok || !seg.header.flags.ece()) return;
    if (s->ecn.recover && s->snd.una < *s->ecn.recover) return;  // already reduced for this window
    if (s->snd.cc->in_recovery()) return;                         // a loss reduced it already
    s->snd.cc->on_ecn_echo(s->snd.in_flight(), s->snd.max);
    s->ecn.recover = s->snd.max;
    s->ecn.send_cwr = true;
    ++stats_.ecn_reductions;
}

// The ECN bits of a segment about to leave: its TCP flags, and `tos`, its IP ECN field.
TcpFlags TcpLayer::ecn_outgoing(TcpSocket* s, SeqNum seq, std::size_t length, TcpFlags flags, std::uint8_t& tos) {
    tos = ecn::kNotEct;
    if (flags.syn()) {
        if (!flags.ack() && s->ecn.requested) flags = flags | TcpFlags::kEce | TcpFlags::kCwr;  // ECN-setup SYN
        if (flags.ack() && s->ecn.ok) flags = flags | TcpFlags::kEce;                           // ECN-setup SYN-ACK
        return flags;
    }
    if (!s->ecn.ok) return flags;
    if (flags.ack() && s->ecn.echo) flags = flags | TcpFlags::kEce;
    const bool new_data = length > 0 && seq >= s->snd.max && s->snd.wnd != 0;  // not a zero-window probe
    if (new_data) {
        tos = ecn::kEct0;
        if (s->ecn.send_cwr) {
            flags = flags | TcpFlags::kCwr;
            s->ecn.send_cwr = false;
        }
    }
    return flags;
}

}  // namespace tcpip
