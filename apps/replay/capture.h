// What tcpip-replay does with a capture's bytes: read a pcap file, tell our frames from the
// peer's, translate TCP sequence numbers and timestamps between the recorded run and the
// replayed one, and compare two frames field by field, checksums recomputed.
//
// Sequence numbers. An ISN is a clock plus a keyed hash (RFC 6528, TcpLayer::initial_sequence_number):
// the key comes from the seed, but the clock of the recorded run was the host's, which the capture
// does not hold. So the replay learns, from each connection's first SYN of ours, the distance
// between the two ISNs and applies it: our sequence numbers are moved into the capture's space
// before they are compared, and the acknowledgment numbers (and SACK blocks) of the peer's
// segments are moved into the replay's before they are fed in.
//
// Timestamps (RFC 7323). Our TSval is the stack's clock in milliseconds plus a per-connection
// offset drawn from the seed (TcpLayer::tsval): the offset is the same in the replay, the clock is
// not (the recording's was the host's monotonic clock, the replay's is the capture's wall-clock
// timestamps). So the distance between the two TSvals is learned from our first timestamped
// segment of each connection, as the ISN's is; our TSvals are moved by it before they are
// compared, and the peer's TSecr, which echoes one of our TSvals, is moved back to the TSval the
// replay really sent in that segment before it is fed in (so the stack's RTT samples and its
// Eifel and RACK checks see their own TSvals, as in the recording). The peer's TSval and our
// TSecr, which echoes it, are the peer's clock: they pass unchanged and are compared exactly.
//
// One tolerance, and only there: our TSval may be one tick (1 ms) off after the shift. The
// recording's stack read its clock when it ran; the capture's timestamp was read a few
// microseconds later (and an application's send, later still), so when the recorded instant was
// that close to a millisecond boundary the two clocks fall on different sides of it. The replay
// cannot know which side, so one tick either way is taken as agreement (and counted); two ticks
// or more is a difference. Everything else must agree byte for byte.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "stack/core/address.h"
#include "stack/core/result.h"

namespace tcpip::replay {

using Frame = std::vector<std::uint8_t>;

struct CapturedFrame {
    std::int64_t micros = 0;  // the record's timestamp
    Frame bytes;
};

// A classic pcap file (LINKTYPE_ETHERNET; microsecond or nanosecond timestamps; either byte
// order). pcapng is not read.
Result<std::vector<CapturedFrame>, std::string> read_pcap(const std::string& path);

// The Ethernet source address: whose frame it is.
MacAddress source_mac(const Frame& frame);

// Recomputes the IPv4 header checksum and the TCP, UDP or ICMP checksum in place (for a frame
// whose datagram is whole: a fragment keeps its transport checksum). Other frames are left alone.
void recompute_checksums(Frame& frame);

// One line in tcpdump's manner: "10.0.0.2.7 > 10.0.0.1.40000: Flags [P.], seq 1:6, ack 6, win 512, length 5".
std::string describe(const Frame& frame);

// The name of the header field that holds byte `offset` of the frame ("tcp window", "ip ttl",
// "payload byte 12", ...), for a difference report.
std::string field_at(const Frame& frame, std::size_t offset);

// The recording's clock phase: how many microseconds (0 to 999) to take off the capture's
// timestamps so that their millisecond ticks fall where the recording stack's clock ticked. The
// capture's timestamps are the host's wall clock; the stack's TSvals were its monotonic clock in
// milliseconds; the two differ by a constant that is not a whole number of milliseconds, so a
// replay on the capture's timestamps would cross a millisecond at other instants than the
// recording did (and many TSvals would come out one tick off). Found from our own timestamped
// segments: the phase at which the most of them, in each connection, keep one distance between
// the capture's millisecond and their TSval; the earliest such phase, since the stack read its
// clock a little before each frame was stamped. 0 when the capture has no TCP timestamps of ours.
std::int64_t clock_phase(const std::vector<CapturedFrame>& capture, MacAddress ours);

class SeqTranslation {
public:
    // A frame of ours, replayed and recorded: on a connection's first SYN, learns the ISNs'
    // distance; on its first segment with a timestamp, the TSvals' distance.
    void learn(const Frame& replayed, const Frame& recorded);
    // Our frame as the replay sent it, moved into the capture's space (sequence number, TSval).
    // With `recorded`, the frame of the capture it is compared with: a TSval one tick from the
    // recorded one is taken as the recorded one (counted in tick_slips()), and the pair is kept
    // for the peer's echo of it.
    void to_capture(Frame& ours, const Frame* recorded = nullptr);
    // The peer's frame from the capture, its acknowledgments, SACK blocks and TSecr moved into
    // the replay's space.
    void to_replay(Frame& peer) const;

    // How many of our TSvals agreed only within the one tick of tolerance.
    std::size_t tick_slips() const { return tick_slips_; }

private:
    using Key = std::tuple<std::uint32_t, std::uint16_t, std::uint32_t, std::uint16_t>;  // ours, our port, peer, port
    struct Connection {
        std::uint32_t seq = 0;                  // recorded ISN - replayed ISN
        std::optional<std::uint32_t> tsval;     // recorded TSval - replayed TSval, once learned
        // Recorded TSval -> the TSval the replay sent in its place, for the peer's echoes; the
        // newest kEchoes only (the peer echoes a recent one).
        std::map<std::uint32_t, std::uint32_t> sent;
        std::deque<std::uint32_t> sent_order;
    };
    static constexpr std::size_t kEchoes = 1024;
    std::map<Key, Connection> connections_;
    std::size_t tick_slips_ = 0;
};

}  // namespace tcpip::replay
