// The connection timeline (tcp_log.h): the ring, the hooks, the CSV.
#include "stack/tcp/tcp_log.h"

#include <algorithm>
#include <cstdio>
#include <ostream>

#include "stack/tcp/tcp_socket.h"

namespace tcpip {

const char* to_string(TcpLogEvent event) {
    switch (event) {
        case TcpLogEvent::Send: return "send";
        case TcpLogEvent::Retransmit: return "retransmit";
        case TcpLogEvent::Receive: return "receive";
        case TcpLogEvent::Timeout: return "timeout";
        case TcpLogEvent::FastRetransmit: return "fast_retransmit";
        case TcpLogEvent::PartialAck: return "partial_ack";
        case TcpLogEvent::RackLoss: return "rack_loss";
        case TcpLogEvent::TailLossProbe: return "tlp";
        case TcpLogEvent::State: return "state";
    }
    return "?";
}

const char* to_string(RetransmitCause cause) {
    switch (cause) {
        case RetransmitCause::None: return "";
        case RetransmitCause::Timeout: return "rto";
        case RetransmitCause::FastRetransmit: return "fast_retransmit";
        case RetransmitCause::PartialAck: return "partial_ack";
        case RetransmitCause::RackLoss: return "rack_loss";
        case RetransmitCause::TailLossProbe: return "tlp";
        case RetransmitCause::Other: return "other";
    }
    return "?";
}

void TcpLog::record(const TcpLogEntry& entry) {
    ++recorded_;
    if (ring_.size() < capacity_) {
        ring_.push_back(entry);
        return;
    }
    ring_[next_] = entry;
    next_ = (next_ + 1) % capacity_;
}

std::vector<TcpLogEntry> TcpLog::entries() const {
    std::vector<TcpLogEntry> out;
    out.reserve(ring_.size());
    for (std::size_t i = 0; i < ring_.size(); ++i) out.push_back(ring_[(next_ + i) % ring_.size()]);
    return out;
}

namespace tcp_log {
namespace {

// An entry with the connection's variables as they are now.
TcpLogEntry entry_now(Instant now, const TcpSocket& s, TcpLogEvent event) {
    TcpLogEntry e;
    e.at = now;
    e.event = event;
    e.state = s.state;
    if (s.snd.cc) {
        e.cwnd = s.snd.cc->cwnd();
        e.ssthresh = s.snd.cc->ssthresh();
    }
    e.in_flight = s.snd.in_flight();
    e.snd_wnd = s.snd.wnd;
    e.rcv_wnd = s.rcv.wnd;
    e.srtt = s.snd.rtt.srtt();
    e.rttvar = s.snd.rtt.rttvar();
    e.rto = s.snd.rtt.rto();
    return e;
}

}  // namespace

void sent(Instant now, TcpSocket& s, SeqNum seq, std::size_t length, TcpFlags flags) {
    // Anything left of SND.MAX has been sent before (a SYN again, data after a timeout or a
    // duplicate ACK, a FIN again). transmit() is called before SND.NXT/SND.MAX move.
    const bool again = seq < s.snd.max;
    TcpLogEntry e = entry_now(now, s, again ? TcpLogEvent::Retransmit : TcpLogEvent::Send);
    e.seq = seq;
    e.length = static_cast<std::uint32_t>(length);
    e.flags = flags;
    // In flight counting this segment (SND.MAX moves after transmit() returns).
    const SeqNum end = seq + static_cast<std::uint32_t>(length) + (flags.syn() ? 1u : 0u) + (flags.fin() ? 1u : 0u);
    e.in_flight = static_cast<std::uint32_t>(seq_max(s.snd.max, end) - s.snd.una);
    if (again) e.cause = s.log->cause == RetransmitCause::None ? RetransmitCause::Other : s.log->cause;
    s.log->record(e);
}

void received(Instant now, TcpSocket& s, const TcpRepr& header, std::size_t length) {
    TcpLogEntry e = entry_now(now, s, TcpLogEvent::Receive);
    e.seq = header.seq;
    e.length = static_cast<std::uint32_t>(length);
    e.flags = header.flags;
    e.ack = header.ack;
    e.window = header.flags.syn() ? header.window : static_cast<std::uint32_t>(header.window) << s.snd.wscale;
    const auto sacks = header.options.sacks();
    e.sack_count = static_cast<std::uint8_t>(sacks.size());
    for (std::size_t i = 0; i < std::min(sacks.size(), TcpLogEntry::kMaxSack); ++i) e.sack[i] = sacks[i];
    s.log->record(e);
}

void cause(Instant now, TcpSocket& s, TcpLogEvent event) {
    switch (event) {
        case TcpLogEvent::Timeout: s.log->cause = RetransmitCause::Timeout; break;
        case TcpLogEvent::FastRetransmit: s.log->cause = RetransmitCause::FastRetransmit; break;
        case TcpLogEvent::PartialAck: s.log->cause = RetransmitCause::PartialAck; break;
        case TcpLogEvent::RackLoss: s.log->cause = RetransmitCause::RackLoss; break;
        case TcpLogEvent::TailLossProbe: s.log->cause = RetransmitCause::TailLossProbe; break;
        default: break;
    }
    s.log->record(entry_now(now, s, event));
}

void state_changed(Instant now, TcpSocket& s, TcpState previous) {
    TcpLogEntry e = entry_now(now, s, TcpLogEvent::State);
    e.previous = previous;
    s.log->record(e);
}

TcpLogSnapshot snapshot(const TcpSocket& s) {
    TcpLogSnapshot out;
    out.local_address = s.local_address;
    out.remote_address = s.remote_address;
    out.local_port = s.local_port;
    out.remote_port = s.remote_port;
    out.state = s.state;
    out.iss = s.snd.iss;
    out.irs = s.rcv.irs;
    out.send_buffered = s.snd.buffer.size();
    if (s.log) {
        out.id = s.log->id();
        out.recorded = s.log->recorded();
        out.entries = s.log->entries();
    }
    return out;
}

const char* const kCsvHeader =
    "conn,time_s,event,state,seq,len,ack,win,flags,cause,sack,cwnd,ssthresh,in_flight,snd_wnd,rcv_wnd,"
    "srtt_ms,rttvar_ms,rto_ms";

void write_csv_header(std::ostream& os) { os << kCsvHeader << "\n"; }

void write_csv(std::ostream& os, const TcpLogSnapshot& log, Instant start) {
    auto ms = [](Duration d) {
        char text[32];
        std::snprintf(text, sizeof text, "%.3f", static_cast<double>(d.total_micros()) / 1000.0);
        return std::string(text);
    };
    // Relative sequence numbers: ours from ISS, the peer's from IRS (SeqNum differences wrap).
    auto ours = [&](SeqNum n) { return static_cast<std::uint32_t>(n - log.iss); };
    auto theirs = [&](SeqNum n) { return static_cast<std::uint32_t>(n - log.irs); };
    for (const TcpLogEntry& e : log.entries) {
        char time[32];
        std::snprintf(time, sizeof time, "%.6f", static_cast<double>((e.at - start).total_micros()) / 1e6);
        os << log.id << ',' << time << ',' << to_string(e.event) << ',';
        if (e.event == TcpLogEvent::State) {
            os << to_string(e.previous) << "->" << to_string(e.state);
        } else {
            os << to_string(e.state);
        }
        os << ',';
        const bool segment = e.event == TcpLogEvent::Send || e.event == TcpLogEvent::Retransmit ||
                             e.event == TcpLogEvent::Receive;
        const bool incoming = e.event == TcpLogEvent::Receive;
        if (segment) {
            os << (incoming ? theirs(e.seq) : ours(e.seq)) << ',' << e.length << ',';
            if (incoming && e.flags.ack()) os << ours(e.ack);
            os << ',';
            if (incoming) os << e.window;
            os << ',' << e.flags.to_string();
        } else {
            os << ",,,,";
        }
        os << ',' << to_string(e.cause) << ',';
        for (std::size_t i = 0; i < std::min<std::size_t>(e.sack_count, TcpLogEntry::kMaxSack); ++i) {
            if (i > 0) os << ' ';
            os << ours(e.sack[i].left) << '-' << ours(e.sack[i].right);
        }
        os << ',' << e.cwnd << ',' << e.ssthresh << ',' << e.in_flight << ',' << e.snd_wnd << ',' << e.rcv_wnd << ','
           << ms(e.srtt) << ',' << ms(e.rttvar) << ',' << ms(e.rto) << '\n';
    }
}

}  // namespace tcp_log
}  // namespace tcpip
