// What every demo app shares: the command-line flags that say which TAP and which addresses to
// use, and the few lines that open the device, wrap it in a pcap writer if asked, build a Stack
// and run its event loop until SIGINT or SIGTERM.
//
// Shared flags:
//   --tap NAME          TAP interface to attach to (default tap0)
//   --ip ADDR/PREFIX    our address and subnet (default 10.0.0.2/24)
//   --gateway ADDR      default gateway
//   --mac MAC           our MAC address (default 02:74:63:70:00:02, locally administered)
//   --pcap FILE         capture every frame, both ways, to FILE
//   --help              usage
// A bad flag or value prints one line to stderr and exits with status 2.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/pcap_writer.h"
#include "drivers/tap_device.h"
#include "stack/core/clock.h"
#include "stack/event_loop.h"
#include "stack/stack.h"

namespace tcpip::app {

struct CommonOptions {
    std::string tap = "tap0";
    Ipv4Cidr ip = Ipv4Cidr{Ipv4Address(10, 0, 0, 2), 24};
    std::optional<Ipv4Address> gateway;
    MacAddress mac = MacAddress({0x02, 0x74, 0x63, 0x70, 0x00, 0x02});
    std::optional<std::string> pcap;
};

// A small argument parser: the shared flags, plus whatever the app adds.
class Args {
public:
    // `usage` is printed by --help, after "usage: PROGRAM ".
    Args(std::string program, std::string usage);

    // An app flag that takes a value (e.g. "-c", "--port"): the handler returns an error message,
    // or an empty string when the value is good.
    void add_option(std::vector<std::string> names, std::function<std::string(std::string_view)> handler);
    // Positional arguments, in order; `required` of them must be present.
    void add_positional(std::string name, bool required, std::function<std::string(std::string_view)> handler);

    // Parses argv. On a bad flag or value: one line on stderr, exit(2). On --help: usage, exit(0).
    CommonOptions parse(int argc, char** argv);

    [[noreturn]] void fail(const std::string& message) const;

private:
    struct Option {
        std::vector<std::string> names;
        std::function<std::string(std::string_view)> handler;
    };
    struct Positional {
        std::string name;
        bool required;
        std::function<std::string(std::string_view)> handler;
    };
    std::string program_;
    std::string usage_;
    std::vector<Option> options_;
    std::vector<Positional> positionals_;
};

// Parses a decimal integer in [min, max]; returns an error message or "".
std::string parse_int(std::string_view text, long long min, long long max, long long& out);
// Parses a positive decimal number of seconds (e.g. "0.2"); returns an error message or "".
std::string parse_seconds(std::string_view text, double min, double& out);

// The device chain and the Stack on top of it, ready to run.
class Host {
public:
    // Opens the TAP (and the pcap file); on failure prints the one-line reason and exits with 1.
    Host(const std::string& program, const CommonOptions& options);
    ~Host();

    Stack& stack() { return *stack_; }
    EventLoop& loop() { return *loop_; }
    const Clock& clock() const { return clock_; }

    // Stops the event loop on SIGINT and SIGTERM.
    void stop_on_signals();

private:
    SystemClock clock_;
    std::unique_ptr<TapDevice> tap_;
    std::unique_ptr<PcapWriter> pcap_;
    std::unique_ptr<Stack> stack_;
    std::unique_ptr<EventLoop> loop_;
};

// 64 random bits from the kernel (getrandom), to seed the stack's secrets.
std::uint64_t random_seed();

}  // namespace tcpip::app
