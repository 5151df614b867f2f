// Seeded simulation: two Stacks over a lossy in-memory link, in virtual time.
//
// Each run makes a few TCP connections from stack A to stack B and sends a stream of pseudo-random
// bytes both ways on each at once, through a FaultInjector on each side that drops, duplicates,
// reorders and corrupts frames. A run passes when every byte arrives exactly (checked by hash and
// length), every connection ends with FIN both ways and is freed, and the packet buffers are all
// back in their pools. Time jumps from one deadline to the next, so a transfer that takes minutes
// of virtual time takes a fraction of a second.
//
// Replay one failing seed: TCPIP_SIM_SEED=17 build/tests/sim/sim_tcp
// More seeds by hand:      TCPIP_SIM_SEEDS=500 build/tests/sim/sim_tcp
#include <gtest/gtest.h>

#include <cstdio>
#include <iostream>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "drivers/fault_injector.h"
#include "drivers/memory_link.h"
#include "drivers/software_offload.h"
#include "stack/core/random.h"
#include "stack/stack.h"

namespace tcpip {
namespace {

const MacAddress kMacA({0x02, 0, 0, 0, 0, 0x0a});
const MacAddress kMacB({0x02, 0, 0, 0, 0, 0x0b});
const Ipv4Address kIpA(10, 0, 0, 1);
const Ipv4Address kIpB(10, 0, 0, 2);
constexpr std::uint16_t kPort = 5001;

// The byte at position i of connection c's stream in one direction: reproducible without storing it.
std::uint8_t stream_byte(std::uint64_t key, std::uint64_t i) {
    return static_cast<std::uint8_t>(mix64(key ^ (i >> 3)) >> (8 * (i & 7)));
}

// FNV-1a, 64 bit: the receiver's running hash of what it got.
struct Fnv {
    std::uint64_t h = 0xcbf29ce484222325ull;
    void add(const std::uint8_t* p, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    }
};

// One direction of one connection: the sender's position and the receiver's hash.
struct Direction {
    std::uint64_t key = 0;
    std::size_t total = 0;
    std::size_t sent = 0;
    bool shut = false;         // the sender called shutdown(write)
    std::size_t received = 0;
    Fnv got, want;
    bool eof = false;
    std::optional<SocketError> error;  // the connection failed: reported by recv
};

struct Connection {
    TcpSocket* client = nullptr;  // on A
    TcpSocket* server = nullptr;  // on B, once accepted
    Direction a_to_b, b_to_a;
    bool closed = false;
};

struct SimOptions {
    std::uint64_t seed = 1;
    double loss = 0;            // per frame, each direction
    double duplicate = 0.01;
    double reorder = 0.02;
    double corrupt = 0.002;     // bit flips: checksums must catch every one
    std::size_t bytes = 10 * 1000 * 1000;  // each way, per connection...
    std::optional<std::size_t> reverse_bytes;  // ...unless B sends A this many
    int connections = 1;
    // TCP segmentation and checksum offload, done in software on the sending side just before the
    // faults (drivers/software_offload.h): TCP sends up to 64 KiB per transmit.
    bool offload = false;
    // SACK (RFC 2018, with RACK-TLP recovery) and timestamps (RFC 7323) on both stacks; off, the
    // stacks recover as NewReno does.
    bool sack = true;
    bool timestamps = true;
    bool pacing = true;         // TCP pacing (StackConfig::tcp_pacing) on both stacks
    // A bottleneck each way: the rate limiter's queue holds `queue_limit` frames, then drops; then a
    // one-way delay. 0: no rate limit (and no delay beyond the link's).
    std::uint64_t rate_bytes_per_second = 0;
    std::size_t queue_limit = 128;
    Duration delay = Duration::zero();
};

struct SimResult {
    bool ok = false;
    std::string failure;
    Duration elapsed;           // virtual time to transfer and close
    std::uint64_t payload = 0;  // bytes delivered, all connections, both ways
    std::uint64_t retransmits = 0, timeouts = 0;
    std::uint64_t sack_recoveries = 0, tlp_probes = 0, spurious_undos = 0;
    std::uint64_t segmented_frames = 0, pieces = 0;  // with offload: large frames and what they became
    std::uint64_t queue_drops = 0;  // frames the bottleneck's full queue dropped, both ways
    std::uint64_t pacing_waits = 0;
};

class Sim {
public:
    explicit Sim(const SimOptions& o)
        : options_(o), link_(kMacA, kMacB, 1500, Duration::millis(1)),
          faults_a_(link_.a(), FaultConfig::tx_only(faults(o)), o.seed * 2 + 1),
          faults_b_(link_.b(), FaultConfig::tx_only(faults(o)), o.seed * 2 + 2),
          offload_a_(faults_a_), offload_b_(faults_b_),
          a_(o.offload ? static_cast<NetDevice&>(offload_a_) : faults_a_, InterfaceConfig{Ipv4Cidr{kIpA, 24}, std::nullopt},
             config(o), o.seed * 7 + 3),
          b_(o.offload ? static_cast<NetDevice&>(offload_b_) : faults_b_, InterfaceConfig{Ipv4Cidr{kIpB, 24}, std::nullopt},
             config(o), o.seed * 7 + 4) {
        // ARP is not what this simulation is about: the neighbours are configured.
        a_.arp().add_static(kIpB, kMacB);
        b_.arp().add_static(kIpA, kMacA);
    }

