// Congestion control behind a small interface (RFC 5681 names): the connection reports what
// happens to its data, the algorithm answers with a congestion window. One algorithm per file:
// NewReno (new_reno.cpp) and CUBIC (cubic.cpp, the default, as on Linux). Which one a connection
// uses: StackConfig::tcp_congestion, or the socket's own choice (TcpUserOptions::congestion).
//
// Time reaches an algorithm only as an argument (`now`), from the stack's injected clock: an
// algorithm that grows its window with time (CUBIC) reads no clock of its own, so that tests can
// drive it in virtual time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "stack/core/config.h"
#include "stack/core/time.h"
#include "stack/tcp/seq.h"

namespace tcpip {

class CongestionControl {
public:
    virtual ~CongestionControl() = default;

    virtual const char* name() const = 0;

    // The window: how many bytes may be in flight.
    virtual std::uint32_t cwnd() const = 0;
    virtual std::uint32_t ssthresh() const = 0;
    virtual bool in_recovery() const = 0;
    // Whether the window is being brought down by proportional rate reduction: in a loss recovery,
    // or after an ECN echo (on_ecn_echo; Linux's CA_CWR state). The caller then reports each ACK
    // to on_recovery_ack and what it sends to on_recovery_sent.
    virtual bool in_cwnd_reduction() const { return in_recovery(); }

