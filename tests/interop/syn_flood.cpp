// syn-flood: sends spoofed TCP SYNs to one address and port, bounded in count and in time, for
// the interop flood tests (tests/interop/flood_test.cpp). Run it inside a test's namespace:
//
//   ip netns exec NS syn-flood --to 10.1.2.2:7 --from 198.18.0.0/15 --count 5000 --seconds 2
//
// Each SYN comes from a random address of --from and a random port (1024-65535), with a random
// ISN and IP ID, DF set, TTL 64, window 64240 and the options a Linux SYN carries first (MSS 1460,
// SACK permitted, window scale 7; no timestamps), so a SYN-cookie implementation has an MSS to
// encode. The SYNs are spread evenly over --seconds; the tool stops at --count or at --seconds + 1
// (if sending falls behind), whichever comes first, and prints one line of key=value:
//
//   syn-flood: sent=5000 errors=0 seconds=2.000 rate=2500 to=10.1.2.2:7 from=198.18.0.0/15
//
// It exits 0 when every SYN was sent, 1 when fewer were (the line says how many), 2 on bad
// arguments (one line on stderr), 3 when the raw socket cannot be opened (needs CAP_NET_RAW).
//
// Which source addresses: spoofed sources *off-link* (behind a gateway) are the realistic flood,
// and the one that exercises the TCP stack: the victim answers each SYN with a SYN-ACK through its
// gateway's MAC (one ARP entry), so every half-open connection is really made, sent, and
// retransmitted, and the SYN queue fills as it would on the Internet. Give the victim a route
// (`--gateway` = the kernel's address) and let the kernel, which does not forward (forwarding is
// off in a fresh namespace), drop the SYN-ACKs silently, as the Internet drops those to spoofed
// hosts that do not exist. Spoofed sources *on-link* that nobody owns instead make the victim ARP
// for each one: its SYN-ACKs wait in the ARP pending queue and are dropped when resolution fails,
// so that flood tests the ARP layer's bounds more than TCP's SYN queue (useful too, but another
// test). The tool does not care: it sends from whatever subnet it is given.
//
// The checksums are computed here (RFC 1071), not with the stack's own code, so that the stack's
// rx_bad_checksum counter checks both implementations against each other. The kernel fills in the
// IP header checksum of an IP_HDRINCL packet in any case (raw(7)); ours is the same value.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <thread>

namespace {

constexpr long long kMaxCount = 1'000'000;  // bounds: a test tool, not a weapon
constexpr double kMaxSeconds = 60;

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "syn-flood: %s (usage: syn-flood --to IP:PORT --from ADDR/PREFIX [--count N] "
                         "[--seconds T] [--seed S])\n",
                 message.c_str());
    std::exit(2);
}

bool parse_ipv4(const std::string& text, std::uint32_t& out) {
    in_addr a{};
    if (::inet_pton(AF_INET, text.c_str(), &a) != 1) return false;
    out = ntohl(a.s_addr);
    return true;
}

bool parse_number(const std::string& text, long long min, long long max, long long& out) {
    if (text.empty() || text.size() > 18) return false;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
    }
    out = std::atoll(text.c_str());
    return out >= min && out <= max;
}

// RFC 1071: the one's complement of the one's complement sum of 16-bit words.
std::uint32_t sum_words(const std::uint8_t* data, std::size_t len, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i + 1 < len; i += 2) sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
    if (len % 2 != 0) sum += static_cast<std::uint32_t>(data[len - 1] << 8);
    return sum;
}

std::uint16_t fold(std::uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum & 0xffff);
}

void put16(std::uint8_t* at, std::uint16_t v) {
    at[0] = static_cast<std::uint8_t>(v >> 8);
    at[1] = static_cast<std::uint8_t>(v);
}

void put32(std::uint8_t* at, std::uint32_t v) {
    put16(at, static_cast<std::uint16_t>(v >> 16));
    put16(at + 2, static_cast<std::uint16_t>(v));
}

constexpr std::size_t kIpLen = 20;
constexpr std::size_t kTcpLen = 32;  // 20 + 12 bytes of options

