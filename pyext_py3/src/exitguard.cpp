// Exit guard: `pd quit` calls exit() while worker threads may still run Python. exit()
// runs the static destructors of libraries loaded after us (torch, numpy, ...) in reverse
// order of loading; Python code running during them could crash. Before those destructors
// run, a guard takes the GIL for good (waiting at most 200 ms), so Python threads stop at
// their next eval-loop check. Guards are registered with atexit after imports and detached
// calls, so one of them runs before the destructors of anything loaded so far.
#include "pyext.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

void outqueue_flush_posts();  // outqueue.cpp

static std::atomic<bool> g_exiting{false};
static std::atomic<int> g_armed{0};
static std::atomic<long long> g_last_arm_ms{0};

static void exit_guard() {
    if (g_exiting.exchange(true)) return;
    outqueue_flush_posts();
    if (!Py_IsInitialized()) return;
    auto* held = new std::atomic<bool>(false);
    std::thread([held] {
        PyGILState_Ensure();  // never released: the process is ending
        held->store(true);
        for (;;) pause();
    }).detach();
    for (int i = 0; i < 200 && !held->load(); i++) usleep(1000);
}

void exit_guard_arm(bool force) {
    long long now = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now().time_since_epoch()).count();
    if (!force && now - g_last_arm_ms.load() < 1000) return;
    if (g_armed.fetch_add(1) >= 256) return;
    g_last_arm_ms.store(now);
    atexit(exit_guard);
}
