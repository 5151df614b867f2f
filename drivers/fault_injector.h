// FaultInjector: a NetDevice decorator that makes any link unreliable on purpose, reproducibly.
//
//     MemoryLink link(mac_a, mac_b);
//     FaultConfig faults = FaultConfig::both({.drop = 0.05, .delay = Duration::millis(10)});
//     FaultInjector lossy(link.a(), faults, /*seed=*/42);
//     Stack left(lossy, ...), right(link.b(), ...);
//
// It wraps an inner device and applies faults in each direction separately: `tx` to frames the
// stack transmits (on their way to the inner device), `rx` to frames the inner device received (on
// their way up to the stack). Modelled on smoltcp's phy::FaultInjector and on Linux netem
// (tc-netem(8)), with every random choice drawn from a seeded generator:
//
//   1. max_frame_size  a frame larger than this is dropped (an MTU black hole)          -> oversize
//   2. drop            the frame is lost                                                -> dropped
//   3. corrupt         one random bit of one random byte is flipped, and the frame loses
//                      offload().checksum_verified (the receiver must check it)         -> corrupted
//   4. duplicate       the frame is delivered twice (an exact copy right behind it)     -> duplicated
//   then, for each copy:
//   5. rate limit      the frame waits for the bottleneck: it leaves when a token bucket of
//                      `burst_bytes` filling at `rate_bytes_per_second` allows (strict pacing with
//                      burst 0); at most `queue_limit` frames wait, the excess is dropped -> rate_limited
//   6. delay           it then travels `delay` + a uniform jitter in [0, jitter]       -> delayed
//                      Jitter never reorders: a frame is never due before the one ahead of it
//                      (unlike netem); reordering is the next knob's job, so tests can ask for one
//                      without the other.
//   7. reorder         the frame is held back and released right behind the next frame that
//                      passes (so that one overtakes it), or after `reorder_timeout` if none comes
//                      -> reordered (counted when overtaken). One frame is held at a time, and the
//                      frame that releases a held one is never held itself: under steady traffic
//                      a fraction p / (1 + p) of frames is overtaken.
//
// Time comes only from the `now` arguments. A frame that cannot leave at once is copied into the
// injector's own buffers and leaves during a later receive() or transmit() at or after its due
// time; poll_at() tells the event loop when that is. Frames handed up by receive() are copied into
// the caller's pool, so the stack never holds the injector's buffers. The inner device must not
// keep a Packet after transmit() returns (no device here does).
//
// Reproducibility: the generator is std::mt19937_64, whose output the C++ standard fixes
// bit-for-bit, mapped to probabilities and ranges with explicit arithmetic (not
// std::uniform_*_distribution, whose algorithms differ between standard libraries). Each direction
// has its own generator (seeded from `seed` through SplitMix64), so the faults in one direction do
// not depend on how much traffic flows in the other. Same seed + same calls = same frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <vector>

#include "stack/net_device.h"
#include "stack/core/stats.h"

namespace tcpip {

// The faults of one direction. All probabilities are per frame, in [0, 1].
struct LinkFaults {
    double drop = 0.0;
    double duplicate = 0.0;
    double reorder = 0.0;
    double corrupt = 0.0;
    Duration delay = Duration::zero();
    Duration jitter = Duration::zero();
    Duration reorder_timeout = Duration::millis(10);  // a held frame leaves anyway after this
    std::uint64_t rate_bytes_per_second = 0;         // 0: no rate limit
    std::size_t burst_bytes = 0;                      // bytes that may leave back to back above the rate
    std::size_t queue_limit = 128;                    // frames waiting for the rate limiter
    std::size_t max_frame_size = 0;                   // 0: no limit
};

struct FaultConfig {
    LinkFaults tx;  // frames the stack transmits, towards the inner device
    LinkFaults rx;  // frames the inner device received, towards the stack

    static FaultConfig both(const LinkFaults& f) { return {f, f}; }
    static FaultConfig tx_only(const LinkFaults& f) { return {f, {}}; }
    static FaultConfig rx_only(const LinkFaults& f) { return {{}, f}; }
};

// What the injector did in one direction. Every frame seen ends up delivered or in exactly one of
// the drop counters (oversize, dropped, rate_limited), or still in flight; duplicates add frames.
struct FaultStats {
    Counter seen = 0;          // frames that entered this direction
    Counter delivered = 0;     // frames that left it (duplicates included)
    Counter oversize = 0;      // dropped: larger than max_frame_size
    Counter dropped = 0;       // dropped at random
    Counter rate_limited = 0;  // dropped: the rate limiter's queue was full
    Counter corrupted = 0;     // one bit flipped
    Counter duplicated = 0;    // an extra copy made
    Counter delayed = 0;       // could not leave at once (delay, jitter, rate limit)
    Counter reordered = 0;     // held back and overtaken by a later frame
    Counter inner_errors = 0;  // tx only: the inner device refused a frame

