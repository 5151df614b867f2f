// FaultInjector: observed rates match the configuration, runs are reproducible from the seed, and
// each fault does exactly what it says (one bit, real reordering, pacing, holding until due).
//
// Tolerances: with a fixed seed every run is identical, so a tolerance only guards against a seed
// that is unlucky for the model. For n = 100 000 frames and p = 0.1 the count is binomial with
// standard deviation sqrt(n p (1 - p)) ~ 95 frames, i.e. 0.00095 in rate; we allow 0.005 (over 5
// sigma), which a correct injector fails with probability below 1e-6 for any seed, while a bug
// (e.g. applying the rate twice, or to the wrong direction) is far outside it.
#include "drivers/fault_injector.h"

#include <gtest/gtest.h>

#include <bit>

#include "drivers/memory_link.h"
#include "tests/unit/drivers/test_frames.h"

namespace tcpip {
namespace {

using test::frame_seq;
using test::kMacA;
using test::kMacB;
using test::make_packet;
using test::numbered_frame;

constexpr int kManyFrames = 100000;
constexpr double kRateTolerance = 0.005;

struct Delivered {
    std::int64_t at_us;
    std::vector<std::uint8_t> bytes;
    bool operator==(const Delivered&) const = default;
};

struct TxRun {
    std::vector<Delivered> delivered;
    FaultStats stats;
};

// Sends n numbered frames, one every `spacing`, through the tx side of an injector over a
// QueueDevice, then lets time run until nothing is in flight; records what reached the inner
// device and when.
TxRun run_tx(const LinkFaults& faults, std::uint64_t seed, int n, Duration spacing, std::size_t size = 64) {
    QueueDevice inner(kMacA);
    FaultInjector fi(inner, FaultConfig::tx_only(faults), seed);
    PacketPool pool;
    TxRun run;
    auto collect = [&](Instant now) {
        for (auto& f : inner.take_sent()) run.delivered.push_back({now.total_micros(), std::move(f)});
    };
    Instant now = Instant::zero();
    std::vector<Packet> batch;
    // Lets time run to `until`, stopping at every instant the injector asks for, so that each
    // frame is recorded at exactly the time it left.
    auto advance = [&](Instant until) {
        for (int steps = 0; steps < 1000000 && fi.poll_at() && *fi.poll_at() < until; ++steps) {
            now = std::max(now, *fi.poll_at());
            fi.receive(now, pool, batch, 64);
            collect(now);
        }
    };
    for (int i = 0; i < n; ++i) {
        advance(Instant::zero() + spacing * i);
        now = Instant::zero() + spacing * i;
        auto r = fi.transmit(now, make_packet(pool, numbered_frame(static_cast<std::uint32_t>(i), size)));
        EXPECT_TRUE(r.has_value());
        collect(now);
    }
    advance(Instant::from_micros(INT64_MAX / 8));
    EXPECT_EQ(fi.in_flight(), 0u);
    EXPECT_EQ(pool.buffers_in_use(), 0u);
    run.stats = fi.tx_stats();
    return run;
}

std::vector<std::uint32_t> seqs(const TxRun& run) {
    std::vector<std::uint32_t> out;
    for (const auto& d : run.delivered) out.push_back(frame_seq(d.bytes));
    return out;
}

double rate(Counter count, Counter total) { return static_cast<double>(count) / static_cast<double>(total); }

TEST(FaultRng, MappingsArePortableAndInRange) {
    // mt19937_64's 10000th output is fixed by the C++ standard ([rand.predef]).
    std::mt19937_64 reference;
    reference.discard(9999);
    EXPECT_EQ(reference(), 9981545732273789042ULL);
    FaultRng rng(5489);
    for (int i = 0; i < 10000; ++i) {
        double u = rng.unit();
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
        ASSERT_LT(rng.below(7), 7u);
    }
    FaultRng a(1), b(1);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(a.below(1000), b.below(1000));
    EXPECT_FALSE(FaultRng(1).chance(0.0));
    EXPECT_TRUE(FaultRng(1).chance(1.0));
}

TEST(FaultInjector, NoFaultsIsATransparentWrapper) {
    QueueDevice inner(kMacA, 9000);
    FaultInjector fi(inner, FaultConfig{}, 1);
    PacketPool pool;
    EXPECT_EQ(fi.mac(), kMacA);
    EXPECT_EQ(fi.mtu(), 9000u);
    EXPECT_EQ(fi.wait_fd(), -1);
    ASSERT_TRUE(fi.transmit(Instant::zero(), make_packet(pool, numbered_frame(1))));
    auto sent = inner.take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0], numbered_frame(1));
    // The inner device's error comes back for a frame that went through at once.
    inner.fail_next_transmit(DeviceError::WouldBlock);
    auto r = fi.transmit(Instant::zero(), make_packet(pool, numbered_frame(2)));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), DeviceError::WouldBlock);
    EXPECT_EQ(fi.tx_stats().inner_errors, 1u);

    inner.inject(numbered_frame(3));
    auto got = test::receive_all(fi, Instant::zero(), pool);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], numbered_frame(3));
    EXPECT_EQ(fi.poll_at(), std::nullopt);
    EXPECT_EQ(fi.rx_stats().seen, 1u);
    EXPECT_EQ(fi.rx_stats().delivered, 1u);
}

