// The libFuzzer entry point, compiled once per target with -DTCPIP_FUZZ_TARGET=<function>
// (tests/fuzz/meson.build): the target's body lives in a plain function (targets.h) so the
// regression test in the normal build runs the very same code.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/targets.h"

#ifndef TCPIP_FUZZ_TARGET
#error "build with -DTCPIP_FUZZ_TARGET=tcpip::fuzz::<target>"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    TCPIP_FUZZ_TARGET(tcpip::fuzz::Input(data, size));
    return 0;  // libFuzzer reserves other values
}
