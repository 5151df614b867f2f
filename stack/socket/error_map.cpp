#include "stack/socket/error_map.h"

#include <cerrno>

namespace tcpip {

int to_errno(SocketError error) {
    switch (error) {
        case SocketError::BadDescriptor: return EBADF;
        case SocketError::InvalidArgument: return EINVAL;
        case SocketError::AddressFamily: return EAFNOSUPPORT;
        case SocketError::ProtocolNotSupported: return EPROTONOSUPPORT;
        case SocketError::AddressInUse: return EADDRINUSE;
        case SocketError::AddressNotAvailable: return EADDRNOTAVAIL;
        case SocketError::DestinationRequired: return EDESTADDRREQ;
        case SocketError::NotConnected: return ENOTCONN;
        case SocketError::AlreadyConnected: return EISCONN;
        case SocketError::MessageTooBig: return EMSGSIZE;
        case SocketError::AccessDenied: return EACCES;
        case SocketError::WouldBlock: return EAGAIN;
        case SocketError::InProgress: return EINPROGRESS;
        case SocketError::AlreadyInProgress: return EALREADY;
        case SocketError::ConnectionRefused: return ECONNREFUSED;
        case SocketError::ConnectionReset: return ECONNRESET;
        case SocketError::ConnectionAborted: return ECONNABORTED;
        case SocketError::TimedOut: return ETIMEDOUT;
        case SocketError::HostUnreachable: return EHOSTUNREACH;
        case SocketError::NetworkUnreachable: return ENETUNREACH;
        case SocketError::NoBuffers: return ENOBUFS;
        case SocketError::NotSupported: return EOPNOTSUPP;
        case SocketError::ProtocolOption: return ENOPROTOOPT;
        case SocketError::BrokenPipe: return EPIPE;
        case SocketError::Interrupted: return EINTR;
        case SocketError::TooManyOpen: return EMFILE;
    }
    return EINVAL;
}

}  // namespace tcpip
