// TCP, the Transmission Control Protocol (RFC 9293): a reliable, ordered byte stream between two
// ports, with flow control (the receive window), congestion control (RFC 5681, RFC 6582), and
// timestamps (RFC 7323) and SACK (RFC 2018) when the peer agrees.
//
// The layer is split by concept, one file each:
//   tcp.h / tcp.cpp   the layer: connection table, listeners and backlog, opening and closing,
//                     ISNs (RFC 6528), RSTs for closed ports, TIME-WAIT bounds, timers
//   input.cpp         segment arrival, in the order of RFC 9293 section 3.10.7
//   output.cpp        what to send and when: data, ACKs, FIN, window updates, Nagle, SWS avoidance
//   tcp_socket.h      one endpoint's state (the TCB), in parts: send and receive sequence
//                     spaces, timers, listener queues, user options
//   syn_cookie.h      SYN cookies (RFC 4987 3.6) for a listener whose SYN queue is full
//   ring_buffer.h     send and receive buffers; assembler.h out-of-order data
//   rtt.h             the retransmission timeout (RFC 6298)
//   scoreboard.h      with SACK, what the sender knows of each segment in flight (RFC 6675)
//   recovery.cpp      loss recovery with SACK: RACK-TLP (RFC 8985), RFC 6675, undo (RFC 2883, 3522)
//   pacing.cpp        data spread over the round trip (Linux's internal pacing)
//   congestion/       congestion control algorithms behind one interface
//
// All timers are deadlines in each socket; the layer keeps one TimerQueue entry per socket, for
// its earliest deadline, so the event loop knows when to wake.
//
// Object lifetimes (STYLE.md 16): a socket is freed only by destroy(), and destroy() frees nothing
// at once. It takes the socket out of every table, marks it `gone`, and parks it; the parked
// sockets are freed when the outermost call into the layer (a segment, a timer, a socket call)
// returns. So a TcpSocket* held anywhere up the call chain stays valid memory for the whole pass,
// and code that may end a connection says so with its return value (a Verdict) instead of the
// caller looking the pointer up again.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "stack/core/config.h"
#include "stack/core/packet.h"
#include "stack/core/random.h"
#include "stack/core/result.h"
#include "stack/core/siphash.h"
#include "stack/core/socket_error.h"
#include "stack/core/stats.h"
#include "stack/core/timer.h"
#include "stack/ipv4/icmp_header.h"
#include "stack/ipv4/ipv4.h"
#include "stack/tcp/header.h"
#include "stack/tcp/tcp_socket.h"

namespace tcpip {

// What getsockopt(TCP_INFO) reports, in the spirit of Linux's struct tcp_info.
struct TcpInfo {
    TcpState state = TcpState::Closed;
    Duration srtt, rttvar, rto;
    std::uint32_t mss = 0;
    std::uint32_t cwnd = 0, ssthresh = 0;      // bytes
    std::uint32_t bytes_in_flight = 0;
    std::uint32_t retransmits = 0;             // total segments retransmitted
    // Loss recovery, as Linux's tcpi_lost, tcpi_sacked, tcpi_retrans, tcpi_reordering (segments).
    std::uint32_t lost = 0, sacked = 0, retrans = 0;
    std::uint32_t reordering = 3;
    bool sack = false, timestamps = false;     // negotiated (tcpi_options TCPI_OPT_SACK, TCPI_OPT_TIMESTAMPS)
    std::uint32_t snd_wnd = 0, rcv_wnd = 0;
    std::uint8_t snd_wscale = 0, rcv_wscale = 0;
    CongestionAlgorithm congestion = CongestionAlgorithm::Cubic;
    std::uint64_t pacing_rate = 0;             // bytes per second (tcpi_pacing_rate); 0: not paced
};

// What one step of segment or timer processing decided about the connection: go on with the next
// step, stop here (the segment has been dealt with), or stop because the connection is over (the
// socket is gone: out of every table, freed at the end of the pass; nothing may act on it).
enum class Verdict { Continue, Drop, Gone };

class TcpLayer final : public Ipv4ProtocolHandler {
public:
    static constexpr std::uint16_t kEphemeralFirst = 49152;  // StackConfig::ephemeral_port_first's default
    static constexpr std::uint16_t kEphemeralLast = 65535;

    TcpLayer(Ipv4Layer& ip, TimerQueue& timers, PacketPool& pool, const StackConfig& config, TcpStats& stats,
             std::uint64_t seed);
    ~TcpLayer() override;