TEST(FaultInjector, DropRateMatchesOverManyFrames) {
    TxRun run = run_tx({.drop = 0.1}, 42, kManyFrames, Duration::micros(10));
    EXPECT_EQ(run.stats.seen, static_cast<Counter>(kManyFrames));
    EXPECT_NEAR(rate(run.stats.dropped, run.stats.seen), 0.1, kRateTolerance);
    EXPECT_EQ(run.delivered.size(), run.stats.seen - run.stats.dropped);
    EXPECT_EQ(run.stats.delivered, run.delivered.size());
    // Survivors keep their order and bytes.
    auto s = seqs(run);
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
    for (const auto& d : run.delivered) ASSERT_EQ(d.bytes, numbered_frame(frame_seq(d.bytes)));
}

TEST(FaultInjector, DuplicateRateMatchesAndCopiesAreExact) {
    TxRun run = run_tx({.duplicate = 0.1}, 43, kManyFrames, Duration::micros(10));
    EXPECT_NEAR(rate(run.stats.duplicated, run.stats.seen), 0.1, kRateTolerance);
    EXPECT_EQ(run.delivered.size(), run.stats.seen + run.stats.duplicated);
    std::size_t repeats = 0;
    for (std::size_t i = 1; i < run.delivered.size(); ++i) {
        if (run.delivered[i].bytes == run.delivered[i - 1].bytes) repeats++;
    }
    EXPECT_EQ(repeats, run.stats.duplicated);  // each copy right behind its original
}

TEST(FaultInjector, CorruptFlipsExactlyOneBitAtTheConfiguredRate) {
    TxRun run = run_tx({.corrupt = 0.1}, 44, kManyFrames, Duration::micros(10));
    EXPECT_NEAR(rate(run.stats.corrupted, run.stats.seen), 0.1, kRateTolerance);
    ASSERT_EQ(run.delivered.size(), static_cast<std::size_t>(kManyFrames));
    std::size_t corrupted = 0;
    std::vector<int> hits_per_byte(64, 0);
    for (std::size_t i = 0; i < run.delivered.size(); ++i) {
        const auto original = numbered_frame(static_cast<std::uint32_t>(i));
        const auto& got = run.delivered[i].bytes;
        ASSERT_EQ(got.size(), original.size());
        int flipped = 0;
        for (std::size_t j = 0; j < got.size(); ++j) {
            int bits = std::popcount(static_cast<unsigned>(got[j] ^ original[j]));
            flipped += bits;
            if (bits != 0) hits_per_byte[j]++;
        }
        ASSERT_LE(flipped, 1) << "frame " << i;
        corrupted += static_cast<std::size_t>(flipped);
    }
    EXPECT_EQ(corrupted, run.stats.corrupted);
    // The flipped byte is uniform over the frame: every position is hit (about 156 times each).
    for (std::size_t j = 0; j < hits_per_byte.size(); ++j) EXPECT_GT(hits_per_byte[j], 80) << "byte " << j;
}

