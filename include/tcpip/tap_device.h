// tcpip::TapDevice: a NetDevice over a Linux TAP (/dev/net/tun), with checksum and TCP
// segmentation offload. See drivers/tap_device.h.
#pragma once
#include "drivers/tap_device.h"
