// RingBuffer: a fixed-capacity byte queue, the storage of TCP's send and receive buffers.
//
// Bytes are written at the back and consumed from the front. Two extras serve TCP:
//   - peek(offset, ...) reads without consuming: the sender keeps unacknowledged data in the send
//     buffer and reads it again to (re)transmit, until an ACK consumes it.
//   - write_at(offset, ...) writes beyond the back without making the bytes readable yet: the
//     receiver stores out-of-order segments at their place in the receive buffer, and commit()s
//     them once the hole before them is filled (see assembler.h).
//
// The capacity is a limit, not an allocation: storage is allocated when bytes arrive, grows by
// doubling up to the capacity, and is given back by release() once the buffer is empty. An idle
// connection (or one of the 5,000 half-open ones of a SYN flood) then holds no buffer memory at
// all, where allocating SO_RCVBUF + SO_SNDBUF at the handshake cost 512 KiB per connection.
//
// A request/response connection empties both its buffers after every exchange, so without more
// it would allocate and free two blocks per request. A BufferStock (one per TcpLayer) keeps the
// first-size blocks that emptied buffers give back, for the next buffer that needs one: no heap
// allocation per request, and an idle connection still holds nothing (the stock is bounded and
// shared by all connections).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "stack/core/bytes.h"

namespace tcpip {

// Spare storage blocks of RingBuffer::kFirstAllocation bytes, at most `limit` of them.
class BufferStock {
public:
    explicit BufferStock(std::size_t limit) : limit_(limit) { blocks_.reserve(limit); }

    // A block of `bytes` (kFirstAllocation: from the stock when it has one).
    std::unique_ptr<std::uint8_t[]> take(std::size_t bytes);
    // Takes back a block of `bytes` (kept if it is first-size and the stock is not full, else freed).
    void give(std::unique_ptr<std::uint8_t[]> block, std::size_t bytes);
    std::size_t blocks() const { return blocks_.size(); }

private:
    std::vector<std::unique_ptr<std::uint8_t[]>> blocks_;
    std::size_t limit_;
};

class RingBuffer {
public:
    static constexpr std::size_t kFirstAllocation = 4096;

    explicit RingBuffer(std::size_t capacity = 0) { reset(capacity); }
    ~RingBuffer() { reset(0); }
    RingBuffer(const RingBuffer&) = delete;
    RingBuffer& operator=(const RingBuffer&) = delete;

    // Drops all bytes and sets the capacity; no storage is allocated until data comes. Storage
    // is taken from and given back to `stock`, if any (it must outlive the buffer).
    void reset(std::size_t capacity, BufferStock* stock) {
        stock_ = stock;
        reset(capacity);
    }
    void reset(std::size_t capacity) {
        drop_storage();
        capacity_ = capacity;
        head_ = size_ = 0;
    }

    // Changes the limit, keeping the bytes held (at most `capacity` of them are kept: the caller
    // never sets it below size()). Bytes stored by write_at() beyond the back survive only if the
    // storage does not have to shrink.
    void set_capacity(std::size_t capacity) {
        capacity_ = capacity;
        size_ = std::min(size_, capacity);
        if (allocated_ <= capacity) return;
        auto smaller = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
        peek(0, MutableBytes(smaller.get(), size_));
        drop_storage();
        storage_ = std::move(smaller);
        allocated_ = capacity;
        head_ = 0;
        if (capacity == 0) drop_storage();
    }

    // Gives the storage back if nothing is stored. The caller knows whether bytes were stored by
    // write_at() beyond the back (out-of-order data): they would be lost, so it must not call this then.
    void release() {
        if (size_ != 0) return;
        drop_storage();
        head_ = 0;
    }

    std::size_t capacity() const { return capacity_; }
    std::size_t allocated() const { return allocated_; }  // bytes of storage held now
    std::size_t size() const { return size_; }      // readable bytes
    std::size_t free() const { return capacity_ - size_; }
    bool empty() const { return size_ == 0; }
    bool full() const { return size_ == capacity_; }

    // Appends as much of `data` as fits; returns how much that was.
    std::size_t write(Bytes data) {
        std::size_t n = write_at(0, data);
        size_ += n;
        return n;
    }

