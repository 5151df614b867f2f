// Path MTU discovery for TCP (RFC 1191 section 6, with RFC 5927's checks). Our segments leave with
// DF set (output.cpp); a router that cannot forward one drops it and sends ICMP fragmentation
// needed with its next-hop MTU. TcpLayer::icmp_error has checked that the ICMP quotes a connection
// of ours and a sequence number in flight; here the path MTU goes down (ipv4/pmtu.h), the MSS of
// the connection with it, and what was in flight is sent again at once in segments that fit.
//
// As Linux (tcp_v4_mtu_reduced, tcp_simple_retransmit), the lost segments are resent without any
// congestion response: the path did not drop them for congestion. Other connections to the same
// destination fit their MSS the next time they send (output() sees the cache's generation move).
#include <algorithm>

#include "stack/tcp/tcp.h"

namespace tcpip {

// A fragmentation-needed ICMP about data of `s` starting at `quoted_seq` (already checked to lie
// in SND.UNA..SND.MAX).
void TcpLayer::path_mtu_reduced(Instant now, TcpSocket* s, SeqNum quoted_seq, std::uint16_t next_hop_mtu) {
    // A segment at SND.MAX was never sent with data (RFC 5927 wants SND.UNA <= SEQ < SND.NXT), and
    // an MTU below IPv4's minimum of 68 (RFC 791), or 0 from a router older than RFC 1191, says
    // nothing we can use.
    if (quoted_seq == s->snd.max || next_hop_mtu < 68) {
        ++stats_.icmp_ignored;
        return;
    }
    (void)ip_.lower_path_mtu(now, s->remote_address, next_hop_mtu);
    if (!fit_mss_to_path(now, s)) return;  // our segments fit already (another ICMP got here first)
    ++stats_.pmtu_mss_lowered;
    if (!is_synchronized(s->state) || s->snd.una == s->snd.max) return;
    // Every segment in flight was cut to the old MSS and is presumed dropped by that router: go
    // back to SND.UNA and send it all again as the (unchanged) window allows, in new sizes.
    s->snd.nxt = s->snd.una;
    s->snd.timed_seq.reset();  // Karn: no RTT sample from a retransmission
    output(now, s);
    s->timers.rto = now + s->snd.rtt.rto();
    arm_timer(s);
}

// Fits the connection's MSS to the path MTU to its peer: the path MTU less the IPv4 and TCP headers
// (and the 12 bytes of timestamps on every segment when they are on), never more than the
// handshake allowed. Returns true if the MSS went down.
bool TcpLayer::fit_mss_to_path(Instant now, TcpSocket* s) {
    s->pmtu_generation = ip_.path_mtu_generation();
    const std::size_t pmtu = ip_.path_mtu(now, s->remote_address);
    const std::size_t fit = pmtu - Ipv4Repr::header_len() - TcpHeader::kMinHeaderLen - (s->ts_ok ? 12 : 0);
    const auto mss = static_cast<std::uint16_t>(std::min<std::size_t>(std::max<std::size_t>(fit, 64), s->mss_limit));
    const bool lowered = mss < s->mss;
    s->mss = mss;
    // The congestion controller counts in segments of this size from now on (slow start's one MSS
    // per ACK, NewReno's one MSS per window, CUBIC's segments), not in the handshake's.
    if (s->snd.cc) s->snd.cc->set_mss(mss);
    return lowered;
}

}  // namespace tcpip
