// Internet checksum throughput beside memcpy of the same sizes, measured in the same run.
// The ratio checksum/memcpy is the figure to report: both are memory-bound loops over the same
// bytes, so the ratio holds across noisy shared machines where absolute numbers do not.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "stack/core/checksum.h"

namespace {

std::vector<std::uint8_t> random_bytes(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    std::mt19937 rng(7);
    for (auto& b : v) b = static_cast<std::uint8_t>(rng());
    return v;
}

void BM_Checksum(benchmark::State& state) {
    auto data = random_bytes(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        std::uint16_t c = tcpip::InternetChecksum{}.add(data).finish();
        benchmark::DoNotOptimize(c);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

void BM_Memcpy(benchmark::State& state) {
    auto src = random_bytes(static_cast<std::size_t>(state.range(0)));
    std::vector<std::uint8_t> dst(src.size());
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), src.size());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

}  // namespace

BENCHMARK(BM_Checksum)->Arg(64)->Arg(1500)->Arg(65536);
BENCHMARK(BM_Memcpy)->Arg(64)->Arg(1500)->Arg(65536);
