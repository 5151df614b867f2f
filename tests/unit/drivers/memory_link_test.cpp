#include "drivers/memory_link.h"

#include <gtest/gtest.h>

#include "tests/unit/drivers/test_frames.h"

namespace tcpip {
namespace {

using test::frame_seq;
using test::kMacA;
using test::kMacB;
using test::make_packet;
using test::numbered_frame;
using test::receive_all;

const Instant t0 = Instant::zero();

TEST(MemoryLink, EndpointsHaveTheirOwnMacAndTheLinkMtu) {
    MemoryLink link(kMacA, kMacB, 9000);
    EXPECT_EQ(link.a().mac(), kMacA);
    EXPECT_EQ(link.b().mac(), kMacB);
    EXPECT_EQ(link.a().mtu(), 9000u);
    EXPECT_EQ(link.b().capabilities().max_frame_size, 9014u);
    EXPECT_EQ(link.a().wait_fd(), -1);
}

TEST(MemoryLink, DeliversInOrderBothWays) {
    MemoryLink link(kMacA, kMacB);
    PacketPool pool;
    for (std::uint32_t i = 0; i < 100; ++i) {
        ASSERT_TRUE(link.a().transmit(t0, make_packet(pool, numbered_frame(i, 60 + i, kMacA, kMacB))));
        ASSERT_TRUE(link.b().transmit(t0, make_packet(pool, numbered_frame(1000 + i, 60, kMacB, kMacA))));
    }
    auto at_b = receive_all(link.b(), t0, pool);
    auto at_a = receive_all(link.a(), t0, pool);
    ASSERT_EQ(at_b.size(), 100u);
    ASSERT_EQ(at_a.size(), 100u);
    for (std::uint32_t i = 0; i < 100; ++i) {
        EXPECT_EQ(at_b[i], numbered_frame(i, 60 + i, kMacA, kMacB));  // byte for byte
        EXPECT_EQ(frame_seq(at_a[i]), 1000 + i);
    }
    // Nothing comes back to the sender, and nothing is left.
    EXPECT_TRUE(receive_all(link.a(), t0, pool).empty());
    EXPECT_EQ(link.pending_to_a() + link.pending_to_b(), 0u);
    EXPECT_EQ(link.stats_a().tx_frames, 100u);
    EXPECT_EQ(link.stats_b().rx_frames, 100u);
    EXPECT_EQ(pool.buffers_in_use(), 0u);
}

TEST(MemoryLink, ReceiveHonoursMaxAndUsesTheReceiversPool) {
    MemoryLink link(kMacA, kMacB);
    PacketPool sender_pool, receiver_pool;
    for (std::uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(link.a().transmit(t0, make_packet(sender_pool, numbered_frame(i))));
    EXPECT_EQ(sender_pool.buffers_in_use(), 0u);  // the link copied the bytes
    std::vector<Packet> batch;
    EXPECT_EQ(link.b().receive(t0, receiver_pool, batch, 4), 4u);
    EXPECT_EQ(batch.size(), 4u);
    EXPECT_EQ(receiver_pool.buffers_in_use(), 4u);
    EXPECT_GE(batch[0].headroom(), PacketPool::kDefaultHeadroom);
    EXPECT_EQ(link.b().receive(t0, receiver_pool, batch, 100), 6u);
    for (std::uint32_t i = 0; i < 10; ++i) EXPECT_EQ(frame_seq(batch[i]), i);
}

TEST(MemoryLink, LatencyIsRespectedInVirtualTime) {
    const Duration latency = Duration::millis(5);
    MemoryLink link(kMacA, kMacB, 1500, latency);
    PacketPool pool;
    EXPECT_EQ(link.b().poll_at(), std::nullopt);
    ASSERT_TRUE(link.a().transmit(Instant::from_millis(10), make_packet(pool, numbered_frame(1))));
    ASSERT_TRUE(link.a().transmit(Instant::from_millis(12), make_packet(pool, numbered_frame(2))));
    EXPECT_EQ(link.b().poll_at(), Instant::from_millis(15));
    EXPECT_EQ(link.a().poll_at(), std::nullopt);

    EXPECT_TRUE(receive_all(link.b(), Instant::from_millis(15) - Duration::micros(1), pool).empty());
    auto first = receive_all(link.b(), Instant::from_millis(15), pool);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(frame_seq(first[0]), 1u);
    EXPECT_EQ(link.b().poll_at(), Instant::from_millis(17));
    EXPECT_TRUE(receive_all(link.b(), Instant::from_millis(16), pool).empty());
    auto second = receive_all(link.b(), Instant::from_millis(30), pool);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(frame_seq(second[0]), 2u);
    EXPECT_EQ(link.b().poll_at(), std::nullopt);
}

TEST(MemoryLink, StaysFifoEvenIfTheSendersClockGoesBack) {
    MemoryLink link(kMacA, kMacB, 1500, Duration::millis(1));
    PacketPool pool;
    ASSERT_TRUE(link.a().transmit(Instant::from_millis(10), make_packet(pool, numbered_frame(1))));
    ASSERT_TRUE(link.a().transmit(Instant::from_millis(5), make_packet(pool, numbered_frame(2))));
    EXPECT_TRUE(receive_all(link.b(), Instant::from_millis(6), pool).empty());
    auto got = receive_all(link.b(), Instant::from_millis(11), pool);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(frame_seq(got[0]), 1u);
    EXPECT_EQ(frame_seq(got[1]), 2u);
}

TEST(MemoryLink, RefusesFramesAboveTheMtuAndBeyondTheQueueLimit) {
    MemoryLink link(kMacA, kMacB, 1500, Duration::zero(), /*queue_limit=*/3);
    PacketPool pool;
    auto too_big = link.a().transmit(t0, make_packet(pool, numbered_frame(0, 1515)));
    ASSERT_FALSE(too_big);
    EXPECT_EQ(too_big.error(), DeviceError::FrameTooBig);
    EXPECT_TRUE(link.a().transmit(t0, make_packet(pool, numbered_frame(0, 1514))));
    EXPECT_TRUE(link.a().transmit(t0, make_packet(pool, numbered_frame(1))));
    EXPECT_TRUE(link.a().transmit(t0, make_packet(pool, numbered_frame(2))));
    auto full = link.a().transmit(t0, make_packet(pool, numbered_frame(3)));
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error(), DeviceError::WouldBlock);
    EXPECT_EQ(link.stats_a().tx_queue_full, 1u);
    EXPECT_EQ(link.stats_a().tx_too_big, 1u);
    EXPECT_TRUE(link.b().transmit(t0, make_packet(pool, numbered_frame(9))));  // the other way is free
    EXPECT_EQ(receive_all(link.b(), t0, pool).size(), 3u);
    EXPECT_TRUE(link.a().transmit(t0, make_packet(pool, numbered_frame(3))));
}

TEST(QueueDevice, InjectedFramesAreReceivedAndTransmittedFramesCollected) {
    QueueDevice dev(kMacA);
    PacketPool pool;
    EXPECT_EQ(dev.poll_at(), std::nullopt);
    dev.inject(numbered_frame(1));
    dev.inject(Bytes(numbered_frame(2)));
    EXPECT_EQ(dev.pending(), 2u);
    EXPECT_TRUE(dev.poll_at().has_value());
    auto got = receive_all(dev, t0, pool);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], numbered_frame(1));
    EXPECT_EQ(got[1], numbered_frame(2));

    ASSERT_TRUE(dev.transmit(t0, make_packet(pool, numbered_frame(3))));
    ASSERT_TRUE(dev.transmit(t0, make_packet(pool, numbered_frame(4))));
    auto sent = dev.take_sent();
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(sent[0], numbered_frame(3));
    EXPECT_EQ(frame_seq(sent[1]), 4u);
    EXPECT_TRUE(dev.take_sent().empty());
}

TEST(QueueDevice, CanFailOneTransmit) {
    QueueDevice dev(kMacA);
    PacketPool pool;
    dev.fail_next_transmit(DeviceError::WouldBlock);
    auto r = dev.transmit(t0, make_packet(pool, numbered_frame(1)));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), DeviceError::WouldBlock);
    EXPECT_TRUE(dev.transmit(t0, make_packet(pool, numbered_frame(2))));
    auto sent = dev.take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(frame_seq(sent[0]), 2u);
}

}  // namespace
}  // namespace tcpip
