// PcapWriter: the file is read back by two independent readers, libtins (libpcap underneath) and
// tshark, and must give the same frames, both directions, in order, with the right timestamps.
#include "drivers/pcap_writer.h"

#include <gtest/gtest.h>
#include <tins/tins.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>

#include "drivers/memory_link.h"
#include "tests/unit/drivers/test_frames.h"

namespace tcpip {
namespace {

using test::kMacA;
using test::kMacB;
using test::make_packet;
using test::numbered_frame;

bool in_ci() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true";
}

// A unique file in gtest's temporary directory, removed at the end of the test.
class TempPath {
public:
    explicit TempPath(const std::string& stem)
        : path_(::testing::TempDir() + "tcpip-" + stem + "-" + std::to_string(::getpid()) + ".pcap") {}
    ~TempPath() { std::remove(path_.c_str()); }
    const std::string& str() const { return path_; }

private:
    std::string path_;
};

std::vector<std::uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint32_t le32(const std::vector<std::uint8_t>& b, std::size_t at) {
    return std::uint32_t{b[at]} | std::uint32_t{b[at + 1]} << 8 | std::uint32_t{b[at + 2]} << 16 |
           std::uint32_t{b[at + 3]} << 24;
}

struct Recorded {
    std::vector<std::uint8_t> bytes;
    std::int64_t micros;
};

// Three frames: out (a -> b), in (b -> a), out again; at known virtual times.
std::vector<Recorded> write_sample_capture(const std::string& path, std::size_t* file_size_after_first = nullptr) {
    MemoryLink link(kMacA, kMacB);
    auto pcap = PcapWriter::open(link.a(), path);
    EXPECT_TRUE(pcap.has_value());
    if (!pcap) return {};
    PacketPool pool;
    std::vector<Recorded> expected = {
        {numbered_frame(1, 100, kMacA, kMacB), 1'500'000},
        {numbered_frame(2, 200, kMacB, kMacA), 2'000'123},
        {numbered_frame(3, 1514, kMacA, kMacB), 3'000'000},
    };
    EXPECT_TRUE(pcap->transmit(Instant::from_micros(expected[0].micros), make_packet(pool, expected[0].bytes)));
    if (file_size_after_first != nullptr) *file_size_after_first = read_file(path).size();
    EXPECT_TRUE(link.b().transmit(Instant::from_micros(2'000'000), make_packet(pool, expected[1].bytes)));
    std::vector<Packet> batch;
    EXPECT_EQ(pcap->receive(Instant::from_micros(expected[1].micros), pool, batch, 8), 1u);
    EXPECT_EQ(test::to_vector(batch.at(0)), expected[1].bytes);
    EXPECT_TRUE(pcap->transmit(Instant::from_micros(expected[2].micros), make_packet(pool, expected[2].bytes)));
    EXPECT_EQ(pcap->stats().frames_written, 3u);
    EXPECT_EQ(pcap->stats().rx_frames, 1u);
    EXPECT_EQ(pcap->stats().tx_frames, 2u);
    EXPECT_EQ(pcap->stats().write_errors, 0u);
    EXPECT_EQ(link.pending_to_b(), 2u) << "transmitted frames still reach the inner device";
    return expected;
}

TEST(PcapWriter, GlobalHeaderIsClassicMicrosecondEthernet) {
    TempPath path("header");
    std::size_t size_after_first = 0;
    write_sample_capture(path.str(), &size_after_first);
    auto file = read_file(path.str());
    ASSERT_GE(file.size(), 24u);
    EXPECT_EQ(le32(file, 0), 0xa1b2c3d4u);
    EXPECT_EQ(file[4] | file[5] << 8, 2);   // version_major
    EXPECT_EQ(file[6] | file[7] << 8, 4);   // version_minor
    EXPECT_EQ(le32(file, 8), 0u);           // thiszone
    EXPECT_EQ(le32(file, 12), 0u);          // sigfigs
    EXPECT_EQ(le32(file, 16), 262144u);     // snaplen
    EXPECT_EQ(le32(file, 20), 1u);          // LINKTYPE_ETHERNET
    EXPECT_EQ(file.size(), 24u + 3 * 16 + 100 + 200 + 1514);
    // Each call's records are in the file when it returns: readable while the app runs.
    EXPECT_EQ(size_after_first, 24u + 16 + 100);
    // First record header: ts 1.500000 s, 100 bytes captured of 100.
    EXPECT_EQ(le32(file, 24), 1u);
    EXPECT_EQ(le32(file, 28), 500000u);
    EXPECT_EQ(le32(file, 32), 100u);
    EXPECT_EQ(le32(file, 36), 100u);
}

TEST(PcapWriter, LibtinsReadsBackTheSameFramesBothDirectionsInOrder) {
    TempPath path("libtins");
    auto expected = write_sample_capture(path.str());
    ASSERT_EQ(expected.size(), 3u);

    Tins::FileSniffer raw_reader(path.str());
    raw_reader.set_extract_raw_pdus(true);
    std::size_t i = 0;
    for (Tins::Packet packet = raw_reader.next_packet(); packet; packet = raw_reader.next_packet(), ++i) {
        ASSERT_LT(i, expected.size());
        const auto& payload = packet.pdu()->rfind_pdu<Tins::RawPDU>().payload();
        EXPECT_EQ(payload, expected[i].bytes) << "frame " << i;
        const std::int64_t micros = static_cast<std::int64_t>(packet.timestamp().seconds()) * 1000000 +
                                    static_cast<std::int64_t>(packet.timestamp().microseconds());
        EXPECT_EQ(micros, expected[i].micros) << "frame " << i;
    }
    EXPECT_EQ(i, expected.size());

    // Parsed as Ethernet: the directions show in the source addresses.
    Tins::FileSniffer parsed(path.str());
    std::vector<std::string> sources;
    parsed.sniff_loop([&](Tins::PDU& pdu) {
        sources.push_back(pdu.rfind_pdu<Tins::EthernetII>().src_addr().to_string());
        return true;
    });
    EXPECT_EQ(sources, (std::vector<std::string>{kMacA.to_string(), kMacB.to_string(), kMacA.to_string()}));
}

TEST(PcapWriter, TsharkReadsTheFile) {
    if (std::system("command -v tshark >/dev/null 2>&1") != 0) {
        if (in_ci()) FAIL() << "tshark is not installed, and CI=true requires this check (apt-get install tshark)";
        GTEST_SKIP() << "tshark is not installed (apt-get install tshark); the libtins check still ran";
    }
    TempPath path("tshark");
    auto expected = write_sample_capture(path.str());
    const std::string command =
        "tshark -n -r '" + path.str() + "' -T fields -e frame.len -e eth.src -e frame.time_epoch 2>/dev/null";
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
    const int status = ::pclose(pipe);
    ASSERT_EQ(status, 0) << command << "\n" << output;
    std::istringstream lines(output);
    std::string line;
    std::size_t i = 0;
    for (; std::getline(lines, line); ++i) {
        ASSERT_LT(i, expected.size()) << output;
        std::istringstream fields(line);
        std::size_t len = 0;
        std::string src, epoch;
        fields >> len >> src >> epoch;
        EXPECT_EQ(len, expected[i].bytes.size()) << line;
        EXPECT_EQ(src, MacAddress::from_bytes(expected[i].bytes.data() + 6).to_string()) << line;
        EXPECT_NEAR(std::stod(epoch), static_cast<double>(expected[i].micros) / 1e6, 1e-6) << line;
    }
    EXPECT_EQ(i, expected.size()) << output;
}

TEST(PcapWriter, WallClockTimestampsComeFromTheRealTimeClock) {
    TempPath path("wallclock");
    QueueDevice inner(kMacA);
    auto pcap = PcapWriter::open(inner, path.str(), {.timestamps = PcapTimestamps::WallClock});
    ASSERT_TRUE(pcap.has_value());
    PacketPool pool;
    // The same clock as the writer's: time() reads the coarse real-time clock, which can lag
    // CLOCK_REALTIME by a tick and fail this test across a second boundary (seen in CI).
    auto wall_seconds = [] {
        timespec ts{};
        ::clock_gettime(CLOCK_REALTIME, &ts);
        return static_cast<std::int64_t>(ts.tv_sec);
    };
    const std::int64_t before = wall_seconds();
    ASSERT_TRUE(pcap->transmit(Instant::from_micros(42), make_packet(pool, numbered_frame(1))));
    const std::int64_t after = wall_seconds();
    auto file = read_file(path.str());
    ASSERT_GE(file.size(), 40u);
    const auto seconds = static_cast<std::int64_t>(le32(file, 24));
    EXPECT_GE(seconds, before);
    EXPECT_LE(seconds, after);
}

TEST(PcapWriter, SnaplenCutsLongFramesButKeepsTheirLength) {
    TempPath path("snaplen");
    QueueDevice inner(kMacA);
    auto pcap = PcapWriter::open(inner, path.str(), {.snaplen = 64});
    ASSERT_TRUE(pcap.has_value());
    PacketPool pool;
    ASSERT_TRUE(pcap->transmit(Instant::zero(), make_packet(pool, numbered_frame(1, 200))));
    auto file = read_file(path.str());
    EXPECT_EQ(le32(file, 16), 64u);
    EXPECT_EQ(le32(file, 32), 64u);   // incl_len
    EXPECT_EQ(le32(file, 36), 200u);  // orig_len
    EXPECT_EQ(file.size(), 24u + 16 + 64);
    EXPECT_EQ(inner.take_sent().at(0).size(), 200u) << "the frame itself is not cut";
}

TEST(PcapWriter, OpenErrorNamesThePathAndTheCause) {
    QueueDevice inner(kMacA);
    auto pcap = PcapWriter::open(inner, "/nonexistent-dir-tcpip/x.pcap");
    ASSERT_FALSE(pcap.has_value());
    const std::string msg = pcap.error().message();
    EXPECT_NE(msg.find("/nonexistent-dir-tcpip/x.pcap"), std::string::npos) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
}


// ---- pcapng ------------------------------------------------------------------------------------

std::uint16_t le16(const std::vector<std::uint8_t>& b, std::size_t at) {
    return static_cast<std::uint16_t>(b[at] | b[at + 1] << 8);
}

// One Enhanced Packet Block, as parsed here independently of the writer.
struct Epb {
    std::int64_t micros = 0;
    std::vector<std::uint8_t> frame;
    std::uint32_t flags = 0;
    std::vector<std::string> comments;
};

// Walks the blocks of a pcapng file: checks the Section Header and Interface Description Blocks,
// every block's two length fields, and returns the packets. Fails the test on anything malformed.
std::vector<Epb> parse_pcapng(const std::vector<std::uint8_t>& file) {
    std::vector<Epb> packets;
    EXPECT_GE(file.size(), 48u);
    if (file.size() < 48) return packets;
    EXPECT_EQ(le32(file, 0), 0x0A0D0D0Au) << "Section Header Block";
    EXPECT_EQ(le32(file, 8), 0x1A2B3C4Du) << "byte-order magic";
    EXPECT_EQ(le16(file, 12), 1) << "major version";
    std::size_t at = 0;
    bool interface_seen = false;
    while (at + 12 <= file.size()) {
        const std::uint32_t type = le32(file, at);
        const std::uint32_t length = le32(file, at + 4);
        EXPECT_EQ(length % 4, 0u) << "block at " << at;
        EXPECT_GE(length, 12u);
        if (length < 12 || at + length > file.size()) {
            ADD_FAILURE() << "block at " << at << " runs past the file";
            return packets;
        }
        EXPECT_EQ(le32(file, at + length - 4), length) << "trailing length of the block at " << at;
        if (type == 0x00000001) {
            EXPECT_EQ(le16(file, at + 8), 1) << "LINKTYPE_ETHERNET";
            interface_seen = true;
        } else if (type == 0x00000006) {
            EXPECT_TRUE(interface_seen) << "a packet before its interface";
            Epb p;
            EXPECT_EQ(le32(file, at + 8), 0u) << "interface id";
            const std::uint64_t ticks = std::uint64_t{le32(file, at + 12)} << 32 | le32(file, at + 16);
            p.micros = static_cast<std::int64_t>(ticks);
            const std::uint32_t captured = le32(file, at + 20);
            EXPECT_EQ(le32(file, at + 24), captured);
            p.frame.assign(file.begin() + static_cast<std::ptrdiff_t>(at + 28),
                           file.begin() + static_cast<std::ptrdiff_t>(at + 28 + captured));
            std::size_t opt = at + 28 + (captured + 3) / 4 * 4;
            while (opt + 4 <= at + length - 4) {
                const std::uint16_t code = le16(file, opt);
                const std::uint16_t len = le16(file, opt + 2);
                if (code == 0) break;  // opt_endofopt
                if (code == 1) p.comments.emplace_back(file.begin() + static_cast<std::ptrdiff_t>(opt + 4),
                                                       file.begin() + static_cast<std::ptrdiff_t>(opt + 4 + len));
                if (code == 2) p.flags = le32(file, opt + 4);
                opt += 4 + (len + 3u) / 4 * 4;
            }
            packets.push_back(std::move(p));
        }
        at += length;
    }
    EXPECT_EQ(at, file.size());
    return packets;
}

TEST(PcapWriter, PcapngNamesChooseTheFormat) {
    EXPECT_EQ(pcap_format_for("x.pcapng"), PcapFormat::PcapNg);
    EXPECT_EQ(pcap_format_for("/tmp/a.b.pcapng"), PcapFormat::PcapNg);
    EXPECT_EQ(pcap_format_for("x.pcap"), PcapFormat::Pcap);
    EXPECT_EQ(pcap_format_for("pcapng"), PcapFormat::Pcap);
}

// A pcapng capture with comments: a frame sent (its comment given first), a frame received (its
// comment given after, as the stack decides later), a reply sent while the received frame is still
// without its comment: the file keeps the order the frames crossed the device.
std::vector<std::vector<std::uint8_t>> write_commented_capture(const std::string& path) {
    MemoryLink link(kMacA, kMacB);
    auto pcap = PcapWriter::open(link.a(), path, {.format = PcapFormat::PcapNg});
    EXPECT_TRUE(pcap.has_value());
    if (!pcap) return {};
    pcap->hold_for_comments(true);
    PacketPool pool;
    std::vector<std::vector<std::uint8_t>> frames = {numbered_frame(1, 61, kMacA, kMacB), numbered_frame(2, 200, kMacB, kMacA),
                                                     numbered_frame(3, 1514, kMacA, kMacB)};
    pcap->comment_next_sent("tx arp  announce\n   eth  out");
    EXPECT_TRUE(pcap->transmit(Instant::from_micros(1'000'001), make_packet(pool, frames[0])));
    EXPECT_TRUE(link.b().transmit(Instant::from_micros(2'000'000), make_packet(pool, frames[1])));
    std::vector<Packet> batch;
    EXPECT_EQ(pcap->receive(Instant::from_micros(2'000'000), pool, batch, 8), 1u);
    pcap->comment_next_sent("tx tcp  reply");
    EXPECT_TRUE(pcap->transmit(Instant::from_micros(2'000'050), make_packet(pool, frames[2])));
    EXPECT_EQ(pcap->stats().frames_written, 1u) << "the reply waits behind the received frame";
    pcap->comment_received("rx eth  in\n   ip   dropped: bad header checksum (RFC 1122 3.2.1.2)");
    EXPECT_EQ(pcap->stats().frames_written, 3u);
    return frames;
}

TEST(PcapWriter, PcapngBlocksCarryDirectionAndOneCommentPerLine) {
    TempPath path("pcapng");
    const auto frames = write_commented_capture(path.str());
    ASSERT_EQ(frames.size(), 3u);
    const auto packets = parse_pcapng(read_file(path.str()));
    ASSERT_EQ(packets.size(), 3u);
    EXPECT_EQ(packets[0].frame, frames[0]);
    EXPECT_EQ(packets[0].micros, 1'000'001);
    EXPECT_EQ(packets[0].flags & 3u, 2u) << "outbound";
    EXPECT_EQ(packets[0].comments, (std::vector<std::string>{"tx arp  announce", "   eth  out"}));
    EXPECT_EQ(packets[1].frame, frames[1]);
    EXPECT_EQ(packets[1].flags & 3u, 1u) << "inbound";
    EXPECT_EQ(packets[1].comments,
              (std::vector<std::string>{"rx eth  in", "   ip   dropped: bad header checksum (RFC 1122 3.2.1.2)"}));
    EXPECT_EQ(packets[2].frame, frames[2]);
    EXPECT_EQ(packets[2].micros, 2'000'050);
    EXPECT_EQ(packets[2].comments, (std::vector<std::string>{"tx tcp  reply"}));
}

TEST(PcapWriter, PcapngWithoutCommentsWritesAtOnce) {
    TempPath path("pcapng-plain");
    {
        MemoryLink link(kMacA, kMacB);
        auto pcap = PcapWriter::open(link.a(), path.str(), {.format = PcapFormat::PcapNg});
        ASSERT_TRUE(pcap.has_value());
        PacketPool pool;
        EXPECT_TRUE(pcap->transmit(Instant::from_micros(5), make_packet(pool, numbered_frame(9, 64))));
        EXPECT_EQ(parse_pcapng(read_file(path.str())).size(), 1u) << "written by the time transmit returns";
        // Held records still go to the file when the writer goes away without their comment.
        pcap->hold_for_comments(true);
        EXPECT_TRUE(link.b().transmit(Instant::from_micros(6), make_packet(pool, numbered_frame(10, 64, kMacB, kMacA))));
        std::vector<Packet> batch;
        EXPECT_EQ(pcap->receive(Instant::from_micros(7), pool, batch, 8), 1u);
        EXPECT_EQ(parse_pcapng(read_file(path.str())).size(), 1u);
    }
    const auto packets = parse_pcapng(read_file(path.str()));
    ASSERT_EQ(packets.size(), 2u);
    EXPECT_TRUE(packets[1].comments.empty());
}

TEST(PcapWriter, TsharkShowsThePcapngComments) {
    if (std::system("command -v tshark >/dev/null 2>&1") != 0) {
        if (in_ci()) FAIL() << "tshark is not installed, and CI=true requires this check (apt-get install tshark)";
        GTEST_SKIP() << "tshark is not installed (apt-get install tshark); the block parser check still ran";
    }
    TempPath path("pcapng-tshark");
    write_commented_capture(path.str());
    const std::string command = "tshark -n -V -r '" + path.str() + "' 2>/dev/null";
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
    ASSERT_EQ(::pclose(pipe), 0) << command << "\n" << output;
    EXPECT_NE(output.find("Packet comments"), std::string::npos) << output;
    EXPECT_NE(output.find("dropped: bad header checksum (RFC 1122 3.2.1.2)"), std::string::npos) << output;
    EXPECT_NE(output.find("tx tcp  reply"), std::string::npos) << output;
    EXPECT_NE(output.find("Direction: Inbound"), std::string::npos) << output;
}

// ---- What a wire would carry: checksums completed, TSO frames cut ----

constexpr std::size_t kTcpChecksum = 14 + 20 + 16;  // offset of the TCP checksum in a plain frame

// A TCP/IPv4 frame from libtins, with correct checksums (libtins computes them when serializing).
std::vector<std::uint8_t> tcp_frame(std::size_t payload_size, std::uint8_t flags = Tins::TCP::ACK, std::uint16_t id = 7) {
    std::vector<std::uint8_t> payload(payload_size);
    for (std::size_t i = 0; i < payload_size; ++i) payload[i] = static_cast<std::uint8_t>(i * 31 + 5);
    Tins::IP ip("10.0.0.1", "10.0.0.2");
    ip.id(id);
    Tins::TCP tcp(80, 40000);
    tcp.seq(1000);
    tcp.ack_seq(5000);
    tcp.flags(flags);
    auto frame = Tins::EthernetII(kMacB.to_string(), kMacA.to_string()) / ip / tcp / Tins::RawPDU(payload);
    return frame.serialize();
}

// Whether libtins, computing them afresh, finds the same IPv4 and TCP/UDP checksums as `bytes` hold.
bool checksums_good(const std::vector<std::uint8_t>& bytes) {
    Tins::EthernetII parsed(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
    Tins::EthernetII fresh = parsed;  // serialize() recomputes every checksum
    const std::vector<std::uint8_t> redone = fresh.serialize();
    Tins::EthernetII again(redone.data(), static_cast<std::uint32_t>(redone.size()));
    if (parsed.rfind_pdu<Tins::IP>().checksum() != again.rfind_pdu<Tins::IP>().checksum()) return false;
    if (auto* tcp = parsed.find_pdu<Tins::TCP>()) return tcp->checksum() == again.rfind_pdu<Tins::TCP>().checksum();
    if (auto* udp = parsed.find_pdu<Tins::UDP>()) return udp->checksum() == again.rfind_pdu<Tins::UDP>().checksum();
    return true;
}

// The records of a capture file, in order.
std::vector<std::vector<std::uint8_t>> records_of(const std::string& path) {
    std::vector<std::vector<std::uint8_t>> out;
    Tins::FileSniffer reader(path);
    reader.set_extract_raw_pdus(true);
    for (Tins::Packet p = reader.next_packet(); p; p = reader.next_packet()) {
        out.push_back(p.pdu()->rfind_pdu<Tins::RawPDU>().payload());
    }
    return out;
}

// A device that delivers the frames it is given with offload().checksum_verified, as a TAP with
// IFF_VNET_HDR does for the kernel's frames (whose checksum may be only the pseudo-header sum).
class VouchingDevice final : public NetDevice {
public:
    std::vector<std::vector<std::uint8_t>> frames;
    std::size_t mtu() const override { return 1500; }
    MacAddress mac() const override { return kMacA; }
    DeviceCapabilities capabilities() const override { return {.rx_checksum_verified = true}; }
    std::size_t receive(Instant, PacketPool& pool, std::vector<Packet>& batch, std::size_t) override {
        for (auto& f : frames) {
            batch.push_back(make_packet(pool, f));
            batch.back().offload().checksum_verified = true;
        }
        const std::size_t n = frames.size();
        frames.clear();
        return n;
    }
    Result<void, DeviceError> transmit(Instant, Packet) override { return {}; }
};

TEST(PcapWriterWire, APartialChecksumIsCompletedInTheFileNotInTheFrame) {
    TempPath path("partial");
    QueueDevice inner(kMacA);
    auto pcap = PcapWriter::open(inner, path.str());
    ASSERT_TRUE(pcap.has_value());
    PacketPool pool;
    const std::vector<std::uint8_t> good = tcp_frame(100);
    ASSERT_TRUE(checksums_good(good));
    std::vector<std::uint8_t> partial = good;
    store_be16(partial.data() + kTcpChecksum, 0x1234);  // as the stack leaves it for the device
    ASSERT_FALSE(checksums_good(partial));
    Packet frame = make_packet(pool, partial);
    frame.offload().checksum_partial = true;
    frame.offload().checksum_field = 16;
    ASSERT_TRUE(pcap->transmit(Instant::zero(), std::move(frame)));

    const auto records = records_of(path.str());
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0], good) << "the file holds the frame with the checksum a NIC would write";
    EXPECT_TRUE(checksums_good(records[0]));
    EXPECT_EQ(inner.take_sent().at(0), partial) << "the device still gets the partial sum to finish";
    EXPECT_EQ(pcap->stats().checksums_completed, 1u);
}

