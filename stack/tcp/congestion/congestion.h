// Congestion control behind a small interface (RFC 5681 names): the connection reports what
// happens to its data, the algorithm answers with a congestion window. One algorithm per file;
// NewReno (new_reno.h) is the default.
#pragma once

#include <cstdint>
#include <memory>

namespace tcpip {

class CongestionControl {
public:
    virtual ~CongestionControl() = default;

    virtual const char* name() const = 0;

    // The window: how many bytes may be in flight.
    virtual std::uint32_t cwnd() const = 0;
    virtual std::uint32_t ssthresh() const = 0;
    virtual bool in_recovery() const = 0;

    // New data acknowledged: `acked` bytes, with `in_flight` bytes outstanding before this ACK.
    // Returns true if the ACK was partial during recovery (RFC 6582): the next unacknowledged
    // segment must be retransmitted at once.
    virtual bool on_ack(std::uint32_t acked, std::uint32_t snd_una_after, std::uint32_t in_flight) = 0;
    // A duplicate ACK (RFC 5681 section 2 definition). Returns true when the caller must fast
    // retransmit (the third duplicate).
    virtual bool on_dup_ack(std::uint32_t snd_una, std::uint32_t snd_nxt, std::uint32_t in_flight) = 0;
    // The retransmission timer expired.
    virtual void on_rto(std::uint32_t in_flight) = 0;
    // The connection was idle longer than an RTO (RFC 5681 section 4.1): restart slowly.
    virtual void on_idle_restart() = 0;
};

std::unique_ptr<CongestionControl> make_new_reno(std::uint32_t mss);

}  // namespace tcpip
