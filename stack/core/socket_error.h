// Why a socket operation failed, in the transport layers' own words. The BSD facade
// (stack/socket/) maps each to the errno Linux gives for the same situation; the layers below
// never touch errno.
#pragma once

namespace tcpip {

enum class SocketError {
    BadDescriptor,          // EBADF: not a socket of ours
    InvalidArgument,        // EINVAL: e.g. binding a socket twice, a bad address length
    AddressFamily,          // EAFNOSUPPORT: not AF_INET
    ProtocolNotSupported,   // EPROTONOSUPPORT / ESOCKTNOSUPPORT
    AddressInUse,           // EADDRINUSE
    AddressNotAvailable,    // EADDRNOTAVAIL: not one of our addresses, or no ephemeral port left
    DestinationRequired,    // EDESTADDRREQ: send on an unconnected socket without an address
    NotConnected,           // ENOTCONN
    AlreadyConnected,       // EISCONN
    MessageTooBig,          // EMSGSIZE
    AccessDenied,           // EACCES: broadcast without SO_BROADCAST
    WouldBlock,             // EAGAIN / EWOULDBLOCK
    InProgress,             // EINPROGRESS
    AlreadyInProgress,      // EALREADY
    ConnectionRefused,      // ECONNREFUSED
    ConnectionReset,        // ECONNRESET
    ConnectionAborted,      // ECONNABORTED
    TimedOut,               // ETIMEDOUT
    HostUnreachable,        // EHOSTUNREACH
    NetworkUnreachable,     // ENETUNREACH
    NoBuffers,              // ENOBUFS
    NotSupported,           // EOPNOTSUPP
    ProtocolOption,         // ENOPROTOOPT: unknown socket option
    BrokenPipe,             // EPIPE: send after shutdown(SHUT_WR) or on a reset connection
    Interrupted,            // EINTR
    TooManyOpen,            // EMFILE
};

}  // namespace tcpip
