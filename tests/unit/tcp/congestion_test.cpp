// Congestion control: CUBIC's window against RFC 9438's formulas, first as an object fed ACKs on an
// ideal path in virtual time, then over a connection in a dialogue.
//
//     W_cubic(t) = C * (t - K)^3 + W_max,   K = cubic_root((W_max - cwnd_epoch) / C)
//     C = 0.4, beta_cubic = 0.7, alpha_cubic = 3 * (1 - beta) / (1 + beta)
#include <gtest/gtest.h>

#include <cmath>

#include "stack/tcp/congestion/congestion.h"
#include "tests/unit/tcp/harness.h"

namespace tcpip::tcp_test {
namespace {

constexpr double kC = 0.4;
constexpr double kBeta = 0.7;
constexpr double kAlpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);

// RFC 9438 equations 1 and 2, in segments and seconds.
struct CubicCurve {
    double w_max, k;
    CubicCurve(double w_max_, double cwnd_epoch) : w_max(w_max_), k(std::cbrt((w_max_ - cwnd_epoch) / kC)) {}
    double operator()(double t) const { return kC * (t - k) * (t - k) * (t - k) + w_max; }
};

// An ideal path for one algorithm object: every byte sent is acknowledged one RTT later, one ACK per
// segment, the ACKs of a round spread evenly over it. Nothing is lost unless the test says so.
struct IdealPath {
    CongestionControl& cc;
    std::uint32_t mss;
    Duration rtt;
    Instant now = Instant::from_millis(1000);
    SeqNum una{1000};

