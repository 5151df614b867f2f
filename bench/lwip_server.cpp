// lwip-server: lwIP (Debian's liblwip, 2.1.3) on a TAP, the third subject of bench/e2e.sh beside
// our stack and the kernel. It is measured by the same clients as our stack's apps:
//
//   lwip-server --tap NAME --ip A.B.C.D/LEN [--echo-port P] [--echo-ports N] [--iperf-port P]
//
//   echo    (port 7 by default)      every byte received goes back on its connection, as
//                                    apps/tcpip-echo does: bench/tcp-rr rr and crr run against it;
//                                    with --echo-ports N on N consecutive ports from P (for
//                                    tcp-rr crr ... PORTS: lwIP has no TCP timestamps, see tcp_rr.cpp)
//   iperf3  (port 5201 by default)   enough of iperf3's server protocol for one TCP test at a time
//                                    (forward or -R, any number of streams): iperf3 -c runs
//                                    against it as against apps/tcpip-perf -s
//
// It prints "ready" when it listens, and its counters when SIGTERM or SIGINT stops it.
//
// How lwIP is driven. The program uses lwIP's raw API only (callbacks on tcp_pcb, no netconn and
// no sockets) from one thread: a main loop that waits for a frame with poll() until lwIP's next
// timer is due (sys_timeouts_sleeptime), hands each frame to netif_input, then runs the due timers
// (sys_check_timeouts). This is lwIP's NO_SYS main loop. Debian builds its library with NO_SYS 0
// (it serves the Hurd's TCP/IP translator), but lwip_init() and the raw API work the same without
// the tcpip thread: we never call tcpip_init(), so no thread is started and the core-locking check
// (sys_check_core_locking) has no tcpip thread to compare with. The device is our own TAP
// read/write loop rather than the unix port's tapif (which the package also ships): tapif starts a
// thread of its own when NO_SYS is 0 and configures the interface with ifconfig.
//
// Memory: a received frame is read straight into a pbuf from lwIP's heap (one copy, the TAP's
// read; read_frames says why not from PBUF_POOL); the echo copies the answer into lwIP's send
// buffer (tcp_write with COPY), the iperf3 source writes from one static block. Nothing else is
// allocated per packet. Debian's lwipopts.h sets MEM_LIBC_MALLOC and MEMP_MEM_MALLOC, so lwIP's
// heap and pools are malloc() underneath: that is the library as packaged (bench/README.md).
//
// lwIP's options are compiled into the library (/usr/include/lwip/lwipopts.h, the one header that
// must match it): TCP_MSS 1460, TCP_WND 65535 with window scaling (shift 1), TCP_SND_BUF =
// TCP_WND, TCP_SND_QUEUELEN from opt.h (4 x TCP_SND_BUF / TCP_MSS), LWIP_CHECKSUM_ON_COPY, no
// statistics. bench/README.md compares them with lwIP's own throughput advice.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/perf/iperf_protocol.h"

extern "C" {
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
}

namespace {

// ---- Command line ----

struct Options {
    std::string tap;
    ip4_addr_t ip{}, netmask{};
    std::uint16_t echo_port = 7;
    std::uint16_t echo_ports = 1;
    std::uint16_t iperf_port = 5201;
};

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr,
                 "lwip-server: %s (usage: lwip-server --tap NAME --ip A.B.C.D/LEN [--echo-port P] [--echo-ports N] "
                 "[--iperf-port P])\n",
                 message.c_str());
    std::exit(2);
}

std::uint16_t parse_port(const char* text) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 1 || v > 65535) {
        usage_error(std::string("bad port '") + text + "'");
    }
    return static_cast<std::uint16_t>(v);
}

