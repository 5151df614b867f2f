#include "stack/net_device.h"

namespace tcpip {

const char* to_string(DeviceError error) {
    switch (error) {
        case DeviceError::WouldBlock: return "device queue full";
        case DeviceError::FrameTooBig: return "frame too big for the device";
        case DeviceError::Down: return "device is down";
        case DeviceError::Io: return "I/O error";
    }
    return "unknown device error";
}

}  // namespace tcpip
