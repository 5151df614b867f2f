// tcpip-ping: ICMP echo from our stack, in the style of iputils ping.
//
//   tcpip-ping [-c COUNT] [-s SIZE] [-i INTERVAL] [-W TIMEOUT] HOST
//
// Sends one echo request every INTERVAL seconds (default 1), each with SIZE bytes of data
// (default 56) and a sequence number from 1; prints each reply with its round-trip time; at the
// end (COUNT sent and answered or timed out, or Ctrl-C) prints the summary. Exit status 0 when
// replies came, 1 when none did, 2 for bad arguments.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <vector>

#include "apps/app_common.h"
#include "stack/core/random.h"

namespace {

struct PingStats {
    std::size_t transmitted = 0;
    std::size_t received = 0;
    std::size_t corrupted = 0;
    double sum_ms = 0, sum_sq_ms = 0, min_ms = 1e300, max_ms = 0;

    void add(double ms) {
        ++received;
        sum_ms += ms;
        sum_sq_ms += ms * ms;
        min_ms = std::min(min_ms, ms);
        max_ms = std::max(max_ms, ms);
    }
};

}  // namespace

int main(int argc, char** argv) {
    using namespace tcpip;
    long long count = -1;  // forever
    long long size = 56;
    double interval = 1.0;
    double timeout = 1.0;
    Ipv4Address host_address;

    app::Args args("tcpip-ping", "[-c COUNT] [-s SIZE] [-i INTERVAL] [-W TIMEOUT] [shared options] HOST\n\n"
                                 "  -c COUNT            stop after COUNT echo requests\n"
                                 "  -s SIZE             bytes of data per request (default 56, up to 65507)\n"
                                 "  -i INTERVAL         seconds between requests (default 1)\n"
                                 "  -W TIMEOUT          seconds to wait for the last reply (default 1)\n");
    args.add_option({"-c"}, [&](std::string_view v) { return app::parse_int(v, 1, 1000000000, count); });
    args.add_option({"-s"}, [&](std::string_view v) { return app::parse_int(v, 0, 65507, size); });
    args.add_option({"-i"}, [&](std::string_view v) { return app::parse_seconds(v, 0.001, interval); });
    args.add_option({"-W"}, [&](std::string_view v) { return app::parse_seconds(v, 0.001, timeout); });
    args.add_positional("HOST", true, [&](std::string_view v) -> std::string {
        auto a = Ipv4Address::parse(v);
        if (!a) return "'" + std::string(v) + "': " + to_string(a.error()) + " (an IPv4 address)";
        host_address = *a;
        return "";
    });
    app::CommonOptions options = args.parse(argc, argv);

    app::Host host("tcpip-ping", options);
    host.stop_on_signals();
    Stack& stack = host.stack();

    const std::uint16_t ident = static_cast<std::uint16_t>(mix64(host.seed()));  // from --seed too
    std::vector<std::uint8_t> data(static_cast<std::size_t>(size));
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i);

    std::map<std::uint16_t, Instant> sent_at;  // outstanding requests by sequence number
    PingStats stats;
    const Instant start = host.clock().now();
    Instant next_send = start;
    Instant last_sent;
    std::uint16_t seq = 0;

    std::printf("PING %s (%s) %lld(%lld) bytes of data.\n", host_address.to_string().c_str(),
                host_address.to_string().c_str(), size, size + 28);
    std::fflush(stdout);

    stack.icmp().set_echo_reply_handler([&](Instant now, const Icmp::EchoReply& reply) {
        if (reply.ident != ident || reply.from != host_address) return;
        auto it = sent_at.find(reply.seq);
        if (it == sent_at.end()) return;  // a duplicate, or one we gave up on
        double ms = static_cast<double>((now - it->second).total_micros()) / 1000.0;
        sent_at.erase(it);
        bool intact = reply.data.size() == data.size() && std::equal(data.begin(), data.end(), reply.data.begin());
        if (!intact) ++stats.corrupted;
        stats.add(ms);
        std::printf("%zu bytes from %s: icmp_seq=%u ttl=%u time=%.3f ms%s\n", reply.data.size() + 8,
                    reply.from.to_string().c_str(), reply.seq, reply.ttl, ms, intact ? "" : " (DATA DIFFERS)");
        std::fflush(stdout);
    });

    const Duration step = Duration::micros(static_cast<std::int64_t>(interval * 1e6));
    const Duration wait = Duration::micros(static_cast<std::int64_t>(timeout * 1e6));
    host.loop().run([&](Instant now) {
        bool all_sent = count >= 0 && static_cast<long long>(stats.transmitted) >= count;
        if (!all_sent && now >= next_send) {
            ++seq;
            auto sent = stack.icmp().send_echo_request(now, host_address, ident, seq, data);
            if (!sent) {
                std::fprintf(stderr, "tcpip-ping: %s: %s\n", host_address.to_string().c_str(), to_string(sent.error()));
                host.loop().stop();
                return;
            }
            sent_at[seq] = now;
            ++stats.transmitted;
            last_sent = now;
            next_send = now + step;
            // Wake up for the next send even if nothing arrives.
            stack.timers().schedule(next_send, [](Instant) {});
            all_sent = count >= 0 && static_cast<long long>(stats.transmitted) >= count;
            if (all_sent) stack.timers().schedule(now + wait, [](Instant) {});
        }
        if (all_sent && (sent_at.empty() || now >= last_sent + wait)) host.loop().stop();
    });

    const double elapsed_ms = static_cast<double>((host.clock().now() - start).total_micros()) / 1000.0;
    const double loss = stats.transmitted == 0
                            ? 0.0
                            : 100.0 * static_cast<double>(stats.transmitted - stats.received) /
                                  static_cast<double>(stats.transmitted);
    std::printf("\n--- %s ping statistics ---\n", host_address.to_string().c_str());
    std::printf("%zu packets transmitted, %zu received, %.0f%% packet loss, time %.0fms\n", stats.transmitted,
                stats.received, loss, elapsed_ms);
    if (stats.received > 0) {
        const double avg = stats.sum_ms / static_cast<double>(stats.received);
        const double mdev = std::sqrt(std::max(0.0, stats.sum_sq_ms / static_cast<double>(stats.received) - avg * avg));
        std::printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", stats.min_ms, avg, stats.max_ms, mdev);
    }
    return stats.received > 0 ? 0 : 1;
}