TEST(PcapWriterWire, AReceivedFrameTheDeviceVouchesForIsCompletedOthersAreLeftAlone) {
    TempPath path("vouched");
    VouchingDevice inner;
    auto pcap = PcapWriter::open(inner, path.str());
    ASSERT_TRUE(pcap.has_value());
    const std::vector<std::uint8_t> good = tcp_frame(300);
    std::vector<std::uint8_t> partial = good;
    store_be16(partial.data() + kTcpChecksum, 0xbeef);
    // UDP with no checksum (0) is legal and stays 0.
    auto udp = (Tins::EthernetII(kMacA.to_string(), kMacB.to_string()) / Tins::IP("10.0.0.2", "10.0.0.1") /
                Tins::UDP(53, 4000) / Tins::RawPDU("hello"))
                   .serialize();
    store_be16(udp.data() + 14 + 20 + 6, 0);
    inner.frames = {partial, udp, good};
    PacketPool pool;
    std::vector<Packet> batch;
    ASSERT_EQ(pcap->receive(Instant::zero(), pool, batch, 8), 3u);
    EXPECT_EQ(test::to_vector(batch[0]), partial) << "the stack gets the frame as the device gave it";

    const auto records = records_of(path.str());
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0], good);
    EXPECT_EQ(records[1], udp);
    EXPECT_EQ(records[2], good);
    EXPECT_EQ(pcap->stats().checksums_completed, 1u);

    // Without the device's word, a bad checksum is what the wire carried: recorded as it came.
    TempPath plain_path("plain");
    QueueDevice plain(kMacA);
    auto plain_pcap = PcapWriter::open(plain, plain_path.str());
    ASSERT_TRUE(plain_pcap.has_value());
    plain.inject(partial);
    batch.clear();
    ASSERT_EQ(plain_pcap->receive(Instant::zero(), pool, batch, 8), 1u);
    EXPECT_EQ(records_of(plain_path.str()).at(0), partial);
}

