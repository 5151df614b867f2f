// What every demo app shares: the command-line flags that say which TAP and which addresses to
// use, and the few lines that open the device, wrap it in a pcap writer if asked, build a Stack
// and run its event loop until SIGINT or SIGTERM.
//
// Shared flags:
//   --tap NAME          TAP interface to attach to (default tap0); if there is none of that name
//                       the app creates it and says, in one line on stderr, the two `ip`
//                       commands that make it reachable from the kernel (created_tap_notice)
//   --ip ADDR/PREFIX    our address and subnet (default 10.0.0.2/24)
//   --gateway ADDR      default gateway
//   --mac MAC           our MAC address (default 02:74:63:70:00:02, locally administered)
//   --pcap FILE         capture every frame, both ways, to FILE, as a wire would carry it
//                       (checksums that offloads left partial are completed in the file)
//   --pcap-segment      with --pcap: TSO frames written as the MTU-sized frames a NIC sends
//   --no-offload        no IFF_VNET_HDR offloads on the TAP (plain frames, full checksums)
//   --faults SPEC       put a FaultInjector (drivers/fault_injector.h) between the stack and the
//                       TAP: SPEC is KEY=VALUE[,KEY=VALUE...], see parse_faults below
//   --loss PCT          the path flags: a FaultInjector on the TAP that behaves like a bad path,
//   --delay MS[,JITTER]   the same both ways (so --delay adds twice MS to a round trip): PCT %
//   --rate MBIT           of frames lost, duplicated or reordered, MS (+ up to JITTER) ms of
//   --reorder PCT         one-way delay, a bottleneck of MBIT Mbit/s. They set the same fields
//   --duplicate PCT       as --faults (drop, delay, jitter, rate, reorder, duplicate), over it.
//                       With faults and offloads both on, SoftwareOffload cuts 64 KiB frames
//                       into MTU-sized ones on each side of the injector (see DeviceChain).
//   --max-connections N TCP connections at once (StackConfig::tcp_max_connections)
//   --syn-backlog N     half-open connections per listener (StackConfig::tcp_max_syn_backlog)
//   --no-sack           SACK off (StackConfig::tcp_sack), as Linux's net.ipv4.tcp_sack=0
//   --no-timestamps     TCP timestamps off (StackConfig::tcp_timestamps), net.ipv4.tcp_timestamps=0
//   --no-pacing         TCP pacing off (StackConfig::tcp_pacing): data leaves as the windows allow
//   --ecn 0|1|2         TCP ECN with Linux's tcp_ecn meanings (StackConfig::tcp_ecn)
//   --trace             every frame on stdout (stderr for tcpip-nc, whose stdout is data), one line
//                       per layer with its decision (FrameTracer, stack/trace/frame_tracer.h);
//                       colour on a terminal
//   --trace-layers L    only these layers' lines, e.g. tcp,ip (implies --trace)
//   --trace-json FILE   the same events as JSON lines in FILE
//   --seed N            the seed of the stack's random choices (ISNs, ports, IP IDs); without it a
//                       random one; printed on stderr either way (tcpip-nc and tcpip-perf -J: only
//                       with --seed, a trace or a capture), so a run can be repeated
//   --help              usage
// Apps that serve on several cores (tcpip-perf -s, tcpip-httpd) add --queues N (parse_queues):
// a multiqueue TAP with one Stack shard per queue, each on its own core (drivers/shard_device.h,
// docs/layers/multiqueue.md); RuntimeHost builds the shards.
// With --pcap FILE.pcapng the capture is pcapng, each frame commented with the stack's decision.
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
#include "drivers/shard_device.h"
#include "drivers/software_offload.h"
#include "drivers/tap_device.h"
#include "stack/core/clock.h"
#include "stack/event_loop.h"
#include "stack/socket/runtime.h"
#include "stack/stack.h"
#include "stack/trace/frame_tracer.h"

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

// What the path flags (--loss, --delay, --rate, --reorder, --duplicate) ask for; unset until given.
struct PathFlags {
    std::optional<double> loss, reorder, duplicate;  // probabilities per frame, in [0, 1]
    std::optional<Duration> delay, jitter;           // one way
    std::optional<std::uint64_t> rate_bytes_per_second;

    bool any() const { return loss || reorder || duplicate || delay || jitter || rate_bytes_per_second; }
    // Sets the fields given, leaves the others as they are.
    void apply(LinkFaults& faults) const;
};

// The path flags' values, each parsed on its own; every one returns an error message or "".
//   PCT         a percentage from 0 to 100 ("0.1", "5"), stored as a probability
//   MS[,JITTER] milliseconds from 0 to 3600000 (decimals allowed), the jitter optional
//   MBIT        Mbit/s (10^6 bits per second), more than 0 and at most 1000000, stored as bytes/s
std::string parse_percent(std::string_view text, double& probability);
std::string parse_delay(std::string_view text, Duration& delay, std::optional<Duration>& jitter);
std::string parse_rate_mbit(std::string_view text, std::uint64_t& bytes_per_second);

