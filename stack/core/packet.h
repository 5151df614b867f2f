// Packet: one frame's bytes in a pooled buffer, with headroom in front so that each layer going
// down the stack prepends its header in place (push), and each layer going up strips its header by
// moving the start of the view (pull). Nothing is copied between layers.
//
//     buffer: [ headroom ........ | data (size()) ............ | tailroom ...... ]
//                                 ^ begin                      ^ end
//
// A received frame starts with its Ethernet header at `begin`; after ethernet pull(14) and
// ipv4 pull(ihl * 4), `begin` points at the transport header. A packet being sent starts as
// payload with headroom for every header below it (PacketPool::kDefaultHeadroom).
//
// Buffers come from a PacketPool and go back to it when the Packet is destroyed: after the pool
// has warmed up, the steady state makes no heap allocation per packet. The pool is not thread-safe;
// it belongs to one Stack and is used under that Stack's lock.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "stack/core/bytes.h"

namespace tcpip {

class PacketPool;

// What a device with offloads did, or is asked to do, to a frame (Linux's virtio_net_hdr says the
// same things between the kernel and a TAP opened with IFF_VNET_HDR; see drivers/tap_device.h).
// A device without offloads never sets these and never receives a packet that has them set: the
// layers ask for offloads only when DeviceCapabilities says the device has them.
struct PacketOffload {
    // Receive: the device vouches for the transport checksum (it verified it, or the frame comes
    // from the local kernel, which never computed it because it never crossed a wire).
    bool checksum_verified = false;
    // Send: the transport checksum field holds only the pseudo-header sum (not complemented), and
    // the device completes it over the transport header and payload. `checksum_field` is the
    // field's offset from the start of the transport header (16 for TCP, 6 for UDP).
    bool checksum_partial = false;
    std::uint8_t checksum_field = 0;
    // Send: a TCP/IPv4 segment larger than the MTU that the device cuts into segments of
    // `segment_size` payload bytes each (TCP segmentation offload); 0 for an ordinary frame.
    // Receive: a frame larger than the MTU that the sender's TCP cut no further (a TAP with
    // offloads passes the kernel's 64 KiB segments whole); `segment_size` is its MSS. The layers
    // ignore it; a device that must make MTU-sized frames of it uses it.
    std::uint16_t segment_size = 0;
};

class Packet {
public:
    Packet() = default;
    Packet(Packet&& other) noexcept { *this = std::move(other); }
    Packet& operator=(Packet&& other) noexcept;
    Packet(const Packet&) = delete;
    Packet& operator=(const Packet&) = delete;
    ~Packet() { release(); }

    // An empty Packet (default-constructed or moved-from) holds no buffer.
    bool valid() const { return buffer_ != nullptr; }

    std::uint8_t* data() { return buffer_ + begin_; }
    const std::uint8_t* data() const { return buffer_ + begin_; }
    std::size_t size() const { return end_ - begin_; }
    bool empty() const { return size() == 0; }
    MutableBytes bytes() { return {data(), size()}; }
    Bytes bytes() const { return {data(), size()}; }

    std::size_t headroom() const { return begin_; }
    std::size_t tailroom() const { return capacity_ - end_; }
    std::size_t capacity() const { return capacity_; }

    // Prepends n bytes (a header, going down the stack) and returns them for the caller to fill.
    MutableBytes push(std::size_t n) {
        assert(n <= headroom());
        begin_ -= n;
        return {data(), n};
    }
    // Strips n bytes from the front (a header, going up the stack) and returns them.
    Bytes pull(std::size_t n) {
        assert(n <= size());
        Bytes header{data(), n};
        begin_ += n;
        return header;
    }
    // Appends n bytes at the end (payload) and returns them for the caller to fill.
    MutableBytes append(std::size_t n) {
        assert(n <= tailroom());
        MutableBytes tail{buffer_ + end_, n};
        end_ += n;
        return tail;
    }
    // Cuts the data down to its first n bytes, e.g. Ethernet padding after an IPv4 datagram.
    void truncate(std::size_t n) {
        if (n < size()) end_ = begin_ + n;
    }
    // Empties the data and puts `begin` at the given headroom again, ready for reuse.
    void reset(std::size_t headroom) {
        assert(headroom <= capacity_);
        begin_ = end_ = headroom;
        offload_ = {};
    }

    // The pool this buffer goes back to: a device that turns one frame into several (software
    // segmentation) allocates them from the same pool.
    PacketPool* pool() const { return pool_; }

    PacketOffload& offload() { return offload_; }
    const PacketOffload& offload() const { return offload_; }

private:
    friend class PacketPool;
    Packet(PacketPool* pool, std::uint8_t* buffer, std::size_t capacity, std::size_t headroom)
        : pool_(pool), buffer_(buffer), capacity_(capacity), begin_(headroom), end_(headroom) {}
    void release();

    PacketPool* pool_ = nullptr;
    std::uint8_t* buffer_ = nullptr;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;  // first byte of data
    std::size_t end_ = 0;    // one past the last byte of data
    PacketOffload offload_;
};

// Two size classes: "small" for frames up to a standard MTU plus headers, "large" for the 64 KiB
// frames that segmentation offload and IPv4 reassembly produce. Freed buffers are kept on a free
// list per class and reused; the pool never returns memory to the heap until it is destroyed.
class PacketPool {
public:
    static constexpr std::size_t kDefaultHeadroom = 128;             // Ethernet + IPv4 + TCP with options, rounded up
    static constexpr std::size_t kSmallCapacity = 2048;              // 1514-byte frame + headroom
    static constexpr std::size_t kLargeCapacity = 65536 + 512;       // 64 KiB datagram + headroom

    PacketPool() = default;
    PacketPool(const PacketPool&) = delete;
    PacketPool& operator=(const PacketPool&) = delete;
    ~PacketPool();

    // A packet whose data is empty, with `headroom` bytes in front and at least `size` bytes of
    // tailroom behind it.
    Packet allocate(std::size_t size, std::size_t headroom = kDefaultHeadroom);

    // Statistics, for tests and benchmarks: how many buffers exist and how many are handed out.
    std::size_t buffers_allocated() const { return allocated_small_ + allocated_large_; }
    std::size_t buffers_in_use() const { return buffers_allocated() - free_small_.size() - free_large_.size(); }

private:
    friend class Packet;
    void give_back(std::uint8_t* buffer, std::size_t capacity);

    std::vector<std::uint8_t*> free_small_;
    std::vector<std::uint8_t*> free_large_;
    std::size_t allocated_small_ = 0;
    std::size_t allocated_large_ = 0;
};

}  // namespace tcpip
