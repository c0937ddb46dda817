// pyext~ signal processing.
//
// Classic (spec §2.9): `_dsp()` at DSP start, `_signal()` every block on Pd's thread with
// the GIL; `_invec(i)`/`_outvec(i)` are numpy float32 arrays aliasing Pd's vectors.
//
// Streaming (our extension): a class with `_chunk` (samples) and `process(self, inputs)`
// (float32 [sigin, chunk] -> [sigout, chunk]). The perform routine only copies samples
// into and out of single-producer/single-consumer rings indexed by absolute sample
// position; a worker thread calls `process` on whole chunks. Output sample n is input
// sample n - latency, latency = 2 * chunk (the worker gets one chunk of time to compute;
// a class attribute `_latency` may change it), or 1 * chunk in sync mode, where
// `process` runs inside perform. A chunk that is not
// ready in time is an underrun: that block outputs zeros, the late result is dropped
// (latency stays constant), the count goes to the attribute outlet as `underruns <n>`.
#include "pyext.hpp"

#include <semaphore.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace {

struct State {  // one per DSP start; shared by perform and the worker
    HostPtr host;
    int nin = 0, nout = 0, block = 64;
    long chunk = 0, latency = 0;
    uint64_t cap = 0, mask = 0;
    std::vector<std::vector<float>> in, out;
    std::atomic<uint64_t> in_w{0};   // input samples written by perform
    std::atomic<uint64_t> out_w{0};  // output ring valid below this position
    uint64_t out_r = 0;              // perform's read position (perform only)
    uint64_t next = 0;               // start of the next chunk to process (worker/sync)
    std::atomic<uint64_t> underruns{0};
    std::atomic<bool> quit{false};
    bool sync = false;
    bool failed = false;             // process raised or returned a bad shape
    sem_t sem;
};

}  // namespace

struct Stream {
    std::shared_ptr<State> st;                 // streaming
    std::vector<t_sample*> ins, outs;          // classic and streaming
    std::vector<PyObject*> invecs, outvecs;    // classic (GIL)
    PyObject* signal_fn = nullptr;             // classic bound _signal (GIL)
    int block = 64;
    t_clock* report_clock = nullptr;
    bool report_pending = false;  // Pd's thread only
    uint64_t reported = 0;
};

namespace {

PyObject* np_module() {
    static PyObject* np = nullptr;
    if (!np) np = PyImport_ImportModule("numpy");
    return np;
}

// Run process() on the chunk starting at st->next (GIL held). Writes the output ring.
void process_chunk(State* st) {
    Host* h = st->host.get();
    uint64_t start = st->next;
    st->next += st->chunk;
    bool ok = false;
    PyObject* np = np_module();
    PyObject* x = np ? PyObject_CallMethod(np, "zeros", "((il)s)", st->nin, st->chunk, "float32") : nullptr;
    Py_buffer v;
    if (x && PyObject_GetBuffer(x, &v, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) == 0) {
        float* dst = (float*)v.buf;
        for (int c = 0; c < st->nin; c++)
            for (long i = 0; i < st->chunk; i++) dst[c * st->chunk + i] = st->in[c][(start + i) & st->mask];
        PyBuffer_Release(&v);
        PyObject* r = (h->inst && !st->failed) ? PyObject_CallMethod(h->inst, "process", "O", x) : nullptr;
        PyObject* y = r ? PyObject_CallMethod(np, "ascontiguousarray", "Os", r, "float32") : nullptr;
        Py_XDECREF(r);
        if (y && PyObject_GetBuffer(y, &v, PyBUF_ND) == 0) {
            bool shape_ok = (v.ndim == 2 && v.shape[0] == st->nout && v.shape[1] == st->chunk) ||
                            (v.ndim == 1 && st->nout == 1 && v.shape[0] == st->chunk) ||
                            (st->nout == 0);
            if (shape_ok) {
                const float* src = (const float*)v.buf;
                uint64_t pos = start + st->latency;
                for (int c = 0; c < st->nout; c++)
                    for (long i = 0; i < st->chunk; i++) st->out[c][(pos + i) & st->mask] = src[c * st->chunk + i];
                ok = true;
            } else {
                console_postf(1, "pyext~: %s.process must return float32 [%d, %ld]; streaming stopped",
                              h->class_name.c_str(), st->nout, st->chunk);
            }
            PyBuffer_Release(&v);
        }
        Py_XDECREF(y);
    }
    Py_XDECREF(x);
    if (!ok && !st->failed) {
        if (PyErr_Occurred()) report_exception(("pyext~: exception in " + h->class_name + ".process").c_str());
        st->failed = true;
    }
    PyErr_Clear();
    st->out_w.store(start + st->latency + st->chunk, std::memory_order_release);
}

void stream_worker(std::shared_ptr<State> st) {
    PyGILState_STATE gs = PyGILState_Ensure();
    PyThreadState* ts = PyEval_SaveThread();
    while (!st->quit.load()) {
        timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += 100 * 1000000;
        if (t.tv_nsec >= 1000000000) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000;
        }
        sem_timedwait(&st->sem, &t);
        while (!st->quit.load() && st->in_w.load(std::memory_order_acquire) >= st->next + st->chunk) {
            uint64_t avail = st->in_w.load(std::memory_order_acquire);
            if (avail - st->next > st->cap - (uint64_t)st->chunk) {  // overrun: skip ahead
                uint64_t skip = (avail - st->next) / st->chunk - 1;
                st->next += skip * st->chunk;
                st->underruns.fetch_add(skip);
            }
            PyEval_RestoreThread(ts);
            process_chunk(st.get());
            ts = PyEval_SaveThread();
        }
    }
    PyEval_RestoreThread(ts);
    PyGILState_Release(gs);
}

