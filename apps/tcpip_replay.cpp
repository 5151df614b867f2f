// tcpip-replay: replays a capture against the stack and says whether the stack still does exactly
// what it did when the capture was made.
//
//   tcpip-replay --app echo|httpd|perf-server [--port N] [--seed N] [--no-pacing] [--trace]
//                [--ip ADDR/PREFIX] [--mac MAC] CAPTURE.pcap
//
// The capture is one that an app wrote with --pcap (and --seed N, --no-offload, and for TCP
// transfers --no-pacing, given to the replay too), with a peer on the other side of the TAP. The replay builds the same Stack, seeded the same, on a ManualClock and a
// QueueDevice (no TAP, no thread, no real time), runs the app's own logic on it (see App below),
// and plays the capture: each frame of the peer's (any frame whose Ethernet source is
// not --mac) goes in at its recorded time, every timer runs at its own deadline in between, and the
// app serves after each step, as tcpip-echo's loop does after each tcpip::poll. The peer's frames
// that the stack received in one batch carry one timestamp in the capture; they go in together.
//
// What the stack sends is compared with the capture's frames of ours, in order: between two of
// the peer's batches, the replay must send exactly the frames of ours that the capture holds there,
// headers and payloads byte for byte, checksums recomputed on both sides (a capture made with
// checksum offload holds partial ones), TCP sequence numbers taken relative to each
// connection's ISN and our TCP timestamps relative to its first TSval (apps/replay/capture.h says
// why, and why a TSval one millisecond off still agrees). The protocol code never reads a clock and every
// random choice comes from the seed, so the only freedom left is none.
//
// Exit status: 0 when every frame agrees ("replay: N frames agree"); 1 at the first difference,
// which is printed with both frames, the field that differs, and the state of every TCP
// connection (its TCB and its last events); 2 for a bad argument or an unreadable capture.
//
// --app echo runs apps/echo/echo_server.h; --app httpd runs apps/http/server.h on the built-in
// page, its clocks taken from the capture (pages whose figures come from the real clock, /stats
// and /connections, do not replay). --app perf-server runs apps/perf/poll_server.h, the server of
// `tcpip-perf -s`, run to completion (the threaded server's streams, --threads, interleave with the stack as the
// host's scheduler decides, which no capture holds); its results' CPU figures are taken from the
// capture (see PerfServerApp).
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/app_common.h"
#include "apps/echo/echo_server.h"
#include "apps/http/server.h"
#include "apps/perf/poll_server.h"
#include "apps/replay/capture.h"
#include "drivers/frame_driver.h"
#include "drivers/memory_link.h"
#include "stack/socket/runtime.h"
#include "stack/socket/socket.h"

namespace {

using namespace tcpip;
using replay::Frame;

// The app whose logic runs on the replayed stack.
class App {
public:
    virtual ~App() = default;
    // Opens its sockets in the default runtime (the replay's); "" or why not.
    virtual std::string open(std::uint16_t port, Runtime& runtime, const Clock& clock) = 0;
    virtual void serve() = 0;  // whatever is ready, without blocking
    // When the app wants to run again by itself (a timer of its own), if it does.
    virtual std::optional<Instant> deadline() const { return std::nullopt; }
};

// tcpip-echo's service (apps/echo/echo_server.h).
class EchoApp final : public App {
public:
    std::string open(std::uint16_t port, Runtime&, const Clock&) override { return server_.open(port); }
    // As tcpip-echo's loop: a connection accepted in one pass is served in the next, at the same
    // instant (its data may have come in the same batch as the ACK that completed it).
    void serve() override {
        for (int pass = 0; pass < 16; ++pass) {
            const Counter accepted = server_.tcp_stats().accepted;
            server_.serve();
            if (server_.tcp_stats().accepted == accepted) break;
        }
    }

private:
    echo::EchoServer server_;
};

// tcpip-httpd's server (apps/http/server.h), serving the built-in page, its clocks the replay's:
// the capture's timestamps are wall-clock microseconds (less the clock phase taken off them,
// given back here), so the Date field comes out as it was.
class HttpdApp final : public App {
public:
    HttpdApp(const app::CommonOptions& options, std::int64_t phase_micros) : options_(options), phase_(phase_micros) {}
    ~HttpdApp() override {
        if (server_) server_->close_all();
        if (listener_ >= 0) tcpip::close(listener_);
    }

