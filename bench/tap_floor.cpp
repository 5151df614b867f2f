// tap-floor: the least work any TCP/IP stack could do per request over a Linux TAP, measured by the
// same clients as our stack. It is an upper bound for bench/e2e.sh's request/response rows, not a
// stack: it keeps no state at all and answers every frame by swapping its headers around.
//
//   tap-floor --tap NAME --ip A.B.C.D [--mac XX:XX:XX:XX:XX:XX] [--epoll | --uring]
//
// It attaches to the existing (persistent) TAP NAME (`ip tuntap add dev NAME mode tap`), takes the
// address A.B.C.D on it, and loops: read one frame, write at most one frame back.
//   ARP request for A.B.C.D      -> ARP reply with our MAC
//   ICMP echo request            -> echo reply (so `ping` finds it up)
//   TCP SYN                      -> SYN|ACK: seq = a fixed ISS, ack = seq + 1, MSS 1460, window 65535
//   TCP segment with payload     -> one segment that echoes the payload: seq = the segment's ack
//                                   number, ack = its seq + payload length (+ 1 and our own FIN if
//                                   it carried a FIN)
//   TCP bare FIN                 -> FIN|ACK
//   pure ACK, RST, anything else -> nothing
// The IPv4 header checksum and the TCP and ICMP checksums are computed, as any stack must.
//
// Why: bench/tcp-rr rr sends 1 byte and waits for 1 byte. Whatever a stack on a TAP does, it must at
// least wake up for the frame, read it, and write an answer: two system calls and a kernel round
// trip through the TAP per transaction. This program does that and nothing more: no connection
// lookup, no sequence checks, no buffers, no timers, no retransmission, no congestion control.
// Its transactions per second are therefore a ceiling that no real stack on the same TAP can
// beat; our stack's figure over this one says how much of the floor's cost is ours, and the floor
// over the kernel (over a veth pair) says what the TAP alone leaves for any user-space stack.
//
// How it waits. By default with a blocking read() on the TAP: one read and one write per
// transaction. A real stack has timers, so it must wait with a timeout: --epoll makes the fd
// non-blocking and waits in epoll_wait() (a 1 s timeout, standing for the next timer) before each
// read(), a third system call per transaction, as a stack's event loop would (level-triggered: a
// frame left in the queue wakes the next epoll_wait at once). --uring asks whether fewer system
// calls would lower the floor: through io_uring, the answer's write and the next read go in one
// io_uring_enter() per transaction (which can also wait with a timeout). bench/e2e.sh measures all
// three; on its machines the blocking read was the fastest of them (bench/README.md).
//
// It prints one line with "ready" once it is reading, and its frame counters when SIGTERM or
// SIGINT stops it (exit status 0). A bad argument gets a one-line message and exit status 2; a TAP
// that cannot be opened, exit status 1. A malformed or unexpected frame is counted and ignored.
// Only libc and the Linux headers: nothing of our stack is used, so nothing of it is measured.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <linux/io_uring.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>

