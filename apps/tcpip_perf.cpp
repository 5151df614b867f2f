// tcpip-perf: an iperf3-compatible throughput tester (TCP) on our stack. Stock iperf3 is its
// peer both ways.
//
//   tcpip-perf -s [-p PORT] [-1] [-i SECS] [--queues N]           server, one test after another
//   tcpip-perf -s --threads [-p PORT] [-1] [-i SECS] [-J] [--queues N]   the same, a thread per stream
//   tcpip-perf -c HOST [-p PORT] [-t SECS | -n BYTES | -k BLOCKS] [-l LEN] [-P N] [-R] [-C NAME] [-J] [-i SECS]
//   the client and both servers with --tcp-log FILE.csv: the data connections' TCP event logs
//   (stack/tcp/tcp_log.h), written when the streams close; scripts/plot_tcp.py draws them
//
// The protocol's messages are in apps/perf/iperf_protocol.h (read it first), and the server's
// side of a test, phase by phase, in apps/perf/server_session.h; this file is the socket program
// around them, written only against the BSD-like API (tcpip::socket, connect, accept, send, recv,
// poll). Two servers:
//   - the default, run to completion (apps/perf/poll_server.h, serve_run_to_completion below):
//     one thread, non-blocking sockets, one tcpip::poll loop over the listener, the control
//     connection and the data streams, and the stack runs inside that poll. A frame, the stack's
//     work and the server's recv of its data take no thread hand-off and no lock contention.
//     Its capture replays (tcpip-replay --app perf-server). --one-thread names it too (the
//     flag it had when it was not the default). With --queues N, one such loop per shard, each
//     in a thread on its shard's core (as tcpip-httpd), the test's shared state under a lock
//     taken once per pass and never while data moves (poll_server.h says how).
//   - --threads: the stack in a thread of its own; the main thread runs the control connection
//     (a tcpip::poll over it, the listener, to turn away other clients with ACCESS_DENIED, and
//     the signal pipe, with the interval reports as its timeout); each data stream has a thread
//     of its own that only sends (or only receives) blocks with blocking calls: the hot loop is
//     one tcpip::send or tcpip::recv and an atomic add. The block is allocated once;
//     SO_SNDTIMEO/SO_RCVTIMEO (100 ms) let a blocked thread see the stop flag. With --queues N,
//     a listener on every shard and each stream's thread on its shard's core. It alone does -J on
//     the server; the default server refuses it with a one-line message.
//
// Robustness: every read on the control connection has a deadline (--control-timeout, default
// 10 s, as iperf3's --rcv-timeout), every length is checked before anything is allocated, and any
// failure ends that test with a one-line message; the server then serves the next client.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "apps/app_common.h"
#include "stack/core/random.h"
#include "apps/perf/iperf_protocol.h"
#include "apps/perf/json.h"
#include "apps/perf/report.h"
#include "apps/perf/poll_server.h"
#include "apps/perf/server_session.h"
#include "stack/socket/socket.h"
#include "stack/tcp/tcp_log.h"

namespace {

using namespace tcpip;
using namespace tcpip::perf;
using iperf::State;
using SteadyClock = std::chrono::steady_clock;

// The iperf3 version whose protocol we speak, sent as "client_version".
constexpr const char kProtocolVersion[] = "3.12";
constexpr const char kVersion[] = "tcpip-perf 0.1 (iperf 3.12 protocol, TCP)";
constexpr int kStreamTimeoutMs = 100;  // how long a data thread may block before it checks the stop flag

struct PerfOptions {
    bool server = false;
    std::optional<Ipv4Address> host;  // client: the server
    std::uint16_t port = iperf::kDefaultPort;
    bool one_off = false;          // -1
    bool json = false;             // -J
    double interval = 1.0;         // -i, seconds; 0: no interval reports
    double control_timeout = 10.0; // --control-timeout, seconds
    bool print_stats = false;      // --stats: the stack's counters at exit
    std::optional<std::string> tcp_log;       // --tcp-log FILE.csv
    std::size_t tcp_log_entries = 200000;     // --tcp-log-entries: the ring per connection
    iperf::TestParams test;        // client: what to ask for
    bool threads = false;          // --threads (server): a thread per stream, the stack in its own
};

// ---- Small helpers over our sockets ----

struct Endpoint {
    std::string host;
    std::uint16_t port = 0;
};

Endpoint endpoint_of(const sockaddr_in& sin) {
    char text[INET_ADDRSTRLEN] = "?";
    ::inet_ntop(AF_INET, &sin.sin_addr, text, sizeof text);
    return {text, ntohs(sin.sin_port)};
}

Endpoint local_of(int fd) {
    sockaddr_in sin{};
    socklen_t len = sizeof sin;
    tcpip::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
    return endpoint_of(sin);
}

Endpoint remote_of(int fd) {
    sockaddr_in sin{};
    socklen_t len = sizeof sin;
    tcpip::getpeername(fd, reinterpret_cast<sockaddr*>(&sin), &len);
    return endpoint_of(sin);
}

void set_timeouts(int fd, int millis) {
    timeval tv{millis / 1000, (millis % 1000) * 1000};
    tcpip::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    tcpip::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// What TCP_INFO says about a stream: our stack's own counters (stack/tcp/tcp.h TcpInfo).
struct TcpSample {
    std::uint32_t total_retrans = 0;
    std::uint64_t cwnd_bytes = 0;
    std::uint32_t rtt_us = 0, rttvar_us = 0, pmtu = 0;
};

TcpSample tcp_sample(int fd) {
    tcp_info ti{};
    socklen_t len = sizeof ti;
    TcpSample s;
    if (tcpip::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
        s.total_retrans = ti.tcpi_total_retrans;
        s.cwnd_bytes = std::uint64_t{ti.tcpi_snd_cwnd} * ti.tcpi_snd_mss;
        s.rtt_us = ti.tcpi_rtt;
        s.rttvar_us = ti.tcpi_rttvar;
        s.pmtu = ti.tcpi_pmtu;
    }
    return s;
}

double seconds_between(SteadyClock::time_point a, SteadyClock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// Process CPU use over a test, in percent of wall time (iperf3's cpu_util: getrusage).
class CpuMeter {
public:
    void start() {
        wall_ = SteadyClock::now();
        ::getrusage(RUSAGE_SELF, &usage_);
    }
    // total, user, system
    std::array<double, 3> percent() const {
        rusage now{};
        ::getrusage(RUSAGE_SELF, &now);
        const double wall = std::max(seconds_between(wall_, SteadyClock::now()), 1e-6);
        auto secs = [](const timeval& a, const timeval& b) {
            return static_cast<double>(b.tv_sec - a.tv_sec) + static_cast<double>(b.tv_usec - a.tv_usec) / 1e6;
        };
        const double user = secs(usage_.ru_utime, now.ru_utime) / wall * 100.0;
        const double system = secs(usage_.ru_stime, now.ru_stime) / wall * 100.0;
        return {user + system, user, system};
    }

private:
    SteadyClock::time_point wall_;
    rusage usage_{};
};

// --tcp-log: the streams' TCP event logs as one CSV (tcp_log::write_csv), times from the first
// entry of any of them.
void write_tcp_log_csv(const std::string& path, const std::vector<TcpLogSnapshot>& logs) {
    std::optional<Instant> start;
    for (const auto& log : logs) {
        if (!log.entries.empty() && (!start || log.entries.front().at < *start)) start = log.entries.front().at;
    }
    std::ofstream out(path, std::ios::trunc);
    tcp_log::write_csv_header(out);
    for (const auto& log : logs) tcp_log::write_csv(out, log, start.value_or(Instant::zero()));
    out.flush();
    if (!out) std::cerr << "tcpip-perf: cannot write " << path << "\n";
}

// ---- The control connection: reads with a deadline that the signal pipe can cut short ----

enum class Io { Ok, Closed, Timeout, Stopped, Error };

const char* io_text(Io io) {
    switch (io) {
        case Io::Ok: return "ok";
        case Io::Closed: return "the peer closed the control connection";
        case Io::Timeout: return "timed out waiting on the control connection";
        case Io::Stopped: return "interrupted";
        case Io::Error: return "control connection error";
    }
    return "?";
}

class Control {
public:
    Control(int fd, int stop_fd) : fd_(fd), stop_fd_(stop_fd) {}
    int fd() const { return fd_; }

    // Waits (until `deadline`) for the control socket to be readable: Ok, Timeout or Stopped.
    Io wait_readable(std::optional<SteadyClock::time_point> deadline) const {
        for (;;) {
            int timeout_ms = -1;
            if (deadline) {
                const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - SteadyClock::now());
                if (left.count() <= 0) return Io::Timeout;
                timeout_ms = static_cast<int>(std::min<long long>(left.count() + 1, 1000 * 1000));
            }
            pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
            const int n = tcpip::poll(fds, 2, timeout_ms);
            if (n < 0 && errno != EINTR) return Io::Error;
            if (n > 0 && fds[1].revents != 0) return Io::Stopped;
            if (n > 0 && fds[0].revents != 0) return Io::Ok;
        }
    }

    Io read_exact(void* buf, std::size_t len, std::optional<SteadyClock::time_point> deadline) const {
        auto* p = static_cast<char*>(buf);
        while (len > 0) {
            if (Io w = wait_readable(deadline); w != Io::Ok) return w;
            const ssize_t n = tcpip::recv(fd_, p, len, MSG_DONTWAIT);
            if (n == 0) return Io::Closed;
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
                return Io::Error;
            }
            p += n;
            len -= static_cast<std::size_t>(n);
        }
        return Io::Ok;
    }

    // One state byte. `unknown` receives a byte that names no state.
    Io read_state(std::optional<State>& state, std::uint8_t& raw, std::optional<SteadyClock::time_point> deadline) const {
        const Io io = read_exact(&raw, 1, deadline);
        state = io == Io::Ok ? iperf::state_from_byte(raw) : std::nullopt;
        return io;
    }

    // A length-prefixed JSON message of at most `max_len` bytes (JSON_read, with the checks it lacks).
    Io read_json(Json& out, std::uint32_t max_len, std::optional<SteadyClock::time_point> deadline,
                 std::string& error) const {
        std::array<std::uint8_t, 4> prefix{};
        if (Io io = read_exact(prefix.data(), prefix.size(), deadline); io != Io::Ok) return io;
        const std::uint32_t len = iperf::decode_length(prefix);
        if (len == 0 || len > max_len) {
            error = "JSON length " + std::to_string(len) + " is out of range (1.." + std::to_string(max_len) + ")";
            return Io::Error;
        }
        std::string text(len, '\0');
        if (Io io = read_exact(text.data(), len, deadline); io != Io::Ok) return io;
        auto parsed = parse_json(text);
        if (!parsed) {
            error = "bad JSON: " + parsed.error().message;
            return Io::Error;
        }
        out = std::move(*parsed);
        return Io::Ok;
    }

    bool write_all(const void* buf, std::size_t len) const {
        const auto* p = static_cast<const char*>(buf);
        while (len > 0) {
            const ssize_t n = tcpip::send(fd_, p, len, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                return false;
            }
            p += n;
            len -= static_cast<std::size_t>(n);
        }
        return true;
    }

    bool send_state(State state) const {
        const std::uint8_t b = iperf::state_byte(state);
        return write_all(&b, 1);
    }

    bool send_json(const Json& json) const {
        const std::string framed = iperf::frame_json(json);
        return write_all(framed.data(), framed.size());
    }

private:
    int fd_;
    int stop_fd_;
};

// ---- Data streams ----

// Bytes left to send when the test ends by size (-n / -k), shared by the sending threads.
class Budget {
public:
    explicit Budget(std::uint64_t bytes) : left_(bytes) {}
    // Reserves up to `want` bytes; 0 when the budget is spent.
    std::uint64_t take(std::uint64_t want) {
        std::uint64_t left = left_.load(std::memory_order_relaxed);
        for (;;) {
            const std::uint64_t got = std::min(left, want);
            if (got == 0) return 0;
            if (left_.compare_exchange_weak(left, left - got, std::memory_order_relaxed)) return got;
        }
    }

private:
    std::atomic<std::uint64_t> left_;
};

struct Stream {
    int fd = -1;
    int id = 0;          // iperf3's stream id (1, 3, 4, ...)
    bool sender = false;
    Endpoint local, remote;
    std::atomic<std::uint64_t> bytes{0};    // moved so far (written by the data thread)
    std::atomic<bool> finished{false};      // the data thread has returned
    std::atomic<int> error{0};              // errno that ended it, 0 for a normal end
    std::vector<char> receive_buffer;       // receivers only; allocated once
    std::thread thread;