t_int* perform_stream(t_int* w) {
    Stream* s = (Stream*)w[1];
    State* st = s->st.get();
    int n = (int)w[2];
    uint64_t p = st->in_w.load(std::memory_order_relaxed);
    for (int c = 0; c < st->nin; c++)
        for (int i = 0; i < n; i++) st->in[c][(p + i) & st->mask] = s->ins[c][i];
    st->in_w.store(p + n, std::memory_order_release);
    if (st->sync) {
        if (st->next + st->chunk <= p + n) {
            t_in_dsp = true;
            Gil gil;
            while (st->next + st->chunk <= p + n) process_chunk(st);
            t_in_dsp = false;
        }
    } else if ((p + n) / st->chunk != p / st->chunk) {
        sem_post(&st->sem);
    }
    uint64_t r = st->out_r;
    bool ready = st->out_w.load(std::memory_order_acquire) >= r + n;
    for (int c = 0; c < st->nout; c++) {
        t_sample* o = s->outs[c];
        if (ready)
            for (int i = 0; i < n; i++) o[i] = st->out[c][(r + i) & st->mask];
        else
            memset(o, 0, sizeof(t_sample) * n);
    }
    if (!ready) {
        st->underruns.fetch_add(1);
        if (s->report_clock && !s->report_pending) {
            s->report_pending = true;  // at most one report per 200 ms
            clock_delay(s->report_clock, 200);
        }
    }
    st->out_r = r + n;
    return w + 3;
}

t_int* perform_classic(t_int* w) {
    Host* h = (Host*)w[1];
    Stream* s = h->stream;
    int n = (int)w[2];
    if (!s->signal_fn) {
        for (t_sample* o : s->outs) memset(o, 0, sizeof(t_sample) * n);
        return w + 3;
    }
    t_in_dsp = true;
    {
        Gil gil;
        PyObject* r = s->signal_fn ? PyObject_CallNoArgs(s->signal_fn) : nullptr;
        if (!r) {
            report_exception(("pyext~: exception in " + h->class_name + "._signal (signal stopped)").c_str());
            Py_CLEAR(s->signal_fn);
        }
        Py_XDECREF(r);
    }
    t_in_dsp = false;
    return w + 3;
}

void report_tick(Host* h) {
    if (h->stream) h->stream->report_pending = false;
    stream_report(h);
}

PyObject* alias_vector(t_sample* vec, int n) {
    PyObject* np = np_module();
    if (!np) {
        PyErr_Clear();
        return nullptr;
    }
    PyObject* mv = PyMemoryView_FromMemory((char*)vec, (Py_ssize_t)n * sizeof(t_sample), PyBUF_WRITE);
    PyObject* a = mv ? PyObject_CallMethod(np, "frombuffer", "Os", mv, sizeof(t_sample) == 4 ? "float32" : "float64") : nullptr;
    Py_XDECREF(mv);
    if (!a) PyErr_Clear();
    return a;
}

void clear_classic(Stream* s) {
    for (PyObject* o : s->invecs) Py_XDECREF(o);
    for (PyObject* o : s->outvecs) Py_XDECREF(o);
    s->invecs.clear();
    s->outvecs.clear();
    Py_CLEAR(s->signal_fn);
}

void stop_state(Stream* s) {
    if (s->st) {
        s->st->quit.store(true);
        sem_post(&s->st->sem);
        s->st.reset();  // the worker keeps its own reference until it ends
    }
}

