// The TCP header and its options: the wire format only, a view over bytes and a typed Repr.
//
// RFC 9293 section 3.1, "Header Format":
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |          Source Port          |       Destination Port        |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                        Sequence Number                        |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                    Acknowledgment Number                      |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |  Data |       |C|E|U|A|P|R|S|F|                               |
//    | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//    |       |       |R|E|G|K|H|T|N|N|                               |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |           Checksum            |         Urgent Pointer        |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                           [Options]                           |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                                                               :
//    :                             Data                              :
//    :                                                               |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Data Offset is the header length in 32-bit words (5..15, so 20..60 bytes and at most 40 bytes of
// options). The checksum covers a pseudo-header (source and destination address, zero, protocol 6,
// TCP length), the header and the data (RFC 9293 section 3.1, "Checksum"). TCP has no length
// field of its own: the segment is whatever the IP layer hands up, so the IPv4 layer must pass
// exactly its payload (cut at the total length, Ethernet padding removed).
//
// Options (RFC 9293 section 3.2): kinds 0 and 1 are a single byte; every other kind is
// kind, length (counting kind and length), data.
//
//    Kind  Length  Meaning                      Defined in
//    0     -       End of Option List           RFC 9293 section 3.2
//    1     -       No-Operation (padding)       RFC 9293 section 3.2
//    2     4       Maximum Segment Size         RFC 9293 section 3.2, 3.7.1
//    3     3       Window Scale (shift count)   RFC 7323 section 2.2
//    4     2       SACK-Permitted               RFC 2018 section 2
//    5     2+8n    SACK, n = 1..4 blocks        RFC 2018 section 3
//    8     10      Timestamps (TSval, TSecr)    RFC 7323 section 3.2
//
//    MSS:    +--------+--------+---------+--------+
//            |00000010|00000100|   max seg size   |
//            +--------+--------+---------+--------+
//    WS:     +---------+---------+---------+
//            | Kind=3  |Length=3 |shift.cnt|
//            +---------+---------+---------+
//    SACK:   +--------+--------+
//            | Kind=5 | Length |
//            +--------+--------+--------+--------+
//            |      Left Edge of 1st Block       |
//            +--------+--------+--------+--------+
//            |      Right Edge of 1st Block      |
//            +--------+--------+--------+--------+
//            /            . . .                  /
//    TS:     +-------+-------+---------------------+---------------------+
//            |Kind=8 |  10   |   TS Value (TSval)  |TS Echo Reply (TSecr)|
//            +-------+-------+---------------------+---------------------+
//                1       1              4                     4
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>

#include "stack/core/address.h"
#include "stack/core/bytes.h"
#include "stack/core/packet.h"
#include "stack/core/parse_error.h"
#include "stack/core/result.h"
#include "stack/tcp/seq.h"

namespace tcpip {

// The eight control bits of byte 13 (RFC 9293 section 3.1; ECE and CWR from RFC 3168 section
// 6.1). The four reserved bits before them are not carried: a receiver ignores them and we send
// them as zero, as RFC 9293 asks.
//
//     TcpFlags f = TcpFlags::kSyn | TcpFlags::kAck;
//     if (f.syn() && f.ack()) ...           // prints as [S.]
class TcpFlags {
public:
    static const TcpFlags kFin;  // no more data from sender
    static const TcpFlags kSyn;  // synchronize sequence numbers
    static const TcpFlags kRst;  // reset the connection
    static const TcpFlags kPsh;  // push function
    static const TcpFlags kAck;  // acknowledgment field is significant
    static const TcpFlags kUrg;  // urgent pointer field is significant
    static const TcpFlags kEce;  // ECN-Echo (RFC 3168)
    static const TcpFlags kCwr;  // congestion window reduced (RFC 3168)

    constexpr TcpFlags() = default;
    constexpr explicit TcpFlags(std::uint8_t bits) : bits_(bits) {}
    constexpr std::uint8_t bits() const { return bits_; }

