// pyext.Buffer: a Pd array seen from Python through the buffer protocol (strided views
// over Pd's t_word elements, no numpy C API).
//
// Safety rules:
//  - The array is looked up by name on every access, never cached.
//  - Lookup (construction), element access (len, b[i], b[i] = x), slice assignment and
//    the export of a view touch Pd's state only with Pd's lock (with_pd below): at once
//    on Pd's thread or while Pd's thread is parked inside Python; on another thread with
//    sys_trylock, retried with the GIL released, so that no thread ever waits for Pd's
//    lock while holding the GIL. Pd's batch scheduler takes no lock, so under -batch the
//    access is handed over to Pd's thread instead.
//  - Resizing (resize, write) and redraws run on Pd's thread; a worker hands them over
//    and waits with the GIL released.
//  - Memory exported to views is counted. Before anything reallocates or frees an array
//    whose memory is exported, the array is moved onto a fresh copy (detach_exported):
//    old views keep valid (detached) memory, freed when the last view is released. This
//    runs for Buffer.resize/write and, through wrappers installed into Pd's classes at
//    load time (buffer_protect_pd), for the garray methods that reallocate ("resize",
//    "arraydialog", "sinesum", "cosinesum"), for the garray free method (deleting an
//    array or the patch holding it) and for the "bounds" message that Pd's
//    garray_resize_long sends to an array's graph just before reallocating when the array
//    is alone in its graph ([array size], [soundfiler] read -resize, externals).
//    Not covered: garray_resize_long on an array that shares its graph with other
//    objects, and plot point editing (alt-click) in the GUI.
#include "pyext.hpp"

#include <g_canvas.h>
#include <m_imp.h>

#include <unistd.h>

#include <climits>
#include <cstring>
#include <unordered_map>

struct BufferObject {
    PyObject_HEAD
    t_symbol* sym;
    PyObject* symobj;
    std::atomic<bool>* redraw_pending;
};

// The largest array Pd can hold: Pd computes byte sizes as int (frames * sizeof(t_word)).
static const long kMaxFrames = INT_MAX / (long)sizeof(t_word);

