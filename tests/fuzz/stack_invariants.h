// What the whole-stack target (stack_target.cpp) checks in TCP after every step, and what it reads
// of each connection to aim its segments.
//
// Every read of a TCP control block field (stack/tcp/tcp_socket.h) is in check_tcp_invariants()
// below, and nowhere else in tests/fuzz.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "stack/core/config.h"
#include "stack/tcp/seq.h"
#include "stack/tcp/state.h"
#include "stack/tcp/tcp.h"
#include "tests/fuzz/targets.h"

namespace tcpip::fuzz {

constexpr std::size_t kTcpStates = 11;  // TcpState::Closed .. TcpState::TimeWait

// The peer's knowledge of one connection, as the target needs it to build segments "near" the
// right numbers: a real peer would know rcv_nxt from our ACKs and snd_una from what it acked.
struct ConnectionView {
    TcpState state = TcpState::Closed;
    std::uint16_t local_port = 0;
    SeqNum snd_una;   // the peer's ack numbers are offsets from this
    SeqNum snd_nxt;
    SeqNum rcv_nxt;   // the peer's sequence numbers are offsets from this
};

struct TcpObservation {
    std::map<std::uint16_t, ConnectionView> by_remote_port;  // connections (not listeners)
    std::array<bool, kTcpStates> states_seen{};              // any socket in this state at this step
    std::size_t sockets = 0;
};

// Checks, for every socket of the layer (a failure aborts, via FUZZ_CHECK):
//   - what TcpLayer::check_invariants() states for each TCB part and for the layer's own
//     bookkeeping (the tables, the TIME-WAIT and orphan counts);
//   - and, independently of it, snd.una <= snd.nxt <= snd.max compared as sequence numbers
//     (RFC 9293 3.4, modulo 2^32); what is in flight (snd.max - snd.una) held in the send buffer,
//     plus one each for SYN and FIN, which take sequence space but no buffer (not in CLOSED:
//     nothing is in flight); both buffers within their capacity, and out-of-order data (the
//     assembler's ranges, offsets past the in-order data) within the receive buffer; a listener's
//     accept queue within its backlog, its SYN queue within tcp_max_syn_backlog;
// and fills `out` with what the target reads of each connection. With `torn_down` (the
// application closed everything and every timer ran), the layer must hold no socket and no
// buffer memory at all: each socket left is described, and the check fails.
inline void check_tcp_invariants(const TcpLayer& tcp, const StackConfig& config, TcpObservation& out,
                                 bool torn_down = false) {
    out = TcpObservation{};
    out.sockets = tcp.socket_count();
    if (const std::string broken = tcp.check_invariants(); !broken.empty()) {
        std::fprintf(stderr, "TcpLayer::check_invariants: %s\n", broken.c_str());
        ::tcpip::fuzz::oracle_failed("stack", "tcp.check_invariants()", __FILE__, __LINE__);
    }
    if (torn_down && tcp.buffer_bytes() != 0) {
        std::fprintf(stderr, "%zu bytes of socket buffers held after teardown\n", tcp.buffer_bytes());
        ::tcpip::fuzz::oracle_failed("stack", "tcp.buffer_bytes() == 0", __FILE__, __LINE__);
    }
    tcp.for_each_socket([&](const TcpSocket& s) {
        out.states_seen.at(static_cast<std::size_t>(s.state)) = true;

// A failed check names the socket first: its state, ports and sequence variables.
#define TCP_CHECK(cond)                                                                                         \
    do {                                                                                                        \
        if (!(cond)) {                                                                                          \
            std::fprintf(stderr,                                                                                \
                         "socket %u -> %u in %s: iss %u snd.una %u snd.nxt %u snd.max %u fin_sent %d fin_seq %u " \
                         "send buffer %zu/%zu snd.wnd %u rcv.nxt %u receive buffer %zu/%zu user_closed %d "     \
                         "fin_queued %d timers: rto %d persist %d time_wait %d keepalive %d retransmits %u\n",  \
                         unsigned{s.local_port}, unsigned{s.remote_port}, to_string(s.state), s.snd.iss.raw(),  \
                         s.snd.una.raw(), s.snd.nxt.raw(), s.snd.max.raw(), int{s.snd.fin_sent},                \
                         s.snd.fin_seq.raw(), s.snd.buffer.size(), s.snd.buffer.capacity(), s.snd.wnd,          \
                         s.rcv.nxt.raw(), s.rcv.buffer.size(), s.rcv.buffer.capacity(), int{s.user_closed},     \
                         int{s.snd.fin_queued}, int{s.timers.rto.has_value()}, int{s.timers.persist.has_value()}, \
                         int{s.timers.time_wait.has_value()}, int{s.timers.keepalive.has_value()},              \
                         s.timers.retransmits);                                                                 \
            ::tcpip::fuzz::oracle_failed("stack", #cond, __FILE__, __LINE__);                                   \
        }                                                                                                       \
    } while (false)

        // After teardown no socket may be left (orphans are reaped: tcp_orphan_retries).
        TCP_CHECK(!torn_down);

        TCP_CHECK(s.snd.una <= s.snd.nxt);
        TCP_CHECK(s.snd.nxt <= s.snd.max);
        // A connection that is over (CLOSED, after a reset or a timeout, until the application
        // closes it) has let its buffers go and keeps its last numbers: nothing is in flight.
        if (s.state != TcpState::Closed) {
            TCP_CHECK(std::size_t(s.snd.in_flight()) <= s.snd.buffer.size() + 2);
        }

        TCP_CHECK(s.snd.buffer.size() <= s.snd.buffer.capacity());
        TCP_CHECK(s.rcv.buffer.size() <= s.rcv.buffer.capacity());
        const auto& ranges = s.rcv.assembler.ranges();
        TCP_CHECK(ranges.size() <= Assembler::kMaxRanges);
        if (!ranges.empty()) {
            TCP_CHECK(ranges.back().end <= s.rcv.buffer.capacity() - s.rcv.buffer.size());
        }

        if (s.state == TcpState::Listen) {
            TCP_CHECK(s.queues.accept_queue.size() <= s.queues.backlog);
            TCP_CHECK(s.queues.syn_queue <= config.tcp_max_syn_backlog);
            return;
        }
        ConnectionView view;
        view.state = s.state;
        view.local_port = s.local_port;
        view.snd_una = s.snd.una;
        view.snd_nxt = s.snd.nxt;
        view.rcv_nxt = s.rcv.nxt;
        if (s.remote_port != 0) out.by_remote_port[s.remote_port] = view;
#undef TCP_CHECK
    });
}

}  // namespace tcpip::fuzz