// One SYN: IPv4 header (RFC 791 3.1) and TCP header (RFC 9293 3.1) with options.
std::array<std::uint8_t, kIpLen + kTcpLen> make_syn(std::uint32_t src, std::uint16_t src_port, std::uint32_t dst,
                                                    std::uint16_t dst_port, std::uint32_t isn, std::uint16_t ip_id) {
    std::array<std::uint8_t, kIpLen + kTcpLen> p{};
    std::uint8_t* ip = p.data();
    ip[0] = 0x45;                                         // version 4, IHL 5
    put16(ip + 2, static_cast<std::uint16_t>(p.size()));  // total length
    put16(ip + 4, ip_id);
    put16(ip + 6, 0x4000);                                // DF, offset 0
    ip[8] = 64;                                           // TTL
    ip[9] = IPPROTO_TCP;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(ip + 10, fold(sum_words(ip, kIpLen)));

    std::uint8_t* tcp = p.data() + kIpLen;
    put16(tcp + 0, src_port);
    put16(tcp + 2, dst_port);
    put32(tcp + 4, isn);
    put32(tcp + 8, 0);                      // no ACK
    tcp[12] = (kTcpLen / 4) << 4;           // data offset
    tcp[13] = 0x02;                         // SYN
    put16(tcp + 14, 64240);                 // window, as Linux's first SYN
    static constexpr std::uint8_t kOptions[12] = {
        2, 4, 0x05, 0xb4,  // MSS 1460
        4, 2,              // SACK permitted
        1,                 // NOP
        3, 3, 7,           // window scale 7
        1, 1,              // NOP NOP (pad to a multiple of 4)
    };
    std::memcpy(tcp + 20, kOptions, sizeof kOptions);
    // The pseudo-header (RFC 9293 3.1): source, destination, zero, protocol, TCP length.
    std::uint32_t sum = sum_words(ip + 12, 8);
    sum += IPPROTO_TCP;
    sum += kTcpLen;
    put16(tcp + 16, fold(sum_words(tcp, kTcpLen, sum)));
    return p;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint32_t dst = 0, src_net = 0;
    long long dst_port = -1, prefix = -1, count = 1000, seed = -1;
    double seconds = 1;
    std::string to_text, from_text;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::printf("usage: syn-flood --to IP:PORT --from ADDR/PREFIX [--count N] [--seconds T] [--seed S]\n"
                        "  sends N (default 1000, at most %lld) spoofed SYNs to IP:PORT over T seconds (default\n"
                        "  1, at most %.0f), from random addresses of ADDR/PREFIX and random ports\n",
                        kMaxCount, kMaxSeconds);
            return 0;
        }
        if (i + 1 >= argc) usage_error("option " + std::string(arg) + " needs a value");
        const std::string value = argv[++i];
        if (arg == "--to") {
            to_text = value;
            const auto colon = value.rfind(':');
            if (colon == std::string::npos || !parse_ipv4(value.substr(0, colon), dst) ||
                !parse_number(value.substr(colon + 1), 1, 65535, dst_port)) {
                usage_error("--to: '" + value + "' is not IP:PORT");
            }
        } else if (arg == "--from") {
            from_text = value;
            const auto slash = value.find('/');
            if (slash == std::string::npos || !parse_ipv4(value.substr(0, slash), src_net) ||
                !parse_number(value.substr(slash + 1), 8, 32, prefix)) {
                usage_error("--from: '" + value + "' is not ADDR/PREFIX with a prefix of 8 to 32");
            }
        } else if (arg == "--count") {
            if (!parse_number(value, 1, kMaxCount, count)) {
                usage_error("--count: '" + value + "' is not a number from 1 to " + std::to_string(kMaxCount));
            }
        } else if (arg == "--seconds") {
            char* end = nullptr;
            seconds = std::strtod(value.c_str(), &end);
            if (value.empty() || *end != '\0' || !(seconds > 0 && seconds <= kMaxSeconds)) {
                usage_error("--seconds: '" + value + "' is not a number of seconds above 0, at most 60");
            }
        } else if (arg == "--seed") {
            if (!parse_number(value, 0, 999'999'999'999'999'999LL, seed)) usage_error("--seed: '" + value + "' is not a number");
        } else {
            usage_error("unknown option '" + std::string(arg) + "'");
        }
    }
    if (dst_port < 0) usage_error("--to IP:PORT is required");
    if (prefix < 0) usage_error("--from ADDR/PREFIX is required");

    // The subnet's addresses, without its network and broadcast addresses when it has them.
    const std::uint32_t mask = prefix == 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
    const std::uint32_t base = src_net & mask;
    const std::uint32_t size = prefix == 32 ? 1 : (1u << (32 - prefix));
    const std::uint32_t first = size > 2 ? 1 : 0, span = size > 2 ? size - 2 : size;

    if (seed < 0) {
        std::uint64_t s = 0;
        if (::getrandom(&s, sizeof s, 0) != static_cast<ssize_t>(sizeof s)) s = static_cast<std::uint64_t>(::getpid());
        seed = static_cast<long long>(s >> 1);
    }
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));

    // IPPROTO_RAW implies IP_HDRINCL: we write the whole IP header, spoofed source included.
    const int fd = ::socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) {
        std::fprintf(stderr, "syn-flood: raw socket: %s (needs CAP_NET_RAW: run as root)\n", std::strerror(errno));
        return 3;
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(dst);

    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    const auto interval = std::chrono::duration<double>(seconds / static_cast<double>(count));
    const auto hard_stop = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds + 1));
    long long sent = 0, errors = 0;
    int last_errno = 0;
    while (sent < count) {
        const auto now = Clock::now();
        if (now >= hard_stop) break;
        const auto due = start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(sent));
        if (due > now) std::this_thread::sleep_for(due - now);
        const std::uint32_t src = base + first + static_cast<std::uint32_t>(rng() % span);
        const auto src_port = static_cast<std::uint16_t>(1024 + rng() % (65536 - 1024));
        const auto packet = make_syn(src, src_port, dst, static_cast<std::uint16_t>(dst_port),
                                     static_cast<std::uint32_t>(rng()), static_cast<std::uint16_t>(rng()));
        const ssize_t n = ::sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
        if (n == static_cast<ssize_t>(packet.size())) {
            ++sent;
        } else {
            // ENOBUFS or EAGAIN: the device queue is full for a moment. Counted, and retried
            // after a pause (the loop is bounded by hard_stop).
            ++errors;
            last_errno = errno;
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    ::close(fd);
    std::printf("syn-flood: sent=%lld errors=%lld seconds=%.3f rate=%.0f to=%s from=%s seed=%lld%s%s\n", sent, errors,
                elapsed, elapsed > 0 ? static_cast<double>(sent) / elapsed : 0.0, to_text.c_str(), from_text.c_str(),
                seed, last_errno != 0 ? " last_error=" : "", last_errno != 0 ? std::strerror(last_errno) : "");
    return sent == count ? 0 : 1;
}