namespace {

// ---- byte order and the Internet checksum ----

std::uint16_t load_be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t load_be32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
void store_be16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void store_be32(std::uint8_t* p, std::uint32_t v) {
    store_be16(p, static_cast<std::uint16_t>(v >> 16));
    store_be16(p + 2, static_cast<std::uint16_t>(v));
}

// RFC 1071: the 16-bit one's complement sum of the bytes (an odd last byte padded with zero),
// added to `sum`; finish() folds the carries and complements.
std::uint32_t sum16(std::span<const std::uint8_t> bytes, std::uint32_t sum = 0) {
    std::size_t i = 0;
    for (; i + 1 < bytes.size(); i += 2) sum += load_be16(&bytes[i]);
    if (i < bytes.size()) sum += std::uint32_t{bytes[i]} << 8;
    return sum;
}
std::uint16_t finish(std::uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

// ---- the formats (offsets from the start of each header) ----

using Mac = std::array<std::uint8_t, 6>;

// Ethernet II: destination MAC, source MAC, EtherType.
constexpr std::size_t kEthDst = 0, kEthSrc = 6, kEthType = 12, kEthLen = 14;
constexpr std::uint16_t kTypeIpv4 = 0x0800, kTypeArp = 0x0806;

// ARP for IPv4 over Ethernet (RFC 826): hardware type 1, protocol 0x0800, lengths 6 and 4.
constexpr std::size_t kArpOp = 6, kArpSha = 8, kArpSpa = 14, kArpTha = 18, kArpTpa = 24, kArpLen = 28;
constexpr std::uint16_t kArpRequest = 1, kArpReply = 2;

// IPv4 (RFC 791). We send a 20-byte header (no options), DF set, TTL 64.
constexpr std::size_t kIpVerIhl = 0, kIpTotalLen = 2, kIpId = 4, kIpFrag = 6, kIpTtl = 8, kIpProto = 9,
                      kIpChecksum = 10, kIpSrc = 12, kIpDst = 16, kIpLen = 20;
constexpr std::uint8_t kProtoIcmp = 1, kProtoTcp = 6;
constexpr std::uint16_t kIpDontFragment = 0x4000, kIpFragmentBits = 0x3fff;  // MF and the offset

// ICMP echo (RFC 792): type, code, checksum, identifier, sequence, data; the reply is the request
// with type 0 and a new checksum.
constexpr std::size_t kIcmpType = 0, kIcmpChecksum = 2, kIcmpHeaderLen = 8;
constexpr std::uint8_t kIcmpEchoRequest = 8, kIcmpEchoReply = 0;

// TCP (RFC 9293 section 3.1).
constexpr std::size_t kTcpSrcPort = 0, kTcpDstPort = 2, kTcpSeq = 4, kTcpAck = 8, kTcpDataOffset = 12,
                      kTcpFlags = 13, kTcpWindow = 14, kTcpChecksum = 16, kTcpUrgent = 18, kTcpLen = 20;
constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;
constexpr std::uint32_t kIss = 0x10000000;  // every connection starts here: nothing is remembered
constexpr std::uint16_t kMss = 1460, kWindow = 65535;

// Frames up to 64 KiB: more than any MTU the TAP may be given (it has no offloads: IFF_VNET_HDR off).
constexpr std::size_t kFrameMax = 65536;

// ---- what it counts ----

struct Counters {
    unsigned long frames_in = 0, frames_out = 0;
    unsigned long arp = 0, icmp = 0, syn = 0, data = 0, fin = 0;
    unsigned long ignored = 0;    // well formed, but nothing to answer (a pure ACK, an RST, not ours)
    unsigned long malformed = 0;  // too short, or lengths that do not add up
    unsigned long write_errors = 0;
};

struct Config {
    std::string tap;
    std::uint8_t ip[4] = {};
    Mac mac = {0x02, 0x00, 0x00, 0x00, 0xf1, 0x00};  // locally administered, unicast
    enum class Wait { Read, Epoll, Uring } wait = Wait::Read;  // how it waits for the next frame
};

// ---- the answers: each builds the reply in `out` and returns its length, or 0 for no reply ----

// Writes the Ethernet header of a reply to `in`'s sender.
void reply_ethernet(const std::uint8_t* in, std::uint8_t* out, const Config& config, std::uint16_t type) {
    std::memcpy(out + kEthDst, in + kEthSrc, 6);
    std::memcpy(out + kEthSrc, config.mac.data(), 6);
    store_be16(out + kEthType, type);
}

std::size_t answer_arp(std::span<const std::uint8_t> frame, std::uint8_t* out, const Config& config,
                       Counters& counters) {
    const std::uint8_t* arp = frame.data() + kEthLen;
    if (frame.size() < kEthLen + kArpLen) {
        ++counters.malformed;
        return 0;
    }
    if (load_be16(arp) != 1 || load_be16(arp + 2) != kTypeIpv4 || arp[4] != 6 || arp[5] != 4 ||
        load_be16(arp + kArpOp) != kArpRequest || std::memcmp(arp + kArpTpa, config.ip, 4) != 0) {
        ++counters.ignored;
        return 0;
    }
    ++counters.arp;
    reply_ethernet(frame.data(), out, config, kTypeArp);
    std::uint8_t* reply = out + kEthLen;
    std::memcpy(reply, arp, 6);  // hardware and protocol types and lengths, as asked
    store_be16(reply + kArpOp, kArpReply);
    std::memcpy(reply + kArpSha, config.mac.data(), 6);
    std::memcpy(reply + kArpSpa, config.ip, 4);
    std::memcpy(reply + kArpTha, arp + kArpSha, 6);
    std::memcpy(reply + kArpTpa, arp + kArpSpa, 4);
    return kEthLen + kArpLen;
}

// Writes a 20-byte IPv4 header to `in_ip`'s sender carrying `payload_len` bytes of `protocol`.
void reply_ipv4(const std::uint8_t* in_ip, std::uint8_t* out_ip, std::uint8_t protocol, std::size_t payload_len) {
    out_ip[kIpVerIhl] = 0x45;
    out_ip[1] = 0;  // DSCP and ECN
    store_be16(out_ip + kIpTotalLen, static_cast<std::uint16_t>(kIpLen + payload_len));
    store_be16(out_ip + kIpId, 0);  // DF is set: the identification field is unused (RFC 6864)
    store_be16(out_ip + kIpFrag, kIpDontFragment);
    out_ip[kIpTtl] = 64;
    out_ip[kIpProto] = protocol;
    store_be16(out_ip + kIpChecksum, 0);
    std::memcpy(out_ip + kIpSrc, in_ip + kIpDst, 4);
    std::memcpy(out_ip + kIpDst, in_ip + kIpSrc, 4);
    store_be16(out_ip + kIpChecksum, finish(sum16({out_ip, kIpLen})));
}

std::size_t answer_icmp(const std::uint8_t* in_ip, std::span<const std::uint8_t> icmp, std::uint8_t* out,
                        Counters& counters) {
    if (icmp.size() < kIcmpHeaderLen || icmp[kIcmpType] != kIcmpEchoRequest || icmp[1] != 0) {
        ++counters.ignored;
        return 0;
    }
    ++counters.icmp;
    std::uint8_t* reply = out + kEthLen + kIpLen;
    std::memcpy(reply, icmp.data(), icmp.size());  // identifier, sequence and data come back as they were
    reply[kIcmpType] = kIcmpEchoReply;
    store_be16(reply + kIcmpChecksum, 0);
    store_be16(reply + kIcmpChecksum, finish(sum16({reply, icmp.size()})));
    reply_ipv4(in_ip, out + kEthLen, kProtoIcmp, icmp.size());
    return kEthLen + kIpLen + icmp.size();
}

std::size_t answer_tcp(const std::uint8_t* in_ip, std::span<const std::uint8_t> tcp, std::uint8_t* out,
                       Counters& counters) {
    if (tcp.size() < kTcpLen) {
        ++counters.malformed;
        return 0;
    }
    const std::size_t header_len = static_cast<std::size_t>(tcp[kTcpDataOffset] >> 4) * 4;
    if (header_len < kTcpLen || header_len > tcp.size()) {
        ++counters.malformed;
        return 0;
    }
    const std::uint8_t flags = tcp[kTcpFlags];
    const std::uint32_t seq = load_be32(&tcp[kTcpSeq]);
    const std::span<const std::uint8_t> payload = tcp.subspan(header_len);

    // What goes back: flags, sequence and acknowledgment numbers, and the options' length.
    std::uint8_t out_flags = 0;
    std::uint32_t out_seq = 0, out_ack = 0;
    std::size_t options_len = 0;
    if ((flags & kRst) != 0) {
        ++counters.ignored;
        return 0;
    } else if ((flags & (kSyn | kAck)) == kSyn) {  // a connection request: accept it, remember nothing
        ++counters.syn;
        out_flags = kSyn | kAck;
        out_seq = kIss;
        out_ack = seq + 1;
        options_len = 4;  // MSS
    } else if ((flags & kSyn) != 0 || (flags & kAck) == 0) {  // a SYN|ACK, or a segment without ACK
        ++counters.ignored;
        return 0;
    } else if (!payload.empty() || (flags & kFin) != 0) {  // data and/or FIN: echo it, acknowledge it
        if (!payload.empty()) ++counters.data;
        if ((flags & kFin) != 0) ++counters.fin;
        out_flags = kAck | (payload.empty() ? 0 : kPsh) | (flags & kFin);
        out_seq = load_be32(&tcp[kTcpAck]);
        out_ack = seq + static_cast<std::uint32_t>(payload.size()) + ((flags & kFin) != 0 ? 1 : 0);
    } else {  // a pure ACK
        ++counters.ignored;
        return 0;
    }

    std::uint8_t* reply = out + kEthLen + kIpLen;
    const std::size_t reply_header_len = kTcpLen + options_len;
    std::memcpy(reply + kTcpSrcPort, &tcp[kTcpDstPort], 2);
    std::memcpy(reply + kTcpDstPort, &tcp[kTcpSrcPort], 2);
    store_be32(reply + kTcpSeq, out_seq);
    store_be32(reply + kTcpAck, out_ack);
    reply[kTcpDataOffset] = static_cast<std::uint8_t>(reply_header_len / 4 << 4);
    reply[kTcpFlags] = out_flags;
    store_be16(reply + kTcpWindow, kWindow);
    store_be16(reply + kTcpChecksum, 0);
    store_be16(reply + kTcpUrgent, 0);
    std::size_t payload_len = 0;
    if (options_len != 0) {  // the SYN|ACK's one option: MSS (kind 2, length 4)
        reply[kTcpLen] = 2;
        reply[kTcpLen + 1] = 4;
        store_be16(reply + kTcpLen + 2, kMss);
    } else {
        payload_len = payload.size();
        std::memcpy(reply + reply_header_len, payload.data(), payload_len);
    }
    const std::size_t segment_len = reply_header_len + payload_len;

    // The checksum covers a pseudo-header (source, destination, zero and protocol, TCP length) and
    // the whole segment (RFC 9293 section 3.1).
    std::uint32_t sum = sum16({in_ip + kIpDst, 4});  // our address, the reply's source
    sum = sum16({in_ip + kIpSrc, 4}, sum);
    sum += kProtoTcp + static_cast<std::uint32_t>(segment_len);
    store_be16(reply + kTcpChecksum, finish(sum16({reply, segment_len}, sum)));
    reply_ipv4(in_ip, out + kEthLen, kProtoTcp, segment_len);
    return kEthLen + kIpLen + segment_len;
}

std::size_t answer_ipv4(std::span<const std::uint8_t> frame, std::uint8_t* out, const Config& config,
                        Counters& counters) {
    const std::span<const std::uint8_t> packet = frame.subspan(kEthLen);
    if (packet.size() < kIpLen || packet[kIpVerIhl] >> 4 != 4) {
        ++counters.malformed;
        return 0;
    }
    const std::size_t header_len = static_cast<std::size_t>(packet[kIpVerIhl] & 0x0f) * 4;
    const std::size_t total_len = load_be16(&packet[kIpTotalLen]);
    if (header_len < kIpLen || total_len < header_len || total_len > packet.size()) {
        ++counters.malformed;
        return 0;
    }
    if (std::memcmp(&packet[kIpDst], config.ip, 4) != 0 || (load_be16(&packet[kIpFrag]) & kIpFragmentBits) != 0) {
        ++counters.ignored;  // not ours, or a fragment (the floor does not reassemble)
        return 0;
    }
    // The Ethernet frame may be padded to 60 bytes: the IP total length says where the packet ends.
    const std::span<const std::uint8_t> payload = packet.subspan(header_len, total_len - header_len);
    std::size_t len = 0;
    switch (packet[kIpProto]) {
        case kProtoIcmp: len = answer_icmp(packet.data(), payload, out, counters); break;
        case kProtoTcp: len = answer_tcp(packet.data(), payload, out, counters); break;
        default: ++counters.ignored; return 0;
    }
    if (len != 0) reply_ethernet(frame.data(), out, config, kTypeIpv4);
    return len;
}

// One frame in, at most one frame out: returns the reply's length in `out`, 0 for none.
std::size_t answer(std::span<const std::uint8_t> frame, std::uint8_t* out, const Config& config, Counters& counters) {
    if (frame.size() < kEthLen) {
        ++counters.malformed;
        return 0;
    }
    switch (load_be16(&frame[kEthType])) {
        case kTypeArp: return answer_arp(frame, out, config, counters);
        case kTypeIpv4: return answer_ipv4(frame, out, config, counters);
        default: ++counters.ignored; return 0;
    }
}

// ---- the command line, the TAP and the loop ----

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "tap-floor: %s (usage: tap-floor --tap NAME --ip A.B.C.D [--mac XX:XX:XX:XX:XX:XX] [--epoll|--uring])\n",
                 message.c_str());
    std::exit(2);
}