    // New data acknowledged at `now`: `acked` bytes, SND.UNA is now `snd_una`, and `in_flight`
    // bytes were outstanding before this ACK. Returns true if the ACK was partial during recovery
    // (RFC 6582): the next unacknowledged segment must be retransmitted at once.
    virtual bool on_ack(Instant now, std::uint32_t acked, SeqNum snd_una, std::uint32_t in_flight) = 0;
    // A duplicate ACK (RFC 5681 section 2 definition). Returns true when the caller must fast
    // retransmit (the third duplicate): a recovery began. During it the window follows PRR
    // (on_recovery_ack), not RFC 5681's inflation by one MSS per duplicate.
    virtual bool on_dup_ack(SeqNum snd_una, SeqNum snd_max, std::uint32_t in_flight) = 0;
    // The retransmission timer expired.
    virtual void on_rto(std::uint32_t in_flight) = 0;
    // Loss detected from the SACK scoreboard (RACK, RFC 8985 6.2; or a tail loss probe that repaired
    // a loss, RFC 8985 7.4.2), not by counting duplicate ACKs: a connection whose peer SACKs never
    // calls on_dup_ack(). Enters fast recovery at most once per window of data: nothing happens if a
    // recovery is already on, or if `snd_una` has not passed the previous recovery point (RFC 6582's
    // "recover" rule: the loss is of data sent before the last reduction). Otherwise it reduces
    // ssthresh as the algorithm does (NewReno: RFC 5681 equation 4, max(in_flight / 2, 2 MSS)),
    // leaves cwnd where it is (PRR brings it down to ssthresh over the recovery, on_recovery_ack),
    // and sets the recovery point = `snd_max` (which may be `snd_una`: a recovery that the next ACK
    // of new data ends, as after a tail loss probe repaired a loss).
    // During a recovery begun here on_ack() never asks for a retransmission (the scoreboard chooses
    // what to resend, RFC 6675 NextSeg, while pipe < cwnd); the first ACK at or past the recovery
    // point ends the recovery with cwnd = ssthresh (as Linux's tcp_end_cwnd_reduction). Returns true
    // if a recovery began.
    virtual bool on_loss(SeqNum snd_una, SeqNum snd_max, std::uint32_t in_flight) = 0;
    // Proportional rate reduction (RFC 6937, as Linux's tcp_cwnd_reduction), once per ACK during a
    // loss recovery or ECN's reduction (in_cwnd_reduction), after the ACK was taken in and what it let out at once was sent: `delivered`
    // bytes newly acknowledged or SACKed (without SACK, one MSS per duplicate ACK), `pipe` the bytes
    // in the network by RFC 6675's estimate (without SACK, in flight less one MSS per duplicate ACK),
    // `flight` what the sender's output compares cwnd with (pipe with SACK, SND.NXT - SND.UNA
    // without), `una_advanced` whether the ACK moved SND.UNA, `newly_lost` whether it found losses.
    // Sets cwnd = flight + what may be sent now: while pipe > ssthresh, ssthresh / prior_cwnd of what
    // was delivered in the recovery, less what was sent in it; below ssthresh, slow start back up to
    // it, at most one MSS beyond what was delivered by this ACK (PRR-SSRB). Nothing outside a reduction.
    virtual void on_recovery_ack(std::uint32_t delivered, std::uint32_t pipe, std::uint32_t flight, bool una_advanced,
                                 bool newly_lost) = 0;
    // `bytes` of data were sent (new or again) during a reduction (in_cwnd_reduction): PRR's prr_out.
    virtual void on_recovery_sent(std::uint32_t bytes) = 0;
    // Whether the window was the limit at some time in the last round trip (the sender's
    // tcp_cwnd_validate): a window filled then counts as used by the ACKs that follow, even if a
    // paced sender has not filled it again when they come. Algorithms that ignore it decide from
    // what is in flight alone.
    virtual void on_cwnd_usage(bool /*limited*/) {}
    // The connection's MSS changed (path MTU discovery lowered it): the algorithm counts segments
    // of the new size from now on; cwnd and ssthresh keep their bytes.
    virtual void set_mss(std::uint32_t mss) = 0;
    // The last reduction (on_loss, the third duplicate ACK, or on_rto) answered retransmissions that
    // proved spurious (RFC 2883 section 4 D-SACK, RFC 3522 Eifel timestamps). `prior_cwnd` and
    // `prior_ssthresh` are what cwnd() and ssthresh() said just before that reduction (the caller keeps
    // them, as Linux's prior_cwnd and prior_ssthresh). Put the window back as Linux's
    // tcp_undo_cwnd_reduction does: cwnd = max(cwnd, prior_cwnd), ssthresh = max(ssthresh,
    // prior_ssthresh); leave recovery. An algorithm with more state (CUBIC's W_max, epoch) may restore
    // that too; Linux's CUBIC restores only the window (tcp_reno_undo_cwnd).
    virtual void on_undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) = 0;
    // A congestion signal without a loss: the peer echoed a CE mark (ECE, RFC 3168 6.1.2). The
    // window is reduced as for a loss, but nothing is retransmitted and no recovery starts: as
    // Linux's tcp_enter_cwr, ssthresh is cut at once and cwnd comes down to it by PRR
    // (in_cwnd_reduction, on_recovery_ack) until an ACK passes `snd_max`, the data sent before
    // the signal; cwnd = ssthresh then. A loss found meanwhile turns it into a recovery without a
    // second cut. `in_flight` is the FlightSize of RFC 5681.
    virtual void on_ecn_echo(std::uint32_t in_flight, SeqNum snd_max) = 0;
    // The connection was idle longer than an RTO (RFC 5681 section 4.1): restart slowly.
    virtual void on_idle_restart() = 0;
    // A round-trip time measurement `sample`, and the smoothed RTT (RFC 6298) after it. Algorithms
    // that use the RTT (CUBIC's target W_cubic(t + RTT), HyStart++'s delay increase) keep them;
    // others ignore them. Every measurement should come here (Karn's, and RFC 7323 RTTM's).
    virtual void on_rtt(Duration /*sample*/, Duration /*srtt*/) {}
};

std::unique_ptr<CongestionControl> make_new_reno(std::uint32_t mss);
std::unique_ptr<CongestionControl> make_cubic(std::uint32_t mss);

// The algorithm's own object, for a connection whose segments carry `mss` bytes.
std::unique_ptr<CongestionControl> make_congestion_control(CongestionAlgorithm algorithm, std::uint32_t mss);
// The name Linux uses for it ("reno" for NewReno, as Linux's own Reno is NewReno; "cubic"), and
// back. Only these exact names are known, as for Linux's TCP_CONGESTION.
std::string_view congestion_name(CongestionAlgorithm algorithm);
std::optional<CongestionAlgorithm> congestion_from_name(std::string_view name);

}  // namespace tcpip
