// Parsing and emitting each header: the per-packet cost of the wire formats, in frames per
// second. Each parse benchmark reads every field (so nothing is optimised away) from a frame the
// matching emit benchmark produced.
#include <benchmark/benchmark.h>

#include <vector>

#include "stack/arp/header.h"
#include "stack/core/packet.h"
#include "stack/ethernet/header.h"
#include "stack/ipv4/header.h"
#include "stack/ipv4/icmp_header.h"
#include "stack/tcp/header.h"
#include "stack/udp/header.h"

namespace {

using namespace tcpip;

const Ipv4Address kSrc(10, 0, 0, 1);
const Ipv4Address kDst(10, 0, 0, 2);
const MacAddress kMacA({0x02, 0, 0, 0, 0, 1});
const MacAddress kMacB({0x02, 0, 0, 0, 0, 2});

TcpRepr syn_repr() {
    TcpRepr repr;
    repr.src_port = 40000;
    repr.dst_port = 80;
    repr.seq = SeqNum(1000);
    repr.flags = TcpFlags::kSyn;
    repr.window = 64240;
    repr.options.mss = 1460;
    repr.options.sack_permitted = true;
    repr.options.window_scale = 7;
    repr.options.timestamps = TcpOptions::Timestamps{1, 0};
    return repr;
}

// A 1500-byte Ethernet/IPv4/TCP frame, built with our own emitters.
std::vector<std::uint8_t> tcp_frame(PacketPool& pool) {
    Packet p = pool.allocate(1500);
    p.append(1460 - 20);
    TcpRepr tcp = syn_repr();
    tcp.emit(p, kSrc, kDst);
    Ipv4Repr ip;
    ip.src = kSrc;
    ip.dst = kDst;
    ip.protocol = IpProtocol::Tcp;
    ip.emit(p);
    EthernetRepr{kMacB, kMacA, EtherType::Ipv4}.emit(p);
    return {p.data(), p.data() + p.size()};
}

void BM_EthernetParse(benchmark::State& state) {
    PacketPool pool;
    auto frame = tcp_frame(pool);
    for (auto _ : state) {
        auto h = EthernetRepr::parse(frame);
        benchmark::DoNotOptimize(h);
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_EthernetEmit(benchmark::State& state) {
    std::uint8_t out[14];
    EthernetRepr repr{kMacB, kMacA, EtherType::Ipv4};
    for (auto _ : state) {
        repr.emit(out);
        benchmark::DoNotOptimize(out);
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_ArpParseEmit(benchmark::State& state) {
    std::uint8_t out[28];
    ArpRepr repr{ArpOperation::Request, kMacA, kSrc, MacAddress::zero(), kDst};
    for (auto _ : state) {
        repr.emit(out);
        auto parsed = ArpRepr::parse(out);
        benchmark::DoNotOptimize(parsed);
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_Ipv4ParseAndVerify(benchmark::State& state) {
    PacketPool pool;
    auto frame = tcp_frame(pool);
    Bytes datagram = Bytes(frame).subspan(14);
    for (auto _ : state) {
        auto h = Ipv4Header::parse(datagram);
        bool ok = h && h->checksum_valid();
        auto repr = Ipv4Repr::from(*h);
        benchmark::DoNotOptimize(ok);
        benchmark::DoNotOptimize(repr);
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_Ipv4Emit(benchmark::State& state) {
    std::uint8_t out[20];
    Ipv4Repr ip;
    ip.src = kSrc;
    ip.dst = kDst;
    ip.protocol = IpProtocol::Tcp;
    ip.payload_len = 1480;
    for (auto _ : state) {
        ip.emit(out);
        benchmark::DoNotOptimize(out);
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_IcmpEchoParse(benchmark::State& state) {
    std::vector<std::uint8_t> message(64);
    std::vector<std::uint8_t> data(56, 0xab);
    IcmpRepr::echo_request(1, 2, data).emit(message);
    for (auto _ : state) {
        auto h = IcmpHeader::parse(message);
        bool ok = h && h->checksum_valid();
        benchmark::DoNotOptimize(ok);
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_UdpEmit1472(benchmark::State& state) {
    std::vector<std::uint8_t> out(8 + 1472);
    std::vector<std::uint8_t> payload(1472, 0x11);
    UdpRepr repr{5000, 7, payload.size()};
    for (auto _ : state) {
        repr.emit(out, kSrc, kDst, payload);  // header + checksum over 1480 bytes
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_UdpParseAndVerify1472(benchmark::State& state) {
    std::vector<std::uint8_t> out(8 + 1472);
    std::vector<std::uint8_t> payload(1472, 0x11);
    UdpRepr{5000, 7, payload.size()}.emit(out, kSrc, kDst, payload);
    for (auto _ : state) {
        auto h = UdpHeader::parse(out);
        bool ok = h && h->checksum_valid(kSrc, kDst);
        benchmark::DoNotOptimize(ok);
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_TcpSynParse(benchmark::State& state) {
    PacketPool pool;
    auto frame = tcp_frame(pool);
    Bytes segment = Bytes(frame).subspan(34);
    for (auto _ : state) {
        auto h = TcpHeader::parse(segment);
        auto repr = TcpRepr::from(*h);
        benchmark::DoNotOptimize(repr);
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_TcpSynEmit(benchmark::State& state) {
    std::vector<std::uint8_t> out(60);
    TcpRepr repr = syn_repr();
    for (auto _ : state) {
        repr.emit(out, kSrc, kDst, {});
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_TcpSegmentVerify1460(benchmark::State& state) {
    PacketPool pool;
    auto frame = tcp_frame(pool);
    Bytes segment = Bytes(frame).subspan(34);
    for (auto _ : state) {
        auto h = TcpHeader::parse(segment);
        bool ok = h && h->checksum_valid(kSrc, kDst);
        benchmark::DoNotOptimize(ok);
    }
    state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(BM_EthernetParse);
BENCHMARK(BM_EthernetEmit);
BENCHMARK(BM_ArpParseEmit);
BENCHMARK(BM_Ipv4ParseAndVerify);
BENCHMARK(BM_Ipv4Emit);
BENCHMARK(BM_IcmpEchoParse);
BENCHMARK(BM_UdpEmit1472);
BENCHMARK(BM_UdpParseAndVerify1472);
BENCHMARK(BM_TcpSynParse);
BENCHMARK(BM_TcpSynEmit);
BENCHMARK(BM_TcpSegmentVerify1460);