    // ---- The calls the socket API makes (under the stack's lock) ----
    TcpSocket* open();
    Result<void, SocketError> bind(TcpSocket* s, Ipv4Address address, std::uint16_t port);
    Result<void, SocketError> listen(TcpSocket* s, int backlog);
    // An established connection from the accept queue, or WouldBlock.
    Result<TcpSocket*, SocketError> accept(TcpSocket* listener);
    // Sends the SYN: the result is InProgress; the connection completes (or fails) later.
    Result<void, SocketError> connect(Instant now, TcpSocket* s, Ipv4Address address, std::uint16_t port);
    // Copies as much as fits into the send buffer and transmits what the windows allow.
    Result<std::size_t, SocketError> send(Instant now, TcpSocket* s, Bytes data);
    // Copies received in-order data out (0 at end of stream); WouldBlock when none is there yet.
    Result<std::size_t, SocketError> recv(Instant now, TcpSocket* s, MutableBytes out, bool peek);
    Result<void, SocketError> shutdown(Instant now, TcpSocket* s, bool read, bool write);
    // The application lets go of the socket: graceful close (FIN), or RST if unread data remains
    // or SO_LINGER is zero (as Linux). The layer frees it when the connection is over.
    void close(Instant now, TcpSocket* s);

    // Readiness, for poll and blocking calls.
    bool readable(const TcpSocket* s) const;   // data, end of stream, an error, or a connection to accept
    bool writable(const TcpSocket* s) const;   // connected and send buffer space
    bool hung_up(const TcpSocket* s) const;    // both directions are finished (POLLHUP)
    bool peer_closed(const TcpSocket* s) const;  // the peer sent FIN (POLLRDHUP)

    TcpInfo info(const TcpSocket* s) const;
    // The connection's event log (tcp_log.h): started for every socket when
    // StackConfig::tcp_log_entries is set, or for one socket here (a ring of `entries`; 0 stops it).
    void enable_log(TcpSocket* s, std::size_t entries);
    TcpLogSnapshot log_snapshot(const TcpSocket* s) const { return tcp_log::snapshot(*s); }
    // The application's options (setsockopt). set_options() applies what changed: buffer sizes
    // (the limits only; storage is allocated as data arrives), keepalive (its timer armed or
    // stopped, as Linux's tcp_set_keepalive), TCP_NODELAY (waiting data sent at once), the
    // congestion control algorithm (before the connection starts, or switched on a live one).
    const TcpUserOptions& options(const TcpSocket* s) const { return s->opts; }
    void set_options(Instant now, TcpSocket* s, const TcpUserOptions& options);
    // After the application changes a window-affecting value (e.g. read data): send what is due.
    void output(Instant now, TcpSocket* s);

    // ---- From IPv4 ----
    void receive(Instant now, const Ipv4RxInfo& info, Packet payload) override;
    void icmp_error(Instant now, const IcmpErrorInfo& error) override;
    void unreachable(Instant now, const UnreachableInfo& info) override;

    std::size_t socket_count() const { return sockets_.size(); }
    // Read-only walk over every socket the layer owns (listeners, connections, TIME-WAIT), in no
    // particular order: for tools that list connections like `ss -tan`. Under the stack's lock.
    void for_each_socket(const std::function<void(const TcpSocket&)>& f) const;
    std::size_t time_wait_count() const { return time_wait_count_; }
    std::size_t orphan_count() const { return orphan_count_; }
    // Bytes of send and receive buffer storage held by all sockets now (memory accounting: it
    // returns to zero when every connection is gone).
    std::size_t buffer_bytes() const;
    const BufferCache& buffer_cache() const { return buffer_cache_; }
    // Checks the invariants each TCB part states (tcp_socket.h) on every socket, and the layer's own
    // bookkeeping (the tables, the TIME-WAIT and orphan counts). Returns the first one broken, said
    // in words, or an empty string. For tests, simulations and fuzzers: O(sockets).
    std::string check_invariants() const;

private:
    struct Segment {
        TcpRepr header;
        Bytes payload;
        Ipv4Address src, dst;
        std::uint8_t ecn = 0;  // the IP header's ECN field (ecn::kCe: congestion experienced)
    };
    struct TupleHash {
        std::size_t operator()(const std::tuple<std::uint32_t, std::uint16_t, std::uint32_t, std::uint16_t>& t) const;
    };
    using Tuple = std::tuple<std::uint32_t, std::uint16_t, std::uint32_t, std::uint16_t>;  // local, lport, remote, rport

