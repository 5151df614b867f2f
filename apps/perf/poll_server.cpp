#include "apps/perf/poll_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <random>
#include <tuple>

#include "stack/socket/socket.h"

namespace tcpip::perf {
namespace {

void set_nonblocking(int fd) { tcpip::fcntl(fd, F_SETFL, tcpip::fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

bool would_block() { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

std::uint32_t total_retrans(int fd) {
    tcp_info ti{};
    socklen_t len = sizeof ti;
    return tcpip::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 ? ti.tcpi_total_retrans : 0;
}

}  // namespace

void configure_stream(int fd, const iperf::TestParams& params, const std::string& fallback_congestion) {
    if (params.nodelay) {
        int one = 1;
        tcpip::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    // -C: the client's choice, sent in the parameters (as iperf3), else the server's own -C.
    const std::string& congestion = params.congestion.empty() ? fallback_congestion : params.congestion;
    if (!congestion.empty()) {
        tcpip::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, congestion.data(), static_cast<socklen_t>(congestion.size()));
    }
    if (params.window > 0) {
        tcpip::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &params.window, sizeof params.window);
        tcpip::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &params.window, sizeof params.window);
    }
}

std::vector<char> make_block(std::size_t size) {
    std::vector<char> block(size);
    std::mt19937 rng(12345);
    for (auto& c : block) c = static_cast<char>(rng());
    return block;
}

namespace {

// A stream's byte count is written by its shard's loop without the lock and read by progress()
// from another thread: relaxed atomic accesses (plain moves on x86), no ordering needed.
std::uint64_t bytes_of(const std::uint64_t& bytes) { return std::atomic_ref<const std::uint64_t>(bytes).load(std::memory_order_relaxed); }
void add_bytes(std::uint64_t& bytes, std::uint64_t n) {
    std::atomic_ref<std::uint64_t>(bytes).store(bytes_of(bytes) + n, std::memory_order_relaxed);
}

}  // namespace

PollServer::PollServer(const Clock& clock, Measure measure, Events events, std::string fallback_congestion)
    : clock_(clock), measure_(std::move(measure)), events_(std::move(events)), fallback_congestion_(std::move(fallback_congestion)) {}

PollServer::~PollServer() { close_all(); }

std::string PollServer::open(std::uint16_t port, const std::vector<Runtime*>& shards) {
    std::lock_guard<std::mutex> lock(mutex_);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(port);
    at.sin_addr.s_addr = htonl(INADDR_ANY);
    shards_.resize(std::max<std::size_t>(shards.size(), 1));
    for (std::size_t k = 0; k < shards_.size(); ++k) {
        const int fd = shards.empty() ? tcpip::socket(AF_INET, SOCK_STREAM, 0) : shards[k]->socket(AF_INET, SOCK_STREAM, 0);
        shards_[k].listener = fd;
        int one = 1;
        if (fd < 0 || tcpip::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            tcpip::bind(fd, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0 || tcpip::listen(fd, 128) != 0) {
            return "listen on port " + std::to_string(port) + ": " + std::strerror(errno);
        }
        set_nonblocking(fd);
    }
    return "";
}

void PollServer::poll_set(std::vector<pollfd>& fds, std::size_t k) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const Shard& shard = shards_[k];
    // The listener is always in the set: tcpip::poll runs the stacks of the sockets it is given,
    // and this shard's stack must run (frames in, timers) whatever the test's phase. It waits
    // for connections only while accept_connections() would take one: one left waiting in the
    // accept queue (a second client while the first says its parameters) would otherwise make
    // every wait return at once.
    const Phase phase = session_.phase();
    const bool accepting = control_ < 0 || phase == Phase::Streams || phase == Phase::Running;
    fds.push_back({shard.listener, static_cast<short>(accepting ? POLLIN : 0), 0});
    if (control_ >= 0 && control_shard_ == k) {
        fds.push_back({control_, static_cast<short>(to_send_.empty() ? POLLIN : POLLIN | POLLOUT), 0});
    }
    for (const Pending& p : shard.pending) fds.push_back({p.fd, POLLIN, 0});
    // The streams while the test runs, and a receiver's while it settles after TEST_END.
    if (phase == Phase::Running || (phase == Phase::Ending && shard.settling && !we_send_)) {
        for (const Stream& s : shard.streams) {
            if (!s.eof) fds.push_back({s.fd, static_cast<short>(we_send_ ? POLLOUT : POLLIN), 0});
        }
    }
}

std::optional<Instant> PollServer::deadline(std::size_t k) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const Shard& shard = shards_[k];
    return shard.settling ? std::optional(shard.settle_until) : std::nullopt;
}

void PollServer::serve(std::size_t k) {
    for (int pass = 0; pass < 64 && step(k); ++pass) {
    }
}

bool PollServer::step(std::size_t k) {
    std::unique_lock<std::mutex> lock(mutex_);
    Shard& shard = shards_[k];
    // What another shard's loop must hear of (Events::changed).
    const auto landmarks = [&] {
        const auto settled = std::count_if(shards_.begin(), shards_.end(), [&](const Shard& s) { return s.settled == starts_; });
        return std::tuple(session_.phase(), tests_done_ + tests_failed_, starts_, settled, control_);
    };
    const auto before = landmarks();

    forget_finished(shard);
    bool progress = accept_connections(k);
    if (control_ >= 0 && control_shard_ == k) progress = read_control() || progress;
    progress = read_cookies(shard) || progress;
    const bool running = session_.phase() == Phase::Running;
    if ((running || session_.phase() == Phase::Ending) && shard.start != starts_) start_streams(shard);
    if (running) {
        lock.unlock();  // the hot path: this shard's streams are its loop's alone
        const bool moved = move_data(shard);
        lock.lock();
        if (moved) {
            shard.last_data = clock_.now();
            progress = true;
        }
    }
    if (session_.phase() == Phase::Ending && shard.settled != starts_ && settle(shard)) {
        end_streams(shard);
        progress = true;
    }
    if (control_ >= 0 && control_shard_ == k) {  // the control connection's loop
        if (session_.phase() == Phase::Ending && all_settled()) {
            end_test();
            progress = true;
        }
        if (session_.phase() == Phase::Results) {
            session_.send_results(results_);
            progress = true;
        }
        progress = write_control() || progress;
        if (to_send_.empty() && (session_.phase() == Phase::Done || session_.phase() == Phase::Failed)) {
            finish_test(shard, session_.phase() == Phase::Done);
            progress = true;
        }
    }
    const bool changed = landmarks() != before;
    lock.unlock();
    if (changed && events_.changed) events_.changed();
    return progress;
}

// A test ended while this shard still held sockets of it (another shard's loop ended it): they
// are closed here, by the loop that owns them.
void PollServer::forget_finished(Shard& shard) {
    const std::size_t test = tests_done_ + tests_failed_;
    if (shard.test == test) return;
    close_shard(shard);
    shard.test = test;
}

// The listener: the first connection is a test's control connection; while that test waits
// for its streams, the next ones are data connections; while it runs, others are turned away
// (ACCESS_DENIED, as iperf_accept); between those, they wait in the accept queue.
bool PollServer::accept_connections(std::size_t k) {
    Shard& shard = shards_[k];
    bool progress = false;
    for (;;) {
        const Phase phase = session_.phase();
        if (control_ >= 0 && phase != Phase::Streams && phase != Phase::Running) return progress;
        const int fd = tcpip::accept(shard.listener, nullptr, nullptr);
        if (fd < 0) return progress;
        progress = true;
        set_nonblocking(fd);
        if (control_ < 0) {
            control_ = fd;
            control_shard_ = k;
            session_ = iperf::ServerSession{};
            last_control_ = clock_.now();
            if (events_.accepted) {
                sockaddr_in peer{};
                socklen_t len = sizeof peer;
                tcpip::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len);
                events_.accepted(Ipv4Address::from_bytes(reinterpret_cast<const std::uint8_t*>(&peer.sin_addr)).to_string() +
                                 ", port " + std::to_string(ntohs(peer.sin_port)));
            }
        } else if (phase == Phase::Streams) {
            shard.pending.push_back(Pending{fd, {}});
        } else {
            deny(fd);
        }
    }
}