    std::string open(std::uint16_t port, Runtime& runtime, const Clock& clock) override {
        sockaddr_in at = app::socket_address(Ipv4Address::any(), port);
        listener_ = tcpip::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        if (listener_ < 0 || tcpip::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            tcpip::bind(listener_, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0 || tcpip::listen(listener_, 256) != 0) {
            return "TCP port " + std::to_string(port) + ": " + std::strerror(errno);
        }
        httpd::set_nonblocking(listener_);
        httpd::ServerEnv env{runtime, [&runtime](std::ostream& os) { runtime.with_stack([&](Stack& s) { s.print_stats(os); return 0; }); }};
        env.now = [&clock] { return httpd::SteadyClock::time_point(std::chrono::microseconds(clock.now().total_micros())); };
        env.wall = [&clock, phase = phase_] { return static_cast<std::time_t>((clock.now().total_micros() + phase) / 1'000'000); };
        server_.emplace(std::move(env), httpd::built_in_page(options_.tap, options_.ip.address, port), std::nullopt);
        return "";
    }
    void serve() override { server_->serve(listener_, nullptr); }

private:
    const app::CommonOptions& options_;
    std::int64_t phase_;
    int listener_ = -1;
    std::optional<httpd::Server> server_;
};

// tcpip-perf -s's server (apps/perf/poll_server.h) on the replay's clock. Its results
// carry the process's CPU use, a measurement no clock or seed reproduces: the replay hands it the
// figures the capture's results messages hold, in order (the one thing it takes from the capture
// rather than computes; poll_server.h lists what is on the wire).
class PerfServerApp final : public App {
public:
    explicit PerfServerApp(std::deque<std::array<double, 3>> recorded_cpu) : cpu_(std::move(recorded_cpu)) {}

    std::string open(std::uint16_t port, Runtime&, const Clock& clock) override {
        server_.emplace(clock, perf::PollServer::Measure{[this] {
            std::array<double, 3> cpu{};
            if (!cpu_.empty()) {
                cpu = cpu_.front();
                cpu_.pop_front();
            }
            return cpu;
        }});
        return server_->open(port);
    }
    void serve() override { server_->serve(); }
    std::optional<Instant> deadline() const override { return server_->deadline(); }

private:
    std::deque<std::array<double, 3>> cpu_;
    std::optional<perf::PollServer> server_;
};

// The CPU figures of the iperf3 results messages that frames of ours carry (length-prefixed JSON
// that starts {"cpu_util_total":, whole in one frame), in order.
std::deque<std::array<double, 3>> recorded_cpu(const std::vector<replay::CapturedFrame>& capture, MacAddress ours) {
    static const std::string kStart = R"({"cpu_util_total":)";
    std::deque<std::array<double, 3>> found;
    for (const replay::CapturedFrame& f : capture) {
        if (replay::source_mac(f.bytes) != ours) continue;
        const std::string bytes(f.bytes.begin(), f.bytes.end());
        const std::size_t at = bytes.find(kStart);
        if (at == std::string::npos || at < 4) continue;
        const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data() + at - 4);
        const std::size_t length = load_be32(p);
        if (length > bytes.size() - at) continue;
        auto json = perf::parse_json(std::string_view(bytes).substr(at, length));
        if (!json) continue;
        auto results = perf::iperf::results_from_json(*json);
        if (results) found.push_back({results->cpu_total, results->cpu_user, results->cpu_system});
    }
    return found;
}

struct Expected {
    std::size_t index;  // in the capture, from 1 as Wireshark numbers frames
    Instant at;
    Frame bytes;
};

class Replay {
public:
    Replay(const app::CommonOptions& options, std::uint64_t seed, Tracer* tracer, std::vector<replay::CapturedFrame> capture,
           App& app)
        : options_(options),
          capture_(std::move(capture)),
          clock_(Instant::from_micros(capture_.empty() ? 0 : capture_.front().micros)),
          device_(options.mac),
          runtime_(device_, InterfaceConfig{options.ip, options.gateway}, config_of(options, tracer), seed, clock_),
          driver_(device_, clock_, [this](Instant) { runtime_.poll(); },
                  [this] {
                      // The stack's next deadline, or the app's own if it comes first.
                      std::optional<Instant> at = runtime_.with_stack([](Stack& s) { return s.poll_at(); });
                      if (const auto app = app_.deadline(); app && (!at || *app < *at)) at = app;
                      return at;
                  }),
          app_(app) {
        Runtime::set_default(&runtime_);
    }
    ~Replay() { Runtime::set_default(nullptr); }