TEST(PcapWriterWire, WithSegmentATsoFrameBecomesMtuSizedFrames) {
    TempPath path("segment");
    QueueDevice inner(kMacA);
    PcapOptions options;
    options.segment = true;
    auto pcap = PcapWriter::open(inner, path.str(), options);
    ASSERT_TRUE(pcap.has_value());
    PacketPool pool;
    const std::size_t payload = 4000, mss = 1448;
    const std::vector<std::uint8_t> big = tcp_frame(payload, Tins::TCP::ACK | Tins::TCP::PSH | Tins::TCP::FIN | Tins::TCP::CWR, 100);
    Packet frame = make_packet(pool, big);
    frame.offload().checksum_partial = true;
    frame.offload().checksum_field = 16;
    frame.offload().segment_size = static_cast<std::uint16_t>(mss);
    (void)pcap->transmit(Instant::zero(), std::move(frame));  // QueueDevice refuses it: the record is made first

    const auto records = records_of(path.str());
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(pcap->stats().frames_segmented, 1u);
    std::vector<std::uint8_t> joined;
    for (std::size_t i = 0; i < records.size(); ++i) {
        const auto& r = records[i];
        EXPECT_TRUE(checksums_good(r)) << "piece " << i;
        EXPECT_LE(r.size(), 1514u) << "piece " << i;
        Tins::EthernetII eth(r.data(), static_cast<std::uint32_t>(r.size()));
        const auto& ip = eth.rfind_pdu<Tins::IP>();
        const auto& tcp = eth.rfind_pdu<Tins::TCP>();
        EXPECT_EQ(ip.id(), 100 + i) << "piece " << i;
        EXPECT_EQ(ip.tot_len(), r.size() - 14) << "piece " << i;
        EXPECT_EQ(tcp.seq(), 1000 + i * mss) << "piece " << i;
        const bool last = i + 1 == records.size();
        EXPECT_EQ(tcp.get_flag(Tins::TCP::FIN) != 0, last) << "piece " << i;
        EXPECT_EQ(tcp.get_flag(Tins::TCP::PSH) != 0, last) << "piece " << i;
        EXPECT_EQ(tcp.get_flag(Tins::TCP::CWR) != 0, i == 0) << "piece " << i;
        const auto& data = eth.rfind_pdu<Tins::RawPDU>().payload();
        EXPECT_EQ(data.size(), last ? payload - 2 * mss : mss) << "piece " << i;
        joined.insert(joined.end(), data.begin(), data.end());
    }
    EXPECT_EQ(joined, std::vector<std::uint8_t>(big.begin() + 54, big.end()));

    // Without the option the same frame is one record, whole, with its checksum completed.
    TempPath whole_path("whole");
    auto whole = PcapWriter::open(inner, whole_path.str());
    ASSERT_TRUE(whole.has_value());
    Packet again = make_packet(pool, big);
    again.offload().checksum_partial = true;
    again.offload().checksum_field = 16;
    again.offload().segment_size = static_cast<std::uint16_t>(mss);
    (void)whole->transmit(Instant::zero(), std::move(again));
    const auto one = records_of(whole_path.str());
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one[0], big);
}