    // Main thread only.
    std::uint64_t interval_base = 0;        // bytes at the start of the current interval
    std::uint32_t retrans_base = 0;         // TCP_INFO total_retrans at the start of the test
    std::uint32_t retrans_interval_base = 0;
    std::uint64_t final_bytes = 0;
    std::int64_t final_retrans = -1;
    double end_time = 0;
    std::optional<iperf::StreamResult> peer;  // the other side's view
};

void send_loop(Stream& s, const char* block, std::size_t block_size, Budget* budget, const std::atomic<bool>& stop) {
    app::pin_to_shard_of(s.fd);  // --queues: on the core of the shard that owns the connection
    std::size_t offset = 0, chunk = 0;
    while (!stop.load(std::memory_order_relaxed)) {
        if (offset == chunk) {  // the block is out: start the next one
            offset = 0;
            chunk = budget ? static_cast<std::size_t>(budget->take(block_size)) : block_size;
            if (chunk == 0) break;
        }
        const ssize_t n = tcpip::send(s.fd, block + offset, chunk - offset, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;  // SO_SNDTIMEO: look at `stop`
            s.error = errno;
            break;
        }
        offset += static_cast<std::size_t>(n);
        s.bytes.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    }
    s.finished = true;
}

void receive_loop(Stream& s, const std::atomic<bool>& stop) {
    app::pin_to_shard_of(s.fd);  // --queues: on the core of the shard that owns the connection
    while (!stop.load(std::memory_order_relaxed)) {
        const ssize_t n = tcpip::recv(s.fd, s.receive_buffer.data(), s.receive_buffer.size(), 0);
        if (n > 0) {
            s.bytes.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
        } else if (n == 0) {
            break;  // the sender closed its side
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            s.error = errno;
            break;
        }
    }
    s.finished = true;
}

// ---- One test, either role: the streams, the clock, the reports ----

class Test {
public:
    Test(const PerfOptions& options, const iperf::TestParams& params, bool is_server)
        : options_(options), params_(params), we_send_(params.reverse == is_server) {
        if (params_.bytes != 0) budget_.emplace(params_.bytes);
        else if (params_.blocks != 0) budget_.emplace(params_.blocks * params_.block_size);
    }
    ~Test() {
        stop_streams();
        for (auto& s : streams_) tcpip::close(s->fd);
    }
    Test(const Test&) = delete;
    Test& operator=(const Test&) = delete;

    const iperf::TestParams& params() const { return params_; }
    bool we_send() const { return we_send_; }
    std::size_t stream_count() const { return streams_.size(); }

    void set_peer(Endpoint control_peer, std::string cookie) {
        control_peer_ = std::move(control_peer);
        cookie_ = std::move(cookie);
    }

    // A connected data socket joins the test (its id is iperf3's for its position).
    void add_stream(int fd) {
        auto s = std::make_unique<Stream>();
        s->fd = fd;
        s->id = iperf::stream_id(streams_.size());
        s->sender = we_send_;
        s->local = local_of(fd);
        s->remote = remote_of(fd);
        set_timeouts(fd, kStreamTimeoutMs);
        configure_stream(fd, params_, options_.test.congestion);
        if (!we_send_) s->receive_buffer.resize(std::max<std::size_t>(params_.block_size, 256 * 1024));
        if (!options_.json) {
            std::cout << "[" << pad3(s->fd) << "] local " << s->local.host << " port " << s->local.port
                      << " connected to " << s->remote.host << " port " << s->remote.port << "\n";
        }
        streams_.push_back(std::move(s));
    }

    // With shards (--queues N), the accept loop takes the data connections from several listeners
    // in no fixed order, but iperf3 numbers the streams in the order its client connected them
    // and matches the results by number: renumbered by the peers' ports, which Linux gives
    // consecutive connections to one destination in ascending order (as PollServer does).
    void number_by_peer_port() {
        std::stable_sort(streams_.begin(), streams_.end(), [](const auto& a, const auto& b) { return a->remote.port < b->remote.port; });
        for (std::size_t i = 0; i < streams_.size(); ++i) streams_[i]->id = iperf::stream_id(i);
    }

    // TEST_RUNNING: the clock starts and the data threads with it.
    void start() {
        if (we_send_) {
            // One block for every sender, filled once (iperf3 sends random bytes too).
            block_ = make_block(params_.block_size);
        }
        cpu_.start();
        start_ = SteadyClock::now();
        interval_start_ = 0;
        next_report_ = start_ + interval_duration();
        for (auto& s : streams_) s->retrans_base = s->retrans_interval_base = tcp_sample(s->fd).total_retrans;
        if (!options_.json) {
            std::cout << interval_header(we_send_) << std::flush;
        }
        for (auto& s : streams_) {
            Stream& stream = *s;
            if (we_send_) {
                Budget* budget = budget_ ? &*budget_ : nullptr;
                stream.thread = std::thread(send_loop, std::ref(stream), block_.data(), block_.size(), budget, std::cref(stop_));
            } else {
                stream.thread = std::thread(receive_loop, std::ref(stream), std::cref(stop_));
            }
        }
        running_ = true;
    }

    double elapsed() const { return seconds_between(start_, SteadyClock::now()); }
    bool running() const { return running_; }

    std::uint64_t total_bytes() const {
        std::uint64_t sum = 0;
        for (const auto& s : streams_) sum += s->bytes.load(std::memory_order_relaxed);
        return sum;
    }

