#include "apps/app_common.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <type_traits>

namespace tcpip::app {

namespace {

const char* kSharedUsage =
    "shared options:\n"
    "  --tap NAME          TAP interface to attach to (default tap0)\n"
    "  --ip ADDR/PREFIX    our address and subnet (default 10.0.0.2/24)\n"
    "  --gateway ADDR      default gateway\n"
    "  --mac MAC           our MAC address (default 02:74:63:70:00:02)\n"
    "  --pcap FILE         capture every frame, both ways, to FILE (Wireshark reads it), as a\n"
    "                      wire would carry it: checksums that offloads left partial are completed\n"
    "  --pcap-segment      with --pcap: write TSO frames (up to 64 KiB) as the MTU-sized frames a\n"
    "                      NIC would cut them into\n"
    "  --no-offload        plain 1514-byte frames with full checksums on the TAP (default:\n"
    "                      checksum and TCP segmentation offload through IFF_VNET_HDR)\n"
    "  --faults SPEC       seeded faults between the stack and the TAP, e.g.\n"
    "                      drop=0.01,duplicate=0.005,reorder=0.01,corrupt=0.001,seed=7; keys: drop,\n"
    "                      duplicate, reorder, corrupt (probabilities), delay, jitter, reorder_timeout\n"
    "                      (ms), rate (bytes/s), burst, max_frame_size (bytes), queue_limit (frames),\n"
    "                      direction (both, tx or rx), seed\n"
    "  --loss PCT          a bad path, the same both ways: PCT % of frames lost (e.g. 1, 0.1)\n"
    "  --delay MS[,JITTER] MS ms of one-way delay (+ up to JITTER ms), so the round trip grows by 2 x MS\n"
    "  --rate MBIT         a bottleneck of MBIT Mbit/s each way\n"
    "  --reorder PCT       PCT % of frames overtaken by the next one\n"
    "  --duplicate PCT     PCT % of frames delivered twice\n"
    "                      (these set the same knobs as --faults, over it; frames larger than the MTU\n"
    "                      are cut first, so faults act on MTU-sized frames as on a real link)\n"
    "  --max-connections N TCP connections at once, in any state but LISTEN (default 65536);\n"
    "                      beyond it a new SYN is dropped, as Linux drops one when full\n"
    "  --syn-backlog N     half-open connections per listener (default 256)\n"
    "  --no-sack           neither offer nor accept SACK (RFC 2018); recovery is NewReno's, as\n"
    "                      Linux with net.ipv4.tcp_sack=0 (default: on)\n"
    "  --no-timestamps     neither offer nor accept TCP timestamps (RFC 7323: RTTM, PAWS), as Linux\n"
    "                      with net.ipv4.tcp_timestamps=0 (default: on)\n"
    "  --pacing            spread data over the round trip (TCP internal pacing, as Linux's with\n"
    "                      fq); --no-pacing sends each window at once (default: on)\n"
    "  --ecn 0|1|2         TCP ECN, as Linux's tcp_ecn: 0 off, 1 ask for it and accept it, 2 accept\n"
    "                      it when the peer asks (default 2)\n"
    "  --trace             print every frame, one line per layer (sock, tcp, udp, icmp, ip, arp, eth)\n"
    "                      with what the stack decided, on stdout (tcpip-nc: stderr); colour on a terminal\n"
    "  --trace-layers L    only these layers, comma-separated, e.g. tcp,ip (implies --trace)\n"
    "  --trace-json FILE   the same events as JSON lines in FILE\n"
    "  --seed N            seed of the stack's random choices (ISNs, ports, IP IDs); printed either way\n"
    "  (--pcap FILE.pcapng writes pcapng, each frame commented with the stack's decision)\n"
    "  --help              this text\n";

EventLoop* g_loop_to_stop = nullptr;  // the one thing a signal handler may touch

extern "C" void on_stop_signal(int) {
    if (g_loop_to_stop != nullptr) g_loop_to_stop->stop();
}

// RuntimeHost's self-pipe: the handler writes one byte (write is async-signal-safe); the app's
// tcpip::poll sees the read end readable.
int g_stop_pipe[2] = {-1, -1};
volatile std::sig_atomic_t g_stop_requested = 0;

extern "C" void on_stop_signal_pipe(int) {
    const int saved = errno;
    g_stop_requested = 1;
    if (g_stop_pipe[1] >= 0) {
        char byte = 1;
        [[maybe_unused]] ssize_t n = ::write(g_stop_pipe[1], &byte, 1);  // full pipe: already readable
    }
    errno = saved;
}

void install_stop_handler(void (*handler)(int)) {
    struct sigaction action {};
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

}  // namespace

Args::Args(std::string program, std::string usage) : program_(std::move(program)), usage_(std::move(usage)) {}

void Args::add_option(std::vector<std::string> names, std::function<std::string(std::string_view)> handler) {
    options_.push_back(Option{std::move(names), std::move(handler), nullptr});
}

void Args::add_positional(std::string name, bool required, std::function<std::string(std::string_view)> handler) {
    positionals_.push_back(Positional{std::move(name), required, std::move(handler)});
}

void Args::add_flag(std::vector<std::string> names, std::function<void()> handler) {
    options_.push_back(Option{std::move(names), nullptr, std::move(handler)});
}

void Args::fail(const std::string& message) const {
    std::cerr << program_ << ": " << message << " (try --help)\n";
    std::exit(2);
}

CommonOptions Args::parse(int argc, char** argv) {
    CommonOptions options;
    PathFlags path;
    std::size_t next_positional = 0;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        auto value = [&]() -> std::string_view {
            if (i + 1 >= argc) fail("option " + std::string(arg) + " needs a value");
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            std::cout << "usage: " << program_ << " " << usage_ << "\n" << kSharedUsage;
            std::exit(0);
        } else if (arg == "--tap") {
            options.tap = std::string(value());
            if (auto bad = check_interface_name(options.tap)) fail("--tap: " + bad->message());
        } else if (arg == "--ip") {
            auto v = value();
            auto cidr = Ipv4Cidr::parse(v);
            if (!cidr) fail("--ip: '" + std::string(v) + "': " + to_string(cidr.error()) + " (expected ADDR/PREFIX)");
            if (cidr->prefix_len == 0 || cidr->prefix_len > 30) fail("--ip: prefix length must be 1 to 30");
            options.ip = *cidr;
        } else if (arg == "--gateway") {
            auto v = value();
            auto gw = Ipv4Address::parse(v);
            if (!gw) fail("--gateway: '" + std::string(v) + "': " + to_string(gw.error()));
            options.gateway = *gw;
        } else if (arg == "--mac") {
            auto v = value();
            auto mac = MacAddress::parse(v);
            if (!mac) fail("--mac: '" + std::string(v) + "': " + to_string(mac.error()));
            if (!mac->is_unicast() || mac->is_zero()) fail("--mac: must be a unicast, non-zero address");
            options.mac = *mac;
        } else if (arg == "--pcap") {
            options.pcap = std::string(value());
        } else if (arg == "--pcap-segment") {
            options.pcap_segment = true;
        } else if (arg == "--no-offload") {
            options.offload = false;
        } else if (arg == "--no-sack") {
            options.stack.tcp_sack = false;
        } else if (arg == "--no-timestamps") {
            options.stack.tcp_timestamps = false;
        } else if (arg == "--pacing") {
            options.stack.tcp_pacing = true;
        } else if (arg == "--no-pacing") {
            options.stack.tcp_pacing = false;
        } else if (arg == "--faults") {
            FaultSpec spec;
            if (auto error = parse_faults(value(), spec); !error.empty()) fail("--faults: " + error);
            options.faults = spec;
        } else if (arg == "--loss" || arg == "--reorder" || arg == "--duplicate") {
            double p = 0;
            if (auto error = parse_percent(value(), p); !error.empty()) fail(std::string(arg) + ": " + error);
            (arg == "--loss" ? path.loss : arg == "--reorder" ? path.reorder : path.duplicate) = p;
        } else if (arg == "--delay") {
            Duration delay;
            if (auto error = parse_delay(value(), delay, path.jitter); !error.empty()) fail("--delay: " + error);
            path.delay = delay;
        } else if (arg == "--rate") {
            std::uint64_t rate = 0;
            if (auto error = parse_rate_mbit(value(), rate); !error.empty()) fail("--rate: " + error);
            path.rate_bytes_per_second = rate;
        } else if (arg == "--trace") {
            options.trace = true;
        } else if (arg == "--trace-layers") {
            auto v = value();
            if (!parse_trace_layers(std::string(v), options.trace_layers)) {
                fail("--trace-layers: '" + std::string(v) + "': expected a list of sock, tcp, udp, icmp, ip, arp, eth");
            }
            options.trace = true;
        } else if (arg == "--trace-json") {
            auto v = value();
            if (v.empty()) fail("--trace-json: empty file name");
            options.trace_json = std::string(v);
        } else if (arg == "--seed") {
            auto v = value();
            if (v.empty() || v.size() > 20 || v.find_first_not_of("0123456789") != std::string_view::npos) {
                fail("--seed: '" + std::string(v) + "' is not a number from 0 to 18446744073709551615");
            }
            errno = 0;
            const unsigned long long seed = std::strtoull(std::string(v).c_str(), nullptr, 10);
            if (errno == ERANGE) fail("--seed: '" + std::string(v) + "' is out of range (0 to 18446744073709551615)");
            options.seed = seed;
        } else if (arg == "--max-connections" || arg == "--syn-backlog") {
            long long n = 0;
            if (auto error = parse_int(value(), 1, 10'000'000, n); !error.empty()) fail(std::string(arg) + ": " + error);
            (arg == "--max-connections" ? options.stack.tcp_max_connections : options.stack.tcp_max_syn_backlog) =
                static_cast<std::size_t>(n);
        } else if (arg == "--ecn") {
            const std::string_view v = value();
            if (v != "0" && v != "1" && v != "2") fail("--ecn: '" + std::string(v) + "': must be 0, 1 or 2");
            options.stack.tcp_ecn = static_cast<std::uint8_t>(v[0] - '0');
        } else if (arg.size() > 1 && arg[0] == '-') {
            bool known = false;
            for (auto& option : options_) {
                for (auto& name : option.names) {
                    if (arg == name && option.flag) {
                        known = true;
                        option.flag();
                    } else if (arg == name) {
                        known = true;
                        auto v = value();
                        if (auto error = option.handler(v); !error.empty()) fail(std::string(arg) + ": " + error);
                    }
                }
            }
            if (!known) fail("unknown option '" + std::string(arg) + "'");
        } else {
            if (next_positional >= positionals_.size()) fail("unexpected argument '" + std::string(arg) + "'");
            auto& positional = positionals_[next_positional++];
            if (auto error = positional.handler(arg); !error.empty()) fail(positional.name + ": " + error);
        }
    }
    for (std::size_t i = next_positional; i < positionals_.size(); ++i) {
        if (positionals_[i].required) fail("missing " + positionals_[i].name);
    }
    if (path.any()) {
        // Over --faults if given (its seed and other knobs stay), in both directions.
        FaultSpec spec = options.faults.value_or(FaultSpec{});
        path.apply(spec.config.tx);
        path.apply(spec.config.rx);
        options.faults = spec;
    }
    if (options.pcap_segment && !options.pcap) fail("--pcap-segment needs --pcap FILE");
    if (options.gateway && !options.ip.contains(*options.gateway)) {
        fail("--gateway " + options.gateway->to_string() + " is not on the subnet " + options.ip.to_string());
    }
    return options;
}

std::string parse_int(std::string_view text, long long min, long long max, long long& out) {
    if (text.empty()) return "empty number";
    long long value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return "'" + std::string(text) + "' is not a number";
        value = value * 10 + (c - '0');
        if (value > max) break;
    }
    if (value < min || value > max) {
        return "'" + std::string(text) + "' is out of range (" + std::to_string(min) + " to " + std::to_string(max) + ")";
    }
    out = value;
    return "";
}

