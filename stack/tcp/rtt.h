// The retransmission timeout, computed as RFC 6298 says.
//
//   first sample R:   SRTT = R, RTTVAR = R/2
//   later samples R': RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|,  SRTT = 7/8 SRTT + 1/8 R'
//   RTO = SRTT + max(G, 4 RTTVAR), clamped to [min_rto, max_rto]
//
// Before any sample the RTO is 1 second (section 2.1). Each expiry doubles it (back off,
// section 5.5) until a new sample arrives. Karn's algorithm (section 3) lives with the caller: it
// takes samples only from segments that were never retransmitted.
#pragma once

#include <algorithm>

#include "stack/core/time.h"

namespace tcpip {

class RttEstimator {
public:
    static constexpr Duration kInitialRto = Duration::seconds(1);
    static constexpr Duration kGranularity = Duration::millis(1);  // G: our timers tick in microseconds

    explicit RttEstimator(Duration min_rto = Duration::millis(200), Duration max_rto = Duration::seconds(120)) : min_rto_(min_rto), max_rto_(max_rto) {}

    void sample(Duration r) {
        if (r < Duration::zero()) return;
        if (!has_sample_) {
            srtt_ = r;
            rttvar_ = r / 2;
            has_sample_ = true;
        } else {
            const Duration delta = srtt_ > r ? srtt_ - r : r - srtt_;
            rttvar_ = (rttvar_ * 3 + delta) / 4;
            srtt_ = (srtt_ * 7 + r) / 8;
        }
        backoff_ = 0;
    }

    // The current timeout, backed off by 2^backoff after expiries.
    Duration rto() const {
        Duration base = has_sample_ ? srtt_ + std::max(kGranularity, rttvar_ * 4) : kInitialRto;
        base = std::clamp(base, min_rto_, max_rto_);
        for (int i = 0; i < backoff_ && base < max_rto_; ++i) base = base * 2;
        return std::min(base, max_rto_);
    }

    void back_off() { if (backoff_ < 30) ++backoff_; }
    int backoff() const { return backoff_; }

    bool has_sample() const { return has_sample_; }
    Duration srtt() const { return srtt_; }
    Duration rttvar() const { return rttvar_; }

private:
    Duration min_rto_, max_rto_;
    Duration srtt_, rttvar_;
    bool has_sample_ = false;
    int backoff_ = 0;
};

}  // namespace tcpip
