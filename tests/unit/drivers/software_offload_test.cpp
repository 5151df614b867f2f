// Software segmentation (drivers/software_offload.h): a large TCP frame cut into MTU-sized ones,
// each checked field by field with libtins, whose own serializer recomputes the IPv4 and TCP
// checksums (the independent oracle: a piece must be byte-for-byte what libtins would write).
// Also the receive side (large frames from the inner device cut, at most `max` handed up per
// call, the rest kept in order) and what the fault injector does to the offload flags.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <deque>
#include <vector>

#include "drivers/fault_injector.h"
#include "drivers/software_offload.h"
#include "tests/unit/drivers/test_frames.h"

namespace tcpip {
namespace {

constexpr std::uint32_t kSeq = 4'000'000'000u;  // wraps within the frame: the pieces' sequence numbers wrap too
constexpr std::uint16_t kIdent = 0xfffe;        // so do the IPv4 identifications
constexpr std::size_t kMss = 1448;              // 1500 - 20 (IPv4) - 32 (TCP with timestamps)

std::vector<std::uint8_t> payload_bytes(std::size_t n) {
    std::vector<std::uint8_t> p(n);
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(i * 13 + (i >> 8));
    return p;
}

// A TCP/IPv4 frame written by libtins: ACK, PSH, FIN and CWR, a timestamp option, `payload` bytes.
std::vector<std::uint8_t> tcp_frame(const std::vector<std::uint8_t>& payload) {
    Tins::TCP tcp(80, 40000);
    tcp.seq(kSeq);
    tcp.ack_seq(12345);
    tcp.window(501);
    tcp.flags(Tins::TCP::ACK | Tins::TCP::PSH | Tins::TCP::FIN | Tins::TCP::CWR);
    tcp.timestamp(111, 222);
    Tins::IP ip("10.0.0.2", "10.0.0.1");
    ip.id(kIdent);
    ip.ttl(64);
    ip.flags(Tins::IP::DONT_FRAGMENT);
    Tins::EthernetII frame = Tins::EthernetII("02:00:00:00:00:0b", "02:00:00:00:00:0a") / ip / tcp /
                             Tins::RawPDU(payload.data(), static_cast<std::uint32_t>(payload.size()));
    return frame.serialize();
}

std::vector<std::uint8_t> bytes_of(const Packet& p) { return {p.data(), p.data() + p.size()}; }

// Every piece against libtins: fields, payload, and byte equality with libtins' own serialization
// (which computes both checksums afresh).
void expect_pieces(const std::vector<Packet>& pieces, const std::vector<std::uint8_t>& payload, std::size_t mss) {
    ASSERT_EQ(pieces.size(), (payload.size() + mss - 1) / mss);
    std::size_t offset = 0;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        SCOPED_TRACE("piece " + std::to_string(i));
        const std::vector<std::uint8_t> bytes = bytes_of(pieces[i]);
        ASSERT_LE(bytes.size(), 1514u);
        Tins::EthernetII parsed(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
        const Tins::IP& ip = parsed.rfind_pdu<Tins::IP>();
        const Tins::TCP& tcp = parsed.rfind_pdu<Tins::TCP>();
        const Tins::RawPDU& raw = parsed.rfind_pdu<Tins::RawPDU>();
        const std::size_t chunk = std::min(mss, payload.size() - offset);
        const bool first = i == 0, last = i + 1 == pieces.size();
        EXPECT_EQ(ip.tot_len(), 20 + 32 + chunk);
        EXPECT_EQ(ip.id(), static_cast<std::uint16_t>(kIdent + i));
        EXPECT_EQ(ip.ttl(), 64);
        EXPECT_EQ(ip.flags(), Tins::IP::DONT_FRAGMENT);
        EXPECT_EQ(tcp.seq(), static_cast<std::uint32_t>(kSeq + offset));
        EXPECT_EQ(tcp.ack_seq(), 12345u);
        EXPECT_EQ(tcp.window(), 501);
        EXPECT_EQ(tcp.timestamp(), std::make_pair(111u, 222u));
        EXPECT_EQ(tcp.get_flag(Tins::TCP::ACK), 1);
        EXPECT_EQ(tcp.get_flag(Tins::TCP::FIN), last ? 1 : 0);
        EXPECT_EQ(tcp.get_flag(Tins::TCP::PSH), last ? 1 : 0);
        EXPECT_EQ(tcp.get_flag(Tins::TCP::CWR), first ? 1 : 0);
        EXPECT_EQ(raw.payload(), std::vector<std::uint8_t>(payload.begin() + static_cast<std::ptrdiff_t>(offset),
                                                           payload.begin() + static_cast<std::ptrdiff_t>(offset + chunk)));
        // libtins rewrites the lengths and both checksums: identical bytes mean ours were right.
        Tins::EthernetII again(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
        EXPECT_EQ(again.serialize(), bytes);
        offset += chunk;
    }
    EXPECT_EQ(offset, payload.size());
}

TEST(SegmentTcpFrame, PiecesCarryTheirOwnHeadersAndChecksums) {
    const auto payload = payload_bytes(5000);
    PacketPool pool;
    Packet frame = test::make_packet(pool, tcp_frame(payload));
    std::vector<Packet> pieces;
    ASSERT_TRUE(segment_tcp_frame(frame, kMss, pool, PacketPool::kDefaultHeadroom, pieces));
    expect_pieces(pieces, payload, kMss);
}

TEST(SegmentTcpFrame, A64KibSegmentBecomesFortySixFrames) {
    const auto payload = payload_bytes(65535 - 20 - 32);
    PacketPool pool;
    Packet frame = test::make_packet(pool, tcp_frame(payload));
    std::vector<Packet> pieces;
    ASSERT_TRUE(segment_tcp_frame(frame, kMss, pool, PacketPool::kDefaultHeadroom, pieces));
    EXPECT_EQ(pieces.size(), 46u);  // 65,483 bytes / 1,448
    expect_pieces(pieces, payload, kMss);
}

TEST(SegmentTcpFrame, RefusesWhatIsNotTcpOverIpv4) {
    PacketPool pool;
    std::vector<Packet> pieces;
    const auto udp = (Tins::EthernetII() / Tins::IP("10.0.0.2", "10.0.0.1") / Tins::UDP(53, 5353) /
                      Tins::RawPDU(std::vector<std::uint8_t>(3000, 7))).serialize();
    EXPECT_FALSE(segment_tcp_frame(test::make_packet(pool, udp), kMss, pool, 0, pieces));
    auto truncated = tcp_frame(payload_bytes(3000));
    truncated.resize(14 + 20 + 10);  // the TCP header cut short
    EXPECT_FALSE(segment_tcp_frame(test::make_packet(pool, truncated), kMss, pool, 0, pieces));
    auto lying = tcp_frame(payload_bytes(3000));
    store_be16(lying.data() + 14 + 2, 9000);  // an IPv4 total length beyond the frame
    EXPECT_FALSE(segment_tcp_frame(test::make_packet(pool, lying), kMss, pool, 0, pieces));
    EXPECT_TRUE(pieces.empty());
}

// An inner device that hands up prepared packets (offload flags and all), in order.
class ScriptedDevice final : public NetDevice {
public:
    std::deque<Packet> inbox;
    std::vector<std::vector<std::uint8_t>> sent;

    std::size_t mtu() const override { return 1500; }
    MacAddress mac() const override { return test::kMacA; }
    DeviceCapabilities capabilities() const override { return {}; }
    std::size_t receive(Instant, PacketPool&, std::vector<Packet>& batch, std::size_t max) override {
        std::size_t n = 0;
        while (n < max && !inbox.empty()) {
            batch.push_back(std::move(inbox.front()));
            inbox.pop_front();
            ++n;
        }
        return n;
    }
    Result<void, DeviceError> transmit(Instant, Packet frame) override {
        sent.push_back(bytes_of(frame));
        return {};
    }
};

TEST(SoftwareOffloadReceive, CutsLargeFramesAndHandsUpAtMostMaxPerCall) {
    PacketPool pool;
    ScriptedDevice inner;
    const auto payload = payload_bytes(20000);  // 14 pieces
    Packet large = test::make_packet(pool, tcp_frame(payload));
    large.offload().segment_size = kMss;
    large.offload().checksum_verified = true;
    inner.inbox.push_back(std::move(large));
    const auto small = test::numbered_frame(77, 100);
    inner.inbox.push_back(test::make_packet(pool, small));

    SoftwareOffload cutter(inner);
    const Instant now = Instant::from_micros(5000);
    std::vector<Packet> got;
    EXPECT_EQ(cutter.receive(now, pool, got, 8), 8u);
    EXPECT_EQ(cutter.poll_at(), now);  // pieces wait: the loop must come back at once
    while (cutter.receive(now, pool, got, 8) != 0) {
    }
    EXPECT_EQ(cutter.poll_at(), std::nullopt);
    ASSERT_EQ(got.size(), 15u);
    EXPECT_EQ(bytes_of(got.back()), small);  // after the pieces, as it came after the frame
    got.pop_back();
    for (const Packet& piece : got) EXPECT_TRUE(piece.offload().checksum_verified);
    expect_pieces(got, payload, kMss);
    EXPECT_EQ(cutter.stats().rx_segmented_frames, 1u);
    EXPECT_EQ(cutter.stats().rx_pieces, 14u);
}

TEST(SoftwareOffloadReceive, WithoutTheSendersMssCutsToTheMtu) {
    PacketPool pool;
    ScriptedDevice inner;
    const auto payload = payload_bytes(4000);
    inner.inbox.push_back(test::make_packet(pool, tcp_frame(payload)));  // segment_size 0
    SoftwareOffload cutter(inner);
    std::vector<Packet> got;
    EXPECT_EQ(cutter.receive(Instant::zero(), pool, got, 64), 3u);
    expect_pieces(got, payload, 1500 - 20 - 32);
}

TEST(SoftwareOffloadTransmit, CutsTsoFramesBeforeTheInnerDevice) {
    PacketPool pool;
    ScriptedDevice inner;
    SoftwareOffload cutter(inner);
    const auto payload = payload_bytes(10000);
    Packet frame = test::make_packet(pool, tcp_frame(payload));
    frame.offload().segment_size = kMss;
    ASSERT_TRUE(cutter.transmit(Instant::zero(), std::move(frame)));
    std::vector<Packet> pieces;
    for (const auto& bytes : inner.sent) pieces.push_back(test::make_packet(pool, bytes));
    expect_pieces(pieces, payload, kMss);
}

// The offload flags travel with a frame the injector holds back, and a corrupted frame loses its
// "checksum verified" so the stack checks it (a delayed TAP frame with a partial checksum, or a
// corrupted one taken on trust, were both wrong before).
TEST(FaultInjectorOffload, DelayedFramesKeepTheirFlagsAndCorruptedOnesLoseVerified) {
    PacketPool pool;
    ScriptedDevice inner;
    LinkFaults delay;
    delay.delay = Duration::millis(10);
    FaultInjector injector(inner, FaultConfig::rx_only(delay), 1);
    Packet frame = test::make_packet(pool, test::numbered_frame(1, 200));
    frame.offload().checksum_verified = true;
    inner.inbox.push_back(std::move(frame));
    std::vector<Packet> got;
    EXPECT_EQ(injector.receive(Instant::zero(), pool, got, 8), 0u);
    EXPECT_EQ(injector.receive(Instant::from_micros(10'000), pool, got, 8), 1u);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(got[0].offload().checksum_verified);

    LinkFaults corrupt;
    corrupt.corrupt = 1.0;
    FaultInjector corrupter(inner, FaultConfig::rx_only(corrupt), 1);
    Packet other = test::make_packet(pool, test::numbered_frame(2, 200));
    other.offload().checksum_verified = true;
    inner.inbox.push_back(std::move(other));
    got.clear();
    EXPECT_EQ(corrupter.receive(Instant::zero(), pool, got, 8), 1u);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_FALSE(got[0].offload().checksum_verified);
    EXPECT_EQ(corrupter.rx_stats().corrupted, 1u);
}

}  // namespace
}  // namespace tcpip
