// IPv4 reassembly (stack/ipv4/reassembly.h) driven by a program decoded from the fuzzer's bytes:
// fragments of a few datagrams (any offset, length, MF bit, in any order, overlapping or not)
// and clock steps that let the 30-second timeout fire.
//
// Oracle: every fragment's payload is filled with bytes that depend only on (datagram, offset in
// the datagram), so a delivered datagram must hold exactly those bytes at every offset; a hole, a
// shifted copy or a stale buffer shows up as a wrong byte. After every step the bounds of
// StackConfig hold (memory held, datagrams in progress), and at the end, with every timer run,
// nothing is held and every buffer is back in the pool.
#include <cstring>

#include "stack/core/config.h"
#include "stack/core/packet.h"
#include "stack/core/stats.h"
#include "stack/core/timer.h"
#include "stack/ipv4/reassembly.h"
#include "tests/fuzz/input_reader.h"
#include "tests/fuzz/targets.h"

namespace tcpip::fuzz {
namespace {

constexpr Ipv4Address kDst{10, 0, 0, 2};

// The byte at `offset` of datagram `ident`'s payload.
std::uint8_t content(std::uint16_t ident, std::size_t offset) {
    return static_cast<std::uint8_t>((offset * 7) ^ (offset >> 8) ^ ident);
}

}  // namespace

void ipv4_reassembly(Input data) {
    InputReader in(data);
    StackConfig config;
    // Small bounds first, so eviction is reached with few fragments; the default last.
    constexpr std::size_t kMemory[] = {4 * 1024, 16 * 1024, 64 * 1024, 256 * 1024, 4 * 1024 * 1024};
    config.ip_reassembly_memory = kMemory[in.u8() % 5];
    config.ip_reassembly_max_datagrams = 1 + in.u8() % 8;

    TimerQueue timers;
    PacketPool pool;
    Ipv4Stats stats;
    Instant now = Instant::zero();
    std::size_t timeouts = 0;
    {
        Reassembler reassembler(timers, pool, config, stats);
        reassembler.set_timeout_handler([&](Instant, const Ipv4Repr& header, std::size_t header_len, Packet first) {
            // Only a datagram whose first fragment came is reported, with that fragment.
            FUZZ_CHECK("ipv4_reassembly", header.frag_offset == 0);
            FUZZ_CHECK("ipv4_reassembly", header_len == Ipv4Repr::header_len());
            FUZZ_CHECK("ipv4_reassembly", first.valid());
            for (std::size_t i = 0; i < first.size(); ++i) {
                FUZZ_CHECK("ipv4_reassembly", first.data()[i] == content(header.ident, i));
            }
            ++timeouts;
        });

        while (!in.done()) {
            const std::uint8_t op = in.u8();
            if (op % 8 == 7) {
                // A clock step: up to about 65 seconds, past the 30-second timeout.
                now += Duration::millis(std::int64_t{in.u16()});
                timers.run_due(now);
            } else {
                // A fragment of one of four datagrams from two sources.
                Ipv4Repr header;
                header.src = Ipv4Address(10, 0, 0, static_cast<std::uint8_t>(1 + (op >> 7)));
                header.dst = kDst;
                header.protocol = 17;
                header.ident = static_cast<std::uint16_t>((op >> 3) & 3);
                header.more_fragments = (op & 4) != 0;
                header.frag_offset = static_cast<std::uint16_t>((in.u16() & 0x1fff) * 8);
                // Mostly up to an Ethernet MTU's payload; a large one now and then.
                std::size_t length = in.u16();
                length = (op & 2) != 0 ? length % 1481 : length % 9001;
                header.payload_len = static_cast<std::uint16_t>(length);

                Packet packet = pool.allocate(Ipv4Repr::header_len() + length);
                MutableBytes bytes = packet.append(Ipv4Repr::header_len() + length);
                header.emit(bytes.first(Ipv4Repr::header_len()));  // in the headroom, for ICMP to quote
                for (std::size_t i = 0; i < length; ++i) {
                    bytes[Ipv4Repr::header_len() + i] = content(header.ident, header.frag_offset + i);
                }
                packet.pull(Ipv4Repr::header_len());

                auto datagram = reassembler.add(now, header, Ipv4Repr::header_len(), std::move(packet));
                if (datagram) {
                    const Ipv4Repr& h = datagram->header;
                    FUZZ_CHECK("ipv4_reassembly", !h.more_fragments && h.frag_offset == 0);
                    FUZZ_CHECK("ipv4_reassembly", h.ident == header.ident && h.src == header.src && h.dst == kDst);
                    FUZZ_CHECK("ipv4_reassembly", h.payload_len == datagram->payload.size());
                    const Packet& p = datagram->payload;
                    for (std::size_t i = 0; i < p.size(); ++i) {
                        FUZZ_CHECK("ipv4_reassembly", p.data()[i] == content(h.ident, i));
                    }
                    // The first fragment's header sits in the headroom, for ICMP to quote.
                    FUZZ_CHECK("ipv4_reassembly", p.headroom() >= datagram->header_len);
                }
            }
            FUZZ_CHECK("ipv4_reassembly", reassembler.bytes_held() <= config.ip_reassembly_memory);
            FUZZ_CHECK("ipv4_reassembly", reassembler.datagrams() <= config.ip_reassembly_max_datagrams);
        }

        // Past every timeout: nothing may stay.
        now += config.ip_reassembly_timeout + Duration::seconds(1);
        timers.run_due(now);
        FUZZ_CHECK("ipv4_reassembly", reassembler.datagrams() == 0);
        FUZZ_CHECK("ipv4_reassembly", reassembler.bytes_held() == 0);
    }
    FUZZ_CHECK("ipv4_reassembly", timers.pending() == 0);
    FUZZ_CHECK("ipv4_reassembly", pool.buffers_in_use() == 0);
    FUZZ_CHECK("ipv4_reassembly", timeouts <= stats.reasm_timeout);
}

}  // namespace tcpip::fuzz