    Runtime& runtime() { return runtime_; }
    const Clock& clock() const { return clock_; }

    // Plays the whole capture; true when everything agreed.
    bool run() {
        std::size_t i = 0;
        while (i < capture_.size()) {
            const replay::CapturedFrame& f = capture_[i];
            if (replay::source_mac(f.bytes) == options_.mac) {
                expected_.push_back(Expected{i + 1, Instant::from_micros(f.micros), f.bytes});
                ++ours_;
                ++i;
                continue;
            }
            // The peer's frames: every step up to their time first (timers, then the app).
            const Instant at = Instant::from_micros(f.micros);
            if (at < driver_.now()) return differ_time(i + 1);
            driver_.advance_to(at, [this] { app_.serve(); }, [this, at](Instant deadline) { return recorded_timer(deadline, at); });
            app_.serve();
            if (!settle()) return false;
            std::size_t batch = inject_batch(i);
            driver_.run();
            // Stack::poll drains the device: after a full batch it reads again at once, at the
            // same `now`, before the app runs. The capture shows which: when the frames of ours
            // up to the peer's next ones are exactly what the stack alone has just sent, that
            // next batch was read in the same poll; when the capture holds more (the app's), the
            // poll had ended.
            while (batch == options_.stack.rx_batch) {
                push_ours(i);
                if (!match()) return false;
                if (i == capture_.size() || !expected_.empty() || !produced_.empty()) break;
                batch = inject_batch(i);
                driver_.run();
            }
            // The app ran after the stack's poll, when the recorded one got to it; what it sent
            // read the clock then (a TSval shows it: on a busy host a poll can take milliseconds).
            // So the app runs at the time the capture gives the first frame of ours that the
            // stack has not sent by itself, unless a deadline comes first or that frame is more
            // than kAppLateness away (then it answers a timer of the app's, or comes later).
            push_ours(i);
            if (!match()) return false;
            if (const auto t = app_time()) driver_.advance_to(*t);
            app_.serve();
            if (!match()) return false;
        }
        // The end: every deadline up to the last frame's time, then nothing may be missing.
        if (!capture_.empty()) {
            driver_.advance_to(Instant::from_micros(capture_.back().micros), [this] { app_.serve(); });
            app_.serve();
        }
        return settle();
    }

    std::size_t ours() const { return ours_; }
    std::size_t theirs() const { return theirs_; }
    std::size_t tick_slips() const { return translation_.tick_slips(); }

private:
    static StackConfig config_of(const app::CommonOptions& options, Tracer* tracer) {
        StackConfig config = options.stack;
        config.tracer = tracer;  // --trace: the replayed stack's decisions, as the app's own --trace shows them
        // The log changes nothing on the wire; at a difference it tells what led there.
        config.tcp_log_entries = std::max<std::size_t>(config.tcp_log_entries, 32);
        return config;
    }

    // The frames of ours from capture_[i] up to the peer's next one are expected; moves i past them.
    void push_ours(std::size_t& i) {
        for (; i < capture_.size() && replay::source_mac(capture_[i].bytes) == options_.mac; ++i) {
            expected_.push_back(Expected{i + 1, Instant::from_micros(capture_[i].micros), capture_[i].bytes});
            ++ours_;
        }
    }

    // When the app should run (see run()), if later than now.
    std::optional<Instant> app_time() {
        for (auto& sent : driver_.take_sent()) produced_.push_back(std::move(sent));
        if (produced_.size() >= expected_.size()) return std::nullopt;
        const Instant stamped = expected_[produced_.size()].at;
        if (stamped <= driver_.now() || stamped - driver_.now() > kAppLateness) return std::nullopt;
        const std::optional<Instant> due = runtime_.with_stack([](Stack& s) { return s.poll_at(); });
        const std::optional<Instant> app = app_.deadline();
        if ((due && *due <= stamped) || (app && *app <= stamped)) return std::nullopt;
        return stamped;
    }

