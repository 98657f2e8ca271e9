// Preloaded into the Swift servers that compare.sh runs under callgrind. Swift's async main on
// Linux parks the main thread in libdispatch, which calls sigsuspend() with a signal mask held in
// read-only memory; valgrind 3.19 edits the mask it is given in place and dies of the write
// ("Valgrind received a signal 11"). Handing it a copy on the stack avoids that; the call is
// otherwise unchanged.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>

int sigsuspend(const sigset_t *mask) {
    static int (*real)(const sigset_t *);
    if (!real) real = (int (*)(const sigset_t *))dlsym(RTLD_NEXT, "sigsuspend");
    sigset_t copy = *mask;
    return real(&copy);
}
