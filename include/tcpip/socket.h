// The socket API: tcpip::socket, bind, listen, accept, connect, send, recv, sendto, recvfrom,
// shutdown, close, setsockopt, getsockopt, poll, with POSIX's names, types and errno values.
// See stack/socket/socket.h.
#pragma once
#include "stack/socket/socket.h"