    bool all_streams_finished() const {
        for (const auto& s : streams_) {
            if (!s->finished.load()) return false;
        }
        return true;
    }

    // A stream that ended with an error (a reset, say), or 0.
    int stream_error() const {
        for (const auto& s : streams_) {
            if (int e = s->error.load()) return e;
        }
        return 0;
    }

    // The client's view of "is the test over": by time, or by size.
    bool end_condition_met() const {
        if (!running_) return false;
        if (params_.bytes == 0 && params_.blocks == 0) return params_.duration > 0 && elapsed() >= params_.duration;
        if (we_send_) return all_streams_finished();
        const std::uint64_t target = params_.bytes != 0 ? params_.bytes : params_.blocks * params_.block_size;
        return total_bytes() >= target;
    }

    // When the next interval report is due (nullopt: no interval reports).
    std::optional<SteadyClock::time_point> next_report() const {
        if (!running_ || options_.interval <= 0) return std::nullopt;
        return next_report_;
    }

    // Reports the interval that ended now, if one is due.
    void maybe_report() {
        if (!running_ || options_.interval <= 0 || SteadyClock::now() < next_report_) return;
        report_interval(elapsed());
        next_report_ += interval_duration();
        if (next_report_ < SteadyClock::now()) next_report_ = SteadyClock::now() + interval_duration();
    }

    // The receiving side, at the end: waits until the data already on its way has arrived (no
    // byte for 20 ms, at most 300 ms), so the count covers what the sender had sent.
    void settle_receivers() {
        if (we_send_) return;
        const auto give_up = SteadyClock::now() + std::chrono::milliseconds(300);
        std::uint64_t last = total_bytes();
        auto quiet_since = SteadyClock::now();
        last_arrival_ = elapsed();
        while (SteadyClock::now() < give_up && !all_streams_finished()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            const std::uint64_t now_bytes = total_bytes();
            if (now_bytes != last) {
                last = now_bytes;
                quiet_since = SteadyClock::now();
                last_arrival_ = elapsed();  // the test's end, for the receiver: its last byte
            } else if (SteadyClock::now() - quiet_since >= std::chrono::milliseconds(20)) {
                break;
            }
        }
    }

    // Stops the data threads and waits for them (each notices within kStreamTimeoutMs).
    void stop_streams() {
        stop_ = true;
        for (auto& s : streams_) {
            if (s->thread.joinable()) s->thread.join();
        }
    }

    // The end of the test: the last (partial) interval and the final counts. Senders must have
    // stopped first, so that what we report sent is all that was sent.
    void finish() {
        if (!running_) return;
        const double end = last_arrival_ ? *last_arrival_ : elapsed();
        if (options_.interval > 0 && (end - interval_start_ >= options_.interval * 0.1 || interval_bytes() > 0)) {
            report_interval(end);
        }
        for (auto& s : streams_) {
            s->final_bytes = s->bytes.load();
            s->end_time = end;
            if (s->sender) s->final_retrans = static_cast<std::int64_t>(tcp_sample(s->fd).total_retrans - s->retrans_base);
        }
        cpu_percent_ = cpu_.percent();
        end_time_ = end;
        running_ = false;
    }

    // Closes the data connections (iperf3's server does this at TEST_END), after writing their
    // event logs if --tcp-log asked for them.
    void close_streams() {
        stop_streams();
        if (options_.tcp_log && !streams_.empty()) write_tcp_logs(*options_.tcp_log);
        for (auto& s : streams_) {
            tcpip::close(s->fd);
        }
        streams_.clear();
    }

    iperf::TestResults our_results() const {
        iperf::TestResults r;
        r.cpu_total = cpu_percent_[0];
        r.cpu_user = cpu_percent_[1];
        r.cpu_system = cpu_percent_[2];
        r.sender_has_retransmits = we_send_ ? 1 : -1;
        for (const auto& s : final_) {
            iperf::StreamResult sr;
            sr.id = s.id;
            sr.bytes = static_cast<std::int64_t>(s.bytes);
            sr.retransmits = we_send_ ? s.retrans : -1;
            sr.start_time = 0;
            sr.end_time = s.end_time;
            r.streams.push_back(sr);
        }
        return r;
    }

