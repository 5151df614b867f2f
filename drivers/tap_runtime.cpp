// TapRuntime: see tap_runtime.h.
#include "drivers/tap_runtime.h"

#include <sys/random.h>

namespace tcpip {

namespace {

// 64 random bits for the stack's secrets (initial sequence numbers, IP IDs), from the kernel.
std::uint64_t random_seed() {
    std::uint64_t seed = 0;
    if (::getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed)) {
        seed = static_cast<std::uint64_t>(Runtime::system_clock().now().total_micros());
    }
    return seed;
}

}  // namespace

Result<std::unique_ptr<TapRuntime>, std::string> TapRuntime::start(const TapRuntimeOptions& options) {
    if (options.gateway && !options.ip.contains(*options.gateway)) {
        return Unexpected("gateway " + options.gateway->to_string() + " is not on the subnet " + options.ip.to_string());
    }
    auto tap = TapDevice::open(options.tap, options.mac, TapOptions{.mtu = 1500, .offload = options.offload});
    if (!tap) return Unexpected(tap.error().message());
    std::unique_ptr<TapRuntime> host(new TapRuntime(std::move(*tap)));
    host->runtime_ = std::make_unique<Runtime>(host->tap_, InterfaceConfig{options.ip, options.gateway}, options.stack,
                                               random_seed());
    host->runtime_->start_thread();
    Runtime::set_default(host->runtime_.get());
    return host;
}

Result<std::unique_ptr<TapRuntime>, std::string> TapRuntime::start(const std::string& tap, const std::string& ip) {
    auto cidr = Ipv4Cidr::parse(ip);
    if (!cidr) return Unexpected("'" + ip + "': " + to_string(cidr.error()) + " (expected ADDR/PREFIX, e.g. 10.0.0.2/24)");
    TapRuntimeOptions options;
    options.tap = tap;
    options.ip = *cidr;
    return start(options);
}

TapRuntime::~TapRuntime() {
    if (Runtime::get_default() == runtime_.get()) Runtime::set_default(nullptr);
    runtime_.reset();  // stops the thread and closes every socket, before the TAP closes
}

}  // namespace tcpip