TEST(FaultInjector, ReorderReallyChangesOrder) {
    // With p = 1 the pattern is exact: frame 0 is held, frame 1 overtakes it, frame 2 is held...
    TxRun always = run_tx({.reorder = 1.0}, 1, 6, Duration::micros(100));
    EXPECT_EQ(seqs(always), (std::vector<std::uint32_t>{1, 0, 3, 2, 5, 4}));
    EXPECT_EQ(always.stats.reordered, 3u);
    // A held frame leaves right behind the one that overtook it.
    EXPECT_EQ(always.delivered[0].at_us, 100);
    EXPECT_EQ(always.delivered[1].at_us, 100);
}

TEST(FaultInjector, ReorderRateMatchesOverManyFrames) {
    TxRun run = run_tx({.reorder = 0.1}, 45, kManyFrames, Duration::micros(10));
    // One frame is held at a time and the frame releasing it is never held: p / (1 + p).
    EXPECT_NEAR(rate(run.stats.reordered, run.stats.seen), 0.1 / 1.1, kRateTolerance);
    auto s = seqs(run);
    ASSERT_EQ(s.size(), static_cast<std::size_t>(kManyFrames));
    std::size_t descents = 0;
    for (std::size_t i = 1; i < s.size(); ++i) {
        if (s[i] < s[i - 1]) {
            descents++;
            EXPECT_EQ(s[i] + 1, s[i - 1]) << "a held frame is overtaken by exactly the next frame";
        }
    }
    EXPECT_EQ(descents, run.stats.reordered);
    auto sorted = s;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < sorted.size(); ++i) ASSERT_EQ(sorted[i], i) << "nothing lost or invented";
}

TEST(FaultInjector, HeldFrameLeavesAfterTheReorderTimeoutIfNothingOvertakesIt) {
    QueueDevice inner(kMacA);
    FaultInjector fi(inner, FaultConfig::tx_only({.reorder = 1.0, .reorder_timeout = Duration::millis(3)}), 1);
    PacketPool pool;
    std::vector<Packet> batch;
    ASSERT_TRUE(fi.transmit(Instant::from_millis(1), make_packet(pool, numbered_frame(7))));
    EXPECT_TRUE(inner.take_sent().empty());
    EXPECT_EQ(fi.poll_at(), Instant::from_millis(4));
    fi.receive(Instant::from_millis(4) - Duration::micros(1), pool, batch, 8);
    EXPECT_TRUE(inner.take_sent().empty());
    fi.receive(Instant::from_millis(4), pool, batch, 8);
    auto sent = inner.take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(frame_seq(sent[0]), 7u);
    EXPECT_EQ(fi.tx_stats().reordered, 0u);  // it was never overtaken
}

LinkFaults everything() {
    return {.drop = 0.05, .duplicate = 0.05, .reorder = 0.05, .corrupt = 0.05,
            .delay = Duration::millis(2), .jitter = Duration::millis(1),
            .rate_bytes_per_second = 10'000'000, .burst_bytes = 3000, .queue_limit = 64};
}

TEST(FaultInjector, SameSeedGivesTheSameSequenceDifferentSeedsDiffer) {
    TxRun first = run_tx(everything(), 1234, 5000, Duration::micros(50), 200);
    TxRun again = run_tx(everything(), 1234, 5000, Duration::micros(50), 200);
    TxRun other = run_tx(everything(), 1235, 5000, Duration::micros(50), 200);
    ASSERT_GT(first.delivered.size(), 4000u);
    EXPECT_TRUE(first.delivered == again.delivered) << "the whole sequence, bytes and times, must repeat";
    EXPECT_FALSE(first.delivered == other.delivered);
    EXPECT_NE(seqs(first), seqs(other));
    // Every frame is accounted for.
    const FaultStats& s = first.stats;
    EXPECT_EQ(s.delivered, s.seen + s.duplicated - s.dropped - s.rate_limited - s.oversize);
    EXPECT_GT(s.dropped, 0u);
    EXPECT_GT(s.duplicated, 0u);
    EXPECT_GT(s.reordered, 0u);
    EXPECT_GT(s.corrupted, 0u);
    EXPECT_GT(s.delayed, 0u);
}

