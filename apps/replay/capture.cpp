#include "apps/replay/capture.h"

#include <cstdio>
#include <fstream>
#include <iterator>

#include "stack/core/bytes.h"
#include "stack/core/checksum.h"

namespace tcpip::replay {
namespace {

constexpr std::size_t kEthernetLen = 14;
constexpr std::uint16_t kIpv4 = 0x0800;
constexpr std::uint8_t kIcmp = 1, kTcp = 6, kUdp = 17;

// Where the IPv4 header and the transport header start, when the frame carries IPv4.
struct Layout {
    bool ipv4 = false;
    std::size_t ip = kEthernetLen, ip_len = 0, transport = 0, end = 0;
    std::uint8_t protocol = 0;
    bool whole = false;  // not a fragment: the transport header and checksum are all here
};

Layout layout(const Frame& f) {
    Layout l;
    if (f.size() < kEthernetLen + 20 || load_be16(f.data() + 12) != kIpv4) return l;
    const std::size_t ihl = (f[kEthernetLen] & 0x0f) * 4u;
    const std::size_t total = load_be16(f.data() + kEthernetLen + 2);
    if ((f[kEthernetLen] >> 4) != 4 || ihl < 20 || total < ihl || kEthernetLen + total > f.size()) return l;
    l.ipv4 = true;
    l.ip_len = ihl;
    l.transport = kEthernetLen + ihl;
    l.end = kEthernetLen + total;
    l.protocol = f[kEthernetLen + 9];
    const std::uint16_t fragment = load_be16(f.data() + kEthernetLen + 6);
    l.whole = (fragment & 0x3fff) == 0;  // neither MF nor an offset
    return l;
}

bool is_tcp(const Layout& l) { return l.ipv4 && l.whole && l.protocol == kTcp && l.end >= l.transport + 20; }

std::uint32_t u32_of(const std::uint8_t* p) { return load_be32(p); }

}  // namespace

Result<std::vector<CapturedFrame>, std::string> read_pcap(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Unexpected("cannot open " + path);
    const std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (data.size() < 24) return Unexpected(path + ": too short for a pcap header");
    const std::uint32_t magic_le = data[0] | (data[1] << 8) | (data[2] << 16) | (std::uint32_t{data[3]} << 24);
    bool swap = false, nanos = false;
    switch (magic_le) {
        case 0xa1b2c3d4: break;
        case 0xa1b23c4d: nanos = true; break;
        case 0xd4c3b2a1: swap = true; break;
        case 0x4d3cb2a1: swap = true; nanos = true; break;
        case 0x0a0d0d0a: return Unexpected(path + ": a pcapng file; record with a .pcap name (classic pcap)");
        default: return Unexpected(path + ": not a pcap file");
    }
    auto u32 = [&](std::size_t at) {
        const std::uint32_t le = data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (std::uint32_t{data[at + 3]} << 24);
        return swap ? load_be32(data.data() + at) : le;
    };
    if (u32(20) != 1) return Unexpected(path + ": link type " + std::to_string(u32(20)) + ", not Ethernet");
    std::vector<CapturedFrame> frames;
    for (std::size_t at = 24; at < data.size();) {
        if (data.size() - at < 16) return Unexpected(path + ": truncated record header at byte " + std::to_string(at));
        const std::uint64_t seconds = u32(at), fraction = u32(at + 4);
        const std::size_t length = u32(at + 8);
        if (length > data.size() - at - 16) return Unexpected(path + ": truncated frame at byte " + std::to_string(at));
        if (u32(at + 12) != length) return Unexpected(path + ": frame " + std::to_string(frames.size() + 1) + " was cut by the snap length");
        CapturedFrame f;
        f.micros = static_cast<std::int64_t>(seconds * 1'000'000 + (nanos ? fraction / 1000 : fraction));
        f.bytes.assign(data.begin() + static_cast<std::ptrdiff_t>(at + 16), data.begin() + static_cast<std::ptrdiff_t>(at + 16 + length));
        frames.push_back(std::move(f));
        at += 16 + length;
    }
    return frames;
}

MacAddress source_mac(const Frame& frame) {
    MacAddress mac;
    if (frame.size() >= 12) {
        std::array<std::uint8_t, 6> bytes{};
        std::copy(frame.begin() + 6, frame.begin() + 12, bytes.begin());
        mac = MacAddress(bytes);
    }
    return mac;
}

void recompute_checksums(Frame& f) {
    const Layout l = layout(f);
    if (!l.ipv4) return;
    std::uint8_t* ip = f.data() + l.ip;
    store_be16(ip + 10, 0);
    store_be16(ip + 10, InternetChecksum{}.add(Bytes(ip, l.ip_len)).finish());
    if (!l.whole) return;
    const Ipv4Address src = Ipv4Address::from_bytes(ip + 12), dst = Ipv4Address::from_bytes(ip + 16);
    std::uint8_t* t = f.data() + l.transport;
    const std::size_t length = l.end - l.transport;
    std::size_t field = 0;
    bool pseudo = true;
    if (l.protocol == kTcp && length >= 20) field = 16;
    else if (l.protocol == kUdp && length >= 8) field = 6;
    else if (l.protocol == kIcmp && length >= 4) { field = 2; pseudo = false; }
    else return;
    if (l.protocol == kUdp && load_be16(t + 6) == 0) return;  // UDP without a checksum stays so
    store_be16(t + field, 0);
    InternetChecksum sum;
    if (pseudo) sum.add_pseudo_header(src, dst, l.protocol, static_cast<std::uint16_t>(length));
    std::uint16_t value = sum.add(Bytes(t, length)).finish();
    if (l.protocol == kUdp && value == 0) value = 0xffff;
    store_be16(t + field, value);
}

std::string describe(const Frame& f) {
    if (f.size() < kEthernetLen) return "a runt frame of " + std::to_string(f.size()) + " bytes";
    const std::uint16_t type = load_be16(f.data() + 12);
    if (type == 0x0806) {
        if (f.size() < kEthernetLen + 28) return "ARP (truncated)";
        const std::uint16_t op = load_be16(f.data() + kEthernetLen + 6);
        const Ipv4Address sender = Ipv4Address::from_bytes(f.data() + kEthernetLen + 14);
        const Ipv4Address target = Ipv4Address::from_bytes(f.data() + kEthernetLen + 24);
        return op == 1 ? "ARP, Request who-has " + target.to_string() + " tell " + sender.to_string()
                       : "ARP, Reply " + sender.to_string() + " is-at " + source_mac(f).to_string();
    }
    const Layout l = layout(f);
    if (!l.ipv4) return "EtherType 0x" + std::to_string(type) + ", " + std::to_string(f.size()) + " bytes";
    const std::uint8_t* ip = f.data() + l.ip;
    const std::string src = Ipv4Address::from_bytes(ip + 12).to_string(), dst = Ipv4Address::from_bytes(ip + 16).to_string();
    const std::uint8_t* t = f.data() + l.transport;
    const std::size_t length = l.end - l.transport;
    char text[256];
    if (is_tcp(l)) {
        const std::size_t header = (t[12] >> 4) * 4u;
        const std::uint8_t flags = t[13];
        std::string letters;
        if (flags & 0x02) letters += 'S';
        if (flags & 0x01) letters += 'F';
        if (flags & 0x04) letters += 'R';
        if (flags & 0x08) letters += 'P';
        if (flags & 0x10) letters += '.';
        std::snprintf(text, sizeof text, "%s.%u > %s.%u: Flags [%s], seq %u, ack %u, win %u, length %zu", src.c_str(),
                      load_be16(t), dst.c_str(), load_be16(t + 2), letters.c_str(), u32_of(t + 4), u32_of(t + 8),
                      load_be16(t + 14), length > header ? length - header : 0);
        return text;
    }
    if (l.protocol == kUdp && length >= 8) {
        std::snprintf(text, sizeof text, "%s.%u > %s.%u: UDP, length %zu", src.c_str(), load_be16(t), dst.c_str(),
                      load_be16(t + 2), length - 8);
        return text;
    }
    if (l.protocol == kIcmp && length >= 4) {
        std::snprintf(text, sizeof text, "%s > %s: ICMP type %u code %u, length %zu", src.c_str(), dst.c_str(), t[0], t[1], length);
        return text;
    }
    std::snprintf(text, sizeof text, "%s > %s: IP protocol %u, length %zu", src.c_str(), dst.c_str(), l.protocol, length);
    return text;
}

std::string field_at(const Frame& f, std::size_t offset) {
    if (offset < 6) return "ethernet destination";
    if (offset < 12) return "ethernet source";
    if (offset < 14) return "ethertype";
    const Layout l = layout(f);
    if (!l.ipv4) return "byte " + std::to_string(offset);
    if (offset < l.transport) {
        static const char* const names[20] = {"ip version/ihl", "ip tos", "ip total length", "ip total length", "ip id", "ip id",
                                              "ip flags/fragment", "ip flags/fragment", "ip ttl", "ip protocol",
                                              "ip checksum", "ip checksum", "ip source", "ip source", "ip source",
                                              "ip source", "ip destination", "ip destination", "ip destination",
                                              "ip destination"};
        const std::size_t i = offset - l.ip;
        return i < 20 ? names[i] : "ip options";
    }
    const std::size_t i = offset - l.transport;
    if (is_tcp(l)) {
        const std::size_t header = (f[l.transport + 12] >> 4) * 4u;
        static const char* const names[20] = {"tcp source port", "tcp source port", "tcp destination port",
                                              "tcp destination port", "tcp seq", "tcp seq", "tcp seq", "tcp seq",
                                              "tcp ack", "tcp ack", "tcp ack", "tcp ack", "tcp data offset",
                                              "tcp flags", "tcp window", "tcp window", "tcp checksum", "tcp checksum",
                                              "tcp urgent pointer", "tcp urgent pointer"};
        if (i < 20) return names[i];
        if (i < header) return "tcp options";
        return "payload byte " + std::to_string(i - header);
    }
    if (l.protocol == kUdp) return i < 8 ? "udp header" : "payload byte " + std::to_string(i - 8);
    return "transport byte " + std::to_string(i);
}

void SeqTranslation::learn(const Frame& replayed, const Frame& recorded) {
    const Layout a = layout(replayed), b = layout(recorded);
    if (!is_tcp(a) || !is_tcp(b) || (replayed[a.transport + 13] & 0x02) == 0) return;
    const std::uint8_t* ip = replayed.data() + a.ip;
    const std::uint8_t* t = replayed.data() + a.transport;
    const Key key{load_be32(ip + 12), load_be16(t), load_be32(ip + 16), load_be16(t + 2)};
    if (offset_.contains(key)) return;  // a SYN again: the same ISN
    offset_[key] = u32_of(recorded.data() + b.transport + 4) - u32_of(t + 4);
}

void SeqTranslation::to_capture(Frame& ours) const {
    const Layout l = layout(ours);
    if (!is_tcp(l)) return;
    std::uint8_t* ip = ours.data() + l.ip;
    std::uint8_t* t = ours.data() + l.transport;
    auto it = offset_.find(Key{load_be32(ip + 12), load_be16(t), load_be32(ip + 16), load_be16(t + 2)});
    if (it == offset_.end()) return;
    // A RST answering a segment without ACK has SEQ 0: not ours to move (RFC 9293 3.10.7.1).
    if ((t[13] & 0x04) != 0 && (t[13] & 0x10) != 0 && u32_of(t + 4) == 0) return;
    store_be32(t + 4, u32_of(t + 4) + it->second);
}

void SeqTranslation::to_replay(Frame& peer) const {
    const Layout l = layout(peer);
    if (!is_tcp(l)) return;
    std::uint8_t* ip = peer.data() + l.ip;
    std::uint8_t* t = peer.data() + l.transport;
    auto it = offset_.find(Key{load_be32(ip + 16), load_be16(t + 2), load_be32(ip + 12), load_be16(t)});
    if (it == offset_.end()) return;
    // Each changed word updates the checksum incrementally (RFC 1624), so that a frame the fault
    // injector corrupted stays exactly as wrong as it was.
    auto move_left = [&](std::size_t at) {
        const std::uint32_t old = u32_of(t + at), now = old - it->second;
        std::uint16_t sum = load_be16(t + 16);
        sum = checksum_adjust(sum, static_cast<std::uint16_t>(old >> 16), static_cast<std::uint16_t>(now >> 16));
        sum = checksum_adjust(sum, static_cast<std::uint16_t>(old), static_cast<std::uint16_t>(now));
        store_be16(t + 16, sum);
        store_be32(t + at, now);
    };
    if ((t[13] & 0x10) != 0) move_left(8);
    // SACK blocks (RFC 2018, kind 5) name our sequence numbers too.
    const std::size_t header = std::min<std::size_t>((t[12] >> 4) * 4u, l.end - l.transport);
    for (std::size_t at = 20; at < header;) {
        const std::uint8_t kind = t[at];
        if (kind == 0) break;
        if (kind == 1) {
            ++at;
            continue;
        }
        if (at + 1 >= header || t[at + 1] < 2 || at + t[at + 1] > header) break;
        if (kind == 5) {
            for (std::size_t edge = at + 2; edge + 4 <= at + t[at + 1]; edge += 4) {
                move_left(edge);
            }
        }
        at += t[at + 1];
    }
}

}  // namespace tcpip::replay
