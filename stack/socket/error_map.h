// The one place where the transport layers' SocketError becomes an errno value.
#pragma once

#include "stack/core/socket_error.h"

namespace tcpip {

// The errno Linux gives for the same situation (see socket_error.h, error by error).
int to_errno(SocketError error);

}  // namespace tcpip
