// alloc_count.so: counts a program's heap allocations, for bench/e2e.sh's allocs_per_txn row.
//
//   ALLOC_COUNT_FILE=/tmp/counts LD_PRELOAD=build-release/bench/alloc_count.so PROGRAM ...
//   kill -USR2 PID      appends the counts so far to the file; so does the program's exit
//
// Each report is one line of key=value pairs:
//   reason=signal malloc=120 calloc=3 realloc=1 memalign=0 free=90 new=100 allocs=124
// where allocs = malloc + calloc + realloc + memalign (every call that may take memory from the
// heap; posix_memalign and aligned_alloc count as memalign), and new = the calls of C++'s
// operator new (new[] included), which libstdc++ serves with malloc, so they are in allocs already:
// new says how many of them C++ containers and std::function made. The counters only ever grow;
// the benchmark takes the difference of two reports around a run.
//
// How: the functions below are found before libc's (LD_PRELOAD), count, and call the next
// definition, found once with dlsym(RTLD_NEXT). dlsym itself may allocate before it has found
// anything to call: those few early requests are served from a small static arena (never freed).
// Counting uses relaxed atomics (a counter, not a synchronization); the report is made with
// open/write only, so it is safe in a signal handler.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void* (*next_malloc)(size_t);
static void* (*next_calloc)(size_t, size_t);
static void* (*next_realloc)(void*, size_t);
static void (*next_free)(void*);
static void* (*next_memalign)(size_t, size_t);
static int (*next_posix_memalign)(void**, size_t, size_t);
static void* (*next_aligned_alloc)(size_t, size_t);
static void* (*next_new)(size_t);

enum { kMalloc, kCalloc, kRealloc, kMemalign, kFree, kNew, kCounters };
static const char* const kNames[kCounters] = {"malloc", "calloc", "realloc", "memalign", "free", "new"};
static unsigned long long counters[kCounters];

static void count(int which) { __atomic_fetch_add(&counters[which], 1, __ATOMIC_RELAXED); }

// The arena for what dlsym asks for before the real functions are known.
static _Alignas(16) char arena[16384];
static size_t arena_used;
static int in_arena(const void* p) { return (const char*)p >= arena && (const char*)p < arena + sizeof arena; }
static void* arena_alloc(size_t n) {
    const size_t at = __atomic_fetch_add(&arena_used, (n + 15) & ~(size_t)15, __ATOMIC_RELAXED);
    if (at + n > sizeof arena) return NULL;
    return arena + at;
}

// dlsym gives an object pointer; ISO C has no cast from it to a function pointer, so copy the bits.
#define FIND(fn, name)                          \
    do {                                        \
        void* found = dlsym(RTLD_NEXT, name);   \
        memcpy(&(fn), &found, sizeof(fn));      \
    } while (0)

static volatile int resolving;  // volatile: malloc, called from inside dlsym, must see it set
static void resolve(void) {
    if (next_malloc != NULL || resolving) return;
    resolving = 1;
    FIND(next_calloc, "calloc");
    FIND(next_realloc, "realloc");
    FIND(next_free, "free");
    FIND(next_memalign, "memalign");
    FIND(next_posix_memalign, "posix_memalign");
    FIND(next_aligned_alloc, "aligned_alloc");
    FIND(next_new, "_Znwm");
    FIND(next_malloc, "malloc");  // last: it says "resolved"
    resolving = 0;
}

void* malloc(size_t n) {
    resolve();
    if (next_malloc == NULL) return arena_alloc(n);
    count(kMalloc);
    return next_malloc(n);
}

void* calloc(size_t k, size_t n) {
    resolve();
    if (next_calloc == NULL || next_malloc == NULL) return arena_alloc(k * n);  // static: zeroed
    count(kCalloc);
    return next_calloc(k, n);
}

void* realloc(void* p, size_t n) {
    resolve();
    if (in_arena(p)) {  // rare: grow an arena block into a real one
        void* q = malloc(n);
        if (q != NULL) memcpy(q, p, n < sizeof arena - (size_t)((char*)p - arena) ? n : sizeof arena - (size_t)((char*)p - arena));
        return q;
    }
    count(kRealloc);
    return next_realloc(p, n);
}

void free(void* p) {
    if (p == NULL || in_arena(p)) return;
    resolve();
    count(kFree);
    next_free(p);
}

void* memalign(size_t alignment, size_t n) {
    resolve();
    count(kMemalign);
    return next_memalign(alignment, n);
}

int posix_memalign(void** out, size_t alignment, size_t n) {
    resolve();
    count(kMemalign);
    return next_posix_memalign(out, alignment, n);
}

void* aligned_alloc(size_t alignment, size_t n) {
    resolve();
    count(kMemalign);
    return next_aligned_alloc(alignment, n);
}

// operator new(size_t): counted, then libstdc++'s own (which calls malloc above, and throws
// std::bad_alloc on failure: this file is built with -fexceptions so the exception passes
// through). operator new[] is libstdc++'s, which calls this one: counted here once.
void* _Znwm(size_t n) {
    resolve();
    count(kNew);
    return next_new(n);
}

// ---- Reports ----

static char* put_text(char* at, const char* text) {
    while (*text) *at++ = *text++;
    return at;
}

static char* put_number(char* at, unsigned long long v) {
    char digits[24];
    int n = 0;
    do digits[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    while (n > 0) *at++ = digits[--n];
    return at;
}

static char report_path[4096];  // ALLOC_COUNT_FILE, read once at start (no getenv in a handler)

static void report(const char* reason) {
    const char* path = report_path;
    if (*path == '\0') return;
    char line[512];
    char* at = put_text(line, "reason=");
    at = put_text(at, reason);
    unsigned long long allocs = 0;
    for (int i = 0; i < kCounters; ++i) {
        const unsigned long long v = __atomic_load_n(&counters[i], __ATOMIC_RELAXED);
        if (i == kMalloc || i == kCalloc || i == kRealloc || i == kMemalign) allocs += v;
        at = put_text(at, " ");
        at = put_text(at, kNames[i]);
        at = put_text(at, "=");
        at = put_number(at, v);
    }
    at = put_text(at, " allocs=");
    at = put_number(at, allocs);
    *at++ = '\n';
    const int saved = errno;
    const int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t r = write(fd, line, (size_t)(at - line));
        (void)r;
        close(fd);
    }
    errno = saved;
}

static void on_signal(int signo) {
    (void)signo;
    report("signal");
}

__attribute__((constructor)) static void start(void) {
    resolve();
    const char* path = getenv("ALLOC_COUNT_FILE");
    if (path != NULL && strlen(path) < sizeof report_path) strcpy(report_path, path);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR2, &action, NULL);
}

__attribute__((destructor)) static void stop(void) { report("exit"); }