    // Stores `data` at `offset` bytes past the back, without making it readable; returns how
    // many bytes fitted (those beyond the capacity are cut off).
    std::size_t write_at(std::size_t offset, Bytes data) {
        if (offset >= free()) return 0;
        std::size_t n = std::min(data.size(), free() - offset);
        if (n == 0) return 0;
        grow_to(size_ + offset + n);
        copy_in(position(size_ + offset), data.data(), n);
        return n;
    }

    // Makes `n` bytes written by write_at() readable (the hole before them is filled).
    void commit(std::size_t n) { size_ += std::min(n, free()); }

    // Copies up to out.size() bytes starting `offset` bytes after the front; returns the count.
    std::size_t peek(std::size_t offset, MutableBytes out) const {
        if (offset >= size_) return 0;
        std::size_t n = std::min(out.size(), size_ - offset);
        std::size_t start = position(offset);
        std::size_t first = std::min(n, allocated_ - start);
        std::memcpy(out.data(), storage_.get() + start, first);
        std::memcpy(out.data() + first, storage_.get(), n - first);
        return n;
    }

    // Reads and removes up to out.size() bytes from the front.
    std::size_t read(MutableBytes out) {
        std::size_t n = peek(0, out);
        consume(n);
        return n;
    }

    // Removes n bytes from the front (acknowledged data, or data the application read).
    void consume(std::size_t n) {
        n = std::min(n, size_);
        if (n == 0) return;
        head_ = position(n);
        size_ -= n;
        // (Never "rewind" head_ to 0 when empty: bytes stored by write_at() beyond the back would
        // then be at the wrong place.)
    }

private:
    std::size_t position(std::size_t offset) const {
        std::size_t p = head_ + offset;
        return p >= allocated_ ? p - allocated_ : p;
    }
    void copy_in(std::size_t at, const std::uint8_t* data, std::size_t n) {
        std::size_t first = std::min(n, allocated_ - at);
        std::memcpy(storage_.get() + at, data, first);
        std::memcpy(storage_.get(), data + first, n - first);
    }
    // Makes room for `bytes` bytes from the front: doubles the storage (at most to the capacity),
    // moving everything it held, out-of-order bytes beyond the back included, to the new start.
    // The storage is not zeroed: no byte is read before it is written.
    void grow_to(std::size_t bytes) {
        if (bytes <= allocated_) return;
        std::size_t size = std::max(allocated_ ? allocated_ : std::min(kFirstAllocation, capacity_), std::size_t{1});
        while (size < bytes) size = std::min(size * 2, capacity_);
        auto bigger = stock_ ? stock_->take(size) : std::make_unique_for_overwrite<std::uint8_t[]>(size);
        if (allocated_ != 0) {
            const std::size_t first = allocated_ - head_;
            std::memcpy(bigger.get(), storage_.get() + head_, first);
            std::memcpy(bigger.get() + first, storage_.get(), head_);
        }
        drop_storage();
        storage_ = std::move(bigger);
        allocated_ = size;
        head_ = 0;
    }
    // Frees the storage, or gives it back to the stock.
    void drop_storage() {
        if (stock_ && storage_) stock_->give(std::move(storage_), allocated_);
        storage_.reset();
        allocated_ = 0;
    }

    BufferStock* stock_ = nullptr;

    std::unique_ptr<std::uint8_t[]> storage_;
    std::size_t allocated_ = 0;  // storage_'s length, <= capacity_
    std::size_t capacity_ = 0;   // the most bytes it may hold (the socket buffer size)
    std::size_t head_ = 0;       // index of the first readable byte
    std::size_t size_ = 0;
};

inline std::unique_ptr<std::uint8_t[]> BufferStock::take(std::size_t bytes) {
    if (bytes != RingBuffer::kFirstAllocation || blocks_.empty()) return std::make_unique_for_overwrite<std::uint8_t[]>(bytes);
    auto block = std::move(blocks_.back());
    blocks_.pop_back();
    return block;
}

inline void BufferStock::give(std::unique_ptr<std::uint8_t[]> block, std::size_t bytes) {
    if (bytes == RingBuffer::kFirstAllocation && blocks_.size() < limit_) blocks_.push_back(std::move(block));
}

}  // namespace tcpip