TEST(PcapWriterWire, TsharkWithChecksumValidationFindsNoneBad) {
    if (std::system("command -v tshark >/dev/null 2>&1") != 0) {
        if (in_ci()) FAIL() << "tshark is not installed, and CI=true requires this check (apt-get install tshark)";
        GTEST_SKIP() << "tshark is not installed (apt-get install tshark); the libtins checks still ran";
    }
    TempPath path("tshark-wire");
    QueueDevice inner(kMacA);
    PcapOptions options;
    options.segment = true;
    auto pcap = PcapWriter::open(inner, path.str(), options);
    ASSERT_TRUE(pcap.has_value());
    PacketPool pool;
    for (std::size_t size : {0u, 100u, 1448u, 10000u}) {
        std::vector<std::uint8_t> bytes = tcp_frame(size);
        store_be16(bytes.data() + kTcpChecksum, 0x4242);
        Packet frame = make_packet(pool, bytes);
        frame.offload().checksum_partial = true;
        frame.offload().checksum_field = 16;
        frame.offload().segment_size = 1448;
        (void)pcap->transmit(Instant::zero(), std::move(frame));
    }
    const std::string command = "tshark -n -r '" + path.str() +
                                "' -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE "
                                "-T fields -e ip.checksum.status -e tcp.checksum.status 2>/dev/null";
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
    ASSERT_EQ(::pclose(pipe), 0) << command << "\n" << output;
    // 1 + 1 + 1 + 7 (10,000 bytes in 1448-byte pieces) frames, each "1\t1": IPv4 and TCP good.
    std::istringstream lines(output);
    std::string line;
    std::size_t frames = 0;
    while (std::getline(lines, line)) {
        ++frames;
        EXPECT_EQ(line, "1\t1") << "frame " << frames << " (0 = bad, 2 = unverified)\n" << output;
    }
    EXPECT_EQ(frames, 10u) << output;
}

}  // namespace
}  // namespace tcpip
