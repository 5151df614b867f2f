#include "apps/app_common.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
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
    "  --pcap FILE         capture every frame, both ways, to FILE (Wireshark reads it)\n"
    "  --no-offload        plain 1514-byte frames with full checksums on the TAP (default:\n"
    "                      checksum and TCP segmentation offload through IFF_VNET_HDR)\n"
    "  --faults SPEC       seeded faults between the stack and the TAP, e.g.\n"
    "                      drop=0.01,duplicate=0.005,reorder=0.01,corrupt=0.001,seed=7; keys: drop,\n"
    "                      duplicate, reorder, corrupt (probabilities), delay, jitter, reorder_timeout\n"
    "                      (ms), rate (bytes/s), burst, max_frame_size (bytes), queue_limit (frames),\n"
    "                      direction (both, tx or rx), seed\n"
    "  --max-connections N TCP connections at once, in any state but LISTEN (default 65536);\n"
    "                      beyond it a new SYN is dropped, as Linux drops one when full\n"
    "  --syn-backlog N     half-open connections per listener (default 256)\n"
    "  --ecn 0|1|2         TCP ECN, as Linux's tcp_ecn: 0 off, 1 ask for it and accept it, 2 accept\n"
    "                      it when the peer asks (default 2)\n"
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
            auto v = value();
            if (v.empty() || v.size() > 15) fail("--tap: interface name must be 1 to 15 characters");
            options.tap = std::string(v);
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
        } else if (arg == "--no-offload") {
            options.offload = false;
        } else if (arg == "--faults") {
            FaultSpec spec;
            if (auto error = parse_faults(value(), spec); !error.empty()) fail("--faults: " + error);
            options.faults = spec;
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
    if (pcap_) return *pcap_;
    if (faults_) return *faults_;
    return *tap_;
}

DeviceChain::DeviceChain(const std::string& program, const CommonOptions& options) {
    auto tap = TapDevice::open(options.tap, options.mac, TapOptions{.mtu = 1500, .offload = options.offload});
    if (!tap) {
        std::cerr << program << ": " << tap.error().message() << "\n";
        std::exit(1);
    }
    tap_ = std::make_unique<TapDevice>(std::move(*tap));
    if (options.faults) faults_ = std::make_unique<FaultInjector>(*tap_, options.faults->config, options.faults->seed);
    if (options.pcap) {
        PcapOptions pcap_options;
        pcap_options.timestamps = PcapTimestamps::WallClock;
        NetDevice& inner = faults_ ? static_cast<NetDevice&>(*faults_) : *tap_;
        auto pcap = PcapWriter::open(inner, *options.pcap, pcap_options);
        if (!pcap) {
            std::cerr << program << ": " << pcap.error().message() << "\n";
            std::exit(1);
        }
        pcap_ = std::make_unique<PcapWriter>(std::move(*pcap));
    }
}

Host::Host(const std::string& program, const CommonOptions& options) : devices_(program, options) {
    raise_open_file_limit();
    stack_ = std::make_unique<Stack>(devices_.device(), InterfaceConfig{options.ip, options.gateway}, options.stack,
                                     random_seed());
    loop_ = std::make_unique<EventLoop>(*stack_, clock_);
    stack_->start(clock_.now());
}

Host::~Host() {
    if (g_loop_to_stop == loop_.get()) g_loop_to_stop = nullptr;
}

void Host::stop_on_signals() {
    g_loop_to_stop = loop_.get();
    install_stop_handler(on_stop_signal);
}

RuntimeHost::RuntimeHost(const std::string& program, const CommonOptions& options, StackThread mode)
    : devices_(program, options) {
    raise_open_file_limit();
    runtime_ = std::make_unique<Runtime>(devices_.device(), InterfaceConfig{options.ip, options.gateway}, options.stack,
                                         random_seed());
    Runtime::set_default(runtime_.get());
    if (mode == StackThread::Caller) return;
    // The stack's thread inherits this mask: with SIGINT and SIGTERM blocked there, the kernel
    // delivers them to the main thread, whose tcpip::poll the self-pipe wakes.
    sigset_t stop_signals, previous;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
    runtime_->start_thread();
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

RuntimeHost::~RuntimeHost() {
    if (Runtime::get_default() == runtime_.get()) Runtime::set_default(nullptr);
    runtime_.reset();  // stops the stack's thread and closes every socket, before the device goes
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
    runtime_->with_stack([&](Stack& stack) {
        stack.print_stats(os);
        tcpip::print_stats(os, "tap", devices_.tap().stats());
        if (const FaultInjector* faults = devices_.faults()) {
            tcpip::print_stats(os, "faults_tx", faults->tx_stats());
            tcpip::print_stats(os, "faults_rx", faults->rx_stats());
        }
        return 0;
    });
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