struct CommonOptions {
    std::string tap = "tap0";
    Ipv4Cidr ip = Ipv4Cidr{Ipv4Address(10, 0, 0, 2), 24};
    std::optional<Ipv4Address> gateway;
    MacAddress mac = MacAddress({0x02, 0x74, 0x63, 0x70, 0x00, 0x02});
    std::optional<std::string> pcap;
    bool pcap_segment = false;  // --pcap-segment: cut TSO frames in the capture (PcapOptions::segment)
    bool offload = true;  // checksum and TCP segmentation offload on the TAP (drivers/tap_device.h)
    std::optional<FaultSpec> faults;  // --faults, with the path flags applied over it both ways
    StackConfig stack;    // the stack's tunables: defaults, except what the shared flags set
    bool trace = false;                     // --trace (or --trace-layers)
    bool stdout_is_data = false;            // set by the app: --trace's lines go to stderr, not stdout
    unsigned trace_layers = ~0u;            // bit 1 << TraceLayer for each layer shown
    std::optional<std::string> trace_json;  // --trace-json FILE
    std::optional<std::uint64_t> seed;      // --seed N
    std::size_t queues = 1;                 // --queues N (apps that take it): TAP queues, one Stack shard each
};

// Parses --queues: 1 up to the CPUs this process may run on (usable_cpus()); returns an error
// message or "".
std::string parse_queues(std::string_view text, std::size_t& queues);
// The CPUs this process may run on (its affinity mask, as nproc counts them), in order.
std::vector<int> usable_cpus();
// With --queues N > 1, the flags that need a single device (--pcap, --faults and the path flags,
// --trace) are refused: returns an error message or "".
std::string check_queues(const CommonOptions& options);
// Pins the calling thread to the core of the shard that owns socket `fd` (a thread that serves
// that socket: the stack's work for it runs there too). Nothing with one queue.
void pin_to_shard_of(int fd);

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

// The TAP (opened in the calling thread's network namespace), with faults (--faults or the path
// flags) the fault injector around it, and with --pcap the pcap writer around that (so the
// capture shows what the stack sent and what reached it, after the faults). On failure prints
// the one-line reason and exits with 1.
//
// Faults act on frames no larger than the MTU, as on a real link. With offloads on, the stack
// sends and the kernel hands up TCP frames of up to 64 KiB, so a SoftwareOffload on each side of
// the injector cuts them first (drivers/software_offload.h):
//
//     Stack -> [PcapWriter] -> SoftwareOffload -> FaultInjector -> SoftwareOffload -> TapDevice
//              "segmenter_tx": cuts what          each frame        "segmenter_rx": cuts what
//              the stack sends                    on its own        the kernel sends
//
// Both complete every checksum in software, as the bytes now cross a "wire" that may corrupt them.
class DeviceChain {
public:
    DeviceChain(const std::string& program, const CommonOptions& options);
    NetDevice& device();
    // With --queues N > 1: the shards' devices (queue k of the TAP under shard k), else null.
    ShardGroup* shards() { return shards_.get(); }
    const TapDevice& queue(std::size_t k) const { return k == 0 ? *tap_ : *more_queues_[k - 1]; }
    PcapWriter* pcap() { return pcap_.get(); }
    const TapDevice& tap() const { return *tap_; }
    const FaultInjector* faults() const { return faults_.get(); }
    // The two segmenters, when faults and offloads are both on (else null).
    const SoftwareOffload* segmenter_tx() const { return segmenter_tx_.get(); }
    const SoftwareOffload* segmenter_rx() const { return segmenter_rx_.get(); }

private:
    std::unique_ptr<TapDevice> tap_;
    std::unique_ptr<SoftwareOffload> segmenter_rx_;
    std::unique_ptr<FaultInjector> faults_;
    std::unique_ptr<SoftwareOffload> segmenter_tx_;
    std::unique_ptr<PcapWriter> pcap_;
    std::vector<std::unique_ptr<TapDevice>> more_queues_;  // queues 1..N-1 (queue 0 is tap_)
    std::unique_ptr<ShardGroup> shards_;
};

