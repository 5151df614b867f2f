// Helpers shared by the driver tests: numbered Ethernet frames and a device that runs a frame
// through transmit() with a pool.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "stack/net_device.h"
#include "stack/core/address.h"
#include "stack/core/packet.h"

namespace tcpip::test {

inline constexpr MacAddress kMacA({0x02, 0x00, 0x00, 0x00, 0x00, 0x0a});
inline constexpr MacAddress kMacB({0x02, 0x00, 0x00, 0x00, 0x00, 0x0b});
inline constexpr std::uint16_t kTestEtherType = 0x88b5;  // IEEE 802 "local experimental"

// An Ethernet frame of `size` bytes (at least 18) from `src` to `dst` whose payload starts with a
// 32-bit sequence number, then a byte pattern that depends on it.
inline std::vector<std::uint8_t> numbered_frame(std::uint32_t seq, std::size_t size = 64, MacAddress src = kMacA,
                                                MacAddress dst = kMacB) {
    std::vector<std::uint8_t> f(size);
    dst.copy_to(f.data());
    src.copy_to(f.data() + 6);
    store_be16(f.data() + 12, kTestEtherType);
    store_be32(f.data() + 14, seq);
    for (std::size_t i = 18; i < size; ++i) f[i] = static_cast<std::uint8_t>(seq * 7 + i);
    return f;
}

inline std::uint32_t frame_seq(const std::vector<std::uint8_t>& f) { return load_be32(f.data() + 14); }
inline std::uint32_t frame_seq(const Packet& p) { return load_be32(p.data() + 14); }

inline Packet make_packet(PacketPool& pool, const std::vector<std::uint8_t>& bytes) {
    Packet p = pool.allocate(bytes.size());
    auto dst = p.append(bytes.size());
    std::memcpy(dst.data(), bytes.data(), bytes.size());
    return p;
}

inline std::vector<std::uint8_t> to_vector(const Packet& p) { return {p.data(), p.data() + p.size()}; }

// Receives everything `dev` has at `now`, as byte vectors.
inline std::vector<std::vector<std::uint8_t>> receive_all(NetDevice& dev, Instant now, PacketPool& pool) {
    std::vector<std::vector<std::uint8_t>> out;
    std::vector<Packet> batch;
    for (int rounds = 0; rounds < 100000; ++rounds) {
        batch.clear();
        if (dev.receive(now, pool, batch, 64) == 0) break;
        for (auto& p : batch) out.push_back(to_vector(p));
    }
    return out;
}

}  // namespace tcpip::test
