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
