// UniqueFd: sole owner of a POSIX file descriptor, closed exactly once when the owner goes away.
//
// Move-only, like std::unique_ptr: a TapDevice, a PcapWriter or a test fixture holds its fd in one
// of these, so no error path can leak a descriptor, and a moved-from object holds -1 and closes
// nothing. close(2) errors are ignored on purpose: after close() the descriptor is gone whatever
// it returns (see close(2), "Dealing with error returns from close()"), and retrying is a bug.
#pragma once

#include <unistd.h>

#include <utility>

namespace tcpip {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    explicit operator bool() const { return valid(); }

    // Gives up ownership without closing: the caller now owns the returned descriptor.
    [[nodiscard]] int release() { return std::exchange(fd_, -1); }

    // Closes the current descriptor (if any) and takes ownership of `fd`.
    void reset(int fd = -1) {
        int old = std::exchange(fd_, fd);
        if (old >= 0 && old != fd) ::close(old);
    }

private:
    int fd_ = -1;
};

}  // namespace tcpip