    SimResult run() {
        SimResult result;
        TcpSocket* listener = b_.tcp().open();
        if (!b_.tcp().bind(listener, Ipv4Address::any(), kPort) || !b_.tcp().listen(listener, 64)) {
            result.failure = "listen failed";
            return result;
        }
        conns_.resize(static_cast<std::size_t>(options_.connections));
        for (std::size_t i = 0; i < conns_.size(); ++i) {
            Connection& c = conns_[i];
            c.a_to_b.key = mix64(options_.seed * 1000 + i * 2);
            c.b_to_a.key = mix64(options_.seed * 1000 + i * 2 + 1);
            c.a_to_b.total = options_.bytes;
            c.b_to_a.total = options_.reverse_bytes.value_or(options_.bytes);
            for (Direction* d : {&c.a_to_b, &c.b_to_a}) {
                std::vector<std::uint8_t> all(d->total);
                for (std::size_t k = 0; k < d->total; ++k) all[k] = stream_byte(d->key, k);
                d->want.add(all.data(), all.size());
            }
            c.client = a_.tcp().open();
            (void)a_.tcp().connect(now_, c.client, kIpB, kPort);
        }

        const Instant give_up = now_ + Duration::seconds(4 * 3600);
        std::uint64_t steps = 0;
        while (!all_closed()) {
            apps(listener);
            if (all_closed()) break;
            auto next = earliest();
            if (!next) {
                result.failure = "stuck: no timer pending and transfers unfinished (" + progress() + ")";
                return result;
            }
            if (*next > now_) now_ = *next;
            if (now_ > give_up || ++steps > 50'000'000) {
                result.failure = "gave up after " + std::to_string(now_.total_millis()) + " ms virtual (" + progress() + ")";
                return result;
            }
            a_.poll(now_);
            b_.poll(now_);
            for (Stack* stack : {&a_, &b_}) {
                if (std::string broken = stack->tcp().check_invariants(); !broken.empty()) {
                    result.failure = "TCP invariant broken at " + std::to_string(now_.total_millis()) + " ms: " + broken;
                    return result;
                }
            }
        }
        result.elapsed = now_ - Instant::zero();
        for (auto& c : conns_) result.payload += c.a_to_b.received + c.b_to_a.received;
        for (auto& c : conns_) {
            for (Direction* d : {&c.a_to_b, &c.b_to_a}) {
                if (d->received != d->total || d->got.h != d->want.h) {
                    result.failure = std::string(d->error ? "connection failed with error " + std::to_string(static_cast<int>(*d->error)) + "; " : "") +
                                     "data mismatch: got " + std::to_string(d->received) + " of " + std::to_string(d->total) +
                                     " bytes, hash " + (d->got.h == d->want.h ? "equal" : "different");
                    return result;
                }
            }
        }
        if (std::getenv("TCPIP_SIM_STATS")) {
            print_stats(std::cerr, "A tcp", a_.stats().tcp);
            print_stats(std::cerr, "B tcp", b_.stats().tcp);
        }
        result.retransmits = a_.stats().tcp.retransmitted_segments + b_.stats().tcp.retransmitted_segments;
        result.timeouts = a_.stats().tcp.timeouts + b_.stats().tcp.timeouts;
        result.sack_recoveries = a_.stats().tcp.sack_recoveries + b_.stats().tcp.sack_recoveries;
        result.tlp_probes = a_.stats().tcp.tlp_probes + b_.stats().tcp.tlp_probes;
        result.spurious_undos = a_.stats().tcp.spurious_undos + b_.stats().tcp.spurious_undos;
        result.segmented_frames = offload_a_.stats().segmented_frames + offload_b_.stats().segmented_frames;
        result.pieces = offload_a_.stats().pieces + offload_b_.stats().pieces;
        result.queue_drops = faults_a_.tx_stats().rate_limited + faults_b_.tx_stats().rate_limited;
        result.pacing_waits = a_.stats().tcp.pacing_waits + b_.stats().tcp.pacing_waits;

        // Let TIME-WAIT end, then everything must be gone: sockets, timers' work, buffers.
        b_.tcp().close(now_, listener);
        const Instant drain_until = now_ + Duration::seconds(120);
        while (now_ < drain_until) {
            auto next = earliest();
            if (!next) break;
            now_ = std::max(now_, *next);
            a_.poll(now_);
            b_.poll(now_);
        }
        if (a_.tcp().socket_count() != 0 || b_.tcp().socket_count() != 0) {
            result.failure = "sockets left after close: A " + std::to_string(a_.tcp().socket_count()) + ", B " +
                             std::to_string(b_.tcp().socket_count());
            return result;
        }
        if (a_.tcp().buffer_bytes() != 0 || b_.tcp().buffer_bytes() != 0) {
            result.failure = "socket buffer memory left after close";
            return result;
        }
        if (a_.pool().buffers_in_use() != 0 || b_.pool().buffers_in_use() != 0) {
            result.failure = "packet buffers still in use: A " + std::to_string(a_.pool().buffers_in_use()) + ", B " +
                             std::to_string(b_.pool().buffers_in_use());
            return result;
        }
        result.ok = true;
        return result;
    }

private:
    static LinkFaults faults(const SimOptions& o) {
        LinkFaults f;
        f.drop = o.loss;
        f.duplicate = o.duplicate;
        f.reorder = o.reorder;
        f.corrupt = o.corrupt;
        f.rate_bytes_per_second = o.rate_bytes_per_second;
        f.queue_limit = o.queue_limit;
        f.delay = o.delay;
        return f;
    }
    static StackConfig config(const SimOptions& o) {
        StackConfig c;
        c.tcp_time_wait = Duration::seconds(10);
        c.tcp_sack = o.sack;
        c.tcp_timestamps = o.timestamps;
        c.tcp_pacing = o.pacing;
        return c;
    }

