// Loss recovery when the peer SACKs, as Linux does it:
//
//   RFC 2018 / RFC 2883   the peer's SACK blocks mark the scoreboard (scoreboard.h); a D-SACK says a
//                         retransmission was a duplicate
//   RFC 8985 (RACK)       a segment is lost when one sent sufficiently later was delivered: "later" by
//                         the reordering window reo_wnd, timed by the RACK timer when not yet
//   RFC 6675              in recovery, the lost segments go first (NextSeg rule 1), then new data,
//                         while pipe < cwnd (output.cpp)
//   RFC 8985 (TLP)        when the tail of a flight may be lost and no ACK will come to say so, a
//                         probe after PTO = 2 SRTT draws one, instead of waiting for the RTO
//   RFC 2883 section 4,   a reduction answering retransmissions that all proved spurious (every one
//   RFC 3522 (Eifel)      D-SACKed, or the ACK echoes a TSval older than the first) is undone
//
// Without SACK none of this runs: NewReno's three duplicate ACKs and partial ACKs (input.cpp).
#include <algorithm>

#include "stack/tcp/tcp.h"

namespace tcpip {

namespace {

// RACK's order of transmissions (RFC 8985 section 6.2, "RACK_sent_after"): by time, and for
// segments sent at the same instant (one TSO burst), by sequence.
bool sent_after(Instant t1, SeqNum end1, Instant t2, SeqNum end2) {
    return t1 > t2 || (t1 == t2 && end1 > end2);
}

}  // namespace

// Everything an ACK's SACK blocks tell (after its cumulative part was taken by process_ack).
void TcpLayer::sack_input(Instant now, TcpSocket* s, const Segment& seg) {
    LossRecovery& rec = s->rec;
    const auto blocks = seg.header.options.sacks();
    bool dsack = false;
    bool dsack_for_probe = false;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        const SackBlock b = blocks[i];
        if (!(b.left < b.right)) continue;
        // RFC 2883 section 4: the first block is a D-SACK if it lies below the cumulative ACK, or
        // inside the second block.
        if (i == 0 && (b.right <= seg.header.ack ||
                       (blocks.size() > 1 && blocks[1].left <= b.left && b.right <= blocks[1].right))) {
            dsack = true;
            ++stats_.dsacks_received;
            if (rec.tlp_end && rec.tlp_retransmitted && b.right == *rec.tlp_end) dsack_for_probe = true;
            if (rec.undo_armed && rec.undo_retrans > 0 && rec.undo_marker < b.right) {
                const std::uint32_t segs = (static_cast<std::uint32_t>(b.right - b.left) + s->mss - 1) / s->mss;
                rec.undo_retrans -= std::min(rec.undo_retrans, segs);
                // RFC 2883 section 4 (Linux's tcp_try_undo_dsack): every retransmission of the
                // episode came back as a duplicate: none was needed.
                if (rec.undo_retrans == 0) undo(s);
            }
            continue;
        }
        // A block must lie within what is outstanding (RFC 2018 section 3); others are ignored.
        if (b.left < s->snd.una || b.right > s->snd.max) continue;
        (void)rec.scoreboard.on_sack(b, [&](const Scoreboard::Entry& e) { rack_delivered(now, s, e, &seg); });
    }

    // RACK's reordering window follows D-SACKs (RFC 8985 6.2 step 4): one step per round trip.
    if (rec.dsack_round && s->snd.una >= *rec.dsack_round) rec.dsack_round.reset();
    if (dsack && !rec.dsack_round) {
        rec.dsack_round = s->snd.max;
        rec.reo_wnd_mult = std::min<std::uint32_t>(rec.reo_wnd_mult + 1, 16);
        rec.reo_wnd_persist = 16;
    }
    tlp_ack(s, seg, dsack_for_probe);

    rack_detect_loss(now, s);
    enter_recovery_if_lost(now, s);
    if (!s->snd.cc->in_recovery() && !rec.rto_high) schedule_tlp(now, s);
}