void start_stream(Host* h, Stream* s) {
    auto st = std::make_shared<State>();
    st->host = h->shared_from_this();
    st->nin = h->sig_in;
    st->nout = h->sig_out;
    st->sync = h->sync();
    long wanted;
    {
        Gil gil;
        // `_dsp()`, when the class has one, runs first: it may set `_chunk` for Pd's rate.
        PyObject* fn = h->inst ? PyObject_GetAttrString(h->inst, "_dsp") : nullptr;
        if (fn) {
            PyObject* r = PyObject_CallNoArgs(fn);
            if (!r) report_exception("pyext~: exception in _dsp");
            Py_XDECREF(r);
            Py_DECREF(fn);
        }
        PyErr_Clear();
        st->chunk = host_count(h->inst, "_chunk");
        wanted = host_count(h->inst, "_latency");  // optional, samples
    }
    if (st->chunk < 1) st->chunk = s->block;
    // Real time: by default two chunks (the worker gets one chunk of time to compute); a
    // class may ask for less (down to chunk + one block) or more with `_latency`.
    st->latency = st->sync ? st->chunk
                  : wanted > 0 ? std::max<long>(wanted, st->chunk + s->block)
                               : 2 * st->chunk;
    uint64_t need = 2 * (uint64_t)(st->latency + st->chunk) + 4 * (uint64_t)s->block, cap = 1024;
    while (cap < need) cap <<= 1;
    st->cap = cap;
    st->mask = cap - 1;
    st->in.assign(st->nin, std::vector<float>(cap, 0.0f));
    st->out.assign(st->nout, std::vector<float>(cap, 0.0f));
    st->out_w.store(st->latency);  // the first `latency` output samples are silence
    sem_init(&st->sem, 0, 0);
    s->st = st;
    if (!st->sync) std::thread(stream_worker, st).detach();
    dsp_add(perform_stream, 2, (t_int)s, (t_int)s->block);
}

}  // namespace

void stream_dsp(Host* h, t_signal** sp) {
    if (!h->stream) {
        h->stream = new Stream();
        h->stream->report_clock = clock_new(h, (t_method)report_tick);
    }
    Stream* s = h->stream;
    stop_state(s);
    int nsig_in = h->sig_in > 0 ? h->sig_in : 1;  // the main inlet is always a signal inlet
    s->block = sp[0]->s_n;
    s->ins.assign(h->sig_in, nullptr);
    s->outs.assign(h->sig_out, nullptr);
    for (int i = 0; i < h->sig_in; i++) s->ins[i] = sp[i]->s_vec;
    for (int i = 0; i < h->sig_out; i++) s->outs[i] = sp[nsig_in + i]->s_vec;
    if (h->streaming) {
        start_stream(h, s);
        stream_report(h);
        return;
    }
    Gil gil;
    clear_classic(s);
    for (int i = 0; i < h->sig_in; i++) s->invecs.push_back(alias_vector(s->ins[i], s->block));
    for (int i = 0; i < h->sig_out; i++) s->outvecs.push_back(alias_vector(s->outs[i], s->block));
    bool on = true;
    if (h->inst) {
        PyObject* fn = PyObject_GetAttrString(h->inst, "_dsp");
        if (fn) {
            PyObject* r = PyObject_CallNoArgs(fn);
            if (!r) report_exception("pyext~: exception in _dsp");
            on = r && PyObject_IsTrue(r) > 0;
            Py_XDECREF(r);
            Py_DECREF(fn);
        }
        PyErr_Clear();
        s->signal_fn = on ? PyObject_GetAttrString(h->inst, "_signal") : nullptr;
        PyErr_Clear();
    }
    dsp_add(perform_classic, 2, (t_int)h, (t_int)s->block);
}

void stream_free(Host* h) {
    Stream* s = h->stream;
    if (!s) return;
    stop_state(s);
    if (s->report_clock) clock_free(s->report_clock);
    s->report_clock = nullptr;
    if (interp_ok()) {
        Gil gil;
        clear_classic(s);
    }
    // perform routines no longer run (Pd stops DSP before freeing objects); the Stream
    // itself is leaked deliberately, a few bytes per deleted pyext~.
}

PyObject* stream_vec(Host* h, int index, bool out) {
    Stream* s = h->stream;
    std::vector<PyObject*>* v = s ? (out ? &s->outvecs : &s->invecs) : nullptr;
    if (!v || index < 0 || index >= (int)v->size()) {
        PyErr_Format(PyExc_ValueError, "%s: no signal %s %d (or DSP not running)",
                     out ? "_outvec" : "_invec", out ? "outlet" : "inlet", index);
        return nullptr;
    }
    PyObject* a = (*v)[index];
    if (!a) Py_RETURN_NONE;
    Py_INCREF(a);
    return a;
}

bool stream_report(Host* h) {
    Stream* s = h->stream;
    if (!s || !s->st || !h->attr_outlet) return false;
    t_atom a;
    if (!h->info_is_attr) {  // a named object replies its own latency (resampling included)
        SETFLOAT(&a, (t_float)s->st->latency);
        outlet_anything(h->attr_outlet, gensym("latency"), 1, &a);
    }
    uint64_t u = s->st->underruns.load();
    SETFLOAT(&a, (t_float)u);
    outlet_anything(h->attr_outlet, gensym("underruns"), 1, &a);
    if (u != s->reported) {
        s->reported = u;
        pd_error(h->obj, "pyext~: %s: %llu underrun(s) so far", h->class_name.c_str(), (unsigned long long)u);
    }
    return true;
}
