// Interop test fixture: a fresh Linux network namespace with a TAP whose fd our process holds, so
// a test can talk to the real Linux kernel over a private virtual cable and leave nothing behind.
//
//     TCPIP_REQUIRE_INTEROP();                      // skip (or fail under CI=true) without root/tun
//     auto env = NetnsTap::create();                // namespace tcpip-<pid>-<n>, TAP "tap0" inside
//     ASSERT_TRUE(env) << env.error();
//     TapDevice& tap = (*env)->tap();               // our end: read/write frames
//     (*env)->exec({"ping", "-c1", "-W1", "10.x.y.2"});   // the kernel's end, inside the namespace
//
// How the TAP gets into the namespace: `ip netns add NAME` creates the namespace (bind-mounted at
// /run/netns/NAME). We then move the calling *thread* into it with setns(fd, CLONE_NEWNET) (for
// network namespaces setns affects only the calling thread, see setns(2)), call TapDevice::open
// there, which makes the TAP inside the namespace, and move the thread back to the namespace it
// came from (kept open as /proc/thread-self/ns/net). The TAP fd stays bound to its interface
// whatever namespace our thread is in, so the rest of the test runs in the original namespace.
// The kernel side is configured with `ip -n NAME ...`: 10.x.y.1/24 on the TAP (x, y derived from
// the pid and a counter), link up, lo up, IPv6 off (no router solicitations or MLD reports to
// filter out).
//
// Teardown: the destructor closes the TAP and runs `ip netns del`, also when the test failed.
// Live namespaces are registered, and handlers for SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGABRT
// (installed when the first namespace is created) and an atexit hook remove the registered ones
// with async-signal-safe calls (umount2 + unlink of /run/netns/NAME, which is what `ip netns del`
// does); the namespace and its TAP then vanish when the process exits. Only SIGKILL can leave a
// namespace behind: `ip netns list | grep tcpip-` and `ip netns del` clean up by hand.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drivers/tap_device.h"
#include "drivers/unique_fd.h"
#include "stack/core/address.h"
#include "stack/core/result.h"
#include "stack/core/time.h"

namespace tcpip::interop {

// Why interop tests cannot run on this machine (not root, no /dev/net/tun, no `ip`), or nullopt.
std::optional<std::string> unavailable_reason();
// True when the environment variable CI is "true": missing prerequisites are failures there.
bool running_in_ci();

// In a TEST body: skips with the reason when interop tests cannot run here, but fails under
// CI=true, where they must run.
#define TCPIP_REQUIRE_INTEROP()                                                                    \
    do {                                                                                           \
        if (auto tcpip_reason_ = ::tcpip::interop::unavailable_reason()) {                         \
            if (::tcpip::interop::running_in_ci()) {                                               \
                FAIL() << *tcpip_reason_ << " (CI=true: interop tests must run here)";             \
            } else {                                                                               \
                GTEST_SKIP() << *tcpip_reason_;                                                    \
            }                                                                                      \
        }                                                                                          \
    } while (0)

struct CommandResult {
    int exit_code = -1;     // the exit status, or 128 + signal if it was killed
    bool timed_out = false; // killed because it ran past its timeout
    std::string output;     // stdout and stderr, interleaved
    bool ok() const { return exit_code == 0 && !timed_out; }
};

// Runs argv (PATH lookup, no shell) with stdin from /dev/null, capturing its output; kills it (by
// its pid) if it runs longer than `timeout`.
CommandResult run_command(const std::vector<std::string>& argv, Duration timeout = Duration::seconds(10));

// A command running in the background, killed (SIGTERM, then SIGKILL) and reaped on destruction.
class BackgroundCommand {
public:
    static Result<BackgroundCommand, std::string> start(const std::vector<std::string>& argv);
    BackgroundCommand(BackgroundCommand&& other) noexcept;
    BackgroundCommand& operator=(BackgroundCommand&&) = delete;
    ~BackgroundCommand();
    // Waits up to `timeout` for it to exit on its own; then kills it. Returns its output.
    CommandResult wait(Duration timeout);
    // Asks it to stop (SIGTERM), waits up to `grace` for it to exit (then kills it), and returns
    // its output: the demo apps print their statistics on SIGTERM.
    CommandResult stop(Duration grace = Duration::seconds(5));
    int pid() const { return pid_; }

private:
    BackgroundCommand(int pid, UniqueFd output) : pid_(pid), output_(std::move(output)) {}
    int pid_ = -1;
    UniqueFd output_;
};

// While alive, the calling thread is in the network namespace `ns_fd`; back where it was after.
// If returning fails the process aborts: carrying on in the wrong namespace would make later
// tests create interfaces in the wrong place.
class ScopedNetns {
public:
    explicit ScopedNetns(int ns_fd);
    ~ScopedNetns();
    ScopedNetns(const ScopedNetns&) = delete;
    ScopedNetns& operator=(const ScopedNetns&) = delete;
    bool entered() const { return entered_; }
    const std::string& error() const { return error_; }

private:
    UniqueFd original_;
    bool entered_ = false;
    std::string error_;
};

struct NetnsTapOptions {
    std::string tap_name = "tap0";  // inside the namespace, so it cannot clash with the host's
    MacAddress mac = MacAddress({0x02, 0x00, 0x00, 0x00, 0x00, 0x02});  // our stack's MAC
    std::size_t mtu = 1500;
    bool disable_ipv6 = true;
    // false: make a persistent TAP (`ip tuntap add`) and leave it unopened, for a demo app started
    // inside the namespace to attach to; tap() must not be used then.
    bool attach = true;
    // With attach = false: the TAP is made multiqueue (`ip tuntap add ... multi_queue`), for an app
    // started with --queues N (drivers/shard_device.h).
    bool multi_queue = false;
};

class NetnsTap {
public:
    // Creates the namespace, the TAP inside it, and configures the kernel side. On failure
    // everything made so far is removed and the error says which step failed.
    static Result<std::unique_ptr<NetnsTap>, std::string> create(NetnsTapOptions options = {});
    ~NetnsTap();
    NetnsTap(const NetnsTap&) = delete;
    NetnsTap& operator=(const NetnsTap&) = delete;

