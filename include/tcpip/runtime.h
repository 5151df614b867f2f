// tcpip::Runtime: a Stack on a NetDevice, usable from any thread through the socket API.
// See stack/socket/runtime.h.
#pragma once
#include "stack/socket/runtime.h"