    // The streams' TCP event logs as one CSV (tcp_log::write_csv), times from the first entry. A
    // sender's log would end with data still in flight (the test ends when the last block is
    // written, not acknowledged): wait, at most 5 s, until every byte is acknowledged, so that the
    // log holds the whole transfer.
    void write_tcp_logs(const std::string& path) const {
        if (we_send_) {
            const auto give_up = SteadyClock::now() + std::chrono::seconds(5);
            for (const auto& s : streams_) {
                Runtime* runtime = Runtime::owner(s->fd);
                while (runtime != nullptr && SteadyClock::now() < give_up) {
                    const auto log = runtime->tcp_log(s->fd);
                    if (!log || log->send_buffered == 0) break;
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
            }
        }
        std::vector<TcpLogSnapshot> logs;
        for (const auto& s : streams_) {
            if (Runtime* runtime = Runtime::owner(s->fd)) {
                if (auto log = runtime->tcp_log(s->fd)) logs.push_back(std::move(*log));
            }
        }
        write_tcp_log_csv(path, logs);
    }

    // Keeps what finish() measured, so the streams can be closed before the results go out.
    void keep_final() {
        final_.clear();
        for (const auto& s : streams_) {
            final_.push_back({s->fd, s->id, s->final_bytes, s->final_retrans, s->end_time, s->local, s->remote, {}});
        }
    }

    // The peer's results, matched by stream id (get_results). False when an id is unknown.
    bool take_peer_results(const iperf::TestResults& peer, std::string& error) {
        peer_cpu_ = {peer.cpu_total, peer.cpu_user, peer.cpu_system};
        peer_has_retransmits_ = peer.sender_has_retransmits == 1;
        for (const auto& ps : peer.streams) {
            bool found = false;
            for (auto& f : final_) {
                if (f.id == ps.id) {
                    f.peer = ps;
                    found = true;
                }
            }
            if (!found) {
                error = "the peer's results name stream " + std::to_string(ps.id) + ", which is not in this test";
                return false;
            }
        }
        return true;
    }

    void print_summary() const {
        if (options_.json) return;
        std::cout << kSeparator << summary_header(true);
        for (const auto& f : final_) {
            const Side sent = sent_side(f);
            const Side received = received_side(f);
            std::cout << format_line({pad_id(f.fd), 0, sent.seconds, sent.bytes, sent.retrans, std::nullopt, "sender"});
            std::cout << format_line({pad_id(f.fd), 0, received.seconds, received.bytes, std::nullopt, std::nullopt, "receiver"});
        }
        if (final_.size() > 1) {
            const Totals t = totals();
            std::cout << format_line({"SUM", 0, t.sent.seconds, t.sent.bytes, t.sent.retrans, std::nullopt, "sender"});
            std::cout << format_line({"SUM", 0, t.received.seconds, t.received.bytes, std::nullopt, std::nullopt, "receiver"});
        }
        std::cout << std::flush;
    }

    // The -J document, as iperf3 lays it out (start, intervals, end).
    Json json_document(bool client, const std::string& error = "") const {
        Json connected = Json::array();
        for (const auto& f : final_) {
            connected.push_back({{"socket", f.fd},
                                 {"local_host", f.local.host},
                                 {"local_port", f.local.port},
                                 {"remote_host", f.remote.host},
                                 {"remote_port", f.remote.port}});
        }
        const std::time_t now = std::time(nullptr);
        char when[64];
        std::strftime(when, sizeof when, "%a, %d %b %Y %H:%M:%S GMT", std::gmtime(&now));
        Json start = {{"connected", std::move(connected)},
                      {"version", kVersion},
                      {"system_info", system_info()},
                      {"timestamp", {{"time", when}, {"timesecs", now}}}};
        start[client ? "connecting_to" : "accepted_connection"] = {{"host", control_peer_.host},
                                                                   {"port", control_peer_.port}};
        start["cookie"] = cookie_;
        start["test_start"] = {{"protocol", "TCP"},
                               {"num_streams", params_.parallel},
                               {"blksize", params_.block_size},
                               {"omit", 0},
                               {"duration", params_.duration},
                               {"bytes", params_.bytes},
                               {"blocks", params_.blocks},
                               {"reverse", params_.reverse ? 1 : 0},
                               {"tos", 0}};

        Json streams = Json::array();
        for (const auto& f : final_) {
            const Side sent = sent_side(f);
            const Side received = received_side(f);
            streams.push_back({{"sender", summary_json(0, sent.seconds, sent.bytes, sent.retrans, true, f.fd)},
                               {"receiver", summary_json(0, received.seconds, received.bytes, std::nullopt, false, f.fd)}});
        }
        const Totals t = totals();
        Json end = {{"streams", std::move(streams)},
                    {"sum_sent", summary_json(0, t.sent.seconds, t.sent.bytes, t.sent.retrans, true)},
                    {"sum_received", summary_json(0, t.received.seconds, t.received.bytes, std::nullopt, false)},
                    {"cpu_utilization_percent", {{"host_total", cpu_percent_[0]},
                                                 {"host_user", cpu_percent_[1]},
                                                 {"host_system", cpu_percent_[2]},
                                                 {"remote_total", peer_cpu_[0]},
                                                 {"remote_user", peer_cpu_[1]},
                                                 {"remote_system", peer_cpu_[2]}}}};
        Json doc = {{"start", std::move(start)}, {"intervals", intervals_}, {"end", std::move(end)}};
        if (!error.empty()) doc["error"] = error;
        return doc;
    }

private:
    struct Final {
        int fd;
        int id;
        std::uint64_t bytes;
        std::int64_t retrans;
        double end_time;
        Endpoint local, remote;
        std::optional<iperf::StreamResult> peer;
    };
    struct Side {
        std::uint64_t bytes = 0;
        double seconds = 0;
        std::optional<std::int64_t> retrans;
    };

    // The sending side of a stream: ours if we sent, else what the peer reported.
    Side sent_side(const Final& f) const {
        if (we_send_) return {f.bytes, f.end_time, f.retrans >= 0 ? std::optional<std::int64_t>(f.retrans) : std::nullopt};
        if (!f.peer) return {0, f.end_time, std::nullopt};
        const double secs = f.peer->end_time > f.peer->start_time ? f.peer->end_time - f.peer->start_time : f.end_time;
        std::optional<std::int64_t> retrans;
        if (peer_has_retransmits_ && f.peer->retransmits >= 0) retrans = f.peer->retransmits;
        return {static_cast<std::uint64_t>(std::max<std::int64_t>(f.peer->bytes, 0)), secs, retrans};
    }
    Side received_side(const Final& f) const {
        if (!we_send_) return {f.bytes, f.end_time, std::nullopt};
        if (!f.peer) return {0, f.end_time, std::nullopt};
        const double secs = f.peer->end_time > f.peer->start_time ? f.peer->end_time - f.peer->start_time : f.end_time;
        return {static_cast<std::uint64_t>(std::max<std::int64_t>(f.peer->bytes, 0)), secs, std::nullopt};
    }

    // Both sides summed over the streams (the SUM lines, and sum_sent/sum_received in -J); the
    // times are the last stream's, retransmissions only if the sender side knows them.
    struct Totals {
        Side sent, received;
    };
    Totals totals() const {
        Totals t;
        t.sent.seconds = t.received.seconds = end_time_;
        std::int64_t retrans = 0;
        bool have_retrans = false;
        for (const auto& f : final_) {
            const Side sent = sent_side(f);
            const Side received = received_side(f);
            t.sent.bytes += sent.bytes;
            t.received.bytes += received.bytes;
            if (sent.retrans) {
                have_retrans = true;
                retrans += *sent.retrans;
            }
            t.sent.seconds = sent.seconds;
            t.received.seconds = received.seconds;
        }
        if (have_retrans) t.sent.retrans = retrans;
        return t;
    }

    std::chrono::microseconds interval_duration() const {
        return std::chrono::microseconds(static_cast<long long>(options_.interval * 1e6));
    }

    std::uint64_t interval_bytes() const {
        std::uint64_t sum = 0;
        for (const auto& s : streams_) sum += s->bytes.load(std::memory_order_relaxed) - s->interval_base;
        return sum;
    }

    void report_interval(double end) {
        Json streams = Json::array();
        std::uint64_t sum = 0;
        std::int64_t retrans_sum = 0;
        for (auto& s : streams_) {
            const std::uint64_t now_bytes = s->bytes.load(std::memory_order_relaxed);
            const std::uint64_t bytes = now_bytes - s->interval_base;
            s->interval_base = now_bytes;
            sum += bytes;
            JsonInterval ji{s->fd, interval_start_, end, bytes, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, we_send_};
            if (we_send_) {
                const TcpSample t = tcp_sample(s->fd);
                const std::int64_t retrans = static_cast<std::int64_t>(t.total_retrans - s->retrans_interval_base);
                s->retrans_interval_base = t.total_retrans;
                retrans_sum += retrans;
                ji.retransmits = retrans;
                ji.snd_cwnd = t.cwnd_bytes;
                ji.rtt_us = t.rtt_us;
                ji.rttvar_us = t.rttvar_us;
                ji.pmtu = t.pmtu;
            }
            if (options_.json) {
                streams.push_back(interval_json(ji));
            } else {
                std::cout << format_line({pad_id(s->fd), interval_start_, end, bytes, ji.retransmits, ji.snd_cwnd, ""});
            }
        }
        const std::optional<std::int64_t> sum_retrans = we_send_ ? std::optional<std::int64_t>(retrans_sum) : std::nullopt;
        if (options_.json) {
            JsonInterval total{-1, interval_start_, end, sum, sum_retrans, std::nullopt, std::nullopt, std::nullopt, std::nullopt, we_send_};
            intervals_.push_back({{"streams", std::move(streams)}, {"sum", interval_json(total)}});
        } else {
            if (streams_.size() > 1) std::cout << format_line({"SUM", interval_start_, end, sum, sum_retrans, std::nullopt, ""});
            std::cout << std::flush;
        }
        interval_start_ = end;
    }

    static std::string pad3(int n) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%3d", n);
        return buf;
    }
    static std::string pad_id(int n) { return std::to_string(n); }

    static std::string system_info() {
        utsname u{};
        if (::uname(&u) != 0) return "";
        return std::string(u.sysname) + " " + u.nodename + " " + u.release + " " + u.version + " " + u.machine;
    }

    const PerfOptions& options_;
    iperf::TestParams params_;
    bool we_send_;
    std::optional<Budget> budget_;
    std::vector<std::unique_ptr<Stream>> streams_;
    std::vector<char> block_;
    std::atomic<bool> stop_{false};
    bool running_ = false;
    SteadyClock::time_point start_;
    SteadyClock::time_point next_report_;
    double interval_start_ = 0;
    double end_time_ = 0;
    std::optional<double> last_arrival_;  // set by settle_receivers
    CpuMeter cpu_;
    std::array<double, 3> cpu_percent_{};
    std::array<double, 3> peer_cpu_{};
    bool peer_has_retransmits_ = false;
    std::vector<Final> final_;
    Json intervals_ = Json::array();
    Endpoint control_peer_;
    std::string cookie_;
};

// ---- Server ----

class Server {
public:
    Server(const PerfOptions& options, app::RuntimeHost& host) : options_(options), host_(host) {}

    ~Server() {
        for (int fd : listeners_) tcpip::close(fd);
    }

    // A listener on every shard (--queues N): the kernel sends each connection's SYN to one
    // queue, and that shard's listener accepts it. One accept loop polls them all, since an
    // iperf3 test's control and data connections may land on different shards.
    bool listen() {
        for (std::size_t k = 0; k < host_.shard_count(); ++k) {
            const int fd = host_.shard(k).socket(AF_INET, SOCK_STREAM, 0);
            int one = 1;
            sockaddr_in at = app::socket_address(Ipv4Address::any(), options_.port);
            if (fd < 0 || tcpip::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
                tcpip::bind(fd, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0 || tcpip::listen(fd, 128) != 0) {
                std::cerr << "tcpip-perf: listen on port " << options_.port << ": " << std::strerror(errno) << "\n";
                return false;
            }
            tcpip::fcntl(fd, F_SETFL, O_NONBLOCK);
            listeners_.push_back(fd);
        }
        return true;
    }

    // Serves clients one after another until a signal (or, with -1, after one). Exit status.
    int run() {
        int status = 0;
        for (int test_number = 1; !host_.stop_requested(); ++test_number) {
            if (!options_.json) {
                std::cout << "-----------------------------------------------------------\n"
                          << "Server listening on " << options_.port << " (test #" << test_number << ")\n"
                          << "-----------------------------------------------------------\n"
                          << std::flush;
            }
            const int conn = accept_next(std::nullopt);
            if (conn < 0) break;  // a signal
            const bool ok = serve(conn);
            status = ok ? 0 : 1;
            if (options_.one_off) break;
        }
        return status;
    }

private:
    // Waits for a connection on the listener (until `deadline`); -1 on a signal or timeout.
    int accept_next(std::optional<SteadyClock::time_point> deadline, int also_watch = -1, bool* watched_ready = nullptr) {
        for (;;) {
            int timeout_ms = -1;
            if (deadline) {
                const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - SteadyClock::now());
                if (left.count() <= 0) return -1;
                timeout_ms = static_cast<int>(left.count() + 1);
            }
            std::vector<pollfd> fds = {{host_.stop_fd(), POLLIN, 0}, {also_watch, POLLIN, 0}};
            for (int listener : listeners_) fds.push_back({listener, POLLIN, 0});
            const int n = tcpip::poll(fds.data(), fds.size(), timeout_ms);
            if (n < 0 && errno != EINTR) return -1;
            if (n <= 0) continue;
            if (fds[0].revents != 0) return -1;
            if (also_watch >= 0 && fds[1].revents != 0 && watched_ready) {
                *watched_ready = true;
                return -1;
            }
            for (std::size_t i = 2; i < fds.size(); ++i) {
                if (fds[i].revents == 0) continue;
                const int fd = tcpip::accept(fds[i].fd, nullptr, nullptr);
                if (fd >= 0) return fd;
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) return -1;
            }
        }
    }

