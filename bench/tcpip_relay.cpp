// tcpip-relay: two TAPs joined through the fault injector, a virtual cable with a bad path in it,
// so that two kernel network namespaces (or a kernel and our stack) talk over loss, delay, a
// bottleneck, reordering and duplication of our making. There is no netem on the machines this
// project runs on; this is what bench/paths.sh measures through.
//
//   tcpip-relay --tap-a NAME [--netns-a NS] --tap-b NAME [--netns-b NS]
//               [--loss PCT] [--delay MS[,JITTER]] [--rate MBIT] [--reorder PCT] [--duplicate PCT]
//               [--faults SPEC] [--seed N] [--mtu BYTES] [--stats]
//
//     namespace A                                                         namespace B
//     kernel -- tap A ==fd==> FaultInjector (A->B) --> fd== tap B -- kernel
//     kernel -- tap A <==fd== FaultInjector (B->A) <== fd== tap B -- kernel
//
// Every frame the kernel in A sends out of tap A is read here and written into tap B, where the
// kernel in B receives it, and the other way round: an Ethernet cable, MAC addresses and ARP
// included. Each direction has a FaultInjector of its own (drivers/fault_injector.h) with the same
// faults and its own seeded generator, wrapped around the TAP it writes to: the path flags mean
// what they mean for the apps (apps/app_common.h): --delay is one way, applied in each direction,
// so the round trip grows by twice it; --rate is a bottleneck each way.
//
// Frames no larger than the MTU: the TAPs are opened without offloads (no IFF_VNET_HDR), so the
// kernel cuts its TCP segments to the MTU and completes their checksums before they reach us,
// as it does for a NIC without TSO. The faults thus act on frames as a real link carries them.
//
// To put our stack on the path, give it a TAP of its own in namespace A and join that TAP and
// tap A with a Linux bridge (bench/paths.sh does): its frames then cross the relay exactly as the
// kernel's do.
//
// --netns-a/--netns-b: the TAP is opened (created if it does not exist) in that network namespace
// (/run/netns/NS, as `ip netns add` makes); the fd stays bound to it whatever namespace we are
// in afterwards. Without it, the TAP is opened in the relay's own namespace.
//
// It prints "tcpip-relay: relaying ..." once both TAPs are open, runs until SIGINT or SIGTERM,
// and then, with --stats, prints each direction's fault counters and each TAP's. A bad flag is one
// line on stderr and exit status 2; a TAP that cannot be opened, exit status 1.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "apps/app_common.h"
#include "drivers/fault_injector.h"
#include "drivers/tap_device.h"
#include "drivers/unique_fd.h"
#include "stack/core/clock.h"