bool PollServer::read_control() {
    bool progress = false;
    const Phase before = session_.phase();
    char buf[4096];
    while (session_.phase() != Phase::Done && session_.phase() != Phase::Failed) {
        const ssize_t n = tcpip::recv(control_, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            session_.on_control(std::string_view(buf, static_cast<std::size_t>(n)));
        } else if (n == 0) {
            session_.on_control_closed();
        } else if (!would_block()) {
            session_.fail(std::string("control connection error: ") + std::strerror(errno));
        } else {
            break;
        }
        progress = true;
        last_control_ = clock_.now();
    }
    if (before == Phase::Streams || session_.phase() != Phase::Streams) return progress;
    // CREATE_STREAMS just went out: the data connections follow.
    const iperf::TestParams& p = session_.params();
    we_send_ = p.reverse;
    budgeted_ = p.bytes != 0 || p.blocks != 0;
    budget_ = p.bytes != 0 ? p.bytes : p.blocks * p.block_size;
    if (we_send_) block_ = make_block(p.block_size);
    return true;
}

bool PollServer::read_cookies(Shard& shard) {
    bool progress = false;
    std::vector<Pending> still;
    for (Pending& p : shard.pending) {
        char buf[iperf::kCookieSize];
        const ssize_t n = tcpip::recv(p.fd, buf, iperf::kCookieSize - p.got.size(), MSG_DONTWAIT);
        if (n < 0 && would_block()) {
            still.push_back(std::move(p));
            continue;
        }
        progress = true;
        if (n > 0) p.got.append(buf, static_cast<std::size_t>(n));
        if (n > 0 && p.got.size() < iperf::kCookieSize) {
            still.push_back(std::move(p));
            continue;
        }
        // Another client, or garbage: not one of this test's streams (iperf_tcp_accept).
        if (n <= 0 || !session_.on_stream_cookie(p.got)) {
            deny(p.fd);
            continue;
        }
        configure_stream(p.fd, session_.params(), fallback_congestion_);
        // The stream's id is its place among all the test's streams, on whichever shard.
        shard.streams.push_back(Stream{p.fd, iperf::stream_id(session_.streams() - 1), 0, 0, clock_.now(), false});
    }
    shard.pending = std::move(still);
    if (progress && session_.phase() == Phase::Running && !test_started_) {
        // TEST_RUNNING went: the clock of the test starts.
        test_started_ = true;
        started_ = clock_.now();
        ++starts_;
        if (shards_.size() > 1) number_streams();
    }
    return progress;
}