    // Injects the peer's frames that start at capture_[i] and share its timestamp (one read of
    // the recorded stack's from its device); moves i past them. How many.
    std::size_t inject_batch(std::size_t& i) {
        const std::int64_t micros = capture_[i].micros;
        std::size_t n = 0;
        for (; i < capture_.size() && capture_[i].micros == micros && replay::source_mac(capture_[i].bytes) != options_.mac; ++i, ++n) {
            Frame peer = capture_[i].bytes;
            translation_.to_replay(peer);
            driver_.inject(std::move(peer));
            ++theirs_;
        }
        return n;
    }

    // When a timer due at `deadline` ran in the recording. The recorded stack slept until its next
    // deadline and woke a little late (epoll's timeout is in milliseconds, and the host was
    // busy); without timestamps that lateness is invisible, with them a TSval shows it. So when
    // the next frame of ours that the capture holds, and the replay has not yet sent, was stamped
    // after the deadline and not long after it, the timer runs at that frame's time, as it did.
    // And when the capture holds no frame of ours before the peer's next ones (at `peer_at`) and
    // the deadline was only just before them, the recorded stack ran the timer after receiving
    // them: so does the replay.
    Instant recorded_timer(Instant deadline, Instant peer_at) {
        for (auto& sent : driver_.take_sent()) produced_.push_back(std::move(sent));
        if (produced_.size() >= expected_.size()) {
            return peer_at - deadline <= kTimerJustBefore ? peer_at + Duration::micros(1) : deadline;
        }
        const Instant stamped = expected_[produced_.size()].at;
        return stamped > deadline && stamped - deadline <= kTimerLateness ? stamped : deadline;
    }
    static constexpr Duration kTimerLateness = Duration::millis(20);
    static constexpr Duration kAppLateness = Duration::millis(5);
    static constexpr Duration kTimerJustBefore = Duration::millis(20);

    // Compares what the stack sent with the capture's frames of ours, as far as both go.
    bool match() {
        for (auto& sent : driver_.take_sent()) produced_.push_back(std::move(sent));
        while (!produced_.empty() && !expected_.empty()) {
            FrameDriver::SentFrame& sent = produced_.front();
            Expected& want = expected_.front();
            translation_.learn(sent.bytes, want.bytes);
            translation_.to_capture(sent.bytes, &want.bytes);
            replay::recompute_checksums(sent.bytes);
            replay::recompute_checksums(want.bytes);
            if (sent.bytes != want.bytes) return differ(want, &sent);
            produced_.pop_front();
            expected_.pop_front();
            ++agreed_;
        }
        return true;
    }

    // Before the peer's next frame: all that the capture says we sent by then, and nothing more.
    bool settle() {
        if (!match()) return false;
        if (!expected_.empty()) return differ(expected_.front(), nullptr);
        if (!produced_.empty()) {
            FrameDriver::SentFrame& sent = produced_.front();
            translation_.to_capture(sent.bytes);
            std::cout << "replay: DIFFERENT: the replay sent a frame the capture does not hold (at "
                      << seconds(sent.at) << " s, after " << agreed_ << " frames of ours agreed):\n"
                      << "  replay:  " << replay::describe(sent.bytes) << "\n";
            print_connections();
            return false;
        }
        return true;
    }