std::optional<Mac> parse_mac(const std::string& text) {
    Mac mac{};
    unsigned int b[6];
    char tail = 0;
    if (std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6 ||
        text.size() != 17) {
        return std::nullopt;
    }
    for (int i = 0; i < 6; ++i) mac[i] = static_cast<std::uint8_t>(b[i]);
    return mac;
}

Config parse_args(int argc, char** argv) {
    Config config;
    bool have_ip = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--epoll" || arg == "--uring") {
            if (config.wait != Config::Wait::Read) usage_error("--epoll and --uring exclude each other");
            config.wait = arg == "--epoll" ? Config::Wait::Epoll : Config::Wait::Uring;
            continue;
        }
        if (arg != "--tap" && arg != "--ip" && arg != "--mac") usage_error("unknown argument '" + arg + "'");
        if (i + 1 >= argc) usage_error(arg + " needs a value");
        const std::string value = argv[++i];
        if (arg == "--tap") {
            if (value.empty() || value.size() >= IFNAMSIZ || value.find_first_of("/: \t") != std::string::npos) {
                usage_error("bad interface name '" + value + "'");
            }
            config.tap = value;
        } else if (arg == "--ip") {
            in_addr address{};
            if (::inet_pton(AF_INET, value.c_str(), &address) != 1) usage_error("bad IPv4 address '" + value + "'");
            std::memcpy(config.ip, &address, 4);  // inet_pton writes it in network byte order
            have_ip = true;
        } else {
            const std::optional<Mac> mac = parse_mac(value);
            if (!mac || ((*mac)[0] & 1) != 0) usage_error("bad unicast MAC address '" + value + "'");
            config.mac = *mac;
        }
    }
    if (config.tap.empty()) usage_error("--tap NAME is required");
    if (!have_ip) usage_error("--ip A.B.C.D is required");
    return config;
}