    template <class F>
    void for_each(F&& f) const {
        f("seen", seen); f("delivered", delivered); f("oversize", oversize); f("dropped", dropped);
        f("rate_limited", rate_limited); f("corrupted", corrupted); f("duplicated", duplicated);
        f("delayed", delayed); f("reordered", reordered); f("inner_errors", inner_errors);
    }
};

// A seeded generator with explicit, portable mappings (see the file comment).
class FaultRng {
public:
    explicit FaultRng(std::uint64_t seed) : engine_(seed) {}
    std::uint64_t next() { return engine_(); }
    // Uniform in [0, 1): the top 53 bits as a double's mantissa.
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    // True with probability p. Draws nothing when p <= 0 or p >= 1.
    bool chance(double p) { return p > 0.0 && (p >= 1.0 || unit() < p); }
    // Uniform in [0, n), n > 0, without modulo bias (rejection, as OpenBSD's arc4random_uniform).
    std::uint64_t below(std::uint64_t n);

    static std::uint64_t splitmix64(std::uint64_t& state);

private:
    std::mt19937_64 engine_;
};

class FaultInjector final : public NetDevice {
public:
    FaultInjector(NetDevice& inner, FaultConfig config, std::uint64_t seed);
    FaultInjector(const FaultInjector&) = delete;
    FaultInjector& operator=(const FaultInjector&) = delete;

    const FaultStats& tx_stats() const { return tx_.stats; }
    const FaultStats& rx_stats() const { return rx_.stats; }
    FaultConfig config() const { return {tx_.faults, rx_.faults}; }
    // Changes the faults from now on (frames already in flight keep their due times).
    void set_config(const FaultConfig& config);
    // Frames held by the injector (delayed, paced or held for reordering), both directions.
    std::size_t in_flight() const;
    // Hands the inner device the transmitted frames whose time has come. receive() does this on
    // every call; a program that only transmits through the injector (a relay between two
    // devices, bench/tcpip_relay.cpp) calls this when poll_at() says.
    void flush(Instant now);

    std::size_t mtu() const override { return inner_.mtu(); }
    MacAddress mac() const override { return inner_.mac(); }
    DeviceCapabilities capabilities() const override { return inner_.capabilities(); }
    int wait_fd() const override { return inner_.wait_fd(); }
    std::size_t receive(Instant now, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) override;
    // Reports the inner device's error only for a frame that went through at once; a frame that
    // leaves later and is refused is counted in tx_stats().inner_errors.
    Result<void, DeviceError> transmit(Instant now, Packet frame) override;
    std::optional<Instant> poll_at() const override;

private:
    // Where frames leaving a lane go: the inner device (tx) or the caller's batch (rx).
    class Sink {
    public:
        virtual ~Sink() = default;
        virtual bool ready() const = 0;
        virtual void deliver(Packet frame, bool from_storage) = 0;
    };
    class TxSink;
    class RxSink;

    struct Pending {
        Instant due;
        Packet frame;
        bool from_storage = false;  // frame lives in storage_ (not the caller's pool)
    };

    // One direction's state: its faults, generator, queue of frames in flight, and counters.
    struct Lane {
        Lane(const LinkFaults& f, std::uint64_t seed) : faults(f), rng(seed) {}
        LinkFaults faults;
        FaultRng rng;
        FaultStats stats;
        std::deque<Pending> queue;            // due times non-decreasing
        std::optional<Pending> held;          // held back for reordering
        Instant held_deadline;
        Instant last_due = Instant::from_micros(INT64_MIN / 4);
        std::int64_t tat_ns = INT64_MIN / 4;  // rate limiter: theoretical arrival time (GCRA), ns
        std::deque<Instant> backlog;          // departure times of frames still waiting for the limiter
    };

    void admit(Lane& lane, Instant now, Packet frame, Sink& sink);
    void schedule(Lane& lane, Instant now, Packet frame, bool from_storage, Sink& sink);
    void place(Lane& lane, Instant now, Pending pending, Sink& sink);
    void release(Lane& lane, Instant now, Sink& sink);
    void release_tx(Instant now);
    Packet copy_to_storage(const Packet& frame);

    NetDevice& inner_;
    PacketPool storage_;     // frames in flight; declared before the lanes so it outlives their packets
    Lane tx_;
    Lane rx_;
    std::vector<Packet> scratch_;  // frames from the inner device, reused between receive() calls
};

}  // namespace tcpip
