// A TCP echo server on the user-space stack, built outside this tree against the installed
// library (tcpip.pc), as any program that embeds the stack would be:
//
//     c++ -std=c++20 echo_server.cpp $(pkg-config --cflags --libs tcpip) -o echo_server
//     sudo ./echo_server --tap tap0 --ip 10.0.0.2/24 --port 7
//
// Everything it knows of the stack is <tcpip/tcpip.h>: TapRuntime::start puts the stack on the
// TAP in one call, and the rest is the socket calls every network programmer knows, in namespace
// tcpip. With --once it serves one connection and exits (scripts/install_check.sh uses that).
#include <tcpip/tcpip.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
    std::string tap = "tap0", ip = "10.0.0.2/24";
    int port = 7;
    bool once = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--tap" && has_value) tap = argv[++i];
        else if (arg == "--ip" && has_value) ip = argv[++i];
        else if (arg == "--port" && has_value) port = std::atoi(argv[++i]);
        else if (arg == "--once") once = true;
        else {
            const bool help = arg == "--help" || arg == "-h";
            std::fprintf(help ? stdout : stderr, "usage: echo_server [--tap NAME] [--ip ADDR/PREFIX] [--port N] [--once]\n");
            return help ? 0 : 2;
        }
    }

    // The stack on the TAP, running on its own thread, the default for tcpip::socket().
    auto stack = tcpip::TapRuntime::start(tap, ip);
    if (!stack) {
        std::fprintf(stderr, "echo_server: %s\n", stack.error().c_str());
        return 1;
    }

    int listener = tcpip::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (tcpip::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || tcpip::listen(listener, 16) != 0) {
        std::fprintf(stderr, "echo_server: port %d: %s\n", port, std::strerror(errno));
        return 1;
    }
    std::printf("echo_server: listening on %s port %d\n", ip.c_str(), port);
    std::fflush(stdout);

    do {
        int connection = tcpip::accept(listener, nullptr, nullptr);
        if (connection < 0) break;
        char buffer[16384];
        ssize_t n;
        while ((n = tcpip::recv(connection, buffer, sizeof buffer, 0)) > 0) {
            if (tcpip::send(connection, buffer, static_cast<std::size_t>(n), 0) != n) break;
        }
        // The stack lives in this process: once main returns, nothing sends what is still queued.
        // SO_LINGER makes close() wait (up to 10 s) until our data and FIN are acknowledged.
        const linger wait_for_ack{.l_onoff = 1, .l_linger = 10};
        tcpip::setsockopt(connection, SOL_SOCKET, SO_LINGER, &wait_for_ack, sizeof wait_for_ack);
        tcpip::close(connection);
    } while (!once);
    tcpip::close(listener);
    return 0;
}
