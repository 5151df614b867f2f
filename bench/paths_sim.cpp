// paths-sim: the paths benchmark's grid where wall-clock runs are too slow: two of our stacks in
// virtual time over a 1 Gbit/s link with 200 ms of one-way delay, at 0 / 0.1 / 1 / 5 % loss, one
// bulk TCP transfer per cell, its goodput set against the Mathis bound.
//
//   paths-sim [--quick] [--losses LIST] [--delay-ms MS] [--rate-mbit MBIT] [--queue FRAMES]
//             [--seconds S] [--seed N] [--seeds N] [--pacing|--no-pacing] [--reno] [--json FILE]
//
// --queue sets the bottleneck's queue (frames; default 1000, netem's; bench/tcpip-relay's rate
// limiter holds 128), --pacing / --no-pacing switch TCP pacing on or off (the stack's default: off)
// and --reno selects NewReno on both
// stacks, for before/after comparisons in one binary. The "queue drops" column counts the frames
// the sender's bottleneck dropped because its queue was full (FaultStats::rate_limited).
//
// The link: a MemoryLink, and on each side a FaultInjector that applies the path in that side's
// transmit direction (rate limit first, as a bottleneck serializes frames, then the propagation
// delay, then the loss draw; 1,000 frames of queue, as netem's default), and SoftwareOffload above
// it, so TCP sends 64 KiB segments as the apps do and the link carries MTU-sized frames:
//
//   Stack A -> SoftwareOffload -> FaultInjector (rate, delay, loss) -> MemoryLink -> ... -> Stack B
//
// Virtual time: the loop jumps from one deadline to the next (the stacks' timers, the frames in
// flight), so minutes of a long fat path take a second or so. Nothing reads the system clock but
// the wall-time column.
//
// The Mathis bound (Mathis, Semke, Mahdavi, Ott, "The macroscopic behavior of the TCP congestion
// avoidance algorithm", 1997): a Reno-style flow that loses a fraction p of its segments averages
// at most MSS / RTT x sqrt(3/2) / sqrt(p), sqrt(3/2) being the 1.22 of the paper's periodic-loss
// model. p is the data direction's loss per frame; RTT is twice the one-way delay. The goodput is
// what the receiving application read after a warm-up (the first tenth of the run: the connection
// set-up and slow start), per second of virtual time, averaged over --seeds runs (the cell's seed
// in the output is the first of them). At 0 % loss there is no bound: the figure is
// then what the window allows (the receive and send buffers over the RTT).
//
// Output: a table on stdout and, with --json, the figures bench/paths.sh merges into its results.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "drivers/fault_injector.h"
#include "drivers/memory_link.h"
#include "drivers/software_offload.h"
#include "stack/stack.h"

namespace {

using namespace tcpip;

const MacAddress kMacA({0x02, 0, 0, 0, 0, 0x0a});
const MacAddress kMacB({0x02, 0, 0, 0, 0, 0x0b});
const Ipv4Address kIpA(10, 0, 0, 1);
const Ipv4Address kIpB(10, 0, 0, 2);
constexpr std::uint16_t kPort = 5201;

struct SimConfig {
    std::vector<double> losses_pct = {0, 0.1, 1, 5};
    double delay_ms = 200;     // one way
    double rate_mbit = 1000;
    std::size_t queue = 1000;  // frames the bottleneck holds
    bool pacing = StackConfig{}.tcp_pacing;  // the stack's default (off)
    bool reno = false;
    double seconds = 600;      // virtual, per run
    std::uint64_t seed = 1;
    int seeds = 3;             // runs per cell, each with its own seed; the goodputs are averaged
    std::string json;
};

struct CellResult {
    double loss_pct = 0;
    double goodput_mbit = 0;
    double mathis_mbit = 0;  // 0: no bound (no loss)
    double ratio() const { return mathis_mbit > 0 ? goodput_mbit / mathis_mbit : 0; }
    std::uint64_t retransmits = 0, timeouts = 0;
    std::uint64_t queue_drops = 0;  // the data direction's bottleneck: frames its full queue dropped
    std::uint16_t mss = 0;
    double wall_seconds = 0;
    std::uint64_t seed = 0;
    std::string failure;  // non-empty: the cell did not run to its end
};

// One cell: a connection from A to B, A sending for `seconds` of virtual time.
class Cell {
public:
    Cell(const SimConfig& config, double loss_pct, std::uint64_t seed)
        : config_(config), loss_pct_(loss_pct), seed_(seed), link_(kMacA, kMacB, 1500),
          faults_a_(link_.a(), FaultConfig::tx_only(path(config, loss_pct)), seed * 2 + 1),
          faults_b_(link_.b(), FaultConfig::tx_only(path(config, loss_pct)), seed * 2 + 2),
          offload_a_(faults_a_), offload_b_(faults_b_),
          a_(offload_a_, InterfaceConfig{Ipv4Cidr{kIpA, 24}, std::nullopt}, stack_config(config), seed * 7 + 3),
          b_(offload_b_, InterfaceConfig{Ipv4Cidr{kIpB, 24}, std::nullopt}, stack_config(config), seed * 7 + 4) {
        a_.arp().add_static(kIpB, kMacB);
        b_.arp().add_static(kIpA, kMacA);
    }

