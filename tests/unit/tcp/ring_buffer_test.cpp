// RingBuffer (stack/tcp/ring_buffer.h): storage that comes with the data, grows by doubling while
// keeping what it holds (out-of-order bytes beyond the back included, across the wrap), and goes
// away when empty.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "stack/tcp/ring_buffer.h"

namespace tcpip {
namespace {

std::vector<std::uint8_t> bytes(std::size_t n, std::uint8_t first) {
    std::vector<std::uint8_t> v(n);
    std::iota(v.begin(), v.end(), first);
    return v;
}

TEST(RingBuffer, NoStorageUntilDataAndNoneWhenReleased) {
    RingBuffer b(256 * 1024);
    EXPECT_EQ(b.allocated(), 0u);
    EXPECT_EQ(b.free(), 256u * 1024);
    EXPECT_EQ(b.write(bytes(10, 0)), 10u);
    EXPECT_EQ(b.allocated(), RingBuffer::kFirstAllocation);
    b.release();  // not empty: kept
    EXPECT_EQ(b.allocated(), RingBuffer::kFirstAllocation);
    std::vector<std::uint8_t> out(10);
    EXPECT_EQ(b.read(out), 10u);
    EXPECT_EQ(out, bytes(10, 0));
    b.release();
    EXPECT_EQ(b.allocated(), 0u);
    EXPECT_EQ(b.write(bytes(3, 7)), 3u);  // and it comes back
    EXPECT_EQ(b.peek(0, out), 3u);
}

// Growing while the data wraps around the end of the storage, with bytes stored beyond the back.
TEST(RingBuffer, GrowsAcrossTheWrapKeepingBytesBeyondTheBack) {
    RingBuffer b(64 * 1024);
    std::vector<std::uint8_t> out(8192);
    ASSERT_EQ(b.write(bytes(3000, 0)), 3000u);
    ASSERT_EQ(b.read(MutableBytes(out.data(), 2500)), 2500u);  // head at 2500 of 4096
    ASSERT_EQ(b.write(bytes(3000, 100)), 3000u);               // wraps: 500 + 3000 readable
    // Out of order, 1000 bytes past the back: needs 3500 + 1000 + 200 > 4096, so it grows.
    ASSERT_EQ(b.write_at(1000, bytes(200, 50)), 200u);
    EXPECT_EQ(b.allocated(), 8192u);
    // The hole is filled and everything is readable, in order.
    ASSERT_EQ(b.write_at(0, bytes(1000, 9)), 1000u);
    b.commit(1200);
    ASSERT_EQ(b.size(), 4700u);
    ASSERT_EQ(b.read(MutableBytes(out.data(), 4700)), 4700u);
    std::vector<std::uint8_t> expected = bytes(3000, 0);
    expected.erase(expected.begin(), expected.begin() + 2500);
    for (auto part : {bytes(3000, 100), bytes(1000, 9), bytes(200, 50)}) expected.insert(expected.end(), part.begin(), part.end());
    EXPECT_EQ(std::vector<std::uint8_t>(out.begin(), out.begin() + 4700), expected);
}

TEST(RingBuffer, NeverGrowsBeyondItsCapacity) {
    RingBuffer b(5000);
    EXPECT_EQ(b.write(bytes(6000, 0)), 5000u);
    EXPECT_EQ(b.allocated(), 5000u);
    EXPECT_EQ(b.write_at(0, bytes(1, 0)), 0u);
    EXPECT_TRUE(b.full());
}

TEST(RingBuffer, SetCapacityKeepsTheBytes) {
    RingBuffer b(64 * 1024);
    std::vector<std::uint8_t> out(20000);
    ASSERT_EQ(b.write(bytes(9000, 0)), 9000u);
    ASSERT_EQ(b.read(MutableBytes(out.data(), 1000)), 1000u);
    b.set_capacity(8000);  // the 8000 bytes held stay
    EXPECT_EQ(b.capacity(), 8000u);
    EXPECT_EQ(b.allocated(), 8000u);
    ASSERT_EQ(b.read(MutableBytes(out.data(), 8000)), 8000u);
    auto all = bytes(9000, 0);
    EXPECT_EQ(std::vector<std::uint8_t>(out.begin(), out.begin() + 8000), std::vector<std::uint8_t>(all.begin() + 1000, all.end()));
    b.set_capacity(100'000);
    EXPECT_EQ(b.write(bytes(50'000, 1)), 50'000u);
}

// With a cache, storage given back when the buffer drains serves the next fill: a buffer that
// drains and refills (once per transaction on a request/response connection) goes to the heap once.
TEST(RingBuffer, DrainedStorageGoesToTheCacheAndComesBack) {
    BufferCache cache(48 * 1024);
    RingBuffer b(256 * 1024);
    b.use_cache(&cache);
    std::vector<std::uint8_t> out(20000);
    for (int round = 0; round < 3; ++round) {
        ASSERT_EQ(b.write(bytes(10, static_cast<std::uint8_t>(round))), 10u);
        ASSERT_EQ(b.read(MutableBytes(out.data(), 10)), 10u);
        EXPECT_EQ(std::vector<std::uint8_t>(out.begin(), out.begin() + 10), bytes(10, static_cast<std::uint8_t>(round)));
        b.release();
        EXPECT_EQ(b.allocated(), 0u);  // the buffer holds nothing...
        EXPECT_EQ(cache.cached_bytes(), RingBuffer::kFirstAllocation);  // ...the cache holds its block
    }
    EXPECT_EQ(cache.reused(), 2u);  // the first fill allocated, the next two reused
    // Growing by doubling leaves the smaller blocks in the cache; the budget bounds what it keeps.
    for (std::size_t n : {3000, 3000, 6000, 8000}) ASSERT_EQ(b.write(bytes(n, 0)), n);  // 4096 (cached) -> 8192 -> 16384 -> 32768
    EXPECT_EQ(b.allocated(), 32768u);
    EXPECT_EQ(cache.cached_bytes(), 4096u + 8192 + 16384);
    ASSERT_EQ(b.read(MutableBytes(out.data(), 20000)), 20000u);
    b.release();  // 28672 + 32768 > 48 KiB: this block goes back to the heap
    EXPECT_EQ(cache.cached_bytes(), 4096u + 8192 + 16384);
    EXPECT_EQ(cache.cached_blocks(), 3u);
}

// A buffer destroyed while holding storage gives it back too.
TEST(RingBuffer, DestroyedBufferGivesItsStorageBack) {
    BufferCache cache(64 * 1024);
    {
        RingBuffer b(64 * 1024);
        b.use_cache(&cache);
        ASSERT_EQ(b.write(bytes(100, 0)), 100u);
    }
    EXPECT_EQ(cache.cached_bytes(), RingBuffer::kFirstAllocation);
}

}  // namespace
}  // namespace tcpip
