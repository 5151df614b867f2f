// BufferCache: storage that TCP buffers gave back, kept for the next buffer that needs the same size.
//
// A RingBuffer allocates when data comes and gives its storage back when it drains (ring_buffer.h),
// so that an idle connection holds nothing. A busy one drains often: a request/response connection
// empties both buffers once per transaction, a bulk sender whenever the network outpaces the
// application. Going to the heap each time costs a malloc and a free per transaction (and, for a
// buffer grown to megabytes, the doubling steps and their copies again). Linux keeps freed socket
// memory in per-CPU slab caches for the same reason. This is that cache for one TcpLayer: blocks of
// exact sizes (buffers grow by doubling from RingBuffer::kFirstAllocation, so few sizes recur), up
// to a byte budget; what does not fit goes back to the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace tcpip {

class BufferCache {
public:
    using Block = std::unique_ptr<std::uint8_t[]>;

    explicit BufferCache(std::size_t budget_bytes) : budget_(budget_bytes) { blocks_.reserve(kMaxBlocks); }
    BufferCache(const BufferCache&) = delete;
    BufferCache& operator=(const BufferCache&) = delete;

    // A block of exactly `size` bytes (contents undefined): a cached one if there is one.
    Block take(std::size_t size) {
        for (std::size_t i = 0; i < blocks_.size(); ++i) {
            if (blocks_[i].size != size) continue;
            Block block = std::move(blocks_[i].block);
            blocks_[i] = std::move(blocks_.back());
            blocks_.pop_back();
            cached_bytes_ -= size;
            ++reused_;
            return block;
        }
        return std::make_unique_for_overwrite<std::uint8_t[]>(size);
    }

    // Takes a block back; keeps it if the budget allows, else frees it.
    void give(Block block, std::size_t size) {
        if (!block || size > budget_ - cached_bytes_ || blocks_.size() == kMaxBlocks) return;
        cached_bytes_ += size;
        blocks_.push_back({std::move(block), size});
    }

    std::size_t cached_bytes() const { return cached_bytes_; }
    std::size_t cached_blocks() const { return blocks_.size(); }
    std::uint64_t reused() const { return reused_; }  // takes served from the cache

    static constexpr std::size_t kMaxBlocks = 64;

private:
    struct Entry {
        Block block;
        std::size_t size;
    };
    std::vector<Entry> blocks_;  // reserved for kMaxBlocks: give() never allocates
    std::size_t budget_;
    std::size_t cached_bytes_ = 0;
    std::uint64_t reused_ = 0;
};

}  // namespace tcpip