// RFC 8985 6.2 step 2 ("RACK_update") and step 3 ("RACK_detect_reordering"), for one segment an
// ACK delivered, cumulatively or by SACK.
void TcpLayer::rack_delivered(Instant now, TcpSocket* s, const Scoreboard::Entry& e, const Segment* seg) {
    LossRecovery& rec = s->rec;
    const Duration rtt = now - e.xmit_ts;
    if (e.ever_retransmitted) {
        // Which transmission was delivered? Not the last one if the ACK echoes an older TSval, or
        // if it came back quicker than any round trip seen: then it says nothing of the time.
        if (seg != nullptr && s->ts_ok && seg->header.options.timestamps &&
            static_cast<std::int32_t>(seg->header.options.timestamps->tsecr - tsval(e.xmit_ts, s)) < 0) {
            return;
        }
        if (rec.min_rtt && rtt < *rec.min_rtt) return;
    } else if (!rec.min_rtt || rtt < *rec.min_rtt) {
        rec.min_rtt = rtt;
    }
    if (!rec.rack_valid || sent_after(e.xmit_ts, e.end, rec.rack_xmit_ts, rec.rack_end_seq)) {
        rec.rack_valid = true;
        rec.rack_rtt = rtt;
        rec.rack_xmit_ts = e.xmit_ts;
        rec.rack_end_seq = e.end;
    }
    // Delivered below a segment delivered before it, and never resent: the network reordered.
    if (!e.ever_retransmitted && e.end < rec.rack_fack) {
        rec.reordering_seen = true;
        // Linux's tp->reordering: how far, in segments (tcp_check_sack_reordering, at most 300).
        const std::uint32_t distance = static_cast<std::uint32_t>(rec.rack_fack - e.start) / std::max<std::uint32_t>(s->mss, 1) + 1;
        rec.reordering = std::min<std::uint32_t>(std::max(rec.reordering, distance), 300);
    }
    if (rec.rack_fack < e.end) rec.rack_fack = e.end;
}

// RFC 8985 6.2 step 4 ("RACK_update_reo_wnd"): how much later than a delivered segment's, in time,
// an earlier one may still arrive before it is called lost. Zero, as the DupThresh rule, until
// reordering is seen, if recovering or once reordering-many segments are SACKed; otherwise a quarter
// of the minimum RTT, widened by D-SACKs, at most SRTT.
Duration TcpLayer::rack_reo_wnd(const TcpSocket* s) const {
    const LossRecovery& rec = s->rec;
    if (!rec.reordering_seen) {
        if (s->snd.cc->in_recovery() || rec.rto_high) return Duration::zero();
        if (rec.scoreboard.sacked_bytes() >= rec.reordering * s->mss) return Duration::zero();
    }
    const Duration min_rtt = rec.min_rtt.value_or(Duration::zero());
    Duration wnd = min_rtt / 4 * rec.reo_wnd_mult;
    if (s->snd.rtt.has_sample()) wnd = std::min(wnd, s->snd.rtt.srtt());
    return wnd;
}

// RFC 8985 6.2 step 5 ("RACK_detect_loss"): every segment sent before the most recently delivered
// one, by more than reo_wnd, is lost; for those not yet that late, the RACK timer waits.
void TcpLayer::rack_detect_loss(Instant now, TcpSocket* s) {
    LossRecovery& rec = s->rec;
    s->timers.rack.reset();
    if (!rec.rack_valid || rec.scoreboard.empty()) return;
    const Duration reo_wnd = rack_reo_wnd(s);
    Duration wait = Duration::zero();
    rec.scoreboard.for_each([&](Scoreboard::Entry& e) {
        if (e.sacked || (e.lost && !e.retransmitted)) return true;  // delivered, or already to be resent
        if (!sent_after(rec.rack_xmit_ts, rec.rack_end_seq, e.xmit_ts, e.end)) {
            // Sent after the newest delivered segment: too early to tell. Segments are first sent
            // in sequence order, so past one never resent, every later one was sent later still.
            return e.ever_retransmitted;
        }
        const Duration remaining = (e.xmit_ts + rec.rack_rtt + reo_wnd) - now;
        if (remaining <= Duration::zero()) {
            rec.scoreboard.mark_lost(e);
            ++stats_.rack_lost;
        } else {
            wait = std::max(wait, remaining);
        }
        return true;
    });
    if (wait > Duration::zero()) {
        s->timers.rack = now + wait;
        arm_timer(s);
    }
}

