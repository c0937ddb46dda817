// Exit guard: `pd quit` ends in exit(), which runs the atexit handlers and static
// destructors of every library, newest first: those of libraries that scripts imported
// (torch, numpy, pybind11 modules) while worker threads may still be running Python, and
// some of them take the GIL. Either can crash or hang the exit. Pd itself needs none of
// them, so the guard, registered after every import (and again, at most once a second,
// after handlers ran), prints the console lines still queued, flushes stdio and ends the
// process at once with exit()'s status.
#include "pyext.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

void outqueue_flush_posts();  // outqueue.cpp

static std::atomic<int> g_armed{0};
static std::atomic<long long> g_last_arm_ms{0};

static void exit_guard(int status, void*) {
    outqueue_flush_posts();
    fflush(nullptr);
    _exit(status);
}

void exit_guard_arm(bool force) {
    long long now = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now().time_since_epoch()).count();
    if (!force && now - g_last_arm_ms.load(std::memory_order_relaxed) < 1000) return;
    if (g_armed.fetch_add(1) >= 1024) return;
    g_last_arm_ms.store(now, std::memory_order_relaxed);
    on_exit(exit_guard, nullptr);
}
