// pyext.Buffer: a Pd array seen from Python through the buffer protocol (strided views
// over Pd's t_word elements, no numpy C API).
//
// Safety rules:
//  - The array is looked up by name on every access, never cached.
//  - Structural operations (lookup, resize, slice assignment, write, redraw) run on Pd's
//    thread; a worker hands them over and waits with the GIL released.
//  - Memory exported to views is counted. Buffer.resize while views exist first moves
//    the array onto a fresh copy, so old views keep valid (detached) memory, which is
//    freed when the last view is released.
#include "pyext.hpp"

#include <g_canvas.h>

#include <cstring>
#include <unordered_map>

struct BufferObject {
    PyObject_HEAD
    t_symbol* sym;
    PyObject* symobj;
    std::atomic<bool>* redraw_pending;
};

namespace {

struct Export {
    int count = 0;
    bool orphaned = false;
    size_t bytes = 0;
};
std::mutex g_exp_m;
auto* g_exports = new std::unordered_map<char*, Export>();

PyObject* g_numpy = nullptr;
extern PyTypeObject Buffer_Type;

PyObject* numpy() {
    if (!g_numpy) g_numpy = PyImport_ImportModule("numpy");
    return g_numpy;
}

t_garray* find_array(t_symbol* s) { return (t_garray*)pd_findbyclass(s, garray_class); }

bool get_vec(BufferObject* b, t_word** vec, int* n) {
    t_garray* g = find_array(b->sym);
    if (!g || !garray_getfloatwords(g, n, vec)) {
        PyErr_Format(PyExc_RuntimeError, "Pd array '%s' not found", b->sym->s_name);
        return false;
    }
    return true;
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

// Pd's thread: move exported memory aside before Pd reallocates it.
void detach_exported(t_garray* g) {
    t_array* a = garray_getarray(g);
    std::lock_guard<std::mutex> lk(g_exp_m);
    auto it = g_exports->find(a->a_vec);
    if (it == g_exports->end() || it->second.count == 0) return;
    size_t bytes = (size_t)a->a_n * a->a_elemsize;
    char* copy = (char*)getbytes(bytes ? bytes : 1);
    memcpy(copy, a->a_vec, bytes);
    it->second.orphaned = true;
    it->second.bytes = bytes;
    a->a_vec = copy;
}

void resize_on_pd(t_garray* g, long frames, bool keep) {
    detach_exported(g);
    garray_resize_long(g, frames < 1 ? 1 : frames);
    if (!keep) {
        int n;
        t_word* vec;
        if (garray_getfloatwords(g, &n, &vec))
            for (int i = 0; i < n; i++) vec[i].w_float = 0;
    }
    garray_redraw(g);
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
    run_on_pd([&] {
        sym = gensym(sname.c_str());
        found = find_array(sym) != nullptr;
    }, true);
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
    t_word* vec;
    int n;
    if (!get_vec(self, &vec, &n)) return -1;
    return n;
}

PyObject* buf_item(BufferObject* self, Py_ssize_t i) {
    if (!check(self)) return nullptr;
    t_word* vec;
    int n;
    if (!get_vec(self, &vec, &n)) return nullptr;
    if (i < 0) i += n;
    if (i < 0 || i >= n) {
        PyErr_SetString(PyExc_IndexError, "pyext.Buffer index out of range");
        return nullptr;
    }
    return PyFloat_FromDouble(vec[i].w_float);
}

PyObject* as_array(PyObject* self) {
    PyObject* np = numpy();
    if (!np) return nullptr;
    return PyObject_CallMethod(np, "asarray", "O", self);
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
int assign(BufferObject* self, PyObject* key, PyObject* value, bool resize_to_fit) {
    PyObject* np = numpy();
    if (!np) return -1;
    PyObject* data = PyObject_CallMethod(np, "ascontiguousarray", "Os", value, "float32");
    if (!data) return -1;
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_C_CONTIGUOUS) < 0) {
        Py_DECREF(data);
        return -1;
    }
    Py_ssize_t count = view.len / (Py_ssize_t)sizeof(float);
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
    run_on_pd([&] {
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
        garray_redraw(g);
    }, true);
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
        double v = PyFloat_AsDouble(value);
        if (v == -1.0 && PyErr_Occurred()) return -1;
        t_word* vec;
        int n;
        if (!get_vec(self, &vec, &n)) return -1;
        if (i < 0) i += n;
        if (i < 0 || i >= n) {
            PyErr_SetString(PyExc_IndexError, "pyext.Buffer index out of range");
            return -1;
        }
        vec[i].w_float = (t_float)v;
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
    t_word* vec;
    int n;
    if (!get_vec(self, &vec, &n)) return -1;
    Py_ssize_t* dims = new Py_ssize_t[2]{n, (Py_ssize_t)sizeof(t_word)};
    {
        std::lock_guard<std::mutex> lk(g_exp_m);
        (*g_exports)[(char*)vec].count++;
    }
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
        if (it->second.orphaned) freebytes(vec, it->second.bytes ? it->second.bytes : 1);
        g_exports->erase(it);
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
