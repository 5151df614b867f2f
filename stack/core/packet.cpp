#include "stack/core/packet.h"

#include <cstdlib>
#include <new>
#include <utility>

namespace tcpip {

Packet& Packet::operator=(Packet&& other) noexcept {
    if (this != &other) {
        release();
        pool_ = std::exchange(other.pool_, nullptr);
        buffer_ = std::exchange(other.buffer_, nullptr);
        capacity_ = std::exchange(other.capacity_, 0);
        begin_ = std::exchange(other.begin_, 0);
        end_ = std::exchange(other.end_, 0);
        offload_ = std::exchange(other.offload_, PacketOffload{});
    }
    return *this;
}

void Packet::release() {
    if (buffer_ != nullptr) pool_->give_back(buffer_, capacity_);
    pool_ = nullptr;
    buffer_ = nullptr;
    capacity_ = begin_ = end_ = 0;
    offload_ = {};
}

PacketPool::~PacketPool() {
    // Every Packet must be gone before its pool: a packet outliving the pool is a bug.
    assert(buffers_in_use() == 0);
    for (auto* b : free_small_) ::operator delete(b);
    for (auto* b : free_large_) ::operator delete(b);
}

Packet PacketPool::allocate(std::size_t size, std::size_t headroom) {
    std::size_t needed = headroom + size;
    assert(needed <= kLargeCapacity);
    bool small = needed <= kSmallCapacity;
    auto& free_list = small ? free_small_ : free_large_;
    std::size_t capacity = small ? kSmallCapacity : kLargeCapacity;
    std::uint8_t* buffer;
    if (!free_list.empty()) {
        buffer = free_list.back();
        free_list.pop_back();
    } else {
        buffer = static_cast<std::uint8_t*>(::operator new(capacity));
        (small ? allocated_small_ : allocated_large_)++;
        // Reserve room so that giving the buffer back never allocates.
        free_list.reserve(small ? allocated_small_ : allocated_large_);
    }
    return Packet(this, buffer, capacity, headroom);
}

void PacketPool::give_back(std::uint8_t* buffer, std::size_t capacity) {
    (capacity == kSmallCapacity ? free_small_ : free_large_).push_back(buffer);
}

}  // namespace tcpip
