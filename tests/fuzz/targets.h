// The fuzz targets' bodies, as plain functions: each takes the fuzzer's bytes and either returns
// (the input was handled correctly, whatever it was) or aborts with a message (a check failed).
//
// The same function is called from two places: the libFuzzer entry point (fuzz_main.cpp, one
// executable per target, built by -Dfuzz=enabled with clang) and the regression test
// (regression_test.cpp, built in the normal g++ build), which feeds it every input a fuzzer
// once crashed on (tests/fuzz/regressions/<target>/) and the seed corpus
// (tests/fuzz/corpus/<target>/). So an input that crashed the fuzzer is a failing unit test
// until the bug is fixed, and stays a test afterwards.
//
// Checks that fail call oracle_failed(), which prints what was expected and aborts: libFuzzer
// treats an abort as a crash and saves the input; a gtest run dies with the message.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

namespace tcpip::fuzz {

using Input = std::span<const std::uint8_t>;

// Wire parsers (tests/fuzz/wire_targets.cpp): parse, emit the Repr again, parse that, and
// require the same fields (a round trip, smoltcp's "if it can be parsed it can be emitted").
void ethernet(Input data);
void arp(Input data);
void ipv4(Input data);
void icmp(Input data);
void udp(Input data);
void tcp_header(Input data);

// IPv4 reassembly (tests/fuzz/reassembly_target.cpp): fragments and clock steps decoded from
// the input; every datagram delivered must hold exactly the bytes its fragments carried, and the
// memory bounds must hold after every step.
void ipv4_reassembly(Input data);

// The apps' parsers (tests/fuzz/app_targets.cpp).
void http_request(Input data);
void perf_control(Input data);
void perf_json(Input data);

// A whole Stack with TCP connections in several states (tests/fuzz/stack_target.cpp).
void stack(Input data);

// One row per target, for the regression test and the fuzz main: name as in tests/fuzz/corpus/.
struct Target {
    std::string_view name;
    void (*run)(Input);
};
inline constexpr Target kTargets[] = {
    {"ethernet", ethernet},         {"arp", arp},
    {"ipv4", ipv4},                 {"icmp", icmp},
    {"udp", udp},                   {"tcp_header", tcp_header},
    {"ipv4_reassembly", ipv4_reassembly},
    {"http_request", http_request}, {"perf_control", perf_control},
    {"perf_json", perf_json},       {"stack", stack},
};

[[noreturn]] inline void oracle_failed(const char* target, const char* what, const char* file, int line) {
    std::fprintf(stderr, "fuzz oracle failed in %s (%s:%d): %s\n", target, file, line, what);
    std::abort();
}

}  // namespace tcpip::fuzz

// FUZZ_CHECK(target, condition): not an assert, so it stays on in release builds and under
// -DNDEBUG; the condition's text is the message.
#define FUZZ_CHECK(target, cond) \
    do { \
        if (!(cond)) ::tcpip::fuzz::oracle_failed(target, #cond, __FILE__, __LINE__); \
    } while (false)