// RFC 6675 section 5 step (4), with loss found by RACK: the first loss of a window starts a fast
// recovery (the congestion controller decides the window: on_loss); not after an RTO, whose own
// recovery (go-back-N) is on until SND.UNA passes SND.MAX of that time.
bool TcpLayer::enter_recovery_if_lost(Instant now, TcpSocket* s) {
    LossRecovery& rec = s->rec;
    if (rec.scoreboard.lost_bytes() == 0 || rec.rto_high || s->snd.cc->in_recovery()) return false;
    const std::uint32_t prior_cwnd = s->snd.cc->cwnd(), prior_ssthresh = s->snd.cc->ssthresh();
    if (!s->snd.cc->on_loss(s->snd.una, s->snd.max, s->snd.in_flight())) return false;
    ++stats_.sack_recoveries;
    ++stats_.fast_retransmits;
    if (s->log) tcp_log::cause(now, *s, TcpLogEvent::RackLoss);
    // RFC 8985 6.2 step 4: a widened reordering window lasts 16 recoveries, then narrows again.
    if (rec.reo_wnd_persist > 0 && --rec.reo_wnd_persist == 0) rec.reo_wnd_mult = 1;
    rec.prior_cwnd = prior_cwnd;
    rec.prior_ssthresh = prior_ssthresh;
    arm_undo(s);
    s->timers.tlp.reset();
    rec.tlp_end.reset();
    // RFC 6675 step (4.3): the first lost segment goes at once, whatever pipe says (the fast
    // retransmit; Linux's PRR likewise lets one segment out on entering recovery).
    if (s->snd.nxt == s->snd.max) {
        if (const Scoreboard::Entry* e = rec.scoreboard.next_lost()) {
            retransmit_range(now, s, e->start, e->start + std::min<std::uint32_t>(e->len(), s->mss));
        }
    }
    return true;
}

// Proportional rate reduction (RFC 6937) after an ACK taken in during a loss recovery or ECN's
// reduction (CongestionControl::in_cwnd_reduction): what it
// delivered (DeliveredData: SND.UNA's advance plus the change in SACKed bytes; without SACK, as
// Linux, what the duplicate ACKs had not counted already), and the pipe after it. Not in the
// recovery after an RTO (the window is one segment, slow start from there: Linux's CA_Loss).
void TcpLayer::prr_ack(TcpSocket* s, SeqNum una_before, std::uint32_t sacked_before, Counter lost_before,
                       std::uint32_t reno_delivered, bool reno_lost) {
    CongestionControl& cc = *s->snd.cc;
    if (!cc.in_cwnd_reduction() || s->rec.rto_high) return;
    const bool una_advanced = una_before < s->snd.una;
    if (s->sack_ok) {
        const Scoreboard& sb = s->rec.scoreboard;
        const std::int64_t delivered = std::int64_t{static_cast<std::uint32_t>(s->snd.una - una_before)} +
                                       std::int64_t{sb.sacked_bytes()} - std::int64_t{sacked_before};
        const std::uint32_t pipe = sb.pipe();
        cc.on_recovery_ack(static_cast<std::uint32_t>(std::max<std::int64_t>(delivered, 0)), pipe, pipe, una_advanced,
                           stats_.rack_lost != lost_before);
        return;
    }
    const auto flight = static_cast<std::uint32_t>(s->snd.nxt - s->snd.una);
    const std::uint32_t pipe = flight - std::min(flight, s->rec.reno_sacked);
    cc.on_recovery_ack(reno_delivered, pipe, flight, una_advanced, reno_lost);
}