    constexpr bool fin() const { return (bits_ & 0x01) != 0; }
    constexpr bool syn() const { return (bits_ & 0x02) != 0; }
    constexpr bool rst() const { return (bits_ & 0x04) != 0; }
    constexpr bool psh() const { return (bits_ & 0x08) != 0; }
    constexpr bool ack() const { return (bits_ & 0x10) != 0; }
    constexpr bool urg() const { return (bits_ & 0x20) != 0; }
    constexpr bool ece() const { return (bits_ & 0x40) != 0; }
    constexpr bool cwr() const { return (bits_ & 0x80) != 0; }

    constexpr bool empty() const { return bits_ == 0; }
    // True if every flag of `other` is set here.
    constexpr bool contains(TcpFlags other) const { return (bits_ & other.bits_) == other.bits_; }
    constexpr TcpFlags& set(TcpFlags which, bool on = true) {
        bits_ = static_cast<std::uint8_t>(on ? (bits_ | which.bits_) : (bits_ & ~which.bits_));
        return *this;
    }
    friend constexpr TcpFlags operator|(TcpFlags a, TcpFlags b) { return TcpFlags(static_cast<std::uint8_t>(a.bits_ | b.bits_)); }
    friend constexpr TcpFlags operator&(TcpFlags a, TcpFlags b) { return TcpFlags(static_cast<std::uint8_t>(a.bits_ & b.bits_)); }
    constexpr bool operator==(const TcpFlags&) const = default;

    // tcpdump's letters, in tcpdump's order: F S R P . U E W, for ACK a dot; "none" if empty.
    std::string to_string() const;

private:
    std::uint8_t bits_ = 0;
};

inline constexpr TcpFlags TcpFlags::kFin{0x01};
inline constexpr TcpFlags TcpFlags::kSyn{0x02};
inline constexpr TcpFlags TcpFlags::kRst{0x04};
inline constexpr TcpFlags TcpFlags::kPsh{0x08};
inline constexpr TcpFlags TcpFlags::kAck{0x10};
inline constexpr TcpFlags TcpFlags::kUrg{0x20};
inline constexpr TcpFlags TcpFlags::kEce{0x40};
inline constexpr TcpFlags TcpFlags::kCwr{0x80};

// One SACK block (RFC 2018 section 3): the receiver holds [left, right), right being the sequence
// number just after the block.
struct SackBlock {
    SeqNum left;
    SeqNum right;
    bool operator==(const SackBlock&) const = default;
};

// The options TCP speaks, as values. A segment's options area is parsed into this, and emitted
// from it.
struct TcpOptions {
    // Option kinds (IANA "TCP Option Kind Numbers").
    static constexpr std::uint8_t kEol = 0;
    static constexpr std::uint8_t kNop = 1;
    static constexpr std::uint8_t kMss = 2;
    static constexpr std::uint8_t kWindowScale = 3;
    static constexpr std::uint8_t kSackPermitted = 4;
    static constexpr std::uint8_t kSack = 5;
    static constexpr std::uint8_t kTimestamps = 8;
    // The fixed lengths of the kinds that have one (kind and length bytes included).
    static constexpr std::size_t kMssLen = 4;
    static constexpr std::size_t kWindowScaleLen = 3;
    static constexpr std::size_t kSackPermittedLen = 2;
    static constexpr std::size_t kTimestampsLen = 10;
    static constexpr std::size_t kSackBlockLen = 8;

    // The options area is what a 4-bit data offset leaves after the fixed header.
    static constexpr std::size_t kMaxLen = 40;
    // 2 + 8n <= 40 gives n <= 4 (RFC 2018 section 3).
    static constexpr std::size_t kMaxSackBlocks = 4;

    // RFC 7323 section 3.2.
    struct Timestamps {
        std::uint32_t tsval = 0;  // the sender's timestamp clock
        std::uint32_t tsecr = 0;  // the latest TSval received from the peer, echoed
        bool operator==(const Timestamps&) const = default;
    };