std::string parse_seconds(std::string_view text, double min, double& out) {
    std::string s(text);
    char* end = nullptr;
    errno = 0;
    double value = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || errno != 0) return "'" + s + "' is not a number of seconds";
    if (value < min) return "'" + s + "' is below the minimum of " + std::to_string(min);
    out = value;
    return "";
}

void PathFlags::apply(LinkFaults& faults) const {
    if (loss) faults.drop = *loss;
    if (reorder) faults.reorder = *reorder;
    if (duplicate) faults.duplicate = *duplicate;
    if (delay) faults.delay = *delay;
    if (jitter) faults.jitter = *jitter;
    if (rate_bytes_per_second) faults.rate_bytes_per_second = *rate_bytes_per_second;
}

namespace {

// A decimal number (strtod's syntax, nothing after it, finite), or nullopt.
std::optional<double> parse_number(std::string_view text) {
    std::string s(text);
    char* end = nullptr;
    errno = 0;
    const double value = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !std::isfinite(value)) return std::nullopt;
    return value;
}

// Milliseconds from 0 to one hour, to the microsecond.
std::string parse_millis(std::string_view text, Duration& out) {
    auto ms = parse_number(text);
    if (!ms || *ms < 0 || *ms > 3'600'000.0) {
        return "'" + std::string(text) + "' is not a number of milliseconds from 0 to 3600000";
    }
    out = Duration::micros(static_cast<std::int64_t>(*ms * 1000.0 + 0.5));
    return "";
}

}  // namespace