// A new episode that may be undone: its retransmissions are counted from here.
void TcpLayer::arm_undo(TcpSocket* s) {
    s->rec.undo_armed = true;
    s->rec.undo_marker = s->snd.una;
    s->rec.undo_retrans = 0;
    s->rec.first_rxt_seq.reset();
}

// The episode's retransmissions were all spurious: the window comes back, nothing is lost, and
// after an RTO the go-back-N stops (the data it would resend arrived the first time).
void TcpLayer::undo(TcpSocket* s) {
    LossRecovery& rec = s->rec;
    if (!rec.undo_armed) return;
    rec.undo_armed = false;
    rec.first_rxt_seq.reset();
    s->snd.cc->on_undo(rec.prior_cwnd, rec.prior_ssthresh);
    rec.scoreboard.clear_lost();
    if (rec.rto_high) {
        rec.rto_high.reset();
        rec.frto = 0;
        s->snd.nxt = s->snd.max;
    }
    ++stats_.spurious_undos;
}

// RFC 6675 NextSeg rule 1 and SetPipe: while cwnd - pipe leaves room for the segment, the first
// lost segment not yet retransmitted goes (as many MSS as one paced burst carries).
void TcpLayer::retransmit_lost(Instant now, TcpSocket* s) {
    Scoreboard& sb = s->rec.scoreboard;
    for (int guard = 0; guard < 4096; ++guard) {
        const Scoreboard::Entry* e = sb.next_lost();
        if (e == nullptr) return;
        const std::uint32_t cwnd = s->snd.cc->cwnd(), pipe = sb.pipe();
        const std::uint32_t room = cwnd > pipe ? cwnd - pipe : 0;
        const std::uint32_t len = std::min<std::uint32_t>({e->len(), static_cast<std::uint32_t>(burst_limit(s)), room});
        if (len == 0 || len < std::min<std::uint32_t>(e->len(), s->mss)) return;
        if (pacing_wait(now, s)) return;  // paced like new data (pacing.cpp)
        const std::uint32_t whole = len > s->mss && len < e->len() ? len - len % s->mss : len;
        retransmit_range(now, s, e->start, e->start + whole);
    }
}

// Resends the sequence range [from, to) as one segment: data, and the FIN if `to` passes it.
void TcpLayer::retransmit_range(Instant now, TcpSocket* s, SeqNum from, SeqNum to) {
    const SeqNum data_end = s->snd.fin_sent ? s->snd.fin_seq : s->snd.max;
    std::size_t length = 0;
    if (from < data_end) length = static_cast<std::size_t>(seq_min(to, data_end) - from);
    TcpFlags flags = TcpFlags::kAck;
    if (s->snd.fin_sent && to == s->snd.fin_seq + 1) flags = flags | TcpFlags::kFin;
    if (length == 0 && !flags.fin()) return;
    ++stats_.retransmitted_segments;
    ++s->total_retransmits;
    if (s->snd.timed_seq && from < *s->snd.timed_seq) s->snd.timed_seq.reset();  // Karn
    transmit(now, s, from, length, flags);
    // Resending the oldest segment restarts the RTO (as Linux's tcp_xmit_retransmit_queue): its
    // ACK needs a round trip from now, and on a long path the loss took more than an RTO to find
    // (a round trip of SACKs, then RACK's reordering window), so the timer left running would
    // expire first and throw away the whole recovery.
    if (!s->timers.rto || from == s->snd.una) {
        s->timers.rto = now + s->snd.rtt.rto();
        arm_timer(s);
    }
}

