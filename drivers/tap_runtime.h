// TapRuntime: the stack on a TAP, ready for the socket API, in one call. It is what an
// application that embeds the stack needs and nothing more: it opens the TAP (with offloads),
// builds a Runtime over it, starts the stack's thread and makes it the default runtime, so that
// tcpip::socket() creates sockets on it.
//
//     #include <tcpip/tcpip.h>
//
//     auto stack = tcpip::TapRuntime::start("tap0", "10.0.0.2/24");
//     if (!stack) { std::fprintf(stderr, "%s\n", stack.error().c_str()); return 1; }
//     int fd = tcpip::socket(AF_INET, SOCK_STREAM, 0);   // then bind, listen, accept, recv, send...
//
// Destroying it stops the stack's thread, closes every socket and the TAP, and clears the default
// runtime. Unlike the kernel's, this stack ends with the process: data still queued on a socket
// then is never sent, so a program that ends after its last send closes that socket with
// SO_LINGER set (close waits until the peer acknowledged everything), as examples/echo_server.cpp
// does. (The same steps by hand, for a device of your own or several stacks in one process:
// TapDevice::open, then `Runtime runtime(device, {ip, gateway}, config, seed)`,
// runtime.start_thread(), Runtime::set_default(&runtime).)
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "drivers/tap_device.h"
#include "stack/core/address.h"
#include "stack/core/config.h"
#include "stack/core/result.h"
#include "stack/socket/runtime.h"

namespace tcpip {

struct TapRuntimeOptions {
    std::string tap = "tap0";                                          // opened, or created if absent
    Ipv4Cidr ip = Ipv4Cidr{Ipv4Address(10, 0, 0, 2), 24};             // our address and subnet
    std::optional<Ipv4Address> gateway;                                 // the default route, if any
    MacAddress mac = MacAddress({0x02, 0x74, 0x63, 0x70, 0x00, 0x02});  // ours (locally administered)
    bool offload = true;                                                // IFF_VNET_HDR checksum and TSO
    StackConfig stack;                                                  // every tunable, Linux's defaults
};

class TapRuntime {
public:
    // Opens options.tap, starts the stack on it and makes it the default runtime. The error is
    // one line saying what failed and what to do (TapError::message, or a bad address).
    static Result<std::unique_ptr<TapRuntime>, std::string> start(const TapRuntimeOptions& options);
    // The same with the TAP's name and our address as text ("10.0.0.2/24"), the rest defaults.
    static Result<std::unique_ptr<TapRuntime>, std::string> start(const std::string& tap, const std::string& ip);

    ~TapRuntime();
    TapRuntime(const TapRuntime&) = delete;
    TapRuntime& operator=(const TapRuntime&) = delete;

    Runtime& runtime() { return *runtime_; }
    TapDevice& tap() { return tap_; }

private:
    explicit TapRuntime(TapDevice tap) : tap_(std::move(tap)) {}

    TapDevice tap_;
    std::unique_ptr<Runtime> runtime_;  // destroyed first: it uses tap_
};

}  // namespace tcpip