namespace {

using namespace tcpip;

constexpr const char* kUsage =
    "usage: tcpip-relay --tap-a NAME [--netns-a NS] --tap-b NAME [--netns-b NS] [--loss PCT]\n"
    "                   [--delay MS[,JITTER]] [--rate MBIT] [--reorder PCT] [--duplicate PCT]\n"
    "                   [--faults SPEC] [--seed N] [--mtu BYTES] [--stats]\n"
    "Joins two TAPs through the fault injector, the same faults each way (--delay is one way).\n"
    "  --tap-a, --tap-b NAME   the two TAPs (created if missing); --netns-a/-b: in that namespace\n"
    "  --loss/--reorder/--duplicate PCT, --delay MS[,JITTER], --rate MBIT: as for the apps\n"
    "  --faults SPEC           the injector's other knobs, as for the apps (path flags go over it)\n"
    "  --seed N                the generators' seed (default 1; each direction derives its own)\n"
    "  --mtu BYTES             the largest IP packet relayed (default 1500)\n"
    "  --stats                 print the counters at exit\n";

constexpr std::size_t kBatch = 64;  // frames read from one TAP per turn

struct RelayOptions {
    std::string tap_a, tap_b, netns_a, netns_b;
    app::PathFlags path;
    std::optional<app::FaultSpec> faults;
    std::optional<std::uint64_t> seed;
    std::size_t mtu = 1500;
    bool stats = false;
};

[[noreturn]] void usage_error(const std::string& message) {
    std::cerr << "tcpip-relay: " << message << " (try --help)\n";
    std::exit(2);
}

RelayOptions parse(int argc, char** argv) {
    RelayOptions o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage_error("option " + arg + " needs a value");
            return argv[++i];
        };
        auto check = [&](const std::string& error) {
            if (!error.empty()) usage_error(arg + ": " + error);
        };
        if (arg == "--help" || arg == "-h") {
            std::cout << kUsage;
            std::exit(0);
        } else if (arg == "--tap-a" || arg == "--tap-b") {
            std::string name = value();
            if (name.empty() || name.size() > 15) usage_error(arg + ": interface name must be 1 to 15 characters");
            (arg == "--tap-a" ? o.tap_a : o.tap_b) = name;
        } else if (arg == "--netns-a" || arg == "--netns-b") {
            std::string name = value();
            if (name.empty() || name.find('/') != std::string::npos) usage_error(arg + ": not a namespace name");
            (arg == "--netns-a" ? o.netns_a : o.netns_b) = name;
        } else if (arg == "--loss" || arg == "--reorder" || arg == "--duplicate") {
            double p = 0;
            check(app::parse_percent(value(), p));
            (arg == "--loss" ? o.path.loss : arg == "--reorder" ? o.path.reorder : o.path.duplicate) = p;
        } else if (arg == "--delay") {
            Duration delay;
            check(app::parse_delay(value(), delay, o.path.jitter));
            o.path.delay = delay;
        } else if (arg == "--rate") {
            std::uint64_t rate = 0;
            check(app::parse_rate_mbit(value(), rate));
            o.path.rate_bytes_per_second = rate;
        } else if (arg == "--faults") {
            const std::string text = value();
            if (text.find("direction=") != std::string::npos) {
                usage_error("--faults: direction= does not apply here: the relay puts the same faults on each direction");
            }
            app::FaultSpec spec;
            check(app::parse_faults(text, spec));
            o.faults = spec;
        } else if (arg == "--seed") {
            long long n = 0;
            check(app::parse_int(value(), 0, 1'000'000'000'000'000LL, n));
            o.seed = static_cast<std::uint64_t>(n);
        } else if (arg == "--mtu") {
            long long n = 0;
            check(app::parse_int(value(), 576, 9000, n));
            o.mtu = static_cast<std::size_t>(n);
        } else if (arg == "--stats") {
            o.stats = true;
        } else {
            usage_error("unknown argument '" + arg + "'");
        }
    }
    if (o.tap_a.empty() || o.tap_b.empty()) usage_error("--tap-a and --tap-b are both needed");
    if (o.tap_a == o.tap_b && o.netns_a == o.netns_b) usage_error("--tap-a and --tap-b name the same TAP");
    return o;
}

// Opens the TAP `name` with the calling thread in namespace `netns` (if not empty), then returns
// the thread to its own namespace. On failure prints the reason and exits with 1.
TapDevice open_tap(const std::string& name, const std::string& netns, std::size_t mtu) {
    auto die = [&](const std::string& why) {
        std::cerr << "tcpip-relay: " << why << "\n";
        std::exit(1);
    };
    UniqueFd home, target;
    if (!netns.empty()) {
        home = UniqueFd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
        target = UniqueFd(::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC));
        if (!home || !target) die("network namespace '" + netns + "': " + std::strerror(errno));
        if (::setns(target.get(), CLONE_NEWNET) != 0) die("setns into '" + netns + "': " + std::strerror(errno));
    }
    // The MAC is what our stack would use as its source; the relay forwards frames as they are.
    auto tap = TapDevice::open(name, MacAddress({0x02, 0x72, 0x65, 0x6c, 0x61, 0x79}), TapOptions{.mtu = mtu});
    if (home && ::setns(home.get(), CLONE_NEWNET) != 0) {
        std::cerr << "tcpip-relay: cannot return to the original namespace: " << std::strerror(errno) << "\n";
        std::abort();  // opening the second TAP in the wrong namespace would be worse
    }
    if (!tap) die(tap.error().message());
    return std::move(*tap);
}

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop(int) { g_stop = 1; }

std::string describe(const LinkFaults& f) {
    std::ostringstream os;
    os << "loss " << f.drop * 100 << "%, delay " << f.delay.total_micros() / 1000.0 << " ms";
    if (f.jitter > Duration::zero()) os << " (+ up to " << f.jitter.total_micros() / 1000.0 << " ms)";
    if (f.rate_bytes_per_second != 0) os << ", rate " << f.rate_bytes_per_second / 125000.0 << " Mbit/s";
    if (f.reorder > 0) os << ", reorder " << f.reorder * 100 << "%";
    if (f.duplicate > 0) os << ", duplicate " << f.duplicate * 100 << "%";
    if (f.corrupt > 0) os << ", corrupt " << f.corrupt * 100 << "%";
    os << " each way";
    return os.str();
}

}  // namespace

