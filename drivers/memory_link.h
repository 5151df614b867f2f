// In-memory devices for tests and simulation: MemoryLink (a virtual cable between two NetDevices)
// and QueueDevice (one NetDevice whose wire is the test itself).
//
// Both are deterministic: no threads, no clock, no randomness. Time enters only through the `now`
// arguments, so a simulation in virtual time (ManualClock) gives the same result on every run.
//
// MemoryLink
//     MemoryLink link(mac_a, mac_b);            // mtu 1500, no latency
//     Stack left(link.a(), ...), right(link.b(), ...);
// A frame transmitted on a() is received on b() and vice versa, each direction in FIFO order.
// With a latency L, a frame transmitted at time t can be received at t + L and not before;
// poll_at() on the receiving endpoint says when the next frame is due, so an event loop in
// virtual time knows how far to jump. Each direction holds at most `queue_limit` frames in flight;
// beyond that transmit() answers DeviceError::WouldBlock (a full queue, as a real NIC ring).
// The bytes are copied at transmit (the sender's Packet goes back to its pool at once) and copied
// again into the receiver's pool at receive: two stacks never share buffers.
//
// QueueDevice (STYLE.md example 7: "a queue device gives tests inject() and take_sent()")
//     QueueDevice dev(our_mac);
//     dev.inject(arp_request_bytes);            // the stack will receive this frame
//     stack.poll(now);
//     auto sent = dev.take_sent();              // the frames the stack transmitted, in order
// For layer tests that assert the exact frames a stack answers with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "stack/net_device.h"
#include "stack/core/stats.h"

namespace tcpip {

struct MemoryLinkStats {
    Counter tx_frames = 0, rx_frames = 0;
    Counter tx_queue_full = 0;   // transmit() refused: `queue_limit` frames already in flight
    Counter tx_too_big = 0;      // transmit() refused: larger than mtu + 14

    template <class F>
    void for_each(F&& f) const {
        f("tx_frames", tx_frames); f("rx_frames", rx_frames); f("tx_queue_full", tx_queue_full);
        f("tx_too_big", tx_too_big);
    }
};

class MemoryLink {
public:
    static constexpr std::size_t kDefaultQueueLimit = 4096;

    MemoryLink(MacAddress mac_a, MacAddress mac_b, std::size_t mtu = 1500, Duration latency = Duration::zero(),
               std::size_t queue_limit = kDefaultQueueLimit);
    // The endpoints point at each other: the link is neither copied nor moved.
    MemoryLink(const MemoryLink&) = delete;
    MemoryLink& operator=(const MemoryLink&) = delete;

    NetDevice& a() { return a_; }
    NetDevice& b() { return b_; }

    Duration latency() const { return latency_; }
    // Frames in flight towards each endpoint (transmitted by the other one, not yet received).
    std::size_t pending_to_a() const { std::lock_guard<std::mutex> lock(mutex_); return a_.inbox_.size(); }
    std::size_t pending_to_b() const { std::lock_guard<std::mutex> lock(mutex_); return b_.inbox_.size(); }
    const MemoryLinkStats& stats_a() const { return a_.stats_; }
    const MemoryLinkStats& stats_b() const { return b_.stats_; }

private:
    struct Frame {
        Instant due;
        std::vector<std::uint8_t> bytes;
    };

    class Endpoint final : public NetDevice {
    public:
        Endpoint(MemoryLink& link, MacAddress mac) : link_(link), mac_(mac) {}
        std::size_t mtu() const override { return link_.mtu_; }
        MacAddress mac() const override { return mac_; }
        DeviceCapabilities capabilities() const override;
        std::size_t receive(Instant now, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) override;
        Result<void, DeviceError> transmit(Instant now, Packet frame) override;
        std::optional<Instant> poll_at() const override;

    private:
        friend class MemoryLink;
        MemoryLink& link_;
        MacAddress mac_;
        Endpoint* peer_ = nullptr;
        std::deque<Frame> inbox_;                         // frames for this endpoint, due times non-decreasing
        std::vector<std::vector<std::uint8_t>> spare_;    // emptied byte buffers, reused by the peer's transmit
        MemoryLinkStats stats_;
    };

    // The two endpoints may be driven by two threads (two Runtimes, one per endpoint): every
    // access to the queues and spare buffers holds this lock. Uncontended in simulations.
    mutable std::mutex mutex_;
    std::size_t mtu_;
    Duration latency_;
    std::size_t queue_limit_;
    Endpoint a_;
    Endpoint b_;
};

class QueueDevice final : public NetDevice {
public:
    explicit QueueDevice(MacAddress mac, std::size_t mtu = 1500) : mac_(mac), mtu_(mtu) {}

    // A frame for the stack to receive on its next receive() (FIFO).
    void inject(Bytes frame) { inbox_.emplace_back(frame.begin(), frame.end()); }
    void inject(std::vector<std::uint8_t> frame) { inbox_.push_back(std::move(frame)); }
    // The frames the stack transmitted since the last call, oldest first; clears them.
    std::vector<std::vector<std::uint8_t>> take_sent() { return std::exchange(sent_, {}); }
    // Frames injected and not yet received.
    std::size_t pending() const { return inbox_.size(); }
    // The next transmit() fails with `error` (and records nothing), to test a layer's error path.
    void fail_next_transmit(DeviceError error) { fail_next_ = error; }

    std::size_t mtu() const override { return mtu_; }
    MacAddress mac() const override { return mac_; }
    DeviceCapabilities capabilities() const override;
    std::size_t receive(Instant now, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) override;
    Result<void, DeviceError> transmit(Instant now, Packet frame) override;
    // There is work whenever a frame waits: it is due now, whatever "now" is.
    std::optional<Instant> poll_at() const override;

private:
    MacAddress mac_;
    std::size_t mtu_;
    std::deque<std::vector<std::uint8_t>> inbox_;
    std::vector<std::vector<std::uint8_t>> sent_;
    std::optional<DeviceError> fail_next_;
};

}  // namespace tcpip