// RFC 8985 7.2 ("TLP_schedule_loss_probe"), as Linux's tcp_schedule_loss_probe: with data in flight,
// no recovery on and no probe outstanding, PTO = 2 SRTT (plus the peer's worst delayed ACK, 200 ms,
// when one segment is in flight; 1 s with no RTT sample yet). Armed only when it comes before the
// RTO (which would retransmit anyway).
void TcpLayer::schedule_tlp(Instant now, TcpSocket* s) {
    LossRecovery& rec = s->rec;
    s->timers.tlp.reset();
    if (!s->sack_ok || s->snd.una == s->snd.max || s->snd.nxt != s->snd.max) return;
    if (s->state != TcpState::Established && s->state != TcpState::CloseWait && s->state != TcpState::FinWait1 &&
        s->state != TcpState::Closing && s->state != TcpState::LastAck) {
        return;
    }
    if (rec.tlp_end || rec.rto_high || s->snd.cc->in_recovery() || rec.scoreboard.lost_bytes() > 0) return;
    Duration pto = RttEstimator::kInitialRto;
    if (s->snd.rtt.has_sample()) {
        pto = s->snd.rtt.srtt() * 2;
        pto = pto + (s->snd.in_flight() <= s->mss ? Duration::millis(200) : Duration::millis(2));
    }
    const Instant when = now + pto;
    if (s->timers.rto && when >= *s->timers.rto) return;
    s->timers.tlp = when;
    arm_timer(s);
}

// RFC 8985 7.3 ("TLP_send_probe"): new data if the windows allow a segment of it, else the last
// segment sent again; either draws an ACK (with SACK blocks) that lets RACK find a tail loss.
void TcpLayer::on_tlp(Instant now, TcpSocket* s) {
    LossRecovery& rec = s->rec;
    if (!s->sack_ok || s->snd.una == s->snd.max || rec.tlp_end || rec.rto_high || s->snd.cc->in_recovery() ||
        s->snd.nxt != s->snd.max) {
        return;
    }
    const SeqNum data_end = s->snd.fin_sent ? s->snd.fin_seq : s->snd.max;
    const std::size_t sent = static_cast<std::size_t>(data_end - s->snd.una);
    const std::size_t unsent = s->snd.buffer.size() > sent ? s->snd.buffer.size() - sent : 0;
    const std::uint32_t flight = s->snd.in_flight();
    const std::size_t peer_room = s->snd.wnd > flight ? s->snd.wnd - flight : 0;
    ++stats_.tlp_probes;
    if (s->log) tcp_log::cause(now, *s, TcpLogEvent::TailLossProbe);
    if (unsent > 0 && !s->snd.fin_sent && peer_room >= std::min<std::size_t>(unsent, s->mss)) {
        const std::size_t length = std::min<std::size_t>(unsent, s->mss);
        transmit(now, s, s->snd.nxt, length, length == unsent ? TcpFlags::kAck | TcpFlags::kPsh : TcpFlags::kAck);
        s->snd.nxt += static_cast<std::uint32_t>(length);
        s->snd.max = s->snd.nxt;
        if (length < s->mss) s->snd.sml = s->snd.nxt;
        rec.tlp_retransmitted = false;
    } else {
        const std::uint32_t last = std::min<std::uint32_t>(flight, s->mss + (s->snd.fin_sent ? 1u : 0u));
        retransmit_range(now, s, s->snd.max - last, s->snd.max);
        rec.tlp_retransmitted = true;
    }
    rec.tlp_end = s->snd.max;
    rec.tlp_dsacked = false;
    s->timers.rto = now + s->snd.rtt.rto();  // RFC 8985 7.3: the RTO follows the probe
}