void parse_address(const std::string& text, Options& options) {
    const auto slash = text.find('/');
    if (slash == std::string::npos) usage_error("--ip needs A.B.C.D/LEN, got '" + text + "'");
    const std::string address = text.substr(0, slash);
    const std::string length = text.substr(slash + 1);
    char* end = nullptr;
    const long len = std::strtol(length.c_str(), &end, 10);
    in_addr parsed{};  // inet_pton takes only the dotted quad (ip4addr_aton would take "1.2.3" too)
    if (inet_pton(AF_INET, address.c_str(), &parsed) != 1 || length.empty() || *end != '\0' || len < 1 || len > 32) {
        usage_error("bad --ip '" + text + "'");
    }
    ip4_addr_set_u32(&options.ip, parsed.s_addr);
    const std::uint32_t mask = len == 32 ? 0xffffffffU : ~(0xffffffffU >> len);
    ip4_addr_set_u32(&options.netmask, lwip_htonl(mask));
}

Options parse_options(int argc, char** argv) {
    Options options;
    bool have_ip = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) usage_error("'" + arg + "' needs a value, or is unknown");
        const char* value = argv[++i];
        if (arg == "--tap") {
            options.tap = value;
            if (options.tap.empty() || options.tap.size() >= IFNAMSIZ) usage_error("bad --tap name");
        } else if (arg == "--ip") {
            parse_address(value, options);
            have_ip = true;
        } else if (arg == "--echo-port") {
            options.echo_port = parse_port(value);
        } else if (arg == "--echo-ports") {
            const std::string count = value;
            if (count.find_first_not_of("0123456789") != std::string::npos || count.empty() || count.size() > 4 ||
                std::stoi(count) < 1 || std::stoi(count) > 1024) {
                usage_error("bad --echo-ports '" + count + "' (1 to 1024)");
            }
            options.echo_ports = static_cast<std::uint16_t>(std::stoi(count));
        } else if (arg == "--iperf-port") {
            options.iperf_port = parse_port(value);
        } else {
            usage_error("unknown argument '" + arg + "'");
        }
    }
    if (options.tap.empty() || !have_ip) usage_error("--tap and --ip are required");
    const int last_echo_port = options.echo_port + options.echo_ports - 1;
    if (last_echo_port > 65535) usage_error("--echo-port + --echo-ports - 1 is beyond 65535");
    if (options.iperf_port >= options.echo_port && options.iperf_port <= last_echo_port) {
        usage_error("--iperf-port is one of the echo ports");
    }
    return options;
}

// ---- Counters, printed when the program stops ----

struct Counters {
    std::uint64_t frames_in = 0, frames_out = 0, tap_write_errors = 0;
    std::uint64_t echo_connections = 0, echo_bytes = 0, echo_refused = 0;
    std::uint64_t iperf_tests = 0, iperf_rejected = 0;
};
Counters counters;

// ---- The TAP, as an lwIP netif ----

constexpr std::uint16_t kMtu = 1500;
constexpr std::uint16_t kMaxFrame = kMtu + 14;  // Ethernet header, no FCS and no VLAN tag on a TAP
// Frames read per wake-up before lwIP's timers get a turn.
constexpr int kReadBatch = 64;

int tap_fd = -1;

int open_tap(const std::string& name) {
    const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        std::perror("lwip-server: /dev/net/tun");
        std::exit(1);
    }
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;  // plain Ethernet frames: no offloads, no packet-info header
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
        std::fprintf(stderr, "lwip-server: TUNSETIFF %s: %s\n", name.c_str(), std::strerror(errno));
        std::exit(1);
    }
    return fd;
}

// netif->linkoutput: one frame, which may be a pbuf chain, in one writev.
err_t tap_linkoutput(netif*, pbuf* frame) {
    std::array<iovec, 16> iov{};
    std::size_t n = 0;
    for (pbuf* q = frame; q != nullptr && n < iov.size(); q = q->next) {
        iov[n++] = iovec{q->payload, q->len};
    }
    if (::writev(tap_fd, iov.data(), static_cast<int>(n)) < 0) {
        ++counters.tap_write_errors;  // the kernel's queue is full: a lost frame, as on a wire
        return ERR_IF;
    }
    ++counters.frames_out;
    return ERR_OK;
}

