// Pacing: the sender spreads a window of data over the round trip instead of sending it at the
// speed of the interface, as Linux does with its internal pacing (tcp_internal_pacing, used when
// no fq qdisc paces for it).
//
// Why: a window clocked out by ACKs arrives in bursts after anything that bunches the ACKs, and a
// sender in slow start or leaving a loss recovery sends whole windows at line rate. A bottleneck
// with a small queue (a router, or bench/tcpip-relay's rate limiter with 128 frames) drops the tail
// of every such burst, although the path has room for the data on average; those losses then cut
// the window. Sent at about the rate the path delivers, the same data passes.
//
// The pacing rate (Linux's tcp_update_pacing_rate), in bytes per second:
//
//     rate = ratio x max(cwnd, bytes in flight) / SRTT,   ratio = 200 % while cwnd < ssthresh / 2
//                                                                  (slow start: the window doubles
//                                                                  each round trip, the rate must too)
//                                                          ratio = 120 % otherwise
//
// The clock (Linux's tcp_wstamp_ns and tcp_update_skb_after_send): every data segment sent,
// retransmissions included, moves the earliest departure of the next one later by its length over
// the rate. When the sender was idle (the clock fell behind `now`), the clock starts again from
// `now` and half of the segment's time may be forgiven (Linux's "credit" for a late timer), so a
// lone segment after a quiet spell, the request/response case, always leaves at once.
//
// What waits: output() and the loss recovery's retransmissions (RFC 6675 NextSeg) send nothing
// while the clock is ahead of `now`, and arm the pacing timer, which calls output() again (Linux's
// tcp_pacing_check and pacing_timer). One departure carries a burst (Linux's tcp_tso_autosize):
// about a millisecond of data at the pacing rate, at least two segments, at most what the device
// may cut at once. Not paced, as in Linux: the first ten segments of a connection (the initial
// window) and anything before the first RTT measurement; the RTO's and the tail loss probe's
// retransmissions (their timers already spaced them), and the ACKs.
//
// Off with StackConfig::tcp_pacing = false (the apps' --no-pacing).
#include <algorithm>

#include "stack/tcp/tcp.h"

namespace tcpip {

namespace {

constexpr std::uint32_t kSlowStartRatio = 200;      // % (net.ipv4.tcp_pacing_ss_ratio)
constexpr std::uint32_t kAvoidanceRatio = 120;      // % (net.ipv4.tcp_pacing_ca_ratio)
constexpr std::uint32_t kUnpacedSegments = 10;      // Linux paces from data_segs_out >= 10
constexpr unsigned kBurstShift = 10;                // a burst: rate >> 10, ~1 ms of data (sk_pacing_shift)
constexpr std::uint32_t kMinBurstSegments = 2;      // net.ipv4.tcp_min_tso_segs
constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

std::int64_t nanos(Instant t) { return t.total_micros() * 1000; }
Instant micros_rounded_up(std::int64_t ns) { return Instant::from_micros((ns + 999) / 1000); }

}  // namespace

std::uint64_t TcpLayer::pacing_rate(const TcpSocket* s) const {
    if (!config_.tcp_pacing || !s->snd.cc || !s->snd.rtt.has_sample()) return 0;
    const std::uint64_t cwnd = s->snd.cc->cwnd();
    const std::uint32_t ratio = cwnd < s->snd.cc->ssthresh() / 2 ? kSlowStartRatio : kAvoidanceRatio;
    const std::uint64_t window = std::max<std::uint64_t>(cwnd, s->snd.in_flight());
    const auto srtt_us = static_cast<std::uint64_t>(std::max<std::int64_t>(s->snd.rtt.srtt().total_micros(), 1));
    // window x ratio / 100 per SRTT, in bytes per second (1e6 / 100 = 10,000).
    return window * ratio * 10'000 / srtt_us;
}

std::size_t TcpLayer::burst_limit(const TcpSocket* s) const {
    const std::size_t limit = send_limit(s);
    const std::uint64_t rate = pacing_rate(s);
    if (rate == 0 || s->mss == 0) return limit;
    const std::uint64_t segments = std::max<std::uint64_t>((rate >> kBurstShift) / s->mss, kMinBurstSegments);
    return static_cast<std::size_t>(std::min<std::uint64_t>(limit, segments * s->mss));
}

bool TcpLayer::pacing_wait(Instant now, TcpSocket* s) {
    if (s->pace.next_ns <= nanos(now)) return false;
    const Instant due = micros_rounded_up(s->pace.next_ns);
    if (s->timers.pacing != due) {
        s->timers.pacing = due;
        arm_timer(s);
        ++stats_.pacing_waits;
    }
    return true;
}

void TcpLayer::pacing_sent(Instant now, TcpSocket* s, std::size_t bytes) {
    if (!config_.tcp_pacing) return;
    const std::int64_t prior = s->pace.next_ns;
    s->pace.next_ns = std::max(prior, nanos(now));
    if (s->pace.segments_out < kUnpacedSegments) {
        const std::size_t segments = s->mss > 0 ? (bytes + s->mss - 1) / s->mss : 1;
        s->pace.segments_out = static_cast<std::uint32_t>(std::min<std::size_t>(s->pace.segments_out + segments, kUnpacedSegments));
        if (s->pace.segments_out < kUnpacedSegments) return;
    }
    const std::uint64_t rate = pacing_rate(s);
    if (rate == 0) return;
    auto length_ns = static_cast<std::int64_t>(static_cast<std::uint64_t>(bytes) * kNanosPerSecond / rate);
    const std::int64_t credit = s->pace.next_ns - prior;  // how late this departure is
    length_ns -= std::min(length_ns / 2, credit);
    s->pace.next_ns += length_ns;
    // A pacing timer already armed follows the clock (an unpaced retransmission moved it).
    if (s->timers.pacing) {
        s->timers.pacing = micros_rounded_up(s->pace.next_ns);
        arm_timer(s);
    }
}

}  // namespace tcpip
