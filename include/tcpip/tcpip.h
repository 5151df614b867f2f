// Everything an application embedding the stack uses: the socket API, the Runtime, the TAP
// device, the configuration, and TapRuntime, which puts them together in one call:
//
//     auto stack = tcpip::TapRuntime::start("tap0", "10.0.0.2/24");
//     int fd = tcpip::socket(AF_INET, SOCK_STREAM, 0);
//
// Build with -std=c++20 and `pkg-config --cflags --libs tcpip` (docs/embedding.md).
#pragma once
#include "tcpip/config.h"
#include "tcpip/runtime.h"
#include "tcpip/socket.h"
#include "tcpip/tap_device.h"
#include "tcpip/tap_runtime.h"