TEST(FaultInjector, DirectionsHaveIndependentGenerators) {
    // The rx faults must not depend on how much tx traffic there was.
    auto rx_sequence = [](int tx_frames) {
        QueueDevice inner(kMacA);
        FaultInjector fi(inner, FaultConfig::both({.drop = 0.3}), 99);
        PacketPool pool;
        for (int i = 0; i < tx_frames; ++i) (void)fi.transmit(Instant::zero(), make_packet(pool, numbered_frame(0)));
        for (std::uint32_t i = 0; i < 1000; ++i) inner.inject(numbered_frame(i));
        std::vector<std::uint32_t> out;
        for (const auto& f : test::receive_all(fi, Instant::zero(), pool)) out.push_back(frame_seq(f));
        return out;
    };
    EXPECT_EQ(rx_sequence(0), rx_sequence(500));
    // And the other way round.
    auto tx_sequence = [](int rx_frames) {
        QueueDevice inner(kMacA);
        FaultInjector fi(inner, FaultConfig::both({.drop = 0.3}), 99);
        PacketPool pool;
        for (int i = 0; i < rx_frames; ++i) inner.inject(numbered_frame(0));
        (void)test::receive_all(fi, Instant::zero(), pool);
        for (std::uint32_t i = 0; i < 1000; ++i) (void)fi.transmit(Instant::zero(), make_packet(pool, numbered_frame(i)));
        std::vector<std::uint32_t> out;
        for (const auto& f : inner.take_sent()) out.push_back(frame_seq(f));
        return out;
    };
    EXPECT_EQ(tx_sequence(0), tx_sequence(500));
    EXPECT_NE(rx_sequence(0), tx_sequence(0)) << "the two directions draw from different streams";
}

TEST(FaultInjector, DelayHoldsFramesUntilDue) {
    QueueDevice inner(kMacA);
    FaultInjector fi(inner, FaultConfig::tx_only({.delay = Duration::millis(10)}), 1);
    PacketPool pool;
    std::vector<Packet> batch;
    ASSERT_TRUE(fi.transmit(Instant::from_millis(5), make_packet(pool, numbered_frame(1))));
    ASSERT_TRUE(fi.transmit(Instant::from_millis(6), make_packet(pool, numbered_frame(2))));
    EXPECT_TRUE(inner.take_sent().empty());
    EXPECT_EQ(pool.buffers_in_use(), 0u) << "held frames live in the injector's own buffers";
    EXPECT_EQ(fi.poll_at(), Instant::from_millis(15));
    fi.receive(Instant::from_millis(15) - Duration::micros(1), pool, batch, 8);
    EXPECT_TRUE(inner.take_sent().empty());
    fi.receive(Instant::from_millis(15), pool, batch, 8);
    auto sent = inner.take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(frame_seq(sent[0]), 1u);
    EXPECT_EQ(fi.poll_at(), Instant::from_millis(16));
    // A transmit() at a later time also lets due frames out first, in order.
    ASSERT_TRUE(fi.transmit(Instant::from_millis(20), make_packet(pool, numbered_frame(3))));
    sent = inner.take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(frame_seq(sent[0]), 2u);
    EXPECT_EQ(fi.tx_stats().delayed, 3u);
}

