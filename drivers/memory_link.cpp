// MemoryLink and QueueDevice: see memory_link.h.
#include "drivers/memory_link.h"

#include <algorithm>
#include <cstring>

namespace tcpip {

namespace {

constexpr std::size_t kEthernetHeader = 14;

// Copies a frame into a fresh packet from the receiver's pool, with the usual headroom.
Packet copy_into(PacketPool& pool, const std::vector<std::uint8_t>& bytes) {
    Packet packet = pool.allocate(bytes.size(), PacketPool::kDefaultHeadroom);
    auto dst = packet.append(bytes.size());
    if (!bytes.empty()) std::memcpy(dst.data(), bytes.data(), bytes.size());
    return packet;
}

}  // namespace

MemoryLink::MemoryLink(MacAddress mac_a, MacAddress mac_b, std::size_t mtu, Duration latency, std::size_t queue_limit)
    : mtu_(mtu), latency_(latency), queue_limit_(queue_limit), a_(*this, mac_a), b_(*this, mac_b) {
    a_.peer_ = &b_;
    b_.peer_ = &a_;
}

DeviceCapabilities MemoryLink::Endpoint::capabilities() const {
    DeviceCapabilities caps;
    caps.max_frame_size = link_.mtu_ + kEthernetHeader;
    return caps;
}

Result<void, DeviceError> MemoryLink::Endpoint::transmit(Instant now, Packet frame) {
    if (frame.size() > link_.mtu_ + kEthernetHeader) {
        stats_.tx_too_big++;
        return Unexpected(DeviceError::FrameTooBig);
    }
    std::lock_guard<std::mutex> lock(link_.mutex_);
    Endpoint& to = *peer_;
    if (to.inbox_.size() >= link_.queue_limit_) {
        stats_.tx_queue_full++;
        return Unexpected(DeviceError::WouldBlock);
    }
    std::vector<std::uint8_t> bytes;
    if (!spare_.empty()) {
        bytes = std::move(spare_.back());
        spare_.pop_back();
    }
    bytes.assign(frame.data(), frame.data() + frame.size());
    // FIFO even if a caller's clock went backwards: a frame is never due before the one ahead of it.
    Instant due = now + link_.latency_;
    if (!to.inbox_.empty()) due = std::max(due, to.inbox_.back().due);
    to.inbox_.push_back(Frame{due, std::move(bytes)});
    stats_.tx_frames++;
    return {};
}

std::size_t MemoryLink::Endpoint::receive(Instant now, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) {
    std::lock_guard<std::mutex> lock(link_.mutex_);
    std::size_t count = 0;
    while (count < max && !inbox_.empty() && inbox_.front().due <= now) {
        batch.push_back(copy_into(pool, inbox_.front().bytes));
        // The byte buffer goes back to the sender, which allocates from it next time.
        peer_->spare_.push_back(std::move(inbox_.front().bytes));
        inbox_.pop_front();
        stats_.rx_frames++;
        count++;
    }
    return count;
}

std::optional<Instant> MemoryLink::Endpoint::poll_at() const {
    std::lock_guard<std::mutex> lock(link_.mutex_);
    if (inbox_.empty()) return std::nullopt;
    return inbox_.front().due;
}

DeviceCapabilities QueueDevice::capabilities() const {
    DeviceCapabilities caps;
    caps.max_frame_size = mtu_ + kEthernetHeader;
    return caps;
}

std::size_t QueueDevice::receive(Instant /*now*/, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) {
    std::size_t count = 0;
    while (count < max && !inbox_.empty()) {
        batch.push_back(copy_into(pool, inbox_.front()));
        inbox_.pop_front();
        count++;
    }
    return count;
}

Result<void, DeviceError> QueueDevice::transmit(Instant /*now*/, Packet frame) {
    if (fail_next_) return Unexpected(*std::exchange(fail_next_, std::nullopt));
    if (frame.size() > mtu_ + kEthernetHeader) return Unexpected(DeviceError::FrameTooBig);
    sent_.emplace_back(frame.data(), frame.data() + frame.size());
    return {};
}

std::optional<Instant> QueueDevice::poll_at() const {
    // Frames waiting are due at once; Instant::zero() is "any time now" for a loop that takes the
    // minimum of its deadlines.
    if (inbox_.empty()) return std::nullopt;
    return Instant::zero();
}

}  // namespace tcpip
