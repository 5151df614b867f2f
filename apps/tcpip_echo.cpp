// tcpip-echo: runs the stack on a TAP and serves the echo service at every layer it knows.
//
//   ARP         answers who-has for our address
//   ICMP        echo reply to every echo request (ping), at any size, fragmented or not
//   UDP, TCP    echo on --port (RFC 862) arrive with their layers
//
// Prints one line when ready, runs until SIGINT or SIGTERM, then prints the stack's statistics.
#include <iostream>

#include "apps/app_common.h"

int main(int argc, char** argv) {
    using namespace tcpip;
    long long port = 7;
    app::Args args("tcpip-echo", "[--port N] [shared options]\n\nServes ARP and ICMP echo (ping) on the TAP.\n"
                                 "  --port N            echo port for UDP and TCP (default 7)\n");
    args.add_option({"--port", "-p"}, [&](std::string_view v) { return app::parse_int(v, 1, 65535, port); });
    app::CommonOptions options = args.parse(argc, argv);

    app::Host host("tcpip-echo", options);
    host.stop_on_signals();
    std::cout << "tcpip-echo: ready on " << options.tap << ", " << options.ip << " (" << options.mac
              << "), answering ARP and ICMP echo" << std::endl;

    host.loop().run();

    std::cout << "tcpip-echo: stopping; statistics:\n";
    host.stack().print_stats(std::cout);
    return 0;
}