namespace {

struct Export {
    int count = 0;
    bool orphaned = false;
    size_t bytes = 0;
};
std::mutex g_exp_m;
auto* g_exports = new std::unordered_map<char*, Export>();
std::atomic<int> g_live_exports{0};  // entries in g_exports: a fast "no views" check

PyObject* g_numpy = nullptr;
extern PyTypeObject Buffer_Type;

PyObject* numpy() {
    if (!g_numpy) g_numpy = PyImport_ImportModule("numpy");
    return g_numpy;
}

t_garray* find_array(t_symbol* s) { return (t_garray*)pd_findbyclass(s, garray_class); }

// Pd's thread (or a thread holding Pd's lock): the array's elements, or false.
bool lookup(t_symbol* s, t_word** vec, int* n) {
    t_garray* g = find_array(s);
    return g && garray_getfloatwords(g, n, vec);
}

// Run fn (which must not touch Python) with Pd's state safe to read and write. The caller
// holds the GIL. On Pd's thread: at once. Elsewhere: while Pd's thread is parked inside
// Python (see g_pd_in_python); under -batch, whose scheduler takes no lock, handed over
// to Pd's thread; otherwise under Pd's lock, taken with sys_trylock, which never blocks,
// and retried with the GIL released, so that nobody ever waits for Pd's lock while
// holding the GIL. The retry loop polls instead of blocking in sys_lock because Pd's
// thread may meanwhile enter Python and wait for this very thread (a handler that joins
// it): it then touches Pd only with the GIL, so this thread proceeds under the GIL.
template <class F>
void with_pd(F&& fn) {
    if (on_pd_thread_raw() || g_pd_in_python.load() > 0) {
        fn();
        return;
    }
    if (batch_mode()) {
        run_on_pd([&fn] { fn(); }, true);
        return;
    }
    if (sys_trylock() == 0) {
        fn();
        sys_unlock();
        return;
    }
    PyThreadState* ts = PyEval_SaveThread();
    for (;;) {
        if (sys_trylock() == 0) {
            fn();
            sys_unlock();
            break;
        }
        if (g_pd_in_python.load() > 0) {
            PyEval_RestoreThread(ts);
            ts = nullptr;
            if (g_pd_in_python.load() > 0) {  // stable while we hold the GIL
                fn();
                break;
            }
            ts = PyEval_SaveThread();
            continue;
        }
        usleep(20);  // Pd's thread is busy: a tick lasts microseconds to milliseconds
    }
    if (ts) PyEval_RestoreThread(ts);
}

PyObject* not_found(t_symbol* s) {
    PyErr_Format(PyExc_RuntimeError, "Pd array '%s' not found", s->s_name);
    return nullptr;
}

void schedule_redraw(BufferObject* b) {
    if (b->redraw_pending->exchange(true)) return;
    t_symbol* s = b->sym;
    std::atomic<bool>* flag = b->redraw_pending;  // never freed: one per Buffer object
    defer_on_pd([s, flag] {
        flag->store(false);
        if (t_garray* g = find_array(s)) garray_redraw(g);
    });
}

std::atomic<bool> g_dsp_fix_pending{false};

// Pd's thread: move exported memory aside before Pd reallocates or frees it. The views
// keep the old memory; Pd goes on with a copy (or, when the array is being freed, with
// one element it frees at once). DSP objects ([tabread~], [tabplay~]...) may still hold
// the old pointer: Pd refreshes them after a resize or deletion, but not when the
// reallocation we expected does not come (a "bounds" message alone), so DSP is
// rebuilt on our next queue tick, and the old memory is freed only after that (its free
// is queued behind, in the same FIFO).
void detach_exported(t_garray* g, bool freeing = false) {
    if (g_live_exports.load() == 0) return;
    t_array* a = garray_getarray(g);
    if (!a || !a->a_vec) return;
    {
        std::lock_guard<std::mutex> lk(g_exp_m);
        auto it = g_exports->find(a->a_vec);
        if (it == g_exports->end() || it->second.count == 0 || it->second.orphaned) return;
        size_t bytes = (size_t)a->a_n * a->a_elemsize;
        if (freeing) bytes = a->a_elemsize;  // Pd frees the array right away: keep it small
        char* copy = (char*)getbytes(bytes ? bytes : 1);
        if (!freeing) memcpy(copy, a->a_vec, bytes);
        it->second.orphaned = true;
        it->second.bytes = (size_t)a->a_n * a->a_elemsize;
        a->a_vec = copy;
        if (freeing) a->a_n = 1;
    }
    if (!g_dsp_fix_pending.exchange(true))
        defer_on_pd([] {
            g_dsp_fix_pending.store(false);
            canvas_update_dsp();  // nothing when DSP is off
        });
}

void detach_glist(t_glist* gl) {
    if (g_live_exports.load() == 0) return;
    for (t_gobj* y = gl->gl_list; y; y = y->g_next)
        if (pd_class(&y->g_pd) == garray_class) detach_exported((t_garray*)y);
}

void resize_on_pd(t_garray* g, long frames, bool keep) {
    if (frames < 1) frames = 1;
    if (frames != garray_npoints(g)) detach_exported(g);  // the same size changes nothing
    garray_resize_long(g, frames);
    if (!keep) {
        int n;
        t_word* vec;
        if (garray_getfloatwords(g, &n, &vec))
            for (int i = 0; i < n; i++) vec[i].w_float = 0;
    }
    garray_redraw(g);
}

// ---------------------------------------------------------------- wrappers in Pd's classes
// Each wrapper moves exported memory aside, then calls Pd's own method. They run on Pd's
// thread, as every method does.

using FloatFn = void (*)(void*, t_floatarg);
using DialogFn = void (*)(void*, t_symbol*, t_floatarg, t_floatarg, t_floatarg);
using GimmeFn = void (*)(void*, t_symbol*, int, t_atom*);
using FreeFn = void (*)(void*);
using BoundsFn = void (*)(void*, t_floatarg, t_floatarg, t_floatarg, t_floatarg);

t_method g_garray_resize, g_garray_dialog, g_garray_sinesum, g_garray_cosinesum, g_garray_free,
    g_canvas_bounds;

// garray_resize_long's own rule: at least 1 point; nothing happens at the same size.
void detach_if_resized(t_garray* x, double frames) {
    long n = (long)frames;
    if (n < 1) n = 1;
    if (n != garray_npoints(x)) detach_exported(x);
}

void w_garray_resize(t_garray* x, t_floatarg f) {
    detach_if_resized(x, f);
    ((FloatFn)g_garray_resize)(x, f);
}

void w_garray_dialog(t_garray* x, t_symbol* name, t_floatarg size, t_floatarg flags,
                     t_floatarg deleteit) {
    if (deleteit == 0) detach_if_resized(x, size);  // deletion goes through the free method
    ((DialogFn)g_garray_dialog)(x, name, size, flags, deleteit);
}

void w_garray_sinesum(t_garray* x, t_symbol* s, int argc, t_atom* argv) {
    detach_exported(x);
    ((GimmeFn)g_garray_sinesum)(x, s, argc, argv);
}

void w_garray_cosinesum(t_garray* x, t_symbol* s, int argc, t_atom* argv) {
    detach_exported(x);
    ((GimmeFn)g_garray_cosinesum)(x, s, argc, argv);
}

void w_garray_free(t_garray* x) {
    detach_exported(x, true);
    ((FreeFn)g_garray_free)(x);
}

void w_canvas_bounds(t_glist* x, t_floatarg x1, t_floatarg y1, t_floatarg x2, t_floatarg y2) {
    detach_glist(x);
    ((BoundsFn)g_canvas_bounds)(x, x1, y1, x2, y2);
}

// Replace the method `name` of class c by fn, keeping the original in *orig. Pd dispatches
// to the first entry of that name, which is the one replaced.
bool wrap_method(t_class* c, const char* name, t_method fn, t_method* orig) {
    t_symbol* s = gensym(name);
    for (int i = 0; i < c->c_nmethod; i++) {
        t_methodentry* m = &c->c_methods[i];
        if (m->me_name != s) continue;
        if (m->me_fun == (t_gotfn)fn) return true;  // already wrapped
        *orig = (t_method)m->me_fun;
        m->me_fun = (t_gotfn)fn;
        return true;
    }
    return false;
}

// ---------------------------------------------------------------- Python methods

int buf_init(BufferObject* self, PyObject* args, PyObject* kw) {
    PyObject* name;
    if (!PyArg_ParseTuple(args, "U", &name)) return -1;
    const char* s = PyUnicode_AsUTF8(name);
    if (!s) return -1;
    std::string sname(s);
    t_symbol* sym = nullptr;
    bool found = false;
    with_pd([&] {
        sym = gensym(sname.c_str());
        found = find_array(sym) != nullptr;
    });
    if (!found) {
        PyErr_Format(PyExc_ValueError, "pyext.Buffer: no Pd array named '%s'", sname.c_str());
        return -1;
    }
    self->sym = sym;
    Py_XSETREF(self->symobj, symbol_from_str(sname.c_str()));
    if (!self->redraw_pending) self->redraw_pending = new std::atomic<bool>(false);
    return self->symobj ? 0 : -1;
}

void buf_dealloc(BufferObject* self) {
    Py_XDECREF(self->symobj);  // redraw_pending may still be used by a queued redraw
    Py_TYPE(self)->tp_free((PyObject*)self);
}

bool check(BufferObject* b) {
    if (!b->sym) PyErr_SetString(PyExc_RuntimeError, "pyext.Buffer is not initialised");
    return b->sym != nullptr;
}

Py_ssize_t buf_len(BufferObject* self) {
    if (!check(self)) return -1;
    t_symbol* s = self->sym;
    int n = -1;
    with_pd([&] {
        t_word* vec;
        if (!lookup(s, &vec, &n)) n = -1;
    });
    if (n < 0) {
        not_found(s);
        return -1;
    }
    return n;
}

// Run `fn(element)` on element `i` (negative counts from the end) of array `s` under Pd's
// lock; false with a Python exception set when the array or the index is not there.
template <class F>
bool with_element(t_symbol* s, Py_ssize_t i, F fn) {
    enum { OK, NOTFOUND, RANGE } r = OK;
    with_pd([&] {
        t_word* vec;
        int n;
        if (!lookup(s, &vec, &n)) {
            r = NOTFOUND;
            return;
        }
        Py_ssize_t k = i < 0 ? i + n : i;
        if (k < 0 || k >= n)
            r = RANGE;
        else
            fn(vec[k]);
    });
    if (r == NOTFOUND) not_found(s);
    if (r == RANGE) PyErr_SetString(PyExc_IndexError, "pyext.Buffer index out of range");
    return r == OK;
}

PyObject* buf_item(BufferObject* self, Py_ssize_t i) {
    if (!check(self)) return nullptr;
    double v = 0;
    if (!with_element(self->sym, i, [&](t_word& w) { v = w.w_float; })) return nullptr;
    return PyFloat_FromDouble(v);
}

// A numpy view through an explicit memoryview: a missing array raises here (numpy itself
// would swallow the error and wrap the Buffer in a 0-d object array).
PyObject* as_array(PyObject* self) {
    PyObject* np = numpy();
    if (!np) return nullptr;
    PyObject* mv = PyMemoryView_FromObject(self);
    if (!mv) return nullptr;
    PyObject* r = PyObject_CallMethod(np, "asarray", "O", mv);
    Py_DECREF(mv);
    return r;
}

// __array__(dtype=None, copy=None): numpy calls it only when the buffer protocol failed
// (the array is gone), so np.asarray(buffer) raises that error instead of making an
// object array.
PyObject* buf_array(PyObject* self, PyObject* args, PyObject* kw) {
    static const char* kwlist[] = {"dtype", "copy", nullptr};
    PyObject *dtype = Py_None, *copy = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO", (char**)kwlist, &dtype, &copy)) return nullptr;
    PyObject* arr = as_array(self);
    if (arr && dtype != Py_None) Py_SETREF(arr, PyObject_CallMethod(arr, "astype", "O", dtype));
    if (arr && copy != Py_None && PyObject_IsTrue(copy) > 0)
        Py_SETREF(arr, PyObject_CallMethod(arr, "copy", nullptr));
    return arr;
}

PyObject* buf_subscript(BufferObject* self, PyObject* key) {
    if (PyIndex_Check(key)) {
        Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred()) return nullptr;
        return buf_item(self, i);
    }
    PyObject* arr = as_array((PyObject*)self);  // slices and fancy keys: a numpy view
    if (!arr) return nullptr;
    PyObject* r = PyObject_GetItem(arr, key);
    Py_DECREF(arr);
    return r;
}