// With shards, the loops read the streams' cookies in no fixed order, but iperf3 numbers a
// test's streams in the order its client connected them (and matches the results by number).
// The client connects them one after another, and Linux gives consecutive connections to one
// destination ascending ports (__inet_hash_connect steps its per-destination offset), so the
// streams are numbered in the order of their peers' ports. (It could only be wrong if the
// ports wrapped around the end of the ephemeral range within one test.) Under the lock, before
// any byte moves: the loops read a stream's id only under the lock.
void PollServer::number_streams() {
    std::vector<std::pair<std::uint16_t, Stream*>> by_port;
    for (Shard& shard : shards_) {
        for (Stream& s : shard.streams) {
            sockaddr_in peer{};
            socklen_t len = sizeof peer;
            tcpip::getpeername(s.fd, reinterpret_cast<sockaddr*>(&peer), &len);
            by_port.emplace_back(ntohs(peer.sin_port), &s);
        }
    }
    std::sort(by_port.begin(), by_port.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 0; i < by_port.size(); ++i) by_port[i].second->id = iperf::stream_id(i);
}

// The test runs: this shard's streams start counting from now (their retransmissions too), and a
// data connection still saying its cookie here is not one of this test's.
void PollServer::start_streams(Shard& shard) {
    shard.start = starts_;
    for (Stream& s : shard.streams) {
        s.retrans_base = total_retrans(s.fd);
        s.last_read = started_;
    }
    for (const Pending& p : shard.pending) deny(p.fd);
    shard.pending.clear();
    shard.last_data = started_;
    shard.settling = false;
    shard.block_offset = shard.block_len = 0;
    if (!we_send_) shard.buffer.resize(std::max<std::size_t>(session_.params().block_size, 256 * 1024));
}