    bool differ(const Expected& want, const FrameDriver::SentFrame* sent) {
        std::cout << "replay: DIFFERENT at frame " << want.index << " of the capture (at " << seconds(want.at)
                  << " s, ours; " << agreed_ << " frames of ours agreed before it):\n"
                  << "  capture: " << replay::describe(want.bytes) << "\n";
        if (sent == nullptr) {
            std::cout << "  replay:  nothing sent by the time of the peer's next frame\n";
        } else {
            std::cout << "  replay:  " << replay::describe(sent->bytes) << " (at " << seconds(sent->at) << " s)\n";
            // The first byte that differs, a checksum's last (recomputed on both sides, it differs
            // only because another field does).
            std::size_t at = 0;
            auto same = [&](std::size_t i) {
                return want.bytes[i] == sent->bytes[i] || replay::field_at(want.bytes, i).find("checksum") != std::string::npos;
            };
            while (at < want.bytes.size() && at < sent->bytes.size() && same(at)) ++at;
            if (at == std::min(want.bytes.size(), sent->bytes.size()) && want.bytes.size() == sent->bytes.size()) {
                at = 0;
                while (at < want.bytes.size() && want.bytes[at] == sent->bytes[at]) ++at;
            }
            if (at < want.bytes.size() && at < sent->bytes.size()) {
                char text[128];
                std::snprintf(text, sizeof text, "byte %zu (%s): capture 0x%02x, replay 0x%02x", at,
                              replay::field_at(want.bytes, at).c_str(), want.bytes[at], sent->bytes[at]);
                std::cout << "  first difference: " << text << "\n";
            } else {
                std::cout << "  first difference: the length: capture " << want.bytes.size() << " bytes, replay "
                          << sent->bytes.size() << "\n";
            }
        }
        print_connections();
        return false;
    }

    bool differ_time(std::size_t index) {
        std::cout << "replay: DIFFERENT: frame " << index << " of the capture goes back in time\n";
        return false;
    }

    std::string seconds(Instant t) const {
        char text[32];
        const std::int64_t start = capture_.empty() ? 0 : capture_.front().micros;
        std::snprintf(text, sizeof text, "%.6f", static_cast<double>(t.total_micros() - start) / 1e6);
        return text;
    }

    // Every TCP connection of the replayed stack: its TCB in RFC 9293's names, its last events.
    void print_connections() {
        runtime_.with_stack([&](Stack& stack) {
            std::cout << "connections in the replayed stack:\n";
            stack.tcp().for_each_socket([&](const TcpSocket& s) {
                if (s.is_listener()) return;
                const TcpInfo info = stack.tcp().info(&s);
                std::cout << "  " << s.local_address.to_string() << ":" << s.local_port << " <-> "
                          << s.remote_address.to_string() << ":" << s.remote_port << " " << to_string(s.state)
                          << ": snd.una " << (s.snd.una - s.snd.iss) << " snd.nxt " << (s.snd.nxt - s.snd.iss)
                          << " snd.max " << (s.snd.max - s.snd.iss) << " snd.wnd " << s.snd.wnd << " rcv.nxt "
                          << (s.rcv.nxt - s.rcv.irs) << " rcv.wnd " << s.rcv.wnd << " cwnd " << info.cwnd
                          << " ssthresh " << info.ssthresh << " srtt " << info.srtt.total_micros() << " us rto "
                          << info.rto.total_micros() << " us, send buffer " << s.snd.buffer.size()
                          << ", receive buffer " << s.rcv.buffer.size() << "\n";
                const TcpLogSnapshot log = stack.tcp().log_snapshot(&s);
                const std::size_t from = log.entries.size() > 8 ? log.entries.size() - 8 : 0;
                for (std::size_t i = from; i < log.entries.size(); ++i) {
                    const TcpLogEntry& e = log.entries[i];
                    std::cout << "    " << seconds(e.at) << " s " << to_string(e.event);
                    if (e.event == TcpLogEvent::Send || e.event == TcpLogEvent::Retransmit) {
                        std::cout << " seq " << (e.seq - log.iss) << " len " << e.length << " " << e.flags.to_string();
                    } else if (e.event == TcpLogEvent::Receive) {
                        std::cout << " seq " << (e.seq - log.irs) << " len " << e.length << " ack " << (e.ack - log.iss)
                                  << " " << e.flags.to_string();
                    } else if (e.event == TcpLogEvent::State) {
                        std::cout << " " << to_string(e.previous) << " -> " << to_string(e.state);
                    }
                    std::cout << "\n";
                }
            });
            return 0;
        });
    }

