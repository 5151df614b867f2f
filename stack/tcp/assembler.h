// Assembler: which bytes beyond rcv_nxt have arrived out of order.
//
// The receiver writes an out-of-order segment straight into the receive buffer at its offset
// from rcv_nxt (RingBuffer::write_at) and records the range here. When the segment that fills
// the hole at offset 0 arrives, take_front() says how many bytes are now contiguous, and the
// ranges shift down. Ranges are kept merged and sorted; their number is bounded (a peer that
// sends many tiny disjoint segments cannot make us allocate without limit): a segment that would
// need one more range than the bound is dropped, and the peer retransmits it later.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tcpip {

class Assembler {
public:
    static constexpr std::size_t kMaxRanges = 32;

    struct Range {
        std::size_t start;  // offset from rcv_nxt
        std::size_t end;    // one past the last byte
    };

    // Records bytes [offset, offset + length). Returns false (nothing recorded) if it would need
    // more than kMaxRanges separate ranges.
    bool add(std::size_t offset, std::size_t length);

    // After in-order data of `advanced` bytes was accepted at offset 0: returns how many further
    // bytes (beyond `advanced`) were already here and are now contiguous; shifts all ranges down.
    std::size_t take_front(std::size_t advanced);

    bool empty() const { return ranges_.empty(); }
    const std::vector<Range>& ranges() const { return ranges_; }
    void clear() { ranges_.clear(); }

private:
    std::vector<Range> ranges_;  // sorted, disjoint, not touching
};

}  // namespace tcpip