    SteadyClock::time_point control_deadline() const {
        return SteadyClock::now() + std::chrono::microseconds(static_cast<long long>(options_.control_timeout * 1e6));
    }

    void fail(const std::string& what) const { std::cerr << "tcpip-perf: error - " << what << "\n"; }

    // Turns away a client that arrives while a test runs (iperf_accept does not read from it).
    void deny_one(int listener) {
        const int fd = tcpip::accept(listener, nullptr, nullptr);
        if (fd < 0) return;
        const std::uint8_t denied = iperf::state_byte(State::AccessDenied);
        tcpip::send(fd, &denied, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        tcpip::close(fd);
    }

    // Sends what the session has to say on the control connection.
    static bool flush(const Control& control, iperf::ServerSession& session) {
        const std::string out = session.take_output();
        return out.empty() || control.write_all(out.data(), out.size());
    }

    // Feeds the session what arrives on the control connection until it leaves `phase` (then
    // true), or until the deadline, a signal or an error (then false, the session Failed with the
    // reason, `doing` naming the step).
    bool pump(const Control& control, iperf::ServerSession& session, iperf::ServerSession::Phase phase,
              const std::string& doing) {
        while (session.phase() == phase) {
            if (!flush(control, session)) {
                session.fail(doing + ": cannot send");
                return false;
            }
            if (const Io w = control.wait_readable(control_deadline()); w != Io::Ok) {
                session.fail(doing + ": " + io_text(w));
                return false;
            }
            char buf[4096];
            const ssize_t n = tcpip::recv(control.fd(), buf, sizeof buf, MSG_DONTWAIT);
            if (n == 0) {
                session.on_control_closed();
            } else if (n > 0) {
                session.on_control(std::string_view(buf, static_cast<std::size_t>(n)));
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                session.fail(doing + ": " + io_text(Io::Error));
            }
        }
        if (!flush(control, session)) session.fail(doing + ": cannot send");
        return session.phase() != iperf::ServerSession::Phase::Failed;
    }

    // One client, from its cookie to IPERF_DONE: the protocol is the session's
    // (apps/perf/server_session.h); here are the sockets, the threads and the deadlines. False if
    // the test failed.
    bool serve(int conn) {
        struct Closer {
            int fd;
            ~Closer() { tcpip::close(fd); }
        } closer{conn};
        using Phase = iperf::ServerSession::Phase;
        const Control control(conn, host_.stop_fd());
        const Endpoint peer = remote_of(conn);
        if (!options_.json) std::cout << "Accepted connection from " << peer.host << ", port " << peer.port << "\n" << std::flush;
        iperf::ServerSession session;
        auto failed = [&] {
            (void)flush(control, session);  // a SERVER_ERROR the session wrote
            fail(session.error());
            return false;
        };

        // The cookie (PARAM_EXCHANGE), the parameters (CREATE_STREAMS).
        if (!pump(control, session, Phase::Cookie, "reading the cookie") ||
            !pump(control, session, Phase::Params, "reading the parameters")) {
            return failed();
        }
        Test test(options_, session.params(), /*is_server=*/true);
        test.set_peer(peer, session.cookie());

        // The client connects `parallel` times, each time sending the cookie; then TEST_START and
        // TEST_RUNNING go.
        while (session.phase() == Phase::Streams) {
            bool control_ready = false;
            const int fd = accept_next(control_deadline(), conn, &control_ready);
            if (fd < 0) {
                session.fail(control_ready ? "the client spoke (or closed) before making its streams"
                             : host_.stop_requested() ? "interrupted" : "timed out waiting for the data streams");
                return failed();
            }
            std::string stream_cookie(iperf::kCookieSize, '\0');
            const Control data(fd, host_.stop_fd());
            const Io io = data.read_exact(stream_cookie.data(), stream_cookie.size(), control_deadline());
            if (io != Io::Ok || !session.on_stream_cookie(stream_cookie)) {
                // Another client, or garbage: not one of this test's streams (iperf_tcp_accept).
                const std::uint8_t denied = iperf::state_byte(State::AccessDenied);
                tcpip::send(fd, &denied, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
                tcpip::close(fd);
                continue;
            }
            test.add_stream(fd);
        }
        if (!flush(control, session)) {
            fail("cannot start the test");
            return false;
        }
        if (host_.shard_count() > 1) test.number_by_peer_port();
        test.start();
        if (!run_test(control, session, test)) return failed();
        return end_test(control, session, test) || failed();
    }

    // From TEST_RUNNING to TEST_END: reports, other clients turned away, the client's messages.
    bool run_test(const Control& control, iperf::ServerSession& session, Test& test) {
        // iperf3's server gives up at duration + omit + 5 s; without a duration, when nothing moves
        // for the control timeout.
        const bool timed = test.params().duration > 0;
        const auto hard_end = SteadyClock::now() + std::chrono::seconds(test.params().duration + 5);
        std::uint64_t last_bytes = 0;
        auto last_progress = SteadyClock::now();
        while (session.phase() == iperf::ServerSession::Phase::Running) {
            auto wake = SteadyClock::now() + std::chrono::milliseconds(250);
            if (auto r = test.next_report(); r && *r < wake) wake = *r;
            const int timeout_ms = static_cast<int>(std::max<long long>(
                0, std::chrono::duration_cast<std::chrono::milliseconds>(wake - SteadyClock::now()).count() + 1));
            std::vector<pollfd> fds = {{control.fd(), POLLIN, 0}, {host_.stop_fd(), POLLIN, 0}};
            for (int listener : listeners_) fds.push_back({listener, POLLIN, 0});
            const int n = tcpip::poll(fds.data(), fds.size(), timeout_ms);
            if (n < 0 && errno != EINTR) {
                session.fail("poll failed");
                break;
            }
            test.maybe_report();
            if (n > 0 && fds[1].revents != 0) {
                control.send_state(State::ServerTerminate);
                session.fail("interrupted: SERVER_TERMINATE sent");
                break;
            }
            for (std::size_t i = 2; n > 0 && i < fds.size(); ++i) {
                if (fds[i].revents != 0) deny_one(fds[i].fd);
            }
            if (n > 0 && fds[0].revents != 0) {
                char buf[64];
                const ssize_t got = tcpip::recv(control.fd(), buf, sizeof buf, MSG_DONTWAIT);
                if (got == 0) {
                    session.on_control_closed();
                } else if (got > 0) {
                    session.on_control(std::string_view(buf, static_cast<std::size_t>(got)));
                } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    session.fail(io_text(Io::Error));
                }
                continue;
            }
            const std::uint64_t bytes = test.total_bytes();
            if (bytes != last_bytes) {
                last_bytes = bytes;
                last_progress = SteadyClock::now();
            }
            const bool stalled = !timed && SteadyClock::now() - last_progress >
                                               std::chrono::microseconds(static_cast<long long>(options_.control_timeout * 1e6));
            if ((timed && SteadyClock::now() > hard_end) || stalled) session.fail("the client never ended the test");
        }
        if (session.phase() != iperf::ServerSession::Phase::Ending) {
            test.stop_streams();
            return false;
        }
        return true;
    }

    // TEST_END: stop, close the streams, exchange results, show them, wait for IPERF_DONE.
    bool end_test(const Control& control, iperf::ServerSession& session, Test& test) {
        using Phase = iperf::ServerSession::Phase;
        if (test.we_send()) {
            test.stop_streams();
        } else {
            test.settle_receivers();
        }
        test.finish();
        test.keep_final();
        test.close_streams();
        session.end_test();  // EXCHANGE_RESULTS
        if (!pump(control, session, Phase::ClientResults, "reading the client's results")) return false;
        std::string error;
        if (!test.take_peer_results(session.client_results(), error)) {
            session.fail("the client's results: " + error);
            return false;
        }
        session.send_results(test.our_results());  // and DISPLAY_RESULTS
        if (!flush(control, session)) {
            session.fail("cannot send our results");
            return false;
        }
        test.print_summary();
        if (options_.json) std::cout << dump_pretty(test.json_document(false)) << "\n" << std::flush;

        // IPERF_DONE (a client that just closes is fine too: the test is over).
        (void)pump(control, session, Phase::AwaitDone, "waiting for IPERF_DONE");
        if (!session.warning().empty()) fail(session.warning());
        return true;
    }

    const PerfOptions& options_;
    app::RuntimeHost& host_;
    std::vector<int> listeners_;  // one per shard
};

// ---- Client ----

class Client {
public:
    Client(const PerfOptions& options, app::RuntimeHost& host) : options_(options), host_(host) {}

    int run() {
        const int status = run_test();
        if (!error_.empty()) {
            if (options_.json) {
                const Json doc = test_ ? test_->json_document(true, error_) : Json{{"error", error_}};
                std::cout << dump_pretty(doc) << "\n";
            }
            std::cerr << "tcpip-perf: error - " << error_ << "\n";
        }
        return status;
    }

private:
    int fail(std::string what) {
        error_ = std::move(what);
        return 1;
    }