// Copy `value` (anything numpy can turn into float32) into the slice, on Pd's thread.
// With resize_to_fit the array is first resized to the value's length (write()).
bool frames_fit(long long frames, const char* what) {
    if (frames <= kMaxFrames) return true;
    PyErr_Format(PyExc_OverflowError,
                 "pyext.Buffer.%s: %lld frames is more than a Pd array can hold (at most %ld)",
                 what, frames, kMaxFrames);
    return false;
}

// numpy's float32 conversion would drop the imaginary part with a mere warning.
bool refuse_complex(PyObject* np, PyObject* value) {
    if (is_complex(value)) return complex_error(value, "written to a Pd array"), true;
    PyObject* r = PyObject_CallMethod(np, "iscomplexobj", "O", value);
    if (!r) {  // not something numpy understands: the conversion will say why
        PyErr_Clear();
        return false;
    }
    bool complex = PyObject_IsTrue(r) > 0;
    Py_DECREF(r);
    if (complex)
        PyErr_SetString(PyExc_TypeError,
                        "pyext.Buffer: complex values cannot be written to a Pd array (it holds "
                        "real numbers); write .real, .imag or abs() of them");
    return complex;
}

int assign(BufferObject* self, PyObject* key, PyObject* value, bool resize_to_fit) {
    PyObject* np = numpy();
    if (!np) return -1;
    if (refuse_complex(np, value)) return -1;
    PyObject* data = PyObject_CallMethod(np, "ascontiguousarray", "Os", value, "float32");
    if (!data) return -1;
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_C_CONTIGUOUS) < 0) {
        Py_DECREF(data);
        return -1;
    }
    Py_ssize_t count = view.len / (Py_ssize_t)sizeof(float);
    // write() validates before anything changes: no resize for data it would then refuse
    if (resize_to_fit && (count == 0 || !frames_fit(count, "write"))) {
        if (count == 0)
            PyErr_SetString(PyExc_ValueError,
                            "pyext.Buffer.write: no data (a Pd array has at least one element)");
        PyBuffer_Release(&view);
        Py_DECREF(data);
        return -1;
    }
    Py_ssize_t sl_start = 0, sl_stop = PY_SSIZE_T_MAX, sl_step = 1;
    if (key && PySlice_Unpack(key, &sl_start, &sl_stop, &sl_step) < 0) {
        PyBuffer_Release(&view);
        Py_DECREF(data);
        return -1;
    }
    const float* src = (const float*)view.buf;
    t_symbol* sym = self->sym;
    enum { OK, NOTFOUND, MISMATCH } status = OK;
    Py_ssize_t want = 0;
    auto copy_in = [&] {
        t_garray* g = find_array(sym);
        int n;
        t_word* vec;
        if (!g || !garray_getfloatwords(g, &n, &vec)) {
            status = NOTFOUND;
            return;
        }
        if (resize_to_fit && count != n) {
            resize_on_pd(g, (long)count, true);
            garray_getfloatwords(g, &n, &vec);
        }
        Py_ssize_t start = sl_start, stop = sl_stop, step = sl_step;
        Py_ssize_t len = PySlice_AdjustIndices(n, &start, &stop, step);
        want = len;
        if (count != len && count != 1) {
            status = MISMATCH;
            return;
        }
        for (Py_ssize_t i = 0; i < len; i++) vec[start + i * step].w_float = src[count == 1 ? 0 : i];
    };
    // A resize (write) runs on Pd's thread: it redraws and may restart DSP. Copying into
    // the array only needs Pd's lock, like element access; the redraw is deferred.
    if (resize_to_fit)
        run_on_pd(copy_in, true);
    else
        with_pd(copy_in);
    if (status == OK) schedule_redraw(self);
    PyBuffer_Release(&view);
    Py_DECREF(data);
    if (status == NOTFOUND) {
        PyErr_Format(PyExc_RuntimeError, "Pd array '%s' not found", sym->s_name);
        return -1;
    }
    if (status == MISMATCH) {
        PyErr_Format(PyExc_ValueError, "pyext.Buffer: cannot assign %zd values to a slice of %zd",
                     count, want);
        return -1;
    }
    return 0;
}