    // Every public entry point opens a Pass; when the outermost one closes, the sockets destroyed
    // during it are freed (see "Object lifetimes" above).
    class Pass {
    public:
        explicit Pass(TcpLayer& layer) : layer_(layer) { ++layer_.pass_depth_; }
        ~Pass() { if (--layer_.pass_depth_ == 0) layer_.graveyard_.clear(); }
        Pass(const Pass&) = delete;
        Pass& operator=(const Pass&) = delete;
    private:
        TcpLayer& layer_;
    };

    // input.cpp
    void segment_arrives(Instant now, TcpSocket* s, const Segment& seg);
    void listen_input(Instant now, TcpSocket* listener, const Segment& seg);
    void cookie_ack(Instant now, TcpSocket* listener, const Segment& seg);
    void syn_sent_input(Instant now, TcpSocket* s, const Segment& seg);
    bool segment_acceptable(const TcpSocket* s, const Segment& seg) const;
    Verdict process_rst(Instant now, TcpSocket* s, const Segment& seg);
    Verdict process_ack(Instant now, TcpSocket* s, const Segment& seg);
    void process_text(Instant now, TcpSocket* s, const Segment& seg);
    Verdict process_fin(Instant now, TcpSocket* s, const Segment& seg);
    void apply_options(Instant now, TcpSocket* s, const TcpOptions& options);
    bool paws_reject(Instant now, const TcpSocket* s, const Segment& seg) const;
    bool disordered_ack(const TcpSocket* s, const Segment& seg, std::int32_t lag_ms) const;
    void update_ts_recent(Instant now, TcpSocket* s, const Segment& seg);
    void update_window(TcpSocket* s, const Segment& seg);
    TcpSocket* make_child(Instant now, TcpSocket* listener, const Segment& seg);

    // output.cpp
    // `record`: a data or FIN segment the scoreboard keeps (not a zero-window probe).
    void transmit(Instant now, TcpSocket* s, SeqNum seq, std::size_t length, TcpFlags flags, bool record = true);
    std::uint32_t tsval(Instant now, const TcpSocket* s) const;
    void add_sack_blocks(TcpSocket* s, TcpOptions& options, std::size_t length);
    void send_ack(Instant now, TcpSocket* s);
    void send_challenge_ack(Instant now, TcpSocket* s);
    void send_syn_ack_cookie(Instant now, const Segment& syn, SeqNum cookie, const TcpOptions& options, std::uint16_t window);
    void send_reset_for(Instant now, const Segment& seg);
    void send_reset(Instant now, TcpSocket* s);
    std::uint16_t window_to_advertise(TcpSocket* s);
    std::uint32_t receive_space(const TcpSocket* s) const;
    bool nagle_allows(const TcpSocket* s, std::size_t length, std::size_t unsent) const;
    void retransmit_first(Instant now, TcpSocket* s);
    void note_cwnd_usage(TcpSocket* s);

    // recovery.cpp: SACK-based loss recovery (RFC 6675, RFC 8985 RACK-TLP), spurious-retransmission undo
    void sack_input(Instant now, TcpSocket* s, const Segment& seg);
    void rack_delivered(Instant now, TcpSocket* s, const Scoreboard::Entry& e, const Segment* seg);
    void rack_detect_loss(Instant now, TcpSocket* s);
    Duration rack_reo_wnd(const TcpSocket* s) const;
    bool enter_recovery_if_lost(Instant now, TcpSocket* s);
    void prr_ack(TcpSocket* s, SeqNum una_before, std::uint32_t sacked_before, Counter lost_before,
                 std::uint32_t reno_delivered, bool reno_lost);
    void retransmit_lost(Instant now, TcpSocket* s);
    void retransmit_range(Instant now, TcpSocket* s, SeqNum from, SeqNum to);
    void arm_undo(TcpSocket* s);
    void undo(TcpSocket* s);
    void schedule_tlp(Instant now, TcpSocket* s);
    void on_tlp(Instant now, TcpSocket* s);
    void tlp_ack(TcpSocket* s, const Segment& seg, bool dsack_for_probe);
    void note_received_out_of_order(TcpSocket* s, SeqNum seq);
    void frto_ack(TcpSocket* s, bool original_acked);
    void frto_dupack(TcpSocket* s);

    // An RTT measurement (RFC 6298, RFC 7323 RTTM): the RTO's estimator and the congestion controller
    // (HyStart++) both hear of it.
    void rtt_sample(TcpSocket* s, Duration sample) {
        s->snd.rtt.sample(sample);
        s->snd.cc->on_rtt(sample, s->snd.rtt.srtt());
    }