err_t tap_netif_init(netif* nif) {
    nif->name[0] = 't';
    nif->name[1] = 'p';
    nif->output = etharp_output;
    nif->linkoutput = tap_linkoutput;
    nif->mtu = kMtu;
    nif->hwaddr_len = ETH_HWADDR_LEN;
    const std::array<std::uint8_t, 6> mac = {0x02, 0x00, 0x00, 0x4c, 0x77, 0x01};  // locally administered
    std::memcpy(nif->hwaddr, mac.data(), mac.size());
    nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    return ERR_OK;
}

// Reads up to kReadBatch frames, each straight into a pbuf, and gives them to lwIP. A pbuf that got
// no frame (EAGAIN) is kept for the next call.
//
// The pbufs come from lwIP's heap (PBUF_RAM, one block of kMaxFrame bytes), not from PBUF_POOL, which
// is what a driver would normally use: in Debian's build the pool's blocks are 616 bytes (a 592-byte
// buffer, the size for TCP_MSS 536) while pbuf_alloc(PBUF_POOL) hands them out as 1536-byte buffers
// (the size for TCP_MSS 1460), so a full frame read into one overruns the heap block. With
// MEM_LIBC_MALLOC and MEMP_MEM_MALLOC both are malloc() underneath, so the cost is the same.
pbuf* spare = nullptr;

void read_frames(netif* nif) {
    for (int i = 0; i < kReadBatch; ++i) {
        if (spare == nullptr) {
            spare = pbuf_alloc(PBUF_RAW, kMaxFrame, PBUF_RAM);
            if (spare == nullptr) return;  // out of memory: leave the frames in the TAP's queue
        }
        const ssize_t got = ::read(tap_fd, spare->payload, spare->len);
        if (got <= 0) return;  // EAGAIN: the queue is empty
        ++counters.frames_in;
        pbuf* frame = spare;
        spare = nullptr;
        pbuf_realloc(frame, static_cast<u16_t>(got));
        if (nif->input(frame, nif) != ERR_OK) pbuf_free(frame);
    }
}

// ---- Echo ----

// Echoes a received pbuf if the send buffer has room for all of it; otherwise refuses it (lwIP keeps
// it and offers it again when the send buffer has drained), so the answer is never cut.
err_t echo_recv(void*, tcp_pcb* pcb, pbuf* p, err_t err) {
    if (p == nullptr || err != ERR_OK) {  // the peer closed: close our side too
        if (p != nullptr) pbuf_free(p);
        tcp_recv(pcb, nullptr);
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
            return ERR_ABRT;
        }
        return ERR_OK;
    }
    if (p->tot_len > tcp_sndbuf(pcb) || tcp_sndqueuelen(pcb) + pbuf_clen(p) > TCP_SND_QUEUELEN) {
        ++counters.echo_refused;
        return ERR_MEM;
    }
    for (pbuf* q = p; q != nullptr; q = q->next) {
        const u8_t more = q->next != nullptr ? TCP_WRITE_FLAG_MORE : 0;
        if (tcp_write(pcb, q->payload, q->len, TCP_WRITE_FLAG_COPY | more) != ERR_OK) break;
    }
    counters.echo_bytes += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    tcp_output(pcb);
    return ERR_OK;
}

err_t echo_accept(void*, tcp_pcb* pcb, err_t err) {
    if (err != ERR_OK || pcb == nullptr) return ERR_VAL;
    ++counters.echo_connections;
    tcp_nagle_disable(pcb);  // as tcpip-echo and the kernel's tcp-rr server answer: at once
    tcp_recv(pcb, echo_recv);
    return ERR_OK;
}

// ---- iperf3 ----
// The control protocol, as iperf3 3.x speaks it (apps/perf/iperf_protocol.h describes it step by
// step): cookie, PARAM_EXCHANGE, parameters, CREATE_STREAMS, the data connections (each first sends
// the cookie), TEST_START and TEST_RUNNING, data, TEST_END, EXCHANGE_RESULTS, the client's results,
// ours, DISPLAY_RESULTS, IPERF_DONE.

// The states, the cookie's size and the bounds are iperf3's, from the project's one description of
// its protocol (apps/perf/iperf_protocol.h).
namespace iperf = tcpip::perf::iperf;
using iperf::State;
using iperf::kCookieSize;
using iperf::kMaxStreams;
constexpr std::uint32_t kMaxJson = iperf::kMaxResultsJson;