int buf_ass_subscript(BufferObject* self, PyObject* key, PyObject* value) {
    if (!check(self)) return -1;
    if (!value) {
        PyErr_SetString(PyExc_TypeError, "pyext.Buffer items cannot be deleted");
        return -1;
    }
    if (PyIndex_Check(key)) {
        Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred()) return -1;
        if (is_complex(value)) {
            complex_error(value, "written to a Pd array");
            return -1;
        }
        double v = PyFloat_AsDouble(value);
        if (v == -1.0 && PyErr_Occurred()) return -1;
        if (!with_element(self->sym, i, [&](t_word& w) { w.w_float = (t_float)v; })) return -1;
        schedule_redraw(self);
        return 0;
    }
    if (!PySlice_Check(key)) {
        PyErr_SetString(PyExc_TypeError, "pyext.Buffer indices must be integers or slices");
        return -1;
    }
    Py_ssize_t a, b, c;
    if (PySlice_Unpack(key, &a, &b, &c) < 0) return -1;
    return assign(self, key, value, false);
}

int buf_ass_item(BufferObject* self, Py_ssize_t i, PyObject* value) {
    PyObject* key = PyLong_FromSsize_t(i);
    int r = buf_ass_subscript(self, key, value);
    Py_DECREF(key);
    return r;
}

