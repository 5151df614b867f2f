// rr-sim: 1-byte request/response between two Runtimes over a MemoryLink, in virtual time and in
// one thread: the stack's whole path for a transaction (socket calls, TCP, IPv4, ARP, Ethernet,
// the device) and nothing of the kernel's. Under cachegrind its instruction count is exact and
// repeatable, unlike a wall-clock figure on a shared machine: bench/rr_instructions.sh runs it
// against two source trees to measure what a change costs per transaction.
//
//   rr-sim N      N transactions after the handshake; prints "transactions=N", exit 0 when all ran
//
// It uses only the socket API of stack/socket/runtime.h (and MemoryLink, ManualClock), so the same
// source builds against an older tree for a baseline.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstdio>
#include <cstdlib>

#include "drivers/memory_link.h"
#include "stack/core/clock.h"
#include "stack/socket/runtime.h"

using namespace tcpip;

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 1000;
    MemoryLink link(MacAddress({2, 0, 0, 0, 0, 1}), MacAddress({2, 0, 0, 0, 0, 2}));
    ManualClock clock;
    Runtime client(link.a(), {Ipv4Cidr{Ipv4Address(10, 0, 0, 1), 24}, std::nullopt}, {}, 1, clock);
    Runtime server(link.b(), {Ipv4Cidr{Ipv4Address(10, 0, 0, 2), 24}, std::nullopt}, {}, 2, clock);
    // Both stacks, a few rounds, 10 us of virtual time each: every frame in flight is delivered.
    auto run = [&] {
        for (int i = 0; i < 3; ++i) {
            clock.advance(Duration::micros(10));
            client.poll();
            server.poll();
        }
    };
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(7);
    at.sin_addr.s_addr = htonl(0x0a000002);
    const int listener = server.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    server.bind(listener, reinterpret_cast<sockaddr*>(&at), sizeof at);
    server.listen(listener, 8);
    const int c = client.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    client.connect(c, reinterpret_cast<sockaddr*>(&at), sizeof at);
    run();
    run();
    const int s = server.accept(listener, nullptr, nullptr);
    if (s < 0) {
        std::puts("rr-sim: the connection was not accepted");
        return 1;
    }
    server.fcntl(s, F_SETFL, O_NONBLOCK);
    const int one = 1;
    client.setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    server.setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char byte = 'x';
    long done = 0;
    for (; done < n; ++done) {
        if (client.send(c, &byte, 1, 0) != 1) break;
        run();
        if (server.recv(s, &byte, 1, 0) != 1 || server.send(s, &byte, 1, 0) != 1) break;
        run();
        if (client.recv(c, &byte, 1, 0) != 1) break;
    }
    std::printf("transactions=%ld\n", done);
    return done == n ? 0 : 1;
}