// Running: a receiver reads whatever has arrived; a sender writes blocks while the socket takes
// them (and the -n/-k budget, shared by every shard's streams, lasts). Without the lock: only
// this shard's streams, its buffer and block place, and what is fixed while the test runs.
bool PollServer::move_data(Shard& shard) {
    bool progress = false;
    for (Stream& s : shard.streams) {
        while (!s.eof) {
            if (!we_send_) {
                const ssize_t n = tcpip::recv(s.fd, shard.buffer.data(), shard.buffer.size(), MSG_DONTWAIT);
                if (n > 0) {
                    add_bytes(s.bytes, static_cast<std::uint64_t>(n));
                    s.last_read = clock_.now();
                } else if (n == 0 || !would_block()) {
                    s.eof = true;  // the client closed its side (or reset it)
                } else {
                    break;
                }
                progress = true;
                continue;
            }
            if (shard.block_offset == shard.block_len) {  // the block is out: the next one
                shard.block_offset = 0;
                shard.block_len = block_.size();
                if (budgeted_) {  // take up to a block from the budget
                    std::uint64_t left = budget_.load(std::memory_order_relaxed);
                    do {
                        shard.block_len = static_cast<std::size_t>(std::min<std::uint64_t>(left, block_.size()));
                    } while (!budget_.compare_exchange_weak(left, left - shard.block_len, std::memory_order_relaxed));
                }
                if (shard.block_len == 0) {
                    s.eof = true;
                    break;
                }
            }
            const ssize_t n = tcpip::send(s.fd, block_.data() + shard.block_offset, shard.block_len - shard.block_offset,
                                          MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                shard.block_offset += static_cast<std::size_t>(n);
                add_bytes(s.bytes, static_cast<std::uint64_t>(n));
                s.last_read = clock_.now();
                progress = true;
            } else if (n < 0 && !would_block()) {
                s.eof = true;
                progress = true;
            } else {
                break;
            }
        }
    }
    return progress;
}

// After TEST_END, a receiver reads what is still on its way: true once this shard's streams have
// settled (no byte for kQuiet, every stream at its end, or kSettleAtMost since TEST_END); a
// sender is done at once.
bool PollServer::settle(Shard& shard) {
    if (we_send_) return true;
    const Instant now = clock_.now();
    if (!shard.settling) {
        shard.settling = true;
        shard.give_up = now + kSettleAtMost;
        shard.settle_until = now + kQuiet;
    }
    bool all_ended = true;
    for (Stream& s : shard.streams) {
        while (!s.eof) {
            const ssize_t n = tcpip::recv(s.fd, shard.buffer.data(), shard.buffer.size(), MSG_DONTWAIT);
            if (n < 0 && would_block()) break;
            if (n <= 0) {
                s.eof = true;
                break;
            }
            add_bytes(s.bytes, static_cast<std::uint64_t>(n));
            s.last_read = now;
            shard.settle_until = std::min(now + kQuiet, shard.give_up);
        }
        all_ended = all_ended && s.eof;
    }
    if (!all_ended && now < shard.settle_until) return false;
    shard.settling = false;
    return true;
}

// This shard's streams are over: measured into the results and closed.
void PollServer::end_streams(Shard& shard) {
    for (const Stream& s : shard.streams) {
        iperf::StreamResult sr;
        sr.id = s.id;
        sr.bytes = static_cast<std::int64_t>(s.bytes);
        sr.retransmits = we_send_ ? static_cast<std::int64_t>(total_retrans(s.fd) - s.retrans_base) : -1;
        // Milliseconds of the stack's clock: see the header.
        sr.end_time = std::round(static_cast<double>((s.last_read - started_).total_micros()) / 1000.0) / 1000.0;
        results_.streams.push_back(sr);
    }
    for (Stream& s : shard.streams) {
        if (events_.stream_ending) events_.stream_ending(s.fd);
        tcpip::close(s.fd);
    }
    shard.streams.clear();
    shard.settled = starts_;
}

bool PollServer::all_settled() const {
    return std::all_of(shards_.begin(), shards_.end(), [&](const Shard& s) { return s.settled == starts_; });
}

