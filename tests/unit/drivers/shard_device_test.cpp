// Shards (drivers/shard_device.h): the ephemeral-port split, which shard a frame belongs to, and
// the ShardDevice's forwarding and ARP sharing, over QueueDevices (no TAP needed). The frames are
// built with libtins.
#include "drivers/shard_device.h"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include "drivers/memory_link.h"
#include "tests/unit/drivers/test_frames.h"

namespace tcpip {
namespace {

using test::receive_all;

const Instant t0 = Instant::zero();
const PortRange kDynamic{49152, 65535};

std::vector<std::uint8_t> tcp_frame(std::uint16_t dport, std::uint16_t fragment_offset = 0) {
    Tins::EthernetII frame = Tins::EthernetII("02:74:63:70:00:02", "02:00:00:00:00:01") /
                             Tins::IP("10.0.0.2", "10.0.0.1") / Tins::TCP(dport, 5201);
    frame.rfind_pdu<Tins::IP>().fragment_offset(fragment_offset);
    return frame.serialize();
}

std::vector<std::uint8_t> udp_frame(std::uint16_t dport) {
    Tins::EthernetII frame = Tins::EthernetII("02:74:63:70:00:02", "02:00:00:00:00:01") /
                             Tins::IP("10.0.0.2", "10.0.0.1") / Tins::UDP(dport, 53);
    return frame.serialize();
}

std::vector<std::uint8_t> arp_request() {
    return Tins::ARP::make_arp_request("10.0.0.2", "10.0.0.1", "02:00:00:00:00:01").serialize();
}

TEST(ShardPorts, SlicesCoverTheRangeWithoutOverlap) {
    for (std::size_t shards : {1u, 2u, 3u, 7u, 64u}) {
        std::uint32_t next = kDynamic.first;
        for (std::size_t k = 0; k < shards; ++k) {
            const PortRange slice = shard_port_range(kDynamic, shards, k);
            EXPECT_EQ(slice.first, next) << shards << " shards, slice " << k;
            EXPECT_LE(slice.first, slice.last);
            next = static_cast<std::uint32_t>(slice.last) + 1;
            EXPECT_EQ(shard_of_port(kDynamic, shards, slice.first), k);
            EXPECT_EQ(shard_of_port(kDynamic, shards, slice.last), k);
        }
        EXPECT_EQ(next, 65536u) << shards << " shards";
    }
    EXPECT_EQ(shard_port_range(kDynamic, 2, 0), (PortRange{49152, 57343}));
    EXPECT_EQ(shard_port_range(kDynamic, 2, 1), (PortRange{57344, 65535}));
}

TEST(ShardPorts, PortsOutsideTheRangeBelongToNoShard) {
    EXPECT_EQ(shard_of_port(kDynamic, 2, 80), std::nullopt);
    EXPECT_EQ(shard_of_port(kDynamic, 2, 49151), std::nullopt);
    EXPECT_EQ(shard_of_port(PortRange{1000, 1009}, 3, 1009), 2u);  // the last slice takes the remainder
}

TEST(RouteFrame, EphemeralPortsGoToTheirOwnerAndTheRestStays) {
    EXPECT_EQ(route_frame(tcp_frame(60000), kDynamic, 2, 0).route, FrameRoute::Owner);
    EXPECT_EQ(route_frame(tcp_frame(60000), kDynamic, 2, 0).shard, 1u);
    EXPECT_EQ(route_frame(tcp_frame(60000), kDynamic, 2, 1).route, FrameRoute::Here);
    EXPECT_EQ(route_frame(tcp_frame(50000), kDynamic, 2, 1).route, FrameRoute::Owner);
    EXPECT_EQ(route_frame(udp_frame(60000), kDynamic, 2, 0).route, FrameRoute::Owner);
    // A listening port: whoever got the SYN owns the connection.
    EXPECT_EQ(route_frame(tcp_frame(80), kDynamic, 2, 0).route, FrameRoute::Here);
    EXPECT_EQ(route_frame(tcp_frame(80), kDynamic, 2, 1).route, FrameRoute::Here);
    // A later fragment has no ports.
    EXPECT_EQ(route_frame(tcp_frame(60000, 100), kDynamic, 2, 0).route, FrameRoute::Here);
    EXPECT_EQ(route_frame(arp_request(), kDynamic, 2, 1).route, FrameRoute::Everyone);
    // One shard: everything here; garbage: here, where the stack counts it.
    EXPECT_EQ(route_frame(tcp_frame(60000), kDynamic, 1, 0).route, FrameRoute::Here);
    const std::vector<std::uint8_t> runt(10, 0xff);
    EXPECT_EQ(route_frame(runt, kDynamic, 2, 0).route, FrameRoute::Here);
    auto truncated = tcp_frame(60000);
    truncated.resize(14 + 20 + 2);  // the IPv4 header and half of the source port
    EXPECT_EQ(route_frame(truncated, kDynamic, 2, 0).route, FrameRoute::Here);
}

struct TwoShards {
    QueueDevice q0{MacAddress({0x02, 0x74, 0x63, 0x70, 0x00, 0x02})};
    QueueDevice q1{MacAddress({0x02, 0x74, 0x63, 0x70, 0x00, 0x02})};
    ShardGroup group{{&q0, &q1}, kDynamic};
    PacketPool pool;
};

TEST(ShardDevice, ForwardsAFrameToTheShardThatOwnsItsPort) {
    TwoShards s;
    const auto frame = tcp_frame(60000);  // shard 1's slice
    s.q0.inject(frame);
    EXPECT_TRUE(receive_all(s.group.device(0), t0, s.pool).empty());
    EXPECT_EQ(s.group.device(0).stats().forwarded_out, 1u);
    const auto got = receive_all(s.group.device(1), t0, s.pool);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], frame);
    EXPECT_EQ(s.group.device(1).stats().forwarded_in, 1u);
}

