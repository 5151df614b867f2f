#include "stack/core/packet.h"

#include <gtest/gtest.h>

#include <cstring>

namespace tcpip {
namespace {

TEST(Packet, PushPullAppend) {
    PacketPool pool;
    Packet p = pool.allocate(100, 64);
    EXPECT_EQ(p.size(), 0u);
    EXPECT_EQ(p.headroom(), 64u);
    auto payload = p.append(10);
    std::memset(payload.data(), 'x', payload.size());
    auto header = p.push(20);
    std::memset(header.data(), 'h', header.size());
    EXPECT_EQ(p.size(), 30u);
    EXPECT_EQ(p.headroom(), 44u);
    EXPECT_EQ(p.data()[0], 'h');
    auto stripped = p.pull(20);
    EXPECT_EQ(stripped.size(), 20u);
    EXPECT_EQ(stripped[19], 'h');
    EXPECT_EQ(p.size(), 10u);
    EXPECT_EQ(p.data()[0], 'x');
    p.truncate(4);
    EXPECT_EQ(p.size(), 4u);
    p.truncate(40);  // never grows
    EXPECT_EQ(p.size(), 4u);
}

TEST(Packet, LargeClassHolds64KiB) {
    PacketPool pool;
    Packet p = pool.allocate(65535 + 14);
    EXPECT_GE(p.tailroom(), 65535u + 14);
    EXPECT_GE(p.headroom(), PacketPool::kDefaultHeadroom);
    p.append(65535 + 14);
}

TEST(PacketPool, ReusesBuffersWithoutAllocating) {
    PacketPool pool;
    {
        Packet a = pool.allocate(1500);
        Packet b = pool.allocate(60000);
        EXPECT_EQ(pool.buffers_allocated(), 2u);
        EXPECT_EQ(pool.buffers_in_use(), 2u);
    }
    EXPECT_EQ(pool.buffers_in_use(), 0u);
    for (int i = 0; i < 1000; ++i) {
        Packet a = pool.allocate(1500);
        Packet b = pool.allocate(60000);
    }
    EXPECT_EQ(pool.buffers_allocated(), 2u) << "steady state allocates nothing new";
}

TEST(Packet, MoveTransfersOwnership) {
    PacketPool pool;
    Packet a = pool.allocate(10);
    a.append(3);
    Packet b = std::move(a);
    EXPECT_FALSE(a.valid());
    EXPECT_TRUE(b.valid());
    EXPECT_EQ(b.size(), 3u);
    EXPECT_EQ(pool.buffers_in_use(), 1u);
    b = Packet();
    EXPECT_EQ(pool.buffers_in_use(), 0u);
}

}  // namespace
}  // namespace tcpip