// RFC 8985 7.4 ("TLP_process_ack"), as Linux's tcp_process_tlp_ack: the episode ends when the ACK
// passes the probe. A probe of new data, or one the peer D-SACKed (the original had arrived),
// needs nothing. An ACK beyond it without such a D-SACK means the probe repaired a loss: the
// window is reduced as for a fast recovery, which ends at once (Linux's CWR episode).
void TcpLayer::tlp_ack(TcpSocket* s, const Segment& seg, bool dsack_for_probe) {
    LossRecovery& rec = s->rec;
    if (!rec.tlp_end) return;
    if (dsack_for_probe) rec.tlp_dsacked = true;
    if (seg.header.ack < *rec.tlp_end) return;
    if (!rec.tlp_retransmitted || rec.tlp_dsacked) {
        rec.tlp_end.reset();
        return;
    }
    if (seg.header.ack > *rec.tlp_end) {
        rec.tlp_end.reset();
        if (!s->snd.cc->in_recovery()) {
            (void)s->snd.cc->on_loss(s->snd.una, s->snd.una, s->snd.in_flight());
        }
        return;
    }
    // ACK = TLP.end_seq: wait, a D-SACK for the probe may follow the ACK of the original.
}

// F-RTO (RFC 5682 section 3, with SACK), as Linux's tcp_process_loss with tcp_frto: after an RTO
// resent the first segment, the first ACK that advances SND.UNA lets new data go instead of the
// go-back (step 2b); if the second ACK advances SND.UNA too, over data sent only once, the
// originals are arriving: the timeout was spurious, and its reduction is undone. If it acknowledges
// only data resent before (by a fast recovery), it proves nothing: the go-back resumes.
void TcpLayer::frto_ack(TcpSocket* s, bool original_acked) {
    LossRecovery& rec = s->rec;
    if (rec.frto == 1) {
        // Without new data to send (or room for it in the peer's window) the test cannot be made:
        // the conventional recovery goes on (RFC 5682 section 3, step 2b).
        const SeqNum data_end = s->snd.fin_sent ? s->snd.fin_seq : s->snd.max;
        const std::size_t sent = static_cast<std::size_t>(data_end - s->snd.una);
        const std::uint32_t flight = s->snd.in_flight();
        if (s->snd.buffer.size() <= sent || s->snd.fin_sent || s->snd.wnd <= flight) {
            rec.frto = 0;
            return;
        }
        rec.frto = 2;
        s->snd.nxt = s->snd.max;  // new data next, as cwnd allows (two segments, after slow start's step)
        return;
    }
    rec.frto = 0;
    if (original_acked) {
        undo(s);
    } else {
        s->snd.nxt = s->snd.una;
    }
}

// A duplicate ACK while F-RTO waits: the timeout was real; the conventional go-back resumes from
// SND.UNA (RFC 5682 section 3 step 3b).
void TcpLayer::frto_dupack(TcpSocket* s) {
    if (s->rec.frto == 2) s->snd.nxt = s->snd.una;
    s->rec.frto = 0;
}

// The receiver's side of RFC 2018 section 4: the block holding this out-of-order segment is
// reported first from now on; the others keep their order behind it.
void TcpLayer::note_received_out_of_order(TcpSocket* s, SeqNum seq) {
    auto& recent = s->rcv.sack_recent;
    // Anchors of the same block as `seq` are dropped (add_sack_blocks maps each to its range).
    const auto offset = static_cast<std::size_t>(seq - s->rcv.nxt);
    const Assembler::Range* holder = nullptr;
    for (const auto& r : s->rcv.assembler.ranges()) {
        if (r.start <= offset && offset < r.end) holder = &r;
    }
    std::uint8_t kept = 0;
    std::array<SeqNum, TcpOptions::kMaxSackBlocks> next{};
    next[kept++] = seq;
    for (std::uint8_t i = 0; i < s->rcv.sack_recent_count && kept < next.size(); ++i) {
        const SeqNum anchor = recent[i];
        if (anchor < s->rcv.nxt) continue;
        const auto at = static_cast<std::size_t>(anchor - s->rcv.nxt);
        if (holder != nullptr && holder->start <= at && at < holder->end) continue;
        next[kept++] = anchor;
    }
    recent = next;
    s->rcv.sack_recent_count = kept;
}

}  // namespace tcpip