std::string parse_percent(std::string_view text, double& probability) {
    auto pct = parse_number(text);
    if (!pct || *pct < 0 || *pct > 100) return "'" + std::string(text) + "' is not a percentage from 0 to 100";
    probability = *pct / 100.0;
    return "";
}

std::string parse_delay(std::string_view text, Duration& delay, std::optional<Duration>& jitter) {
    const auto comma = text.find(',');
    if (auto error = parse_millis(text.substr(0, comma), delay); !error.empty()) return error + " (expected MS[,JITTER])";
    if (comma == std::string_view::npos) return "";
    Duration j;
    if (auto error = parse_millis(text.substr(comma + 1), j); !error.empty()) {
        return "jitter " + error + " (expected MS[,JITTER])";
    }
    jitter = j;
    return "";
}

std::string parse_rate_mbit(std::string_view text, std::uint64_t& bytes_per_second) {
    auto mbit = parse_number(text);
    if (!mbit || *mbit <= 0 || *mbit > 1'000'000) {
        return "'" + std::string(text) + "' is not a rate in Mbit/s above 0 and at most 1000000";
    }
    // Mbit/s as netem and iperf3 count them: 10^6 bits per second, 125,000 bytes.
    bytes_per_second = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(*mbit * 125'000.0 + 0.5));
    return "";
}

std::string parse_faults(std::string_view spec, FaultSpec& out) {
    if (spec.empty()) return "empty fault spec (expected KEY=VALUE[,KEY=VALUE...])";
    LinkFaults faults;
    std::string direction = "both";
    std::uint64_t seed = 1;
    std::vector<std::string> seen;
    while (!spec.empty()) {
        const auto comma = spec.find(',');
        const std::string_view pair = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
        if (comma != std::string_view::npos && spec.empty()) return "trailing ','";
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos || eq == 0) return "'" + std::string(pair) + "' is not KEY=VALUE";
        const std::string key(pair.substr(0, eq));
        const std::string_view text = pair.substr(eq + 1);
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) return "'" + key + "' given twice";
        seen.push_back(key);
        auto bad = [&](const std::string& why) { return key + "=" + std::string(text) + ": " + why; };

        auto probability = [&](double& field) -> std::string {
            double p = 0;
            if (auto error = parse_seconds(text, 0.0, p); !error.empty() || p > 1.0) {
                return bad("a probability must be a number from 0 to 1");
            }
            field = p;
            return "";
        };
        auto millis = [&](Duration& field) -> std::string {
            double ms = 0;
            if (auto error = parse_seconds(text, 0.0, ms); !error.empty() || ms > 3'600'000.0) {
                return bad("expected milliseconds from 0 to 3600000");
            }
            field = Duration::micros(static_cast<std::int64_t>(ms * 1000.0 + 0.5));
            return "";
        };
        auto integer = [&](auto& field, long long max) -> std::string {
            long long v = 0;
            if (auto error = parse_int(text, 0, max, v); !error.empty()) return bad(error);
            field = static_cast<std::remove_reference_t<decltype(field)>>(v);
            return "";
        };

        std::string error;
        if (key == "drop") error = probability(faults.drop);
        else if (key == "duplicate") error = probability(faults.duplicate);
        else if (key == "reorder") error = probability(faults.reorder);
        else if (key == "corrupt") error = probability(faults.corrupt);
        else if (key == "delay") error = millis(faults.delay);
        else if (key == "jitter") error = millis(faults.jitter);
        else if (key == "reorder_timeout") error = millis(faults.reorder_timeout);
        else if (key == "rate") error = integer(faults.rate_bytes_per_second, 1'000'000'000'000LL);
        else if (key == "burst") error = integer(faults.burst_bytes, 1'000'000'000LL);
        else if (key == "queue_limit") error = integer(faults.queue_limit, 1'000'000LL);
        else if (key == "max_frame_size") error = integer(faults.max_frame_size, 1'000'000LL);
        else if (key == "seed") error = integer(seed, 100'000'000'000'000'000LL);
        else if (key == "direction") {
            direction = std::string(text);
            if (direction != "both" && direction != "tx" && direction != "rx") error = bad("expected both, tx or rx");
        } else {
            error = "unknown key '" + key + "' (drop, duplicate, reorder, corrupt, delay, jitter, reorder_timeout, "
                    "rate, burst, queue_limit, max_frame_size, direction, seed)";
        }
        if (!error.empty()) return error;
    }
    out.seed = seed;
    out.config = direction == "tx" ? FaultConfig::tx_only(faults)
                 : direction == "rx" ? FaultConfig::rx_only(faults)
                                     : FaultConfig::both(faults);
    return "";
}

NetDevice& DeviceChain::device() {
    if (shards_) return shards_->device(0);
    if (pcap_) return *pcap_;
    if (segmenter_tx_) return *segmenter_tx_;
    if (faults_) return *faults_;
    return *tap_;
}

DeviceChain::DeviceChain(const std::string& program, const CommonOptions& options) {
    const TapOptions tap_options{.mtu = 1500, .offload = options.offload};
    if (options.queues > 1) {
        // A multiqueue TAP, one queue per shard (check_queues refused the single-device flags).
        auto queues = TapDevice::open_queues(options.tap, options.mac, tap_options, options.queues);
        if (!queues) {
            std::cerr << program << ": " << queues.error().message() << "\n";
            std::exit(1);
        }
        std::vector<NetDevice*> devices;
        for (auto& queue : *queues) {
            auto owned = std::make_unique<TapDevice>(std::move(queue));
            devices.push_back(owned.get());
            if (!tap_) {
                tap_ = std::move(owned);
            } else {
                more_queues_.push_back(std::move(owned));
            }
        }
        if (tap_->created()) std::cerr << created_tap_notice(program, tap_->name(), options.ip, options.gateway) << "\n";
        shards_ = std::make_unique<ShardGroup>(
            devices, PortRange{options.stack.ephemeral_port_first, options.stack.ephemeral_port_last});
        return;
    }
    auto tap = TapDevice::open(options.tap, options.mac, tap_options);
    if (!tap && tap.error().kind == TapErrorKind::NotATap) {
        // Perhaps a multiqueue TAP (ip tuntap add ... multi_queue): then one queue of it, which
        // the kernel gives every flow, as to a single-queue TAP.
        auto one = TapDevice::open_queues(options.tap, options.mac, tap_options, 1);
        if (one) tap = std::move(one->front());
    }
    if (!tap) {
        std::cerr << program << ": " << tap.error().message() << "\n";
        std::exit(1);
    }
    tap_ = std::make_unique<TapDevice>(std::move(*tap));
    if (tap_->created()) std::cerr << created_tap_notice(program, tap_->name(), options.ip, options.gateway) << "\n";
    if (options.faults) {
        NetDevice* below = tap_.get();
        if (options.offload) {
            segmenter_rx_ = std::make_unique<SoftwareOffload>(*tap_);
            below = segmenter_rx_.get();
        }
        faults_ = std::make_unique<FaultInjector>(*below, options.faults->config, options.faults->seed);
        if (options.offload) segmenter_tx_ = std::make_unique<SoftwareOffload>(*faults_);
    }
    if (options.pcap) {
        PcapOptions pcap_options;
        pcap_options.timestamps = PcapTimestamps::WallClock;
        pcap_options.format = pcap_format_for(*options.pcap);
        pcap_options.segment = options.pcap_segment;
        NetDevice& inner = segmenter_tx_ ? static_cast<NetDevice&>(*segmenter_tx_)
                           : faults_     ? static_cast<NetDevice&>(*faults_)
                                         : *tap_;
        auto pcap = PcapWriter::open(inner, *options.pcap, pcap_options);
        if (!pcap) {
            std::cerr << program << ": " << pcap.error().message() << "\n";
            std::exit(1);
        }
        pcap_ = std::make_unique<PcapWriter>(std::move(*pcap));
    }
}

// Writes each frame's trace as the comment of its pcapng record.
class Tracing::PcapComments final : public TraceSink {
public:
    explicit PcapComments(PcapWriter& pcap) : pcap_(pcap) { pcap_.hold_for_comments(true); }
    void on_wire(const TraceFrame& frame) override {
        std::string text = format_text(frame);
        if (!text.empty() && text.back() == '\n') text.pop_back();
        if (frame.dir == TraceDir::Rx) {
            pcap_.comment_received(std::move(text));
        } else {
            pcap_.comment_next_sent(std::move(text));
        }
    }

private:
    PcapWriter& pcap_;
};

Tracing::Tracing(const std::string& program, const CommonOptions& options) {
    const bool pcapng = options.pcap && pcap_format_for(*options.pcap) == PcapFormat::PcapNg;
    if (!options.trace && !options.trace_json && !pcapng) return;
    tracer_ = std::make_unique<FrameTracer>();
    if (options.trace) {
        std::FILE* out = options.stdout_is_data ? stderr : stdout;
        text_ = std::make_unique<TextTraceSink>(out, ::isatty(::fileno(out)) == 1, options.trace_layers);
        tracer_->add_sink(text_.get());
    }
    if (options.trace_json) {
        json_ = JsonTraceSink::open(*options.trace_json);
        if (!json_) {
            std::cerr << program << ": --trace-json: cannot create '" << *options.trace_json << "': " << std::strerror(errno) << "\n";
            std::exit(1);
        }
        tracer_->add_sink(json_.get());
    }
}

Tracing::~Tracing() = default;

void Tracing::flush() {
    if (tracer_) tracer_->done();
}

void Tracing::comment(PcapWriter* pcap) {
    if (!tracer_ || pcap == nullptr || pcap->format() != PcapFormat::PcapNg) return;
    pcap_ = std::make_unique<PcapComments>(*pcap);
    tracer_->add_sink(pcap_.get());
}

std::uint64_t stack_seed(const std::string& program, const CommonOptions& options) {
    const std::uint64_t seed = options.seed ? *options.seed : random_seed();
    // An app whose output is data (tcpip-nc, tcpip-perf -J) keeps it clean, even of stderr, which
    // scripts often merge into it: it says its seed only when the run is being watched or seeded.
    const bool asked = options.seed || options.trace || options.trace_json || options.pcap;
    if (!options.stdout_is_data || asked) {
        std::cerr << program << ": seed " << seed << " (--seed " << seed << " repeats this run's random choices)\n";
    }
    return seed;
}

Host::Host(const std::string& program, const CommonOptions& options)
    : tracing_(program, options), devices_(program, options), seed_(stack_seed(program, options)) {
    raise_open_file_limit();
    tracing_.comment(devices_.pcap());
    StackConfig config = options.stack;
    config.tracer = tracing_.tracer();
    stack_ = std::make_unique<Stack>(devices_.device(), InterfaceConfig{options.ip, options.gateway}, config, seed_);
    loop_ = std::make_unique<EventLoop>(*stack_, clock_);
    stack_->start(clock_.now());
}

Host::~Host() {
    if (g_loop_to_stop == loop_.get()) g_loop_to_stop = nullptr;
    tracing_.flush();  // what the last pass left unwritten (tcpip-ping sends from after its poll)
}

void Host::stop_on_signals() {
    g_loop_to_stop = loop_.get();
    install_stop_handler(on_stop_signal);
}

RuntimeHost::RuntimeHost(const std::string& program, const CommonOptions& options, StackThread mode)
    : tracing_(program, options), devices_(program, options), seed_(stack_seed(program, options)) {
    raise_open_file_limit();
    tracing_.comment(devices_.pcap());
    StackConfig config = options.stack;
    config.tracer = tracing_.tracer();
    ShardGroup* shards = devices_.shards();
    const std::size_t count = shards ? shards->size() : 1;
    const std::vector<int> cpus = usable_cpus();
    for (std::size_t k = 0; k < count; ++k) {
        StackConfig shard_config = config;
        NetDevice* device = &devices_.device();
        if (shards) {
            // Shard k: its own queue, its own slice of the ephemeral ports, its own secrets.
            const PortRange ports = shards->ports(k);
            shard_config.ephemeral_port_first = ports.first;
            shard_config.ephemeral_port_last = ports.last;
            device = &shards->device(k);
            cpus_.push_back(cpus.empty() ? static_cast<int>(k) : cpus[k % cpus.size()]);
        }
        const std::uint64_t seed = seed_ ^ (0x9e3779b97f4a7c15ull * k);
        runtimes_.push_back(std::make_unique<Runtime>(*device, InterfaceConfig{options.ip, options.gateway}, shard_config, seed));
    }
    runtime_ = runtimes_.front().get();
    Runtime::set_default(runtime_);
    if (shards) register_shards();
    if (mode == StackThread::Caller) return;  // each stack runs in the thread that polls its sockets
    // The stack's thread inherits this mask: with SIGINT and SIGTERM blocked there, the kernel
    // delivers them to the main thread, whose tcpip::poll the self-pipe wakes.
    sigset_t stop_signals, previous;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
    // A new thread inherits its creator's CPU affinity too: each shard's stack thread is started
    // while this thread is pinned to the shard's core, and the mask is put back afterwards.
    cpu_set_t saved;
    const bool have_saved = ::sched_getaffinity(0, sizeof saved, &saved) == 0;
    for (std::size_t k = 0; k < runtimes_.size(); ++k) {
        pin_to_shard(k);
        runtimes_[k]->start_thread();
    }
    if (have_saved && shards) ::sched_setaffinity(0, sizeof saved, &saved);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

RuntimeHost::~RuntimeHost() {
    unregister_shards();
    if (Runtime::get_default() == runtime_) Runtime::set_default(nullptr);
    // Stops the stacks' threads and closes every socket, before the devices go.
    for (auto& runtime : runtimes_) runtime.reset();
    tracing_.flush();
}

void RuntimeHost::pin_to_shard(std::size_t k) const {
    if (cpus_.empty()) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpus_[k], &set);
    ::sched_setaffinity(0, sizeof set, &set);  // 0: the calling thread
}

void RuntimeHost::print_shard_summary(std::ostream& os) {
    if (runtimes_.size() < 2) return;
    for (std::size_t k = 0; k < runtimes_.size(); ++k) {
        runtimes_[k]->with_stack([&](Stack& stack) {
            const ShardStats& shard = devices_.shards()->device(k).stats();
            os << "shard " << k << ": cpu " << cpus_[k] << ", connections " << stack.stats().tcp.passive_opens
               << ", active_opens " << stack.stats().tcp.active_opens << ", rx_frames " << devices_.queue(k).stats().rx_frames
               << ", rx_bytes " << devices_.queue(k).stats().rx_bytes << ", tx_frames " << devices_.queue(k).stats().tx_frames
               << ", forwarded_out " << shard.forwarded_out << ", forwarded_in " << shard.forwarded_in << ", arp_shared "
               << shard.arp_shared << "\n";
            return 0;
        });
    }
}

void RuntimeHost::stop_on_signals() {
    if (g_stop_pipe[0] < 0) {
        if (::pipe2(g_stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
            std::cerr << "cannot create the signal pipe: " << std::strerror(errno) << "\n";
            std::exit(1);
        }
    }
    install_stop_handler(on_stop_signal_pipe);
}

int RuntimeHost::stop_fd() const { return g_stop_pipe[0]; }

bool RuntimeHost::stop_requested() const { return g_stop_requested != 0; }

void RuntimeHost::print_stats(std::ostream& os) {
    if (runtimes_.size() > 1) {
        for (std::size_t k = 0; k < runtimes_.size(); ++k) {
            os << "shard " << k << " (cpu " << cpus_[k] << "):\n";
            runtimes_[k]->with_stack([&](Stack& stack) {
                stack.print_stats(os);
                tcpip::print_stats(os, "tap", devices_.queue(k).stats());
                tcpip::print_stats(os, "shard", devices_.shards()->device(k).stats());
                return 0;
            });
        }
        print_shard_summary(os);
        return;
    }
    runtime_->with_stack([&](Stack& stack) {
        stack.print_stats(os);
        tcpip::print_stats(os, "tap", devices_.tap().stats());
        if (const FaultInjector* faults = devices_.faults()) {
            tcpip::print_stats(os, "faults_tx", faults->tx_stats());
            tcpip::print_stats(os, "faults_rx", faults->rx_stats());
        }
        if (const SoftwareOffload* cut = devices_.segmenter_tx()) tcpip::print_stats(os, "segmenter_tx", cut->stats());
        if (const SoftwareOffload* cut = devices_.segmenter_rx()) tcpip::print_stats(os, "segmenter_rx", cut->stats());
        return 0;
    });
}

std::string created_tap_notice(const std::string& program, const std::string& tap, Ipv4Cidr ours,
                               std::optional<Ipv4Address> gateway) {
    Ipv4Address kernel = Ipv4Address(ours.network().to_u32() + 1);
    if (gateway) {
        kernel = *gateway;
    } else if (kernel == ours.address) {
        kernel = Ipv4Address(kernel.to_u32() + 1);
    }
    const Ipv4Cidr kernel_cidr{kernel, ours.prefix_len};
    return program + ": created TAP " + tap + " (down, no address; it goes away when " + program +
           " exits); to reach " + ours.address.to_string() + " from the kernel run: ip link set dev " + tap +
           " up; ip addr add " + kernel_cidr.to_string() + " dev " + tap;
}

sockaddr_in socket_address(Ipv4Address address, std::uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(address.to_u32());
    return sin;
}

std::uint64_t raise_open_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
    if (limit.rlim_cur < limit.rlim_max) {
        const rlim_t before = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
            std::cerr << "warning: cannot raise the open-file limit from " << before << " to " << limit.rlim_max << ": "
                      << std::strerror(errno) << "; at most about that many sockets\n";
            return before;
        }
    }
    return limit.rlim_cur;
}

