// What every demo app shares: the command-line flags that say which TAP and which addresses to
// use, and the few lines that open the device, wrap it in a pcap writer if asked, build a Stack
// and run its event loop until SIGINT or SIGTERM.
//
// Shared flags:
//   --tap NAME          TAP interface to attach to (default tap0)
//   --ip ADDR/PREFIX    our address and subnet (default 10.0.0.2/24)
//   --gateway ADDR      default gateway
//   --mac MAC           our MAC address (default 02:74:63:70:00:02, locally administered)
//   --pcap FILE         capture every frame, both ways, to FILE
//   --no-offload        no IFF_VNET_HDR offloads on the TAP (plain frames, full checksums)
//   --faults SPEC       put a FaultInjector (drivers/fault_injector.h) between the stack and the
//                       TAP: SPEC is KEY=VALUE[,KEY=VALUE...], see parse_faults below
//   --max-connections N TCP connections at once (StackConfig::tcp_max_connections)
//   --syn-backlog N     half-open connections per listener (StackConfig::tcp_max_syn_backlog)
//   --ecn 0|1|2         TCP ECN with Linux's tcp_ecn meanings (StackConfig::tcp_ecn)
//   --help              usage
// A bad flag or value prints one line to stderr and exits with status 2.
//
// Both hosts raise the soft RLIMIT_NOFILE to the hard limit first: every socket of ours holds a
// kernel descriptor (an eventfd, stack/socket/runtime.cpp), so the default soft limit of 1024
// would cap a server at about a thousand connections (EMFILE from accept) long before the stack's
// own limits matter.
//
// Two ways to run the stack:
//   Host          the stack and its EventLoop on the app's own thread: for apps that use the
//                 layers directly (tcpip-ping drives ICMP from the loop's after-poll hook).
//   RuntimeHost   the stack in a tcpip::Runtime with its own thread, made the default runtime, so
//                 the app uses only the BSD-like socket API (tcpip::socket, tcpip::poll, ...) from
//                 its main thread (tcpip-echo, tcpip-nc).
#pragma once

#include <netinet/in.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <iosfwd>

#include "drivers/fault_injector.h"
#include "drivers/pcap_writer.h"
#include "drivers/tap_device.h"
#include "stack/core/clock.h"
#include "stack/event_loop.h"
#include "stack/socket/runtime.h"
#include "stack/stack.h"

namespace tcpip::app {

// What --faults asks for: the injector's faults and its seed.
struct FaultSpec {
    FaultConfig config;
    std::uint64_t seed = 1;
};

// Parses a --faults value: comma-separated KEY=VALUE pairs named after LinkFaults' fields.
//   drop=P  duplicate=P  reorder=P  corrupt=P     probabilities per frame, in [0, 1]
//   delay=MS  jitter=MS  reorder_timeout=MS       milliseconds (decimals allowed)
//   rate=BYTES_PER_S  burst=BYTES  queue_limit=N  the rate limiter (rate=0: none)
//   max_frame_size=BYTES                          larger frames are dropped (0: no limit)
//   direction=both|tx|rx                          which way the faults apply (default both)
//   seed=N                                        the generator's seed (default 1)
// A key may appear once. Returns an error message naming the bad pair, or "" and fills `out`.
std::string parse_faults(std::string_view spec, FaultSpec& out);

struct CommonOptions {
    std::string tap = "tap0";
    Ipv4Cidr ip = Ipv4Cidr{Ipv4Address(10, 0, 0, 2), 24};
    std::optional<Ipv4Address> gateway;
    MacAddress mac = MacAddress({0x02, 0x74, 0x63, 0x70, 0x00, 0x02});
    std::optional<std::string> pcap;
    bool offload = true;  // checksum and TCP segmentation offload on the TAP (drivers/tap_device.h)
    std::optional<FaultSpec> faults;
    StackConfig stack;    // the stack's tunables: defaults, except what the shared flags set
};

// A small argument parser: the shared flags, plus whatever the app adds.
class Args {
public:
    // `usage` is printed by --help, after "usage: PROGRAM ".
    Args(std::string program, std::string usage);

    // An app flag that takes a value (e.g. "-c", "--port"): the handler returns an error message,
    // or an empty string when the value is good.
    void add_option(std::vector<std::string> names, std::function<std::string(std::string_view)> handler);
    // An app flag that takes no value (e.g. "-u").
    void add_flag(std::vector<std::string> names, std::function<void()> handler);
    // Positional arguments, in order; `required` of them must be present.
    void add_positional(std::string name, bool required, std::function<std::string(std::string_view)> handler);