int buf_getbuffer(BufferObject* self, Py_buffer* view, int flags) {
    if (!check(self)) return -1;
    if ((flags & PyBUF_STRIDES) != PyBUF_STRIDES) {
        PyErr_SetString(PyExc_BufferError, "pyext.Buffer is strided (Pd's t_word elements)");
        return -1;
    }
    t_symbol* s = self->sym;
    t_word* vec = nullptr;
    int n = -1;
    with_pd([&] {  // look up and count the export atomically with respect to Pd's changes
        if (!lookup(s, &vec, &n)) {
            n = -1;
            return;
        }
        std::lock_guard<std::mutex> lk(g_exp_m);
        Export& e = (*g_exports)[(char*)vec];
        if (e.count++ == 0) g_live_exports.fetch_add(1);
    });
    if (n < 0) {
        not_found(s);
        return -1;
    }
    Py_ssize_t* dims = new Py_ssize_t[2]{n, (Py_ssize_t)sizeof(t_word)};
    view->buf = vec;
    view->obj = (PyObject*)self;
    Py_INCREF(self);
    view->len = (Py_ssize_t)n * (Py_ssize_t)sizeof(t_float);
    view->readonly = 0;
    view->itemsize = sizeof(t_float);
    view->format = (flags & PyBUF_FORMAT) ? (char*)(sizeof(t_float) == 4 ? "f" : "d") : nullptr;
    view->ndim = 1;
    view->shape = dims;
    view->strides = dims + 1;
    view->suboffsets = nullptr;
    view->internal = dims;
    return 0;
}