    std::optional<Instant> earliest() {
        std::optional<Instant> t;
        for (auto candidate : {a_.poll_at(), b_.poll_at()}) {
            if (candidate && (!t || *candidate < *t)) t = candidate;
        }
        return t;
    }

    bool all_closed() const {
        for (auto& c : conns_) if (!c.closed) return false;
        return true;
    }

    std::string progress() const {
        std::ostringstream os;
        for (auto& c : conns_) {
            os << "[" << (c.client ? to_string(c.client->state) : "-") << "/" << (c.server ? to_string(c.server->state) : "-")
               << " a>b " << c.a_to_b.received << " b>a " << c.b_to_a.received << "]";
        }
        return os.str();
    }

    // The applications: push bytes, read bytes, shut down when done, close at end of stream.
    void apps(TcpSocket* listener) {
        while (auto accepted = b_.tcp().accept(listener)) {
            for (auto& c : conns_) {
                if (c.server == nullptr && (*accepted)->remote_port == c.client->local_port) c.server = *accepted;
            }
        }
        for (auto& c : conns_) {
            if (c.closed) continue;
            pump(a_.tcp(), c.client, c.a_to_b, c.b_to_a);
            if (c.server) pump(b_.tcp(), c.server, c.b_to_a, c.a_to_b);
            if (c.a_to_b.eof && c.b_to_a.eof && c.server) {
                a_.tcp().close(now_, c.client);
                b_.tcp().close(now_, c.server);
                c.closed = true;
            }
        }
    }