    CellResult run() {
        CellResult r;
        r.loss_pct = loss_pct_;
        r.seed = seed_;
        const auto wall_start = std::chrono::steady_clock::now();
        TcpSocket* listener = b_.tcp().open();
        if (!b_.tcp().bind(listener, Ipv4Address::any(), kPort) || !b_.tcp().listen(listener, 4)) {
            r.failure = "listen failed";
            return r;
        }
        TcpSocket* client = a_.tcp().open();
        if (auto sent = a_.tcp().connect(now_, client, kIpB, kPort); !sent && sent.error() != SocketError::InProgress) {
            r.failure = "connect failed";
            return r;
        }
        TcpSocket* server = nullptr;
        const Instant end = Instant::zero() + Duration::micros(static_cast<std::int64_t>(config_.seconds * 1e6));
        const Instant warm = Instant::zero() + Duration::micros(static_cast<std::int64_t>(config_.seconds * 1e5));
        std::optional<std::uint64_t> received_at_warm;
        std::uint64_t received = 0;
        std::vector<std::uint8_t> block(65536, 0x5a), sink(65536);

        while (now_ < end) {
            if (!server) {
                if (auto accepted = b_.tcp().accept(listener)) server = *accepted;
            }
            // The sender keeps its send buffer full; the receiver reads all there is.
            for (;;) {
                auto wrote = a_.tcp().send(now_, client, Bytes(block.data(), block.size()));
                if (!wrote || *wrote == 0) break;
            }
            if (server) {
                for (;;) {
                    auto got = b_.tcp().recv(now_, server, MutableBytes(sink.data(), sink.size()), false);
                    if (!got || *got == 0) break;
                    received += *got;
                }
            }
            if (!received_at_warm && now_ >= warm) received_at_warm = received;

            auto next = earliest();
            if (!next) {
                r.failure = "stuck: nothing scheduled at " + std::to_string(now_.total_millis()) + " ms";
                return r;
            }
            now_ = std::max(now_, std::min(*next, end));
            a_.poll(now_);
            b_.poll(now_);
            for (Stack* stack : {&a_, &b_}) {
                if (std::string broken = stack->tcp().check_invariants(); !broken.empty()) {
                    r.failure = "TCP invariant broken at " + std::to_string(now_.total_millis()) + " ms: " + broken;
                    return r;
                }
            }
        }
        const double measured = config_.seconds * 0.9;
        r.goodput_mbit = static_cast<double>(received - received_at_warm.value_or(0)) * 8 / measured / 1e6;
        r.mss = client->mss;
        const double p = loss_pct_ / 100;
        if (p > 0) r.mathis_mbit = r.mss * 8.0 / (2 * config_.delay_ms / 1000) * std::sqrt(1.5) / std::sqrt(p) / 1e6;
        r.retransmits = a_.stats().tcp.retransmitted_segments;
        r.timeouts = a_.stats().tcp.timeouts;
        r.queue_drops = faults_a_.tx_stats().rate_limited;
        r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
        return r;
    }

private:
    static StackConfig stack_config(const SimConfig& c) {
        StackConfig s;
        s.tcp_pacing = c.pacing;
        if (c.reno) s.tcp_congestion = CongestionAlgorithm::NewReno;
        return s;
    }
    static LinkFaults path(const SimConfig& c, double loss_pct) {
        LinkFaults f;
        f.drop = loss_pct / 100;
        f.delay = Duration::micros(static_cast<std::int64_t>(c.delay_ms * 1000));
        f.rate_bytes_per_second = static_cast<std::uint64_t>(c.rate_mbit * 125'000);
        f.queue_limit = c.queue;
        return f;
    }

    std::optional<Instant> earliest() {
        std::optional<Instant> t;
        for (auto candidate : {a_.poll_at(), b_.poll_at()}) {
            if (candidate && (!t || *candidate < *t)) t = candidate;
        }
        return t;
    }

    const SimConfig& config_;
    double loss_pct_;
    std::uint64_t seed_;
    MemoryLink link_;
    FaultInjector faults_a_, faults_b_;
    SoftwareOffload offload_a_, offload_b_;
    Stack a_, b_;
    Instant now_ = Instant::zero();
};

[[noreturn]] void usage_error(const std::string& message) {
    std::cerr << "paths-sim: " << message << " (usage: paths-sim [--quick] [--losses LIST] [--delay-ms MS] "
              << "[--rate-mbit MBIT] [--queue FRAMES] [--seconds S] [--seed N] [--seeds N] [--pacing|--no-pacing] [--reno] "
              << "[--json FILE])\n";
    std::exit(2);
}

double number(const std::string& flag, const std::string& text, double min, double max) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || v < min || v > max) {
        usage_error(flag + ": '" + text + "' is not a number from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return v;
}

SimConfig parse(int argc, char** argv) {
    SimConfig c;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage_error("option " + arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--quick") {
            c.losses_pct = {0, 1};
            c.seconds = 120;
            c.seeds = 1;
        } else if (arg == "--losses") {
            c.losses_pct.clear();
            std::stringstream list(value());
            for (std::string item; std::getline(list, item, ',');) c.losses_pct.push_back(number(arg, item, 0, 100));
            if (c.losses_pct.empty()) usage_error("--losses: empty list");
        } else if (arg == "--delay-ms") {
            c.delay_ms = number(arg, value(), 0.001, 10'000);
        } else if (arg == "--rate-mbit") {
            c.rate_mbit = number(arg, value(), 0.001, 100'000);
        } else if (arg == "--queue") {
            c.queue = static_cast<std::size_t>(number(arg, value(), 1, 1'000'000));
        } else if (arg == "--pacing") {
            c.pacing = true;
        } else if (arg == "--no-pacing") {
            c.pacing = false;
        } else if (arg == "--reno") {
            c.reno = true;
        } else if (arg == "--seconds") {
            c.seconds = number(arg, value(), 1, 100'000);
        } else if (arg == "--seed") {
            c.seed = static_cast<std::uint64_t>(number(arg, value(), 0, 1e15));
        } else if (arg == "--seeds") {
            c.seeds = static_cast<int>(number(arg, value(), 1, 1000));
        } else if (arg == "--json") {
            c.json = value();
        } else if (arg == "--help" || arg == "-h") {
            std::cout << "paths-sim: our stack against itself in virtual time on a long fat lossy path; "
                         "see bench/paths_sim.cpp\n";
            std::exit(0);
        } else {
            usage_error("unknown argument '" + arg + "'");
        }
    }
    return c;
}

// A JSON number, or null for the "none" that 0 stands for (no Mathis bound without loss).
std::string json_number(double v, bool zero_is_null = false) {
    if (zero_is_null && v == 0) return "null";
    std::ostringstream os;
    os.precision(10);
    os << v;
    return os.str();
}

}  // namespace

int main(int argc, char** argv) {
    const SimConfig config = parse(argc, argv);
    std::vector<CellResult> results;
    std::printf("%6s %15s %14s %6s %11s %9s %12s %7s\n", "loss %", "goodput Mbit/s", "Mathis Mbit/s", "ratio",
                "retransmits", "timeouts", "queue drops", "wall s");
    bool failed = false;
    for (std::size_t i = 0; i < config.losses_pct.size(); ++i) {
        // The cell's runs, one seed each: goodputs averaged, counters summed.
        CellResult r;
        for (int k = 0; k < config.seeds; ++k) {
            const std::uint64_t seed = config.seed + i * 1000 + static_cast<std::uint64_t>(k);
            CellResult one = Cell(config, config.losses_pct[i], seed).run();
            if (!one.failure.empty()) {
                std::fprintf(stderr, "paths-sim: loss %g %%, seed %llu: %s\n", one.loss_pct,
                             static_cast<unsigned long long>(seed), one.failure.c_str());
                failed = true;
                continue;
            }
            if (r.mss == 0) {  // the first run that completed gives the cell's fixed figures
                r.loss_pct = one.loss_pct;
                r.mss = one.mss;
                r.mathis_mbit = one.mathis_mbit;
                r.seed = one.seed;
            }
            r.goodput_mbit += one.goodput_mbit / config.seeds;
            r.retransmits += one.retransmits;
            r.timeouts += one.timeouts;
            r.queue_drops += one.queue_drops;
            r.wall_seconds += one.wall_seconds;
        }
        if (r.mss == 0) continue;
        char bound[32] = "-", ratio[32] = "-";
        if (r.mathis_mbit > 0) {
            std::snprintf(bound, sizeof bound, "%.4g", r.mathis_mbit);
            std::snprintf(ratio, sizeof ratio, "%.2f", r.ratio());
        }
        std::printf("%6g %15.4g %14s %6s %11llu %9llu %12llu %7.2f\n", r.loss_pct, r.goodput_mbit, bound, ratio,
                    static_cast<unsigned long long>(r.retransmits), static_cast<unsigned long long>(r.timeouts),
                    static_cast<unsigned long long>(r.queue_drops), r.wall_seconds);
        results.push_back(r);
    }
    const std::uint16_t mss = results.empty() ? 0 : results.front().mss;
    std::printf("(%g Mbit/s, queue %zu frames, %g ms one way, RTT %g ms, MSS %u, %s, pacing %s; per cell %d run(s) "
                "of %g s of virtual time, the first tenth not counted, goodputs averaged, counters summed)\n",
                config.rate_mbit, config.queue, config.delay_ms, 2 * config.delay_ms, mss,
                config.reno ? "reno" : "cubic", config.pacing ? "on" : "off", config.seeds, config.seconds);
    if (!config.json.empty()) {
        std::ofstream out(config.json);
        out << "{\"rate_mbit\": " << config.rate_mbit << ", \"queue_frames\": " << config.queue
            << ", \"pacing\": " << (config.pacing ? "true" : "false") << ", \"delay_ms\": " << config.delay_ms
            << ", \"rtt_ms\": " << 2 * config.delay_ms << ", \"mss\": " << mss << ", \"seconds\": " << config.seconds
            << ", \"warmup_seconds\": " << config.seconds / 10 << ", \"seeds\": " << config.seeds
            << ", \"cells\": [";
        for (std::size_t i = 0; i < results.size(); ++i) {
            const CellResult& r = results[i];
            out << (i ? ", " : "") << "{\"loss_pct\": " << r.loss_pct << ", \"goodput_mbit\": "
                << json_number(r.goodput_mbit) << ", \"mathis_mbit\": " << json_number(r.mathis_mbit, true)
                << ", \"ratio_to_mathis\": " << json_number(r.ratio(), true) << ", \"retransmits\": " << r.retransmits
                << ", \"timeouts\": " << r.timeouts << ", \"queue_drops\": " << r.queue_drops
                << ", \"wall_seconds\": " << json_number(r.wall_seconds)
                << ", \"seed\": " << r.seed << "}";
        }
        out << "]}\n";
        if (!out) {
            std::fprintf(stderr, "paths-sim: cannot write %s\n", config.json.c_str());
            return 1;
        }
    }
    return failed ? 1 : 0;
}
