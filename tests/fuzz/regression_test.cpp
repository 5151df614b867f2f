// Every input a fuzzer ever crashed on, run again through the same function its fuzz target calls
// (targets.h), in the normal build: tests/fuzz/regressions/<target>/<short-name>. The seed corpus
// (tests/fuzz/corpus/<target>/) runs too, which keeps the targets themselves working in a build
// that has no libFuzzer (g++, CI's first run).
//
// A target aborts on a failed check; gtest then reports the test as crashed, with the check's
// message on stderr. Each file is named before it runs (SCOPED_TRACE would not survive an abort).
//
// Every file runs, always: a finding is committed here with its fix, never before it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/targets.h"

namespace tcpip::fuzz {
namespace {

namespace fs = std::filesystem;

const fs::path kFuzzDir = TCPIP_FUZZ_DIR;  // tests/fuzz in the source tree (meson.build)

std::vector<std::uint8_t> read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs every file under dir/<target>/ through the target; returns how many ran.
std::size_t run_all(const fs::path& dir) {
    std::size_t count = 0;
    for (const Target& target : kTargets) {
        const fs::path folder = dir / std::string(target.name);
        if (!fs::is_directory(folder)) continue;
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(folder)) {
            if (entry.is_regular_file()) files.push_back(entry.path());
        }
        std::sort(files.begin(), files.end());
        for (const fs::path& file : files) {
            std::fprintf(stderr, "%s: %s\n", std::string(target.name).c_str(), file.filename().c_str());
            const auto bytes = read_file(file);
            target.run(Input(bytes.data(), bytes.size()));
            ++count;
        }
    }
    return count;
}

TEST(FuzzRegressions, EveryCrashingInputIsHandled) {
    EXPECT_GT(run_all(kFuzzDir / "regressions"), 0u) << "no regression inputs under " << (kFuzzDir / "regressions");
}

TEST(FuzzRegressions, SeedCorpusRuns) {
    EXPECT_GT(run_all(kFuzzDir / "corpus"), 0u) << "no seed corpus under " << (kFuzzDir / "corpus");
}

TEST(FuzzRegressions, EmptyAndTinyInputs) {
    // The smallest inputs, the ones the fuzzer starts from.
    const std::uint8_t bytes[2] = {0, 0xff};
    for (const Target& target : kTargets) {
        target.run(Input());
        target.run(Input(bytes, 1));
        target.run(Input(bytes, 2));
    }
}

}  // namespace
}  // namespace tcpip::fuzz
