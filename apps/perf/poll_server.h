// tcpip-perf's server in one thread: the iperf3 protocol of apps/perf/server_session.h driven
// with non-blocking sockets, the data streams read (or written, with -R) in the same thread,
// and every time it reports taken from the stack's clock. `tcpip-perf -s` runs it in a
// tcpip::poll loop with the stack inside that loop (run to completion: a frame, the stack's work
// and the server's read of the data without a thread hand-off), and tcpip-replay --app
// perf-server runs it on a virtual clock: so a capture of one replays, as tcpip-echo's does.
// (tcpip-perf -s --threads gives each stream a thread and the stack one of its own; the stack's
// answers then depend on how the threads interleave, which no capture holds.)
//
// On the wire, the server's results message (send_results) carries two figures that are
// measurements, not protocol:
//   - "cpu_util_total", "cpu_util_user", "cpu_util_system": the process's CPU use over the test
//     (getrusage): no clock or seed gives them, so the replay hands in the recorded ones
//     (Measure::cpu);
//   - each stream's "end_time": when the last byte was read, from the stack's clock, less the
//     test's start (TEST_RUNNING sent), in seconds rounded to the millisecond (iperf3 prints
//     hundredths): it replays, as long as neither instant was within microseconds of a
//     millisecond's edge in the recording.
// Everything else it writes is the protocol's and the seed's.
//
// At TEST_END a receiver still reads what was on its way (the client's last blocks may still be
// in flight behind TEST_END): the test ends when no byte has come for 20 ms of the stack's
// clock, at most 300 ms after TEST_END (as tcpip-perf's threaded server), so deadline() tells the
// caller's loop when to look again.
#pragma once

#include <poll.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "apps/perf/server_session.h"
#include "stack/core/clock.h"

namespace tcpip::perf {

// The data socket options a test's parameters ask for (TCP_NODELAY, TCP_CONGESTION, the window
// as SO_SNDBUF and SO_RCVBUF), as iperf3's server sets them; `fallback_congestion` is the
// server's own -C, used when the client names none.
void configure_stream(int fd, const iperf::TestParams& params, const std::string& fallback_congestion);

// The block a sender writes over and over: random bytes, as iperf3's, from a fixed seed.
std::vector<char> make_block(std::size_t size);

class PollServer {
public:
    struct Measure {
        // The process's CPU use since the test started: total, user, system, in percent.
        std::function<std::array<double, 3>()> cpu;
    };
    // What the server says as a test goes (tcpip-perf prints it; the replay does not).
    struct Events {
        std::function<void(const std::string&)> accepted;  // the control connection's peer
        std::function<void(const std::string&)> failed;    // why a test ended badly
        // A test completed: whether we sent, our results and the client's (matched by stream id).
        std::function<void(bool we_sent, const iperf::TestResults& ours, const iperf::TestResults& client)> finished;
    };
    // A running test's stream, as interval reports need it: its descriptor (for TCP_INFO), its
    // iperf3 id and the bytes it has moved so far.
    struct StreamProgress {
        int fd;
        int id;
        std::uint64_t bytes;
    };

    PollServer(const Clock& clock, Measure measure, Events events = {}, std::string fallback_congestion = {});
    ~PollServer();
    PollServer(const PollServer&) = delete;
    PollServer& operator=(const PollServer&) = delete;

    // Listens on `port`; "" or why not.
    std::string open(std::uint16_t port);
    // The sockets to wait on, with the events that would let serve() do something.
    void poll_set(std::vector<pollfd>& fds) const;
    // Does whatever can be done without blocking (every socket tried), until nothing more can.
    void serve();
    // When serve() has something to do at a time of its own (the end of a receiver's settling),
    // if it has: the caller's loop wakes then even if no socket does.
    std::optional<Instant> deadline() const { return settling_ ? std::optional(settle_until_) : std::nullopt; }
    // A control connection silent for longer than `timeout` in the middle of its exchange ends
    // that test; so does a running test that the client never ends (iperf3's server gives up
    // at the test's duration + 5 s; a test by size, when no byte has moved for `timeout`).
    void expire(Duration timeout);
    // Stopping (a signal): a client whose test is under way is told so (SERVER_TERMINATE, as
    // iperf3's server says it), then everything is closed.
    void terminate();
    void close_all();

    // While a test runs (its clock started at TEST_RUNNING): true, when it started, whether we
    // send, and its streams' progress; false between tests.
    bool running() const { return session_.phase() == iperf::ServerSession::Phase::Running; }
    Instant started() const { return started_; }
    bool we_send() const { return we_send_; }
    void progress(std::vector<StreamProgress>& out) const;

    std::size_t tests_done() const { return tests_done_; }
    std::size_t tests_failed() const { return tests_failed_; }

private:
    struct Stream {
        int fd = -1;
        int id = 0;
        std::uint64_t bytes = 0;
        std::uint32_t retrans_base = 0;
        Instant last_read;
        bool eof = false;
    };
    struct Pending {  // a data connection that has not yet sent its whole cookie
        int fd = -1;
        std::string got;
    };

    bool step();  // one pass; true if anything happened
    bool accept_connections();
    bool read_control();
    bool read_cookies();
    bool move_data();
    bool settle();
    bool write_control();
    void start_test();
    void end_test();
    void finish_test(bool ok);
    iperf::TestResults measure_results() const;
    void deny(int fd);

    const Clock& clock_;
    Measure measure_;
    Events events_;
    std::string fallback_congestion_;
    int listener_ = -1;
    int control_ = -1;
    iperf::ServerSession session_;
    std::string to_send_;  // control bytes the socket has not taken yet
    std::vector<Pending> pending_;
    std::vector<Stream> streams_;
    bool we_send_ = false;
    std::vector<char> block_, buffer_;
    std::size_t block_offset_ = 0, block_len_ = 0;
    std::uint64_t budget_ = 0;  // bytes left to send with -n/-k (0 and !budgeted_: by time)
    bool budgeted_ = false;
    Instant started_, last_control_, last_data_;
    iperf::TestResults results_;  // measured at TEST_END, sent once the client's are in
    bool settling_ = false;       // TEST_END came; a receiver reads on until settle_until_
    Instant settle_until_, give_up_;
    static constexpr Duration kQuiet = Duration::millis(20), kSettleAtMost = Duration::millis(300);
    std::size_t tests_done_ = 0, tests_failed_ = 0;
};

}  // namespace tcpip::perf
