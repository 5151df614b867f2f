// The BSD-like socket API: the POSIX names in namespace tcpip, with the system's types
// (struct sockaddr_in, socklen_t, struct pollfd), flags (MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC,
// O_NONBLOCK) and return conventions (-1 and errno, set as Linux sets it). An application written
// against these names builds against the kernel's sockets by changing the namespace: see
// tests/unit/socket/portable_udp.h.
//
//     tcpip::Runtime::set_default(&runtime);               // runtime.h
//     int fd = tcpip::socket(AF_INET, SOCK_DGRAM, 0);
//     sockaddr_in to{.sin_family = AF_INET, .sin_port = htons(7), .sin_addr = {htonl(0x0a000001)}};
//     tcpip::sendto(fd, "hi", 2, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
//
// socket() creates in the default Runtime; every other call finds the descriptor's Runtime in the
// registry (runtime.h). A descriptor that is not ours gets ENOTSOCK if the kernel knows the number
// and EBADF if not, as Linux answers a socket call on a file or a closed number - except close,
// fcntl, poll, select and the epoll calls, which work on any descriptor, so they pass kernel
// descriptors to the kernel.
//
// Supported: AF_INET with SOCK_DGRAM (UDP) and SOCK_STREAM (TCP); listen and accept on a
// datagram socket fail with EOPNOTSUPP, as on Linux. For TCP (runtime_tcp.cpp has the details):
//   connect    blocking (until established or failed: ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH; with
//              SO_SNDTIMEO, EINPROGRESS when it passes) or non-blocking (EINPROGRESS, then POLLOUT
//              and SO_ERROR; a second call says EALREADY while in progress, 0 once when done,
//              then EISCONN); AF_UNSPEC aborts the connection
//   accept     blocking (SO_RCVTIMEO bounds it) or EAGAIN; the new descriptor inherits the
//              listener's timeouts, SO_LINGER and TCP options, not O_NONBLOCK
//   send       until everything is queued; non-blocking/MSG_DONTWAIT/SO_SNDTIMEO: partial or EAGAIN;
//              EPIPE when not connected or after SHUT_WR. No SIGPIPE is ever raised (MSG_NOSIGNAL
//              is accepted and changes nothing)
//   recv       MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL; 0 at end of stream; ECONNRESET after a RST
//   shutdown   SHUT_RD / SHUT_WR / SHUT_RDWR; on a listener SHUT_RD stops it (blocked accept: EINVAL)
//   close      graceful (FIN); RST with unread data or SO_LINGER {1, 0}; SO_LINGER {1, t} waits
//              up to t for the data and FIN to be acknowledged
//   poll       POLLIN, POLLOUT, POLLHUP, POLLRDHUP, POLLERR as Linux's tcp_poll sets them
//   select     over poll, with Linux's mapping of the bits (readable: POLLIN, POLLHUP, POLLERR)
//   epoll      level- and edge-triggered, EPOLLONESHOT, EPOLLRDHUP, EPOLLEXCLUSIVE; the instance is
//              a kernel epoll descriptor, where kernel descriptors are watched by the kernel; our
//              sockets are kept on a ready list, so a wait costs O(ready), not O(watched)
//   options    SO_REUSEADDR, SO_KEEPALIVE, SO_RCVBUF/SO_SNDBUF (Linux's doubling), SO_LINGER,
//              SO_RCVTIMEO/SO_SNDTIMEO, SO_ERROR, SO_TYPE, SO_ACCEPTCONN; TCP_NODELAY, TCP_MAXSEG,
//              TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_INFO (struct tcp_info, Linux units)
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>

#include "stack/socket/runtime.h"

namespace tcpip {

int socket(int domain, int type, int protocol);
int bind(int fd, const struct sockaddr* addr, socklen_t len);
int connect(int fd, const struct sockaddr* addr, socklen_t len);
int listen(int fd, int backlog);
int accept(int fd, struct sockaddr* addr, socklen_t* len);
ssize_t send(int fd, const void* buf, std::size_t len, int flags);
ssize_t sendto(int fd, const void* buf, std::size_t len, int flags, const struct sockaddr* addr, socklen_t addrlen);
ssize_t recv(int fd, void* buf, std::size_t len, int flags);
ssize_t recvfrom(int fd, void* buf, std::size_t len, int flags, struct sockaddr* addr, socklen_t* addrlen);
int shutdown(int fd, int how);
int close(int fd);
int getsockname(int fd, struct sockaddr* addr, socklen_t* len);
int getpeername(int fd, struct sockaddr* addr, socklen_t* len);
int setsockopt(int fd, int level, int name, const void* value, socklen_t len);
int getsockopt(int fd, int level, int name, void* value, socklen_t* len);
int fcntl(int fd, int cmd, ...);
int poll(struct pollfd* fds, nfds_t nfds, int timeout_ms);
int select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds, struct timeval* timeout);
int epoll_create1(int flags);
int epoll_ctl(int epfd, int op, int fd, struct epoll_event* event);
int epoll_wait(int epfd, struct epoll_event* events, int maxevents, int timeout_ms);

}  // namespace tcpip
