// Detached calls. Mode 1: one worker thread per object, FIFO. Mode 2: a thread per call.
// Pd's thread only copies atoms into the queue (a short mutex, never the GIL).
#include "pyext.hpp"

#include <thread>

struct Worker {
    std::mutex m;
    std::condition_variable cv;
    std::deque<InMsg> q;
    bool quit = false;
};

// The last reference to a host is dropped after its worker loop ended (the worker holds
// one), so the queue is no longer in use here.
Host::~Host() { delete worker; }

static void call_done(Host* h) {
    h->running.fetch_sub(1);
    host_call_ended(h);
}

static void worker_main(HostPtr h) {
    Worker* w = h->worker;
    PyGILState_STATE gs = PyGILState_Ensure();
    PyThreadState* ts = PyEval_SaveThread();
    for (;;) {
        InMsg msg;
        {
            std::unique_lock<std::mutex> lk(w->m);
            w->cv.wait(lk, [w] { return w->quit || !w->q.empty(); });
            if (w->quit) break;
            msg = std::move(w->q.front());
            w->q.pop_front();
            h->running.fetch_add(1);
        }
        PyEval_RestoreThread(ts);
        host_dispatch(h.get(), msg.inlet, msg.sel, (int)msg.atoms.size(), msg.atoms.data());
        ts = PyEval_SaveThread();
        call_done(h.get());
    }
    PyEval_RestoreThread(ts);
    host_teardown(h.get());  // the object was deleted: _del and the instance go here
    PyGILState_Release(gs);
}

void worker_post(const HostPtr& h, InMsg&& m) {
    if (!h->worker) {
        h->worker = new Worker();
        std::thread(worker_main, h).detach();
    }
    Worker* w = h->worker;
    {
        std::lock_guard<std::mutex> lk(w->m);
        w->q.push_back(std::move(m));
    }
    w->cv.notify_one();
}

void worker_spawn(const HostPtr& h, InMsg&& m) {
    if (h->shouldexit.load()) return;  // stop in progress: no new launches
    h->running.fetch_add(1);
    std::thread([h, m = std::move(m)]() mutable {
        {
            Gil gil;
            host_dispatch(h.get(), m.inlet, m.sel, (int)m.atoms.size(), m.atoms.data());
        }
        call_done(h.get());
        if (!h->alive.load() && h->running.load() == 0) {
            Gil gil;
            host_teardown(h.get());
        }
    }).detach();
}

void worker_clear(Host* h) {
    if (!h->worker) return;
    std::lock_guard<std::mutex> lk(h->worker->m);
    h->worker->q.clear();
}

void worker_shutdown(const HostPtr& h) {
    Worker* w = h->worker;
    {
        std::lock_guard<std::mutex> lk(w->m);
        w->q.clear();
        w->quit = true;
    }
    w->cv.notify_all();
    // The worker holds its own reference to the host and frees nothing Pd-side.
}