    // The values are what the wire carries, not yet judged: a window scale above 14 (RFC 7323
    // section 2.3 says use 14), or an MSS on a segment without SYN (which Linux ignores), are the
    // TCP layer's business.
    std::optional<std::uint16_t> mss;
    std::optional<std::uint8_t> window_scale;
    bool sack_permitted = false;
    std::array<SackBlock, kMaxSackBlocks> sack_blocks{};
    std::uint8_t sack_count = 0;  // how many of sack_blocks are in use
    std::optional<Timestamps> timestamps;

    // The SACK blocks in use, most recent first as RFC 2018 section 4 asks of the sender.
    std::span<const SackBlock> sacks() const { return {sack_blocks.data(), sack_count}; }
    // Appends a block; false (nothing changed) if all four are in use.
    bool add_sack(SackBlock block);

    // Parses an options area (the bytes between the fixed header and the data offset). A kind
    // we do not know is skipped by its length; EOL ends the list (what follows is padding). A
    // length below 2, a length running past the area, a missing length byte, or a known kind
    // with the wrong length: BadOption. If a kind appears twice, the later one wins, as in
    // Linux's tcp_parse_options().
    static Result<TcpOptions, ParseError> parse(Bytes area);

    // How many SACK blocks fit beside the other options in the 40 bytes (0 to 4). With
    // timestamps that is 3, as in Linux.
    std::size_t sack_capacity() const;
    // Bytes emit() writes: a multiple of 4, at most 40.
    std::size_t wire_len() const;

    // Writes the options into out[0, wire_len()) and returns wire_len(). The layout is the one
    // Linux's tcp_options_write() uses, each option aligned by NOPs so that every 32-bit word of
    // it starts on a word boundary (and no EOL is ever needed):
    //
    //     MSS                      02 04 mm mm
    //     SACK-Permitted + TS      04 02 08 0a vvvvvvvv eeeeeeee   (SACK-Permitted shares a word)
    //  or TS alone                 01 01 08 0a vvvvvvvv eeeeeeee
    //  or SACK-Permitted alone     01 01 04 02
    //     Window Scale             01 03 03 ss
    //     SACK                     01 01 05 ll  blocks...
    //
    // SACK blocks beyond sack_capacity() are left out (the first ones, the most recent, kept),
    // as Linux does when the other options take the room.
    std::size_t emit(MutableBytes out) const;

    // Equal if the same options are present with the same values (unused SACK slots ignored).
    bool operator==(const TcpOptions& other) const;

private:
    std::size_t len_without_sack() const;
};

// A read-only view of one TCP segment. It does not own the bytes, which must outlive it.
//
// parse() checks the data offset against the bytes and parses every option before returning,
// so after it succeeds no accessor reads out of bounds and the options are known to be valid.
class TcpHeader {
public:
    static constexpr std::size_t kMinHeaderLen = 20;
    static constexpr std::size_t kMaxHeaderLen = kMinHeaderLen + TcpOptions::kMaxLen;
    static constexpr std::uint8_t kIpProtocol = 6;  // the IPv4 protocol number (RFC 790)

    // Field offsets, from the diagram above.
    static constexpr std::size_t kSrcPort = 0;
    static constexpr std::size_t kDstPort = 2;
    static constexpr std::size_t kSeq = 4;
    static constexpr std::size_t kAck = 8;
    static constexpr std::size_t kDataOffset = 12;  // high nibble; the low nibble is reserved
    static constexpr std::size_t kFlags = 13;
    static constexpr std::size_t kWindow = 14;
    static constexpr std::size_t kChecksum = 16;
    static constexpr std::size_t kUrgent = 18;
    static constexpr std::size_t kOptions = 20;

    // Fewer than 20 bytes: Truncated. Data offset below 5, or beyond the bytes: BadHeaderLength.
    // A malformed option: BadOption (see TcpOptions::parse). The checksum is not verified here
    // (it needs the IP addresses): see checksum_valid().
    static Result<TcpHeader, ParseError> parse(Bytes bytes);

