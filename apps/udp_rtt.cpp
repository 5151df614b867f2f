// udp-rtt: UDP echo round trips, timed. One source, built twice (apps/meson.build):
//
//   build/apps/udp-rtt          on the kernel's sockets
//   build/apps/tcpip-udp-rtt    on our stack (plus the shared flags: --tap, --ip, ...)
//
//   udp-rtt [-c COUNT] [-s SIZE] HOST PORT
//
// Sends COUNT datagrams of SIZE bytes to an echo server one at a time, waits for each to come
// back (1 s at most), and prints the round-trip times and the rate. A warm-up exchange first
// (not counted) resolves the addresses. Everything between the two
// #ifdef blocks is the same text for both builds: only the namespace of the socket calls (NET::)
// changes, which is the point of the BSD-like API.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifdef USE_TCPIP_SOCKETS
#include "apps/app_common.h"
#include "stack/socket/socket.h"
#define NET tcpip
#else
#define NET
#endif

namespace {

double now_us() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

#ifndef USE_TCPIP_SOCKETS
[[noreturn]] void usage_error(const char* message) {
    std::fprintf(stderr, "udp-rtt: %s (usage: udp-rtt [-c COUNT] [-s SIZE] HOST PORT)\n", message);
    std::exit(2);
}
#endif

}  // namespace

int main(int argc, char** argv) {
    long count = 1000, size = 32;
    std::vector<std::string> positional;
#ifdef USE_TCPIP_SOCKETS
    long long c = count, s = size;
    tcpip::app::Args args("tcpip-udp-rtt", "[-c COUNT] [-s SIZE] [shared options] HOST PORT\n");
    args.add_option({"-c"}, [&](std::string_view v) { return tcpip::app::parse_int(v, 1, 10000000, c); });
    args.add_option({"-s"}, [&](std::string_view v) { return tcpip::app::parse_int(v, 1, 65507, s); });
    args.add_positional("HOST", true, [&](std::string_view v) { positional.emplace_back(v); return std::string(); });
    args.add_positional("PORT", true, [&](std::string_view v) { positional.emplace_back(v); return std::string(); });
    tcpip::app::CommonOptions options = args.parse(argc, argv);
    count = static_cast<long>(c);
    size = static_cast<long>(s);
    tcpip::app::RuntimeHost host("tcpip-udp-rtt", options);
#else
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if ((a == "-c" || a == "-s") && i + 1 < argc) {
            long v = std::strtol(argv[++i], nullptr, 10);
            if (v < 1 || v > (a == "-c" ? 10000000 : 65507)) usage_error("value out of range");
            (a == "-c" ? count : size) = v;
        } else if (!a.empty() && a[0] == '-') {
            usage_error(("unknown option " + a).c_str());
        } else {
            positional.push_back(a);
        }
    }
    if (positional.size() != 2) usage_error("need HOST and PORT");
#endif

    // ---- From here on, the same text for both builds ----
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(std::atoi(positional[1].c_str())));
    if (inet_pton(AF_INET, positional[0].c_str(), &to.sin_addr) != 1) {
        std::fprintf(stderr, "udp-rtt: bad address %s\n", positional[0].c_str());
        return 2;
    }
    const int fd = NET::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || NET::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
        std::perror("udp-rtt: socket/connect");
        return 1;
    }
    std::vector<char> out(static_cast<std::size_t>(size)), in(65536);
    // Warm-up, not timed: the first exchange resolves addresses (ARP on both sides), and on a link
    // that has just come up (a TAP whose reader just attached) the first ARP reply can be lost, so
    // resolution waits for an ARP retry, 1 s later. Up to 3 datagrams, 1 s apart, until any answer
    // comes back. Their payload (all 0xff) is never a timed datagram's, so a late answer to one of
    // them is skipped below.
    std::memset(out.data(), 0xff, out.size());
    for (int tries = 0; tries < 3; ++tries) {
        if (NET::send(fd, out.data(), out.size(), 0) < 0) {
            std::perror("udp-rtt: send");
            return 1;
        }
        pollfd p{fd, POLLIN, 0};
        if (NET::poll(&p, 1, 1000) > 0) {
            if (NET::recv(fd, in.data(), in.size(), 0) < 0) {
                std::perror("udp-rtt: recv");
                return 1;
            }
            break;
        }
    }
    std::memset(out.data(), 0, out.size());
    std::vector<double> rtts;
    long lost = 0;
    const double start = now_us();
    for (long i = 0; i < count; ++i) {
        std::memcpy(out.data(), &i, std::min(sizeof i, out.size()));
        const double t0 = now_us();
        if (NET::send(fd, out.data(), out.size(), 0) < 0) {
            std::perror("udp-rtt: send");
            return 1;
        }
        bool answered = false;
        while (!answered) {
            pollfd p{fd, POLLIN, 0};
            const double waited_ms = (now_us() - t0) / 1000;
            if (waited_ms >= 1000 || NET::poll(&p, 1, static_cast<int>(1000 - waited_ms)) <= 0) break;
            const ssize_t n = NET::recv(fd, in.data(), in.size(), 0);
            if (n < 0) {
                std::perror("udp-rtt: recv");
                return 1;
            }
            // An answer to an earlier, timed-out datagram is skipped.
            answered = n == size && std::memcmp(in.data(), out.data(), out.size()) == 0;
        }
        if (answered) {
            rtts.push_back(now_us() - t0);
        } else {
            ++lost;
        }
    }
    const double elapsed_s = (now_us() - start) / 1e6;
    NET::close(fd);
    // ---- End of the common text ----

    if (rtts.empty()) {
        std::printf("no answers (%ld sent)\n", count);
        return 1;
    }
    std::sort(rtts.begin(), rtts.end());
    double sum = 0;
    for (double r : rtts) sum += r;
    std::printf("%zu answered, %ld lost; rtt min/median/avg/max = %.1f/%.1f/%.1f/%.1f us; %.0f round trips/s\n",
                rtts.size(), lost, rtts.front(), rtts[rtts.size() / 2], sum / static_cast<double>(rtts.size()),
                rtts.back(), static_cast<double>(rtts.size()) / elapsed_s);
    return 0;
}
