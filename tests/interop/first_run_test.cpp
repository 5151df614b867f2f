// What a user meets first (issue 16, part 5), against the running apps in a namespace:
//   - `--tap NAME` for a TAP that does not exist: the app creates it and says so in one line with
//     the two `ip` commands that make it reachable; running exactly those commands makes the
//     stack answer a ping. A persistent TAP (what the scripts and tests make) gets no such line.
//   - `--pcap` over a TAP with offloads: tshark, validating IPv4 and TCP checksums, finds none bad
//     in a bulk transfer both ways; with `--pcap-segment` no frame is larger than the link's 1514
//     bytes, without it the TSO frames show whole.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

class FirstRunInterop : public AppInterop {
protected:
    std::string temp_file(const std::string& stem) {
        std::string path = "/tmp/tcpip-first-run-" + std::to_string(::getpid()) + "-" + stem;
        files_.push_back(path);
        return path;
    }
    void TearDown() override {
        for (const auto& f : files_) std::remove(f.c_str());
    }
    std::vector<std::string> files_;
};

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> out;
    std::stringstream s(text);
    std::string part;
    while (std::getline(s, part, sep)) {
        if (!part.empty()) out.push_back(part);
    }
    return out;
}

TEST_F(FirstRunInterop, ACreatedTapIsAnnouncedWithTheTwoCommandsThatMakeItReachable) {
    const std::string log = temp_file("created.log");
    auto app = env_->exec_background(
        {"sh", "-c", "exec " + app_path("tcpip-echo") + " --tap fresh0 --ip 192.168.77.2/24 2>" + log});
    ASSERT_TRUE(app) << app.error();
    // The line comes before the app's "ready"; wait for it (at most 10 s).
    std::string text;
    for (int i = 0; i < 500 && text.find('\n') == std::string::npos; ++i) {
        ::usleep(20'000);
        text = read_text(log);
    }
    const std::string expected_start =
        "tcpip-echo: created TAP fresh0 (down, no address; it goes away when tcpip-echo exits); to reach "
        "192.168.77.2 from the kernel run: ";
    ASSERT_EQ(text.rfind(expected_start, 0), 0u) << text;
    const std::string commands = text.substr(expected_start.size(), text.find('\n') - expected_start.size());
    EXPECT_EQ(commands, "ip link set dev fresh0 up; ip addr add 192.168.77.1/24 dev fresh0");

    // Nothing reaches the stack yet; after exactly the commands the line gives, ping does.
    EXPECT_FALSE(env_->exec({"ping", "-c", "1", "-W", "1", "192.168.77.2"}).ok());
    for (const std::string& command : split(commands, ';')) {
        CommandResult r = env_->exec(split(command, ' '));
        ASSERT_TRUE(r.ok()) << command << ": " << r.output;
    }
    bool answered = false;
    for (int i = 0; i < 20 && !answered; ++i) answered = env_->exec({"ping", "-c", "1", "-W", "1", "192.168.77.2"}).ok();
    EXPECT_TRUE(answered) << "the stack did not answer after: " << commands;

    app->stop();
    EXPECT_FALSE(env_->exec({"ip", "link", "show", "fresh0"}).ok()) << "the created TAP outlived the app";
}

TEST_F(FirstRunInterop, APersistentTapIsNotAnnounced) {
    auto app = start_echo(*env_, our_ip_);
    ASSERT_TRUE(app) << app.error();
    const std::string out = app->stop().output;
    EXPECT_EQ(out.find("created TAP"), std::string::npos) << out;
    EXPECT_NE(out.find("ready"), std::string::npos) << out;
}

// tshark's view of a capture: frames, the largest, and how many have a checksum not "good" (1).
struct CaptureCheck {
    int frames = 0;
    int not_good = 0;
    int largest = 0;
    std::string output;
};

CaptureCheck tshark_check(const std::string& path) {
    CommandResult r = run_command({"tshark", "-n", "-r", path, "-o", "tcp.check_checksum:TRUE", "-o",
                                   "ip.check_checksum:TRUE", "-Y", "tcp", "-T", "fields", "-e", "frame.len", "-e",
                                   "ip.checksum.status", "-e", "tcp.checksum.status"},
                                  Duration::seconds(60));
    CaptureCheck c;
    c.output = r.output;
    for (const std::string& line : split(r.output, '\n')) {
        const auto fields = split(line, '\t');
        if (fields.size() != 3 || fields[0].find_first_not_of("0123456789") != std::string::npos) continue;
        c.frames++;
        c.largest = std::max(c.largest, std::stoi(fields[0]));
        if (fields[1] != "1" || fields[2] != "1") c.not_good++;
    }
    return c;
}

TEST_F(FirstRunInterop, PcapChecksumsAreCompleteAndSegmentCutsTsoFrames) {
    if (!run_command({"sh", "-c", "command -v tshark"}).ok()) {
        FAIL() << "tshark is not installed (scripts/setup.sh installs it)";
    }
    // 2 MB each way through tcpip-echo: large enough for TSO frames both ways.
    const std::string client =
        "import socket, os, threading\n"
        "data = os.urandom(2000000)\n"
        "s = socket.create_connection(('" + our_ip_ + "', 7), timeout=30)\n"
        "t = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR))); t.start()\n"
        "got = bytearray()\n"
        "while True:\n"
        "    b = s.recv(1 << 16)\n"
        "    if not b: break\n"
        "    got += b\n"
        "t.join(); print('match', bytes(got) == data)\n";
    for (bool segment : {true, false}) {
        SCOPED_TRACE(segment ? "--pcap-segment" : "--pcap alone");
        const std::string pcap = temp_file(segment ? "segment.pcap" : "whole.pcap");
        std::vector<std::string> extra = {"--port", "7", "--pcap", pcap};
        if (segment) extra.push_back("--pcap-segment");
        auto app = start_echo(*env_, our_ip_, extra);
        ASSERT_TRUE(app) << app.error();
        CommandResult r = env_->exec({"python3", "-c", client}, Duration::seconds(60));
        EXPECT_NE(r.output.find("match True"), std::string::npos) << r.output;
        const std::string out = app->stop().output;
        EXPECT_GT(stat_from_output(out, "tap", "tx_large").value_or(0), 0u) << "no TSO frames were sent\n" << out;

        const CaptureCheck c = tshark_check(pcap);
        EXPECT_GT(c.frames, 100) << c.output.substr(0, 2000);
        EXPECT_EQ(c.not_good, 0) << "frames with a bad or unverified IPv4/TCP checksum\n" << c.output.substr(0, 2000);
        if (segment) {
            EXPECT_LE(c.largest, 1514) << "a frame larger than the link carries";
        } else {
            EXPECT_GT(c.largest, 1514) << "the TSO frames should show whole without --pcap-segment";
        }
    }
}

}  // namespace
}  // namespace tcpip::interop
