// FrameTracer and its sinks: see frame_tracer.h. The per-layer summaries read the bytes through
// the layers' own header views, so a line shows what the stack itself parsed; bytes that do not
// parse get a short description instead (the trace of a malformed frame must not fail).
#include "stack/trace/frame_tracer.h"

#include <cerrno>
#include <cstdio>
#include <sstream>

#include "stack/arp/header.h"
#include "stack/ethernet/header.h"
#include "stack/ipv4/header.h"
#include "stack/ipv4/icmp_header.h"
#include "stack/tcp/header.h"
#include "stack/udp/header.h"

namespace tcpip {

namespace {

std::string ethertype_name(std::uint16_t type) {
    switch (type) {
        case EtherType::Ipv4: return "IPv4";
        case EtherType::Arp: return "ARP";
        case EtherType::Ipv6: return "IPv6";
        case EtherType::Vlan: return "802.1Q";
        default: {
            char text[16];
            std::snprintf(text, sizeof text, "0x%04x", type);
            return text;
        }
    }
}

std::string protocol_name(std::uint8_t protocol) {
    switch (protocol) {
        case IpProtocol::Icmp: return "ICMP";
        case IpProtocol::Tcp: return "TCP";
        case IpProtocol::Udp: return "UDP";
        default: return "proto " + std::to_string(protocol);
    }
}

std::string unparsable(Bytes bytes, ParseError error) {
    return std::to_string(bytes.size()) + " B, unparsable (" + to_string(error) + ")";
}

std::string summarize_eth(Bytes bytes) {
    auto header = EthernetHeader::parse(bytes);
    if (!header) return unparsable(bytes, header.error());
    return header->src().to_string() + " > " + header->dst().to_string() + " " + ethertype_name(header->ethertype()) +
           " " + std::to_string(bytes.size()) + " B";
}

std::string summarize_arp(Bytes bytes) {
    auto packet = ArpPacket::parse(bytes);
    if (!packet) return unparsable(bytes, packet.error());
    const std::string sender = packet->sender_ip().to_string();
    const std::string sender_mac = packet->sender_mac().to_string();
    switch (packet->operation()) {
        case ArpOperation::Request:
            if (packet->sender_ip() == packet->target_ip()) return "announce " + sender + " is at " + sender_mac + " (gratuitous)";
            return "who-has " + packet->target_ip().to_string() + " tell " + sender + " (" + sender_mac + ")";
        case ArpOperation::Reply: return "reply " + sender + " is at " + sender_mac;
        default: return "opcode " + std::to_string(packet->opcode());
    }
}

std::string summarize_ip(Bytes bytes) {
    auto header = Ipv4Header::parse(bytes);
    if (!header) return unparsable(bytes, header.error());
    std::string text = header->src().to_string() + " > " + header->dst().to_string() + " " +
                       protocol_name(header->protocol()) + " ttl " + std::to_string(header->ttl()) + " id " +
                       std::to_string(header->ident());
    if (header->dont_fragment()) text += " DF";
    if (header->is_fragment()) {
        text += " frag off " + std::to_string(header->frag_offset());
        if (header->more_fragments()) text += " MF";
    }
    text += " len " + std::to_string(header->total_length());
    return text;
}

std::string unreachable_name(std::uint8_t code) {
    switch (code) {
        case IcmpUnreachableCode::Net: return "net";
        case IcmpUnreachableCode::Host: return "host";
        case IcmpUnreachableCode::Protocol: return "protocol";
        case IcmpUnreachableCode::Port: return "port";
        case IcmpUnreachableCode::FragmentationNeeded: return "fragmentation needed";
        default: return "code " + std::to_string(code);
    }
}

std::string summarize_icmp(Bytes bytes) {
    auto header = IcmpHeader::parse(bytes);
    if (!header) return unparsable(bytes, header.error());
    const std::string data = std::to_string(header->payload().size()) + " B";
    switch (header->type()) {
        case IcmpType::EchoRequest:
        case IcmpType::EchoReply:
            return std::string(header->type() == IcmpType::EchoRequest ? "echo request" : "echo reply") + " id " +
                   std::to_string(header->ident()) + " seq " + std::to_string(header->seq()) + " " + data;
        case IcmpType::DestinationUnreachable: return "destination unreachable (" + unreachable_name(header->code()) + ") " + data;
        case IcmpType::TimeExceeded:
            return std::string("time exceeded (") + (header->code() == 1 ? "reassembly" : "in transit") + ") " + data;
        default: return "type " + std::to_string(header->type()) + " code " + std::to_string(header->code()) + " " + data;
    }
}

std::string summarize_udp(Bytes bytes) {
    auto header = UdpHeader::parse(bytes);
    if (!header) return unparsable(bytes, header.error());
    return std::to_string(header->src_port()) + " > " + std::to_string(header->dst_port()) + " " +
           std::to_string(header->length() - UdpHeader::kHeaderLen) + " B";
}

// Flags as tcpdump writes them: S F R P U E W, and "." for ACK.
std::string tcp_flags(TcpFlags flags) {
    std::string text;
    if (flags.syn()) text += 'S';
    if (flags.fin()) text += 'F';
    if (flags.rst()) text += 'R';
    if (flags.psh()) text += 'P';
    if (flags.urg()) text += 'U';
    if (flags.ece()) text += 'E';
    if (flags.cwr()) text += 'W';
    if (flags.ack()) text += '.';
    return text.empty() ? "none" : text;
}

std::string tcp_options(const TcpOptions& options) {
    std::vector<std::string> parts;
    if (options.mss) parts.push_back("mss " + std::to_string(*options.mss));
    if (options.sack_permitted) parts.push_back("sackOK");
    if (options.timestamps) {
        parts.push_back("TS val " + std::to_string(options.timestamps->tsval) + " ecr " + std::to_string(options.timestamps->tsecr));
    }
    if (options.window_scale) parts.push_back("ws " + std::to_string(*options.window_scale));
    for (const SackBlock& block : options.sacks()) {
        parts.push_back("sack " + std::to_string(block.left.raw()) + ":" + std::to_string(block.right.raw()));
    }
    if (parts.empty()) return "";
    std::string text = " <";
    for (std::size_t i = 0; i < parts.size(); ++i) text += (i ? "," : "") + parts[i];
    return text + ">";
}

std::string summarize_tcp(Bytes bytes) {
    auto header = TcpHeader::parse(bytes);
    if (!header) return unparsable(bytes, header.error());
    std::string text = std::to_string(header->src_port()) + " > " + std::to_string(header->dst_port()) + " [" +
                       tcp_flags(header->flags()) + "] seq " + std::to_string(header->seq().raw());
    if (header->flags().ack()) text += " ack " + std::to_string(header->ack().raw());
    text += " win " + std::to_string(header->window());
    text += " len " + std::to_string(header->payload().size());
    return text + tcp_options(header->options());
}

// The two ports of a TCP or UDP header (as on the wire), for matching lines to connections.
void read_ports(Bytes bytes, TraceLine& line) {
    if (bytes.size() < 4) return;
    line.key_a = load_be16(bytes, 0);
    line.key_b = load_be16(bytes, 2);
}

const char* layer_colour(TraceLayer layer) {
    switch (layer) {
        case TraceLayer::Sock: return "\x1b[1;37m";
        case TraceLayer::Tcp: return "\x1b[32m";
        case TraceLayer::Udp: return "\x1b[33m";
        case TraceLayer::Icmp: return "\x1b[35m";
        case TraceLayer::Ip: return "\x1b[36m";
        case TraceLayer::Arp: return "\x1b[34m";
        case TraceLayer::Eth: return "\x1b[90m";
    }
    return "";
}
constexpr const char* kBold = "\x1b[1m";
constexpr const char* kRed = "\x1b[1;31m";
constexpr const char* kReset = "\x1b[0m";

void json_string(std::string& out, const std::string& text) {
    out += '"';
    for (char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char escaped[8];
                    std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
                    out += escaped;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

std::string joined(const std::vector<std::string>& parts) {
    std::string text;
    for (std::size_t i = 0; i < parts.size(); ++i) text += (i ? "; " : "") + parts[i];
    return text;
}

}  // namespace

std::string summarize(TraceLayer layer, Bytes bytes) {
    switch (layer) {
        case TraceLayer::Eth: return summarize_eth(bytes);
        case TraceLayer::Arp: return summarize_arp(bytes);
        case TraceLayer::Ip: return summarize_ip(bytes);
        case TraceLayer::Icmp: return summarize_icmp(bytes);
        case TraceLayer::Udp: return summarize_udp(bytes);
        case TraceLayer::Tcp: return summarize_tcp(bytes);
        case TraceLayer::Sock: return std::to_string(bytes.size()) + " B";
    }
    return "";
}

std::string decision_text(TraceNote note, std::uint32_t n, std::uint32_t m) {
    const TraceWords words = describe(note);
    std::string text = words.words;
    for (auto [key, value] : {std::pair{"{n}", n}, std::pair{"{m}", m}}) {
        if (auto at = text.find(key); at != std::string::npos) text.replace(at, 3, std::to_string(value));
    }
    if (words.rule != nullptr) text += std::string(" (") + words.rule + ")";
    return text;
}

bool parse_trace_layers(const std::string& list, unsigned& mask) {
    unsigned result = 0;
    std::stringstream in(list);
    std::string name;
    while (std::getline(in, name, ',')) {
        bool known = false;
        for (int i = 0; i < kTraceLayerCount; ++i) {
            if (name == to_string(static_cast<TraceLayer>(i))) {
                result |= 1u << i;
                known = true;
            }
        }
        if (!known) return false;
    }
    if (result == 0) return false;
    mask = result;
    return true;
}

std::string format_text(const TraceFrame& frame, unsigned layer_mask, bool colour) {
    std::string out;
    bool first = true;
    for (const TraceLine& line : frame.lines) {
        if ((layer_mask & (1u << static_cast<unsigned>(line.layer))) == 0) continue;
        // "rx"/"tx" on the first line shown; the lines below it are indented under it.
        const char* prefix = first && !frame.standalone ? to_string(frame.dir) : "  ";
        first = false;
        if (colour) out += kBold;
        out += prefix;
        if (colour) out += kReset;
        out += ' ';
        if (colour) out += layer_colour(line.layer);
        std::string name = to_string(line.layer);
        name.resize(4, ' ');
        out += name;
        out += ' ';
        out += line.summary;
        if (colour) out += kReset;
        if (!line.decisions.empty()) {
            out += "  ";
            if (colour && line.dropped) out += kRed;
            out += joined(line.decisions);
            if (colour && line.dropped) out += kReset;
        }
        out += '\n';
    }
    return out;
}

std::string format_json(const TraceFrame& frame) {
    std::string out;
    bool first = true;
    for (const TraceLine& line : frame.lines) {
        out += "{\"frame\":" + std::to_string(frame.number) + ",\"t_us\":" + std::to_string(frame.at.total_micros()) +
               ",\"dir\":";
        json_string(out, frame.standalone ? "" : to_string(frame.dir));
        out += ",\"first\":";
        out += first && !frame.standalone ? "true" : "false";
        out += ",\"layer\":";
        json_string(out, to_string(line.layer));
        out += ",\"summary\":";
        json_string(out, line.summary);
        out += ",\"decision\":";
        json_string(out, joined(line.decisions));
        out += ",\"dropped\":";
        out += line.dropped ? "true" : "false";
        out += "}\n";
        first = false;
    }
    return out;
}

// ---- FrameTracer ---------------------------------------------------------------------------

TraceFrame& FrameTracer::open_frame(Instant now, TraceDir dir) {
    TraceFrame frame;
    frame.number = next_number_++;
    frame.dir = dir;
    frame.at = now;
    frames_.push_back(std::move(frame));
    return frames_.back();
}

TraceFrame& FrameTracer::tx_frame(Instant now) {
    if (tx_open_ < 0) {
        open_frame(now, TraceDir::Tx);
        tx_open_ = static_cast<int>(frames_.size()) - 1;
    }
    return frames_[static_cast<std::size_t>(tx_open_)];
}

void FrameTracer::add_decision(TraceLine& line, TraceNote note, std::uint32_t n, std::uint32_t m) {
    if (note == TraceNote::None) return;
    line.decisions.push_back(decision_text(note, n, m));
    if (describe(note).drop) line.dropped = true;
}

void FrameTracer::close_tx(bool wire) {
    if (tx_open_ < 0) return;
    TraceFrame& frame = frames_[static_cast<std::size_t>(tx_open_)];
    frame.wire = wire;
    if (wire) {
        for (TraceSink* sink : sinks_) sink->on_wire(frame);
    }
    tx_open_ = -1;
}

void FrameTracer::attach_pending_states(TraceLine& line) {
    std::erase_if(pending_states_, [&](const PendingState& state) {
        const bool ours = (line.key_a == state.local_port && line.key_b == state.remote_port) ||
                          (line.key_a == state.remote_port && line.key_b == state.local_port);
        if (ours) line.decisions.push_back(state.change);
        return ours;
    });
}

void FrameTracer::packet(Instant now, TraceLayer layer, TraceDir dir, Bytes bytes, TraceNote note, std::uint32_t n,
                         std::uint32_t m) {
    last_now_ = now;
    TraceLine line;
    line.layer = layer;
    line.summary = summarize(layer, bytes);
    if (layer == TraceLayer::Tcp || layer == TraceLayer::Udp) read_ports(bytes, line);
    add_decision(line, note, n, m);
    if (layer == TraceLayer::Tcp && !pending_states_.empty()) attach_pending_states(line);

    if (dir == TraceDir::Rx) {
        if (layer == TraceLayer::Eth || rx_open_ < 0) {
            close_tx(false);  // a send that never reached the device
            open_frame(now, TraceDir::Rx).wire = layer == TraceLayer::Eth;
            rx_open_ = static_cast<int>(frames_.size()) - 1;
        }
        frames_[static_cast<std::size_t>(rx_open_)].lines.push_back(std::move(line));
        return;
    }
    const bool stops = describe(note).drop;
    tx_frame(now).lines.push_back(std::move(line));
    if (layer == TraceLayer::Eth) {
        close_tx(true);
    } else if (stops) {
        close_tx(false);
    }
}

void FrameTracer::note(TraceLayer layer, TraceNote note, std::uint32_t n, std::uint32_t m) {
    int index = tx_open_ >= 0 ? tx_open_ : rx_open_;
    if (layer == TraceLayer::Eth && note == TraceNote::EthDeviceError) {
        // Told after the frame's Ethernet line closed it: the last frame we sent.
        for (int i = static_cast<int>(frames_.size()) - 1; i >= 0; --i) {
            if (frames_[static_cast<std::size_t>(i)].dir == TraceDir::Tx) {
                index = i;
                break;
            }
        }
    }
    if (index < 0) {
        open_frame(last_now_, TraceDir::Tx).standalone = true;
        index = static_cast<int>(frames_.size()) - 1;
    }
    TraceFrame& frame = frames_[static_cast<std::size_t>(index)];
    TraceLine* target = nullptr;
    for (auto it = frame.lines.rbegin(); it != frame.lines.rend(); ++it) {
        if (it->layer == layer) {
            target = &*it;
            break;
        }
    }
    if (target == nullptr) {
        frame.lines.push_back(TraceLine{layer, {}, {}, false, -1, -1});
        target = &frame.lines.back();
    }
    add_decision(*target, note, n, m);
    if (index == tx_open_ && describe(note).drop) close_tx(false);
}

void FrameTracer::resolve(Instant now, Ipv4Address next_hop, MacAddress mac, TraceNote note, std::uint32_t n) {
    last_now_ = now;
    TraceLine line;
    line.layer = TraceLayer::Arp;
    line.summary = mac.is_zero() ? next_hop.to_string() + " not resolved" : next_hop.to_string() + " is at " + mac.to_string();
    add_decision(line, note, n, 0);
    tx_frame(now).lines.push_back(std::move(line));
    if (note == TraceNote::ArpQueued || describe(note).drop) close_tx(false);
}

void FrameTracer::tcp_state(std::uint16_t local_port, std::uint16_t remote_port, const char* from, const char* to) {
    std::string change = std::string(from) + " -> " + to;
    auto ours = [&](const TraceLine& line) {
        return line.layer == TraceLayer::Tcp && ((line.key_a == local_port && line.key_b == remote_port) ||
                                                 (line.key_a == remote_port && line.key_b == local_port));
    };
    // While a received segment of the connection is processed, the change is its doing (even when
    // an answer went out first: a FIN in FIN-WAIT-2 is acknowledged, then TIME-WAIT begins).
    if (rx_open_ >= 0) {
        for (TraceLine& line : frames_[static_cast<std::size_t>(rx_open_)].lines) {
            if (ours(line)) {
                line.decisions.push_back(std::move(change));
                return;
            }
        }
    }
    // Otherwise the connection's latest line among the frames not yet written: the segment the
    // change sent (our FIN, after close()).
    for (auto frame = frames_.rbegin(); frame != frames_.rend(); ++frame) {
        for (auto line = frame->lines.rbegin(); line != frame->lines.rend(); ++line) {
            if (ours(*line)) {
                line->decisions.push_back(std::move(change));
                return;
            }
        }
    }
    // None yet (connect() enters SYN-SENT before the SYN is built): the next one.
    pending_states_.push_back(PendingState{local_port, remote_port, std::move(change)});
}

void FrameTracer::socket_call(Instant now, TraceDir dir, int fd, const char* call, std::int64_t value) {
    last_now_ = now;
    TraceLine line;
    line.layer = TraceLayer::Sock;
    line.key_a = fd;
    line.summary = std::string(call) + "(fd " + std::to_string(fd);
    if (dir == TraceDir::Tx) {
        if (value >= 0) line.summary += ", " + std::to_string(value) + " B";
        line.summary += ")";
        close_tx(false);
        tx_frame(now).lines.push_back(std::move(line));
        return;
    }
    line.summary += ") = " + (std::string(call) == "accept" ? "fd " + std::to_string(value) : std::to_string(value) + " B");
    open_frame(now, TraceDir::Rx).lines.push_back(std::move(line));
}

void FrameTracer::socket_woken(int fd) {
    if (rx_open_ < 0) return;
    TraceFrame& frame = frames_[static_cast<std::size_t>(rx_open_)];
    for (const TraceLine& line : frame.lines) {
        if (line.layer == TraceLayer::Sock && line.key_a == fd) return;  // once per socket and frame
    }
    frame.lines.push_back(TraceLine{TraceLayer::Sock, "fd " + std::to_string(fd),
                                    {"delivered: the application's socket woken"}, false, fd, -1});
}

void FrameTracer::done() {
    if (rx_open_ >= 0) {
        const TraceFrame& received = frames_[static_cast<std::size_t>(rx_open_)];
        if (received.wire) {
            for (TraceSink* sink : sinks_) sink->on_wire(received);
        }
    }
    close_tx(false);
    if (!pending_states_.empty()) {
        // State changes no segment went with (a timer ended TIME-WAIT, a connection timed out).
        TraceFrame& loose = open_frame(last_now_, TraceDir::Tx);
        loose.standalone = true;
        for (const PendingState& state : pending_states_) {
            loose.lines.push_back(TraceLine{TraceLayer::Tcp,
                                            std::to_string(state.local_port) + " > " + std::to_string(state.remote_port),
                                            {state.change}, false, state.local_port, state.remote_port});
        }
        pending_states_.clear();
    }
    for (const TraceFrame& frame : frames_) {
        for (TraceSink* sink : sinks_) sink->on_frame(frame);
    }
    frames_.clear();
    rx_open_ = -1;
    tx_open_ = -1;
}

// ---- Sinks -------------------------------------------------------------------------------------

void TextTraceSink::on_frame(const TraceFrame& frame) {
    const std::string text = format_text(frame, mask_, colour_);
    if (text.empty()) return;
    std::fwrite(text.data(), 1, text.size(), out_);
    std::fflush(out_);
}

std::unique_ptr<JsonTraceSink> JsonTraceSink::open(const std::string& path) {
    std::FILE* out = std::fopen(path.c_str(), "w");
    if (out == nullptr) return nullptr;
    return std::unique_ptr<JsonTraceSink>(new JsonTraceSink(out));
}

JsonTraceSink::~JsonTraceSink() { std::fclose(out_); }

void JsonTraceSink::on_frame(const TraceFrame& frame) {
    const std::string text = format_json(frame);
    std::fwrite(text.data(), 1, text.size(), out_);
    std::fflush(out_);
}

}  // namespace tcpip