    void pump(TcpLayer& tcp, TcpSocket* s, Direction& out, Direction& in) {
        std::uint8_t buf[16384];
        while (out.sent < out.total) {
            std::size_t n = std::min(sizeof buf, out.total - out.sent);
            for (std::size_t k = 0; k < n; ++k) buf[k] = stream_byte(out.key, out.sent + k);
            auto wrote = tcp.send(now_, s, Bytes(buf, n));
            if (!wrote && wrote.error() != SocketError::WouldBlock && !in.error) in.error = wrote.error();
            if (!wrote || *wrote == 0) break;
            out.sent += *wrote;
        }
        if (out.sent == out.total && !out.shut && (s->state == TcpState::Established || s->state == TcpState::CloseWait)) {
            out.shut = static_cast<bool>(tcp.shutdown(now_, s, false, true));
        }
        while (!in.eof) {
            auto got = tcp.recv(now_, s, MutableBytes(buf, sizeof buf), false);
            if (!got) {
                if (got.error() != SocketError::WouldBlock) {
                    if (!in.error) in.error = got.error();
                    in.eof = true;  // nothing more will come
                }
                break;
            }
            if (*got == 0) {
                in.eof = true;
                break;
            }
            in.got.add(buf, *got);
            in.received += *got;
        }
    }

