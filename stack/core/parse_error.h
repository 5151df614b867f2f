// Why a received packet could not be parsed. Every header view returns one of these, and each
// layer counts it under its own statistics, so a dropped frame always has a visible reason.
#pragma once

namespace tcpip {

enum class ParseError {
    Truncated,        // fewer bytes than the header (or a length field) says there are
    BadVersion,       // IPv4 version field is not 4
    BadHeaderLength,  // IPv4 IHL below 5, or TCP data offset below 5, or past the bytes available
    BadTotalLength,   // IPv4 total length smaller than its header, or larger than the frame
    BadLength,        // any other length field that disagrees with the bytes (UDP length, ARP sizes)
    BadChecksum,      // checksum verification failed
    BadOption,        // an option whose length is 0, 1, or runs past the header
    Unsupported,      // well-formed but not something we speak (e.g. ARP for a non-Ethernet link)
};

constexpr const char* to_string(ParseError error) {
    switch (error) {
        case ParseError::Truncated: return "truncated";
        case ParseError::BadVersion: return "bad version";
        case ParseError::BadHeaderLength: return "bad header length";
        case ParseError::BadTotalLength: return "bad total length";
        case ParseError::BadLength: return "bad length";
        case ParseError::BadChecksum: return "bad checksum";
        case ParseError::BadOption: return "bad option";
        case ParseError::Unsupported: return "unsupported";
    }
    return "unknown";
}

}  // namespace tcpip