// Attaches to the existing TAP `name`; blocking unless `nonblocking`.
int open_tap(const std::string& name, bool nonblocking) {
    if (::if_nametoindex(name.c_str()) == 0) {
        std::fprintf(stderr, "tap-floor: no interface %s (create it first: ip tuntap add dev %s mode tap)\n",
                     name.c_str(), name.c_str());
        std::exit(1);
    }
    const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0));
    if (fd < 0) {
        std::fprintf(stderr, "tap-floor: /dev/net/tun: %s\n", std::strerror(errno));
        std::exit(1);
    }
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;  // one plain Ethernet frame per read() and per write()
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
        std::fprintf(stderr, "tap-floor: TUNSETIFF %s: %s\n", name.c_str(), std::strerror(errno));
        std::exit(1);
    }
    return fd;
}

volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

// Each loop below: wait for a frame, read it, write the answer, until SIGTERM or SIGINT. They
// return the exit status.
static std::uint8_t in[kFrameMax], out[kFrameMax];

// Writes the answer to the frame `in[0, got)`, if it has one.
void answer_frame(int fd, std::size_t got, const Config& config, Counters& counters) {
    ++counters.frames_in;
    const std::size_t len = answer({in, got}, out, config, counters);
    if (len == 0) return;
    if (::write(fd, out, len) == static_cast<ssize_t>(len)) {
        ++counters.frames_out;
    } else {
        ++counters.write_errors;  // the kernel's queue is full: a lost frame, as on a wire
    }
}

