// NewReno: slow start, congestion avoidance, fast retransmit and fast recovery as RFC 5681
// describes them, with RFC 6582's handling of partial ACKs during recovery (new_reno.h). With a
// peer that SACKs, recovery is entered by on_loss() (the scoreboard found a loss) and the window
// during it is RFC 6675's: cwnd = ssthresh, with the caller sending while pipe < cwnd.
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
    if (in_recovery_ && sack_recovery_) {
        // RFC 6675: the window stays at ssthresh until the recovery point is acknowledged.
        if (snd_una < recover_) return false;
        cwnd_ = ssthresh_;
        in_recovery_ = false;
        return false;
    }
    if (in_recovery_) {
        if (snd_una < recover_) {
            // RFC 6582 section 3.2 step 3, partial ACK: deflate by the amount acknowledged,
            // add back one MSS, and retransmit the next hole at once.
            cwnd_ = cwnd_ > acked ? cwnd_ - acked : 0;
            if (acked >= mss_) cwnd_ += mss_;
            cwnd_ = std::max(cwnd_, mss_);
            return true;
        }
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
    const bool cwnd_limited = cwnd_ < ssthresh_ ? cwnd_ < 2 * segments_out * mss_ : in_flight + 3 * mss_ >= cwnd_;
    if (!cwnd_limited) return false;
    if (cwnd_ < ssthresh_) {
        // SND.MAX before this ACK: SND.UNA then (snd_una - acked) plus what was in flight.
        slow_start(now, acked, snd_una, snd_una - acked + in_flight);
    } else {
        congestion_avoidance(now, acked);
    }
    return false;
}

void NewReno::slow_start(Instant /*now*/, std::uint32_t acked, SeqNum /*snd_una*/, SeqNum /*snd_max*/) {
    // Grow by what was acknowledged, at most one MSS per ACK (RFC 5681 3.1, with RFC 3465's
    // limit L = 1 SMSS): the window doubles every round trip.
    cwnd_ += std::min(acked, mss_);
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
    if (in_recovery_) {
        cwnd_ += mss_;  // RFC 5681 3.2 step 4: each further duplicate means a segment left the network
        return false;
    }
    if (++dup_acks_ != 3) return false;
    // RFC 6582 section 3.2 step 2: only start a recovery for loss after the last one ended.
    if (snd_una <= recover_ && had_recovery_) {
        return false;
    }
    reduce(in_flight);
    cwnd_ = ssthresh_ + 3 * mss_;  // RFC 5681 3.2 step 3: the three segments that left the network
    recover_ = snd_max;
    in_recovery_ = true;
    sack_recovery_ = false;
    had_recovery_ = true;
    return true;
}

bool NewReno::on_loss(SeqNum snd_una, SeqNum snd_max, std::uint32_t in_flight) {
    if (in_recovery_) return false;
    if (had_recovery_ && snd_una < recover_) return false;  // RFC 6582 "recover": one reduction per window
    reduce(in_flight);  // ssthresh by the algorithm's rule, cwnd = ssthresh (RFC 6675 section 5 step (4.2))
    recover_ = snd_max;
    in_recovery_ = true;
    sack_recovery_ = true;
    had_recovery_ = true;
    dup_acks_ = 0;
    return true;
}

void NewReno::on_undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) {
    // As Linux's tcp_undo_cwnd_reduction (and tcp_reno_undo_cwnd, which CUBIC uses too): the window
    // comes back; the algorithm's other state (CUBIC's W_max) stays as the reduction left it.
    cwnd_ = std::max(cwnd_, prior_cwnd);
    ssthresh_ = std::max(ssthresh_, prior_ssthresh);
    in_recovery_ = false;
    dup_acks_ = 0;
    bytes_acked_ = 0;
}

void NewReno::on_rto(std::uint32_t in_flight) {
    reduce(in_flight);  // ssthresh as after a loss (RFC 5681 equation 4; RFC 9438 4.8 for CUBIC)
    cwnd_ = mss_;       // loss window: one segment
    in_recovery_ = false;
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
