// The TCP wire format (RFC 9293 sections 3.1 and 3.2, RFC 7323, RFC 2018) and SeqNum, against
// libtins, byte fixtures captured from Linux, malformed input, and a seeded round trip. libtins
// builds and reads the IPv4 wrapper, so this test depends on no other layer of ours.
#include "stack/tcp/header.h"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstring>
#include <functional>
#include <random>
#include <sstream>
#include <vector>

#include "stack/core/packet.h"
#include "stack/tcp/seq.h"
#include "tests/unit/wire/transport_testing.h"

namespace tcpip {
namespace {

using wire_testing::from_hex;
using wire_testing::to_tins;
using wire_testing::to_vector;
using wire_testing::transport_part;
using wire_testing::wrap_in_ipv4;

const Ipv4Address kSrc(192, 168, 1, 10);
const Ipv4Address kDst(93, 184, 216, 34);

template <class T>
std::string printed(const T& value) {
    std::ostringstream text;
    text << value;
    return text.str();
}

std::vector<std::uint8_t> payload_of(std::size_t n, std::uint8_t salt = 0) {
    std::vector<std::uint8_t> payload(n);
    for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<std::uint8_t>(i * 13 + salt);
    return payload;
}

// Ours, emitted through the zero-copy Packet form.
std::vector<std::uint8_t> emit_packet(const TcpRepr& repr, const std::vector<std::uint8_t>& payload,
                                      Ipv4Address src = kSrc, Ipv4Address dst = kDst) {
    PacketPool pool;
    Packet packet = pool.allocate(payload.size());
    if (!payload.empty()) std::memcpy(packet.append(payload.size()).data(), payload.data(), payload.size());
    repr.emit(packet, src, dst);
    return to_vector(packet.bytes());
}

// Ours, emitted into a plain buffer from a payload somewhere else.
std::vector<std::uint8_t> emit_buffer(const TcpRepr& repr, const std::vector<std::uint8_t>& payload,
                                      Ipv4Address src = kSrc, Ipv4Address dst = kDst) {
    std::vector<std::uint8_t> out(repr.header_len() + payload.size());
    repr.emit(out, src, dst, payload);
    return out;
}

// A Repr with the fields a test cares about; the rest (urgent, options) are set afterwards.
// (A designated initializer that leaves fields out draws -Wmissing-field-initializers on g++ 12.)
TcpRepr segment(std::uint16_t src_port, std::uint16_t dst_port, TcpFlags flags, std::uint32_t seq,
                std::uint32_t ack = 0, std::uint16_t window = 0) {
    TcpRepr repr;
    repr.src_port = src_port;
    repr.dst_port = dst_port;
    repr.flags = flags;
    repr.seq = SeqNum(seq);
    repr.ack = SeqNum(ack);
    repr.window = window;
    return repr;
}

// The options libtins read from a segment, compared with ours.
void expect_tins_options(const Tins::TCP& tcp, const TcpOptions& options) {
    if (options.mss) {
        EXPECT_EQ(tcp.mss(), *options.mss);
    } else {
        EXPECT_EQ(tcp.search_option(Tins::TCP::MSS), nullptr);
    }
    if (options.window_scale) {
        EXPECT_EQ(tcp.winscale(), *options.window_scale);
    } else {
        EXPECT_EQ(tcp.search_option(Tins::TCP::WSCALE), nullptr);
    }
    EXPECT_EQ(tcp.has_sack_permitted(), options.sack_permitted);
    if (options.sack_count > 0) {
        std::vector<std::uint32_t> edges;
        for (const SackBlock& block : options.sacks()) {
            edges.push_back(block.left.raw());
            edges.push_back(block.right.raw());
        }
        EXPECT_EQ(tcp.sack(), edges);
    } else {
        EXPECT_EQ(tcp.search_option(Tins::TCP::SACK), nullptr);
    }
    if (options.timestamps) {
        EXPECT_EQ(tcp.timestamp(), std::make_pair(options.timestamps->tsval, options.timestamps->tsecr));
    } else {
        EXPECT_EQ(tcp.search_option(Tins::TCP::TSOPT), nullptr);
    }
}

// Wraps our segment in an IPv4 header, has libtins parse it, checks every field against `repr`,
// then has libtins serialize it again: libtins computes the TCP checksum itself when it does, so
// equal bytes mean equal checksums (and equal everything else).
void expect_libtins_agrees(const std::vector<std::uint8_t>& segment, const TcpRepr& repr,
                           const std::vector<std::uint8_t>& payload) {
    const auto sent = wrap_in_ipv4(segment, kSrc, kDst, TcpHeader::kIpProtocol);
    Tins::IP ip(sent.data(), static_cast<std::uint32_t>(sent.size()));
    const auto* tcp = ip.find_pdu<Tins::TCP>();
    ASSERT_NE(tcp, nullptr) << "libtins did not read a TCP segment";
    EXPECT_EQ(tcp->sport(), repr.src_port);
    EXPECT_EQ(tcp->dport(), repr.dst_port);
    EXPECT_EQ(tcp->seq(), repr.seq.raw());
    EXPECT_EQ(tcp->ack_seq(), repr.ack.raw());
    EXPECT_EQ(static_cast<unsigned>(tcp->flags()), repr.flags.bits());
    EXPECT_EQ(tcp->window(), repr.window);
    EXPECT_EQ(tcp->urg_ptr(), repr.urgent);
    EXPECT_EQ(static_cast<unsigned>(tcp->data_offset()) * 4, repr.header_len());
    EXPECT_EQ(tcp->checksum(), load_be16(segment.data() + TcpHeader::kChecksum));
    expect_tins_options(*tcp, repr.options);
    if (payload.empty()) {
        EXPECT_EQ(tcp->inner_pdu(), nullptr);
    } else {
        EXPECT_EQ(tcp->rfind_pdu<Tins::RawPDU>().payload(), payload);
    }
    EXPECT_EQ(ip.serialize(), sent) << "libtins' checksum differs from ours";
}

// ---------------------------------------------------------------------------------------------
// SeqNum (RFC 9293 section 3.4, RFC 1982 serial-number arithmetic)

TEST(SeqNum, ComparesAcrossTheWrap) {
    const SeqNum before(0xfffffff0u);
    const SeqNum after(0x10u);
    EXPECT_TRUE(before < after);
    EXPECT_TRUE(before <= after);
    EXPECT_FALSE(before > after);
    EXPECT_FALSE(before >= after);
    EXPECT_TRUE(after > before);
    EXPECT_TRUE(after >= before);
    EXPECT_FALSE(after < before);
    EXPECT_FALSE(before == after);
    EXPECT_TRUE(before <= before && before >= before && !(before < before));
    // Plain integers get it backwards; that is the bug this type exists to prevent.
    EXPECT_GT(before.raw(), after.raw());
}

TEST(SeqNum, DistanceIsSigned) {
    const SeqNum before(0xfffffff0u);
    const SeqNum after(0x10u);
    EXPECT_EQ(after - before, 0x20);
    EXPECT_EQ(before - after, -0x20);
    EXPECT_EQ(SeqNum(5) - SeqNum(5), 0);
    EXPECT_EQ(SeqNum(0x7fffffffu) - SeqNum(0), 0x7fffffff);
}

TEST(SeqNum, AdditionWraps) {
    EXPECT_EQ(SeqNum(0xffffffffu) + 1, SeqNum(0));
    EXPECT_EQ(SeqNum(0xfffffff0u) + 0x20, SeqNum(0x10));
    EXPECT_EQ(SeqNum(0x10) - 0x20, SeqNum(0xfffffff0u));
    SeqNum s(0xfffffffeu);
    s += 3;
    EXPECT_EQ(s, SeqNum(1));
    s -= 2;
    EXPECT_EQ(s, SeqNum(0xffffffffu));
    EXPECT_EQ((SeqNum(0xffffff00u) + 0x200) - SeqNum(0xffffff00u), 0x200);
}

TEST(SeqNum, MaxAndMinFollowTheCircle) {
    EXPECT_EQ(seq_max(SeqNum(0xfffffff0u), SeqNum(0x10)), SeqNum(0x10));
    EXPECT_EQ(seq_min(SeqNum(0xfffffff0u), SeqNum(0x10)), SeqNum(0xfffffff0u));
}

TEST(SeqNum, ModularOrderIsNotTransitive) {
    // Why SeqNum must never key a std::map: each step is less than 2^31 forward, and the three
    // steps come back to the start.
    const SeqNum a(0), b(0x60000000u), c(0xc0000000u);
    EXPECT_TRUE(a < b);
    EXPECT_TRUE(b < c);
    EXPECT_TRUE(c < a);
}

template <class T>
concept Complete = requires { sizeof(T); };

TEST(SeqNum, CannotBeAnOrderedMapKey) {
    static_assert(!Complete<std::less<SeqNum>>, "std::map<SeqNum, T> must not compile");
    EXPECT_EQ(printed(SeqNum(4000000000u)), "4000000000");
}

// ---------------------------------------------------------------------------------------------
// Flags

TEST(TcpFlags, AccessorsAndPrinting) {
    const TcpFlags syn_ack = TcpFlags::kSyn | TcpFlags::kAck;
    EXPECT_TRUE(syn_ack.syn());
    EXPECT_TRUE(syn_ack.ack());
    EXPECT_FALSE(syn_ack.fin() || syn_ack.rst() || syn_ack.psh() || syn_ack.urg() || syn_ack.ece() || syn_ack.cwr());
    EXPECT_EQ(syn_ack.bits(), 0x12);
    EXPECT_TRUE(syn_ack.contains(TcpFlags::kSyn));
    EXPECT_FALSE(syn_ack.contains(TcpFlags::kSyn | TcpFlags::kFin));
    EXPECT_EQ(printed(syn_ack), "[S.]");
    EXPECT_EQ(printed(TcpFlags{}), "[none]");
    EXPECT_EQ(printed(TcpFlags::kFin | TcpFlags::kAck), "[F.]");
    EXPECT_EQ(printed(TcpFlags::kPsh | TcpFlags::kAck), "[P.]");
    EXPECT_EQ(printed(TcpFlags(0xff)), "[FSRP.UEW]");
    TcpFlags f = TcpFlags::kAck;
    f.set(TcpFlags::kFin).set(TcpFlags::kAck, false);
    EXPECT_EQ(f, TcpFlags::kFin);
    EXPECT_TRUE(f.fin());
    EXPECT_TRUE(TcpFlags(0x40).ece());
    EXPECT_TRUE(TcpFlags(0x80).cwr());
    EXPECT_TRUE(TcpFlags(0x20).urg());
    EXPECT_TRUE(TcpFlags(0x08).psh());
    EXPECT_TRUE(TcpFlags(0x04).rst());
}

// ---------------------------------------------------------------------------------------------
// 1. Built by libtins, read by us.

struct TinsCase {
    const char* name;
    std::function<void(Tins::TCP&)> build;
    TcpOptions expected;
    std::size_t payload_len;
};

TcpOptions options_with(std::function<void(TcpOptions&)> fill) {
    TcpOptions options;
    fill(options);
    return options;
}

TEST(TcpWire, LibtinsBuiltSegmentsParse) {
    const std::vector<TinsCase> cases = {
        {"no options", [](Tins::TCP&) {}, {}, 0},
        {"SYN options, unaligned (libtins adds no NOPs)",
         [](Tins::TCP& t) {
             t.mss(1460);
             t.sack_permitted();
             t.timestamp(123456789, 0);
             t.winscale(7);
         },
         options_with([](TcpOptions& o) {
             o.mss = 1460;
             o.sack_permitted = true;
             o.timestamps = TcpOptions::Timestamps{123456789, 0};
             o.window_scale = 7;
         }),
         0},
        {"timestamps and three SACK blocks, data",
         [](Tins::TCP& t) {
             t.timestamp(0xdeadbeef, 0xfeedface);
             t.sack({0xfffffff0u, 0x10, 3000, 4000, 5000, 6000});
         },
         options_with([](TcpOptions& o) {
             o.timestamps = TcpOptions::Timestamps{0xdeadbeef, 0xfeedface};
             o.add_sack({SeqNum(0xfffffff0u), SeqNum(0x10)});
             o.add_sack({SeqNum(3000), SeqNum(4000)});
             o.add_sack({SeqNum(5000), SeqNum(6000)});
         }),
         100},
        {"four SACK blocks",
         [](Tins::TCP& t) { t.sack({1, 2, 3, 4, 5, 6, 7, 8}); },
         options_with([](TcpOptions& o) {
             for (std::uint32_t i = 1; i < 8; i += 2) o.add_sack({SeqNum(i), SeqNum(i + 1)});
         }),
         1},
        {"an unknown kind is skipped",
         [](Tins::TCP& t) {
             const std::uint8_t data[4] = {9, 9, 9, 9};
             t.add_option(Tins::TCP::option(30, 4, data));  // kind 30 (MPTCP), length 6
             t.mss(536);
         },
         options_with([](TcpOptions& o) { o.mss = 536; }),
         7},
    };

    for (const TinsCase& c : cases) {
        SCOPED_TRACE(c.name);
        const auto payload = payload_of(c.payload_len);
        Tins::TCP tcp(443, 51000);
        tcp.seq(0xfffffff0u);
        tcp.ack_seq(0x01020304u);
        tcp.window(29200);
        tcp.urg_ptr(0);
        tcp.set_flag(Tins::TCP::ACK, 1);
        tcp.set_flag(Tins::TCP::PSH, c.payload_len > 0 ? 1 : 0);
        c.build(tcp);
        Tins::IP ip = Tins::IP(to_tins(kDst), to_tins(kSrc)) / tcp;
        if (!payload.empty()) ip /= Tins::RawPDU(payload.data(), static_cast<std::uint32_t>(payload.size()));
        const auto segment = transport_part(ip.serialize());

        auto header = TcpHeader::parse(segment);
        ASSERT_TRUE(header.has_value()) << to_string(header.error());
        EXPECT_EQ(header->src_port(), 51000);
        EXPECT_EQ(header->dst_port(), 443);
        EXPECT_EQ(header->seq(), SeqNum(0xfffffff0u));
        EXPECT_EQ(header->ack(), SeqNum(0x01020304u));
        EXPECT_EQ(header->flags(), c.payload_len > 0 ? TcpFlags::kAck | TcpFlags::kPsh : TcpFlags::kAck);
        EXPECT_EQ(header->window(), 29200);
        EXPECT_EQ(header->urgent(), 0);
        EXPECT_EQ(header->header_len(), tcp.header_size());
        EXPECT_EQ(header->options(), c.expected) << *header;
        EXPECT_EQ(to_vector(header->payload()), payload);
        EXPECT_EQ(header->checksum(), load_be16(segment.data() + 16));
        EXPECT_TRUE(header->checksum_valid(kSrc, kDst));
        EXPECT_FALSE(header->checksum_valid(kDst, Ipv4Address(93, 184, 216, 35))) << "the pseudo-header is covered";
    }
}

TEST(TcpWire, LibtinsBuiltFlagsParse) {
    const std::pair<Tins::TCP::Flags, TcpFlags> flags[] = {
        {Tins::TCP::FIN, TcpFlags::kFin}, {Tins::TCP::SYN, TcpFlags::kSyn}, {Tins::TCP::RST, TcpFlags::kRst},
        {Tins::TCP::PSH, TcpFlags::kPsh}, {Tins::TCP::ACK, TcpFlags::kAck}, {Tins::TCP::URG, TcpFlags::kUrg},
        {Tins::TCP::ECE, TcpFlags::kEce}, {Tins::TCP::CWR, TcpFlags::kCwr},
    };
    // Each flag alone, then all of them, with the urgent pointer set.
    for (int all = 0; all <= 1; ++all) {
        for (const auto& [tins_flag, ours] : flags) {
            Tins::TCP tcp(80, 1234);
            TcpFlags expected = ours;
            if (all) {
                for (const auto& [f, o] : flags) tcp.set_flag(f, 1);
                expected = TcpFlags(0xff);
            } else {
                tcp.set_flag(tins_flag, 1);
            }
            tcp.urg_ptr(77);
            Tins::IP ip = Tins::IP(to_tins(kDst), to_tins(kSrc)) / tcp;
            const auto segment = transport_part(ip.serialize());
            auto header = TcpHeader::parse(segment);
            ASSERT_TRUE(header.has_value());
            EXPECT_EQ(header->flags(), expected);
            EXPECT_EQ(header->urgent(), 77);
            EXPECT_TRUE(header->checksum_valid(kSrc, kDst));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Emitted by us, read by libtins.

std::vector<std::pair<TcpRepr, std::size_t>> sample_reprs() {
    TcpRepr syn = segment(36538, 80, TcpFlags::kSyn, 0xfffffffeu, 0, 64240);
    syn.options.mss = 1460;
    syn.options.sack_permitted = true;
    syn.options.timestamps = TcpOptions::Timestamps{1, 0};
    syn.options.window_scale = 7;

    TcpRepr syn_no_ts = syn;
    syn_no_ts.options.timestamps.reset();

    TcpRepr ack_sack = segment(80, 36538, TcpFlags::kAck, 1000, 0x7fffffffu, 501);
    ack_sack.options.timestamps = TcpOptions::Timestamps{0xffffffffu, 12345};
    ack_sack.options.add_sack({SeqNum(2000), SeqNum(3000)});
    ack_sack.options.add_sack({SeqNum(0xfffffff0u), SeqNum(0x10)});
    ack_sack.options.add_sack({SeqNum(4000), SeqNum(5000)});

    TcpRepr sack_only = ack_sack;
    sack_only.options.timestamps.reset();
    (void)sack_only.options.add_sack({SeqNum(6000), SeqNum(7000)});

    TcpRepr data = segment(5000, 6000, TcpFlags::kPsh | TcpFlags::kAck | TcpFlags::kUrg, 42, 43, 65535);
    data.urgent = 3;

    TcpRepr rst = segment(1, 2, TcpFlags::kRst | TcpFlags::kAck, 0);

    TcpRepr sack_permitted_only = segment(7, 8, TcpFlags::kSyn | TcpFlags::kEce | TcpFlags::kCwr, 0);
    sack_permitted_only.options.sack_permitted = true;

    return {{syn, 0},      {syn_no_ts, 0}, {ack_sack, 0}, {sack_only, 1}, {data, 1}, {data, 1459},
            {rst, 0},      {sack_permitted_only, 0}};
}

TEST(TcpWire, OursParseInLibtins) {
    for (const auto& [repr, payload_len] : sample_reprs()) {
        SCOPED_TRACE(printed(repr));
        const auto payload = payload_of(payload_len, 5);
        const auto ours = emit_packet(repr, payload);
        EXPECT_EQ(ours, emit_buffer(repr, payload)) << "both emit forms agree";
        EXPECT_EQ(ours.size(), repr.header_len() + payload_len);
        EXPECT_EQ(repr.header_len() % 4, 0u);
        expect_libtins_agrees(ours, repr, payload);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Byte fixtures: a handshake between two Linux sockets on 127.0.0.1, captured on lo (the
// checksums filled in, since loopback leaves them to offload). The options are in the layout
// Linux's tcp_options_write() uses, the one our emit() follows.

const Ipv4Address kLoopback(127, 0, 0, 1);

const char* const kLinuxSyn =
    "8eba 9603"            // ports 36538 > 38403
    "2d0327c3 00000000"    // seq, ack
    "a002 ffd7"            // data offset 10 (40 bytes), [S], window 65495
    "fcc8 0000"            // checksum, urgent
    "0204ffd7"             // MSS 65495
    "0402 080a c3bf15f2 00000000"  // SACK-Permitted, Timestamps
    "01 03030a";           // NOP, window scale 10

const char* const kLinuxSynAck =
    "9603 8eba dba374dd 2d0327c4 a012 ffcb 6ddf 0000"
    "0204ffd7 0402080a e89955c9 c3bf15f2 0103030a";

const char* const kLinuxAck =
    "8eba 9603 2d0327c4 dba374de 8010 0040 965e 0000"
    "0101080a c3bf15f2 e89955c9";  // NOP, NOP, Timestamps

TEST(TcpWire, LinuxSynParses) {
    const auto bytes = from_hex(kLinuxSyn);
    auto syn = TcpHeader::parse(bytes);
    ASSERT_TRUE(syn.has_value()) << to_string(syn.error());
    EXPECT_EQ(syn->src_port(), 36538);
    EXPECT_EQ(syn->dst_port(), 38403);
    EXPECT_EQ(syn->seq(), SeqNum(755181507));
    EXPECT_EQ(syn->ack(), SeqNum(0));
    EXPECT_EQ(syn->data_offset(), 10);
    EXPECT_EQ(syn->header_len(), 40u);
    EXPECT_EQ(syn->flags(), TcpFlags::kSyn);
    EXPECT_EQ(syn->window(), 65495);
    EXPECT_EQ(syn->checksum(), 0xfcc8);
    EXPECT_EQ(syn->urgent(), 0);
    EXPECT_EQ(syn->options_bytes().size(), 20u);
    EXPECT_EQ(syn->options().mss, 65495);
    EXPECT_TRUE(syn->options().sack_permitted);
    EXPECT_EQ(syn->options().timestamps, (TcpOptions::Timestamps{3284080114u, 0}));
    EXPECT_EQ(syn->options().window_scale, 10);
    EXPECT_EQ(syn->options().sack_count, 0);
    EXPECT_TRUE(syn->payload().empty());
    EXPECT_TRUE(syn->checksum_valid(kLoopback, kLoopback));
    EXPECT_EQ(printed(*syn),
              "36538 > 38403 Flags [S], seq 755181507, win 65495, "
              "options [mss 65495,sackOK,TS val 3284080114 ecr 0,nop,wscale 10], length 0");
}

TEST(TcpWire, LinuxHandshakeEmitsByteForByte) {
    for (const char* hex : {kLinuxSyn, kLinuxSynAck, kLinuxAck}) {
        const auto bytes = from_hex(hex);
        auto header = TcpHeader::parse(bytes);
        ASSERT_TRUE(header.has_value());
        EXPECT_TRUE(header->checksum_valid(kLoopback, kLoopback));
        const TcpRepr repr = TcpRepr::from(*header);
        SCOPED_TRACE(printed(repr));
        EXPECT_EQ(repr.header_len(), header->header_len());
        EXPECT_EQ(emit_packet(repr, {}, kLoopback, kLoopback), bytes);
        EXPECT_EQ(emit_buffer(repr, {}, kLoopback, kLoopback), bytes);
    }
}

TEST(TcpWire, LinuxAckParses) {
    const auto bytes = from_hex(kLinuxAck);
    auto ack = TcpHeader::parse(bytes);
    ASSERT_TRUE(ack.has_value());
    const TcpRepr repr = TcpRepr::from(*ack);
    TcpRepr expected = segment(36538, 38403, TcpFlags::kAck, 755181508, 3684922590u, 64);
    expected.options.timestamps = TcpOptions::Timestamps{3284080114u, 3902363081u};
    EXPECT_EQ(repr, expected);
    EXPECT_EQ(printed(repr),
              "36538 > 38403 Flags [.], seq 755181508, ack 3684922590, win 64, "
              "options [nop,nop,TS val 3284080114 ecr 3902363081]");
}

TEST(TcpWire, HeaderPrintsDataRangeAndSack) {
    TcpRepr repr = segment(10, 20, TcpFlags::kPsh | TcpFlags::kAck, 1, 2, 65535);
    repr.options.add_sack({SeqNum(100), SeqNum(200)});
    repr.options.add_sack({SeqNum(300), SeqNum(400)});
    const auto bytes = emit_buffer(repr, payload_of(100));
    auto header = TcpHeader::parse(bytes);
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(printed(*header),
              "10 > 20 Flags [P.], seq 1:101, ack 2, win 65535, options [nop,nop,sack 2 {100:200}{300:400}], "
              "length 100");
}

// ---------------------------------------------------------------------------------------------
// Options layout and room.

TEST(TcpOptions, SackBlocksFitBesideTheOtherOptions) {
    TcpOptions options;
    EXPECT_EQ(options.sack_capacity(), 4u);
    EXPECT_EQ(options.wire_len(), 0u);
    options.timestamps = TcpOptions::Timestamps{1, 2};
    EXPECT_EQ(options.sack_capacity(), 3u) << "as in Linux: 12 + 4 + 3 * 8 = 40";
    options.mss = 1460;
    options.window_scale = 7;
    options.sack_permitted = true;
    EXPECT_EQ(options.wire_len(), 20u) << "MSS, SACK-permitted sharing a word with TS, NOP WS";
    EXPECT_EQ(options.sack_capacity(), 2u);
    options.timestamps.reset();
    EXPECT_EQ(options.wire_len(), 12u) << "MSS, NOP NOP SACK-permitted, NOP WS";
    EXPECT_EQ(options.sack_capacity(), 3u);

    // Four blocks asked for, three sent: the first ones (the most recent, RFC 2018 section 4).
    TcpOptions four;
    four.timestamps = TcpOptions::Timestamps{1, 2};
    for (std::uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(four.add_sack({SeqNum(i * 10), SeqNum(i * 10 + 5)}));
    EXPECT_FALSE(four.add_sack({SeqNum(99), SeqNum(100)})) << "only four blocks";
    EXPECT_EQ(four.wire_len(), 40u);
    TcpRepr repr;
    repr.options = four;
    const auto bytes = emit_buffer(repr, {});
    auto header = TcpHeader::parse(bytes);
    ASSERT_TRUE(header.has_value());
    ASSERT_EQ(header->options().sack_count, 3);
    EXPECT_EQ(header->options().sacks()[0], (SackBlock{SeqNum(0), SeqNum(5)}));
    EXPECT_EQ(header->options().sacks()[2], (SackBlock{SeqNum(20), SeqNum(25)}));
    EXPECT_EQ(header->header_len(), 60u);
}

TEST(TcpOptions, EqualityIgnoresUnusedSackSlots) {
    TcpOptions a, b;
    a.sack_blocks[3] = {SeqNum(1), SeqNum(2)};
    EXPECT_EQ(a, b);
    a.add_sack({SeqNum(5), SeqNum(6)});
    EXPECT_NE(a, b);
}

// ---------------------------------------------------------------------------------------------
// 4. Malformed input.

// A segment with options and data: SYN options plus 50 bytes.
std::vector<std::uint8_t> valid_segment() {
    TcpRepr repr = sample_reprs()[0].first;
    return emit_buffer(repr, payload_of(50));
}

TEST(TcpWire, EveryTruncationIsRejected) {
    const auto whole = valid_segment();
    const std::size_t header_len = 40;
    ASSERT_EQ(load_be16(whole.data() + 12) >> 12, header_len / 4);
    for (std::size_t n = 0; n < whole.size(); ++n) {
        SCOPED_TRACE(n);
        // A fresh vector of exactly n bytes, so that AddressSanitizer sees any read beyond it.
        const std::vector<std::uint8_t> cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
        auto tcp = TcpHeader::parse(cut);
        if (n < 20) {
            ASSERT_FALSE(tcp.has_value());
            EXPECT_EQ(tcp.error(), ParseError::Truncated);
        } else if (n < header_len) {
            ASSERT_FALSE(tcp.has_value());
            EXPECT_EQ(tcp.error(), ParseError::BadHeaderLength);
        } else {
            // TCP has no length field: a segment cut inside its data is a well-formed shorter
            // segment, and only the checksum (whose pseudo-header carries the length) tells.
            ASSERT_TRUE(tcp.has_value());
            EXPECT_FALSE(tcp->checksum_valid(kSrc, kDst));
        }
    }
    auto tcp = TcpHeader::parse(whole);
    ASSERT_TRUE(tcp.has_value());
    EXPECT_TRUE(tcp->checksum_valid(kSrc, kDst));
}

TEST(TcpWire, DataOffsetOutOfRangeIsRejected) {
    const auto good = from_hex(kLinuxSyn);  // 40 bytes, data offset 10
    for (std::uint8_t offset = 0; offset < 16; ++offset) {
        if (offset >= 5 && offset <= 10) continue;
        SCOPED_TRACE(int{offset});
        auto bytes = good;
        bytes[12] = static_cast<std::uint8_t>(offset << 4);
        auto tcp = TcpHeader::parse(bytes);
        ASSERT_FALSE(tcp.has_value());
        EXPECT_EQ(tcp.error(), ParseError::BadHeaderLength);
    }
    // Data offset 6 on a bare 20-byte header: the header says 24 bytes, there are 20.
    std::vector<std::uint8_t> bare(good.begin(), good.begin() + 20);
    bare[12] = 6 << 4;
    auto tcp = TcpHeader::parse(bare);
    ASSERT_FALSE(tcp.has_value());
    EXPECT_EQ(tcp.error(), ParseError::BadHeaderLength);
}

// A 20-byte header followed by the given options area (a multiple of 4 bytes), data offset set.
std::vector<std::uint8_t> with_options(const std::vector<std::uint8_t>& area) {
    std::vector<std::uint8_t> bytes = from_hex("0050 1f90 00000001 00000000 5010 ffff 0000 0000");
    bytes.insert(bytes.end(), area.begin(), area.end());
    bytes[12] = static_cast<std::uint8_t>((bytes.size() / 4) << 4);
    return bytes;
}

Result<TcpOptions, ParseError> parse_options(const std::vector<std::uint8_t>& area) {
    // Each area in its own exactly-sized vector, for AddressSanitizer.
    const std::vector<std::uint8_t> bytes = with_options(area);
    auto tcp = TcpHeader::parse(bytes);
    if (!tcp) return Unexpected(tcp.error());
    return tcp->options();
}

TEST(TcpWire, MalformedOptionsAreRejected) {
    const std::vector<std::pair<const char*, std::vector<std::uint8_t>>> bad = {
        {"unknown kind, length 0", {30, 0, 1, 1}},
        {"unknown kind, length 1", {30, 1, 1, 1}},
        {"MSS, length 0", {2, 0, 1, 1}},
        {"MSS, length 1", {2, 1, 1, 1}},
        {"unknown kind running past the header", {1, 1, 30, 3}},
        {"unknown kind, length 40 in a 4-byte area", {30, 40, 0, 0}},
        {"MSS running past the header", {1, 1, 1, 1, 1, 1, 2, 4}},
        {"no room for the length byte", {1, 1, 1, 30}},
        {"MSS with length 3", {2, 3, 5, 1}},
        {"MSS with length 5", {2, 5, 5, 180, 0, 1, 1, 1}},
        {"window scale with length 2", {3, 2, 1, 1}},
        {"window scale with length 4", {3, 4, 7, 0}},
        {"SACK-permitted with length 3", {4, 3, 0, 1}},
        {"SACK with length 2 (no block)", {5, 2, 1, 1}},
        {"SACK with length 3", {5, 3, 0, 1}},
        {"SACK with length 11", {5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1}},
        {"timestamps with length 9", {8, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1}},
        {"timestamps with length 11", {8, 11, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1}},
    };
    for (const auto& [name, area] : bad) {
        SCOPED_TRACE(name);
        ASSERT_EQ(area.size() % 4, 0u);
        auto options = parse_options(area);
        ASSERT_FALSE(options.has_value());
        EXPECT_EQ(options.error(), ParseError::BadOption);
    }
}

TEST(TcpWire, OptionListEdgeCases) {
    {
        // EOL ends the list: what follows is padding, even if it would be malformed.
        auto options = parse_options({2, 4, 5, 180, 0, 2, 0, 99});
        ASSERT_TRUE(options.has_value());
        EXPECT_EQ(options->mss, 1460);
    }
    {
        // All padding.
        auto options = parse_options({1, 1, 1, 1, 0, 0, 0, 0});
        ASSERT_TRUE(options.has_value());
        EXPECT_EQ(*options, TcpOptions{});
    }
    {
        // An unknown kind is skipped by its length; the next option is still read.
        auto options = parse_options({99, 5, 1, 2, 3, 3, 3, 14});
        ASSERT_TRUE(options.has_value());
        EXPECT_EQ(options->window_scale, 14);
    }
    {
        // A repeated option: the later one wins, as in Linux.
        auto options = parse_options({2, 4, 1, 0, 2, 4, 2, 0});
        ASSERT_TRUE(options.has_value());
        EXPECT_EQ(options->mss, 512);
    }
    {
        // An option exactly filling the area, and the largest SACK (four blocks, 34 bytes).
        std::vector<std::uint8_t> area{1, 1, 5, 34};
        for (std::uint8_t i = 0; i < 32; ++i) area.push_back(i);
        area.insert(area.end(), {1, 1, 1, 1});
        auto options = parse_options(area);
        ASSERT_TRUE(options.has_value());
        ASSERT_EQ(options->sack_count, 4);
        EXPECT_EQ(options->sacks()[3].right, SeqNum(0x1c1d1e1fu));
        area[area.size() - 1] = 30;  // the last byte starts an option with no length byte
        EXPECT_FALSE(parse_options(area).has_value());
    }
}

TEST(TcpWire, EverySingleBitErrorIsDetected) {
    const auto good = valid_segment();
    for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
        auto bad = good;
        bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        auto tcp = TcpHeader::parse(bad);
        if (!tcp.has_value()) continue;  // a flipped data offset or option length: rejected earlier
        EXPECT_FALSE(tcp->checksum_valid(kSrc, kDst)) << "bit " << bit;
    }
    auto tcp = TcpHeader::parse(good);
    ASSERT_TRUE(tcp.has_value());
    EXPECT_FALSE(tcp->checksum_valid(kSrc, Ipv4Address(93, 184, 216, 35)));
    // A property of the one's complement sum worth knowing: it cannot tell source from destination.
    EXPECT_TRUE(tcp->checksum_valid(kDst, kSrc));
}

// ---------------------------------------------------------------------------------------------
// 6. Seeded round trip: random Repr -> emit -> parse -> the same Repr, and libtins agrees.

TcpRepr random_repr(std::mt19937& rng) {
    auto u32 = [&] { return static_cast<std::uint32_t>(rng()); };
    auto u16 = [&] { return static_cast<std::uint16_t>(rng()); };
    auto coin = [&] { return (rng() & 1) != 0; };
    TcpRepr repr = segment(u16(), u16(), TcpFlags(static_cast<std::uint8_t>(rng())), u32(), u32(), u16());
    repr.urgent = u16();
    if (coin()) repr.options.mss = u16();
    if (coin()) repr.options.window_scale = static_cast<std::uint8_t>(rng());
    repr.options.sack_permitted = coin();
    if (coin()) repr.options.timestamps = TcpOptions::Timestamps{u32(), u32()};
    const std::size_t blocks = rng() % 5;
    for (std::size_t i = 0; i < blocks; ++i) repr.options.add_sack({SeqNum(u32()), SeqNum(u32())});
    return repr;
}

TEST(TcpWire, RandomReprsRoundTrip) {
    std::mt19937 rng(20240601);
    for (int i = 0; i < 2000; ++i) {
        const TcpRepr repr = random_repr(rng);
        SCOPED_TRACE(printed(repr));
        const auto payload = payload_of(rng() % 200, static_cast<std::uint8_t>(i));
        const auto segment = emit_packet(repr, payload);
        ASSERT_EQ(segment, emit_buffer(repr, payload));

        // What comes back is what went out, less any SACK blocks that had no room.
        TcpRepr expected = repr;
        expected.options.sack_count =
            static_cast<std::uint8_t>(std::min<std::size_t>(repr.options.sack_count, repr.options.sack_capacity()));

        auto header = TcpHeader::parse(segment);
        ASSERT_TRUE(header.has_value()) << to_string(header.error());
        EXPECT_EQ(TcpRepr::from(*header), expected);
        EXPECT_EQ(header->header_len(), repr.header_len());
        EXPECT_LE(header->header_len(), TcpHeader::kMaxHeaderLen);
        EXPECT_EQ(to_vector(header->payload()), payload);
        EXPECT_TRUE(header->checksum_valid(kSrc, kDst));
        expect_libtins_agrees(segment, expected, payload);
        if (::testing::Test::HasFailure()) break;
    }
}

}  // namespace
}  // namespace tcpip
