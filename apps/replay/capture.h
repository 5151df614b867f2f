// What tcpip-replay does with a capture's bytes: read a pcap file, tell our frames from the
// peer's, translate TCP sequence numbers between the recorded run and the replayed one, and
// compare two frames field by field, checksums recomputed.
//
// Sequence numbers. An ISN is a clock plus a keyed hash (RFC 6528, TcpLayer::initial_sequence_number):
// the key comes from the seed, but the clock of the recorded run was the host's, which the capture
// does not hold. So the replay learns, from each connection's first SYN of ours, the distance
// between the two ISNs and applies it: our sequence numbers are moved into the capture's space
// before they are compared, and the acknowledgment numbers (and SACK blocks) of the peer's
// segments are moved into the replay's before they are fed in. Everything else must agree byte
// for byte.
#pragma once

#include <cstdint>
#include <map>
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

class SeqTranslation {
public:
    // A frame of ours, replayed and recorded: on a connection's first SYN, learns the distance.
    void learn(const Frame& replayed, const Frame& recorded);
    // Our frame as the replay sent it, moved into the capture's sequence space.
    void to_capture(Frame& ours) const;
    // The peer's frame from the capture, its acknowledgments moved into the replay's space.
    void to_replay(Frame& peer) const;

private:
    using Key = std::tuple<std::uint32_t, std::uint16_t, std::uint32_t, std::uint16_t>;  // ours, our port, peer, port
    std::map<Key, std::uint32_t> offset_;  // recorded ISN - replayed ISN
};

}  // namespace tcpip::replay
