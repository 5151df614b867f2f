// The free functions: each finds the descriptor's Runtime and forwards (socket.h).
#include "stack/socket/socket.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <utility>

namespace tcpip {

namespace {

// Not one of ours: ENOTSOCK for a descriptor the kernel has, EBADF for a number it does not.
int not_ours(int fd) {
    errno = (fd >= 0 && ::fcntl(fd, F_GETFD) >= 0) ? ENOTSOCK : EBADF;
    return -1;
}

}  // namespace

int socket(int domain, int type, int protocol) {
    Runtime* runtime = Runtime::get_default();
    if (runtime == nullptr) {
        errno = EAFNOSUPPORT;  // no stack in this process: the family is not available
        return -1;
    }
    return runtime->socket(domain, type, protocol);
}

// A call that only makes sense on a socket: to the descriptor's runtime, or ENOTSOCK / EBADF.
template <auto Method, class... Args>
auto forward(int fd, Args... args) -> decltype((std::declval<Runtime&>().*Method)(fd, args...)) {
    Runtime* runtime = Runtime::owner(fd);
    if (runtime == nullptr) return not_ours(fd);
    return (runtime->*Method)(fd, args...);
}

int bind(int fd, const sockaddr* addr, socklen_t len) { return forward<&Runtime::bind>(fd, addr, len); }
int connect(int fd, const sockaddr* addr, socklen_t len) { return forward<&Runtime::connect>(fd, addr, len); }
int listen(int fd, int backlog) { return forward<&Runtime::listen>(fd, backlog); }
int accept(int fd, sockaddr* addr, socklen_t* len) { return forward<&Runtime::accept>(fd, addr, len); }
ssize_t send(int fd, const void* buf, std::size_t len, int flags) { return forward<&Runtime::send>(fd, buf, len, flags); }
ssize_t sendto(int fd, const void* buf, std::size_t len, int flags, const sockaddr* addr, socklen_t addrlen) {
    return forward<&Runtime::sendto>(fd, buf, len, flags, addr, addrlen);
}
ssize_t recv(int fd, void* buf, std::size_t len, int flags) { return forward<&Runtime::recv>(fd, buf, len, flags); }
ssize_t recvfrom(int fd, void* buf, std::size_t len, int flags, sockaddr* addr, socklen_t* addrlen) {
    return forward<&Runtime::recvfrom>(fd, buf, len, flags, addr, addrlen);
}
int shutdown(int fd, int how) { return forward<&Runtime::shutdown>(fd, how); }
int getsockname(int fd, sockaddr* addr, socklen_t* len) { return forward<&Runtime::getsockname>(fd, addr, len); }
int getpeername(int fd, sockaddr* addr, socklen_t* len) { return forward<&Runtime::getpeername>(fd, addr, len); }
int setsockopt(int fd, int level, int name, const void* value, socklen_t len) {
    return forward<&Runtime::setsockopt>(fd, level, name, value, len);
}
int getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
    return forward<&Runtime::getsockopt>(fd, level, name, value, len);
}


// close, fcntl and poll work on any descriptor: a kernel one goes to the kernel.
int close(int fd) {
    if (Runtime* runtime = Runtime::owner(fd)) return runtime->close(fd);
    if (Runtime::is_epoll(fd)) return Runtime::close_epoll(fd);
    return ::close(fd);
}

int fcntl(int fd, int cmd, ...) {
    // As glibc's own fcntl: the optional argument is read as a pointer-sized word, whether the
    // command takes an int (F_SETFL) or a pointer (F_SETLK).
    va_list ap;
    va_start(ap, cmd);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    if (Runtime* runtime = Runtime::owner(fd)) return runtime->fcntl(fd, cmd, reinterpret_cast<long>(arg));
    return ::fcntl(fd, cmd, arg);
}

int poll(pollfd* fds, nfds_t nfds, int timeout_ms) { return Runtime::poll(fds, nfds, timeout_ms); }
int select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds, timeval* timeout) {
    return Runtime::select(nfds, readfds, writefds, exceptfds, timeout);
}
int epoll_create1(int flags) { return Runtime::epoll_create1(flags); }
int epoll_ctl(int epfd, int op, int fd, epoll_event* event) { return Runtime::epoll_ctl(epfd, op, fd, event); }
int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout_ms) {
    return Runtime::epoll_wait(epfd, events, maxevents, timeout_ms);
}

}  // namespace tcpip