    // ecn.cpp (RFC 3168 6.1)
    void ecn_accept_syn(TcpSocket* child, const Segment& syn) const;
    void ecn_syn_ack_arrived(TcpSocket* s, const Segment& syn_ack) const;
    void ecn_segment_arrived(TcpSocket* s, const Segment& seg);
    void ecn_ack_arrived(TcpSocket* s, const Segment& seg);
    TcpFlags ecn_outgoing(TcpSocket* s, SeqNum seq, std::size_t length, TcpFlags flags, std::uint8_t& tos);

    // pmtu.cpp (RFC 1191, RFC 5927)
    void path_mtu_reduced(Instant now, TcpSocket* s, SeqNum quoted_seq, std::uint16_t next_hop_mtu);
    bool fit_mss_to_path(Instant now, TcpSocket* s);

    // pacing.cpp (Linux's internal pacing)
    // Bytes per second the sender paces its data at now; 0: not paced (off, or no RTT sample yet).
    std::uint64_t pacing_rate(const TcpSocket* s) const;
    // The most data one departure carries: about 1 ms at the pacing rate, at least two segments
    // (Linux's tcp_tso_autosize), at most send_limit().
    std::size_t burst_limit(const TcpSocket* s) const;
    // True if the pacing clock says the next burst must wait; the pacing timer is then armed.
    bool pacing_wait(Instant now, TcpSocket* s);
    // A data segment of `bytes` left: the clock moves on by its length over the rate.
    void pacing_sent(Instant now, TcpSocket* s, std::size_t bytes);

    // autotune.cpp (receive-buffer auto-tuning)
    bool autotuned(const TcpSocket* s) const;
    std::uint8_t receive_wscale(const TcpSocket* s) const;
    void rcv_rtt_measure(Instant now, TcpSocket* s);
    void rcv_space_adjust(Instant now, TcpSocket* s);
    void snd_buffer_expand(TcpSocket* s);

    // tcp.cpp
    void arm_timer(TcpSocket* s);
    void on_timer(Instant now, TcpSocket* s);
    Verdict on_rto(Instant now, TcpSocket* s);
    Verdict on_persist(Instant now, TcpSocket* s);
    Verdict on_keepalive(Instant now, TcpSocket* s);
    void keepalive_changed(Instant now, TcpSocket* s);
    Verdict enter_state(Instant now, TcpSocket* s, TcpState state);
    Verdict fail(Instant now, TcpSocket* s, SocketError error);
    Verdict abort_orphan(Instant now, TcpSocket* s);
    void destroy(TcpSocket* s);
    void release_buffers(TcpSocket* s);
    void set_up_connection(TcpSocket* s);
    std::unique_ptr<CongestionControl> make_congestion(const TcpSocket* s) const;
    SeqNum initial_sequence_number(Instant now, Ipv4Address local, std::uint16_t lport, Ipv4Address remote,
                                   std::uint16_t rport);
    Result<std::uint16_t, SocketError> pick_ephemeral_port(Ipv4Address remote, std::uint16_t rport);
    void register_connection(TcpSocket* s);
    void unregister_connection(TcpSocket* s);
    TcpSocket* find_connection(Ipv4Address local, std::uint16_t lport, Ipv4Address remote, std::uint16_t rport) const;
    TcpSocket* find_listener(Ipv4Address local, std::uint16_t lport) const;
    bool port_in_use(const TcpSocket* s, Ipv4Address address, std::uint16_t port) const;
    std::uint16_t our_mss() const;
    std::size_t send_limit(const TcpSocket* s) const;

    Ipv4Layer& ip_;
    TimerQueue& timers_;
    PacketPool& pool_;
    const StackConfig& config_;
    TcpStats& stats_;
    Random random_;
    SipKey isn_key_;
    BufferCache buffer_cache_;  // before the sockets: their buffers give storage back to it as they go

    std::unordered_map<TcpSocket*, std::unique_ptr<TcpSocket>> sockets_;  // every socket the layer owns
    std::unordered_map<Tuple, TcpSocket*, TupleHash> connections_;        // by 4-tuple
    std::unordered_map<std::uint16_t, std::vector<TcpSocket*>> bound_;    // by local port: bound, listening or connected
    std::vector<std::unique_ptr<TcpSocket>> graveyard_;  // destroyed during this pass, freed at its end
    int pass_depth_ = 0;
    std::size_t time_wait_count_ = 0;
    std::size_t orphan_count_ = 0;       // closed by the application, not yet over, not in TIME-WAIT
    SipKey cookie_key_;                  // keys the SYN cookie hash (syn_cookie.h)
    std::uint64_t log_ids_ = 0;          // event logs started (tcp_log.h): the next one's id
};

}  // namespace tcpip