// The default: the read() itself waits. Two system calls per transaction.
int run_blocking(int fd, const Config& config, Counters& counters) {
    while (!stop_requested) {
        const ssize_t got = ::read(fd, in, sizeof in);
        if (got < 0) {
            if (errno == EINTR) continue;
            std::fprintf(stderr, "tap-floor: read: %s\n", std::strerror(errno));
            return 1;
        }
        answer_frame(fd, static_cast<std::size_t>(got), config, counters);
    }
    return 0;
}

// --epoll: a stack's event loop, which must wake for its timers too: epoll_wait() with a timeout,
// then a non-blocking read(). Three system calls per transaction.
int run_epoll(int fd, const Config& config, Counters& counters) {
    constexpr int kEpollTimeoutMs = 1000;  // stands for a stack's next timer; nothing is due here
    const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event interest{};
    interest.events = EPOLLIN;
    if (epoll_fd < 0 || ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &interest) < 0) {
        std::fprintf(stderr, "tap-floor: epoll: %s\n", std::strerror(errno));
        return 1;
    }
    while (!stop_requested) {
        epoll_event ready{};
        const int n = ::epoll_wait(epoll_fd, &ready, 1, kEpollTimeoutMs);
        if (n < 0 && errno != EINTR) {
            std::fprintf(stderr, "tap-floor: epoll_wait: %s\n", std::strerror(errno));
            return 1;
        }
        if (n <= 0) continue;
        const ssize_t got = ::read(fd, in, sizeof in);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            std::fprintf(stderr, "tap-floor: read: %s\n", std::strerror(errno));
            return 1;
        }
        answer_frame(fd, static_cast<std::size_t>(got), config, counters);
    }
    return 0;
}

