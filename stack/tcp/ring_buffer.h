// RingBuffer: a fixed-capacity byte queue, the storage of TCP's send and receive buffers.
//
// Bytes are written at the back and consumed from the front. Two extras serve TCP:
//   - peek(offset, ...) reads without consuming: the sender keeps unacknowledged data in the send
//     buffer and reads it again to (re)transmit, until an ACK consumes it.
//   - write_at(offset, ...) writes beyond the back without making the bytes readable yet: the
//     receiver stores out-of-order segments at their place in the receive buffer, and commit()s
//     them once the hole before them is filled (see assembler.h).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "stack/core/bytes.h"

namespace tcpip {

class RingBuffer {
public:
    explicit RingBuffer(std::size_t capacity = 0) { reset(capacity); }

    // Drops all bytes and resizes (buffers are sized when a connection is set up). The storage
    // is not zeroed: no byte is read before it is written, and clearing 2 x 256 KiB for every
    // connection was a tenth of a connect-exchange-close cycle.
    void reset(std::size_t capacity) {
        storage_ = capacity ? std::make_unique_for_overwrite<std::uint8_t[]>(capacity) : nullptr;
        capacity_ = capacity;
        head_ = size_ = 0;
    }

    std::size_t capacity() const { return capacity_; }
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
        std::size_t first = std::min(n, capacity_ - start);
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
        head_ = position(n);
        size_ -= n;
        // (Never "rewind" head_ to 0 when empty: bytes stored by write_at() beyond the back would
        // then be at the wrong place.)
    }

private:
    std::size_t position(std::size_t offset) const {
        std::size_t p = head_ + offset;
        return p >= capacity_ ? p - capacity_ : p;
    }
    void copy_in(std::size_t at, const std::uint8_t* data, std::size_t n) {
        std::size_t first = std::min(n, capacity_ - at);
        std::memcpy(storage_.get() + at, data, first);
        std::memcpy(storage_.get(), data + first, n - first);
    }

    std::unique_ptr<std::uint8_t[]> storage_;
    std::size_t capacity_ = 0;
    std::size_t head_ = 0;  // index of the first readable byte
    std::size_t size_ = 0;
};

}  // namespace tcpip
