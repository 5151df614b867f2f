// tcpip::TapRuntime: the stack on a TAP, ready for the socket API, in one call.
// See drivers/tap_runtime.h.
#pragma once
#include "drivers/tap_runtime.h"
