#include "stack/ethernet/ethernet.h"

namespace tcpip {

EthernetLayer::EthernetLayer(NetDevice& device, EthernetStats& stats)
    : device_(device), mac_(device.mac()), capabilities_(device.capabilities()), stats_(stats) {}

void EthernetLayer::register_handler(std::uint16_t ethertype, Handler handler) {
    handlers_.emplace_back(ethertype, std::move(handler));
}

void EthernetLayer::receive(Instant now, Packet frame) {
    ++stats_.rx_frames;
    if (tracer_) [[unlikely]] tracer_->packet(now, TraceLayer::Eth, TraceDir::Rx, frame.bytes());
    auto header = EthernetHeader::parse(frame.bytes());
    if (!header) {
        ++stats_.rx_runt;
        if (tracer_) [[unlikely]] tracer_->note(TraceLayer::Eth, TraceNote::EthRunt);
        return;
    }
    EthernetRepr repr = EthernetRepr::from(*header);
    // Accept frames for our own address and broadcast. Multicast groups are not joined (no IGMP),
    // so other group addresses are not for us either; a TAP never runs in promiscuous mode here.
    if (repr.dst != mac_ && !repr.dst.is_broadcast()) {
        ++stats_.rx_not_for_us;
        if (tracer_) [[unlikely]] tracer_->note(TraceLayer::Eth, TraceNote::EthNotForUs);
        return;
    }
    for (auto& [type, handler] : handlers_) {
        if (type == repr.ethertype) {
            frame.pull(EthernetHeader::kHeaderLen);
            handler(now, std::move(frame), repr);
            return;
        }
    }
    ++stats_.rx_unknown_type;
    if (tracer_) [[unlikely]] tracer_->note(TraceLayer::Eth, TraceNote::EthUnknownType);
}

Result<void, DeviceError> EthernetLayer::send(Instant now, MacAddress dst, std::uint16_t ethertype, Packet payload) {
    EthernetRepr{dst, mac_, ethertype}.emit(payload);
    if (tracer_) [[unlikely]] tracer_->packet(now, TraceLayer::Eth, TraceDir::Tx, payload.bytes());
    auto sent = device_.transmit(now, std::move(payload));
    if (sent) {
        ++stats_.tx_frames;
    } else {
        ++stats_.tx_device_errors;
        if (tracer_) [[unlikely]] tracer_->note(TraceLayer::Eth, TraceNote::EthDeviceError);
    }
    return sent;
}

}  // namespace tcpip