TEST(FaultInjector, JitterStaysInRangeAndNeverReorders) {
    LinkFaults f{.delay = Duration::millis(10), .jitter = Duration::millis(5)};
    TxRun run = run_tx(f, 7, 2000, Duration::millis(1));
    ASSERT_EQ(run.delivered.size(), 2000u);
    auto s = seqs(run);
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
    std::int64_t min_extra = INT64_MAX, max_extra = 0;
    for (const auto& d : run.delivered) {
        std::int64_t sent_at = static_cast<std::int64_t>(frame_seq(d.bytes)) * 1000;
        std::int64_t extra = d.at_us - sent_at;
        min_extra = std::min(min_extra, extra);
        max_extra = std::max(max_extra, extra);
    }
    EXPECT_GE(min_extra, 10000);
    EXPECT_LE(max_extra, 15000);
    EXPECT_LT(min_extra, 10500);         // the jitter spreads over its range
    EXPECT_GT(max_extra, 14500);
}

TEST(FaultInjector, RateLimitPacesFrames) {
    // 1 MB/s, no burst: 1000-byte frames sent all at once leave exactly 1 ms apart.
    LinkFaults f{.rate_bytes_per_second = 1'000'000, .queue_limit = 1000};
    TxRun run = run_tx(f, 1, 50, Duration::zero(), 1000);
    ASSERT_EQ(run.delivered.size(), 50u);
    for (std::size_t i = 0; i < run.delivered.size(); ++i) {
        EXPECT_EQ(frame_seq(run.delivered[i].bytes), i);
        EXPECT_EQ(run.delivered[i].at_us, static_cast<std::int64_t>(i) * 1000);
    }
}

TEST(FaultInjector, RateLimitBoundsBytesDeliveredByAnyTime) {
    // Irregular traffic with a burst allowance: bytes(t) <= rate * t + burst + one frame. The first
    // 0.1 s offers ~7x the rate (the queue fills), then traffic drops to a trickle.
    const std::uint64_t rate_bps = 2'000'000;
    const std::size_t burst = 4000;
    QueueDevice inner(kMacA);
    FaultInjector fi(inner, FaultConfig::tx_only({.rate_bytes_per_second = rate_bps, .burst_bytes = burst,
                                                  .queue_limit = 100000}), 3);
    PacketPool pool;
    FaultRng traffic(17);
    std::vector<std::pair<std::int64_t, std::size_t>> departures;  // (time, bytes)
    std::vector<Packet> batch;
    std::size_t offered = 0;
    for (int step = 0; step < 30000; ++step) {  // 50 us steps: 1.5 s
        Instant now = Instant::from_micros(step * 50);
        const double p = step < 2000 ? 0.9 : (step < 10000 ? 0.05 : 0.0);
        if (traffic.chance(p)) {
            std::size_t size = 60 + traffic.below(1455);
            offered += size;
            ASSERT_TRUE(fi.transmit(now, make_packet(pool, numbered_frame(static_cast<std::uint32_t>(step), size))));
        } else {
            fi.receive(now, pool, batch, 64);
        }
        for (auto& frame : inner.take_sent()) departures.emplace_back(now.total_micros(), frame.size());
    }
    std::size_t delivered = 0, delivered_by_half_second = 0;
    for (const auto& [at_us, bytes] : departures) {
        delivered += bytes;
        if (at_us <= 500000) delivered_by_half_second = delivered;
        const double bound = static_cast<double>(rate_bps) * static_cast<double>(at_us) / 1e6 + burst + 1514;
        ASSERT_LE(static_cast<double>(delivered), bound) << "at t=" << at_us << "us";
    }
    EXPECT_EQ(delivered, offered) << "nothing dropped with a deep queue";
    // While the queue is full the limiter sends at its rate: it is work-conserving, not just slow.
    EXPECT_GE(static_cast<double>(delivered_by_half_second), 0.95 * static_cast<double>(rate_bps) * 0.5);
}