    std::uint16_t src_port() const { return load_be16(bytes_, kSrcPort); }
    std::uint16_t dst_port() const { return load_be16(bytes_, kDstPort); }
    SeqNum seq() const { return SeqNum(load_be32(bytes_, kSeq)); }
    SeqNum ack() const { return SeqNum(load_be32(bytes_, kAck)); }
    // In 32-bit words, as on the wire (5..15).
    std::uint8_t data_offset() const { return static_cast<std::uint8_t>(bytes_[kDataOffset] >> 4); }
    // In bytes (20..60).
    std::size_t header_len() const { return std::size_t{data_offset()} * 4; }
    TcpFlags flags() const { return TcpFlags(bytes_[kFlags]); }
    std::uint16_t window() const { return load_be16(bytes_, kWindow); }
    std::uint16_t checksum() const { return load_be16(bytes_, kChecksum); }
    std::uint16_t urgent() const { return load_be16(bytes_, kUrgent); }

    // The raw options area, padding included, and the options it holds.
    Bytes options_bytes() const { return bytes_.subspan(kOptions, header_len() - kOptions); }
    const TcpOptions& options() const { return options_; }

    Bytes payload() const { return bytes_.subspan(header_len()); }
    // The whole segment, header and data.
    Bytes bytes() const { return bytes_; }

    // True if the one's complement sum over pseudo-header, header and data is all ones.
    bool checksum_valid(Ipv4Address src, Ipv4Address dst) const;

private:
    TcpHeader(Bytes bytes, const TcpOptions& options) : bytes_(bytes), options_(options) {}

    Bytes bytes_;          // the segment; bytes_.size() >= header_len() >= kMinHeaderLen
    TcpOptions options_;   // parsed from options_bytes()
};

// A TCP header as plain values: what the TCP layer fills in to send, what a view reads back.
struct TcpRepr {
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    SeqNum seq;
    SeqNum ack;
    TcpFlags flags;
    std::uint16_t window = 0;  // the field as sent, i.e. already shifted right by the window scale
    std::uint16_t urgent = 0;
    TcpOptions options;

    // The options as parsed (the view's NOP/EOL layout and unknown kinds are not kept) and the
    // fields; the reserved bits are dropped.
    static TcpRepr from(const TcpHeader& header);

    // 20 plus the options as TcpOptions::emit lays them out: a multiple of 4, at most 60.
    std::size_t header_len() const { return TcpHeader::kMinHeaderLen + options.wire_len(); }

    // Writes the segment into out[0, header_len() + payload.size()): the header, the payload
    // (copied unless it already sits right after the header), and the checksum over pseudo-header,
    // header and payload. out must be large enough (asserted: a bug in the caller, not bad input).
    void emit(MutableBytes out, Ipv4Address src, Ipv4Address dst, Bytes payload) const;

private:
    // emit() without the checksum: the field is left zero. Returns the segment's bytes.
    MutableBytes emit_without_checksum(MutableBytes out, Bytes payload) const;

public:
    // The zero-copy form: the packet's data is the payload; the header is prepended in its
    // headroom (push), and the packet then holds the segment.
    void emit(Packet& packet, Ipv4Address src, Ipv4Address dst) const;

    // The same for a device that completes checksums (DeviceCapabilities::tx_checksum_offload):
    // the checksum field gets only the pseudo-header sum, and the packet's offload() says so.
    void emit_checksum_partial(Packet& packet, Ipv4Address src, Ipv4Address dst) const;

    bool operator==(const TcpRepr&) const = default;
};

// Printed as tcpdump -S prints the TCP part of a line, e.g.
//   10 > 20 Flags [S.], seq 1, ack 2, win 65535, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0
// "ack" and "urg" appear when their flag is set or their field is nonzero. A view prints its
// options in wire order (nop and eol included, unknown kinds as unknown-<kind>); a Repr prints
// them as emit() would lay them out, and has no length (it does not know its payload).
std::ostream& operator<<(std::ostream& os, TcpFlags flags);  // "[S.]"
std::ostream& operator<<(std::ostream& os, const SackBlock& block);  // "{left:right}"
std::ostream& operator<<(std::ostream& os, const TcpOptions& options);  // "[mss 1460,...]"
std::ostream& operator<<(std::ostream& os, const TcpHeader& header);
std::ostream& operator<<(std::ostream& os, const TcpRepr& repr);

}  // namespace tcpip