    SteadyClock::time_point control_deadline() const {
        return SteadyClock::now() + std::chrono::microseconds(static_cast<long long>(options_.control_timeout * 1e6));
    }

    int connect_to_server() {
        const int fd = tcpip::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) return -1;
        sockaddr_in to = app::socket_address(*options_.host, options_.port);
        if (tcpip::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
            const int saved = errno;
            tcpip::close(fd);
            errno = saved;
            return -1;
        }
        return fd;
    }

    int run_test() {
        const std::string where = options_.host->to_string() + ":" + std::to_string(options_.port);
        if (!options_.json) {
            std::cout << "Connecting to host " << options_.host->to_string() << ", port " << options_.port << "\n";
            if (options_.test.reverse) std::cout << "Reverse mode, remote host " << options_.host->to_string() << " is sending\n";
            std::cout << std::flush;
        }
        const int conn = connect_to_server();
        if (conn < 0) return fail("unable to connect to server " + where + ": " + std::strerror(errno));
        struct Closer {
            int fd;
            ~Closer() { tcpip::close(fd); }
        } closer{conn};
        const Control control(conn, host_.stop_fd());

        Random rng(host_.seed() ^ 0xc00c1e);  // from --seed too, so a run can be repeated
        const auto cookie = iperf::make_cookie([&] { return static_cast<std::uint32_t>(rng.next()); });
        if (!control.write_all(cookie.data(), cookie.size())) return fail("unable to send the cookie");
        test_ = std::make_unique<Test>(options_, options_.test, /*is_server=*/false);
        test_->set_peer({options_.host->to_string(), options_.port}, std::string(cookie.data(), iperf::kCookieSize - 1));

        for (;;) {
            // While the test runs, wake for the interval reports and the end condition.
            std::optional<SteadyClock::time_point> deadline;
            if (test_->running()) {
                auto wake = SteadyClock::now() + std::chrono::milliseconds(
                                                     options_.test.bytes != 0 || options_.test.blocks != 0 ? 5 : 50);
                if (auto r = test_->next_report(); r && *r < wake) wake = *r;
                deadline = wake;
            } else {
                deadline = control_deadline();  // between messages, the server must answer in time
            }
            const Io ready = control.wait_readable(deadline);
            if (ready == Io::Stopped) {
                control.send_state(State::ClientTerminate);
                return fail("interrupted: CLIENT_TERMINATE sent");
            }
            if (ready == Io::Timeout && !test_->running()) return fail("timed out waiting for the server");
            if (ready == Io::Error) return fail("control connection error");
            if (test_->running()) {
                test_->maybe_report();
                if (test_->end_condition_met() || test_->stream_error() != 0) {
                    if (!end_test(control)) return 1;
                }
            }
            if (ready != Io::Ok) continue;

            std::optional<State> state;
            std::uint8_t raw = 0;
            const Io io = control.read_state(state, raw, control_deadline());
            if (io != Io::Ok) {
                return fail(io == Io::Closed ? "the server has unexpectedly closed the connection" : io_text(io));
            }
            if (!state) return fail("received an unknown control message " + std::to_string(static_cast<int>(static_cast<std::int8_t>(raw))));
            switch (*state) {
                case State::ParamExchange:
                    if (!control.send_json(iperf::params_to_json(options_.test, kProtocolVersion))) return fail("unable to send parameters");
                    break;
                case State::CreateStreams:
                    for (int i = 0; i < options_.test.parallel; ++i) {
                        const int fd = connect_to_server();
                        if (fd < 0) return fail("unable to connect a data stream: " + std::string(std::strerror(errno)));
                        const Control data(fd, host_.stop_fd());
                        if (!data.write_all(cookie.data(), cookie.size())) {
                            tcpip::close(fd);
                            return fail("unable to send the cookie on a data stream");
                        }
                        test_->add_stream(fd);
                    }
                    break;
                case State::TestStart:
                    break;
                case State::TestRunning:
                    test_->start();
                    break;
                case State::ExchangeResults: {
                    if (!control.send_json(iperf::results_to_json(test_->our_results()))) return fail("unable to send results");
                    Json server_json;
                    std::string error;
                    if (Io r = control.read_json(server_json, iperf::kMaxResultsJson, control_deadline(), error); r != Io::Ok) {
                        return fail("unable to receive results from the server: " + (error.empty() ? std::string(io_text(r)) : error));
                    }
                    auto server_results = iperf::results_from_json(server_json);
                    if (!server_results || !test_->take_peer_results(*server_results, error)) {
                        return fail("the server's results: " + (server_results ? error : server_results.error()));
                    }
                    break;
                }
                case State::DisplayResults:
                    test_->close_streams();
                    test_->print_summary();
                    control.send_state(State::IperfDone);
                    if (options_.json) {
                        std::cout << dump_pretty(test_->json_document(true)) << "\n";
                    } else {
                        std::cout << "\ntcpip-perf Done.\n";
                    }
                    std::cout << std::flush;
                    return 0;
                case State::AccessDenied:
                    return fail("the server is busy running a test. try again later");
                case State::ServerError: {
                    std::array<std::uint8_t, 4> code{}, err{};
                    control.read_exact(code.data(), 4, control_deadline());
                    control.read_exact(err.data(), 4, control_deadline());
                    return fail("the server reported error " + std::to_string(static_cast<std::int32_t>(iperf::decode_length(code))) +
                                " (errno " + std::to_string(static_cast<std::int32_t>(iperf::decode_length(err))) + ")");
                }
                case State::ServerTerminate:
                    return fail("the server has terminated");
                default:
                    return fail(std::string("unexpected control message ") + iperf::state_name(*state));
            }
        }
    }

    // The end of the test (by time or size): stop sending, count, TEST_END. A receiver keeps
    // reading (the threads run on) until the results are in, so the server never blocks on a
    // full window while it waits for our TEST_END (iperf_run_client does the same).
    bool end_test(const Control& control) {
        if (test_->we_send()) test_->stop_streams();
        test_->finish();
        test_->keep_final();
        if (!control.send_state(State::TestEnd)) {
            fail("unable to send TEST_END");
            return false;
        }
        return true;
    }

    const PerfOptions& options_;
    app::RuntimeHost& host_;
    std::unique_ptr<Test> test_;
    std::string error_;
};

// "10M", "1G", "512K", "100": iperf3's size suffixes (powers of 1024).
std::string parse_size(std::string_view text, std::uint64_t& out) {
    if (text.empty()) return "empty size";
    std::uint64_t mult = 1;
    const char last = text.back();
    if (last == 'k' || last == 'K') mult = 1024;
    if (last == 'm' || last == 'M') mult = 1024 * 1024;
    if (last == 'g' || last == 'G') mult = 1024ull * 1024 * 1024;
    if (last == 't' || last == 'T') mult = 1024ull * 1024 * 1024 * 1024;
    std::string digits(mult == 1 ? text : text.substr(0, text.size() - 1));
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(digits.c_str(), &end);
    if (digits.empty() || end != digits.c_str() + digits.size() || errno != 0 || !(v > 0) || v * static_cast<double>(mult) > 1e18) {
        return "'" + std::string(text) + "' is not a size (a number, optionally with K, M, G or T)";
    }
    out = static_cast<std::uint64_t>(v * static_cast<double>(mult));
    return "";
}

}  // namespace

// The server's summary of a test, as the threaded server prints it (iperf3's layout): each
// stream's sender and receiver lines, our side from `ours`, the other from the client's results.
void print_summary(bool we_sent, const iperf::TestResults& ours, const iperf::TestResults& client) {
    std::cout << kSeparator << summary_header(true);
    Line sum_sent{"SUM", 0, 0, 0, std::nullopt, std::nullopt, "sender"};
    Line sum_received{"SUM", 0, 0, 0, std::nullopt, std::nullopt, "receiver"};
    for (const iperf::StreamResult& mine : ours.streams) {
        iperf::StreamResult theirs;  // zero bytes if the client's results lack this stream
        theirs.end_time = mine.end_time;
        for (const iperf::StreamResult& c : client.streams) {
            if (c.id == mine.id) theirs = c;
        }
        const iperf::StreamResult& sender = we_sent ? mine : theirs;
        const iperf::StreamResult& receiver = we_sent ? theirs : mine;
        const bool sender_retrans = (we_sent ? ours : client).sender_has_retransmits == 1 && sender.retransmits >= 0;
        Line sent{std::to_string(mine.id), 0, sender.end_time - sender.start_time, static_cast<std::uint64_t>(std::max<std::int64_t>(sender.bytes, 0)),
                  sender_retrans ? std::optional<std::int64_t>(sender.retransmits) : std::nullopt, std::nullopt, "sender"};
        Line received{std::to_string(mine.id), 0, receiver.end_time - receiver.start_time,
                      static_cast<std::uint64_t>(std::max<std::int64_t>(receiver.bytes, 0)), std::nullopt, std::nullopt, "receiver"};
        std::cout << format_line(sent) << format_line(received);
        for (auto [sum, line] : {std::pair{&sum_sent, &sent}, std::pair{&sum_received, &received}}) {
            sum->bytes += line->bytes;
            sum->end = std::max(sum->end, line->end);
            if (line->retransmits) sum->retransmits = sum->retransmits.value_or(0) + *line->retransmits;
        }
    }
    if (ours.streams.size() > 1) std::cout << format_line(sum_sent) << format_line(sum_received);
    std::cout << std::flush;
}

