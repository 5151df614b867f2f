// TcpSocket: one TCP endpoint, a listener or a connection, with its Transmission Control Block
// (RFC 9293 section 3.3.1). The TCB is made of parts, as the mature stacks split it (gVisor's
// sender / receiver / endpoint, the sections of Linux's tcp_sock), so that each part's invariant
// can be stated once and kept in one place:
//
//   SendSequence     snd    the send sequence space (RFC 9293 figure 3), the send buffer, the FIN
//                           we send, RTT measurement (RFC 6298) and congestion control (RFC 5681)
//   LossRecovery     rec    with SACK: the scoreboard (RFC 6675), RACK-TLP (RFC 8985), and what
//                           undoing a spurious retransmission needs (RFC 2883, RFC 3522)
//   ReceiveSequence  rcv    the receive sequence space (RFC 9293 figure 4), the receive buffer with
//                           out-of-order data, the peer's FIN, when to acknowledge (RFC 1122 4.2.3.2),
//                           the SACK blocks we report (RFC 2018, RFC 2883)
//   TimestampState   ts     RFC 7323 timestamps: our clock's offset, TS.Recent, Last.ACK.sent
//   TcpPacing        pace   when the next burst of data may leave (pacing.cpp, Linux's internal pacing)
//   TcpTimers        timers every timer as a deadline, and the retry counts that back them off
//   ListenerQueues   queues a listener's SYN queue and accept queue (the listen backlog)
//   TcpUserOptions   opts   what the application set with setsockopt()
//
// Only TcpLayer (stack/tcp/) writes any of them; the socket API reads them and changes options
// through TcpLayer::set_options(), which applies the side effects (a keepalive timer to arm, Nagle
// turned off with data waiting).
//
//       send sequence space (RFC 9293 figure 3)
//
//                1         2          3          4
//           ----------|----------|----------|----------
//                  SND.UNA    SND.NXT    SND.UNA
//                                       +SND.WND
//     1 - old sequence numbers that have been acknowledged
//     2 - sequence numbers of unacknowledged data
//     3 - sequence numbers allowed for new data transmission
//     4 - future sequence numbers that are not yet allowed
//
//       receive sequence space (RFC 9293 figure 4)
//
//                    1          2          3
//               ----------|----------|----------
//                      RCV.NXT    RCV.NXT
//                                +RCV.WND
//     1 - old sequence numbers that have been acknowledged
//     2 - sequence numbers allowed for new reception
//     3 - future sequence numbers that are not yet allowed
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "stack/core/address.h"
#include "stack/core/socket_error.h"
#include "stack/core/time.h"
#include "stack/core/timer.h"
#include "stack/tcp/assembler.h"
#include "stack/tcp/congestion/congestion.h"
#include "stack/tcp/header.h"
#include "stack/tcp/ring_buffer.h"
#include "stack/tcp/rtt.h"
#include "stack/tcp/scoreboard.h"
#include "stack/tcp/seq.h"
#include "stack/tcp/state.h"
#include "stack/tcp/tcp_log.h"

namespace tcpip {

struct TcpInfo;  // the TCP_INFO-style read-out (tcp.h)

// The send sequence space and everything the sender keeps (RFC 9293 3.3.1, 3.8; RFC 6298; RFC 5681).
// Invariant: iss <= una <= nxt <= max, and max - una = bytes of buffer sent and not acknowledged,
// plus one for the SYN until it is acknowledged and one for the FIN once sent. Byte 0 of `buffer`
// is the byte at una (the SYN excluded).
struct SendSequence {
    SeqNum iss;                      // initial send sequence number (RFC 6528)
    SeqNum una;                      // SND.UNA: oldest unacknowledged sequence number
    SeqNum nxt;                      // SND.NXT: next sequence number to send
    SeqNum max;                      // highest sequence number sent + 1 (after an RTO, nxt goes back; max does not)
    std::uint32_t wnd = 0;           // SND.WND: the peer's window, scaled: bytes it accepts beyond una
    SeqNum wl1;                      // SND.WL1: seq of the segment last used to update wnd
    SeqNum wl2;                      // SND.WL2: ack of the segment last used to update wnd
    std::uint32_t max_wnd = 0;       // largest window the peer ever offered (sender SWS avoidance)
    std::uint8_t wscale = 0;         // Snd.Wind.Shift: shift for windows the peer sends us (RFC 7323)
    SeqNum sml;                      // end of the last segment shorter than the MSS sent (Nagle, Minshall); starts at iss
    RingBuffer buffer;               // unacknowledged data, then data not yet sent; storage grows as data arrives
    bool fin_queued = false;         // the application closed its side: a FIN follows the data
    bool fin_sent = false;           // the FIN has been sent, at fin_seq
    SeqNum fin_seq;