void buf_releasebuffer(BufferObject* self, Py_buffer* view) {
    delete[] (Py_ssize_t*)view->internal;
    char* vec = (char*)view->buf;
    std::lock_guard<std::mutex> lk(g_exp_m);
    auto it = g_exports->find(vec);
    if (it == g_exports->end()) return;
    if (--it->second.count == 0) {
        if (it->second.orphaned) {  // on Pd's thread, after a DSP rebuild queued before
            size_t bytes = it->second.bytes ? it->second.bytes : 1;
            defer_on_pd([vec, bytes] { freebytes(vec, bytes); });
        }
        g_exports->erase(it);
        g_live_exports.fetch_sub(1);
    }
}

PyObject* buf_resize(BufferObject* self, PyObject* args, PyObject* kw) {
    static const char* kwlist[] = {"frames", "keep", "zero", nullptr};
    long frames;
    int keep = 1, zero = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "l|pp", (char**)kwlist, &frames, &keep, &zero))
        return nullptr;
    if (!check(self)) return nullptr;
    if (frames < 0) {
        PyErr_SetString(PyExc_ValueError, "pyext.Buffer.resize: frames must be >= 0");
        return nullptr;
    }
    if (!frames_fit(frames, "resize")) return nullptr;
    t_symbol* sym = self->sym;
    bool found = false;
    run_on_pd([&] {
        if (t_garray* g = find_array(sym)) {
            found = true;
            resize_on_pd(g, frames, keep != 0);
        }
    }, true);
    if (!found) {
        PyErr_Format(PyExc_RuntimeError, "Pd array '%s' not found", sym->s_name);
        return nullptr;
    }
    Py_INCREF(self);
    return (PyObject*)self;
}

