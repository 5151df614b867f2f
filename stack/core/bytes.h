// Big-endian ("network byte order", RFC 1700) loads and stores at a byte offset.
//
// Every header field in this stack is read and written through these helpers with a named
// offset constant, never by casting bytes to a struct: no alignment or aliasing traps, and the
// byte order is visible at every use. Bytes are std::uint8_t throughout the stack, because that
// is what read(2), write(2), pcap and libtins all speak.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tcpip {

using Bytes = std::span<const std::uint8_t>;     // read-only view of wire bytes
using MutableBytes = std::span<std::uint8_t>;    // writable view of wire bytes

constexpr std::uint16_t load_be16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
constexpr std::uint32_t load_be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}
constexpr void store_be16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
constexpr void store_be32(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

// Span forms: the caller has already checked that offset + width fits (a header view does
// that once, in parse()).
constexpr std::uint16_t load_be16(Bytes bytes, std::size_t offset) { return load_be16(bytes.data() + offset); }
constexpr std::uint32_t load_be32(Bytes bytes, std::size_t offset) { return load_be32(bytes.data() + offset); }
constexpr void store_be16(MutableBytes bytes, std::size_t offset, std::uint16_t v) { store_be16(bytes.data() + offset, v); }
constexpr void store_be32(MutableBytes bytes, std::size_t offset, std::uint32_t v) { store_be32(bytes.data() + offset, v); }

}  // namespace tcpip