    // RTT measurement (Karn: only segments sent once are timed) and the timeout it gives.
    RttEstimator rtt;
    std::optional<SeqNum> timed_seq;  // the segment being timed ends at this seq...
    Instant timed_sent_at;            // ...and was sent at this instant
    Instant last_send;                // last data segment sent (RFC 5681 4.1 idle restart)

    std::unique_ptr<CongestionControl> cc;  // the congestion window (set up with the connection)
    // Was the congestion window the limit at some time in the last round trip (Linux's
    // tcp_cwnd_validate)? A paced sender fills its window only near the end of a round, so the
    // window's growth asks this, not only what is in flight when an ACK comes.
    bool cwnd_limited = false;
    SeqNum cwnd_usage_seq;            // ...the round ends when SND.UNA passes this

    // Bytes in flight: sent but not acknowledged (SYN and FIN count one each).
    std::uint32_t in_flight() const { return static_cast<std::uint32_t>(max - una); }
};

// Loss recovery when the peer SACKs (recovery.cpp): RFC 6675's scoreboard and pipe, RACK's
// time-based loss detection and TLP's tail loss probes (RFC 8985), and the undo of a reduction
// that answered spurious retransmissions (RFC 2883 section 4, RFC 3522). Unused without SACK but
// for reno_sacked, which only a connection without SACK uses.
// Invariant: with SACK on a synchronized connection, scoreboard.begin() = SND.UNA and
// scoreboard.end() <= SND.MAX; tlp_end, when set, <= SND.MAX; reno_sacked <= bytes in flight, and
// 0 with SACK.
struct LossRecovery {
    Scoreboard scoreboard;

    // RACK (RFC 8985 section 6.1): the most recently sent segment that was delivered.
    bool rack_valid = false;
    Instant rack_xmit_ts;             // RACK.xmit_ts
    SeqNum rack_end_seq;              // RACK.end_seq
    Duration rack_rtt;                // RACK.rtt: that segment's round trip
    SeqNum rack_fack;                 // RACK.fack: the highest end delivered (reordering detection)
    std::optional<Duration> min_rtt;  // the smallest RTT seen (RACK.min_RTT)
    bool reordering_seen = false;     // RACK.reordering_seen
    std::uint32_t reo_wnd_mult = 1;   // RACK.reo_wnd_mult: grows with each D-SACK round
    std::uint32_t reo_wnd_persist = 0;  // recoveries left before reo_wnd_mult resets
    std::optional<SeqNum> dsack_round;  // RACK.dsack_round
    std::uint32_t reordering = 3;     // reordering degree in segments (Linux tp->reordering, TCP_INFO)

    // TLP (RFC 8985 section 7): TLP.end_seq of the probe in flight, and what it was.
    std::optional<SeqNum> tlp_end;
    bool tlp_retransmitted = false;   // the probe resent old data (not new data)
    bool tlp_dsacked = false;         // a D-SACK reported the probe as a duplicate

    // After an RTO: SND.MAX then. Until SND.UNA reaches it the go-back-N resends everything (Linux's
    // CA_Loss with high_seq), and no fast recovery starts.
    std::optional<SeqNum> rto_high;
    // F-RTO (RFC 5682 section 3, SACK-enhanced; Linux's tcp_frto): after an RTO, 1 while waiting
    // for the first ACK, 2 for the second; 0 off. An RTO whose next two ACKs both advance SND.UNA
    // while only new data was sent in between was spurious.
    std::uint8_t frto = 0;

