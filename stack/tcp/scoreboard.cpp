#include "stack/tcp/scoreboard.h"

#include <algorithm>

namespace tcpip {

void Scoreboard::reset(SeqNum una) {
    entries_.clear();
    begin_ = end_ = fack_ = una;
    sacked_ = lost_ = retrans_ = 0;
}

void Scoreboard::set_sacked(Entry& e) {
    if (e.sacked) return;
    set_lost(e, false);
    set_retransmitted(e, false);
    e.sacked = true;
    sacked_ += e.len();
    if (fack_ < e.end) fack_ = e.end;
}

void Scoreboard::set_lost(Entry& e, bool lost) {
    if (e.lost == lost || e.sacked) return;
    e.lost = lost;
    if (lost) {
        lost_ += e.len();
    } else {
        lost_ -= e.len();
    }
}

void Scoreboard::set_retransmitted(Entry& e, bool retransmitted) {
    if (e.retransmitted == retransmitted || e.sacked) return;
    e.retransmitted = retransmitted;
    if (retransmitted) {
        retrans_ += e.len();
    } else {
        retrans_ -= e.len();
    }
}

std::size_t Scoreboard::index_of(SeqNum seq) const {
    // Entries are contiguous and sorted: binary search on their ends.
    std::size_t lo = 0, hi = entries_.size();
    while (lo < hi) {
        const std::size_t mid = (lo + hi) / 2;
        if (entries_[mid].end <= seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

bool Scoreboard::split_at(SeqNum at) {
    if (at <= begin_ || at >= end_) return true;
    const std::size_t i = index_of(at);
    if (entries_[i].start == at) return true;
    if (entries_.size() >= kMaxEntries) return false;
    Entry tail = entries_[i];
    tail.start = at;
    entries_[i].end = at;  // the counters do not change: the bytes keep their marks
    entries_.insert(entries_.begin() + static_cast<std::ptrdiff_t>(i) + 1, tail);
    return true;
}

std::uint32_t Scoreboard::on_send(SeqNum seq, SeqNum end, Instant now) {
    if (end <= seq) return 0;
    std::uint32_t resent = 0;
    if (seq < end_ && end > begin_) {
        const SeqNum from = seq_max(seq, begin_);
        const SeqNum to = seq_min(end, end_);
        (void)split_at(from);
        (void)split_at(to);
        for (std::size_t i = index_of(from); i < entries_.size() && entries_[i].start < to; ++i) {
            Entry& e = entries_[i];
            e.xmit_ts = now;
            e.ever_retransmitted = true;
            set_retransmitted(e, true);
            resent += e.len();
        }
    }
    if (end > end_) {
        const SeqNum from = seq_max(seq, end_);
        if (entries_.size() >= kMaxEntries) {
            entries_.back().end = end;  // at the bound: the newest entry grows
            if (entries_.back().sacked) sacked_ += static_cast<std::uint32_t>(end - from);
            if (entries_.back().lost) lost_ += static_cast<std::uint32_t>(end - from);
            if (entries_.back().retransmitted) retrans_ += static_cast<std::uint32_t>(end - from);
            entries_.back().xmit_ts = now;
        } else {
            Entry e;
            e.start = from;
            e.end = end;
            e.xmit_ts = now;
            entries_.push_back(e);
        }
        end_ = end;
    }
    return resent;
}

void Scoreboard::on_cumulative_ack(SeqNum una, FunctionRef<void(const Entry&)> delivered) {
    if (una <= begin_) return;
    if (una >= end_) {
        for (const Entry& e : entries_) {
            if (!e.sacked && delivered) delivered(e);
        }
        reset(una);
        return;
    }
    (void)split_at(una);
    while (!entries_.empty() && entries_.front().end <= una) {
        Entry& e = entries_.front();
        if (!e.sacked && delivered) delivered(e);
        if (e.sacked) sacked_ -= e.len();
        if (e.lost) lost_ -= e.len();
        if (e.retransmitted) retrans_ -= e.len();
        entries_.pop_front();
    }
    if (!entries_.empty() && entries_.front().start < una) {
        // The split was refused (the bound): cut the front entry's acknowledged part off.
        Entry& e = entries_.front();
        const std::uint32_t cut = static_cast<std::uint32_t>(una - e.start);
        if (delivered && !e.sacked) delivered(e);
        if (e.sacked) sacked_ -= cut;
        if (e.lost) lost_ -= cut;
        if (e.retransmitted) retrans_ -= cut;
        e.start = una;
    }
    begin_ = una;
    if (fack_ < begin_) fack_ = begin_;
}

std::uint32_t Scoreboard::on_sack(SackBlock block, FunctionRef<void(const Entry&)> delivered) {
    const SeqNum from = seq_max(block.left, begin_);
    const SeqNum to = seq_min(block.right, end_);
    if (!(from < to)) return 0;
    // Split at the block's edges; if the bound refuses, only whole entries inside are marked.
    const bool left_ok = split_at(from);
    const bool right_ok = split_at(to);
    std::uint32_t newly = 0;
    for (std::size_t i = index_of(from); i < entries_.size() && entries_[i].start < to; ++i) {
        Entry& e = entries_[i];
        if (e.sacked) continue;
        if ((!left_ok && e.start < from) || (!right_ok && e.end > to)) continue;
        set_sacked(e);
        newly += e.len();
        if (delivered) delivered(e);
    }
    return newly;
}

void Scoreboard::mark_lost(Entry& e) {
    if (e.sacked) return;
    set_retransmitted(e, false);
    set_lost(e, true);
}

void Scoreboard::on_timeout() {
    for (Entry& e : entries_) {
        e.sacked = false;
        e.retransmitted = false;
        e.lost = true;
    }
    sacked_ = retrans_ = 0;
    lost_ = flight();
    fack_ = begin_;
}

void Scoreboard::clear_lost() {
    for (Entry& e : entries_) set_lost(e, false);
}

SeqNum Scoreboard::skip_sacked(SeqNum seq) const {
    if (sacked_ == 0 || seq < begin_ || seq >= end_) return seq;
    for (std::size_t i = index_of(seq); i < entries_.size() && entries_[i].sacked; ++i) seq = entries_[i].end;
    return seq;
}

SeqNum Scoreboard::next_sacked(SeqNum seq) const {
    if (sacked_ == 0 || seq >= end_) return end_;
    for (std::size_t i = seq < begin_ ? 0 : index_of(seq); i < entries_.size(); ++i) {
        if (entries_[i].sacked) return seq_max(entries_[i].start, seq);
    }
    return end_;
}

const Scoreboard::Entry* Scoreboard::next_lost() const {
    if (lost_ == 0) return nullptr;
    for (const Entry& e : entries_) {
        if (e.lost && !e.retransmitted && !e.sacked) return &e;
    }
    return nullptr;
}

void Scoreboard::for_each(FunctionRef<bool(Entry&)> f) {
    for (Entry& e : entries_) {
        if (!f(e)) return;
    }
}

std::string Scoreboard::check() const {
    std::uint32_t sacked = 0, lost = 0, retrans = 0;
    SeqNum at = begin_;
    if (entries_.size() > kMaxEntries) return "scoreboard beyond its bound";
    for (const Entry& e : entries_) {
        if (e.start != at) return "scoreboard entries not contiguous";
        if (!(e.start < e.end)) return "empty scoreboard entry";
        if (e.sacked && (e.lost || e.retransmitted)) return "scoreboard entry SACKed and lost or retransmitted";
        if (e.sacked) sacked += e.len();
        if (e.lost) lost += e.len();
        if (e.retransmitted) retrans += e.len();
        at = e.end;
    }
    if (at != end_) return "scoreboard entries do not reach its end";
    if (sacked != sacked_ || lost != lost_ || retrans != retrans_) return "scoreboard counters differ from its marks";
    if (fack_ < begin_ || fack_ > end_) return "scoreboard forward ACK outside it";
    return {};
}

}  // namespace tcpip