    double cwnd() const { return static_cast<double>(cc.cwnd()) / mss; }
    void ack(std::uint32_t bytes, Duration after) {
        now += after;
        una += bytes;
        (void)cc.on_ack(now, bytes, una, cc.cwnd());
    }
    // One round trip: exactly one window of bytes acknowledged, an MSS per ACK (the last one
    // shorter), over one RTT.
    void round() {
        const std::uint32_t window = cc.cwnd();
        const std::uint32_t acks = (window + mss - 1) / mss;
        for (std::uint32_t sent = 0; sent < window; sent += mss) ack(std::min(mss, window - sent), rtt / acks);
    }
    // Slow start, one MSS per ACK, until the window is `segments`.
    void slow_start_to(std::uint32_t segments) {
        while (cc.cwnd() < segments * mss) ack(mss, Duration::millis(1));
    }
    // A loss detected by three duplicate ACKs with `in_flight` outstanding, then the ACK that ends
    // the recovery, with as much new data in flight as the reduced window allows.
    void loss_and_recovery() {
        const std::uint32_t in_flight = cc.cwnd();
        for (int i = 0; i < 3; ++i) (void)cc.on_dup_ack(una, una + in_flight, in_flight);
        ASSERT_TRUE(cc.in_recovery());
        now += rtt;
        una += in_flight;
        (void)cc.on_ack(now, in_flight, una, in_flight + cc.ssthresh());
        ASSERT_FALSE(cc.in_recovery());
    }
};

TEST(Cubic, IsLinuxsDefaultAndKnownByLinuxsNames) {
    EXPECT_EQ(StackConfig{}.tcp_congestion, CongestionAlgorithm::Cubic);
    EXPECT_EQ(congestion_from_name("cubic"), CongestionAlgorithm::Cubic);
    EXPECT_EQ(congestion_from_name("reno"), CongestionAlgorithm::NewReno);
    EXPECT_EQ(congestion_from_name("bbr"), std::nullopt);
    EXPECT_EQ(congestion_from_name("Cubic"), std::nullopt);  // exact names, as Linux
    EXPECT_EQ(congestion_name(CongestionAlgorithm::Cubic), "cubic");
    EXPECT_EQ(congestion_name(CongestionAlgorithm::NewReno), "reno");
    EXPECT_STREQ(make_congestion_control(CongestionAlgorithm::Cubic, 1000)->name(), "cubic");
}

// RFC 9438 4.6: a loss takes cwnd and ssthresh to beta_cubic = 0.7 times the flight, where NewReno
// halves it.
TEST(Cubic, ReducesByBetaOnLossAndOnTimeout) {
    auto cubic = make_cubic(1000);
    IdealPath path{*cubic, 1000, Duration::millis(100)};
    path.slow_start_to(100);
    ASSERT_TRUE(cubic->on_dup_ack(path.una, path.una + 100000, 100000) == false);
    ASSERT_TRUE(cubic->on_dup_ack(path.una, path.una + 100000, 100000) == false);
    ASSERT_TRUE(cubic->on_dup_ack(path.una, path.una + 100000, 100000));  // the third: fast retransmit
    EXPECT_EQ(cubic->ssthresh(), 70000u);
    EXPECT_EQ(cubic->cwnd(), 100000u);  // unchanged: PRR (RFC 6937) brings it to ssthresh over the recovery

    auto reno = make_new_reno(1000);
    IdealPath reno_path{*reno, 1000, Duration::millis(100)};
    reno_path.slow_start_to(100);
    for (int i = 0; i < 3; ++i) (void)reno->on_dup_ack(reno_path.una, reno_path.una + 100000, 100000);
    EXPECT_EQ(reno->ssthresh(), 50000u);

    // 4.8: a timeout takes cwnd to one segment, with ssthresh by beta_cubic.
    auto timed_out = make_cubic(1000);
    timed_out->on_rto(60000);
    EXPECT_EQ(timed_out->cwnd(), 1000u);
    EXPECT_EQ(timed_out->ssthresh(), 42000u);
}

// The window after a loss at W_max = 1000 segments, RTT 100 ms: it follows W_cubic(t) through the
// concave region (t < K, approaching W_max ever more slowly), the plateau around t = K = 9.1 s, and
// the convex region beyond. At this window Reno would grow far slower (the Reno-friendly estimate
// stays below the curve), so the window is the curve's alone.
TEST(Cubic, WindowFollowsTheCubicCurveThroughBothRegions) {
    auto cc = make_cubic(1000);
    IdealPath path{*cc, 1000, Duration::millis(100)};
    cc->on_rtt(path.rtt, path.rtt);
    path.slow_start_to(1000);
    path.loss_and_recovery();
    ASSERT_EQ(cc->cwnd(), 700000u);
    const CubicCurve w(1000, 700);  // K = cbrt(300 / 0.4) = 9.09 s
    ASSERT_NEAR(w.k, 9.086, 0.001);

    const Instant epoch = path.now;  // the first ACK of congestion avoidance starts the curve
    double worst = 0;
    bool saw_concave = false, saw_convex = false;
    while (path.now - epoch < Duration::seconds(13)) {
        path.round();
        const double t = (path.now - epoch).seconds_f();
        const double error = std::abs(path.cwnd() - w(t));
        worst = std::max(worst, error / w(t));
        EXPECT_LT(error, 0.01 * w(t)) << "at t = " << t << " s: cwnd " << path.cwnd() << ", W_cubic " << w(t);
        if (t < w.k - 0.5) {
            saw_concave = true;
            EXPECT_LT(path.cwnd(), 1000.0) << "concave region: below W_max, at t = " << t;
        }
        if (t > w.k + 0.5) {
            saw_convex = true;
            EXPECT_GT(path.cwnd(), 1000.0) << "convex region: beyond W_max, at t = " << t;
        }
    }
    EXPECT_TRUE(saw_concave && saw_convex);
    EXPECT_GT(path.cwnd(), w(12.5));  // 13 s in: W_cubic(13) = 1024 segments
    RecordProperty("worst_relative_deviation", std::to_string(worst));
}

// Fast convergence (RFC 9438 4.7): a loss before the window regained W_max remembers a lower
// W_max, (1 + beta) / 2 of the window, so the next plateau is there.
TEST(Cubic, FastConvergenceLowersTheNextPlateau) {
    auto cc = make_cubic(1000);
    IdealPath path{*cc, 1000, Duration::millis(100)};
    cc->on_rtt(path.rtt, path.rtt);
    path.slow_start_to(1000);
    path.loss_and_recovery();  // W_max = 1000, cwnd 700
    while (path.cwnd() < 900) path.round();
    const double before = path.cwnd();  // a second loss below W_max
    path.loss_and_recovery();
    const double w_max = before * (1 + kBeta) / 2;
    const double epoch_cwnd = path.cwnd();
    EXPECT_NEAR(epoch_cwnd, before * kBeta, 0.01);
    const CubicCurve w(w_max, epoch_cwnd);
    const Instant epoch = path.now;
    while ((path.now - epoch).seconds_f() < w.k) path.round();
    EXPECT_NEAR(path.cwnd(), w_max, 0.01 * w_max) << "the plateau is the lowered W_max";
    EXPECT_LT(path.cwnd(), before - 50);  // not the window of the second loss
}

// The Reno-friendly region (RFC 9438 4.3): with a small W_max and a short RTT, Reno would grow
// faster than the curve, and CUBIC's window is W_est: alpha_cubic (0.53) segments per RTT until it
// passes the window of the last reduction, then one segment per RTT, as Reno.
TEST(Cubic, RenoFriendlyRegionGrowsAsRenoWould) {
    auto cc = make_cubic(1000);
    IdealPath path{*cc, 1000, Duration::millis(10)};
    cc->on_rtt(path.rtt, path.rtt);
    path.slow_start_to(20);
    path.loss_and_recovery();
    ASSERT_EQ(cc->cwnd(), 14000u);
    const CubicCurve w(20, 14);  // K = cbrt(15) = 2.47 s: far slower than Reno at this RTT
    const Instant epoch = path.now;
    double w_est = 14;
    for (int round = 1; round <= 30; ++round) {
        path.round();
        w_est += w_est >= 20 ? 1.0 : kAlpha;  // one window of ACKs: alpha per RTT, then 1
        const double t = (path.now - epoch).seconds_f();
        EXPECT_NEAR(path.cwnd(), w_est, 0.1 * round / 10 + 0.2) << "round " << round;
        EXPECT_GT(path.cwnd(), w(t)) << "above the curve: the Reno-friendly region, round " << round;
    }
}

// An application that does not fill the window (here a quarter of it in flight) says nothing about
// the path: the window does not grow, in congestion avoidance (RFC 9438 5.8: the curve does not run
// on while the sender is application-limited) nor in slow start (as Linux's tcp_is_cwnd_limited).
TEST(Cubic, ApplicationLimitedAcksDoNotGrowTheWindow) {
    for (auto make : {make_cubic, make_new_reno}) {
        auto cc = make(1000);
        cc->on_rtt(Duration::millis(100), Duration::millis(100));
        Instant now = Instant::from_millis(1000);
        SeqNum una(1000);
        for (int i = 0; i < 100; ++i) {  // slow start, a flight of 2 segments against a window of 10
            now += Duration::millis(10);
            una += 1000;
            (void)cc->on_ack(now, 1000, una, 2000);
        }
        EXPECT_EQ(cc->cwnd(), 10000u) << cc->name();
        IdealPath path{*cc, 1000, Duration::millis(100), now, una};
        path.slow_start_to(40);
        path.loss_and_recovery();
        const std::uint32_t after_loss = cc->cwnd();
        for (int i = 0; i < 1000; ++i) path.ack(1000, Duration::millis(10));
        EXPECT_GT(cc->cwnd(), after_loss) << cc->name() << ": cwnd-limited ACKs grow it";
        const std::uint32_t before = cc->cwnd();
        for (int i = 0; i < 1000; ++i) {  // 10 s with a quarter of the window in flight
            path.now += Duration::millis(10);
            path.una += 1000;
            (void)cc->on_ack(path.now, 1000, path.una, before / 4);
        }
        EXPECT_EQ(cc->cwnd(), before) << cc->name();
    }
}

// ---- HyStart++ (RFC 9406) in CUBIC's first slow start ---------------------------------------------

// One round trip of slow start with an RTT sample per ACK (as timestamps give): every sample is `rtt`.
void sampled_round(IdealPath& path, Duration rtt, std::uint32_t samples_per_round = 1000) {
    const std::uint32_t window = path.cc.cwnd();
    const std::uint32_t acks = window / path.mss;
    for (std::uint32_t i = 0; i < acks; ++i) {
        if (i < samples_per_round) path.cc.on_rtt(rtt, rtt);
        path.ack(path.mss, rtt / acks);
    }
}

constexpr std::uint32_t kNoSsthresh = 0x7fffffff;

TEST(HyStart, ASteadyRttLeavesSlowStartAlone) {
    auto cc = make_cubic(1000);
    IdealPath path{*cc, 1000, Duration::millis(100)};
    for (int round = 0; round < 7; ++round) sampled_round(path, Duration::millis(100));
    EXPECT_EQ(cc->cwnd(), 1280000u) << "10 segments doubled 7 times";
    EXPECT_EQ(cc->ssthresh(), kNoSsthresh);
}

// The round's smallest RTT rises by more than an eighth of the last round's (12.5 ms of 100):
// conservative slow start grows a quarter as fast (1.25 times per round instead of 2), and after 5
// rounds of it congestion avoidance begins, ssthresh = cwnd, with no loss at all. (The algorithm's
// rounds end with the ACK of the data in flight when they began, so they drift from the test's;
// the assertions look at whole rounds.)
TEST(HyStart, ARisingRttEndsSlowStartWithoutALoss) {
    auto cc = make_cubic(1000);
    IdealPath path{*cc, 1000, Duration::millis(100)};
    for (int round = 0; round < 4; ++round) sampled_round(path, Duration::millis(100));
    ASSERT_EQ(cc->cwnd(), 160000u);
    int rounds = 0;
    bool saw_css_growth = false;
    while (cc->ssthresh() == kNoSsthresh && rounds < 10) {
        const std::uint32_t before = cc->cwnd();
        sampled_round(path, Duration::millis(115));  // 115 >= 100 + 12.5
        const double growth = static_cast<double>(cc->cwnd()) / before;
        if (std::abs(growth - 1.25) < 0.01) saw_css_growth = true;
        ++rounds;
    }
    EXPECT_TRUE(saw_css_growth) << "whole rounds of conservative slow start";
    EXPECT_LE(rounds, 8) << "5 rounds of CSS, after at most two to notice";
    ASSERT_NE(cc->ssthresh(), kNoSsthresh);
    EXPECT_LT(cc->cwnd(), 160000u * 8) << "far below what slow start would have reached: " << cc->cwnd();
    EXPECT_NEAR(static_cast<double>(cc->cwnd()), cc->ssthresh(), 0.02 * cc->ssthresh()) << "ssthresh = cwnd";
}

TEST(HyStart, AnRttThatFallsBackIsAFalseAlarm) {
    auto cc = make_cubic(1000);
    IdealPath path{*cc, 1000, Duration::millis(100)};
    for (int round = 0; round < 4; ++round) sampled_round(path, Duration::millis(100));
    sampled_round(path, Duration::millis(120));
    sampled_round(path, Duration::millis(120));  // in CSS by now
    std::uint32_t before = cc->cwnd();
    sampled_round(path, Duration::millis(120));
    EXPECT_NEAR(static_cast<double>(cc->cwnd()) / before, 1.25, 0.01) << "conservative slow start";
    sampled_round(path, Duration::millis(100));  // below the CSS baseline again: slow start
    before = cc->cwnd();
    sampled_round(path, Duration::millis(100));
    EXPECT_NEAR(static_cast<double>(cc->cwnd()) / before, 2.0, 0.01) << "doubling again";
    EXPECT_EQ(cc->ssthresh(), kNoSsthresh);
}

// Without 8 RTT samples per round (Karn's one timed segment per round trip, no timestamps),
// HyStart++ cannot judge the delay and slow start goes on.
TEST(HyStart, NeedsEightSamplesPerRound) {
    auto cc = make_cubic(1000);
    IdealPath path{*cc, 1000, Duration::millis(100)};
    for (int round = 0; round < 4; ++round) sampled_round(path, Duration::millis(100), 1);
    for (int round = 0; round < 6; ++round) sampled_round(path, Duration::millis(150), 1);
    EXPECT_EQ(cc->ssthresh(), kNoSsthresh);
    EXPECT_EQ(cc->cwnd(), 10240000u);
}

// NewReno, for comparison, grows one segment per RTT in congestion avoidance.
TEST(NewReno, CongestionAvoidanceGrowsOneSegmentPerRoundTrip) {
    auto cc = make_new_reno(1000);
    IdealPath path{*cc, 1000, Duration::millis(100)};
    path.slow_start_to(40);
    path.loss_and_recovery();
    ASSERT_EQ(cc->cwnd(), 20000u);
    for (int round = 1; round <= 10; ++round) {
        path.round();
        EXPECT_EQ(cc->cwnd(), (20u + static_cast<std::uint32_t>(round)) * 1000u);
    }
}

// ---- Over a connection: the layer feeds CUBIC ACKs, RTT samples and the injected clock -------------

// The peer acknowledges each segment one RTT (250 ms) after it was sent, except in the round where
// the first segment is lost: it sends a duplicate ACK for each of the others and, after the fast
// retransmission, one cumulative ACK. The congestion window (TCP_INFO) after each later round is
// RFC 9438's: W_cubic(t), or the Reno-friendly W_est where that is larger (near the plateau).
TEST_F(TcpTest, CubicWindowFollowsTheCurveOverAConnection) {
    config.tcp_pacing = false;  // the segments' order and count, all at once (pacing spreads them: pacing_test.cpp)
    constexpr Duration kRtt = Duration::millis(250);
    constexpr int kLossRound = 3;
    established(Handshake().peer_wscale(7).rtt(250));
    EXPECT_EQ(tcp().info(sock).congestion, CongestionAlgorithm::Cubic);
    set_options(at(250), sock, [](TcpUserOptions& o) { o.sndbuf = 16 << 20; });
    const std::vector<std::uint8_t> chunk(65536, 0x5a);
    auto fill = [&] {  // the application keeps the send buffer full
        while (sock->snd.buffer.free() > 0) ASSERT_TRUE(tcp().send(now(), sock, chunk).has_value());
    };
    auto cwnd = [&] { return static_cast<double>(tcp().info(sock).cwnd) / kMss; };
    Instant t = at(250);
    advance(t);
    fill();
    std::uint32_t acked = 0;  // bytes of ours the peer acknowledged
    std::optional<CubicCurve> curve;
    Instant epoch;
    double w_max = 0, w_est = 0;
    int checked = 0;
    for (int round = 0; !curve || (t - epoch).seconds_f() < curve->k + 3; ++round) {
        ASSERT_LT(round, 100);
        advance(t);
        std::vector<Seg> flight(sent_.begin(), sent_.end());
        sent_.clear();
        ASSERT_FALSE(flight.empty()) << "round " << round;
        t = t + kRtt;
        if (round == kLossRound) {
            // A loss at about 80 segments: the first segment of the round is lost.
            w_max = cwnd();
            for (std::size_t i = 1; i < flight.size(); ++i) send(t, seg().seq(peer()).ack(us(acked)).window(65535));
            ASSERT_FALSE(sent_.empty());
            ASSERT_EQ(sent_.front().seq_no, us(acked)) << "fast retransmit of the lost segment";
            acked = flight.back().seq_no + static_cast<std::uint32_t>(flight.back().length) - us();
            sent_.clear();  // the retransmission, and new data the inflated window let out: acknowledged below
            send(t, seg().seq(peer()).ack(us(acked)).window(65535));  // the cumulative ACK: recovery over
            EXPECT_FALSE(sock->snd.cc->in_recovery());
            EXPECT_NEAR(cwnd(), 0.7 * w_max, 1.0) << "beta_cubic";
            fill();
            continue;
        }
        for (const Seg& s : flight) {
            if (s.seq_no + s.length - us() <= acked) continue;
            acked = s.seq_no + static_cast<std::uint32_t>(s.length) - us();
            if (round > kLossRound && !curve) {
                // The first ACK in congestion avoidance anchors the curve at the window it finds.
                epoch = t;
                curve.emplace(w_max, cwnd());
                w_est = cwnd();
            }
            send(t, seg().seq(peer()).ack(us(acked)).window(65535));
        }
        fill();
        if (curve) {
            w_est += w_est >= w_max ? 1.0 : kAlpha;  // a window of ACKs: Reno's growth per RTT (4.3)
            const double expected = std::max((*curve)((t - epoch).seconds_f()), w_est);
            EXPECT_NEAR(cwnd(), expected, 0.02 * expected + 1.0) << "t = " << (t - epoch).seconds_f() << " s";
            ++checked;
        }
    }
    ASSERT_TRUE(curve.has_value());
    EXPECT_GT(w_max, 60);
    EXPECT_GT(checked, 20);
    // The run went past K into the convex region: the window passed W_max, on the curve.
    EXPECT_GT(cwnd(), w_max + 5);
    EXPECT_GT((*curve)((t - epoch).seconds_f()), w_est);
    EXPECT_EQ(stats().tcp.timeouts, 0u);
    sent_.clear();
}

}  // namespace
}  // namespace tcpip::tcp_test
