// ShardDevice and ShardGroup: see shard_device.h and docs/layers/multiqueue.md.
#include "drivers/shard_device.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tcpip {

PortRange shard_port_range(PortRange all, std::size_t shards, std::size_t index) {
    const std::size_t slice = all.size() / shards;
    const auto first = static_cast<std::uint16_t>(all.first + index * slice);
    const auto last = index + 1 == shards ? all.last : static_cast<std::uint16_t>(first + slice - 1);
    return {first, last};
}

std::optional<std::size_t> shard_of_port(PortRange all, std::size_t shards, std::uint16_t port) {
    if (!all.contains(port)) return std::nullopt;
    const std::size_t slice = all.size() / shards;
    return std::min<std::size_t>((port - all.first) / slice, shards - 1);
}

namespace {

constexpr std::size_t kEthernetHeader = 14;
constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
constexpr std::uint16_t kEtherTypeArp = 0x0806;
constexpr std::uint8_t kProtocolTcp = 6;
constexpr std::uint8_t kProtocolUdp = 17;
constexpr std::size_t kArpOperation = kEthernetHeader + 6;  // offset of the ARP opcode in the frame

std::uint16_t be16(std::span<const std::uint8_t> b, std::size_t at) {
    return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

}  // namespace

RouteDecision route_frame(std::span<const std::uint8_t> frame, PortRange ephemeral, std::size_t shards,
                          std::size_t here) {
    if (shards <= 1 || frame.size() < kEthernetHeader) return {};
    const std::uint16_t ether_type = be16(frame, 12);
    if (ether_type == kEtherTypeArp) return {FrameRoute::Everyone, 0};
    if (ether_type != kEtherTypeIpv4) return {};

    const auto ip = frame.subspan(kEthernetHeader);
    if (ip.size() < 20 || (ip[0] >> 4) != 4) return {};
    const std::size_t header = static_cast<std::size_t>(ip[0] & 0x0f) * 4;
    const std::uint8_t protocol = ip[9];
    // Only the first fragment carries the ports; later ones stay where they land (a limit: see
    // the doc; TCP sets DF and is never fragmented by a TAP peer).
    const bool later_fragment = (be16(ip, 6) & 0x1fff) != 0;
    if ((protocol != kProtocolTcp && protocol != kProtocolUdp) || later_fragment || header < 20 ||
        ip.size() < header + 4) {
        return {};
    }
    const std::uint16_t destination_port = be16(ip, header + 2);
    const auto owner = shard_of_port(ephemeral, shards, destination_port);
    if (!owner || *owner == here) return {};
    return {FrameRoute::Owner, *owner};
}

ShardDevice::ShardDevice(NetDevice& queue, ShardGroup& group, std::size_t index)
    : queue_(queue), group_(group), index_(index) {
    inbox_event_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!inbox_event_ || !epoll_) {
        throw std::runtime_error(std::string("shard: cannot create eventfd/epoll: ") + std::strerror(errno));
    }
    for (int fd : {queue_.wait_fd(), inbox_event_.get()}) {
        if (fd < 0) continue;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
    }
    inbox_.reserve(64);
}

bool ShardDevice::post(std::span<const std::uint8_t> frame, const PacketOffload& offload) {
    {
        std::lock_guard<std::mutex> guard(inbox_mutex_);
        if (inbox_.size() >= kInboxLimit) return false;
        inbox_.push_back(Forwarded{std::vector<std::uint8_t>(frame.begin(), frame.end()), offload});
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(inbox_event_.get(), &one, sizeof one);
    return true;
}

std::size_t ShardDevice::take_inbox(PacketPool& pool, std::vector<Packet>& batch, std::size_t max) {
    std::uint64_t count = 0;
    [[maybe_unused]] auto r = ::read(inbox_event_.get(), &count, sizeof count);  // reset the wake-up
    if (draining_.empty()) {
        std::lock_guard<std::mutex> guard(inbox_mutex_);
        draining_.swap(inbox_);
    }
    std::size_t taken = 0;
    while (taken < max && taken < draining_.size()) {
        Forwarded& f = draining_[taken];
        Packet packet = pool.allocate(f.bytes.size());
        std::memcpy(packet.append(f.bytes.size()).data(), f.bytes.data(), f.bytes.size());
        packet.offload() = f.offload;
        batch.push_back(std::move(packet));
        ++taken;
    }
    draining_.erase(draining_.begin(), draining_.begin() + static_cast<std::ptrdiff_t>(taken));
    // Frames left for the next call: wake ourselves so the event loop comes back for them.
    if (!draining_.empty()) {
        const std::uint64_t one = 1;
        r = ::write(inbox_event_.get(), &one, sizeof one);
    }
    stats_.forwarded_in += taken;
    return taken;
}

std::size_t ShardDevice::receive(Instant now, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) {
    const std::size_t from_inbox = take_inbox(pool, batch, max);
    std::size_t kept_total = 0;
    // Read from the queue until the batch is full or the queue is empty: frames passed on to
    // another shard do not count, so a full batch still means "there may be more".
    for (;;) {
        const std::size_t want = max - from_inbox - kept_total;
        if (want == 0) break;
        const std::size_t start = batch.size();
        const std::size_t got = queue_.receive(now, pool, batch, want);
        kept_total += route_received(batch, start);
        if (got < want) break;
    }
    return from_inbox + kept_total;
}

std::size_t ShardDevice::route_received(std::vector<Packet>& batch, std::size_t start) {
    // Keep ours (compacting the batch in place), pass on the rest.
    std::size_t kept = start;
    for (std::size_t i = start; i < batch.size(); ++i) {
        Packet& frame = batch[i];
        const RouteDecision decision = route_frame(frame.bytes(), group_.ephemeral(), group_.size(), index_);
        if (decision.route == FrameRoute::Owner) {
            const bool posted = group_.device(decision.shard).post(frame.bytes(), frame.offload());
            (posted ? stats_.forwarded_out : stats_.inbox_full)++;
            continue;  // the frame goes back to our pool when `batch` is trimmed below
        }
        if (decision.route == FrameRoute::Everyone && frame.size() >= kArpOperation + 2) {
            // The others learn the sender from a reply; only we answer a request.
            std::vector<std::uint8_t> copy(frame.bytes().begin(), frame.bytes().end());
            copy[kArpOperation] = 0;
            copy[kArpOperation + 1] = 2;
            for (std::size_t k = 0; k < group_.size(); ++k) {
                if (k != index_ && !group_.device(k).post(copy, frame.offload())) stats_.inbox_full++;
            }
            stats_.arp_shared++;
        }
        if (kept != i) batch[kept] = std::move(frame);
        ++kept;
    }
    batch.erase(batch.begin() + static_cast<std::ptrdiff_t>(kept), batch.end());
    return kept - start;
}

ShardGroup::ShardGroup(const std::vector<NetDevice*>& queues, PortRange ephemeral) : ephemeral_(ephemeral) {
    devices_.reserve(queues.size());
    for (std::size_t k = 0; k < queues.size(); ++k) {
        devices_.push_back(std::make_unique<ShardDevice>(*queues[k], *this, k));
    }
}

}  // namespace tcpip