std::vector<int> usable_cpus() {
    std::vector<int> cpus;
    cpu_set_t set;
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
    return cpus;
}

std::string parse_queues(std::string_view text, std::size_t& queues) {
    const long long cpus = std::max<long long>(1, static_cast<long long>(usable_cpus().size()));
    long long n = 0;
    if (auto e = parse_int(text, 1, cpus, n); !e.empty()) {
        return e + " (one queue per CPU: this machine lets us run on " + std::to_string(cpus) + ")";
    }
    queues = static_cast<std::size_t>(n);
    return "";
}

std::string check_queues(const CommonOptions& options) {
    if (options.queues <= 1) return "";
    if (options.pcap) return "--queues with --pcap: a capture needs one device (use --queues 1)";
    if (options.faults) return "--queues with --faults or the path flags: the fault injector needs one device (use --queues 1)";
    if (options.trace || options.trace_json) return "--queues with --trace: the tracer needs one stack (use --queues 1)";
    return "";
}

namespace {
// Which core each shard's sockets belong on: RuntimeHost registers its shards, pin_to_shard_of
// looks a socket's runtime up. Written before any app thread starts, read-only afterwards.
std::vector<std::pair<Runtime*, int>> g_shard_cpus;
}  // namespace

void RuntimeHost::register_shards() {
    for (std::size_t k = 0; k < runtimes_.size(); ++k) g_shard_cpus.emplace_back(runtimes_[k].get(), cpus_[k]);
}

void RuntimeHost::unregister_shards() { g_shard_cpus.clear(); }

void pin_to_shard_of(int fd) {
    Runtime* owner = Runtime::owner(fd);
    for (const auto& [runtime, cpu] : g_shard_cpus) {
        if (runtime != owner) continue;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        ::sched_setaffinity(0, sizeof set, &set);
        return;
    }
}

std::uint64_t random_seed() {
    std::uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed)) {
        // Without getrandom the stack still works, with a weaker seed: say so.
        std::cerr << "warning: getrandom failed; IP IDs and other secrets are predictable\n";
        seed = static_cast<std::uint64_t>(SystemClock().now().total_micros());
    }
    return seed;
}

}  // namespace tcpip::app
