#include "apps/replay/capture.h"

#include <algorithm>
#include <array>
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

constexpr std::uint8_t kOptionSack = 5, kOptionTimestamps = 8;  // RFC 2018, RFC 7323
constexpr std::uint8_t kTimestampsLen = 10;

// Calls visit(offset) for each TCP option of `kind` in a TCP frame (offset from the TCP header's
// start, at the option's kind byte; the option's length byte checked to fit the header).
template <typename Visit>
void for_each_option(const Frame& f, const Layout& l, std::uint8_t kind, Visit visit) {
    const std::uint8_t* t = f.data() + l.transport;
    const std::size_t header = std::min<std::size_t>((t[12] >> 4) * 4u, l.end - l.transport);
    for (std::size_t at = 20; at < header;) {
        if (t[at] == 0) break;  // End of Option List
        if (t[at] == 1) {       // No-Operation
            ++at;
            continue;
        }
        if (at + 1 >= header || t[at + 1] < 2 || at + t[at + 1] > header) break;
        if (t[at] == kind) visit(at);
        at += t[at + 1];
    }
}

// The offset of a well-formed Timestamps option in a TCP frame (from the TCP header), if any.
std::optional<std::size_t> timestamps_at(const Frame& f, const Layout& l) {
    std::optional<std::size_t> found;
    for_each_option(f, l, kOptionTimestamps, [&](std::size_t at) {
        if (f[l.transport + at + 1] == kTimestampsLen) found = at;
    });
    return found;
}

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

std::int64_t clock_phase(const std::vector<CapturedFrame>& capture, MacAddress ours) {
    struct Stamp {
        std::uint64_t connection;  // our port and the peer's, which tell our connections apart here
        std::int64_t micros;
        std::uint32_t tsval;
    };
    std::vector<Stamp> stamps;
    for (const CapturedFrame& f : capture) {
        if (source_mac(f.bytes) != ours) continue;
        const Layout l = layout(f.bytes);
        if (!is_tcp(l)) continue;
        if (const auto ts = timestamps_at(f.bytes, l)) {
            const std::uint8_t* t = f.bytes.data() + l.transport;
            const std::uint64_t connection = (std::uint64_t{load_be32(f.bytes.data() + l.ip + 16)} << 32) |
                                             (std::uint64_t{load_be16(t)} << 16) | load_be16(t + 2);
            stamps.push_back(Stamp{connection, f.micros, u32_of(t + *ts + 2)});
        }
    }
    if (stamps.empty()) return 0;
    // For each phase, how many stamps agree with their connection's most common distance.
    std::array<std::size_t, 1000> agreeing{};
    std::map<std::pair<std::uint64_t, std::uint32_t>, std::size_t> count;
    for (std::int64_t phase = 0; phase < 1000; ++phase) {
        count.clear();
        std::map<std::uint64_t, std::size_t> best;
        for (const Stamp& s : stamps) {
            const auto distance = static_cast<std::uint32_t>((s.micros - phase) / 1000) - s.tsval;
            const std::size_t n = ++count[{s.connection, distance}];
            best[s.connection] = std::max(best[s.connection], n);
        }
        for (const auto& [connection, n] : best) agreeing[static_cast<std::size_t>(phase)] += n;
    }
    // The best phases form a run (around the circle); its first one.
    const std::size_t most = *std::max_element(agreeing.begin(), agreeing.end());
    for (std::size_t phase = 0; phase < 1000; ++phase) {
        if (agreeing[phase] == most && agreeing[(phase + 999) % 1000] != most) return static_cast<std::int64_t>(phase);
    }
    return 0;  // every phase as good as any other
}

void SeqTranslation::learn(const Frame& replayed, const Frame& recorded) {
    const Layout a = layout(replayed), b = layout(recorded);
    if (!is_tcp(a) || !is_tcp(b)) return;
    const std::uint8_t* ip = replayed.data() + a.ip;
    const std::uint8_t* t = replayed.data() + a.transport;
    const Key key{load_be32(ip + 12), load_be16(t), load_be32(ip + 16), load_be16(t + 2)};
    const bool syn = (t[13] & 0x02) != 0;
    // The ISNs' distance from the connection's first SYN of ours (a SYN again, retransmitted,
    // has the same ISN); the TSvals' from its first segment with a timestamp.
    auto it = connections_.find(key);
    if (it == connections_.end()) {
        if (!syn) return;  // not a connection the replay saw open
        it = connections_.emplace(key, Connection{}).first;
        it->second.seq = u32_of(recorded.data() + b.transport + 4) - u32_of(t + 4);
    }
    Connection& c = it->second;
    if (c.tsval) return;
    const auto ours = timestamps_at(replayed, a), theirs = timestamps_at(recorded, b);
    if (ours && theirs) {
        c.tsval = u32_of(recorded.data() + b.transport + *theirs + 2) - u32_of(t + *ours + 2);
    }
}

