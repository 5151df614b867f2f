// Receive-buffer auto-tuning, as Linux's tcp_rcv_space_adjust ("dynamic right-sizing", Fisk and
// Feng 2001). A window smaller than the path's bandwidth-delay product caps a connection at
// window / RTT, whatever the path could carry; a window much larger only holds memory. So a
// connection whose application did not fix SO_RCVBUF starts with StackConfig::tcp_rcvbuf and,
// once per round trip, sets its buffer to twice what the application read in the last round trip
// (twice: the sender may double its rate in slow start, and losses leave holes to fill), never
// shrinking it and never beyond tcp_rmem_max. The window follows the buffer's free space.
//
// The receiver's round trip: the shortest time one advertised window's worth of data took to
// arrive (Linux's tcp_rcv_rtt_measure without timestamps), or the RTT the handshake measured if
// that is shorter.
//
// The send side (Linux's tcp_sndbuf_expand): a window of data in flight stays in the send buffer
// until it is acknowledged, so a buffer smaller than the congestion window caps the connection as
// surely as a small receive window. A socket whose application did not fix SO_SNDBUF grows its send
// buffer to twice the congestion window (rounded up to a power of two) as the window grows, never
// beyond tcp_wmem_max.
#include <algorithm>
#include <bit>

#include "stack/tcp/tcp.h"

namespace tcpip {

bool TcpLayer::autotuned(const TcpSocket* s) const { return config_.tcp_moderate_rcvbuf && !s->opts.rcvbuf_locked; }

// In-order data arrived: if RCV.NXT passed the end of the window we were timing, that took about
// one RTT (more if the sender was not sending a full window); start timing the next window.
void TcpLayer::rcv_rtt_measure(Instant now, TcpSocket* s) {
    ReceiveAutotune& a = s->rcv.autotune;
    if (a.measuring) {
        if (s->rcv.nxt < a.rtt_seq) return;
        const Duration sample = std::max(now - a.rtt_start, Duration::micros(1));
        a.rtt = a.rtt == Duration::zero() ? sample : std::min(a.rtt, sample);
    }
    a.measuring = true;
    a.rtt_seq = s->rcv.nxt + std::max<std::uint32_t>(s->rcv.wnd, 1);
    a.rtt_start = now;
}

// The application read data: once per receiver RTT, compare what it read in that time with the
// round before, and grow the buffer to twice the new amount.
void TcpLayer::rcv_space_adjust(Instant now, TcpSocket* s) {
    ReceiveAutotune& a = s->rcv.autotune;
    // The read position: bytes in order minus the ones still waiting to be read (and the FIN).
    const SeqNum read_seq = s->rcv.nxt - static_cast<std::uint32_t>(s->rcv.buffer.size()) - (s->rcv.fin_received ? 1 : 0);
    if (!a.started) {
        a.started = true;
        a.space_seq = read_seq;
        a.space_start = now;
        a.space = std::min<std::uint32_t>(s->rcv.wnd, 10 * s->mss);  // Linux's starting point: an initial window
        return;
    }
    Duration rtt = a.rtt;
    if (s->snd.rtt.has_sample() && (rtt == Duration::zero() || s->snd.rtt.srtt() < rtt)) rtt = s->snd.rtt.srtt();
    if (rtt == Duration::zero() || now - a.space_start < rtt) return;

    const auto copied = static_cast<std::uint32_t>(read_seq - a.space_seq);
    if (copied > a.space) {
        if (autotuned(s)) {
            const std::size_t want = std::min<std::size_t>(2 * std::size_t{copied}, config_.tcp_rmem_max);
            if (want > s->rcv.buffer.capacity()) {
                s->rcv.buffer.set_capacity(want);  // a limit: storage still comes with the data
                ++stats_.rcvbuf_grown;
            }
        }
        a.space = copied;
    }
    a.space_seq = read_seq;
    a.space_start = now;
}

// New data was acknowledged and the congestion window may have grown: room for two windows,
// rounded up to a power of two. The rounding matters: the buffer's storage grows by doubling up to
// the limit, so a limit that crept up by a few segments per ACK would make every step past it a
// new allocation of the whole buffer and a copy of it (megabytes, once per ACK); in powers of two
// the limit changes a dozen times in a connection's life and each size recurs (buffer_cache.h).
void TcpLayer::snd_buffer_expand(TcpSocket* s) {
    if (s->opts.sndbuf_locked) return;
    const std::size_t want = std::min(std::bit_ceil(2 * std::size_t{s->snd.cc->cwnd()}), config_.tcp_wmem_max);
    if (want > s->snd.buffer.capacity()) {
        s->snd.buffer.set_capacity(want);  // a limit: storage still comes with the data
        ++stats_.sndbuf_grown;
    }
}

}  // namespace tcpip
