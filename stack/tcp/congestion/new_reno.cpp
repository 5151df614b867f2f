// NewReno: slow start, congestion avoidance, fast retransmit and fast recovery as RFC 5681
// describes them, with RFC 6582's handling of partial ACKs during recovery (new_reno.h). With a
// peer that SACKs, recovery is entered by on_loss() (the scoreboard found a loss), the caller
// sending while pipe < cwnd (RFC 6675).
//
// In every loss recovery, with SACK or without, the window comes down to ssthresh by proportional
// rate reduction (RFC 6937, as Linux's tcp_cwnd_reduction) instead of at once (RFC 6675's cwnd =
// ssthresh, which sends nothing until pipe has fallen below ssthresh and then a burst) or by
// RFC 5681's inflation and deflation (which can send a burst at a partial ACK): the sender sends
// ssthresh / prior_cwnd of what the receiver got, so the recovery's transmissions are spread over
// it, ACK-clocked, and it ends with pipe close to ssthresh.
#include "stack/tcp/congestion/new_reno.h"

#include <algorithm>

namespace tcpip {

NewReno::NewReno(std::uint32_t mss)
    : mss_(mss),
      // RFC 5681 section 3.1 (as updated by RFC 6928 and Linux's default of 10 segments).
      cwnd_(10 * mss),
      ssthresh_(0x7fffffff) {}

bool NewReno::on_ack(Instant now, std::uint32_t acked, SeqNum snd_una, std::uint32_t in_flight) {
    dup_acks_ = 0;
    if (in_cwr_) {
        // ECN's reduction: the window follows PRR and does not grow, until an ACK passes the data
        // sent before the echo (beyond it, so that our CWR has reached the receiver: Linux's
        // CA_CWR exit); then cwnd = ssthresh (tcp_end_cwnd_reduction).
        if (snd_una <= cwr_end_) return false;
        cwnd_ = ssthresh_;
        in_cwr_ = false;
        return false;
    }
    if (in_recovery_ && sack_recovery_) {
        // RFC 6675: the window stays at ssthresh until the recovery point is acknowledged.
        if (snd_una < recover_) return false;
        cwnd_ = ssthresh_;
        in_recovery_ = false;
        return false;
    }
    if (in_recovery_) {
        // RFC 6582 section 3.2 step 3, partial ACK: retransmit the next hole at once (the window
        // follows PRR, on_recovery_ack, not RFC 6582's deflation).
        if (snd_una < recover_) return true;
        // Full ACK: leave recovery with cwnd = min(ssthresh, flight + MSS) (RFC 6582 step 3).
        cwnd_ = std::min(ssthresh_, std::max(in_flight > acked ? in_flight - acked : 0u, mss_) + mss_);
        in_recovery_ = false;
        return false;
    }
    // A window the sender does not fill says nothing about the path: it does not grow (as Linux's
    // tcp_is_cwnd_limited; RFC 7661; RFC 9438 5.8 for CUBIC, whose curve would otherwise run on
    // while an application sends little). In slow start, a flight of half the window is enough,
    // since the window doubles each round trip (counted in segments, as Linux: a short segment
    // counts as one); beyond it, the flight must (about) fill it.
    const std::uint32_t segments_out = (in_flight + mss_ - 1) / mss_;
    // As Linux's tcp_is_cwnd_limited, a window filled at some time in the last round trip counts too
    // (on_cwnd_usage): a paced sender fills it only towards the end of each round.
    const bool cwnd_limited = cwnd_limited_recently_ ||
                              (cwnd_ < ssthresh_ ? cwnd_ < 2 * segments_out * mss_ : in_flight + 3 * mss_ >= cwnd_);
    if (!cwnd_limited) return false;
    if (cwnd_ < ssthresh_) {
        // SND.MAX before this ACK: SND.UNA then (snd_una - acked) plus what was in flight.
        slow_start(now, acked, snd_una, snd_una - acked + in_flight);
    } else {
        congestion_avoidance(now, acked);
    }
    return false;
}

std::uint32_t NewReno::slow_start_growth(std::uint32_t acked) const {
    return std::min(acked, kSlowStartAckLimit * mss_);
}

void NewReno::slow_start(Instant /*now*/, std::uint32_t acked, SeqNum /*snd_una*/, SeqNum /*snd_max*/) {
    // Grow by what was acknowledged (slow_start_growth), up to ssthresh (as Linux's
    // tcp_slow_start): the window doubles every round trip, whether the receiver acknowledges
    // every segment or every second one.
    cwnd_ = std::min(cwnd_ + slow_start_growth(acked), std::max(ssthresh_, cwnd_));
}

void NewReno::congestion_avoidance(Instant /*now*/, std::uint32_t acked) {
    // About one MSS per round trip: one MSS each time a window's worth of bytes is acknowledged.
    bytes_acked_ += acked;
    if (bytes_acked_ >= cwnd_) {
        bytes_acked_ -= cwnd_;
        cwnd_ += mss_;
    }
}

void NewReno::reduce(std::uint32_t in_flight) {
    ssthresh_ = std::max(in_flight / 2, 2 * mss_);  // RFC 5681 equation 4
    cwnd_ = ssthresh_;
    bytes_acked_ = 0;
}

bool NewReno::on_dup_ack(SeqNum snd_una, SeqNum snd_max, std::uint32_t in_flight) {
    // In a recovery each further duplicate means a segment left the network: PRR counts it
    // (on_recovery_ack), where RFC 5681 3.2 step 4 inflated cwnd by one MSS.
    if (in_recovery_) return false;
    if (++dup_acks_ != 3) return false;
    // RFC 6582 section 3.2 step 2: only start a recovery for loss after the last one ended.
    if (snd_una <= recover_ && had_recovery_) {
        return false;
    }
    begin_recovery(in_flight, snd_max, false);
    return true;
}

bool NewReno::on_loss(SeqNum snd_una, SeqNum snd_max, std::uint32_t in_flight) {
    if (in_recovery_) return false;
    if (had_recovery_ && snd_una < recover_) return false;  // RFC 6582 "recover": one reduction per window
    begin_recovery(in_flight, snd_max, true);
    dup_acks_ = 0;
    return true;
}

void NewReno::begin_reduction(std::uint32_t in_flight) {
    prior_cwnd_ = std::max(cwnd_, mss_);
    reduce(in_flight);    // ssthresh by the algorithm's rule (it sets cwnd = ssthresh too...)
    cwnd_ = prior_cwnd_;  // ...which PRR reaches over the reduction instead (RFC 6937 section 3)
    prr_delivered_ = 0;
    prr_out_ = 0;
}

void NewReno::begin_recovery(std::uint32_t in_flight, SeqNum snd_max, bool sack) {
    // A loss during ECN's reduction: the window was cut for this window of data already, and PRR
    // goes on from where it is (as Linux's tcp_enter_recovery in CA_CWR).
    if (!in_cwr_) begin_reduction(in_flight);
    in_cwr_ = false;
    recover_ = snd_max;
    in_recovery_ = true;
    sack_recovery_ = sack;
    had_recovery_ = true;
}

void NewReno::on_ecn_echo(std::uint32_t in_flight, SeqNum snd_max) {
    if (in_recovery_ || in_cwr_) return;  // a reduction is under way already
    begin_reduction(in_flight);
    in_cwr_ = true;
    cwr_end_ = snd_max;
}

// RFC 6937 section 3.1, with Linux's rounding (whole segments, rounded up) and its reduction bound
// (PRR-SSRB: one MSS beyond what this ACK delivered, and only when it moved SND.UNA without finding a
// new loss; tcp_cwnd_reduction since Linux 5.12).
void NewReno::on_recovery_ack(std::uint32_t delivered, std::uint32_t pipe, std::uint32_t flight, bool una_advanced,
                              bool newly_lost) {
    if (!in_cwnd_reduction() || delivered == 0) return;
    prr_delivered_ += delivered;
    std::int64_t sndcnt = 0;
    if (pipe > ssthresh_) {
        // Proportional part: ssthresh / prior_cwnd of all that was delivered, in whole segments
        // rounded up, less what was sent already.
        const std::uint64_t unit = std::uint64_t{prior_cwnd_} * mss_;
        const std::uint64_t segments = (std::uint64_t{ssthresh_} * prr_delivered_ + unit - 1) / unit;
        sndcnt = static_cast<std::int64_t>(segments * mss_) - static_cast<std::int64_t>(prr_out_);
    } else {
        // Slow start back up to ssthresh: what was delivered and not yet answered, at least what
        // this ACK delivered, one MSS more if it advanced SND.UNA and found no loss; never above ssthresh.
        sndcnt = std::max<std::int64_t>(static_cast<std::int64_t>(prr_delivered_) - static_cast<std::int64_t>(prr_out_),
                                        delivered);
        if (una_advanced && !newly_lost) sndcnt += mss_;
        sndcnt = std::min<std::int64_t>(sndcnt, ssthresh_ - pipe);
    }
    // The first transmission of a reduction goes whatever the proportion says (in a recovery, the
    // fast retransmit; Linux does the same in CA_CWR).
    sndcnt = std::max<std::int64_t>(sndcnt, prr_out_ == 0 ? mss_ : 0);
    cwnd_ = static_cast<std::uint32_t>(std::min<std::int64_t>(std::int64_t{flight} + sndcnt, 0x7fffffff));
}

void NewReno::on_undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) {
    // As Linux's tcp_undo_cwnd_reduction (and tcp_reno_undo_cwnd, which CUBIC uses too): the window
    // comes back; the algorithm's other state (CUBIC's W_max) stays as the reduction left it.
    cwnd_ = std::max(cwnd_, prior_cwnd);
    ssthresh_ = std::max(ssthresh_, prior_ssthresh);
    in_recovery_ = false;
    in_cwr_ = false;
    dup_acks_ = 0;
    bytes_acked_ = 0;
}

