// The Ethernet layer: the bottom of the stack. It takes frames from the device, keeps the ones
// addressed to us (our MAC, or broadcast), and hands each to the layer registered for its
// EtherType (ARP, IPv4); everything else is dropped and counted. Going down, it prepends the
// 14-byte header and gives the frame to the device.
//
// Upper layers register themselves here (register_handler), so this file knows nothing of them:
// the dependency arrows point down.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "stack/net_device.h"
#include "stack/core/packet.h"
#include "stack/core/stats.h"
#include "stack/core/trace.h"
#include "stack/ethernet/header.h"

namespace tcpip {

class EthernetLayer {
public:
    // Called with the frame's payload (the Ethernet header already pulled) and the parsed header.
    using Handler = std::function<void(Instant now, Packet payload, const EthernetRepr& header)>;

    EthernetLayer(NetDevice& device, EthernetStats& stats);

    void register_handler(std::uint16_t ethertype, Handler handler);
    // Who hears of every frame (null: nobody); the Stack sets StackConfig::tracer here, and tells
    // it when a received frame has gone as far up as it goes (Tracer::done).
    void set_tracer(Tracer* tracer) { tracer_ = tracer; }

    // One received frame, straight from the device.
    void receive(Instant now, Packet frame);

    // Prepends an Ethernet header (our MAC as source) to `payload` and transmits it.
    Result<void, DeviceError> send(Instant now, MacAddress dst, std::uint16_t ethertype, Packet payload);

    MacAddress mac() const { return mac_; }
    std::size_t mtu() const { return device_.mtu(); }
    // What the device offloads (read once: a device's capabilities do not change while it runs).
    const DeviceCapabilities& capabilities() const { return capabilities_; }
    NetDevice& device() { return device_; }

private:
    NetDevice& device_;
    MacAddress mac_;
    DeviceCapabilities capabilities_;
    EthernetStats& stats_;
    Tracer* tracer_ = nullptr;
    std::vector<std::pair<std::uint16_t, Handler>> handlers_;  // a handful: a vector beats a map
};

}  // namespace tcpip
