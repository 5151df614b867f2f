// TcpSocket: one TCP endpoint, a listener or a connection, with its Transmission Control Block
// (RFC 9293 section 3.3.1) in the RFC's own names. Each field says what it holds; the invariants
// the code keeps are written beside them.
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

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "stack/core/address.h"
#include "stack/core/socket_error.h"
#include "stack/core/time.h"
#include "stack/tcp/assembler.h"
#include "stack/tcp/congestion/congestion.h"
#include "stack/tcp/ring_buffer.h"
#include "stack/tcp/rtt.h"
#include "stack/tcp/seq.h"
#include "stack/tcp/state.h"

namespace tcpip {

struct TcpInfo;  // the TCP_INFO-style read-out (tcp.h)

class TcpSocket {
public:
    TcpState state = TcpState::Closed;

    // ---- The connection's identity ----
    Ipv4Address local_address;       // 0.0.0.0 until bound or connected
    std::uint16_t local_port = 0;    // 0: not bound
    Ipv4Address remote_address;
    std::uint16_t remote_port = 0;

    // ---- Send sequence variables ----
    SeqNum iss;                      // initial send sequence number (RFC 6528)
    SeqNum snd_una;                  // oldest unacknowledged sequence number
    SeqNum snd_nxt;                  // next sequence number to send; snd_una <= snd_nxt
    SeqNum snd_max;                  // highest sequence number sent + 1; snd_nxt <= snd_max (after an RTO, snd_nxt goes back)
    std::uint32_t snd_wnd = 0;       // the peer's window, scaled: bytes it accepts beyond snd_una
    SeqNum snd_wl1;                  // seq of the segment last used to update snd_wnd
    SeqNum snd_wl2;                  // ack of the segment last used to update snd_wnd
    std::uint32_t max_snd_wnd = 0;   // largest window the peer ever offered (sender SWS avoidance)
    std::uint8_t snd_wscale = 0;     // shift for windows the peer sends us (RFC 7323)
    std::uint16_t mss = 536;         // the most data we put in one segment (RFC 9293 3.7.1 default)
    RingBuffer send_buffer;          // byte 0 is snd_una (SYN excluded); unsent data follows the in-flight data
    bool fin_queued = false;         // the application closed its side: a FIN follows the data
    bool fin_sent = false;           // the FIN has been sent (at sequence number fin_seq)
    SeqNum fin_seq;
    SeqNum snd_sml;                  // end of the last segment shorter than the MSS sent (Nagle, Minshall's variant); starts at iss

    // ---- Receive sequence variables ----
    SeqNum irs;                      // initial receive sequence number
    SeqNum rcv_nxt;                  // next sequence number expected
    std::uint32_t rcv_wnd = 0;       // the window we last advertised (bytes beyond rcv_nxt)
    SeqNum rcv_adv;                  // its right edge, rcv_nxt + rcv_wnd when sent: never moved left
    bool wscale_ok = false;          // both sides sent the window scale option (RFC 7323 1.3)
    std::uint8_t rcv_wscale = 0;     // shift for windows we send (RFC 7323)
    RingBuffer receive_buffer;       // in-order data not yet read; out-of-order data stored beyond it
    Assembler assembler;             // which out-of-order bytes beyond rcv_nxt are in receive_buffer
    bool fin_received = false;       // the peer's FIN arrived in order (end of stream)
    bool shut_rd = false;            // shutdown(SHUT_RD): received data is discarded

    // ---- Timers, kept as deadlines (Instant{} = not armed) ----
    std::optional<Instant> rto_deadline;        // retransmission (RFC 6298)
    std::optional<Instant> persist_deadline;    // zero-window probe (RFC 9293 3.8.6.1)
    std::optional<Instant> delayed_ack_deadline;
    std::optional<Instant> time_wait_deadline;  // 2*MSL in TIME-WAIT; also the orphaned FIN-WAIT-2 timeout
    std::optional<Instant> keepalive_deadline;
    std::uint32_t retransmits = 0;              // consecutive RTO expiries without progress
    std::uint32_t total_retransmits = 0;        // for TCP_INFO
    std::uint32_t persist_backoff = 0;
    std::uint32_t keepalive_probes_sent = 0;
    std::uint32_t segments_since_ack = 0;       // full segments received but not yet acknowledged
    bool ack_now = false;                       // an ACK must go out at the next output
    Instant last_activity;                      // last segment received (keepalive)
    Instant last_send;                          // last data segment sent (idle restart)

    // ---- RTT (Karn: only segments sent once are timed) ----
    std::unique_ptr<RttEstimator> rtt;
    std::optional<SeqNum> timed_seq;            // the segment being timed ends at this seq...
    Instant timed_sent_at;                      // ...and was sent at this instant

    // ---- Congestion control ----
    std::unique_ptr<CongestionControl> congestion;
    std::uint32_t dup_acks = 0;

    // ---- Options the application set ----
    bool nodelay = false;            // TCP_NODELAY: Nagle off
    bool keepalive = false;          // SO_KEEPALIVE
    Duration keepalive_idle, keepalive_interval;
    std::uint32_t keepalive_count = 0;
    std::uint16_t user_mss = 0;      // TCP_MAXSEG, 0 = from the MTU
    std::size_t rcvbuf = 0, sndbuf = 0;
    bool reuse_address = false;
    std::optional<Duration> linger;  // SO_LINGER with l_onoff: close() waits (or resets when 0)

    // ---- Listener state ----
    TcpSocket* listener = nullptr;            // for a connection made by a listener, until accepted
    std::deque<TcpSocket*> accept_queue;      // established connections not yet accepted
    std::size_t backlog = 0;                  // accept queue bound
    std::size_t syn_queue = 0;                // children in SYN-RECEIVED

    // ---- What the application sees ----
    std::optional<SocketError> error;   // a fatal error, reported once (SO_ERROR, or the next call)
    std::optional<SocketError> soft_error;  // e.g. an ICMP unreachable while retrying: reported if we time out
    bool user_closed = false;           // close() was called: the stack owns and frees it
    bool connect_reported = false;      // a non-blocking connect's result has been collected
    std::function<void()> on_event;     // wakes blocked callers and poll (set by the socket facade)

    // The options the application set, taken from another socket: a connection made by a listener
    // inherits its listener's, as on Linux.
    void copy_options_from(const TcpSocket& other) {
        nodelay = other.nodelay;
        keepalive = other.keepalive;
        keepalive_idle = other.keepalive_idle;
        keepalive_interval = other.keepalive_interval;
        keepalive_count = other.keepalive_count;
        user_mss = other.user_mss;
        rcvbuf = other.rcvbuf;
        sndbuf = other.sndbuf;
        reuse_address = other.reuse_address;
        linger = other.linger;
    }

    // Bytes in flight: sent but not acknowledged (SYN and FIN count one each).
    std::uint32_t in_flight() const { return static_cast<std::uint32_t>(snd_max - snd_una); }
    bool is_listener() const { return state == TcpState::Listen; }
    void notify() { if (on_event) on_event(); }
};

}  // namespace tcpip