    // Undo (Linux's undo_marker, undo_retrans, retrans_stamp, prior_cwnd, prior_ssthresh).
    bool undo_armed = false;          // a reduction happened that may still be undone
    SeqNum undo_marker;               // SND.UNA when it happened: D-SACKs of data below it do not count
    std::uint32_t undo_retrans = 0;   // its retransmissions (segments) not yet reported as duplicates
    std::optional<SeqNum> first_rxt_seq;  // the first retransmission of the episode...
    std::uint32_t first_rxt_tsval = 0;    // ...and our TSval then (Eifel, RFC 3522)
    std::uint32_t prior_cwnd = 0, prior_ssthresh = 0;  // before the reduction

    // Without SACK: one MSS per duplicate ACK since SND.UNA last moved, the data those ACKs say
    // left the network (Linux's sacked_out for a peer without SACK). PRR's pipe and DeliveredData.
    std::uint32_t reno_sacked = 0;
};

// RFC 7323 timestamps, when both SYNs carried the option (TcpSocket::ts_ok).
// Invariant: recent is the TSval of a segment that was acceptable and not after Last.ACK.sent.
struct TimestampState {
    std::uint32_t offset = 0;         // added to our millisecond clock: a random start per connection (RFC 7323 5.4)
    std::uint32_t recent = 0;         // TS.Recent: the TSval we echo
    Instant recent_at;                // when TS.Recent was set (PAWS trusts it for 24 days, RFC 7323 5.5)
    SeqNum last_ack_sent;             // Last.ACK.sent: the ACK field of our latest segment
};

// Internal pacing (pacing.cpp), as Linux's tcp_internal_pacing: each data segment sent moves the
// earliest departure of the next one later by its length over the pacing rate.
// Invariant: off (zero) unless StackConfig::tcp_pacing; the pacing timer, when armed, is next_ns
// rounded up to the microsecond.
struct TcpPacing {
    std::int64_t next_ns = 0;        // the next data burst leaves at or after this (ns on the stack's clock; Linux's tcp_wstamp_ns)
    std::uint32_t segments_out = 0;  // data segments sent, retransmissions included (Linux's data_segs_out), counted to 10
};

// Receive-buffer auto-tuning (Linux's tcp_rcv_space_adjust, "dynamic right-sizing"): once per
// round trip the receiver looks at how much the application read in it, and lets the buffer (and
// so the window) grow to twice that, so the window keeps ahead of what the path delivers.
// Invariant: rtt_seq and space_seq lie within [irs, nxt + wnd].
struct ReceiveAutotune {
    Duration rtt;                    // the receiver's RTT: the shortest time a window's worth took to arrive (zero: none yet)
    bool measuring = false;          // timing the arrival of one window...
    SeqNum rtt_seq;                  // ...until RCV.NXT passes this...
    Instant rtt_start;               // ...since this instant
    bool started = false;            // a measuring period is open:
    SeqNum space_seq;                // ...the read position when it began
    Instant space_start;             // ...and when
    std::uint32_t space = 0;         // bytes the application read in the last period (the base to beat)
};

// The receive sequence space and everything the receiver keeps (RFC 9293 3.3.1, 3.8.6.2.2, 3.10.7.4).
// Invariant: adv >= nxt + wnd at the time wnd was advertised, and adv never moves left; the bytes
// [nxt, nxt + buffer.free()) are the only ones we will store; the assembler's ranges lie within them.
struct ReceiveSequence {
    SeqNum irs;                      // initial receive sequence number
    SeqNum nxt;                      // RCV.NXT: next sequence number expected
    std::uint32_t wnd = 0;           // RCV.WND: the window we last advertised (bytes beyond nxt)
    SeqNum adv;                      // its right edge, nxt + wnd when sent: never moved left
    std::uint8_t wscale = 0;         // Rcv.Wind.Shift: shift for windows we send (RFC 7323)
    RingBuffer buffer;               // in-order data not yet read; out-of-order data stored beyond it
    Assembler assembler;             // which out-of-order bytes beyond nxt are in `buffer`
    ReceiveAutotune autotune;        // how `buffer` grows when the application did not fix its size
    bool fin_received = false;       // the peer's FIN arrived in order (end of stream)
    bool shut_rd = false;            // shutdown(SHUT_RD): received data is discarded
    // When to acknowledge (RFC 1122 4.2.3.2, RFC 5681 4.2).
    std::uint32_t segments_since_ack = 0;  // full segments received but not yet acknowledged
    bool ack_now = false;                  // an ACK must go out at the next output
    // SACK blocks to report (RFC 2018 section 4): one sequence number inside each of the blocks most
    // recently changed, newest first. Each is reported as the assembler's range holding it now.
    std::array<SeqNum, TcpOptions::kMaxSackBlocks> sack_recent{};
    std::uint8_t sack_recent_count = 0;
    std::optional<SackBlock> dsack;        // a duplicate received, reported once (RFC 2883)
};

// Explicit Congestion Notification (RFC 3168 section 6.1), negotiated in the handshake.
// Invariant: echo and send_cwr only while ok; requested only before the SYN-ACK arrives.
struct TcpEcn {
    bool requested = false;   // our SYN asked for ECN (ECE and CWR set: StackConfig::tcp_ecn = 1)
    bool ok = false;          // negotiated: our new data segments leave ECT(0)
    bool echo = false;        // receiver: a CE mark arrived; every ACK carries ECE until the peer's CWR
    bool send_cwr = false;    // sender: the window was reduced for an ECE; the next new data segment carries CWR
    std::optional<SeqNum> recover;  // sender: after a reduction, SND.MAX then: no other one until SND.UNA passes it
};

// Every timer as a deadline (nullopt = not armed), and the counts that back the timers off. The
// layer keeps one TimerQueue entry per socket, for the earliest deadline.
struct TcpTimers {
    std::optional<Instant> rto;          // retransmission (RFC 6298)
    std::optional<Instant> persist;      // zero-window probe (RFC 9293 3.8.6.1)
    std::optional<Instant> delayed_ack;  // RFC 1122 4.2.3.2
    std::optional<Instant> time_wait;    // 2*MSL in TIME-WAIT; also the orphaned FIN-WAIT-2 timeout
    std::optional<Instant> keepalive;    // RFC 1122 4.2.3.6
    std::optional<Instant> rack;         // RACK reordering timeout (RFC 8985 6.3)
    std::optional<Instant> tlp;          // tail loss probe timeout, PTO (RFC 8985 7.2)
    std::optional<Instant> pacing;       // the pacing clock lets the next burst of data go (pacing.cpp)
    std::uint32_t retransmits = 0;       // consecutive RTO expiries without progress
    std::uint32_t probes = 0;            // zero-window probes sent without the window opening
    std::uint32_t keepalive_probes = 0;  // keepalive probes unanswered
    Instant last_activity;               // last acceptable segment received (keepalive idle time)
};

// A listener's two queues (the listen backlog, as Linux's request and accept queues).
// Invariant: accept_queue.size() <= backlog; syn_queue <= StackConfig::tcp_max_syn_backlog.
struct ListenerQueues {
    std::deque<class TcpSocket*> accept_queue;  // established children not yet accepted
    std::size_t backlog = 0;                    // listen()'s backlog: the accept queue's bound
    std::size_t syn_queue = 0;                  // children in SYN-RECEIVED
    std::optional<Instant> last_overflow;       // when the SYN queue last overflowed (cookies were sent)
};

// What the application set (setsockopt), with the stack's defaults. A connection made by a
// listener inherits its listener's, as on Linux.
struct TcpUserOptions {
    bool nodelay = false;            // TCP_NODELAY: Nagle off
    bool keepalive = false;          // SO_KEEPALIVE
    Duration keepalive_idle, keepalive_interval;  // TCP_KEEPIDLE, TCP_KEEPINTVL
    std::uint32_t keepalive_count = 0;            // TCP_KEEPCNT
    std::uint16_t user_mss = 0;      // TCP_MAXSEG, 0 = from the MTU
    std::size_t rcvbuf = 0, sndbuf = 0;  // SO_RCVBUF, SO_SNDBUF (the usable halves)
    bool rcvbuf_locked = false;      // SO_RCVBUF was set: the receive buffer keeps its size (Linux's SOCK_RCVBUF_LOCK)
    bool sndbuf_locked = false;      // SO_SNDBUF was set: the send buffer keeps its size (Linux's SOCK_SNDBUF_LOCK)
    bool reuse_address = false;      // SO_REUSEADDR
    std::optional<Duration> linger;  // SO_LINGER with l_onoff: close() waits (or resets when 0)
    std::optional<CongestionAlgorithm> congestion;  // TCP_CONGESTION; nullopt: StackConfig's default
};

class TcpSocket {
public:
    TcpSocket(Duration min_rto, Duration max_rto) { snd.rtt = RttEstimator(min_rto, max_rto); }