// --uring: io_uring, through its system calls (no liburing). The answer's write and the next read
// go to the kernel in one io_uring_enter(), which returns when both are complete: one system call
// per transaction, the fewest there can be without busy polling. The ring is set up with
// SINGLE_ISSUER and DEFER_TASKRUN (Linux 6.1), so the read's completion runs in that same call
// rather than interrupting the process (without them where the kernel lacks them).
class Uring {
public:
    bool open(std::string& error) {
        io_uring_params params{};
        params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
        fd_ = static_cast<int>(::syscall(__NR_io_uring_setup, 8, &params));
        if (fd_ < 0 && errno == EINVAL) {
            params = io_uring_params{};
            fd_ = static_cast<int>(::syscall(__NR_io_uring_setup, 8, &params));
        }
        if (fd_ < 0) {
            error = std::string("io_uring_setup: ") + std::strerror(errno);
            return false;
        }
        flags_ = params.flags;
        const std::size_t sq_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
        const std::size_t cq_size = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
        const bool single = (params.features & IORING_FEAT_SINGLE_MMAP) != 0;
        auto* sq = map(single ? std::max(sq_size, cq_size) : sq_size, IORING_OFF_SQ_RING);
        auto* cq = single ? sq : map(cq_size, IORING_OFF_CQ_RING);
        sqes_ = static_cast<io_uring_sqe*>(
            static_cast<void*>(map(params.sq_entries * sizeof(io_uring_sqe), IORING_OFF_SQES)));
        if (sq == nullptr || cq == nullptr || sqes_ == nullptr) {
            error = std::string("mmap of the io_uring: ") + std::strerror(errno);
            return false;
        }
        sq_head_ = reinterpret_cast<unsigned*>(sq + params.sq_off.head);
        sq_tail_ = reinterpret_cast<unsigned*>(sq + params.sq_off.tail);
        sq_mask_ = *reinterpret_cast<unsigned*>(sq + params.sq_off.ring_mask);
        sq_array_ = reinterpret_cast<unsigned*>(sq + params.sq_off.array);
        cq_head_ = reinterpret_cast<unsigned*>(cq + params.cq_off.head);
        cq_tail_ = reinterpret_cast<unsigned*>(cq + params.cq_off.tail);
        cq_mask_ = *reinterpret_cast<unsigned*>(cq + params.cq_off.ring_mask);
        cqes_ = reinterpret_cast<io_uring_cqe*>(cq + params.cq_off.cqes);
        return true;
    }
    bool deferred() const { return (flags_ & IORING_SETUP_DEFER_TASKRUN) != 0; }

    // Queues a read or write of `buffer` on `fd`, tagged with `tag`.
    void queue(std::uint8_t opcode, int fd, std::uint8_t* buffer, std::size_t len, std::uint64_t tag) {
        const unsigned tail = *sq_tail_;  // only we write the tail
        const unsigned index = tail & sq_mask_;
        io_uring_sqe& sqe = sqes_[index];
        sqe = io_uring_sqe{};
        sqe.opcode = opcode;
        sqe.fd = fd;
        sqe.addr = reinterpret_cast<std::uint64_t>(buffer);
        sqe.len = static_cast<std::uint32_t>(len);
        sqe.off = static_cast<std::uint64_t>(-1);  // the file's position: a TAP has none
        sqe.user_data = tag;
        sq_array_[index] = index;
        __atomic_store_n(sq_tail_, tail + 1, __ATOMIC_RELEASE);
    }

    // Submits what is queued and waits until `wait_for` completions are in the ring. Returns 0
    // or an errno (EINTR when a signal came).
    int enter(unsigned wait_for) {
        const unsigned to_submit = *sq_tail_ - __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
        const long r = ::syscall(__NR_io_uring_enter, fd_, to_submit, wait_for, IORING_ENTER_GETEVENTS, nullptr, 0);
        return r < 0 ? errno : 0;
    }

    // Calls f(tag, result) for every completion in the ring, and empties it.
    template <class F>
    void reap(F&& f) {
        unsigned head = *cq_head_;
        const unsigned tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
        for (; head != tail; ++head) {
            const io_uring_cqe& cqe = cqes_[head & cq_mask_];
            f(cqe.user_data, cqe.res);
        }
        __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE);
    }

