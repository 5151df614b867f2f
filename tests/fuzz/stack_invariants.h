// What the whole-stack target (stack_target.cpp) checks in TCP after every step, and what it reads
// of each connection to aim its segments.
//
// Every read of a TCP control block field (stack/tcp/tcp_socket.h) is in check_tcp_invariants()
// below, and nowhere else in tests/fuzz: the TCB is being split into parts (send sequence space,
// receive sequence space, listener, options; issue 13 part 2), and when its fields move, this one
// function is the edit.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>

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
//   - snd_una <= snd_nxt <= snd_max, compared as sequence numbers (RFC 9293 3.4, modulo 2^32);
//   - what is in flight (snd_max - snd_una) is held in the send buffer, plus one each for SYN
//     and FIN, which take sequence space but no buffer (not in CLOSED: nothing is in flight);
//   - the send buffer and the receive buffer within their capacity, and out-of-order data
//     (the assembler's ranges, offsets past the in-order data) within the receive buffer too;
//   - a listener's accept queue within its backlog, its SYN queue within tcp_max_syn_backlog.
// and fills `out` with what the target reads of each connection. With `torn_down` (the
// application closed everything and every timer ran), the layer must hold no socket at all:
// each one left is described, and the check fails.
inline void check_tcp_invariants(const TcpLayer& tcp, const StackConfig& config, TcpObservation& out,
                                 bool torn_down = false) {
    out = TcpObservation{};
    out.sockets = tcp.socket_count();
    tcp.for_each_socket([&](const TcpSocket& s) {
        out.states_seen.at(static_cast<std::size_t>(s.state)) = true;

// A failed check names the socket first: its state, ports and sequence variables.
#define TCP_CHECK(cond)                                                                                         \
    do {                                                                                                        \
        if (!(cond)) {                                                                                          \
            std::fprintf(stderr,                                                                                \
                         "socket %u -> %u in %s: iss %u snd_una %u snd_nxt %u snd_max %u fin_sent %d fin_seq %u " \
                         "send_buffer %zu/%zu snd_wnd %u rcv_nxt %u receive_buffer %zu/%zu user_closed %d "     \
                         "fin_queued %d timers: rto %d persist %d time_wait %d keepalive %d retransmits %u\n",  \
                         unsigned{s.local_port}, unsigned{s.remote_port}, to_string(s.state), s.iss.raw(),      \
                         s.snd_una.raw(), s.snd_nxt.raw(), s.snd_max.raw(), int{s.fin_sent}, s.fin_seq.raw(),   \
                         s.send_buffer.size(), s.send_buffer.capacity(), s.snd_wnd, s.rcv_nxt.raw(),            \
                         s.receive_buffer.size(), s.receive_buffer.capacity(), int{s.user_closed},              \
                         int{s.fin_queued}, int{s.rto_deadline.has_value()}, int{s.persist_deadline.has_value()}, \
                         int{s.time_wait_deadline.has_value()}, int{s.keepalive_deadline.has_value()},          \
                         s.retransmits);                                                                        \
            ::tcpip::fuzz::oracle_failed("stack", #cond, __FILE__, __LINE__);                                   \
        }                                                                                                       \
    } while (false)

        // After teardown no socket may be left, with one known exception: an orphan (closed by the
        // application) whose peer advertised a zero window and then went silent is probed for
        // ever. Linux gives up on it after tcp_orphan_retries probes; here that is issue 13 part 4
        // (orphans bounded and reaped), not done yet. Remove the exception with that work; the
        // input that found it is tests/fuzz/regressions/stack/zero-window-orphan-probed-forever.
        const bool zero_window_orphan = s.user_closed && s.snd_wnd == 0 && s.persist_deadline.has_value();
        TCP_CHECK(!torn_down || zero_window_orphan);

        TCP_CHECK(s.snd_una <= s.snd_nxt);
        TCP_CHECK(s.snd_nxt <= s.snd_max);
        // A connection that is over (CLOSED, after a reset or a timeout, until the application
        // closes it) has let its buffers go and keeps its last numbers: nothing is in flight.
        if (s.state != TcpState::Closed) {
            TCP_CHECK(std::size_t(static_cast<std::uint32_t>(s.snd_max - s.snd_una)) <= s.send_buffer.size() + 2);
        }

        TCP_CHECK(s.send_buffer.size() <= s.send_buffer.capacity());
        TCP_CHECK(s.receive_buffer.size() <= s.receive_buffer.capacity());
        const auto& ranges = s.assembler.ranges();
        TCP_CHECK(ranges.size() <= Assembler::kMaxRanges);
        if (!ranges.empty()) {
            TCP_CHECK(ranges.back().end <= s.receive_buffer.capacity() - s.receive_buffer.size());
        }

        if (s.state == TcpState::Listen) {
            TCP_CHECK(s.accept_queue.size() <= s.backlog);
            TCP_CHECK(s.syn_queue <= config.tcp_max_syn_backlog);
            return;
        }
        ConnectionView view;
        view.state = s.state;
        view.local_port = s.local_port;
        view.snd_una = s.snd_una;
        view.snd_nxt = s.snd_nxt;
        view.rcv_nxt = s.rcv_nxt;
        if (s.remote_port != 0) out.by_remote_port[s.remote_port] = view;
#undef TCP_CHECK
    });
}

}  // namespace tcpip::fuzz
