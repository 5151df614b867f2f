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
// caller's loop when to look again. (iperf3's own server does not wait at all.) The limit of a
// quiet period: a stream whose sender pauses for longer at the very end (seen now and then with
// several streams through a multiqueue TAP, with either server, about one test in ten or twenty;
// its cause, on the kernel's side, is not pinned down) is counted short by what came after; the
// client's count is then larger.
//
// Shards (tcpip-perf -s --queues N, docs/layers/multiqueue.md): one listener on each shard's
// stack, and one loop per shard, each in a thread on its shard's core, calling poll_set(k),
// serve(k) and deadline(k) with its own k. A socket is only ever used by the loop of the shard
// that accepted it, so each stack runs in one thread only: the control connection by its shard's
// loop, each data stream by its own shard's. The kernel spreads an iperf3 test's connections over
// the queues, so the test itself is shared: the session, the cookie the streams must repeat, the
// phase. That state is under one mutex, taken once per pass of a loop; the data moves (the hot
// path) run without it, each shard's streams by its own loop. What one loop changes that another
// must act on (the streams are all in: send; TEST_END came: settle and count; the test is over:
// close) it announces through Events::changed, after which the caller wakes every loop. At
// TEST_END each shard settles, measures and closes its own streams; the control connection's
// shard sends the results once every shard has. With one shard (the default, and the replay)
// this is the one-thread server above, step for step.

#include <poll.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "apps/perf/server_session.h"
#include "stack/core/clock.h"

namespace tcpip {
class Runtime;
}

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
        // With shards: something the other shards' loops must act on happened (see the top of
        // this file); the caller wakes them all. Called without the server's lock held.
        std::function<void()> changed;
        // A data stream's test is over and its socket is about to be closed (still open: its
        // TCP state can be read, as tcpip-perf --tcp-log does). From the loop of the stream's
        // shard, with the server's lock held, before `finished`.
        std::function<void(int fd)> stream_ending;
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

    // Listens on `port`, on the default runtime (tcpip::socket), or with `shards` on each of
    // them, shard k's listener on shards[k]; "" or why not.
    std::string open(std::uint16_t port, const std::vector<Runtime*>& shards = {});
    std::size_t shard_count() const { return shards_.size(); }
    // Shard k's sockets to wait on, with the events that would let serve(k) do something.
    void poll_set(std::vector<pollfd>& fds, std::size_t shard = 0) const;
    // Does whatever can be done on shard k without blocking (every socket tried), until nothing
    // more can.
    void serve(std::size_t shard = 0);
    // When serve(k) has something to do at a time of its own (the end of a receiver's settling),
    // if it has: the caller's loop wakes then even if no socket does.
    std::optional<Instant> deadline(std::size_t shard = 0) const;
    // A control connection silent for longer than `timeout` in the middle of its exchange ends
    // that test; so does a running test that the client never ends (iperf3's server gives up
    // at the test's duration + 5 s; a test by size, when no byte has moved for `timeout`).
    void expire(Duration timeout);
    // Stopping (a signal): a client whose test is under way is told so (SERVER_TERMINATE, as
    // iperf3's server says it), then everything is closed.
    void terminate();
    void close_all();

    // A look at the test, for interval reports: whether one runs (its clock started at
    // TEST_RUNNING), when it started, whether we send, and its streams' progress.
    struct Progress {
        bool running = false;
        Instant started;
        bool we_send = false;
        std::vector<StreamProgress> streams;
    };
    Progress progress() const;

    std::size_t tests_done() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return tests_done_;
    }
    std::size_t tests_failed() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return tests_failed_;
    }

private:
    using Phase = iperf::ServerSession::Phase;
    struct Stream {
        int fd = -1;
        int id = 0;
        std::uint64_t bytes = 0;  // written by its shard's loop only, read by progress() (atomic_ref)
        std::uint32_t retrans_base = 0;
        Instant last_read;
        bool eof = false;
    };
    struct Pending {  // a data connection that has not yet sent its whole cookie
        int fd = -1;
        std::string got;
    };
    // What one shard's loop owns: its listener and the connections it accepted.
    struct Shard {
        int listener = -1;
        std::vector<Pending> pending;
        std::vector<Stream> streams;
        std::vector<char> buffer;                    // a receiver's, for recv
        std::size_t block_offset = 0, block_len = 0; // a sender's place in its current block
        std::size_t test = 0;     // the test (tests_done_ + tests_failed_) its sockets belong to
        std::size_t start = 0;    // the test start (starts_) its streams were set up for
        std::size_t settled = 0;  // the test start whose streams it has measured and closed
        bool settling = false;    // after TEST_END, a receiver reading on until settle_until
        Instant settle_until, give_up;
        Instant last_data;        // when its streams last moved a byte
    };

    bool step(std::size_t k);  // one pass over shard k; true if anything happened
    void forget_finished(Shard& shard);
    bool accept_connections(std::size_t k);
    bool read_control();
    bool read_cookies(Shard& shard);
    void number_streams();
    void start_streams(Shard& shard);
    bool move_data(Shard& shard);  // without the lock
    bool settle(Shard& shard);
    void end_streams(Shard& shard);
    bool all_settled() const;
    void end_test();
    bool write_control();
    void finish_test(Shard& shard, bool ok);
    void deny(int fd);
    void close_shard(Shard& shard);
    void close_everything();

    const Clock& clock_;
    Measure measure_;
    Events events_;
    std::string fallback_congestion_;
    // Everything below is under mutex_, except what a shard's loop does to its own streams in
    // move_data() (its Stream and its buffer and block place), and block_, which is set before
    // the test runs and only read while it does.
    mutable std::mutex mutex_;
    std::vector<Shard> shards_;
    int control_ = -1;
    std::size_t control_shard_ = 0;  // the shard whose loop runs the control connection
    iperf::ServerSession session_;
    std::string to_send_;  // control bytes the socket has not taken yet
    bool we_send_ = false;
    std::vector<char> block_;
    std::atomic<std::uint64_t> budget_{0};  // bytes left to send with -n/-k (0 and !budgeted_: by time)
    bool budgeted_ = false;
    Instant started_, last_control_;
    std::size_t starts_ = 0;       // tests that reached TEST_RUNNING
    bool test_started_ = false;    // the current test has
    iperf::TestResults results_;  // measured at TEST_END, shard by shard, sent once the client's are in
    static constexpr Duration kQuiet = Duration::millis(20), kSettleAtMost = Duration::millis(300);
    std::size_t tests_done_ = 0, tests_failed_ = 0;
};

}  // namespace tcpip::perf
