// SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed hash that is fast on short inputs and that
// nobody can predict without the key. TCP uses it for initial sequence numbers (RFC 6528 asks for
// "a pseudorandom function" of the connection's addresses and a secret key), as Linux does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tcpip {

struct SipKey {
    std::uint64_t k0 = 0, k1 = 0;
};

inline std::uint64_t siphash24(const SipKey& key, const std::uint8_t* data, std::size_t len) {
    auto rotl = [](std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); };
    std::uint64_t v0 = 0x736f6d6570736575ull ^ key.k0;
    std::uint64_t v1 = 0x646f72616e646f6dull ^ key.k1;
    std::uint64_t v2 = 0x6c7967656e657261ull ^ key.k0;
    std::uint64_t v3 = 0x7465646279746573ull ^ key.k1;
    auto round = [&] {
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
    };
    auto load_le64 = [](const std::uint8_t* p) {
        std::uint64_t v = 0;
        for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
        return v;
    };
    const std::size_t whole = len - len % 8;
    for (std::size_t i = 0; i < whole; i += 8) {
        std::uint64_t m = load_le64(data + i);
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    }
    std::uint64_t last = static_cast<std::uint64_t>(len & 0xff) << 56;
    for (std::size_t i = 0; i < len % 8; ++i) last |= static_cast<std::uint64_t>(data[whole + i]) << (8 * i);
    v3 ^= last;
    round();
    round();
    v0 ^= last;
    v2 ^= 0xff;
    round();
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
}

}  // namespace tcpip
