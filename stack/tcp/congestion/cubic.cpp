// CUBIC (RFC 9438), Linux's default congestion control. After a loss, the window grows as a cubic
// function of the time since the loss, not of the ACKs received:
//
//     W_cubic(t) = C * (t - K)^3 + W_max            (RFC 9438 4.2, figure 1)
//     K          = cubic_root((W_max - cwnd_epoch) / C)
//
// W_max is the window just before the last reduction, cwnd_epoch the window when congestion
// avoidance began again, t the seconds since then, C = 0.4. The curve climbs fast, flattens out
// around W_max (the concave region, t < K: where the last loss happened, probe carefully), then
// climbs ever faster beyond it (the convex region, t > K: the path seems to have room now). As
// the growth depends on time rather than on the RTT, flows with different RTTs converge to
// similar windows, and a long fat path fills quickly.
//
// Everything else is RFC 5681's, from NewReno (new_reno.h): slow start, fast retransmit, fast
// recovery. CUBIC overrides two hooks:
//   - congestion_avoidance(): the window follows W_cubic(t + RTT) (4.4, 4.5), or the Reno-friendly
//     estimate W_est where that is larger (4.3), so CUBIC is never slower than Reno would be;
//   - reduce(): cwnd and ssthresh become beta_cubic = 0.7 times the window (4.6, not half), and
//     W_max is remembered, lowered by fast convergence (4.7) when the last W_max was not reached
//     (another flow probably took its share).
//
// The first slow start ends early with HyStart++ (RFC 9406, as Linux's CUBIC has HyStart): when the
// smallest RTT of a round grows by an eighth (4 to 16 ms) over the round before, queues are
// building, and slow start turns into a "conservative" one growing a quarter as fast; if the delay
// stays up for 5 rounds, congestion avoidance begins (ssthresh = cwnd) without waiting for the
// losses a full slow start would cause. It needs 8 RTT samples per round (on_rtt): with timestamps
// (RFC 7323), every ACK gives one; with only Karn's one timed segment per round trip it never fires.
//
// The arithmetic is in segments (the RFC's units), in doubles: one cube root per reduction, a few
// multiplications per ACK. Time comes from the caller (`now`, the stack's clock): never a clock
// read here.
#include <algorithm>
#include <cmath>
#include <optional>

#include "stack/tcp/congestion/new_reno.h"

namespace tcpip {

namespace {

constexpr double kC = 0.4;                                   // RFC 9438 4.1: C, in segments / s^3
constexpr double kBeta = 0.7;                                // RFC 9438 4.1: beta_cubic
constexpr double kAlpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);  // RFC 9438 4.3: alpha_cubic, about 0.53
constexpr bool kFastConvergence = true;                      // RFC 9438 4.7 (on by default, as Linux)

// RFC 9406 section 4.3's constants.
constexpr Duration kMinRttThresh = Duration::millis(4);
constexpr Duration kMaxRttThresh = Duration::millis(16);
constexpr std::int64_t kMinRttDivisor = 8;
constexpr std::uint32_t kNRttSample = 8;
constexpr std::uint32_t kCssGrowthDivisor = 4;
constexpr std::uint32_t kCssRounds = 5;

class Cubic final : public NewReno {
public:
    explicit Cubic(std::uint32_t mss) : NewReno(mss) {}

    const char* name() const override { return "cubic"; }
    void on_rtt(Duration sample, Duration srtt) override {
        srtt_ = srtt;
        // RFC 9406 4.2: the round's smallest RTT, from its samples.
        if (hystart_.done) return;
        hystart_.current_round_min = std::min(hystart_.current_round_min, sample);
        ++hystart_.samples;
    }
    // The same bytes, counted in segments of the new size; the curve starts again from the window
    // there is (as after an idle period), its W_max kept in bytes.
    void set_mss(std::uint32_t mss) override {
        if (mss == 0 || mss == mss_) return;
        const double scale = static_cast<double>(mss_) / mss;
        w_max_ *= scale;
        w_est_ *= scale;
        cwnd_prior_ *= scale;
        carry_ *= scale;
        NewReno::set_mss(mss);
        epoch_start_.reset();
    }
    void on_idle_restart() override {
        NewReno::on_idle_restart();
        epoch_start_.reset();  // after an idle period the curve starts again from the window we have
    }

protected:
    // Slow start with HyStart++ (RFC 9406 4.2) in the first one; standard slow start after a loss.
    void slow_start(Instant now, std::uint32_t acked, SeqNum snd_una, SeqNum snd_max) override {
        HyStart& h = hystart_;
        if (h.done) {
            NewReno::slow_start(now, acked, snd_una, snd_max);
            return;
        }
        if (!h.round_started || snd_una >= h.window_end) {
            // A new round: the ACK of the last round's last segment (windowEnd = SND.NXT then).
            if (h.round_started && h.in_css && ++h.css_rounds >= kCssRounds) {
                ssthresh_ = cwnd_;  // the delay stayed up: congestion avoidance from here (4.2)
                h.done = true;
                return;
            }
            h.round_started = true;
            h.window_end = snd_max;
            h.last_round_min = h.current_round_min;
            h.current_round_min = Duration::max();
            h.samples = 0;
        }
        const std::uint32_t growth = slow_start_growth(acked);  // RFC 9406 4.2: min(N, L * SMSS)
        if (!h.in_css) {
            cwnd_ += growth;
            if (h.samples >= kNRttSample && h.current_round_min != Duration::max() &&
                h.last_round_min != Duration::max()) {
                const Duration thresh = std::clamp(h.last_round_min / kMinRttDivisor, kMinRttThresh, kMaxRttThresh);
                if (h.current_round_min >= h.last_round_min + thresh) {
                    h.in_css = true;  // the delay grew: conservative slow start
                    h.css_baseline = h.current_round_min;
                    h.css_rounds = 0;
                }
            }
        } else {
            cwnd_ += growth / kCssGrowthDivisor;
            if (h.samples >= kNRttSample && h.current_round_min < h.css_baseline) {
                h.in_css = false;  // the delay fell again: it was a false alarm, back to slow start
                h.css_baseline = Duration::max();
            }
        }
    }