    const app::CommonOptions& options_;
    std::vector<replay::CapturedFrame> capture_;
    ManualClock clock_;
    QueueDevice device_;
    Runtime runtime_;
    FrameDriver driver_;
    App& app_;
    replay::SeqTranslation translation_;
    std::deque<Expected> expected_;
    std::deque<FrameDriver::SentFrame> produced_;
    std::size_t ours_ = 0, theirs_ = 0, agreed_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    std::string app_name;
    std::string capture_path;
    std::optional<long long> port;
    app::Args args("tcpip-replay",
                   "--app echo|httpd|perf-server [--port N] [--seed N] [shared options] CAPTURE\n\n"
                   "Replays CAPTURE (a pcap an app wrote with --pcap, --seed N and --no-offload) against the stack\n"
                   "on a virtual clock, running the app's logic, and compares what the stack sends with the capture.\n"
                   "Exits 0 when they agree, 1 at the first difference (printed, with the TCP connections' state).\n"
                   "  --app NAME          the app that made the capture: echo, httpd (its built-in page; not\n"
                   "                      /stats or /connections, whose figures come from the real clock), or\n"
                   "                      perf-server (tcpip-perf -s; its CPU figures are read\n"
                   "                      from the capture)\n"
                   "  --port N            its port (default: the app's own, 7 for echo, 80 for httpd, 5201 for\n"
                   "                      perf-server)\n"
                   "  --seed N            the seed the app ran with (default 0)\n"
                   "  --no-pacing         as the app ran: a capture of a TCP transfer replays only when it was\n"
                   "                      recorded with --no-pacing (when a paced segment leaves depends on\n"
                   "                      when its timer actually fired, which a capture does not hold)\n"
                   "  --trace             the replayed stack's decisions, one line per layer, as the apps' --trace\n"
                   "  --ip, --mac         the app's address and MAC, as when it recorded (defaults as the apps')\n");
    args.add_option({"--app"}, [&](std::string_view v) {
        if (v != "echo" && v != "httpd" && v != "perf-server") return "'" + std::string(v) + "': expected echo, httpd or perf-server";
        app_name = std::string(v);
        return std::string();
    });
    args.add_option({"--port", "-p"}, [&](std::string_view v) {
        long long n = 0;
        auto e = app::parse_int(v, 1, 65535, n);
        port = n;
        return e;
    });
    args.add_positional("CAPTURE", true, [&](std::string_view v) {
        capture_path = std::string(v);
        return std::string();
    });
    app::CommonOptions options = args.parse(argc, argv);
    if (app_name.empty()) args.fail("--app is required (echo, httpd or perf-server)");
    // As tcpip-httpd: a log for each connection (what /connections shows; nothing on the wire).
    if (app_name == "httpd") options.stack.tcp_log_entries = 1000;

    auto capture = replay::read_pcap(capture_path);
    if (!capture) {
        std::cerr << "tcpip-replay: " << capture.error() << "\n";
        return 2;
    }
    // The replay's clock ticks its milliseconds where the recording's did (capture.h, clock_phase).
    const std::int64_t phase = replay::clock_phase(*capture, options.mac);
    for (replay::CapturedFrame& f : *capture) f.micros -= phase;
    std::unique_ptr<App> app;
    if (app_name == "echo") app = std::make_unique<EchoApp>();
    else if (app_name == "perf-server") app = std::make_unique<PerfServerApp>(recorded_cpu(*capture, options.mac));
    else app = std::make_unique<HttpdApp>(options, phase);
    // The seed the recording ran with (0 unless given), said as every app says its seed.
    options.seed = options.seed.value_or(0);
    const std::uint64_t seed = app::stack_seed("tcpip-replay", options);
    app::Tracing tracing("tcpip-replay", options);
    Replay replay(options, seed, tracing.tracer(), std::move(*capture), *app);
    const std::uint16_t default_port = app_name == "echo" ? 7 : app_name == "httpd" ? 80 : perf::iperf::kDefaultPort;
    if (const std::string error = app->open(static_cast<std::uint16_t>(port.value_or(default_port)), replay.runtime(), replay.clock());
        !error.empty()) {
        std::cerr << "tcpip-replay: " << error << "\n";
        return 2;
    }
    const bool agreed = replay.run();
    tracing.flush();
    if (!agreed) return 1;
    std::cout << "replay: " << replay.ours() + replay.theirs() << " frames agree (" << replay.ours() << " ours, "
              << replay.theirs() << " the peer's";
    if (replay.tick_slips() != 0) std::cout << "; " << replay.tick_slips() << " TSvals of ours one tick from the recorded ones";
    std::cout << ")\n";
    return 0;
}
