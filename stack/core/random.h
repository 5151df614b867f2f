// A small, seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64), and a keyed
// 64-bit mixing function. The stack draws everything that must be unpredictable to a peer (IP IDs,
// later ephemeral ports and ISN secrets) from a seed it is given: apps seed it from getrandom(),
// tests from a constant, so a test run is exactly repeatable.
//
// The arithmetic is spelled out rather than taken from <random>'s distributions, whose mapping
// from engine output to numbers differs between standard libraries.
#pragma once

#include <cstdint>

namespace tcpip {

// SplitMix64 (Steele, Lea, Flood 2014): a good 64-bit mix of one word; also the seeding step.
constexpr std::uint64_t mix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

class Random {
public:
    explicit Random(std::uint64_t seed) {
        for (auto& word : s_) {
            seed = mix64(seed);
            word = seed;
        }
    }

    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform in [0, bound) (Lemire's multiply-shift; the bias is below 2^-32 for small bounds).
    std::uint32_t below(std::uint32_t bound) {
        return static_cast<std::uint32_t>(((next() >> 32) * bound) >> 32);
    }
    // Uniform in [0, 1).
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
    static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t s_[4];
};

}  // namespace tcpip