TEST(FaultInjector, RateLimitBurstAndBoundedQueue) {
    QueueDevice inner(kMacA);
    FaultInjector fi(inner, FaultConfig::tx_only({.rate_bytes_per_second = 1'000'000, .burst_bytes = 5000,
                                                  .queue_limit = 10}), 1);
    PacketPool pool;
    for (std::uint32_t i = 0; i < 30; ++i) ASSERT_TRUE(fi.transmit(Instant::zero(), make_packet(pool, numbered_frame(i, 1000))));
    // The burst lets 6 frames out at once (5000 bytes of credit + the frame itself); 10 wait; 14 are dropped.
    EXPECT_EQ(inner.take_sent().size(), 6u);
    EXPECT_EQ(fi.tx_stats().rate_limited, 14u);
    std::vector<Packet> batch;
    fi.receive(Instant::from_millis(1), pool, batch, 8);
    EXPECT_EQ(inner.take_sent().size(), 1u);
    fi.receive(Instant::from_millis(10), pool, batch, 8);
    EXPECT_EQ(inner.take_sent().size(), 9u);
    EXPECT_EQ(fi.poll_at(), std::nullopt);
}

TEST(FaultInjector, MaxFrameSizeDropsLargerFrames) {
    TxRun run = run_tx({.max_frame_size = 100}, 1, 1, Duration::zero(), 101);
    EXPECT_TRUE(run.delivered.empty());
    EXPECT_EQ(run.stats.oversize, 1u);
    TxRun fits = run_tx({.max_frame_size = 100}, 1, 1, Duration::zero(), 100);
    EXPECT_EQ(fits.delivered.size(), 1u);
}

TEST(FaultInjector, ReceiveDirectionAndPerDirectionConfig) {
    QueueDevice inner(kMacA);
    FaultInjector fi(inner, FaultConfig::rx_only({.drop = 1.0}), 1);
    PacketPool pool;
    inner.inject(numbered_frame(1));
    EXPECT_TRUE(test::receive_all(fi, Instant::zero(), pool).empty());
    EXPECT_EQ(fi.rx_stats().dropped, 1u);
    ASSERT_TRUE(fi.transmit(Instant::zero(), make_packet(pool, numbered_frame(2))));
    EXPECT_EQ(inner.take_sent().size(), 1u);  // tx untouched
    EXPECT_EQ(fi.tx_stats().dropped, 0u);
}

TEST(FaultInjector, ReceiveRespectsMaxAndUsesTheCallersPool) {
    QueueDevice inner(kMacA);
    FaultInjector fi(inner, FaultConfig::rx_only({.duplicate = 1.0}), 1);
    PacketPool pool;
    for (std::uint32_t i = 0; i < 5; ++i) inner.inject(numbered_frame(i));
    std::vector<Packet> batch;
    EXPECT_EQ(fi.receive(Instant::zero(), pool, batch, 4), 4u);
    EXPECT_EQ(batch.size(), 4u);
    while (fi.receive(Instant::zero(), pool, batch, 4) > 0) {
    }
    ASSERT_EQ(batch.size(), 10u);
    for (std::size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(frame_seq(batch[i]), i / 2);
    EXPECT_EQ(pool.buffers_in_use(), 10u) << "every delivered frame is in the caller's pool";
    EXPECT_EQ(fi.in_flight(), 0u);
}

TEST(FaultInjector, WrapsAMemoryLinkAndReportsItsPollAt) {
    MemoryLink link(kMacA, kMacB, 1500, Duration::millis(1));
    FaultInjector fi(link.b(), FaultConfig::rx_only({.delay = Duration::millis(2)}), 1);
    PacketPool pool;
    ASSERT_TRUE(link.a().transmit(Instant::zero(), make_packet(pool, numbered_frame(1))));
    EXPECT_EQ(fi.poll_at(), Instant::from_millis(1));  // the link's latency
    std::vector<Packet> batch;
    EXPECT_EQ(fi.receive(Instant::from_millis(1), pool, batch, 8), 0u);
    EXPECT_EQ(fi.poll_at(), Instant::from_millis(3));  // then the injector's delay
    EXPECT_EQ(fi.receive(Instant::from_millis(3), pool, batch, 8), 1u);
    EXPECT_EQ(frame_seq(batch[0]), 1u);
}

}  // namespace
}  // namespace tcpip
