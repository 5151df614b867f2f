// Shards: one Stack per queue of a multiqueue TAP, each on its own core, sharing nothing on the
// data path (the model of Seastar and mTCP). The full story, with the kernel's side and the
// limits, is docs/layers/multiqueue.md; in short:
//
//     kernel tapX ── tun_select_queue(flow hash) ──┬── queue 0 fd ── ShardDevice 0 ── Stack 0 (core 0)
//                                                  └── queue 1 fd ── ShardDevice 1 ── Stack 1 (core 1)
//
// Every shard is a whole Stack with the same IP and MAC. The kernel picks the queue of each frame
// it sends by the flow's hash and then keeps the flow on the queue our shard last wrote it from
// (automq), so a connection stays with the shard that saw its SYN. What the shards must still
// agree on, a ShardDevice (a NetDevice between a shard's Stack and its TAP queue) arranges:
//
//   - ARP: the kernel's ARP frames all hash alike and land on one queue, but every shard needs
//     the kernel's MAC. Each ARP frame is handled by the shard it reached (which answers a
//     request), and a copy goes to every other shard as a reply (opcode 2), from which their ARP
//     layers learn the sender without answering a second time.
//   - Ephemeral ports: shard k picks local ports for connect() only from slice k of
//     StackConfig's range (shard_port_range), so no two shards pick the same port, and a TCP or
//     UDP frame whose destination port lies in slice k belongs to shard k: a shard that receives
//     it hands it over (forwarding), through the owner's inbox.
//   - Anything else (frames to a listening port, ICMP) is handled by whichever shard it reached:
//     any shard answers a ping, and a listener exists on every shard.
//
// The inbox is the one place two shards meet: a bounded vector under a mutex (a leaf lock, held
// for a push or a swap) and an eventfd that wakes the owner's event loop. The device's wait_fd()
// is an epoll descriptor over the TAP queue and that eventfd, so the stack's event loop sleeps
// on both without knowing about shards. Forwarded frames are copied (the two stacks' packet pools
// are single-threaded); forwarding is the exception, not the data path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "drivers/unique_fd.h"
#include "stack/core/stats.h"
#include "stack/net_device.h"

namespace tcpip {

// An inclusive range of ports.
struct PortRange {
    std::uint16_t first = 49152;
    std::uint16_t last = 65535;

    bool contains(std::uint16_t port) const { return port >= first && port <= last; }
    std::size_t size() const { return static_cast<std::size_t>(last - first) + 1; }
    bool operator==(const PortRange&) const = default;
};

// Slice `index` of `all` when it is cut into `shards` equal slices (the last one takes the
// remainder). Requires 1 <= shards <= all.size() and index < shards.
PortRange shard_port_range(PortRange all, std::size_t shards, std::size_t index);
// The shard whose slice holds `port`, or nullopt if `port` is outside `all`.
std::optional<std::size_t> shard_of_port(PortRange all, std::size_t shards, std::uint16_t port);

// Where a received Ethernet frame goes.
enum class FrameRoute : std::uint8_t {
    Here,      // the shard that received it handles it
    Owner,     // another shard owns it (a TCP/UDP destination port in that shard's slice)
    Everyone,  // ARP: handled here, and every other shard learns from a copy
};
struct RouteDecision {
    FrameRoute route = FrameRoute::Here;
    std::size_t shard = 0;  // for Owner: which
};
// Decides for a frame received by shard `here` of `shards` (a pure function over the bytes: it
// reads the EtherType, the IPv4 protocol and fragment offset, and the destination port; anything
// it cannot read stays Here, where the stack counts and drops it as it would without shards).
RouteDecision route_frame(std::span<const std::uint8_t> frame, PortRange ephemeral, std::size_t shards,
                          std::size_t here);

struct ShardStats {
    Counter forwarded_out = 0;  // frames handed to the shard that owns them
    Counter forwarded_in = 0;   // frames another shard handed to us
    Counter arp_shared = 0;     // ARP frames copied to the other shards
    Counter inbox_full = 0;     // frames dropped because the owner's inbox was full

    template <class F>
    void for_each(F&& f) const {
        f("forwarded_out", forwarded_out); f("forwarded_in", forwarded_in);
        f("arp_shared", arp_shared); f("inbox_full", inbox_full);
    }
};

class ShardGroup;

// Shard `index`'s device: its TAP queue, plus the inbox other shards forward to.
class ShardDevice final : public NetDevice {
public:
    static constexpr std::size_t kInboxLimit = 1024;  // frames waiting in an inbox, at most

    ShardDevice(NetDevice& queue, ShardGroup& group, std::size_t index);
    ShardDevice(const ShardDevice&) = delete;
    ShardDevice& operator=(const ShardDevice&) = delete;

    std::size_t index() const { return index_; }
    // Read by the owning shard's thread, or by anyone once the shards have stopped.
    const ShardStats& stats() const { return stats_; }

    std::size_t mtu() const override { return queue_.mtu(); }
    MacAddress mac() const override { return queue_.mac(); }
    DeviceCapabilities capabilities() const override { return queue_.capabilities(); }
    // The inbox first (frames other shards forwarded), then the TAP queue, whose frames are
    // routed: ours stay in the batch, others' are forwarded, ARP is shared.
    std::size_t receive(Instant now, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) override;
    Result<void, DeviceError> transmit(Instant now, Packet frame) override { return queue_.transmit(now, std::move(frame)); }
    int wait_fd() const override { return epoll_.get(); }

    // Called from another shard's thread: queues a copy of `frame` and wakes this shard. False
    // (and nothing queued) when the inbox is full.
    bool post(std::span<const std::uint8_t> frame, const PacketOffload& offload);

private:
    struct Forwarded {
        std::vector<std::uint8_t> bytes;
        PacketOffload offload;
    };
    std::size_t take_inbox(PacketPool& pool, std::vector<Packet>& batch, std::size_t max);
    // Routes the frames batch[start..] just read from the queue; returns how many stayed.
    std::size_t route_received(std::vector<Packet>& batch, std::size_t start);

    NetDevice& queue_;
    ShardGroup& group_;
    std::size_t index_;
    UniqueFd inbox_event_;  // eventfd: the inbox is not empty
    UniqueFd epoll_;        // over the queue's fd and inbox_event_
    std::mutex inbox_mutex_;
    std::vector<Forwarded> inbox_;    // under inbox_mutex_
    std::vector<Forwarded> draining_; // the owner's: swapped with inbox_, so the lock is held briefly
    ShardStats stats_;
};

// The shards' devices, one per TAP queue, and the ephemeral port range they split.
class ShardGroup {
public:
    // `queues[k]` is queue k's device (it must outlive the group). `ephemeral` is the whole range;
    // shard k's stack must be given ports(k) as its StackConfig::ephemeral_port_first/last.
    ShardGroup(const std::vector<NetDevice*>& queues, PortRange ephemeral = {});

    std::size_t size() const { return devices_.size(); }
    ShardDevice& device(std::size_t k) { return *devices_[k]; }
    PortRange ports(std::size_t k) const { return shard_port_range(ephemeral_, size(), k); }
    PortRange ephemeral() const { return ephemeral_; }

private:
    std::vector<std::unique_ptr<ShardDevice>> devices_;
    PortRange ephemeral_;
};

}  // namespace tcpip