    // Parses argv. On a bad flag or value: one line on stderr, exit(2). On --help: usage, exit(0).
    CommonOptions parse(int argc, char** argv);

    [[noreturn]] void fail(const std::string& message) const;

private:
    struct Option {
        std::vector<std::string> names;
        std::function<std::string(std::string_view)> handler;  // takes a value
        std::function<void()> flag;                             // or, for a flag, this
    };
    struct Positional {
        std::string name;
        bool required;
        std::function<std::string(std::string_view)> handler;
    };
    std::string program_;
    std::string usage_;
    std::vector<Option> options_;
    std::vector<Positional> positionals_;
};

// Parses a decimal integer in [min, max]; returns an error message or "".
std::string parse_int(std::string_view text, long long min, long long max, long long& out);
// Parses a positive decimal number of seconds (e.g. "0.2"); returns an error message or "".
std::string parse_seconds(std::string_view text, double min, double& out);

// The TAP (opened in the calling thread's network namespace), with --faults the fault injector
// around it, and with --pcap the pcap writer around that (so the capture shows what the stack
// sent and what reached it, after the faults). On failure prints the one-line reason and exits
// with 1.
class DeviceChain {
public:
    DeviceChain(const std::string& program, const CommonOptions& options);
    NetDevice& device();
    const TapDevice& tap() const { return *tap_; }
    const FaultInjector* faults() const { return faults_.get(); }

private:
    std::unique_ptr<TapDevice> tap_;
    std::unique_ptr<FaultInjector> faults_;
    std::unique_ptr<PcapWriter> pcap_;
};

// The device chain and the Stack on top of it, ready to run.
class Host {
public:
    // Opens the TAP (and the pcap file); on failure prints the one-line reason and exits with 1.
    Host(const std::string& program, const CommonOptions& options);
    ~Host();

    Stack& stack() { return *stack_; }
    EventLoop& loop() { return *loop_; }
    const Clock& clock() const { return clock_; }

    // Stops the event loop on SIGINT and SIGTERM.
    void stop_on_signals();

private:
    SystemClock clock_;
    DeviceChain devices_;
    std::unique_ptr<Stack> stack_;
    std::unique_ptr<EventLoop> loop_;
};

// The device chain and a tcpip::Runtime over it, its stack running on its own thread, set as the
// default runtime for tcpip::socket(). SIGINT and SIGTERM are blocked in that thread, so they
// reach the app's main thread.
class RuntimeHost {
public:
    // Where the stack runs:
    //   OwnThread  a thread of its own (Runtime::start_thread): timers and frames are handled
    //              whatever the app is doing; two threads share the work of a bulk transfer.
    //   Caller     in the app's thread, inside tcpip::poll and blocking calls (run to completion:
    //              a frame, the stack's work and the app's answer without a thread hand-off; the
    //              fastest for request/response, for an app that waits in tcpip::poll).
    enum class StackThread { OwnThread, Caller };

    // Opens the TAP (and the pcap file); on failure prints the one-line reason and exits with 1.
    RuntimeHost(const std::string& program, const CommonOptions& options, StackThread mode = StackThread::OwnThread);
    ~RuntimeHost();
    RuntimeHost(const RuntimeHost&) = delete;
    RuntimeHost& operator=(const RuntimeHost&) = delete;

    Runtime& runtime() { return *runtime_; }

    // Makes SIGINT and SIGTERM write to a pipe instead of killing the process (the self-pipe
    // trick): stop_fd() is that pipe's read end, a kernel descriptor to put in tcpip::poll's set
    // beside the sockets, so a signal that arrives at any moment ends the wait without a race.
    void stop_on_signals();
    int stop_fd() const;
    bool stop_requested() const;

    // The stack's counters (as Stack::print_stats), the TAP driver's under "tap:", and with
    // --faults the injector's under "faults_tx:" and "faults_rx:".
    void print_stats(std::ostream& os);

private:
    DeviceChain devices_;
    std::unique_ptr<Runtime> runtime_;
};

// A sockaddr_in for bind/connect/sendto, from our address type.
sockaddr_in socket_address(Ipv4Address address, std::uint16_t port);

// Raises the soft limit on open descriptors (RLIMIT_NOFILE) to the hard limit; returns the soft
// limit now in force. The hosts call it; on failure it warns and carries on with the old limit.
std::uint64_t raise_open_file_limit();

// 64 random bits from the kernel (getrandom), to seed the stack's secrets.
std::uint64_t random_seed();

}  // namespace tcpip::app