PyObject* buf_write(BufferObject* self, PyObject* args, PyObject* kw) {
    static const char* kwlist[] = {"data", "resize", nullptr};
    PyObject* data;
    int resize = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p", (char**)kwlist, &data, &resize)) return nullptr;
    if (!check(self)) return nullptr;
    PyObject* all = PySlice_New(nullptr, nullptr, nullptr);
    int r = assign(self, all, data, resize != 0);
    Py_DECREF(all);
    if (r < 0) return nullptr;
    Py_INCREF(self);
    return (PyObject*)self;
}

PyObject* buf_dirty(BufferObject* self, PyObject*) {
    if (!check(self)) return nullptr;
    schedule_redraw(self);
    Py_RETURN_NONE;
}

PyObject* buf_get_symbol(BufferObject* self, void*) {
    if (!self->symobj) Py_RETURN_NONE;
    Py_INCREF(self->symobj);
    return self->symobj;
}

PyObject* buf_repr(BufferObject* self) {
    return PyUnicode_FromFormat("<pyext.Buffer %s>", self->sym ? self->sym->s_name : "?");
}

// Arithmetic goes through numpy; in-place forms write through and mark the array dirty.
PyObject* to_operand(PyObject* o) {
    if (PyObject_TypeCheck(o, &Buffer_Type)) return as_array(o);
    Py_INCREF(o);
    return o;
}

template <PyObject* (*OP)(PyObject*, PyObject*)>
PyObject* binop(PyObject* a, PyObject* b) {
    PyObject* x = to_operand(a);
    PyObject* y = x ? to_operand(b) : nullptr;
    PyObject* r = y ? OP(x, y) : nullptr;
    Py_XDECREF(x);
    Py_XDECREF(y);
    return r;
}

template <PyObject* (*OP)(PyObject*, PyObject*)>
PyObject* inplace(PyObject* self, PyObject* other) {
    PyObject* arr = as_array(self);
    if (!arr) return nullptr;
    PyObject* y = to_operand(other);
    PyObject* r = y ? OP(arr, y) : nullptr;
    Py_XDECREF(y);
    Py_DECREF(arr);
    if (!r) return nullptr;
    Py_DECREF(r);
    schedule_redraw((BufferObject*)self);
    Py_INCREF(self);
    return self;
}

PyObject* buf_neg(PyObject* self) {
    PyObject* arr = as_array(self);
    PyObject* r = arr ? PyNumber_Negative(arr) : nullptr;
    Py_XDECREF(arr);
    return r;
}

PyTypeObject Buffer_Type = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyNumberMethods buf_number = {};
PySequenceMethods buf_sequence = {};
PyMappingMethods buf_mapping = {};
PyBufferProcs buf_buffer = {};

