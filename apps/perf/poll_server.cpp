#include "apps/perf/poll_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <random>

#include "stack/socket/socket.h"

namespace tcpip::perf {
namespace {

using Phase = iperf::ServerSession::Phase;

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

PollServer::PollServer(const Clock& clock, Measure measure, Events events, std::string fallback_congestion)
    : clock_(clock), measure_(std::move(measure)), events_(std::move(events)), fallback_congestion_(std::move(fallback_congestion)) {}

PollServer::~PollServer() { close_all(); }

std::string PollServer::open(std::uint16_t port) {
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(port);
    at.sin_addr.s_addr = htonl(INADDR_ANY);
    listener_ = tcpip::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (listener_ < 0 || tcpip::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        tcpip::bind(listener_, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0 || tcpip::listen(listener_, 128) != 0) {
        return "listen on port " + std::to_string(port) + ": " + std::strerror(errno);
    }
    set_nonblocking(listener_);
    return "";
}

void PollServer::poll_set(std::vector<pollfd>& fds) const {
    // The listener only while accept_connections() would take a connection: one left waiting in
    // the accept queue (a second client while the first says its parameters) would otherwise
    // make every wait return at once.
    const Phase phase = session_.phase();
    if (control_ < 0 || phase == Phase::Streams || phase == Phase::Running) fds.push_back({listener_, POLLIN, 0});
    if (control_ >= 0) fds.push_back({control_, static_cast<short>(to_send_.empty() ? POLLIN : POLLIN | POLLOUT), 0});
    for (const Pending& p : pending_) fds.push_back({p.fd, POLLIN, 0});
    if (session_.phase() == Phase::Running) {
        for (const Stream& s : streams_) {
            if (!s.eof) fds.push_back({s.fd, static_cast<short>(we_send_ ? POLLOUT : POLLIN), 0});
        }
    }
}

void PollServer::serve() {
    for (int pass = 0; pass < 64 && step(); ++pass) {
    }
}

bool PollServer::step() {
    bool progress = accept_connections();
    progress = read_control() || progress;
    progress = read_cookies() || progress;
    progress = move_data() || progress;
    if (session_.phase() == Phase::Ending && settle()) {
        end_test();
        progress = true;
    }
    if (session_.phase() == Phase::Results) {
        session_.send_results(results_);
        progress = true;
    }
    progress = write_control() || progress;
    if (control_ >= 0 && to_send_.empty() && (session_.phase() == Phase::Done || session_.phase() == Phase::Failed)) {
        finish_test(session_.phase() == Phase::Done);
        progress = true;
    }
    return progress;
}

// The listener: the first connection is a test's control connection; while that test waits
// for its streams, the next ones are data connections; while it runs, others are turned away
// (ACCESS_DENIED, as iperf_accept); between those, they wait in the accept queue.
bool PollServer::accept_connections() {
    bool progress = false;
    for (;;) {
        const Phase phase = session_.phase();
        if (control_ >= 0 && phase != Phase::Streams && phase != Phase::Running) return progress;
        const int fd = tcpip::accept(listener_, nullptr, nullptr);
        if (fd < 0) return progress;
        progress = true;
        set_nonblocking(fd);
        if (control_ < 0) {
            control_ = fd;
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
            pending_.push_back(Pending{fd, {}});
        } else {
            deny(fd);
        }
    }
}

bool PollServer::read_control() {
    if (control_ < 0) return false;
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
    else buffer_.resize(std::max<std::size_t>(p.block_size, 256 * 1024));
    return true;
}

bool PollServer::read_cookies() {
    bool progress = false;
    std::vector<Pending> still;
    for (Pending& p : pending_) {
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
        streams_.push_back(Stream{p.fd, iperf::stream_id(streams_.size()), 0, 0, clock_.now(), false});
    }
    pending_ = std::move(still);
    if (progress && session_.phase() == Phase::Running) start_test();
    return progress;
}

// TEST_RUNNING went: the clock of the test starts; a data connection still saying its cookie
// is not one of this test's.
void PollServer::start_test() {
    started_ = last_data_ = clock_.now();
    for (Stream& s : streams_) {
        s.retrans_base = total_retrans(s.fd);
        s.last_read = started_;
    }
    for (const Pending& p : pending_) deny(p.fd);
    pending_.clear();
}

// Running: a receiver reads whatever has arrived; a sender writes blocks while the socket takes
// them (and the -n/-k budget lasts).
bool PollServer::move_data() {
    if (session_.phase() != Phase::Running) return false;
    bool progress = false;
    for (Stream& s : streams_) {
        while (!s.eof) {
            if (!we_send_) {
                const ssize_t n = tcpip::recv(s.fd, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
                if (n > 0) {
                    s.bytes += static_cast<std::uint64_t>(n);
                    s.last_read = last_data_ = clock_.now();
                } else if (n == 0 || !would_block()) {
                    s.eof = true;  // the client closed its side (or reset it)
                } else {
                    break;
                }
                progress = true;
                continue;
            }
            if (block_offset_ == block_len_) {  // the block is out: the next one
                block_offset_ = 0;
                block_len_ = budgeted_ ? static_cast<std::size_t>(std::min<std::uint64_t>(budget_, block_.size())) : block_.size();
                budget_ -= budgeted_ ? block_len_ : 0;
                if (block_len_ == 0) {
                    s.eof = true;
                    break;
                }
            }
            const ssize_t n = tcpip::send(s.fd, block_.data() + block_offset_, block_len_ - block_offset_, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                block_offset_ += static_cast<std::size_t>(n);
                s.bytes += static_cast<std::uint64_t>(n);
                s.last_read = last_data_ = clock_.now();
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

// After TEST_END, a receiver reads what is still on its way: true once it has settled (no byte
// for kQuiet, every stream at its end, or kSettleAtMost since TEST_END); a sender is done at once.
bool PollServer::settle() {
    if (we_send_) return true;
    const Instant now = clock_.now();
    if (!settling_) {
        settling_ = true;
        give_up_ = now + kSettleAtMost;
        settle_until_ = now + kQuiet;
    }
    bool all_ended = true;
    for (Stream& s : streams_) {
        while (!s.eof) {
            const ssize_t n = tcpip::recv(s.fd, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
            if (n < 0 && would_block()) break;
            if (n <= 0) {
                s.eof = true;
                break;
            }
            s.bytes += static_cast<std::uint64_t>(n);
            s.last_read = now;
            settle_until_ = std::min(now + kQuiet, give_up_);
        }
        all_ended = all_ended && s.eof;
    }
    if (!all_ended && now < settle_until_) return false;
    settling_ = false;
    return true;
}

// The test is over: the streams are measured and closed, EXCHANGE_RESULTS goes.
void PollServer::end_test() {
    results_ = measure_results();
    for (Stream& s : streams_) tcpip::close(s.fd);
    streams_.clear();
    session_.end_test();
}

iperf::TestResults PollServer::measure_results() const {
    iperf::TestResults r;
    if (measure_.cpu) {
        const auto cpu = measure_.cpu();
        r.cpu_total = cpu[0];
        r.cpu_user = cpu[1];
        r.cpu_system = cpu[2];
    }
    r.sender_has_retransmits = we_send_ ? 1 : -1;
    for (const Stream& s : streams_) {
        iperf::StreamResult sr;
        sr.id = s.id;
        sr.bytes = static_cast<std::int64_t>(s.bytes);
        sr.retransmits = we_send_ ? static_cast<std::int64_t>(total_retrans(s.fd) - s.retrans_base) : -1;
        // Milliseconds of the stack's clock: see the header.
        sr.end_time = std::round(static_cast<double>((s.last_read - started_).total_micros()) / 1000.0) / 1000.0;
        r.streams.push_back(sr);
    }
    return r;
}

bool PollServer::write_control() {
    if (control_ < 0) return false;
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
    const Phase phase = session_.phase();
    if (control_ < 0 || phase == Phase::Done || phase == Phase::Failed) return;
    const Instant now = clock_.now();
    if (phase != Phase::Running) {
        if (now - last_control_ > timeout) session_.fail("timed out waiting on the control connection");
        return;
    }
    const int duration = session_.params().duration;
    if ((duration > 0 && now - started_ > Duration::seconds(duration + 5)) || (duration == 0 && now - last_data_ > timeout)) {
        session_.fail("the client never ended the test");
    }
}

void PollServer::terminate() {
    const Phase phase = session_.phase();
    if (control_ >= 0 && phase != Phase::Done && phase != Phase::Failed) {
        const std::uint8_t bye = iperf::state_byte(iperf::State::ServerTerminate);
        tcpip::send(control_, &bye, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        session_.fail("interrupted: SERVER_TERMINATE sent");
        if (events_.failed) events_.failed(session_.error());
    }
    close_all();
}

void PollServer::progress(std::vector<StreamProgress>& out) const {
    out.clear();
    for (const Stream& s : streams_) out.push_back({s.fd, s.id, s.bytes});
}

void PollServer::finish_test(bool ok) {
    if (ok) {
        ++tests_done_;
        if (events_.finished) events_.finished(we_send_, results_, session_.client_results());
        if (!session_.warning().empty() && events_.failed) events_.failed(session_.warning());
    } else {
        ++tests_failed_;
        if (events_.failed) events_.failed(session_.error());
    }
    for (Stream& s : streams_) tcpip::close(s.fd);
    streams_.clear();
    for (const Pending& p : pending_) tcpip::close(p.fd);
    pending_.clear();
    tcpip::close(control_);
    control_ = -1;
    block_offset_ = block_len_ = 0;
    settling_ = false;
}

void PollServer::deny(int fd) {
    const std::uint8_t denied = iperf::state_byte(iperf::State::AccessDenied);
    tcpip::send(fd, &denied, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    tcpip::close(fd);
}

void PollServer::close_all() {
    for (Stream& s : streams_) tcpip::close(s.fd);
    streams_.clear();
    for (const Pending& p : pending_) tcpip::close(p.fd);
    pending_.clear();
    if (control_ >= 0) tcpip::close(control_);
    if (listener_ >= 0) tcpip::close(listener_);
    control_ = listener_ = -1;
}

}  // namespace tcpip::perf