    const std::string& netns() const { return netns_; }
    const std::string& tap_name() const { return options_.tap_name; }
    TapDevice& tap() { return *tap_; }  // only with options.attach
    int netns_fd() const { return ns_fd_.get(); }

    Ipv4Cidr kernel_address() const { return {Ipv4Address(subnet_base_.to_u32() + 1), 24}; }  // 10.x.y.1/24 on the TAP
    Ipv4Address our_address() const { return Ipv4Address(subnet_base_.to_u32() + 2); }  // for our stack
    Ipv4Address spare_address() const { return Ipv4Address(subnet_base_.to_u32() + 3); } // nobody's
    // The kernel interface's MAC (not ours), read from sysfs inside the namespace.
    Result<MacAddress, std::string> kernel_mac() const;
    // A counter of the kernel interface, /sys/class/net/<tap>/statistics/<name>.
    Result<std::uint64_t, std::string> kernel_counter(const std::string& name) const;

    // Runs a command inside the namespace (`ip netns exec NAME argv...`).
    CommandResult exec(const std::vector<std::string>& argv, Duration timeout = Duration::seconds(10)) const;
    Result<BackgroundCommand, std::string> exec_background(const std::vector<std::string>& argv) const;

    // Waits until a kernel socket in the namespace listens on TCP `port` or is bound to UDP `port`
    // (what `ss -ln` lists), checking every 20 ms for at most `timeout`; false if it never did.
    // A server started with exec_background is not there yet when that call returns, and on a
    // busy machine (or under ASan) it may take longer than any fixed sleep: a client that starts
    // at once meets a RST or an ICMP port unreachable. Wait for this instead of sleeping.
    enum class Transport { Tcp, Udp };
    bool wait_for_port(Transport transport, std::uint16_t port, Duration timeout = Duration::seconds(10)) const;

    // Runs f() with the calling thread inside the namespace (e.g. to call TapDevice::open there);
    // f must return a value. The error is set only if entering the namespace failed.
    template <class F>
    auto inside(F&& f) const -> Result<decltype(f()), std::string> {
        ScopedNetns in(ns_fd_.get());
        if (!in.entered()) return Unexpected(in.error());
        return f();
    }

private:
    NetnsTap() = default;
    std::vector<std::string> ns_prefix(const std::vector<std::string>& argv) const;

    NetnsTapOptions options_;
    std::string netns_;
    int registry_slot_ = -1;
    UniqueFd ns_fd_;
    Ipv4Address subnet_base_;
    std::optional<TapDevice> tap_;
};

}  // namespace tcpip::interop