void SeqTranslation::to_capture(Frame& ours, const Frame* recorded) {
    const Layout l = layout(ours);
    if (!is_tcp(l)) return;
    std::uint8_t* ip = ours.data() + l.ip;
    std::uint8_t* t = ours.data() + l.transport;
    auto it = connections_.find(Key{load_be32(ip + 12), load_be16(t), load_be32(ip + 16), load_be16(t + 2)});
    if (it == connections_.end()) return;
    Connection& c = it->second;
    // A RST answering a segment without ACK has SEQ 0: not ours to move (RFC 9293 3.10.7.1).
    if (!((t[13] & 0x04) != 0 && (t[13] & 0x10) != 0 && u32_of(t + 4) == 0)) store_be32(t + 4, u32_of(t + 4) + c.seq);
    const auto ts = timestamps_at(ours, l);
    if (!ts || !c.tsval) return;
    const std::uint32_t replayed = u32_of(t + *ts + 2);
    std::uint32_t moved = replayed + *c.tsval;
    if (recorded != nullptr) {
        const Layout r = layout(*recorded);
        const auto rts = is_tcp(r) ? timestamps_at(*recorded, r) : std::nullopt;
        if (rts) {
            const std::uint32_t want = u32_of(recorded->data() + r.transport + *rts + 2);
            const auto ticks = static_cast<std::int32_t>(moved - want);
            if (ticks == 1 || ticks == -1) {
                moved = want;
                ++tick_slips_;
            }
            if (moved == want) {
                if (c.sent.insert_or_assign(want, replayed).second) c.sent_order.push_back(want);
                if (c.sent_order.size() > kEchoes) {
                    c.sent.erase(c.sent_order.front());
                    c.sent_order.pop_front();
                }
            }
        }
    }
    store_be32(t + *ts + 2, moved);
}

void SeqTranslation::to_replay(Frame& peer) const {
    const Layout l = layout(peer);
    if (!is_tcp(l)) return;
    std::uint8_t* ip = peer.data() + l.ip;
    std::uint8_t* t = peer.data() + l.transport;
    auto it = connections_.find(Key{load_be32(ip + 16), load_be16(t + 2), load_be32(ip + 12), load_be16(t)});
    if (it == connections_.end()) return;
    const Connection& c = it->second;
    // Each changed word updates the checksum incrementally (RFC 1624), so that a frame the fault
    // injector corrupted stays exactly as wrong as it was.
    auto rewrite = [&](std::size_t at, std::uint32_t now) {
        const std::uint32_t old = u32_of(t + at);
        std::uint16_t sum = load_be16(t + 16);
        sum = checksum_adjust(sum, static_cast<std::uint16_t>(old >> 16), static_cast<std::uint16_t>(now >> 16));
        sum = checksum_adjust(sum, static_cast<std::uint16_t>(old), static_cast<std::uint16_t>(now));
        store_be16(t + 16, sum);
        store_be32(t + at, now);
    };
    if ((t[13] & 0x10) != 0) rewrite(8, u32_of(t + 8) - c.seq);
    // SACK blocks (RFC 2018) name our sequence numbers too.
    for_each_option(peer, l, kOptionSack, [&](std::size_t at) {
        for (std::size_t edge = at + 2; edge + 4 <= at + t[at + 1]; edge += 4) rewrite(edge, u32_of(t + edge) - c.seq);
    });
    // TSecr echoes a TSval of ours (0 before the peer has one, RFC 7323 3.2): the one the replay
    // sent in that segment's place, or else moved by the connection's distance.
    if (const auto ts = timestamps_at(peer, l); ts && c.tsval) {
        const std::uint32_t echoed = u32_of(t + *ts + 6);
        if (echoed != 0) {
            const auto sent = c.sent.find(echoed);
            rewrite(*ts + 6, sent != c.sent.end() ? sent->second : echoed - *c.tsval);
        }
    }
}

}  // namespace tcpip::replay
