// NewReno: slow start, congestion avoidance, fast retransmit and fast recovery as RFC 5681
// describes them, with RFC 6582's handling of partial ACKs during recovery. With a peer that
// SACKs, recovery is entered by on_loss() (the scoreboard found a loss) and the window during it is
// RFC 6675's: cwnd = ssthresh, with the caller sending while pipe < cwnd.
//
#include <algorithm>

#include "stack/tcp/congestion/congestion.h"

namespace tcpip {

namespace {

class NewReno final : public CongestionControl {
public:
    explicit NewReno(std::uint32_t mss)
        : mss_(mss),
          // RFC 5681 section 3.1 (as updated by RFC 6928 and Linux's default of 10 segments).
          cwnd_(10 * mss),
          ssthresh_(0x7fffffff) {}

    const char* name() const override { return "newreno"; }
    std::uint32_t cwnd() const override { return cwnd_; }
    std::uint32_t ssthresh() const override { return ssthresh_; }
    bool in_recovery() const override { return in_recovery_; }

    bool on_ack(std::uint32_t acked, SeqNum snd_una, std::uint32_t in_flight) override {
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
        if (cwnd_ < ssthresh_) {
            // Slow start: grow by what was acknowledged, at most one MSS per ACK (RFC 5681 3.1,
            // with RFC 3465's limit L = 1 SMSS).
            cwnd_ += std::min(acked, mss_);
        } else {
            // Congestion avoidance: about one MSS per round trip.
            bytes_acked_ += acked;
            if (bytes_acked_ >= cwnd_) {
                bytes_acked_ -= cwnd_;
                cwnd_ += mss_;
            }
        }
        return false;
    }

    bool on_dup_ack(SeqNum snd_una, SeqNum snd_max, std::uint32_t in_flight) override {
        if (in_recovery_) {
            cwnd_ += mss_;  // RFC 5681 3.2 step 4: each further duplicate means a segment left the network
            return false;
        }
        if (++dup_acks_ != 3) return false;
        // RFC 6582 section 3.2 step 2: only start a recovery for loss after the last one ended.
        if (snd_una <= recover_ && had_recovery_) {
            return false;
        }
        ssthresh_ = std::max(in_flight / 2, 2 * mss_);
        cwnd_ = ssthresh_ + 3 * mss_;
        recover_ = snd_max;
        in_recovery_ = true;
        sack_recovery_ = false;
        had_recovery_ = true;
        return true;
    }

    bool on_loss(SeqNum snd_una, SeqNum snd_max, std::uint32_t in_flight) override {
        if (in_recovery_) return false;
        if (had_recovery_ && snd_una < recover_) return false;  // RFC 6582 "recover": one reduction per window
        ssthresh_ = std::max(in_flight / 2, 2 * mss_);  // RFC 5681 equation 4
        cwnd_ = ssthresh_;                              // RFC 6675 section 5 step (4.2)
        recover_ = snd_max;
        in_recovery_ = true;
        sack_recovery_ = true;
        had_recovery_ = true;
        dup_acks_ = 0;
        return true;
    }

    void on_undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) override {
        cwnd_ = std::max(cwnd_, prior_cwnd);
        ssthresh_ = std::max(ssthresh_, prior_ssthresh);
        in_recovery_ = false;
        dup_acks_ = 0;
        bytes_acked_ = 0;
    }

    void on_rto(std::uint32_t in_flight) override {
        ssthresh_ = std::max(in_flight / 2, 2 * mss_);  // RFC 5681 equation 4
        cwnd_ = mss_;                                   // loss window: one segment
        in_recovery_ = false;
        dup_acks_ = 0;
        bytes_acked_ = 0;
    }

    void on_idle_restart() override { cwnd_ = std::min(cwnd_, 10 * mss_); }

private:
    std::uint32_t mss_;
    std::uint32_t cwnd_;
    std::uint32_t ssthresh_;
    std::uint32_t bytes_acked_ = 0;
    std::uint32_t dup_acks_ = 0;
    SeqNum recover_;                // RFC 6582 "recover": snd_max when the last recovery began
    bool in_recovery_ = false;
    bool had_recovery_ = false;
    bool sack_recovery_ = false;    // the recovery was begun by on_loss(): RFC 6675's window rules
};

}  // namespace

std::unique_ptr<CongestionControl> make_new_reno(std::uint32_t mss) { return std::make_unique<NewReno>(mss); }

std::unique_ptr<CongestionControl> make_congestion_control(CongestionAlgorithm algorithm, std::uint32_t mss) {
    switch (algorithm) {
        case CongestionAlgorithm::NewReno: return make_new_reno(mss);
    }
    return make_new_reno(mss);
}

std::string_view congestion_name(CongestionAlgorithm algorithm) {
    switch (algorithm) {
        case CongestionAlgorithm::NewReno: return "reno";
    }
    return "reno";
}

std::optional<CongestionAlgorithm> congestion_from_name(std::string_view name) {
    if (name == "reno" || name == "newreno") return CongestionAlgorithm::NewReno;
    return std::nullopt;
}

}  // namespace tcpip