int main(int argc, char** argv) {
    const RelayOptions o = parse(argc, argv);

    // The same faults both ways: --faults (its tx lane) with the path flags over it.
    app::FaultSpec spec = o.faults.value_or(app::FaultSpec{});
    LinkFaults faults = spec.config.tx;
    o.path.apply(faults);
    std::uint64_t seed_state = o.seed.value_or(spec.seed);
    const std::uint64_t seed_ab = FaultRng::splitmix64(seed_state);
    const std::uint64_t seed_ba = FaultRng::splitmix64(seed_state);

    TapDevice tap_a = open_tap(o.tap_a, o.netns_a, o.mtu);
    TapDevice tap_b = open_tap(o.tap_b, o.netns_b, o.mtu);
    // Each injector wraps the TAP its direction writes to, and applies the faults on transmit.
    FaultInjector a_to_b(tap_b, FaultConfig::tx_only(faults), seed_ab);
    FaultInjector b_to_a(tap_a, FaultConfig::tx_only(faults), seed_ba);

    // SIGINT and SIGTERM are blocked except inside ppoll, so one that arrives between the check
    // of g_stop and the wait still ends the wait (no lost wake-up).
    struct sigaction action {};
    action.sa_handler = on_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    sigset_t stop_signals, wait_mask;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop_signals, &wait_mask);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);

    std::cout << "tcpip-relay: relaying " << o.tap_a << (o.netns_a.empty() ? "" : " in " + o.netns_a) << " <-> "
              << o.tap_b << (o.netns_b.empty() ? "" : " in " + o.netns_b) << ", mtu " << o.mtu << ": "
              << describe(faults) << std::endl;

    SystemClock clock;
    PacketPool pool;
    std::vector<Packet> batch;
    batch.reserve(kBatch);
    // One turn: read a batch from a TAP and hand each frame to the other direction's injector,
    // which sends it at once or keeps it until it is due. Returns how many frames it read.
    auto relay = [&](TapDevice& from, FaultInjector& to, Instant now) {
        batch.clear();
        const std::size_t n = from.receive(now, pool, batch, kBatch);
        for (Packet& frame : batch) (void)to.transmit(now, std::move(frame));  // refusals are counted
        batch.clear();
        return n;
    };

    while (!g_stop) {
        Instant now = clock.now();
        const std::size_t read = relay(tap_a, a_to_b, now) + relay(tap_b, b_to_a, now);
        a_to_b.flush(now);
        b_to_a.flush(now);
        if (read != 0) continue;  // more may be waiting: read again before sleeping

        // Sleep until a TAP has a frame, or the next held frame is due (to the microsecond).
        std::optional<Instant> due;
        for (auto t : {a_to_b.poll_at(), b_to_a.poll_at()}) {
            if (t && (!due || *t < *due)) due = t;
        }
        timespec timeout{};
        timespec* timeout_ptr = nullptr;
        if (due) {
            const std::int64_t us = std::max<std::int64_t>(0, (*due - clock.now()).total_micros());
            timeout.tv_sec = static_cast<time_t>(us / 1'000'000);
            timeout.tv_nsec = static_cast<long>(us % 1'000'000) * 1000;
            timeout_ptr = &timeout;
        }
        pollfd fds[2] = {{tap_a.wait_fd(), POLLIN, 0}, {tap_b.wait_fd(), POLLIN, 0}};
        if (::ppoll(fds, 2, timeout_ptr, &wait_mask) < 0 && errno != EINTR) {
            std::cerr << "tcpip-relay: ppoll: " << std::strerror(errno) << "\n";
            return 1;
        }
    }

    if (o.stats) {
        print_stats(std::cout, "a_to_b", a_to_b.tx_stats());
        print_stats(std::cout, "b_to_a", b_to_a.tx_stats());
        print_stats(std::cout, "tap_a", tap_a.stats());
        print_stats(std::cout, "tap_b", tap_b.stats());
    }
    return 0;
}