// Every shard's streams are measured and closed: the process's CPU use joins them, and
// EXCHANGE_RESULTS goes.
void PollServer::end_test() {
    if (measure_.cpu) {
        const auto cpu = measure_.cpu();
        results_.cpu_total = cpu[0];
        results_.cpu_user = cpu[1];
        results_.cpu_system = cpu[2];
    }
    results_.sender_has_retransmits = we_send_ ? 1 : -1;
    std::sort(results_.streams.begin(), results_.streams.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    session_.end_test();
}

bool PollServer::write_control() {
    to_send_ += session_.take_output();
    bool progress = false;
    while (!to_send_.empty()) {
        const ssize_t n = tcpip::send(control_, to_send_.data(), to_send_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && !would_block()) {
                to_send_.clear();
                session_.fail("cannot send on the control connection");
            }
            break;
        }
        to_send_.erase(0, static_cast<std::size_t>(n));
        progress = true;
    }
    return progress;
}

void PollServer::expire(Duration timeout) {
    std::lock_guard<std::mutex> lock(mutex_);
    const Phase phase = session_.phase();
    if (control_ < 0 || phase == Phase::Done || phase == Phase::Failed) return;
    const Instant now = clock_.now();
    if (phase != Phase::Running) {
        if (now - last_control_ > timeout) session_.fail("timed out waiting on the control connection");
        return;
    }
    Instant last_data = started_;
    for (const Shard& shard : shards_) last_data = std::max(last_data, shard.last_data);
    const int duration = session_.params().duration;
    if ((duration > 0 && now - started_ > Duration::seconds(duration + 5)) || (duration == 0 && now - last_data > timeout)) {
        session_.fail("the client never ended the test");
    }
}

void PollServer::terminate() {
    std::lock_guard<std::mutex> lock(mutex_);
    const Phase phase = session_.phase();
    if (control_ >= 0 && phase != Phase::Done && phase != Phase::Failed) {
        const std::uint8_t bye = iperf::state_byte(iperf::State::ServerTerminate);
        tcpip::send(control_, &bye, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        session_.fail("interrupted: SERVER_TERMINATE sent");
        if (events_.failed) events_.failed(session_.error());
    }
    close_everything();
}

PollServer::Progress PollServer::progress() const {
    std::lock_guard<std::mutex> lock(mutex_);
    Progress p;
    p.running = session_.phase() == Phase::Running;
    p.started = started_;
    p.we_send = we_send_;
    for (const Shard& shard : shards_) {
        for (const Stream& s : shard.streams) p.streams.push_back({s.fd, s.id, bytes_of(s.bytes)});
    }
    std::sort(p.streams.begin(), p.streams.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return p;
}

void PollServer::finish_test(Shard& shard, bool ok) {
    if (ok) {
        ++tests_done_;
        if (events_.finished) events_.finished(we_send_, results_, session_.client_results());
        if (!session_.warning().empty() && events_.failed) events_.failed(session_.warning());
    } else {
        ++tests_failed_;
        if (events_.failed) events_.failed(session_.error());
    }
    close_shard(shard);  // the other shards close theirs in forget_finished()
    shard.test = tests_done_ + tests_failed_;
    tcpip::close(control_);
    control_ = -1;
    results_ = {};
    test_started_ = false;
}

void PollServer::deny(int fd) {
    const std::uint8_t denied = iperf::state_byte(iperf::State::AccessDenied);
    tcpip::send(fd, &denied, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    tcpip::close(fd);
}

void PollServer::close_shard(Shard& shard) {
    for (Stream& s : shard.streams) tcpip::close(s.fd);
    shard.streams.clear();
    for (const Pending& p : shard.pending) tcpip::close(p.fd);
    shard.pending.clear();
    shard.block_offset = shard.block_len = 0;
    shard.settling = false;
}

void PollServer::close_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    close_everything();
}

void PollServer::close_everything() {
    for (Shard& shard : shards_) {
        close_shard(shard);
        if (shard.listener >= 0) tcpip::close(shard.listener);
        shard.listener = -1;
    }
    if (control_ >= 0) tcpip::close(control_);
    control_ = -1;
}

}  // namespace tcpip::perf
