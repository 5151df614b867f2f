// FrameDriver (drivers/frame_driver.h), the loop the whole-stack fuzz target and tcpip-replay
// share: time moves only forward, every deadline runs at its own instant, and what the stack sends
// comes back stamped with the instant it left.
#include <gtest/gtest.h>

#include "drivers/frame_driver.h"
#include "stack/stack.h"

namespace tcpip {
namespace {

constexpr MacAddress kOurMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
constexpr Ipv4Address kOurIp{10, 0, 0, 2};
constexpr Ipv4Address kSilent{10, 0, 0, 9};  // a neighbour that never answers ARP

struct Rig {
    QueueDevice device{kOurMac};
    ManualClock clock{Instant::from_micros(1'000'000)};
    Stack stack{device, InterfaceConfig{Ipv4Cidr{kOurIp, 24}, std::nullopt}, StackConfig{}, 1};
    FrameDriver driver{device, clock, [this](Instant t) { stack.poll(t); }, [this] { return stack.poll_at(); }};
};

bool is_arp_request_for(const std::vector<std::uint8_t>& frame, Ipv4Address target) {
    return frame.size() >= 42 && frame[12] == 0x08 && frame[13] == 0x06 && frame[21] == 1 &&
           Ipv4Address::from_bytes(frame.data() + 38) == target;
}

// A datagram to a silent neighbour: ARP asks at once, then again every arp_retry_interval (1 s),
// arp_request_tries (3) times in all. advance_to() runs each retry at its own deadline, and
// take_sent() says when each request left.
TEST(FrameDriver, DeadlinesRunAtTheirOwnInstants) {
    Rig r;
    (void)r.stack.ipv4().send(r.clock.now(), kSilent, 17, r.stack.pool().allocate(8));
    int steps = 0;
    r.driver.advance_to(Instant::from_micros(5'000'000), [&] { ++steps; });
    const auto sent = r.driver.take_sent();
    ASSERT_EQ(sent.size(), 3u);
    for (std::size_t i = 0; i < sent.size(); ++i) {
        EXPECT_TRUE(is_arp_request_for(sent[i].bytes, kSilent)) << i;
        EXPECT_EQ(sent[i].at, Instant::from_micros(1'000'000 * (1 + static_cast<std::int64_t>(i)))) << i;
    }
    EXPECT_GE(steps, 2);  // the two retries, each a step of its own
    EXPECT_EQ(r.driver.now(), Instant::from_micros(5'000'000));
    EXPECT_TRUE(r.driver.take_sent().empty());  // taken once
}

// With `when`, a deadline runs when the caller says (as late as a recorded stack ran it), never
// before it: the first ARP retry leaves 300 ms late (the next is due a second after it). One put
// after the instant advanced to stops the advance there, without running it: the next run() at
// that instant does.
TEST(FrameDriver, WhenRunsADeadlineLater) {
    Rig r;
    (void)r.stack.ipv4().send(r.clock.now(), kSilent, 17, r.stack.pool().allocate(8));
    std::vector<Instant> asked;
    r.driver.advance_to(Instant::from_micros(3'500'000), nullptr, [&](Instant deadline) {
        asked.push_back(deadline);
        return deadline + Duration::millis(300);
    });
    auto sent = r.driver.take_sent();
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(sent[0].at, Instant::from_micros(1'000'000));  // sent at once, no deadline
    EXPECT_EQ(sent[1].at, Instant::from_micros(2'300'000));  // due at 2 s, run 300 ms late
    ASSERT_EQ(asked.size(), 2u);
    EXPECT_EQ(asked[0], Instant::from_micros(2'000'000));
    EXPECT_EQ(asked[1], Instant::from_micros(3'300'000));  // to run at 3.6 s: after 3.5, left
    EXPECT_EQ(r.driver.now(), Instant::from_micros(3'500'000));
    r.driver.run();
    sent = r.driver.take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].at, Instant::from_micros(3'500'000));
    // Never earlier than the deadline: a `when` that says "before" is not obeyed.
    Rig q;
    (void)q.stack.ipv4().send(q.clock.now(), kSilent, 17, q.stack.pool().allocate(8));
    q.driver.advance_to(Instant::from_micros(2'500'000), nullptr, [](Instant deadline) { return deadline - Duration::millis(500); });
    const auto early = q.driver.take_sent();
    ASSERT_EQ(early.size(), 2u);
    EXPECT_EQ(early[1].at, Instant::from_micros(2'000'000));
}

// Time never goes back: advancing to an earlier instant runs the stack at now.
TEST(FrameDriver, TimeOnlyMovesForward) {
    Rig r;
    r.driver.advance_to(Instant::from_micros(3'000'000));
    r.driver.advance_to(Instant::from_micros(2'000'000));
    EXPECT_EQ(r.driver.now(), Instant::from_micros(3'000'000));
}

// An injected frame is received at the next run: an ARP request for us is answered at that instant.
TEST(FrameDriver, InjectedFrameIsAnsweredAtRun) {
    Rig r;
    r.driver.advance_to(Instant::from_micros(2'000'000));
    (void)r.driver.take_sent();
    std::vector<std::uint8_t> request(42, 0);
    const std::uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    for (int i = 0; i < 6; ++i) {
        request[i] = 0xff;
        request[6 + i] = peer_mac[i];
        request[22 + i] = peer_mac[i];
    }
    request[12] = 0x08; request[13] = 0x06;            // ARP
    request[14] = 0; request[15] = 1;                  // Ethernet
    request[16] = 0x08; request[17] = 0x00;            // IPv4
    request[18] = 6; request[19] = 4; request[21] = 1; // sizes, request
    Ipv4Address(10, 0, 0, 1).copy_to(request.data() + 28);
    kOurIp.copy_to(request.data() + 38);
    r.driver.inject(request);
    r.driver.run();
    const auto sent = r.driver.take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].bytes[21], 2);  // a reply
    EXPECT_EQ(sent[0].at, Instant::from_micros(2'000'000));
}

}  // namespace
}  // namespace tcpip