TEST(ShardDevice, KeepsFramesForListeningPortsAndItsOwnSlice) {
    TwoShards s;
    s.q0.inject(tcp_frame(80));
    s.q0.inject(tcp_frame(50000));
    EXPECT_EQ(receive_all(s.group.device(0), t0, s.pool).size(), 2u);
    EXPECT_TRUE(receive_all(s.group.device(1), t0, s.pool).empty());
    EXPECT_EQ(s.group.device(0).stats().forwarded_out, 0u);
}

TEST(ShardDevice, SharesArpAsAReplySoOnlyOneShardAnswers) {
    TwoShards s;
    const auto request = arp_request();
    s.q1.inject(request);
    const auto here = receive_all(s.group.device(1), t0, s.pool);
    ASSERT_EQ(here.size(), 1u);
    EXPECT_EQ(here[0], request);  // the shard it reached answers it
    const auto there = receive_all(s.group.device(0), t0, s.pool);
    ASSERT_EQ(there.size(), 1u);
    Tins::EthernetII copy(there[0].data(), static_cast<std::uint32_t>(there[0].size()));
    const auto& arp = copy.rfind_pdu<Tins::ARP>();
    EXPECT_EQ(arp.opcode(), Tins::ARP::REPLY);
    EXPECT_EQ(arp.sender_ip_addr(), Tins::IPv4Address("10.0.0.1"));
    EXPECT_EQ(arp.sender_hw_addr(), Tins::HWAddress<6>("02:00:00:00:00:01"));
    EXPECT_EQ(arp.target_ip_addr(), Tins::IPv4Address("10.0.0.2"));
    EXPECT_EQ(s.group.device(1).stats().arp_shared, 1u);
}

TEST(ShardDevice, AFullInboxDropsAndCounts) {
    TwoShards s;
    for (std::size_t i = 0; i < ShardDevice::kInboxLimit + 5; ++i) s.q0.inject(tcp_frame(60000));
    receive_all(s.group.device(0), t0, s.pool);
    EXPECT_EQ(s.group.device(0).stats().forwarded_out, ShardDevice::kInboxLimit);
    EXPECT_EQ(s.group.device(0).stats().inbox_full, 5u);
    EXPECT_EQ(receive_all(s.group.device(1), t0, s.pool).size(), ShardDevice::kInboxLimit);
}

}  // namespace
}  // namespace tcpip