    TcpState state = TcpState::Closed;

    // ---- The connection's identity ----
    Ipv4Address local_address;       // 0.0.0.0 until bound or connected
    std::uint16_t local_port = 0;    // 0: not bound
    Ipv4Address remote_address;
    std::uint16_t remote_port = 0;

    // ---- What both directions agreed in the handshake (RFC 9293 3.7.1, RFC 7323 1.3) ----
    std::uint16_t mss = 536;         // the most data we put in one segment (RFC 9293 3.7.1 default): <= mss_limit,
                                     // less the 12 bytes of the timestamps option when on (as Linux's mss_cache)
    std::uint16_t mss_limit = 536;   // what the handshake allows (the peer's MSS, ours, TCP_MAXSEG); the path MTU may want less
    std::uint32_t pmtu_generation = 0;  // the path MTU cache's generation mss was last fitted under (TcpLayer::fit_mss_to_path)
    bool wscale_ok = false;          // both SYNs carried the window scale option
    bool sack_ok = false;            // both SYNs carried SACK-Permitted (RFC 2018): blocks are sent and used
    bool ts_ok = false;              // both SYNs carried timestamps (RFC 7323): on every segment from now on

    SendSequence snd;
    LossRecovery rec;
    ReceiveSequence rcv;
    TimestampState ts;
    TcpEcn ecn;
    TcpPacing pace;
    TcpTimers timers;
    // The one TimerQueue entry the layer keeps for this socket (for the earliest of `timers`), and
    // its deadline; nullopt when none is scheduled. Kept here rather than in a map beside the
    // sockets, so that re-arming it allocates nothing.
    std::optional<std::pair<TimerId, Instant>> wakeup;
    ListenerQueues queues;           // used by a listener only
    TcpUserOptions opts;