private:
    std::uint8_t* map(std::size_t size, std::uint64_t offset) {
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_,
                         static_cast<off_t>(offset));
        return p == MAP_FAILED ? nullptr : static_cast<std::uint8_t*>(p);
    }

    int fd_ = -1;
    unsigned flags_ = 0;
    unsigned *sq_head_ = nullptr, *sq_tail_ = nullptr, *sq_array_ = nullptr, sq_mask_ = 0;
    unsigned *cq_head_ = nullptr, *cq_tail_ = nullptr, cq_mask_ = 0;
    io_uring_sqe* sqes_ = nullptr;
    io_uring_cqe* cqes_ = nullptr;
};

int run_uring(int fd, const Config& config, Counters& counters, Uring& ring) {
    constexpr std::uint64_t kRead = 1, kWrite = 2;
    ring.queue(IORING_OP_READ, fd, in, sizeof in, kRead);
    unsigned writes_in_flight = 0;  // and always one read
    while (!stop_requested) {
        const int error = ring.enter(writes_in_flight + 1);  // returns when all of them are done
        if (error != 0 && error != EINTR) {
            std::fprintf(stderr, "tap-floor: io_uring_enter: %s\n", std::strerror(error));
            return 1;
        }
        bool read_done = false;
        std::size_t got = 0;
        int read_error = 0;
        ring.reap([&](std::uint64_t tag, int result) {
            if (tag == kWrite) {
                --writes_in_flight;
                if (result > 0) {
                    ++counters.frames_out;
                } else {
                    ++counters.write_errors;
                }
            } else if (result >= 0) {
                read_done = true;
                got = static_cast<std::size_t>(result);
            } else {
                read_done = true;
                read_error = -result;
            }
        });
        if (!read_done) continue;  // a signal, or only the write completed: the read is still queued
        if (read_error != 0 && read_error != EINTR && read_error != EAGAIN) {
            std::fprintf(stderr, "tap-floor: read: %s\n", std::strerror(read_error));
            return 1;
        }
        if (read_error == 0) {
            ++counters.frames_in;
            const std::size_t len = answer({in, got}, out, config, counters);
            if (len != 0) {  // the answer goes out in the same call that waits for the next frame
                ring.queue(IORING_OP_WRITE, fd, out, len, kWrite);
                ++writes_in_flight;
            }
        }
        ring.queue(IORING_OP_READ, fd, in, sizeof in, kRead);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Config config = parse_args(argc, argv);
    const int fd = open_tap(config.tap, config.wait == Config::Wait::Epoll);
    Uring ring;
    std::string error;
    if (config.wait == Config::Wait::Uring && !ring.open(error)) {
        std::fprintf(stderr, "tap-floor: %s\n", error.c_str());
        return 1;
    }
    // No SA_RESTART: a signal interrupts the read(), epoll_wait() or io_uring_enter() with EINTR.
    struct sigaction action{};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGINT, &action, nullptr);

    Counters counters;
    char ip_text[INET_ADDRSTRLEN] = "";
    ::inet_ntop(AF_INET, config.ip, ip_text, sizeof ip_text);
    const char* how = config.wait == Config::Wait::Read    ? "blocking read"
                      : config.wait == Config::Wait::Epoll ? "epoll_wait + non-blocking read"
                      : ring.deferred()                    ? "io_uring (deferred task work)"
                                                           : "io_uring";
    std::printf("tap-floor: ready on %s as %s (%02x:%02x:%02x:%02x:%02x:%02x), %s\n", config.tap.c_str(), ip_text,
                config.mac[0], config.mac[1], config.mac[2], config.mac[3], config.mac[4], config.mac[5], how);
    std::fflush(stdout);

    int status = 0;
    switch (config.wait) {
        case Config::Wait::Read: status = run_blocking(fd, config, counters); break;
        case Config::Wait::Epoll: status = run_epoll(fd, config, counters); break;
        case Config::Wait::Uring: status = run_uring(fd, config, counters, ring); break;
    }
    std::printf("tap-floor: frames_in=%lu frames_out=%lu arp=%lu icmp=%lu syn=%lu data=%lu fin=%lu ignored=%lu "
                "malformed=%lu write_errors=%lu\n",
                counters.frames_in, counters.frames_out, counters.arp, counters.icmp, counters.syn, counters.data,
                counters.fin, counters.ignored, counters.malformed, counters.write_errors);
    return status;
}
