// FrameTracer: the Tracer (stack/core/trace.h) behind `--trace`, `--trace-json` and the comments
// of a pcapng capture. It gathers what the layers report into frames, one line per layer:
//
//     rx eth  fe:02:ce:b3:bb:23 > 02:74:63:70:00:02 IPv4 74 B
//        ip   10.0.0.1 > 10.0.0.2 TCP ttl 64 id 35611 DF len 60  ok
//        tcp  36038 > 80 [S] seq 1088788209 win 64240 len 0 <mss 1460,sackOK,TS val 1720125516 ecr 0,ws 10>  LISTEN -> SYN-RECEIVED
//     tx tcp  80 > 36038 [S.] seq 3940142717 ack 1088788210 win 65535 len 0 <mss 1460,ws 3>
//        ip   10.0.0.2 > 10.0.0.1 TCP ttl 64 id 18852 DF len 48
//        arp  10.0.0.1 is at fe:02:ce:b3:bb:23  (cached)
//        eth  02:74:63:70:00:02 > fe:02:ce:b3:bb:23 IPv4 62 B
//
// How the reports become frames:
//   - A received frame starts with Ethernet's report and gathers every layer's line on the way up
//     (and a `sock` line for each socket it woke), until the Ethernet layer says done().
//   - A frame we send starts with the first report of a layer that builds one (a socket call, TCP,
//     UDP, ICMP, ARP) and ends with its Ethernet line, or with a note that stops it (queued for
//     ARP, dropped). Frames sent while a received frame is processed come after it, in order.
//   - A TCP state change joins the last line of its connection; if there is none yet (connect()
//     changes state before the SYN is built) it joins the next one.
//   - done() hands the complete frames to the sinks, in the order they began.
//
// Sinks: TextTraceSink (the lines above, coloured on a terminal, a choice of layers) and
// JsonTraceSink (the same events, one JSON object per line); an app adds its own, e.g. the pcapng
// writer's comments (on_wire: called as a frame reaches the device, or leaves it for the stack).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "stack/core/trace.h"

namespace tcpip {

struct TraceLine {
    TraceLayer layer = TraceLayer::Eth;
    std::string summary;                 // the header fields that matter at this layer
    std::vector<std::string> decisions;  // what the layer decided, words then "(RFC ...)"
    bool dropped = false;                // one of the decisions stopped the packet
    // For matching: TCP/UDP ports as on the wire (source, destination), or the socket's fd.
    std::int32_t key_a = -1, key_b = -1;
};

struct TraceFrame {
    std::uint64_t number = 0;       // in the order frames began, from 1
    TraceDir dir = TraceDir::Rx;
    bool standalone = false;        // lines of no frame (a timer's state change)
    bool wire = false;              // crossed the device (received, or its Ethernet line was sent)
    Instant at;
    std::vector<TraceLine> lines;
};

// The frame as text: one line per layer (only the layers in `layer_mask`, bit 1 << TraceLayer),
// the first line shown starting with "rx" or "tx", the rest indented under it; with `colour`, ANSI
// colours per layer and red for a drop. Empty if no line is shown.
std::string format_text(const TraceFrame& frame, unsigned layer_mask = ~0u, bool colour = false);
// One JSON object per line of the frame (a JSON Lines record each), with the same words.
std::string format_json(const TraceFrame& frame);

// The header fields a layer's line shows, from the bytes that start at that layer's header;
// something short and safe for bytes that do not parse.
std::string summarize(TraceLayer layer, Bytes bytes);
// A note's words with its numbers filled in, and its rule in brackets.
std::string decision_text(TraceNote note, std::uint32_t n = 0, std::uint32_t m = 0);

// Parses a --trace-layers list such as "tcp,ip" into a layer mask; false on an unknown name.
bool parse_trace_layers(const std::string& list, unsigned& mask);

class TraceSink {
public:
    virtual ~TraceSink() = default;
    // The frame reached the device (sent), or the stack is done with it (received).
    virtual void on_wire(const TraceFrame& /*frame*/) {}
    // The frame is complete (every line and state change in): write it out.
    virtual void on_frame(const TraceFrame& /*frame*/) {}
};

class FrameTracer final : public Tracer {
public:
    void add_sink(TraceSink* sink) { sinks_.push_back(sink); }

    void packet(Instant now, TraceLayer layer, TraceDir dir, Bytes bytes, TraceNote note, std::uint32_t n,
                std::uint32_t m) override;
    void note(TraceLayer layer, TraceNote note, std::uint32_t n, std::uint32_t m) override;
    void resolve(Instant now, Ipv4Address next_hop, MacAddress mac, TraceNote note, std::uint32_t n) override;
    void tcp_state(std::uint16_t local_port, std::uint16_t remote_port, const char* from, const char* to) override;
    void socket_call(Instant now, TraceDir dir, int fd, const char* call, std::int64_t value) override;
    void socket_woken(int fd) override;
    void done() override;

private:
    struct PendingState {
        std::uint16_t local_port, remote_port;
        std::string change;
    };
    TraceFrame& open_frame(Instant now, TraceDir dir);
    TraceFrame& tx_frame(Instant now);
    static void add_decision(TraceLine& line, TraceNote note, std::uint32_t n, std::uint32_t m);
    void close_tx(bool wire);
    void attach_pending_states(TraceLine& line);

    std::vector<TraceSink*> sinks_;
    std::vector<TraceFrame> frames_;  // begun since the last done(), in order
    int rx_open_ = -1;                // index in frames_ of the received frame being processed
    int tx_open_ = -1;                // index in frames_ of the frame being built to send
    std::vector<PendingState> pending_states_;
    std::uint64_t next_number_ = 1;
    Instant last_now_;
};

// Writes frames as text to a FILE (stdout for --trace). Colour only where asked (a terminal).
class TextTraceSink final : public TraceSink {
public:
    TextTraceSink(std::FILE* out, bool colour, unsigned layer_mask) : out_(out), colour_(colour), mask_(layer_mask) {}
    void on_frame(const TraceFrame& frame) override;

private:
    std::FILE* out_;
    bool colour_;
    unsigned mask_;
};

// Writes frames as JSON Lines to a file it owns (--trace-json FILE).
class JsonTraceSink final : public TraceSink {
public:
    // Null (and errno set) if the file cannot be created.
    static std::unique_ptr<JsonTraceSink> open(const std::string& path);
    ~JsonTraceSink() override;
    void on_frame(const TraceFrame& frame) override;

private:
    explicit JsonTraceSink(std::FILE* out) : out_(out) {}
    std::FILE* out_;
};

}  // namespace tcpip
