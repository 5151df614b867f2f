// ReadBudget: how many frames a device reads at one wake-up, so that a request/response exchange
// costs no read() that finds nothing.
//
// A TAP gives one frame per read(), and only a read that fails with EAGAIN says the queue is
// empty. Reading "until EAGAIN" at every wake-up therefore costs one empty read() each time. When
// frames come one at a time, as when the peer waits for our answer before it sends again, that is
// one system call in four: wait, read the request, read nothing, write the answer.
//
// Linux's NAPI faces the same choice between polling and waiting for an interrupt: a poll that
// finds less than its budget ends, and the device's interrupt is enabled again. Here the wait
// (epoll or poll on the descriptor) is level-triggered: a frame still queued after we stopped
// reading ends the next wait at once, so stopping early loses nothing but one turn of the loop.
// So: after a wake-up that found exactly one frame, read one frame per wake-up and go back to
// waiting. That is a guess; it is checked every `probe_every`-th time by reading on as before: if
// a second frame is there, frames are queueing, and whole batches are read again.
//
//   wake-ups with one frame each:  wait, read, write              (a probe every 16th: + 1 read)
//   a backlog:                      wait, read x 32, ...           (as before; found by a probe)
#pragma once

#include <cstddef>

namespace tcpip {

class ReadBudget {
public:
    static constexpr unsigned kProbeEvery = 16;

    // The frames to read at this wake-up, at most `max`: 1 while frames come singly (except at a
    // probe), else `max`.
    std::size_t limit(std::size_t max) {
        if (!single_ || max <= 1) return max;
        if (++single_reads_ % kProbeEvery == 0) return max;  // the probe: read on, see if more wait
        return 1;
    }

    // What the wake-up found: `frames` read, and whether a read found the queue empty.
    void done(std::size_t frames, bool found_empty) {
        if (frames >= 2) {
            single_ = false;  // frames queued: batches again
        } else if (frames == 1 && found_empty) {
            single_ = true;  // one frame and then nothing: the next wake-up reads one
            single_reads_ = 0;
        }
    }

    bool single() const { return single_; }

private:
    bool single_ = false;
    unsigned single_reads_ = 0;
};

}  // namespace tcpip