void NewReno::on_rto(std::uint32_t in_flight) {
    reduce(in_flight);  // ssthresh as after a loss (RFC 5681 equation 4; RFC 9438 4.8 for CUBIC)
    cwnd_ = mss_;       // loss window: one segment
    in_recovery_ = false;
    in_cwr_ = false;
    dup_acks_ = 0;
    bytes_acked_ = 0;
}

void NewReno::on_idle_restart() { cwnd_ = std::min(cwnd_, 10 * mss_); }

std::unique_ptr<CongestionControl> make_new_reno(std::uint32_t mss) { return std::make_unique<NewReno>(mss); }

std::unique_ptr<CongestionControl> make_congestion_control(CongestionAlgorithm algorithm, std::uint32_t mss) {
    switch (algorithm) {
        case CongestionAlgorithm::NewReno: return make_new_reno(mss);
        case CongestionAlgorithm::Cubic: return make_cubic(mss);
    }
    return make_cubic(mss);
}

std::string_view congestion_name(CongestionAlgorithm algorithm) {
    switch (algorithm) {
        case CongestionAlgorithm::NewReno: return "reno";
        case CongestionAlgorithm::Cubic: return "cubic";
    }
    return "cubic";
}

std::optional<CongestionAlgorithm> congestion_from_name(std::string_view name) {
    if (name == "reno") return CongestionAlgorithm::NewReno;
    if (name == "cubic") return CongestionAlgorithm::Cubic;
    return std::nullopt;
}

}  // namespace tcpip