    // RFC 9438 4.2-4.5: cwnd follows W_cubic, or W_est where that is larger.
    void congestion_avoidance(Instant now, std::uint32_t acked) override {
        const double cwnd = segments(cwnd_) + carry_;
        if (!epoch_start_) start_epoch(now, cwnd);
        const double t = (now - *epoch_start_).seconds_f();
        const double acked_segments = static_cast<double>(acked) / mss_;

        // 4.3, the Reno-friendly region: what Reno (AIMD with CUBIC's beta) would have by now.
        // alpha_cubic makes it as fast as Reno on average; once W_est has passed the window of the
        // last reduction, it grows like Reno itself (alpha = 1).
        const double alpha = w_est_ >= cwnd_prior_ ? 1.0 : kAlpha;
        w_est_ += alpha * acked_segments / cwnd;

        double next;
        if (w_cubic(t) < w_est_) {
            next = std::max(cwnd, w_est_);  // Reno-friendly region: cwnd = W_est
        } else {
            // 4.4 concave (cwnd < W_max) and 4.5 convex region: aim at where the curve will be one
            // RTT from now, at most 1.5 times the window, and close (target - cwnd) / cwnd of the
            // gap per segment acknowledged: the window reaches the target in about one RTT.
            const double target = std::clamp(w_cubic(t + srtt_.seconds_f()), cwnd, 1.5 * cwnd);
            next = cwnd + (target - cwnd) / cwnd * acked_segments;
        }
        const double bytes = next * mss_;
        cwnd_ = static_cast<std::uint32_t>(std::min(bytes, double{0x7fffffff}));
        carry_ = segments_f(bytes - cwnd_);  // the fraction of a byte the integer window left out
    }

    // RFC 9438 4.6 (multiplicative decrease) and 4.7 (fast convergence). Called on a loss (the
    // third duplicate ACK), on an RTO (which then takes cwnd to one segment), and on an ECN echo.
    void reduce(std::uint32_t in_flight) override {
        const double cwnd = segments(cwnd_) + carry_;
        cwnd_prior_ = cwnd;
        // 4.7: a flow that did not regain its last W_max releases bandwidth for newcomers by
        // remembering a W_max below the window it had.
        w_max_ = kFastConvergence && cwnd < w_max_ ? cwnd * (1.0 + kBeta) / 2.0 : cwnd;
        // 4.6: ssthresh = FlightSize * beta_cubic, at least two segments; cwnd = ssthresh.
        ssthresh_ = std::max(static_cast<std::uint32_t>(std::lround(in_flight * kBeta)), 2 * mss_);
        cwnd_ = ssthresh_;
        carry_ = 0;
        epoch_start_.reset();  // the next congestion avoidance stage starts a new curve
        hystart_.done = true;  // HyStart++ only in the first slow start (RFC 9406 4.2)
    }

private:
    double segments(std::uint32_t bytes) const { return static_cast<double>(bytes) / mss_; }
    double segments_f(double bytes) const { return bytes / mss_; }

    // RFC 9438 equation 1.
    double w_cubic(double t) const { return kC * (t - k_) * (t - k_) * (t - k_) + w_max_; }

    // The beginning of a congestion avoidance stage: the curve is anchored at this instant.
    void start_epoch(Instant now, double cwnd) {
        epoch_start_ = now;
        // 4.10 (and Linux): entering congestion avoidance without a reduction, there is no W_max
        // yet; the curve starts at its plateau (K = 0) and climbs convex from the window we have.
        if (w_max_ == 0) w_max_ = cwnd;
        k_ = std::cbrt((w_max_ - cwnd) / kC);  // 4.2 equation 2; negative if cwnd_epoch > W_max
        w_est_ = cwnd;                          // 4.3: W_est starts at cwnd_epoch
    }

    // HyStart++ (RFC 9406 4.2), in the first slow start only.
    struct HyStart {
        bool done = false;                         // a reduction happened, or it ended slow start
        bool round_started = false;
        SeqNum window_end;                         // the round ends when SND.UNA reaches this
        Duration last_round_min = Duration::max();  // lastRoundMinRTT
        Duration current_round_min = Duration::max();  // currentRoundMinRTT
        std::uint32_t samples = 0;                 // rttSampleCount
        bool in_css = false;                       // in conservative slow start
        Duration css_baseline = Duration::max();   // cssBaselineMinRtt
        std::uint32_t css_rounds = 0;
    };

    HyStart hystart_;
    Duration srtt_;                     // the smoothed RTT: the curve is read one RTT ahead
    std::optional<Instant> epoch_start_;  // t = 0 of the current curve (none: not in congestion avoidance yet)
    double w_max_ = 0;                  // W_max, segments
    double k_ = 0;                      // K, seconds
    double w_est_ = 0;                  // W_est, segments (Reno-friendly estimate)
    double cwnd_prior_ = 0;             // the window just before the last reduction, segments
    double carry_ = 0;                  // segments: the part of the window below one byte
};

}  // namespace

std::unique_ptr<CongestionControl> make_cubic(std::uint32_t mss) { return std::make_unique<Cubic>(mss); }

}  // namespace tcpip
