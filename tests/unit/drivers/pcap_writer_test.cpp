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

}  // namespace
}  // namespace tcpip
