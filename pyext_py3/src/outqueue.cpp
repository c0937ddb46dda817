// Outbound queue: outlet messages, sends, console lines and array operations made on any
// thread other than Pd's are queued here (one FIFO, so every thread's order is kept) and
// delivered on Pd's thread by a clock that polls every millisecond of logical time.
// The mutex is held only to push or to swap the queue out; never with the GIL held
// while waiting for Pd, and never while delivering.
#include "pyext.hpp"

namespace {

struct OutItem {
    enum Kind { OUTLET, SEND, POST, CALL } kind;
    HostPtr host;
    int outlet = 0;
    std::string text;  // receiver (SEND) or line (POST)
    int level = 0;
    OutMsg msg;
    std::function<void()> fn;
};

struct Queue {
    std::mutex m;
    std::deque<OutItem> items;
    std::atomic<bool> pending{false};
    t_clock* clock = nullptr;
};

Queue* g_q = nullptr;  // heap, never destroyed: no static destructor runs at exit
t_class* g_owner_class = nullptr;
t_pd* g_owner = nullptr;

void push(OutItem&& it) {
    std::lock_guard<std::mutex> lk(g_q->m);
    g_q->items.push_back(std::move(it));
    g_q->pending.store(true, std::memory_order_release);
}

void deliver(OutItem& it) {
    switch (it.kind) {
    case OutItem::OUTLET: {
        Host* h = it.host.get();
        if (!h->alive.load() || !h->outlets_ready) return;  // object gone: drop
        t_outlet* o = it.outlet < 0 ? h->attr_outlet
                      : it.outlet < (int)h->outlets.size() ? h->outlets[it.outlet] : nullptr;
        if (o) msg_to_outlet(o, it.msg);
        break;
    }
    case OutItem::SEND:
        msg_to_receiver(it.text, it.msg);
        break;
    case OutItem::POST:
        if (it.level > 0)
            pd_error(nullptr, "%s", it.text.c_str());
        else
            post("%s", it.text.c_str());
        break;
    case OutItem::CALL:
        it.fn();
        break;
    }
}

}  // namespace

// At exit (pd quit), print the console lines still queued, so no traceback is lost.
void outqueue_flush_posts() {
    if (!g_q->m.try_lock()) return;
    std::deque<OutItem> batch;
    batch.swap(g_q->items);
    g_q->m.unlock();
    for (OutItem& it : batch)
        if (it.kind == OutItem::POST) deliver(it);
}

namespace {

void tick(void*) {
    note_pd_thread();
    pyobjref_tick();
    outqueue_drain();
    clock_delay(g_q->clock, 1.0);
}

}  // namespace

void outqueue_init() {
    g_q = new Queue();
    g_owner_class = class_new(gensym("pyext-outqueue"), nullptr, nullptr, sizeof(t_pd),
                              CLASS_PD, A_NULL);
    g_owner = (t_pd*)pd_new(g_owner_class);
    g_q->clock = clock_new(g_owner, (t_method)tick);
    clock_delay(g_q->clock, 0.0);
    exit_guard_arm(true);
}

// One batch per call: what was queued until now. Items queued meanwhile wait for the
// next tick, so a thread that floods the queue cannot hold Pd's thread here.
void outqueue_drain() {
    if (!g_q->pending.load(std::memory_order_acquire)) return;
    std::deque<OutItem> batch;
    {
        std::lock_guard<std::mutex> lk(g_q->m);
        batch.swap(g_q->items);
        g_q->pending.store(false, std::memory_order_release);
    }
    for (OutItem& it : batch) deliver(it);
}

void out_outlet(const HostPtr& host, int outlet, OutMsg&& m) {
    OutItem it{OutItem::OUTLET};
    it.host = host;
    it.outlet = outlet;
    it.msg = std::move(m);
    push(std::move(it));
}

void out_send(std::string&& receiver, OutMsg&& m) {
    OutItem it{OutItem::SEND};
    it.text = std::move(receiver);
    it.msg = std::move(m);
    push(std::move(it));
}

void out_post(std::string&& text, int level) {
    OutItem it{OutItem::POST};
    it.text = std::move(text);
    it.level = level;
    push(std::move(it));
}

void defer_on_pd(std::function<void()> fn) {
    OutItem it{OutItem::CALL};
    it.fn = std::move(fn);
    push(std::move(it));
}

void run_on_pd(std::function<void()> fn, bool wait) {
    if (on_pd_thread_raw()) {
        fn();
        return;
    }
    if (!wait) {
        OutItem it{OutItem::CALL};
        it.fn = std::move(fn);
        push(std::move(it));
        return;
    }
    struct Done {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
    };
    auto done = std::make_shared<Done>();
    OutItem it{OutItem::CALL};
    it.fn = [fn = std::move(fn), done] {
        fn();
        std::lock_guard<std::mutex> lk(done->m);
        done->done = true;
        done->cv.notify_all();
    };
    push(std::move(it));
    // Wait with the GIL released (if this thread holds it): Pd's thread may need it.
    PyThreadState* ts = nullptr;
    if (Py_IsInitialized() && PyGILState_Check()) ts = PyEval_SaveThread();
    {
        std::unique_lock<std::mutex> lk(done->m);
        done->cv.wait(lk, [&] { return done->done; });
    }
    if (ts) PyEval_RestoreThread(ts);
}
