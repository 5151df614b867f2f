// Stack::poll_at(), in virtual time: when the stack next needs to run if no frame arrives. The
// runtimes sleep until then (stack/event_loop.h, stack/socket/runtime.h), so an idle stack must
// say "never" (nullopt) and a stack with work pending must give the instant of that work: an ARP
// retry, the end of an IP reassembly, a TCP retransmission, delayed ACK or TIME-WAIT. A deadline
// that comes too late loses a retransmission; one that never goes away costs CPU while idle.
//
// Every timer of every layer is in the Stack's TimerQueue, so poll_at() is the earliest of them
// (and of the device's own, a FaultInjector's delayed frames). TCP keeps one wake-up per socket
// and lets a stale one (a retransmission timer cleared by an ACK) fire once and find nothing to
// do: cheaper than cancelling on every ACK, and the tests below show it ends there.
#include <gtest/gtest.h>

#include "tests/unit/tcp/harness.h"

namespace tcpip::tcp_test {
namespace {

using layers_test::fragment;
using layers_test::kOurIpStr;
using layers_test::kPeerIpStr;
using layers_test::kTestProtocol;
using layers_test::LayerTest;

// ---- Layers below TCP ----

class DeadlineTest : public LayerTest {};

TEST_F(DeadlineTest, AFreshStackHasNothingDue) {
    stack().start(at(0));
    stack().poll(at(0));
    EXPECT_EQ(stack().poll_at(), std::nullopt);
    stack().poll(at(600000));  // ten virtual minutes later, still nothing
    EXPECT_EQ(stack().poll_at(), std::nullopt);
}

TEST_F(DeadlineTest, ArpResolutionIsDueAtEachRetryThenNothing) {
    TcpSocket* s = stack().tcp().open();
    // Connecting to a peer we do not know yet: an ARP request now, the next at 1 s, 2 s.
    EXPECT_FALSE(stack().tcp().connect(at(0), s, kPeerIp, 5000).has_value());
    EXPECT_EQ(take_sent_raw().size(), 1u) << "the first ARP request";
    ASSERT_TRUE(stack().poll_at().has_value());
    EXPECT_EQ(*stack().poll_at(), at(1000)) << "the ARP retry (TCP's SYN timer is later)";
    stack().poll(at(1000));
    EXPECT_EQ(take_sent_raw().size(), 1u) << "the second ARP request";
    EXPECT_EQ(stack().poll_at(), at(2000));
    // The peer answers: nothing more for ARP; what is left is TCP's SYN retransmission.
    inject(at(1500), arp_reply(kPeerMac, kPeerIp));
    // The SYN (connect, at 0) and its retransmission (1 s), both held by ARP, leave now; the next
    // deadline is the SYN's timer, backed off to 2 s, not the ARP retry at 2 s any more.
    EXPECT_EQ(take_sent_raw().size(), 2u) << "the SYN and its retransmission, sent once the address is known";
    EXPECT_EQ(stack().poll_at(), at(3000));
}

TEST_F(DeadlineTest, ReassemblyIsDueAtItsTimeoutThenNothing) {
    peer_known = true;
    stack();
    Tins::IP header(kOurIpStr, kPeerIpStr);
    header.protocol(kTestProtocol);
    header.id(77);
    auto frames = fragment(header, pattern(3000), 1480);
    ASSERT_EQ(frames.size(), 3u);
    inject(at(100), frames[0]);  // the first fragment only: the datagram waits for the rest
    EXPECT_EQ(stack().poll_at(), at(100) + config.ip_reassembly_timeout);
    stack().poll(at(100) + config.ip_reassembly_timeout);
    take_sent_raw();  // ICMP time exceeded (fragment reassembly), from the first fragment
    EXPECT_EQ(stack().poll_at(), std::nullopt);
}

TEST_F(DeadlineTest, ACompletedReassemblyLeavesNothingDue) {
    peer_known = true;
    stack();
    Tins::IP header(kOurIpStr, kPeerIpStr);
    header.protocol(kTestProtocol);
    header.id(78);
    inject_all(at(100), fragment(header, pattern(3000), 1480));
    take_sent_raw();  // protocol unreachable, for our test protocol
    EXPECT_EQ(stack().poll_at(), std::nullopt);
}

// ---- TCP ----

TEST_F(TcpTest, AnIdleConnectionHasNothingDue) {
    established();
    // The SYN-ACK's retransmission timer (armed at 0, 1 s) is still scheduled: stale, it fires
    // once and finds nothing to do. After that: no data in flight, no keepalive, nothing at all.
    if (auto due = net().poll_at()) {
        EXPECT_EQ(*due, at(1000)) << "at most the stale wake-up";
    }
    expect_nothing(at(1000));
    EXPECT_EQ(net().poll_at(), std::nullopt) << "nothing to wake for";
    expect_nothing(at(600000));
    EXPECT_EQ(net().poll_at(), std::nullopt);
}

TEST_F(TcpTest, DataInFlightIsDueAtTheRetransmissionTimeout) {
    established();
    write(at(100), 10);
    const Seg data = seg().psh().seq(us()).ack(peer()).data(ours(0, 10));
    expect_sent(at(100), data);
    EXPECT_EQ(net().poll_at(), at(300)) << "RTO 200 ms";
    // The runtime sleeps until then with no frame coming, and the retransmission is on time.
    expect_sent(at(300), data);
    EXPECT_EQ(net().poll_at(), at(700)) << "backed off to 400 ms";
    // Acknowledged: the wake-up already scheduled may fire once, finds nothing, and is not re-armed.
    send(at(310), seg().seq(peer()).ack(us(10)));
    if (auto due = net().poll_at()) {
        EXPECT_EQ(*due, at(700)) << "at most the stale wake-up";
    }
    expect_nothing(at(700));
    EXPECT_EQ(net().poll_at(), std::nullopt);
}

TEST_F(TcpTest, ReceivedDataIsDueAtTheDelayedAck) {
    established();
    send(at(100), seg().psh().seq(peer()).ack(us()).data(pattern(10)));
    EXPECT_EQ(net().poll_at(), at(100) + config.tcp_delayed_ack);
    expect_sent(at(100) + config.tcp_delayed_ack, seg().seq(us()).ack(peer(10)));
    EXPECT_EQ(net().poll_at(), std::nullopt);
}

TEST_F(TcpTest, TimeWaitIsDueAtItsEndThenNothing) {
    established();
    close(at(100));
    expect_sent(at(100), seg().fin().seq(us()).ack(peer()));
    send(at(110), seg().fin().seq(peer()).ack(us(1)));
    expect_sent(at(110), seg().seq(us(1)).ack(peer(1)));
    EXPECT_EQ(state(), TcpState::TimeWait);
    // The FIN's retransmission timer may still be scheduled (stale); TIME-WAIT's end is due.
    ASSERT_TRUE(net().poll_at().has_value());
    EXPECT_LE(*net().poll_at(), at(110) + config.tcp_time_wait);
    expect_nothing(at(110) + config.tcp_time_wait);
    EXPECT_EQ(tcp().time_wait_count(), 0u);
    EXPECT_EQ(net().poll_at(), std::nullopt);
}

}  // namespace
}  // namespace tcpip::tcp_test