// Interval reports of a run-to-completion test, the threaded server's lines: every -i seconds
// of the test, each stream's bytes since the last report (and with -R its TCP_INFO figures).
// It is fed looks at the server (PollServer::progress), so it never calls into the server itself.
class IntervalReports {
public:
    explicit IntervalReports(double interval) : interval_(Duration::micros(static_cast<std::int64_t>(interval * 1e6))) {}

    // When the next report is due, if a test runs and reports are on.
    std::optional<Instant> due(const PollServer::Progress& test) const {
        if (!test.running || interval_ == Duration::zero()) return std::nullopt;
        return started_ == test.started ? next_ : test.started + interval_;
    }

    // Prints what is due at `now`.
    void report(const PollServer::Progress& test, Instant now) {
        if (!test.running || interval_ == Duration::zero()) return;
        if (started_ != test.started) {  // a new test: its header, and counts from zero
            started_ = test.started;
            next_ = started_ + interval_;
            last_end_ = 0;
            base_.clear();
            std::cout << interval_header(test.we_send) << std::flush;
        }
        if (now < next_) return;
        print(test.we_send, seconds(now - started_), test.streams);
        next_ = std::max(next_ + interval_, now);
    }

    // The test ended: the last, partial interval, up to each stream's end, from its final count.
    void finish(const iperf::TestResults& ours, bool we_sent) {
        if (interval_ == Duration::zero() || base_.empty()) return;
        std::vector<PollServer::StreamProgress> streams;
        double end = last_end_;
        for (const auto& r : ours.streams) {
            streams.push_back({-1, r.id, static_cast<std::uint64_t>(std::max<std::int64_t>(r.bytes, 0))});
            end = std::max(end, r.end_time);
        }
        std::uint64_t moved = 0;
        for (const auto& s : streams) moved += s.bytes - base_of(s.id);
        if (moved > 0 || end - last_end_ >= seconds(interval_) * 0.1) print(we_sent, end, streams);
        base_.clear();
    }

private:
    static double seconds(Duration d) { return static_cast<double>(d.total_micros()) / 1e6; }

    std::uint64_t base_of(int id) const {
        const auto it = base_.find(id);
        return it == base_.end() ? 0 : it->second;
    }

    void print(bool we_send, double end, const std::vector<PollServer::StreamProgress>& streams) {
        std::uint64_t sum = 0;
        std::optional<std::int64_t> retrans_sum;  // with -R, while the streams are open
        for (const auto& s : streams) {
            Line line{std::to_string(s.id), last_end_, end, s.bytes - base_of(s.id), std::nullopt, std::nullopt, ""};
            if (we_send && s.fd >= 0) {
                const TcpSample t = tcp_sample(s.fd);
                auto& base = retrans_[s.id];
                line.retransmits = static_cast<std::int64_t>(t.total_retrans - base);
                line.cwnd_bytes = t.cwnd_bytes;
                base = t.total_retrans;
                retrans_sum = retrans_sum.value_or(0) + *line.retransmits;
            }
            std::cout << format_line(line);
            sum += line.bytes;
            base_[s.id] = s.bytes;
        }
        if (streams.size() > 1) std::cout << format_line({"SUM", last_end_, end, sum, retrans_sum, std::nullopt, ""});
        std::cout << std::flush;
        last_end_ = end;
    }

    Duration interval_;
    Instant started_, next_;
    double last_end_ = 0;
    std::map<int, std::uint64_t> base_;     // stream id -> bytes at the last report
    std::map<int, std::uint32_t> retrans_;  // stream id -> TCP_INFO total_retrans then
};

// -s (the default server): apps/perf/poll_server.h in a tcpip::poll loop, the stack running
// inside it (run to completion, as tcpip-echo's), so that a capture of it replays. With
// --queues N, one such loop per shard, each in a thread pinned to its shard's core (as
// tcpip-httpd's), each waiting on its own shard's sockets and an eventfd through which the
// others wake it (PollServer::Events::changed). Exit status as the threaded server's: 1 if tests
// failed and none succeeded.
int serve_run_to_completion(const PerfOptions& perf, app::RuntimeHost& host) {
    const std::size_t shards = host.shard_count();
    std::mutex print_mutex;  // the shards' loops print: reports from shard 0's, the rest from the control's
    CpuMeter cpu;
    IntervalReports reports(perf.interval);
    PollServer::Events events;
    events.accepted = [&](const std::string& peer) {
        std::lock_guard<std::mutex> lock(print_mutex);
        std::cout << "Accepted connection from " << peer << "\n" << std::flush;
        cpu.start();
    };
    events.failed = [&](const std::string& why) {
        std::lock_guard<std::mutex> lock(print_mutex);
        std::cerr << "tcpip-perf: error - " << why << "\n";
    };
    // --tcp-log: each stream's log read as its test ends, written when the test is over. (As
    // the threaded server's, except that a sender's log ends at the test's end with its last
    // blocks possibly unacknowledged: here the stack runs in this loop, which cannot wait.)
    std::vector<TcpLogSnapshot> logs;
    if (perf.tcp_log) {
        events.stream_ending = [&](int fd) {
            std::lock_guard<std::mutex> lock(print_mutex);
            if (Runtime* runtime = Runtime::owner(fd)) {
                if (auto log = runtime->tcp_log(fd)) logs.push_back(std::move(*log));
            }
        };
    }
    events.finished = [&](bool we_sent, const iperf::TestResults& ours, const iperf::TestResults& client) {
        std::lock_guard<std::mutex> lock(print_mutex);
        reports.finish(ours, we_sent);
        print_summary(we_sent, ours, client);
        if (perf.tcp_log) {
            write_tcp_log_csv(*perf.tcp_log, logs);
            logs.clear();
        }
    };
    // One eventfd per shard's loop (none with one shard: nothing else wakes it).
    std::vector<int> wake;
    for (std::size_t k = 0; shards > 1 && k < shards; ++k) {
        const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd < 0) {
            std::cerr << "tcpip-perf: eventfd: " << std::strerror(errno) << "\n";
            return 1;
        }
        wake.push_back(fd);
    }
    struct Closer {
        std::vector<int>& fds;
        ~Closer() {
            for (int fd : fds) ::close(fd);
        }
    } closer{wake};
    auto wake_all = [&] {
        for (int fd : wake) ::eventfd_write(fd, 1);
    };
    if (shards > 1) events.changed = wake_all;

    PollServer server(Runtime::system_clock(), PollServer::Measure{[&] { return cpu.percent(); }}, events, perf.test.congestion);
    std::vector<Runtime*> runtimes;
    for (std::size_t k = 0; shards > 1 && k < shards; ++k) runtimes.push_back(&host.shard(k));
    if (const std::string error = server.open(perf.port, runtimes); !error.empty()) {
        std::cerr << "tcpip-perf: " << error << "\n";
        return 1;
    }
    auto banner = [&](std::size_t test) {
        std::lock_guard<std::mutex> lock(print_mutex);
        std::cout << "-----------------------------------------------------------\n"
                  << "Server listening on " << perf.port << " (test #" << test << ", run to completion";
        if (shards > 1) std::cout << ", " << shards << " shards";
        std::cout << ")\n-----------------------------------------------------------\n" << std::flush;
    };
    banner(1);
    const Duration timeout = Duration::micros(static_cast<std::int64_t>(perf.control_timeout * 1e6));
    std::atomic<bool> done{false};  // -1: the test is over, every loop ends

    auto loop = [&](std::size_t k) {
        std::vector<pollfd> fds;
        std::size_t tests_seen = 0;
        while (!host.stop_requested() && !done.load()) {
            fds.clear();
            fds.push_back({host.stop_fd(), POLLIN, 0});
            if (!wake.empty()) fds.push_back({wake[k], POLLIN, 0});
            const std::size_t first_socket = fds.size();
            server.poll_set(fds, k);
            // Wake for the server's own deadline (a receiver settling), the next report (shard 0's
            // loop prints them), and at least every 250 ms for the control timeouts.
            const Instant now = Runtime::system_clock().now();
            Instant wake_at = now + Duration::millis(250);
            std::optional<PollServer::Progress> test;
            if (k == 0) test = server.progress();
            for (const auto at : {server.deadline(k), test ? reports.due(*test) : std::nullopt}) {
                if (at && *at < wake_at) wake_at = *at;
            }
            const int timeout_ms = static_cast<int>(std::clamp<std::int64_t>(((wake_at - now).total_micros() + 999) / 1000, 0, 250));
            const int n = tcpip::poll(fds.data(), fds.size(), timeout_ms);
            if (n < 0 && errno != EINTR) {
                std::cerr << "tcpip-perf: poll: " << std::strerror(errno) << "\n";
                break;
            }
            if (n > 0 && fds[0].revents != 0) break;
            if (first_socket > 1 && fds[1].revents != 0) {
                eventfd_t count = 0;
                ::eventfd_read(wake[k], &count);
            }
            server.serve(k);
            server.expire(timeout);
            server.serve(k);
            if (k != 0) continue;
            test = server.progress();
            {
                std::lock_guard<std::mutex> lock(print_mutex);
                reports.report(*test, Runtime::system_clock().now());
            }
            if (const std::size_t seen = server.tests_done() + server.tests_failed(); seen != tests_seen) {
                tests_seen = seen;
                if (perf.one_off) {
                    done = true;
                    wake_all();
                    break;
                }
                banner(seen + 1);
            }
        }
    };
    if (shards == 1) {
        loop(0);
    } else {
        std::vector<std::thread> threads;
        for (std::size_t k = 0; k < shards; ++k) {
            threads.emplace_back([&, k] {
                host.pin_to_shard(k);
                loop(k);
            });
        }
        for (auto& t : threads) t.join();
    }
    server.terminate();
    return server.tests_failed() > 0 && server.tests_done() == 0 ? 1 : 0;
}