PyMethodDef buf_methods[] = {
    {"resize", (PyCFunction)(void (*)(void))buf_resize, METH_VARARGS | METH_KEYWORDS,
     "resize(frames, keep=True, zero=True): resize the Pd array; returns the Buffer"},
    {"write", (PyCFunction)(void (*)(void))buf_write, METH_VARARGS | METH_KEYWORDS,
     "write(data, resize=True): copy data (resizing first) in one step on Pd's thread"},
    {"dirty", (PyCFunction)buf_dirty, METH_NOARGS, "dirty(): redraw the array"},
    {"__array__", (PyCFunction)(void (*)(void))buf_array, METH_VARARGS | METH_KEYWORDS,
     "numpy view of the array (numpy uses the buffer protocol first)"},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef buf_getset[] = {
    {"symbol", (getter)buf_get_symbol, nullptr, "the array name", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

}  // namespace

bool buffer_ready(PyObject* module) {
    buf_number.nb_add = binop<PyNumber_Add>;
    buf_number.nb_subtract = binop<PyNumber_Subtract>;
    buf_number.nb_multiply = binop<PyNumber_Multiply>;
    buf_number.nb_true_divide = binop<PyNumber_TrueDivide>;
    buf_number.nb_negative = buf_neg;
    buf_number.nb_inplace_add = inplace<PyNumber_InPlaceAdd>;
    buf_number.nb_inplace_subtract = inplace<PyNumber_InPlaceSubtract>;
    buf_number.nb_inplace_multiply = inplace<PyNumber_InPlaceMultiply>;
    buf_number.nb_inplace_true_divide = inplace<PyNumber_InPlaceTrueDivide>;
    buf_sequence.sq_length = (lenfunc)buf_len;
    buf_sequence.sq_item = (ssizeargfunc)buf_item;
    buf_sequence.sq_ass_item = (ssizeobjargproc)buf_ass_item;
    buf_mapping.mp_length = (lenfunc)buf_len;
    buf_mapping.mp_subscript = (binaryfunc)buf_subscript;
    buf_mapping.mp_ass_subscript = (objobjargproc)buf_ass_subscript;
    buf_buffer.bf_getbuffer = (getbufferproc)buf_getbuffer;
    buf_buffer.bf_releasebuffer = (releasebufferproc)buf_releasebuffer;

    PyTypeObject& t = Buffer_Type;
    t.tp_name = "pyext.Buffer";
    t.tp_basicsize = sizeof(BufferObject);
    t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE;
    t.tp_doc = "Buffer(name): a Pd array (len, indexing, slices as numpy views, resize, dirty).";
    t.tp_new = PyType_GenericNew;
    t.tp_init = (initproc)buf_init;
    t.tp_dealloc = (destructor)buf_dealloc;
    t.tp_repr = (reprfunc)buf_repr;
    t.tp_as_number = &buf_number;
    t.tp_as_sequence = &buf_sequence;
    t.tp_as_mapping = &buf_mapping;
    t.tp_as_buffer = &buf_buffer;
    t.tp_methods = buf_methods;
    t.tp_getset = buf_getset;
    if (PyType_Ready(&t) < 0) return false;
    Py_INCREF(&t);
    return PyModule_AddObject(module, "Buffer", (PyObject*)&t) == 0;
}

// Install the wrappers of buffer.cpp's header comment into Pd's classes (Pd's thread, at
// load time). Pd's method tables are reachable through m_imp.h's struct _class.
void buffer_protect_pd() {
    struct {
        t_class* c;
        const char* name;
        t_method fn;
        t_method* orig;
    } wraps[] = {
        {garray_class, "resize", (t_method)w_garray_resize, &g_garray_resize},
        {garray_class, "arraydialog", (t_method)w_garray_dialog, &g_garray_dialog},
        {garray_class, "sinesum", (t_method)w_garray_sinesum, &g_garray_sinesum},
        {garray_class, "cosinesum", (t_method)w_garray_cosinesum, &g_garray_cosinesum},
        {canvas_class, "bounds", (t_method)w_canvas_bounds, &g_canvas_bounds},
    };
    for (auto& w : wraps)
        if (!w.c || !wrap_method(w.c, w.name, w.fn, w.orig))
            pd_error(nullptr, "py/pyext: could not protect Buffer views from '%s' (Pd version?)",
                     w.name);
    if (garray_class && garray_class->c_freemethod != (t_method)w_garray_free) {
        g_garray_free = garray_class->c_freemethod;
        garray_class->c_freemethod = (t_method)w_garray_free;
    }
}
