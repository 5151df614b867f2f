// TcpLog: a connection's timeline, for people who want to watch TCP decide. Each entry is one
// event (a segment sent or received, a retransmission and what caused it, a state change),
// stamped with the stack's `now`, together with the sender's variables at that moment: cwnd,
// ssthresh, SRTT, RTTVAR, RTO (RFC 6298), bytes in flight, the peer's window and ours. Enough to
// draw what tcptrace and Linux's tcp_probe draw: the congestion window against time, and the
// time-sequence graph (segments, ACKs, SACK blocks, retransmissions).
//
// Bounded: a ring of `capacity` entries per connection; when it is full the oldest entry goes
// (recorded() keeps counting, so a reader knows how many were lost). Storage grows with the
// entries, so a short connection holds a few entries, not the whole ring.
//
// Off unless asked for (StackConfig::tcp_log_entries, or TcpLayer::enable_log for one socket): a
// socket without a log has a null TcpSocket::log, and each hook in the layer is one test of that
// pointer. The hooks are the functions in namespace tcp_log below, one call at each point of
// tcp.cpp, input.cpp and output.cpp that changes what they record.
//
// Reading it: TcpLayer::log_snapshot() (under the stack's lock), or Runtime::tcp_log(fd) from an
// application; write_csv() gives the file that scripts/plot_tcp.py draws.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "stack/core/address.h"
#include "stack/core/time.h"
#include "stack/tcp/header.h"
#include "stack/tcp/seq.h"
#include "stack/tcp/state.h"

namespace tcpip {

class TcpSocket;

enum class TcpLogEvent : std::uint8_t {
    Send,            // a segment sent for the first time: seq, len, flags
    Retransmit,      // a segment sent again: seq, len, flags, and the cause
    Receive,         // a segment received on the connection (before it is processed): seq, len, ack, window, SACK
    Timeout,         // the retransmission timer expired (RFC 6298 5.4-5.6): the cause of what is resent next
    FastRetransmit,  // the third duplicate ACK (RFC 5681 3.2)
    PartialAck,      // a partial ACK during recovery: the next hole is resent (RFC 6582 3.2 step 3)
    RackLoss,        // SACK recovery began: RACK found a segment lost by time (RFC 8985 6.2, RFC 6675 5)
    TailLossProbe,   // the probe timeout fired: the last segment (or new data) goes as a probe (RFC 8985 7.3)
    State,           // a state change: previous -> state
};

// Why a segment was sent again: the last cause event recorded before it.
enum class RetransmitCause : std::uint8_t {
    None,            // not a retransmission
    Timeout,         // RTO (go-back-N resends after it carry this too)
    FastRetransmit,
    PartialAck,
    RackLoss,        // resent during a SACK recovery that RACK began
    TailLossProbe,
    Other,           // a repeated SYN-ACK answering a repeated SYN, a keepalive probe
};

const char* to_string(TcpLogEvent event);
const char* to_string(RetransmitCause cause);

struct TcpLogEntry {
    Instant at;
    TcpLogEvent event = TcpLogEvent::Send;
    TcpState state = TcpState::Closed;     // the state after the event
    TcpState previous = TcpState::Closed;  // State: the state before
    TcpFlags flags;                        // Send, Retransmit, Receive: the segment's flags
    RetransmitCause cause = RetransmitCause::None;
    std::uint8_t sack_count = 0;           // Receive: SACK blocks in the segment (the first kMaxSack kept)
    SeqNum seq;                            // Send, Retransmit, Receive: the segment's sequence number
    std::uint32_t length = 0;              // ...and its payload length
    SeqNum ack;                            // Receive: its acknowledgment number (if ACK is set)
    std::uint32_t window = 0;              // Receive: its window, scaled
    static constexpr std::size_t kMaxSack = 3;
    std::array<SackBlock, kMaxSack> sack{};

    // The sender's and receiver's variables right after the event (Receive: right before the
    // segment is processed, as it found them).
    std::uint32_t cwnd = 0, ssthresh = 0;   // bytes
    std::uint32_t in_flight = 0;            // SND.MAX - SND.UNA
    std::uint32_t snd_wnd = 0;              // the peer's window (SND.WND)
    std::uint32_t rcv_wnd = 0;              // the window we last advertised (RCV.WND)
    Duration srtt, rttvar, rto;
};

// A connection's log, as a reader gets it: a copy, oldest entry first.
struct TcpLogSnapshot {
    std::uint64_t id = 0;                  // the log's number in its stack (1, 2, ...)
    Ipv4Address local_address, remote_address;
    std::uint16_t local_port = 0, remote_port = 0;
    TcpState state = TcpState::Closed;     // now
    SeqNum iss, irs;                       // for relative sequence numbers
    std::uint64_t recorded = 0;            // entries ever recorded; recorded - entries.size() were dropped
    std::size_t send_buffered = 0;         // bytes in the send buffer now (unsent or unacknowledged)
    std::vector<TcpLogEntry> entries;
};

class TcpLog {
public:
    TcpLog(std::uint64_t id, std::size_t capacity) : id_(id), capacity_(capacity == 0 ? 1 : capacity) {}

    std::uint64_t id() const { return id_; }
    std::size_t capacity() const { return capacity_; }
    std::size_t size() const { return ring_.size(); }
    std::uint64_t recorded() const { return recorded_; }

    void record(const TcpLogEntry& entry);
    // The entries, oldest first.
    std::vector<TcpLogEntry> entries() const;

    // The cause given to the retransmissions that follow (set by the cause events).
    RetransmitCause cause = RetransmitCause::None;

private:
    std::uint64_t id_;
    std::size_t capacity_;
    std::vector<TcpLogEntry> ring_;  // grows to capacity_, then wraps
    std::size_t next_ = 0;           // once full: the oldest entry, overwritten next
    std::uint64_t recorded_ = 0;
};

// The hooks the layer calls (only when the socket has a log).
namespace tcp_log {
void sent(Instant now, TcpSocket& s, SeqNum seq, std::size_t length, TcpFlags flags);
void received(Instant now, TcpSocket& s, const TcpRepr& header, std::size_t length);
void cause(Instant now, TcpSocket& s, TcpLogEvent event);  // Timeout, FastRetransmit, PartialAck, RackLoss or TailLossProbe
void state_changed(Instant now, TcpSocket& s, TcpState previous);

TcpLogSnapshot snapshot(const TcpSocket& s);

// The CSV that scripts/plot_tcp.py reads, one row per entry, for any number of connections:
//   conn,time_s,event,state,seq,len,ack,win,flags,cause,sack,cwnd,ssthresh,in_flight,snd_wnd,
//   rcv_wnd,srtt_ms,rttvar_ms,rto_ms
// time_s counts from `start`. Sequence numbers are relative, as Wireshark shows them: what we
// send (seq of Send/Retransmit, ack and SACK blocks of Receive) from our ISS, what we receive
// (seq of Receive) from the peer's. sack is "left-right" pairs separated by spaces; state is a
// change "A->B" on State rows, the current state otherwise.
extern const char* const kCsvHeader;
void write_csv_header(std::ostream& os);
void write_csv(std::ostream& os, const TcpLogSnapshot& log, Instant start);
}  // namespace tcp_log

}  // namespace tcpip
