// NewReno: slow start, congestion avoidance, fast retransmit and fast recovery as RFC 5681
// describes them, with RFC 6582's handling of partial ACKs during recovery.
//
// The class is also the base of the other loss-based algorithms. RFC 9438 (CUBIC) keeps RFC 5681's
// slow start, fast retransmit and fast recovery, and changes only two things, which are the two
// hooks a derived class overrides (as Linux's tcp_congestion_ops split them into `cong_avoid` and
// `ssthresh`):
//   congestion_avoidance(now, acked)  how the window grows above ssthresh
//   reduce(in_flight)                 the multiplicative decrease on a congestion signal
// and CUBIC's HyStart++ (RFC 9406) a third, slow_start(), for when slow start should end early.
#pragma once

#include "stack/tcp/congestion/congestion.h"

namespace tcpip {

class NewReno : public CongestionControl {
public:
    explicit NewReno(std::uint32_t mss);

    const char* name() const override { return "reno"; }
    std::uint32_t cwnd() const override { return cwnd_; }
    std::uint32_t ssthresh() const override { return ssthresh_; }
    bool in_recovery() const override { return in_recovery_; }
    bool in_cwnd_reduction() const override { return in_recovery_ || in_cwr_; }

    bool on_ack(Instant now, std::uint32_t acked, SeqNum snd_una, std::uint32_t in_flight) override;
    bool on_dup_ack(SeqNum snd_una, SeqNum snd_max, std::uint32_t in_flight) override;
    bool on_loss(SeqNum snd_una, SeqNum snd_max, std::uint32_t in_flight) override;
    void on_undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) override;
    void on_rto(std::uint32_t in_flight) override;
    void on_idle_restart() override;
    void on_ecn_echo(std::uint32_t in_flight, SeqNum snd_max) override;
    void on_recovery_ack(std::uint32_t delivered, std::uint32_t pipe, std::uint32_t flight, bool una_advanced,
                         bool newly_lost) override;
    void on_recovery_sent(std::uint32_t bytes) override {
        if (in_cwnd_reduction()) prr_out_ += bytes;
    }
    void set_mss(std::uint32_t mss) override { mss_ = mss; }
    void on_cwnd_usage(bool limited) override { cwnd_limited_recently_ = limited; }

protected:
    // How far an ACK of `acked` new bytes grows the window in slow start: by what it acknowledged
    // (RFC 3465's byte counting), at most kSlowStartAckLimit segments. RFC 5681 3.1's one MSS
    // per ACK (L = 1) grows the window only 1.5 times per round trip when the receiver delays its
    // ACKs to every second segment (RFC 9293 3.8.6.3), as Linux's does: slow start then needs
    // about 70 % more round trips to any window. Linux counts every segment an ACK covers;
    // RFC 9406 4.2 allows L = 8 segments for a sender that does not pace, which still cuts a
    // burst after a stretch ACK.
    static constexpr std::uint32_t kSlowStartAckLimit = 8;
    std::uint32_t slow_start_growth(std::uint32_t acked) const;
    // Slow start (cwnd < ssthresh, not in recovery): `acked` new bytes; SND.UNA is now `snd_una`
    // and SND.MAX is `snd_max`. NewReno: slow_start_growth, up to ssthresh.
    virtual void slow_start(Instant now, std::uint32_t acked, SeqNum snd_una, SeqNum snd_max);
    // Congestion avoidance (cwnd >= ssthresh, not in recovery): `acked` new bytes at `now`.
    // NewReno: about one MSS per window acknowledged (RFC 5681 3.1, byte counting).
    virtual void congestion_avoidance(Instant now, std::uint32_t acked);
    // The multiplicative decrease on a congestion signal (a loss, an ECN echo; also the ssthresh
    // of an RTO): sets ssthresh, and cwnd = ssthresh. `in_flight` is the FlightSize of RFC 5681.
    // NewReno: ssthresh = max(FlightSize / 2, 2 * MSS) (RFC 5681 equation 4).
    virtual void reduce(std::uint32_t in_flight);
    // A loss recovery begins: ssthresh by reduce(), cwnd kept for PRR to bring down (RFC 6937's
    // initialization, Linux's tcp_init_cwnd_reduction), unless ECN's reduction is under way,
    // which goes on as the recovery's.
    void begin_recovery(std::uint32_t in_flight, SeqNum snd_max, bool sack);
    // PRR's start: ssthresh by reduce(), cwnd kept for PRR to bring down, its counts at zero.
    void begin_reduction(std::uint32_t in_flight);

    std::uint32_t mss_;
    std::uint32_t cwnd_;
    std::uint32_t ssthresh_;

private:
    std::uint32_t bytes_acked_ = 0;
    std::uint32_t dup_acks_ = 0;
    SeqNum recover_;                // RFC 6582 "recover": snd_max when the last recovery began
    bool in_recovery_ = false;
    bool had_recovery_ = false;
    bool sack_recovery_ = false;    // the recovery was begun by on_loss(): RFC 6675's window rules
    bool in_cwr_ = false;           // ECN's reduction (Linux's CA_CWR), until an ACK passes cwr_end_
    SeqNum cwr_end_;                // SND.MAX when the peer's ECE came
    // PRR (RFC 6937): cwnd when the recovery began (Linux's prior_cwnd, where RFC 6937 takes
    // RecoverFS), bytes delivered to the receiver and bytes sent since (prr_delivered, prr_out).
    std::uint32_t prior_cwnd_ = 0;
    bool cwnd_limited_recently_ = false;  // on_cwnd_usage: the window was filled in the last round trip
    std::uint64_t prr_delivered_ = 0, prr_out_ = 0;
};

}  // namespace tcpip