    TcpSocket* listener = nullptr;   // for a connection made by a listener, until accepted

    // RFC 5961 section 7: challenge ACKs this socket may still send in the current interval.
    // Per socket, never a global count: a global one leaks state to off-path attackers (CVE-2016-5696).
    std::uint32_t challenge_acks_left = 0;
    Instant challenge_interval_start;

    // ---- Statistics for TCP_INFO ----
    std::uint32_t total_retransmits = 0;

    // The connection's timeline (tcp_log.h), or null when logging is off (the default).
    std::unique_ptr<TcpLog> log;

    // ---- What the application sees ----
    std::optional<SocketError> error;       // a fatal error, reported once (SO_ERROR, or the next call)
    std::optional<SocketError> soft_error;  // e.g. an ICMP unreachable while retrying: reported if we time out
    bool user_closed = false;           // close() was called: the stack owns and frees it (an orphan until done)
    bool connect_reported = false;      // a non-blocking connect's result has been collected
    std::function<void()> on_event;     // wakes blocked callers and poll (set by the socket facade)

    // Set by TcpLayer::destroy(): the socket is out of every table and is freed at the end of the
    // current input or timer pass. Nothing may act on it any more.
    bool gone = false;
    bool counted_orphan = false;  // counted in TcpLayer's orphans (closed by the application, not yet over)

    bool is_listener() const { return state == TcpState::Listen; }
    void notify() { if (on_event) on_event(); }
};

}  // namespace tcpip
