// Scoreboard: what the sender knows about every segment in flight, for loss recovery with SACK
// (RFC 6675 section 3 "SACK scoreboard", RFC 8985 section 5.2 "per-segment variables").
//
// The sequence space [begin, end) that was sent and not cumulatively acknowledged is cut into
// entries, one per transmission (a TSO transmission is one entry, as one skb is in Linux), each
// with what we know of it:
//
//     begin = SND.UNA                                                       end <= SND.MAX
//     |  lost  | lost+rxt |  in flight  | SACKed |  in flight  | SACKed |  in flight  |
//     ^ first entry      ^ HighRxt                                       ^ the newest transmission
//
//   sacked         the receiver reported holding it (RFC 2018); advisory: it may renege, so the
//                  bytes stay here until cumulatively acknowledged, and an RTO clears every mark
//   lost           RACK (RFC 8985) judged it lost: it is to be retransmitted (RFC 6675 NextSeg
//                  rule 1 picks the first lost entry not yet retransmitted)
//   retransmitted  a retransmission of it is in flight (cleared if RACK judges that lost too)
//   xmit_ts        when it was last sent: RACK's clock
//
// A SACK block that ends inside an entry splits it, so marks stay exact. The number of entries is
// bounded (kMaxEntries): past the bound a new transmission extends the last entry and a block that
// would need a split is ignored (SACK is advisory: the data is resent later at worst), so a peer
// sending absurd blocks cannot make us allocate without limit.
//
// pipe (RFC 6675 section 4 SetPipe, in bytes): every byte not SACKed counts once if it is not lost
// and once more if it was retransmitted; as Linux's packets_out - (sacked_out + lost_out) + retrans_out.
// The counters behind it are kept as the marks change, so pipe() costs nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <type_traits>
#include <utility>

#include "stack/core/time.h"
#include "stack/tcp/header.h"
#include "stack/tcp/seq.h"

namespace tcpip {

// A non-owning reference to a callable, for callbacks run during the call that receives them: no
// heap allocation, unlike std::function with a lambda capturing more than two pointers (the
// scoreboard is walked on every ACK, and the data path allocates nothing per packet).
template <class Signature>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
public:
    FunctionRef(std::nullptr_t) {}  // NOLINT: no callback
    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
    FunctionRef(F&& f)  // NOLINT: implicit, as std::function's
        : object_(const_cast<void*>(static_cast<const void*>(&f))),
          call_([](void* o, Args... args) -> R { return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(args)...); }) {}
    R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }
    explicit operator bool() const { return call_ != nullptr; }

private:
    void* object_ = nullptr;
    R (*call_)(void*, Args...) = nullptr;
};

class Scoreboard {
public:
    static constexpr std::size_t kMaxEntries = 16384;

    struct Entry {
        SeqNum start, end;           // [start, end), never empty
        Instant xmit_ts;             // the last (re)transmission
        bool sacked = false;         // SACKed: then neither lost nor retransmitted
        bool lost = false;           // marked lost, retransmission due (or in flight if retransmitted)
        bool retransmitted = false;  // a retransmission of it is in flight
        bool ever_retransmitted = false;  // sent more than once (RACK's Segment.retransmitted)
        std::uint32_t len() const { return static_cast<std::uint32_t>(end - start); }
    };

    // Empty, starting at `una` (the connection is synchronized, or everything was acknowledged).
    void reset(SeqNum una);

    // We sent [seq, end) at `now`. The part beyond end() is new: a new entry. The part below it is
    // a retransmission: those entries (split at the edges) get xmit_ts = now and, unless SACKed,
    // `retransmitted`. Returns the bytes that were a retransmission.
    std::uint32_t on_send(SeqNum seq, SeqNum end, Instant now);

    // The cumulative ACK moved to `una`: entries below it go. `delivered` is told of each one that
    // was not SACKed already (and of the acknowledged part of one cut by `una`), before it goes.
    void on_cumulative_ack(SeqNum una, FunctionRef<void(const Entry&)> delivered);

    // A SACK block [left, right). Entries inside it (split at its edges) become SACKed;
    // `delivered` is told of each newly SACKed one. Returns the bytes newly SACKed.
    std::uint32_t on_sack(SackBlock block, FunctionRef<void(const Entry&)> delivered);

    // Marks the entry lost (RACK): its retransmission, if one was in flight, is presumed lost too.
    void mark_lost(Entry& e);
    // After an RTO: every mark goes (RFC 2018 section 8: SACK is advisory, the receiver may have
    // reneged), and everything unacknowledged is lost (go-back-N resends it).
    void on_timeout();
    // Retransmissions proved spurious (undo): nothing is lost any more.
    void clear_lost();

    // For a resend from `seq` (the go-back after an RTO): past the SACKed entries that start at
    // `seq`, if any (else `seq`); and where the next SACKed entry after that starts (else end()).
    SeqNum skip_sacked(SeqNum seq) const;
    SeqNum next_sacked(SeqNum seq) const;

    // The first entry that is lost, not SACKed, and not retransmitted (RFC 6675 NextSeg rule 1), or
    // nullptr.
    const Entry* next_lost() const;

    // RFC 6675 SetPipe, in bytes.
    std::uint32_t pipe() const { return flight() - sacked_ - lost_ + retrans_; }
    std::uint32_t flight() const { return static_cast<std::uint32_t>(end_ - begin_); }
    std::uint32_t sacked_bytes() const { return sacked_; }
    std::uint32_t lost_bytes() const { return lost_; }           // lost, not SACKed (retransmitted or not)
    std::uint32_t retransmitted_bytes() const { return retrans_; }  // retransmissions in flight
    // The highest SACKed sequence number + 1 ("forward ACK", RACK.fack), or begin() if none.
    SeqNum highest_sacked() const { return fack_; }
    SeqNum begin() const { return begin_; }
    SeqNum end() const { return end_; }
    std::size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }

    // Walks the entries in sequence order; `f` may mark them lost (through mark_lost) and returns
    // false to stop.
    void for_each(FunctionRef<bool(Entry&)> f);

    // The invariants above, checked; an empty string if they hold. O(entries).
    std::string check() const;

private:
    // Splits the entry holding `at` so that an entry starts there; false if the bound forbids it.
    bool split_at(SeqNum at);
    // The index of the entry holding `seq` (begin_ <= seq < end_).
    std::size_t index_of(SeqNum seq) const;
    void set_sacked(Entry& e);
    void set_lost(Entry& e, bool lost);
    void set_retransmitted(Entry& e, bool retransmitted);

    std::deque<Entry> entries_;  // contiguous, in sequence order, covering [begin_, end_)
    SeqNum begin_, end_;
    SeqNum fack_;
    std::uint32_t sacked_ = 0, lost_ = 0, retrans_ = 0;  // bytes, per the marks
};

}  // namespace tcpip