int main(int argc, char** argv) {
    PerfOptions perf;
    bool time_given = false;
    app::Args args("tcpip-perf",
                   "-s [-p PORT] [-1] [-i SECS] [--queues N] [--threads [-J]] [shared options]\n"
                   "       tcpip-perf -c HOST [-p PORT] [-t SECS | -n BYTES | -k BLOCKS] [-l LEN] [-P N] [-R] [-C NAME] [-J] [-i SECS]\n\n"
                   "An iperf3-compatible TCP throughput tester on the tcpip stack (iperf 3.x protocol).\n"
                   "  -s                  server: serve iperf3 clients one after another, in one thread with the stack\n"
                   "                      running inside its poll loop (run to completion, apps/perf/poll_server.h)\n"
                   "  -c HOST             client: test against an iperf3 server at HOST\n"
                   "  -p PORT             port (default 5201)\n"
                   "  -1                  server: serve one test, then exit\n"
                   "  -t SECS             test length (default 10)\n"
                   "  -n BYTES            bytes to send instead of a time (K, M, G suffixes)\n"
                   "  -k BLOCKS           blocks to send instead of a time\n"
                   "  -l LEN              block size (default 128K)\n"
                   "  -P N                parallel streams (default 1, at most 128)\n"
                   "  -R                  reverse: the server sends\n"
                   "  -J                  JSON output\n"
                   "  -i SECS             interval between reports (default 1, 0 for none)\n"
                   "  -C NAME             congestion control for the data streams: cubic (default) or reno\n"
                   "  --control-timeout SECS   how long to wait on the control connection (default 10)\n"
                   "  --threads           server: a thread per data stream and the stack in a thread of its own (what\n"
                   "                      -s was before run to completion); needed for -J on the server\n"
                   "  --one-thread        server: the default server, run to completion (accepted for old scripts)\n"
                   "  --stats             print the stack's statistics at exit\n"
                   "  --queues N          server: a multiqueue TAP, one stack shard per queue, each on its own core and,\n"
                   "                      by default, with a server loop of its own (1..CPUs, default 1); with\n"
                   "                      --stats, one line per shard at the end\n"
                   "  --tcp-log FILE.csv  write the data connections' TCP event logs (cwnd, RTT, windows, segments,\n"
                   "                      retransmissions and their causes) to FILE.csv; scripts/plot_tcp.py draws it\n"
                   "  --tcp-log-entries N the most events kept per connection, the latest (default 200000)\n");
    args.add_flag({"-s", "--server"}, [&] { perf.server = true; });
    args.add_option({"-c", "--client"}, [&](std::string_view v) {
        auto a = Ipv4Address::parse(v);
        if (!a) return "'" + std::string(v) + "' is not an IPv4 address";
        perf.host = *a;
        return std::string();
    });
    args.add_option({"-p", "--port"}, [&](std::string_view v) {
        long long port = 0;
        auto e = app::parse_int(v, 1, 65535, port);
        perf.port = static_cast<std::uint16_t>(port);
        return e;
    });
    args.add_flag({"-1", "--one-off"}, [&] { perf.one_off = true; });
    args.add_flag({"-J", "--json"}, [&] { perf.json = true; });
    args.add_flag({"-R", "--reverse"}, [&] { perf.test.reverse = true; });
    args.add_flag({"--stats"}, [&] { perf.print_stats = true; });
    bool one_thread = false;
    args.add_flag({"--one-thread"}, [&] { one_thread = true; });
    args.add_flag({"--threads"}, [&] { perf.threads = true; });
    std::size_t queues = 1;
    args.add_option({"--queues"}, [&](std::string_view v) { return app::parse_queues(v, queues); });
    args.add_option({"--tcp-log"}, [&](std::string_view v) {
        std::ofstream probe{std::string(v), std::ios::app};  // fail now, not after the test
        if (!probe) return "cannot open '" + std::string(v) + "' for writing";
        perf.tcp_log = std::string(v);
        return std::string();
    });
    args.add_option({"--tcp-log-entries"}, [&](std::string_view v) {
        long long n = 0;
        auto e = app::parse_int(v, 1, 100'000'000, n);
        perf.tcp_log_entries = static_cast<std::size_t>(n);
        return e;
    });
    args.add_option({"-t", "--time"}, [&](std::string_view v) {
        long long t = 0;
        time_given = true;
        auto e = app::parse_int(v, 0, iperf::kMaxDuration, t);
        perf.test.duration = static_cast<int>(t);
        return e;
    });
    args.add_option({"-n", "--bytes"}, [&](std::string_view v) { return parse_size(v, perf.test.bytes); });
    args.add_option({"-k", "--blockcount"}, [&](std::string_view v) { return parse_size(v, perf.test.blocks); });
    args.add_option({"-l", "--length"}, [&](std::string_view v) {
        std::uint64_t len = 0;
        auto e = parse_size(v, len);
        if (e.empty() && (len < 1 || len > iperf::kMaxBlockSize)) e = "block size must be 1..1M";
        perf.test.block_size = static_cast<std::uint32_t>(len);
        return e;
    });
    args.add_option({"-P", "--parallel"}, [&](std::string_view v) {
        long long n = 0;
        auto e = app::parse_int(v, 1, iperf::kMaxStreams, n);
        perf.test.parallel = static_cast<int>(n);
        return e;
    });
    args.add_option({"-i", "--interval"}, [&](std::string_view v) {
        if (v == "0") {
            perf.interval = 0;
            return std::string();
        }
        auto e = app::parse_seconds(v, 0.1, perf.interval);
        return e;
    });
    args.add_option({"-C", "--congestion"}, [&](std::string_view v) {
        // The names TCP_CONGESTION takes, exactly (as Linux's): anything else is refused here.
        if (!congestion_from_name(v)) return "unknown congestion control '" + std::string(v) + "' (cubic or reno)";
        perf.test.congestion = std::string(v);
        return std::string();
    });
    args.add_option({"--control-timeout"}, [&](std::string_view v) { return app::parse_seconds(v, 0.1, perf.control_timeout); });
    app::CommonOptions options = args.parse(argc, argv);
    options.stdout_is_data = perf.json;  // -J: standard output is one JSON document; --trace writes on stderr

    if (perf.server == perf.host.has_value()) args.fail("give exactly one of -s and -c HOST");
    if ((one_thread || perf.threads) && !perf.server) args.fail(std::string(one_thread ? "--one-thread" : "--threads") + " is for the server (-s)");
    if (one_thread && perf.threads) args.fail("give one of --one-thread and --threads");
    // What only the threaded server does: refused, never quietly dropped.
    const bool run_to_completion = perf.server && !perf.threads;
    if (run_to_completion && perf.json) args.fail("-J with -s needs --threads (the default server prints text only)");
    if (perf.test.bytes != 0 && perf.test.blocks != 0) args.fail("only one of -n and -k");
    if (perf.test.bytes != 0 || perf.test.blocks != 0) {
        if (time_given) args.fail("only one test end condition (-t, -n, -k) may be given");
        perf.test.duration = 0;
    }

    options.queues = queues;
    if (queues > 1 && !perf.server) args.fail("--queues is for the server (-s)");
    if (auto e = app::check_queues(options); !e.empty()) args.fail(e);
    if (perf.tcp_log) options.stack.tcp_log_entries = perf.tcp_log_entries;
    app::RuntimeHost host("tcpip-perf", options,
                          run_to_completion ? app::RuntimeHost::StackThread::Caller : app::RuntimeHost::StackThread::OwnThread);
    host.stop_on_signals();
    int status = 0;
    if (run_to_completion) {
        status = serve_run_to_completion(perf, host);
    } else if (perf.server) {
        Server server(perf, host);
        if (!server.listen()) return 1;
        status = server.run();
    } else {
        Client client(perf, host);
        status = client.run();
    }
    if (perf.print_stats) host.print_stats(std::cerr);
    return status;
}
