// tcpip::StackConfig: every tunable of the stack in one struct, with Linux's defaults.
// See stack/core/config.h.
#pragma once
#include "stack/core/config.h"
