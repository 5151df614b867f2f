// TCP, the Transmission Control Protocol (RFC 9293): a reliable, ordered byte stream between two
// ports, with flow control (the receive window) and congestion control (RFC 5681, RFC 6582).
//
// The layer is split by concept, one file each:
//   tcp.h / tcp.cpp   the layer: connection table, listeners and backlog, opening and closing,
//                     ISNs (RFC 6528), RSTs for closed ports, TIME-WAIT bounds, timers
//   input.cpp         segment arrival, in the order of RFC 9293 section 3.10.7
//   output.cpp        what to send and when: data, ACKs, FIN, window updates, Nagle, SWS avoidance
//   tcp_socket.h      one endpoint's state (the TCB)
//   ring_buffer.h     send and receive buffers; assembler.h out-of-order data
//   rtt.h             the retransmission timeout (RFC 6298)
//   congestion/       congestion control algorithms behind one interface
//
// All timers are deadlines in each socket; the layer keeps one TimerQueue entry per socket, for
// its earliest deadline, so the event loop knows when to wake.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
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
    std::uint32_t snd_wnd = 0, rcv_wnd = 0;
    std::uint8_t snd_wscale = 0, rcv_wscale = 0;
};

class TcpLayer final : public Ipv4ProtocolHandler {
public:
    static constexpr std::uint16_t kEphemeralFirst = 49152;
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
    void set_buffer_sizes(TcpSocket* s, std::size_t rcvbuf, std::size_t sndbuf);
    // After the application changes a window-affecting value (e.g. read data): send what is due.
    void output(Instant now, TcpSocket* s);
    // After SO_KEEPALIVE or TCP_KEEPIDLE changed on a connection: (re)arm or stop its keepalive
    // timer, as Linux's tcp_set_keepalive does.
    void keepalive_changed(Instant now, TcpSocket* s);

    // ---- From IPv4 ----
    void receive(Instant now, const Ipv4RxInfo& info, Packet payload) override;
    void icmp_error(Instant now, const IcmpErrorInfo& error) override;
    void unreachable(Instant now, const UnreachableInfo& info) override;

    std::size_t socket_count() const { return sockets_.size(); }
    // Read-only walk over every socket the layer owns (listeners, connections, TIME-WAIT), in no
    // particular order: for tools that list connections like `ss -tan`. Under the stack's lock.
    void for_each_socket(const std::function<void(const TcpSocket&)>& f) const;
    std::size_t time_wait_count() const { return time_wait_count_; }

private:
    struct Segment {
        TcpRepr header;
        Bytes payload;
        Ipv4Address src, dst;
    };
    struct TupleHash {
        std::size_t operator()(const std::tuple<std::uint32_t, std::uint16_t, std::uint32_t, std::uint16_t>& t) const;
    };
    using Tuple = std::tuple<std::uint32_t, std::uint16_t, std::uint32_t, std::uint16_t>;  // local, lport, remote, rport

    // input.cpp
    void segment_arrives(Instant now, TcpSocket* s, const Segment& seg);
    void listen_input(Instant now, TcpSocket* listener, const Segment& seg);
    void syn_sent_input(Instant now, TcpSocket* s, const Segment& seg);
    bool segment_acceptable(const TcpSocket* s, const Segment& seg) const;
    void process_ack(Instant now, TcpSocket* s, const Segment& seg, bool& drop);
    void process_text(Instant now, TcpSocket* s, const Segment& seg);
    void process_fin(Instant now, TcpSocket* s, const Segment& seg);
    void apply_options(TcpSocket* s, const TcpOptions& options);
    void update_window(TcpSocket* s, const Segment& seg);

    // output.cpp
    void transmit(Instant now, TcpSocket* s, SeqNum seq, std::size_t length, TcpFlags flags);
    void send_ack(Instant now, TcpSocket* s);
    void send_challenge_ack(Instant now, TcpSocket* s);
    void send_reset_for(Instant now, const Segment& seg);
    void send_reset(Instant now, TcpSocket* s);
    std::uint16_t window_to_advertise(TcpSocket* s);
    std::uint32_t receive_space(const TcpSocket* s) const;
    bool nagle_allows(const TcpSocket* s, std::size_t length, std::size_t unsent) const;
    void retransmit_first(Instant now, TcpSocket* s);

    // tcp.cpp
    void arm_timer(TcpSocket* s);
    void on_timer(Instant now, TcpSocket* s);
    void on_rto(Instant now, TcpSocket* s);
    void on_persist(Instant now, TcpSocket* s);
    void on_keepalive(Instant now, TcpSocket* s);
    void enter_state(Instant now, TcpSocket* s, TcpState state);
    void fail(Instant now, TcpSocket* s, SocketError error);
    void destroy(TcpSocket* s);
    void set_up_connection(TcpSocket* s, std::uint16_t peer_mss_option, bool has_mss);
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

    std::unordered_map<TcpSocket*, std::unique_ptr<TcpSocket>> sockets_;  // every socket the layer owns
    std::unordered_map<Tuple, TcpSocket*, TupleHash> connections_;        // by 4-tuple
    std::unordered_map<std::uint16_t, std::vector<TcpSocket*>> bound_;    // by local port: bound, listening or connected
    std::unordered_map<TcpSocket*, std::pair<TimerId, Instant>> timer_of_;  // the one scheduled wake-up per socket
    std::size_t time_wait_count_ = 0;
};

}  // namespace tcpip