// What --trace, --trace-layers, --trace-json and a .pcapng capture ask for: a FrameTracer and its
// sinks (stderr, a JSON file, the capture's comments), or nothing at all (tracer() is null, and the
// stack pays nothing). Declared before the device chain and the stack in the hosts, so it outlives
// both; on failure (the JSON file) prints the one-line reason and exits with 1.
class Tracing {
public:
    Tracing(const std::string& program, const CommonOptions& options);
    ~Tracing();
    // Comments every frame of a pcapng capture (nothing for a classic pcap).
    void comment(PcapWriter* pcap);
    Tracer* tracer() { return tracer_.get(); }
    // Writes out what is not yet written (the hosts call it before the devices go).
    void flush();

private:
    class PcapComments;
    std::unique_ptr<FrameTracer> tracer_;
    std::unique_ptr<TextTraceSink> text_;
    std::unique_ptr<JsonTraceSink> json_;
    std::unique_ptr<PcapComments> pcap_;
};

// The seed for a Stack: --seed's, or random_seed(); printed on stderr ("PROGRAM: seed N"), so
// that a run can be repeated (by an app whose output is data only with --seed, a trace or a capture).
std::uint64_t stack_seed(const std::string& program, const CommonOptions& options);

// The device chain and the Stack on top of it, ready to run.
class Host {
public:
    // Opens the TAP (and the pcap file); on failure prints the one-line reason and exits with 1.
    Host(const std::string& program, const CommonOptions& options);
    ~Host();

    Stack& stack() { return *stack_; }
    EventLoop& loop() { return *loop_; }
    const Clock& clock() const { return clock_; }
    std::uint64_t seed() const { return seed_; }

    // Stops the event loop on SIGINT and SIGTERM.
    void stop_on_signals();

private:
    SystemClock clock_;
    Tracing tracing_;
    DeviceChain devices_;
    std::uint64_t seed_ = 0;
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
    // The shards (--queues N): shard k's Runtime runs its stack on queue k of the TAP, its thread
    // pinned to cpu(k). With one queue, shard 0 is runtime().
    std::size_t shard_count() const { return runtimes_.size(); }
    Runtime& shard(std::size_t k) { return *runtimes_[k]; }
    int cpu(std::size_t k) const { return cpus_[k]; }
    // Pins the calling thread to shard k's core (nothing with one queue).
    void pin_to_shard(std::size_t k) const;
    // The seed the stack was built with (--seed, or a random one): apps seed their own choices from it.
    std::uint64_t seed() const { return seed_; }

    // Makes SIGINT and SIGTERM write to a pipe instead of killing the process (the self-pipe
    // trick): stop_fd() is that pipe's read end, a kernel descriptor to put in tcpip::poll's set
    // beside the sockets, so a signal that arrives at any moment ends the wait without a race.
    void stop_on_signals();
    int stop_fd() const;
    bool stop_requested() const;

    // The stack's counters (as Stack::print_stats), the TAP driver's under "tap:", and with
    // faults the injector's under "faults_tx:" and "faults_rx:" (and the segmenters' under
    // "segmenter_tx:" and "segmenter_rx:" when offloads are on). With shards, each shard's
    // under "shard K (cpu C)", with its forwarding counters under "shard:".
    void print_stats(std::ostream& os);
    // With shards: one line per shard, "shard K: cpu C, connections N, rx_frames N, ...", the
    // connections each carried (the interop test and the benchmark read it). Nothing with one.
    void print_shard_summary(std::ostream& os);

private:
    void register_shards();    // for pin_to_shard_of
    void unregister_shards();

    Tracing tracing_;
    DeviceChain devices_;
    std::uint64_t seed_ = 0;
    std::vector<std::unique_ptr<Runtime>> runtimes_;  // one per shard; runtimes_[0] is runtime_
    std::vector<int> cpus_;                           // shard k runs on cpus_[k]
    Runtime* runtime_ = nullptr;
};

// The line an app prints when --tap named no existing TAP and opening it created one: the new TAP
// is down and has no address on the kernel's side, so nothing reaches the stack until two `ip`
// commands are run; the line gives them, with an address for the kernel in our subnet (the
// gateway if there is one, else the first host address that is not ours). E.g.
//   tcpip-echo: created TAP tap0 (down, no address; it goes away when tcpip-echo exits); to reach
//   10.0.0.2 from the kernel run: ip link set dev tap0 up; ip addr add 10.0.0.1/24 dev tap0
std::string created_tap_notice(const std::string& program, const std::string& tap, Ipv4Cidr ours,
                               std::optional<Ipv4Address> gateway);

// A sockaddr_in for bind/connect/sendto, from our address type.
sockaddr_in socket_address(Ipv4Address address, std::uint16_t port);

// Raises the soft limit on open descriptors (RLIMIT_NOFILE) to the hard limit; returns the soft
// limit now in force. The hosts call it; on failure it warns and carries on with the old limit.
std::uint64_t raise_open_file_limit();

// 64 random bits from the kernel (getrandom), to seed the stack's secrets.
std::uint64_t random_seed();

}  // namespace tcpip::app
