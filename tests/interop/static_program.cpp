// A statically linked program (no ELF interpreter): tcpip-run must refuse it, since nothing would
// load its shim (interop/run). It only says hello, in case it runs after all.
#include <unistd.h>

int main() {
    const char text[] = "a static program ran\n";
    return ::write(1, text, sizeof text - 1) < 0 ? 1 : 0;
}
