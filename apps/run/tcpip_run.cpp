// tcpip-run: runs an unmodified, dynamically linked program with its internet sockets on our
// stack (docs/run.md).
//
//     tcpip-run [shared options] [--stats FILE] -- PROGRAM [ARGS...]
//
// It checks the flags (the shared app flags, app_common.h), checks that PROGRAM can be reached
// through LD_PRELOAD at all, and then becomes PROGRAM (execvp, same process) with
// libtcpip-preload.so preloaded. The shim's constructor reads the flags back from the
// environment and starts the stack inside the program's process:
//   TCPIP_RUN_ARGS   the shared flags as given, separated by \x1f
//   TCPIP_RUN_PID    this process's pid: only this process (not programs it runs) takes the stack
//   TCPIP_RUN_STATS  where the shim writes the stack's counters when the program exits
//
// Refused, with one line saying why: a statically linked program (no ELF interpreter: nothing
// loads the shim), and a Go program (it makes its system calls without libc).
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "apps/app_common.h"

namespace {

[[noreturn]] void die(const std::string& message, int status = 1) {
    std::cerr << "tcpip-run: " << message << "\n";
    std::exit(status);
}

// PROGRAM as execvp would find it.
std::string find_program(const std::string& name) {
    if (name.find('/') != std::string::npos) return name;
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        const std::size_t end = dirs.find(':', start);
        std::string dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
        std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        if (end == std::string::npos) break;
        start = end + 1;
    }
    die(name + ": command not found", 127);
}

// Why LD_PRELOAD cannot reach PROGRAM's sockets, or "" if it can. Scripts (#!) and files we cannot
// read as 64-bit ELF are let through: their interpreter is what runs.
std::string why_unreachable(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (bytes.size() < sizeof(Elf64_Ehdr) || std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0 ||
        bytes[EI_CLASS] != ELFCLASS64) {
        return "";
    }
    Elf64_Ehdr header;
    std::memcpy(&header, bytes.data(), sizeof header);
    bool interpreter = false;
    for (unsigned i = 0; i < header.e_phnum; ++i) {
        const std::size_t at = header.e_phoff + std::size_t{i} * header.e_phentsize;
        if (at + sizeof(Elf64_Phdr) > bytes.size()) break;
        Elf64_Phdr ph;
        std::memcpy(&ph, bytes.data() + at, sizeof ph);
        if (ph.p_type == PT_INTERP) interpreter = true;
    }
    if (!interpreter) {
        return path + " is statically linked (no ELF interpreter), so LD_PRELOAD cannot put its sockets on the stack";
    }
    // Go binaries carry a build ID note and make system calls without libc, even when dynamic.
    if (header.e_shoff != 0 && header.e_shstrndx < header.e_shnum) {
        const std::size_t strtab_at = header.e_shoff + std::size_t{header.e_shstrndx} * header.e_shentsize;
        if (strtab_at + sizeof(Elf64_Shdr) <= bytes.size()) {
            Elf64_Shdr strtab;
            std::memcpy(&strtab, bytes.data() + strtab_at, sizeof strtab);
            for (unsigned i = 0; i < header.e_shnum; ++i) {
                const std::size_t at = header.e_shoff + std::size_t{i} * header.e_shentsize;
                if (at + sizeof(Elf64_Shdr) > bytes.size()) break;
                Elf64_Shdr sh;
                std::memcpy(&sh, bytes.data() + at, sizeof sh);
                const std::size_t name_at = strtab.sh_offset + sh.sh_name;
                if (name_at >= bytes.size()) continue;
                const std::string name(bytes.data() + name_at, strnlen(bytes.data() + name_at, bytes.size() - name_at));
                if (name == ".note.go.buildid" || name == ".go.buildinfo") {
                    return path + " is a Go program: it makes its system calls without libc, which LD_PRELOAD cannot reach";
                }
            }
        }
    }
    return "";
}

// libtcpip-preload.so: beside this executable (the build tree, or an installed bindir whose
// libdir was given at build time), or where TCPIP_PRELOAD says.
std::string find_shim() {
    if (const char* given = std::getenv("TCPIP_PRELOAD")) return given;
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        std::string dir(self, static_cast<std::size_t>(n));
        dir = dir.substr(0, dir.rfind('/'));
        std::string beside = dir + "/libtcpip-preload.so";
        if (::access(beside.c_str(), R_OK) == 0) return beside;
    }
#ifdef TCPIP_PRELOAD_INSTALLED
    if (::access(TCPIP_PRELOAD_INSTALLED, R_OK) == 0) return TCPIP_PRELOAD_INSTALLED;
#endif
    die("cannot find libtcpip-preload.so beside tcpip-run (set TCPIP_PRELOAD to its path)");
}

}  // namespace

int main(int argc, char** argv) {
    int dashes = -1;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) {
            dashes = i;
            break;
        }
    }
    const std::string usage = "[shared options] [--stats FILE] -- PROGRAM [ARGS...]";
    // The flags before "--" (all of them with --help, so that it prints the usage).
    std::vector<char*> flags(argv, argv + (dashes < 0 ? argc : dashes));
    std::string stats;
    std::vector<std::string> shared;  // passed on to the shim
    for (std::size_t i = 1; i < flags.size(); ++i) {
        if (std::strcmp(flags[i], "--stats") == 0) {
            ++i;
            continue;
        }
        shared.emplace_back(flags[i]);
    }
    tcpip::app::Args args("tcpip-run", usage);
    args.add_option({"--stats"}, [&](std::string_view file) -> std::string {
        if (file.empty()) return "empty file name";
        stats = std::string(file);
        return "";
    });
    args.parse(static_cast<int>(flags.size()), flags.data());
    if (dashes < 0) args.fail("missing '--' before the program to run");
    if (dashes + 1 >= argc) args.fail("missing the program to run after '--'");

    const std::string program = find_program(argv[dashes + 1]);
    if (auto why = why_unreachable(program); !why.empty()) die(why);

    std::string joined;
    for (const auto& f : shared) {
        if (f.find('\x1f') != std::string::npos) die("a flag contains the byte 0x1f");
        if (!joined.empty()) joined += '\x1f';
        joined += f;
    }
    std::string preload = find_shim();
    if (const char* existing = std::getenv("LD_PRELOAD"); existing != nullptr && *existing != '\0') {
        preload += std::string(":") + existing;
    }
    ::setenv("LD_PRELOAD", preload.c_str(), 1);
    ::setenv("TCPIP_RUN_ARGS", joined.c_str(), 1);
    ::setenv("TCPIP_RUN_PID", std::to_string(::getpid()).c_str(), 1);
    if (!stats.empty()) ::setenv("TCPIP_RUN_STATS", stats.c_str(), 1);
    else ::unsetenv("TCPIP_RUN_STATS");
    ::execv(program.c_str(), argv + dashes + 1);
    die("cannot run " + program + ": " + std::strerror(errno), 127);
}