    SimOptions options_;
    MemoryLink link_;
    FaultInjector faults_a_, faults_b_;
    SoftwareOffload offload_a_, offload_b_;
    Stack a_, b_;
    Instant now_;
    std::vector<Connection> conns_;
};

std::string replay_hint(std::uint64_t seed) {
    return "replay with: TCPIP_SIM_SEED=" + std::to_string(seed) + " build/tests/sim/sim_tcp";
}

// The seeds this run covers: TCPIP_SIM_SEED=N for one, TCPIP_SIM_SEEDS=N for 1..N (default 52).
std::vector<std::uint64_t> seeds() {
    if (const char* one = std::getenv("TCPIP_SIM_SEED")) return {std::strtoull(one, nullptr, 10)};
    std::uint64_t n = 52;
    if (const char* many = std::getenv("TCPIP_SIM_SEEDS")) n = std::strtoull(many, nullptr, 10);
    std::vector<std::uint64_t> v;
    for (std::uint64_t s = 1; s <= n; ++s) v.push_back(s);
    return v;
}

constexpr double kLossRates[] = {0.0, 0.01, 0.05, 0.20};

TEST(TcpSimulation, TransfersCompleteUnderFaults) {
    struct Row {
        double loss;
        int runs = 0;
        double goodput_sum = 0;  // Mbit/s of virtual time
        std::uint64_t retransmits = 0, timeouts = 0;
    };
    std::vector<Row> rows;
    for (double loss : kLossRates) rows.push_back(Row{loss});
    for (std::uint64_t seed : seeds()) {
        SimOptions o;
        o.seed = seed;
        const std::size_t which = seed % 4;
        o.loss = kLossRates[which];
        o.connections = seed % 3 == 0 ? 3 : 1;  // every third run: several connections at once
        o.offload = (seed / 4) % 2 == 1;        // half the runs at each loss rate: with TSO
        o.sack = (seed / 8) % 2 == 0;           // and, crossed with that, half with SACK off
        o.timestamps = (seed / 16) % 2 == 0;    // and a half with timestamps off
        SimResult r = Sim(o).run();
        ASSERT_TRUE(r.ok) << "seed " << seed << " (loss " << o.loss << ", " << o.connections << " connections"
                          << (o.offload ? ", offload" : "") << (o.sack ? "" : ", no SACK")
                          << (o.timestamps ? "" : ", no timestamps") << "): " << r.failure << "\n" << replay_hint(seed);
        Row& row = rows[which];
        ++row.runs;
        row.goodput_sum += static_cast<double>(r.payload) * 8 / r.elapsed.seconds_f() / 1e6;
        row.retransmits += r.retransmits;
        row.timeouts += r.timeouts;
    }
    std::printf("\n  loss   runs   goodput (Mbit/s, virtual time, avg)   retransmits   timeouts\n");
    for (const Row& row : rows) {
        if (row.runs == 0) continue;
        std::printf("  %4.0f%%  %4d   %10.1f                            %8llu   %8llu\n", row.loss * 100, row.runs,
                    row.goodput_sum / row.runs, static_cast<unsigned long long>(row.retransmits),
                    static_cast<unsigned long long>(row.timeouts));
    }
}

// SACK with RACK-TLP against NewReno on the same seeded paths (1 % and 5 % loss, no other fault
// but a little reordering): every byte arrives either way, and SACK recovers with fewer timeouts
// and in less virtual time, summed over the seeds (one seed may be luckier without).
TEST(TcpSimulation, SackRecoversFasterThanNewReno) {
    for (double loss : {0.01, 0.05}) {
        Duration time_on, time_off;
        std::uint64_t rto_on = 0, rto_off = 0, recoveries = 0;
        for (std::uint64_t seed = 1; seed <= 6; ++seed) {
            for (bool sack : {true, false}) {
                SimOptions o;
                o.seed = 500 + seed;
                o.loss = loss;
                o.duplicate = 0;
                o.corrupt = 0;
                o.reorder = 0.005;
                o.bytes = 2 * 1000 * 1000;
                o.sack = sack;
                SimResult r = Sim(o).run();
                ASSERT_TRUE(r.ok) << "seed " << o.seed << " loss " << loss << (sack ? " SACK" : " no SACK") << ": "
                                  << r.failure;
                EXPECT_EQ(r.payload, 2 * o.bytes);
                (sack ? time_on : time_off) += r.elapsed;
                (sack ? rto_on : rto_off) += r.timeouts;
                if (sack) recoveries += r.sack_recoveries;
            }
        }
        std::printf("  loss %2.0f%%: SACK on %7.2f s virtual, %4llu RTOs (%llu SACK recoveries); off %7.2f s, %4llu RTOs\n",
                    loss * 100, time_on.seconds_f(), static_cast<unsigned long long>(rto_on),
                    static_cast<unsigned long long>(recoveries), time_off.seconds_f(),
                    static_cast<unsigned long long>(rto_off));
        EXPECT_GT(recoveries, 0u);
        EXPECT_LT(rto_on, rto_off) << "loss " << loss;
        EXPECT_LT(time_on, time_off) << "loss " << loss;
    }
}

// With offload the senders hand the device segments of many MSS each, and what arrives is the
// same stream: the large frames were really made (and cut), and every byte is there.
TEST(TcpSimulation, OffloadSendsLargeSegments) {
    SimOptions o;
    o.seed = 1000;
    o.loss = 0.01;
    o.offload = true;
    o.bytes = 4 * 1000 * 1000;
    SimResult r = Sim(o).run();
    ASSERT_TRUE(r.ok) << r.failure;
    EXPECT_GT(r.segmented_frames, 100u);
    // Each large frame became at least two MSS-sized ones (1460 bytes on this link). (ACK clocking
    // frees about two segments' worth of window per ACK, so most large frames are two or three
    // segments long; Linux defers sending to build larger ones, we do not.)
    EXPECT_GE(r.pieces, 2 * r.segmented_frames);
    EXPECT_EQ(r.payload, 2 * o.bytes);
}

// Pacing against a bottleneck with a short queue (bench/tcpip-relay's rate limiter holds 128 frames):
// 200 Mbit/s each way, 20 ms one way, TSO on, so that without pacing each transmit may be a 64 KiB
// burst of 44 frames arriving at the queue at once; 20 MB from A to B. Paced, the sender spreads
// its window over the round trip: the queue overflows in fewer episodes (each a recovery and a cut
// of the window) and the transfer ends sooner; every byte arrives either way. (Without PRR the
// unpaced run dropped ten times as many frames. Since slow start counts every segment an ACK covers
// (doubling per round trip against the receiver's delayed ACKs), both overshoot by the same
// window: paced, one recovery, 150 drops, 1.35 s of virtual time; unpaced, two recoveries, 126
// drops, 3.14 s.)
TEST(TcpSimulation, PacingKeepsASmallBottleneckQueueFromOverflowing) {
    SimResult paced, unpaced;
    for (bool pacing : {true, false}) {
        SimOptions o;
        o.seed = 700;
        o.duplicate = o.reorder = o.corrupt = 0;
        o.offload = true;
        o.rate_bytes_per_second = 25'000'000;
        o.queue_limit = 128;
        o.delay = Duration::millis(20);
        o.bytes = 20 * 1000 * 1000;
        o.reverse_bytes = 1000;
        o.pacing = pacing;
        SimResult r = Sim(o).run();
        ASSERT_TRUE(r.ok) << (pacing ? "paced: " : "unpaced: ") << r.failure;
        EXPECT_EQ(r.payload, o.bytes + 1000);
        (pacing ? paced : unpaced) = r;
    }
    std::printf("  200 Mbit/s, 20 ms, queue 128: paced %.2f s virtual, %llu queue drops, %llu retransmits, "
                "%llu timeouts, %llu pacing waits; unpaced %.2f s, %llu drops, %llu retransmits, %llu timeouts\n",
                paced.elapsed.seconds_f(), static_cast<unsigned long long>(paced.queue_drops),
                static_cast<unsigned long long>(paced.retransmits), static_cast<unsigned long long>(paced.timeouts),
                static_cast<unsigned long long>(paced.pacing_waits), unpaced.elapsed.seconds_f(),
                static_cast<unsigned long long>(unpaced.queue_drops), static_cast<unsigned long long>(unpaced.retransmits),
                static_cast<unsigned long long>(unpaced.timeouts));
    std::printf("  recoveries: paced %llu, unpaced %llu\n", static_cast<unsigned long long>(paced.sack_recoveries),
                static_cast<unsigned long long>(unpaced.sack_recoveries));
    EXPECT_GT(paced.pacing_waits, 0u);
    EXPECT_EQ(unpaced.pacing_waits, 0u);
    EXPECT_GT(paced.queue_drops, 0u);  // the queue is small enough to overflow either way
    EXPECT_LT(paced.sack_recoveries, unpaced.sack_recoveries);
    EXPECT_LT(paced.elapsed * 4, unpaced.elapsed * 3);  // a quarter sooner, at least
}

}  // namespace
}  // namespace tcpip