// What the server expects next on the control connection.
enum class ControlStep { Cookie, ParamsLength, Params, Streams, Running, ResultsLength, Results, Done };

struct Stream {
    tcp_pcb* pcb = nullptr;
    std::string cookie;  // until its 37 bytes are in
    bool joined = false;
    std::uint64_t bytes = 0;
};

// A connection to the iperf3 port, before we know whether it is a control or a data connection.
struct Connection {
    tcp_pcb* pcb = nullptr;
    std::string cookie;
};

struct IperfTest {
    tcp_pcb* control = nullptr;
    ControlStep step = ControlStep::Cookie;
    std::string cookie;
    std::string buffer;  // a length prefix or a JSON message being gathered
    std::uint32_t want = 0;
    bool reverse = false;
    int parallel = 1;
    std::vector<Stream*> streams;
    std::chrono::steady_clock::time_point start, end;
    rusage usage_start{}, usage_end{};
};
IperfTest* test = nullptr;  // the test in progress, if any

// One block, written again and again by a sending stream (-R).
std::array<std::uint8_t, 65535> source_block{};

void control_send(const void* data, std::size_t length) {
    if (test == nullptr || test->control == nullptr) return;
    if (tcp_write(test->control, data, static_cast<u16_t>(length), TCP_WRITE_FLAG_COPY) == ERR_OK) {
        tcp_output(test->control);
    }
}

void control_state(State state) {
    const std::uint8_t byte = iperf::state_byte(state);
    control_send(&byte, 1);
}

void detach(tcp_pcb* pcb) {
    tcp_arg(pcb, nullptr);
    tcp_recv(pcb, nullptr);
    tcp_sent(pcb, nullptr);
    tcp_err(pcb, nullptr);
}

