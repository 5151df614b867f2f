// SeqNum: a TCP sequence number, a point on a circle of 2^32 values (RFC 9293 section 3.4).
//
// Sequence numbers wrap: after 0xffffffff comes 0. Comparing them as plain integers is the
// classic TCP bug (a connection that has sent 4 GiB, or that started near the top of the space,
// suddenly sees every new segment as "old"). So this type gives only the operations that make
// sense on a circle:
//
//   - SeqNum + n, SeqNum - n: move along the circle, wrapping modulo 2^32.
//   - a - b: the signed distance from b to a, in (-2^31, 2^31]. It is what RFC 9293 means by
//     "a - b" in its acceptability tests.
//   - a < b: "a comes before b", defined as (int32_t)(a - b) < 0, the serial-number arithmetic of
//     RFC 1982 section 3.2 that RFC 9293 section 3.4 assumes. It is meaningful only for numbers
//     less than 2^31 apart, which TCP guarantees: a window never exceeds 2^30 (RFC 7323 section
//     2.3), so every number a connection compares lies in a span far shorter than half the circle.
//
// Why a SeqNum can never be a key of std::map or std::set: modular "<" is not a strict weak
// ordering. It is not transitive: 0 < 0x60000000 < 0xc0000000 < 0 all hold, since each step is
// less than 2^31 forward. A red-black tree built on such a "<" silently corrupts itself. Code that
// needs sequence numbers sorted (the out-of-order assembler) keys on the offset from rcv_nxt,
// which is an ordinary integer. To make the mistake impossible rather than merely documented,
// std::less<SeqNum> is declared below and never defined, so `std::map<SeqNum, T>` fails to
// compile; there is deliberately no operator<=> either.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>

namespace tcpip {

class SeqNum {
public:
    constexpr SeqNum() = default;
    constexpr explicit SeqNum(std::uint32_t raw) : raw_(raw) {}

    // The number as it goes on the wire.
    constexpr std::uint32_t raw() const { return raw_; }

    // Moving along the circle: unsigned arithmetic wraps modulo 2^32 by definition, which is
    // exactly the arithmetic of sequence space.
    constexpr SeqNum& operator+=(std::uint32_t n) {
        raw_ += n;
        return *this;
    }
    constexpr SeqNum& operator-=(std::uint32_t n) {
        raw_ -= n;
        return *this;
    }
    friend constexpr SeqNum operator+(SeqNum a, std::uint32_t n) { return a += n; }
    friend constexpr SeqNum operator-(SeqNum a, std::uint32_t n) { return a -= n; }

    // The signed distance from b to a: how far a lies ahead of b (negative if behind). The
    // subtraction wraps modulo 2^32 and the cast reads the result as two's complement.
    friend constexpr std::int32_t operator-(SeqNum a, SeqNum b) {
        return static_cast<std::int32_t>(a.raw_ - b.raw_);
    }

    friend constexpr bool operator==(SeqNum a, SeqNum b) { return a.raw_ == b.raw_; }
    friend constexpr bool operator<(SeqNum a, SeqNum b) { return (a - b) < 0; }
    friend constexpr bool operator>(SeqNum a, SeqNum b) { return (a - b) > 0; }
    friend constexpr bool operator<=(SeqNum a, SeqNum b) { return (a - b) <= 0; }
    friend constexpr bool operator>=(SeqNum a, SeqNum b) { return (a - b) >= 0; }

private:
    std::uint32_t raw_ = 0;
};

// The later / earlier of two numbers in sequence space (e.g. snd_una = seq_max(snd_una, ack)).
constexpr SeqNum seq_max(SeqNum a, SeqNum b) { return a < b ? b : a; }
constexpr SeqNum seq_min(SeqNum a, SeqNum b) { return a < b ? a : b; }

// Prints the raw number, as tcpdump -S does.
inline std::ostream& operator<<(std::ostream& os, SeqNum seq) { return os << seq.raw(); }

}  // namespace tcpip

// Declared, never defined: std::map<SeqNum, T> and std::set<SeqNum> do not compile (see above).
template <>
struct std::less<tcpip::SeqNum>;
