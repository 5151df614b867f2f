// Reads the fuzzer's bytes as a sequence of small numbers, for targets that decode a program of
// steps (reassembly, the whole stack). Past the end it returns zeros, so a short input is still a
// valid (short) program and the fuzzer never wastes executions on "not enough bytes".
// (clang ships a FuzzedDataProvider that does this and more; this is the few lines we need, and it
// builds with g++ for the regression test.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tcpip::fuzz {

class InputReader {
public:
    explicit InputReader(std::span<const std::uint8_t> data) : data_(data) {}

    bool done() const { return at_ >= data_.size(); }
    std::size_t remaining() const { return done() ? 0 : data_.size() - at_; }

    std::uint8_t u8() { return done() ? 0 : data_[at_++]; }
    std::uint16_t u16() { return static_cast<std::uint16_t>((std::uint16_t{u8()} << 8) | u8()); }
    std::uint32_t u32() { return (std::uint32_t{u16()} << 16) | u16(); }
    bool flag() { return (u8() & 1) != 0; }

    // Up to n bytes, fewer at the end of the input.
    std::span<const std::uint8_t> bytes(std::size_t n) {
        const std::size_t take = n < remaining() ? n : remaining();
        auto out = data_.subspan(at_, take);
        at_ += take;
        return out;
    }

private:
    std::span<const std::uint8_t> data_;
    std::size_t at_ = 0;
};

}  // namespace tcpip::fuzz