void close_pcb(tcp_pcb* pcb) {
    detach(pcb);
    if (tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
}

// Ends the test: closes every connection still open and forgets it.
void end_test() {
    if (test == nullptr) return;
    for (Stream* s : test->streams) {
        if (s->pcb != nullptr) close_pcb(s->pcb);
        delete s;
    }
    if (test->control != nullptr) close_pcb(test->control);
    delete test;
    test = nullptr;
}

// A sending stream (-R): fill lwIP's send buffer from the static block.
void fill(Stream* s) {
    while (test != nullptr && test->step == ControlStep::Running && s->pcb != nullptr) {
        const auto room = static_cast<std::size_t>(tcp_sndbuf(s->pcb));
        if (room < TCP_MSS || tcp_sndqueuelen(s->pcb) >= TCP_SND_QUEUELEN - 4) break;
        const auto length = static_cast<u16_t>(std::min(room, source_block.size()));
        if (tcp_write(s->pcb, source_block.data(), length, TCP_WRITE_FLAG_MORE) != ERR_OK) break;
        s->bytes += length;
    }
    if (s->pcb != nullptr) tcp_output(s->pcb);
}

err_t stream_sent(void* arg, tcp_pcb*, u16_t) {
    fill(static_cast<Stream*>(arg));
    return ERR_OK;
}

err_t stream_recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t) {
    auto* s = static_cast<Stream*>(arg);
    if (p == nullptr) {  // the client closed the stream
        close_pcb(pcb);
        s->pcb = nullptr;
        return ERR_OK;
    }
    if (test != nullptr && test->step == ControlStep::Running) s->bytes += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

void stream_err(void* arg, err_t) { static_cast<Stream*>(arg)->pcb = nullptr; }  // lwIP freed the pcb

void start_running() {
    test->step = ControlStep::Running;
    test->start = std::chrono::steady_clock::now();
    getrusage(RUSAGE_SELF, &test->usage_start);
    control_state(State::TestStart);
    control_state(State::TestRunning);
    if (test->reverse) {
        for (Stream* s : test->streams) fill(s);
    }
}

double seconds_of(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }

// Our results: the bytes each stream received (or sent, with -R), our CPU use over the test.
std::string results_json() {
    const double wall = std::chrono::duration<double>(test->end - test->start).count();
    const double user = seconds_of(test->usage_end.ru_utime) - seconds_of(test->usage_start.ru_utime);
    const double system = seconds_of(test->usage_end.ru_stime) - seconds_of(test->usage_start.ru_stime);
    const double percent = wall > 0 ? 100.0 / wall : 0.0;
    nlohmann::json streams = nlohmann::json::array();
    for (std::size_t i = 0; i < test->streams.size(); ++i) {
        streams.push_back({{"id", i == 0 ? 1 : static_cast<int>(i) + 2},  // iperf3 numbers them 1, 3, 4, ...
                           {"bytes", test->streams[i]->bytes},
                           {"retransmits", -1},  // lwIP keeps no count outside its statistics (off)
                           {"jitter", 0},
                           {"errors", 0},
                           {"packets", 0},
                           {"start_time", 0},
                           {"end_time", wall}});
    }
    const nlohmann::json j = {{"cpu_util_total", (user + system) * percent},
                              {"cpu_util_user", user * percent},
                              {"cpu_util_system", system * percent},
                              {"sender_has_retransmits", -1},
                              {"streams", streams}};
    return j.dump();
}

void send_json(const std::string& text) {
    const auto n = static_cast<std::uint32_t>(text.size());
    const std::array<std::uint8_t, 4> length = {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                                                static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
    control_send(length.data(), length.size());
    for (std::size_t at = 0; at < text.size(); at += 0xffff) {
        control_send(text.data() + at, std::min<std::size_t>(0xffff, text.size() - at));
    }
}

void server_error(std::int32_t iperf_errno) {
    control_state(State::ServerError);
    const auto e = static_cast<std::uint32_t>(iperf_errno);
    const std::array<std::uint8_t, 8> codes = {static_cast<std::uint8_t>(e >> 24), static_cast<std::uint8_t>(e >> 16),
                                               static_cast<std::uint8_t>(e >> 8), static_cast<std::uint8_t>(e), 0, 0, 0, 0};
    control_send(codes.data(), codes.size());
}

// The client's parameters: TCP only; "reverse" and "parallel" are what this server needs.
bool take_params(const std::string& text) {
    const nlohmann::json params = nlohmann::json::parse(text, nullptr, false);
    if (!params.is_object() || params.contains("udp") || params.contains("sctp") || params.contains("bidirectional")) {
        server_error(13);  // IEUNIMP: "not implemented yet"
        return false;
    }
    test->reverse = params.contains("reverse");
    if (params.contains("parallel") && params["parallel"].is_number_integer()) {
        test->parallel = params["parallel"].get<int>();
    }
    if (test->parallel < 1 || test->parallel > kMaxStreams) {
        server_error(114);  // IERECVPARAMS
        return false;
    }
    return true;
}

// Feeds control bytes to the protocol. Returns false when the test is over (and freed).
bool control_bytes(const std::uint8_t* data, std::size_t length) {
    for (std::size_t i = 0; i < length && test != nullptr;) {
        IperfTest& t = *test;
        switch (t.step) {
            case ControlStep::Cookie:
            case ControlStep::ParamsLength:
            case ControlStep::Params:
            case ControlStep::ResultsLength:
            case ControlStep::Results: {
                const std::size_t take = std::min<std::size_t>(t.want - t.buffer.size(), length - i);
                t.buffer.append(reinterpret_cast<const char*>(data + i), take);
                i += take;
                if (t.buffer.size() < t.want) break;
                std::string message;
                message.swap(t.buffer);
                if (t.step == ControlStep::Cookie) {
                    t.cookie = message;
                    t.step = ControlStep::ParamsLength;
                    t.want = 4;
                    control_state(State::ParamExchange);
                } else if (t.step == ControlStep::ParamsLength || t.step == ControlStep::ResultsLength) {
                    const auto* b = reinterpret_cast<const std::uint8_t*>(message.data());
                    t.want = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
                    if (t.want == 0 || t.want > kMaxJson) {
                        end_test();
                        return false;
                    }
                    t.step = t.step == ControlStep::ParamsLength ? ControlStep::Params : ControlStep::Results;
                } else if (t.step == ControlStep::Params) {
                    if (!take_params(message)) {
                        end_test();
                        return false;
                    }
                    t.step = ControlStep::Streams;
                    control_state(State::CreateStreams);
                } else {  // the client's results: read and let go; then ours
                    send_json(results_json());
                    control_state(State::DisplayResults);
                    t.step = ControlStep::Done;
                }
                break;
            }
            case ControlStep::Streams:
            case ControlStep::Running:
            case ControlStep::Done: {
                const std::optional<State> state = iperf::state_from_byte(data[i++]);
                if (state == State::TestEnd && t.step == ControlStep::Running) {
                    t.end = std::chrono::steady_clock::now();
                    getrusage(RUSAGE_SELF, &t.usage_end);
                    t.step = ControlStep::ResultsLength;
                    t.want = 4;
                    for (Stream* s : t.streams) {
                        if (s->pcb != nullptr) close_pcb(s->pcb);
                        s->pcb = nullptr;
                    }
                    control_state(State::ExchangeResults);
                } else {  // IPERF_DONE, CLIENT_TERMINATE or anything unexpected: the test is over
                    if (state == State::IperfDone) ++counters.iperf_tests;
                    end_test();
                    return false;
                }
                break;
            }
        }
    }
    return test != nullptr;
}

err_t control_recv(void*, tcp_pcb* pcb, pbuf* p, err_t) {
    if (p == nullptr) {  // the client closed the control connection: the test is over
        if (test != nullptr && test->control == pcb) {
            detach(pcb);
            test->control = nullptr;
            end_test();
            if (tcp_close(pcb) != ERR_OK) {
                tcp_abort(pcb);
                return ERR_ABRT;
            }
        }
        return ERR_OK;
    }
    tcp_recved(pcb, p->tot_len);
    for (pbuf* q = p; q != nullptr; q = q->next) {
        if (!control_bytes(static_cast<const std::uint8_t*>(q->payload), q->len)) break;
    }
    pbuf_free(p);
    return ERR_OK;
}

void control_err(void*, err_t) {
    if (test == nullptr) return;
    test->control = nullptr;  // lwIP freed it
    end_test();
}

// A new connection to the iperf3 port sends a cookie first; only then do we know what it is.
err_t pending_recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t) {
    auto* c = static_cast<Connection*>(arg);
    if (p == nullptr) {
        delete c;
        close_pcb(pcb);
        return ERR_OK;
    }
    std::string bytes(p->tot_len, '\0');
    pbuf_copy_partial(p, bytes.data(), p->tot_len, 0);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    c->cookie += bytes;
    if (c->cookie.size() < kCookieSize) return ERR_OK;
    const std::string cookie = c->cookie.substr(0, kCookieSize);
    const std::string rest = c->cookie.substr(kCookieSize);
    delete c;

    if (test == nullptr) {  // a control connection: a new test
        test = new IperfTest;
        test->control = pcb;
        test->want = kCookieSize;
        tcp_arg(pcb, nullptr);
        tcp_recv(pcb, control_recv);
        tcp_err(pcb, control_err);
        tcp_nagle_disable(pcb);
        control_bytes(reinterpret_cast<const std::uint8_t*>(cookie.data()), cookie.size());
        if (!rest.empty() && test != nullptr) control_bytes(reinterpret_cast<const std::uint8_t*>(rest.data()), rest.size());
        return ERR_OK;
    }
    if (test->step == ControlStep::Streams && cookie == test->cookie) {  // a data connection of this test
        auto* s = new Stream;
        s->pcb = pcb;
        s->bytes = 0;
        test->streams.push_back(s);
        tcp_arg(pcb, s);
        tcp_recv(pcb, stream_recv);
        tcp_sent(pcb, stream_sent);
        tcp_err(pcb, stream_err);
        if (static_cast<int>(test->streams.size()) == test->parallel) start_running();
        return ERR_OK;
    }
    // Another client while a test runs: ACCESS_DENIED, as iperf3 answers.
    ++counters.iperf_rejected;
    const std::uint8_t denied = iperf::state_byte(State::AccessDenied);
    tcp_write(pcb, &denied, 1, TCP_WRITE_FLAG_COPY);
    close_pcb(pcb);
    return ERR_OK;
}

void pending_err(void* arg, err_t) { delete static_cast<Connection*>(arg); }

err_t iperf_accept(void*, tcp_pcb* pcb, err_t err) {
    if (err != ERR_OK || pcb == nullptr) return ERR_VAL;
    auto* c = new Connection;
    c->pcb = pcb;
    tcp_arg(pcb, c);
    tcp_recv(pcb, pending_recv);
    tcp_err(pcb, pending_err);
    return ERR_OK;
}

tcp_pcb* listen_on(std::uint16_t port, tcp_accept_fn accept) {
    tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (pcb == nullptr || tcp_bind(pcb, IP4_ADDR_ANY, port) != ERR_OK) {
        std::fprintf(stderr, "lwip-server: cannot bind port %u\n", port);
        std::exit(1);
    }
    tcp_pcb* listener = tcp_listen_with_backlog(pcb, 255);
    if (listener == nullptr) {
        std::fprintf(stderr, "lwip-server: cannot listen on port %u\n", port);
        std::exit(1);
    }
    tcp_accept(listener, accept);
    return listener;
}

volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

}  // namespace

