// FaultInjector: see fault_injector.h for the model and the order of the faults.
#include "drivers/fault_injector.h"

#include <algorithm>
#include <cstring>

namespace tcpip {

std::uint64_t FaultRng::below(std::uint64_t n) {
    // Values below 2^64 mod n would make the low residues more likely: reject them.
    const std::uint64_t threshold = (0 - n) % n;
    for (;;) {
        std::uint64_t x = next();
        if (x >= threshold) return x % n;
    }
}

std::uint64_t FaultRng::splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

namespace {

std::uint64_t lane_seed(std::uint64_t seed, int lane) {
    std::uint64_t state = seed;
    std::uint64_t s = FaultRng::splitmix64(state);
    if (lane == 1) s = FaultRng::splitmix64(state);
    return s;
}

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

}  // namespace

class FaultInjector::TxSink final : public Sink {
public:
    TxSink(NetDevice& inner, Instant now, FaultStats& stats) : inner_(inner), now_(now), stats_(stats) {}
    bool ready() const override { return true; }
    void deliver(Packet frame, bool /*from_storage*/) override {
        auto result = inner_.transmit(now_, std::move(frame));
        stats_.delivered++;
        if (!result) {
            stats_.inner_errors++;
            if (!first_error_) first_error_ = result.error();
        }
    }
    // The error of the first frame this call handed to the inner device, if it failed.
    std::optional<DeviceError> first_error() const { return first_error_; }

private:
    NetDevice& inner_;
    Instant now_;
    FaultStats& stats_;
    std::optional<DeviceError> first_error_;
};

class FaultInjector::RxSink final : public Sink {
public:
    RxSink(PacketPool& pool, std::vector<Packet>& batch, std::size_t max, FaultStats& stats)
        : pool_(pool), batch_(batch), max_(max), stats_(stats) {}
    bool ready() const override { return count_ < max_; }
    void deliver(Packet frame, bool from_storage) override {
        if (from_storage) {
            // The stack gets buffers from its own pool, never the injector's.
            Packet copy = pool_.allocate(frame.size(), PacketPool::kDefaultHeadroom);
            auto dst = copy.append(frame.size());
            if (frame.size() != 0) std::memcpy(dst.data(), frame.data(), frame.size());
            copy.offload() = frame.offload();
            batch_.push_back(std::move(copy));
        } else {
            batch_.push_back(std::move(frame));
        }
        stats_.delivered++;
        count_++;
    }
    std::size_t count() const { return count_; }

private:
    PacketPool& pool_;
    std::vector<Packet>& batch_;
    std::size_t max_;
    FaultStats& stats_;
    std::size_t count_ = 0;
};

FaultInjector::FaultInjector(NetDevice& inner, FaultConfig config, std::uint64_t seed)
    : inner_(inner), tx_(config.tx, lane_seed(seed, 0)), rx_(config.rx, lane_seed(seed, 1)) {}

void FaultInjector::set_config(const FaultConfig& config) {
    tx_.faults = config.tx;
    rx_.faults = config.rx;
}

std::size_t FaultInjector::in_flight() const {
    return tx_.queue.size() + rx_.queue.size() + (tx_.held ? 1 : 0) + (rx_.held ? 1 : 0);
}

Packet FaultInjector::copy_to_storage(const Packet& frame) {
    Packet copy = storage_.allocate(frame.size(), 0);
    auto dst = copy.append(frame.size());
    if (frame.size() != 0) std::memcpy(dst.data(), frame.data(), frame.size());
    // What a device said about the frame travels with it (a TAP's "checksum verified", or a
    // partial checksum for the inner device to complete).
    copy.offload() = frame.offload();
    return copy;
}

// Steps 1-4 of the file comment: the faults that concern the frame itself.
void FaultInjector::admit(Lane& lane, Instant now, Packet frame, Sink& sink) {
    const LinkFaults& f = lane.faults;
    lane.stats.seen++;
    if (f.max_frame_size != 0 && frame.size() > f.max_frame_size) {
        lane.stats.oversize++;
        return;
    }
    if (lane.rng.chance(f.drop)) {
        lane.stats.dropped++;
        return;
    }
    if (lane.rng.chance(f.corrupt) && !frame.empty()) {
        std::uint64_t byte = lane.rng.below(frame.size());
        std::uint64_t bit = lane.rng.below(8);
        frame.data()[byte] ^= static_cast<std::uint8_t>(1u << bit);
        // A device's word that the checksum was good no longer holds: the receiver must check.
        frame.offload().checksum_verified = false;
        lane.stats.corrupted++;
    }
    if (lane.rng.chance(f.duplicate)) {
        lane.stats.duplicated++;
        Packet copy = copy_to_storage(frame);
        schedule(lane, now, std::move(frame), false, sink);
        schedule(lane, now, std::move(copy), true, sink);
        return;
    }
    schedule(lane, now, std::move(frame), false, sink);
}

// Steps 5-7: when the frame leaves (rate limit, delay, jitter) and whether it is overtaken.
void FaultInjector::schedule(Lane& lane, Instant now, Packet frame, bool from_storage, Sink& sink) {
    const LinkFaults& f = lane.faults;
    Instant departure = now;
    if (f.rate_bytes_per_second != 0) {
        while (!lane.backlog.empty() && lane.backlog.front() <= now) lane.backlog.pop_front();
        if (lane.backlog.size() >= f.queue_limit) {
            lane.stats.rate_limited++;
            return;
        }
        // Shaping with the Generic Cell Rate Algorithm (ITU-T I.371): a frame may leave at
        // TAT - tau, where TAT advances by size/rate per frame and tau = burst/rate. So the bytes
        // that left by time t never exceed rate * t + burst + one frame. Rounded up to whole
        // nanoseconds and microseconds, which only ever slows the link down.
        const auto rate = static_cast<std::int64_t>(f.rate_bytes_per_second);
        const std::int64_t arrival_ns = now.total_micros() * 1000;
        const std::int64_t tau_ns = static_cast<std::int64_t>(f.burst_bytes) * kNanosPerSecond / rate;
        const std::int64_t cost_ns =
            (static_cast<std::int64_t>(frame.size()) * kNanosPerSecond + rate - 1) / rate;
        const std::int64_t depart_ns = std::max(arrival_ns, lane.tat_ns - tau_ns);
        lane.tat_ns = std::max(arrival_ns, lane.tat_ns) + cost_ns;
        departure = Instant::from_micros((depart_ns + 999) / 1000);
        if (departure > now) lane.backlog.push_back(departure);
    }
    Instant due = departure + f.delay;
    if (f.jitter > Duration::zero()) {
        due += Duration::micros(static_cast<std::int64_t>(lane.rng.below(
            static_cast<std::uint64_t>(f.jitter.total_micros()) + 1)));
    }
    due = std::max(due, lane.last_due);  // jitter never reorders
    lane.last_due = due;
    if (due > now) lane.stats.delayed++;

    Pending pending{due, std::move(frame), from_storage};
    if (!lane.held && lane.rng.chance(f.reorder)) {
        if (!pending.from_storage) {
            pending.frame = copy_to_storage(pending.frame);
            pending.from_storage = true;
        }
        lane.held_deadline = due + f.reorder_timeout;
        lane.held = std::move(pending);
        return;
    }
    place(lane, now, std::move(pending), sink);
    if (lane.held) {
        // This frame overtook the held one, which now leaves right behind it.
        Pending released = std::move(*lane.held);
        lane.held.reset();
        released.due = due;
        lane.stats.reordered++;
        place(lane, now, std::move(released), sink);
    }
}

// Hands the frame on at once if it is due and nothing waits ahead of it; otherwise queues it.
void FaultInjector::place(Lane& lane, Instant now, Pending pending, Sink& sink) {
    if (lane.queue.empty() && pending.due <= now && sink.ready()) {
        sink.deliver(std::move(pending.frame), pending.from_storage);
        return;
    }
    if (!pending.from_storage) {
        pending.frame = copy_to_storage(pending.frame);
        pending.from_storage = true;
    }
    lane.queue.push_back(std::move(pending));
}

void FaultInjector::release(Lane& lane, Instant now, Sink& sink) {
    if (lane.held && lane.held_deadline <= now) {
        // Nothing overtook it in time: it leaves in order after all (not counted as reordered).
        Pending released = std::move(*lane.held);
        lane.held.reset();
        released.due = std::max(lane.held_deadline, lane.last_due);
        lane.last_due = released.due;
        place(lane, now, std::move(released), sink);
    }
    while (!lane.queue.empty() && lane.queue.front().due <= now && sink.ready()) {
        Pending pending = std::move(lane.queue.front());
        lane.queue.pop_front();
        sink.deliver(std::move(pending.frame), pending.from_storage);
    }
}

void FaultInjector::release_tx(Instant now) {
    TxSink sink(inner_, now, tx_.stats);
    release(tx_, now, sink);
}

void FaultInjector::flush(Instant now) { release_tx(now); }

Result<void, DeviceError> FaultInjector::transmit(Instant now, Packet frame) {
    TxSink sink(inner_, now, tx_.stats);
    release(tx_, now, sink);  // frames due earlier leave first
    TxSink own(inner_, now, tx_.stats);
    admit(tx_, now, std::move(frame), own);
    release(tx_, now, sink);
    if (own.first_error()) return Unexpected(*own.first_error());
    return {};
}

std::size_t FaultInjector::receive(Instant now, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) {
    release_tx(now);  // the event loop calls receive() on every wake-up: delayed transmissions leave here
    RxSink sink(pool, batch, max, rx_.stats);
    release(rx_, now, sink);
    if (sink.ready()) {
        scratch_.clear();
        inner_.receive(now, pool, scratch_, max - sink.count());
        for (Packet& frame : scratch_) admit(rx_, now, std::move(frame), sink);
        scratch_.clear();
        release(rx_, now, sink);
    }
    return sink.count();
}

std::optional<Instant> FaultInjector::poll_at() const {
    std::optional<Instant> next = inner_.poll_at();
    auto consider = [&](Instant t) {
        if (!next || t < *next) next = t;
    };
    for (const Lane* lane : {&tx_, &rx_}) {
        if (!lane->queue.empty()) consider(lane->queue.front().due);
        if (lane->held) consider(lane->held_deadline);
    }
    return next;
}

}  // namespace tcpip