int main(int argc, char** argv) {
    const Options options = parse_options(argc, argv);
    for (std::size_t i = 0; i < source_block.size(); ++i) source_block[i] = static_cast<std::uint8_t>(i);

    struct sigaction action {};
    action.sa_handler = on_signal;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);

    tap_fd = open_tap(options.tap);
    lwip_init();
    netif nif{};
    ip4_addr_t gateway{};
    if (netif_add(&nif, &options.ip, &options.netmask, &gateway, nullptr, tap_netif_init, netif_input) == nullptr) {
        std::fprintf(stderr, "lwip-server: netif_add failed\n");
        return 1;
    }
    netif_set_default(&nif);
    netif_set_link_up(&nif);
    netif_set_up(&nif);
    for (int i = 0; i < options.echo_ports; ++i) listen_on(static_cast<std::uint16_t>(options.echo_port + i), echo_accept);
    listen_on(options.iperf_port, iperf_accept);

    std::printf("lwip-server: lwIP %s on %s at %s, echo on port %u (%u port(s)), iperf3 on port %u: ready\n",
                LWIP_VERSION_STRING, options.tap.c_str(), ip4addr_ntoa(&options.ip), options.echo_port,
                options.echo_ports, options.iperf_port);
    std::fflush(stdout);

    pollfd wait{tap_fd, POLLIN, 0};
    while (stop_requested == 0) {
        const u32_t sleep = sys_timeouts_sleeptime();
        const int timeout = sleep == SYS_TIMEOUTS_SLEEPTIME_INFINITE ? 1000 : static_cast<int>(std::min<u32_t>(sleep, 1000));
        const int ready = ::poll(&wait, 1, timeout);
        if (ready < 0 && errno != EINTR) {
            std::perror("lwip-server: poll");
            return 1;
        }
        if (ready > 0) read_frames(&nif);
        sys_check_timeouts();
    }

    std::printf("lwip-server: frames in %llu, out %llu, tap write errors %llu; echo connections %llu, bytes %llu, "
                "refused (send buffer full) %llu; iperf3 tests %llu, rejected %llu\n",
                static_cast<unsigned long long>(counters.frames_in), static_cast<unsigned long long>(counters.frames_out),
                static_cast<unsigned long long>(counters.tap_write_errors),
                static_cast<unsigned long long>(counters.echo_connections),
                static_cast<unsigned long long>(counters.echo_bytes),
                static_cast<unsigned long long>(counters.echo_refused),
                static_cast<unsigned long long>(counters.iperf_tests),
                static_cast<unsigned long long>(counters.iperf_rejected));
    return 0;
}
