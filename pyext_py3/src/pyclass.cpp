// pyext._class: the base class of scripts. Instances carry a C pointer to their Host.
#include "pyext.hpp"

#include <cstddef>

PyObject* mod_send(PyObject*, PyObject* args);        // module.cpp
PyObject* mod_samplerate(PyObject*, PyObject*);
PyObject* mod_blocksize(PyObject*, PyObject*);

static Host* host_or_raise(PyObject* self) {
    Host* h = ((PyExtBase*)self)->host;
    if (!h) PyErr_SetString(PyExc_RuntimeError, "this pyext object is not (or no longer) in Pd");
    return h;
}

static PyObject* cls_outlet(PyObject* self, PyObject* args) {
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n < 1) {
        PyErr_SetString(PyExc_TypeError, "_outlet(n, *message) needs an outlet number");
        return nullptr;
    }
    long index = PyLong_AsLong(PyTuple_GET_ITEM(args, 0));
    if (index == -1 && PyErr_Occurred()) return nullptr;
    Host* h = host_or_raise(self);
    if (!h) return nullptr;
    if (!h->outlets_ready) {
        PyErr_SetString(PyExc_RuntimeError,
                        "_outlet: the outlets do not exist yet (use _init instead of __init__)");
        return nullptr;
    }
    if (index < 1 || index > h->n_out) {
        PyErr_Format(PyExc_ValueError, "_outlet: outlet %ld out of range (1..%d)", index, h->n_out);
        return nullptr;
    }
    OutMsg m;
    if (h->pymsg.load()) {  // @py 1: the object itself (several arguments: their tuple)
        PyObject* v = n == 2 ? (Py_INCREF(PyTuple_GET_ITEM(args, 1)), PyTuple_GET_ITEM(args, 1))
                             : PyTuple_GetSlice(args, 1, n);
        if (!v) return nullptr;
        pyobjref_message(v, !on_pd_thread(), m);
        Py_DECREF(v);
    } else if (n == 2) {
        if (!py_to_msg(PyTuple_GET_ITEM(args, 1), m)) return nullptr;
    } else {
        PyObject* rest = PyTuple_GetSlice(args, 1, n);
        if (!rest) return nullptr;
        bool ok = py_to_msg(rest, m);
        Py_DECREF(rest);
        if (!ok) return nullptr;
    }
    if (on_pd_thread()) {
        if (h->alive.load()) msg_to_outlet(h->outlets[index - 1], m);
    } else {
        out_outlet(h->shared_from_this(), (int)index - 1, std::move(m));
    }
    Py_RETURN_NONE;
}

static PyObject* cls_detach(PyObject* self, PyObject* args) {
    int mode;
    if (!PyArg_ParseTuple(args, "i", &mode)) return nullptr;
    if (mode < 0 || mode > 2) {
        PyErr_SetString(PyExc_ValueError, "_detach: mode must be 0, 1 or 2");
        return nullptr;
    }
    Host* h = host_or_raise(self);
    if (!h) return nullptr;
    h->detach.store(mode);
    Py_RETURN_NONE;
}

static PyObject* bind_common(PyObject* self, PyObject* args, bool add) {
    const char* name;
    PyObject* fn;
    if (!PyArg_ParseTuple(args, "sO", &name, &fn)) return nullptr;
    if (add && !PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "_bind: the second argument must be callable");
        return nullptr;
    }
    Host* h = host_or_raise(self);
    if (!h) return nullptr;
    bool ok = false;
    std::string sname(name);
    Py_INCREF(fn);
    HostPtr keep = h->shared_from_this();
    run_on_pd([&, keep] {
        Gil gil;
        if (keep->alive.load())
            ok = add ? bind_add(keep.get(), sname.c_str(), fn) : bind_remove(keep.get(), sname.c_str(), fn);
    }, true);
    Py_DECREF(fn);
    return PyBool_FromLong(ok);
}

static PyObject* cls_bind(PyObject* self, PyObject* args) { return bind_common(self, args, true); }
static PyObject* cls_unbind(PyObject* self, PyObject* args) { return bind_common(self, args, false); }

static PyObject* cls_stop(PyObject* self, PyObject* args, PyObject* kw) {
    static const char* kwlist[] = {"ms", nullptr};
    int ms = 100;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|i", (char**)kwlist, &ms)) return nullptr;
    Host* h = host_or_raise(self);
    if (!h) return nullptr;
    host_stop(h, ms);  // never waits
    Py_RETURN_NONE;
}

static PyObject* vec_common(PyObject* self, PyObject* args, bool out) {
    int i;
    if (!PyArg_ParseTuple(args, "i", &i)) return nullptr;
    Host* h = host_or_raise(self);
    if (!h) return nullptr;
    return stream_vec(h, i, out);
}
static PyObject* cls_invec(PyObject* self, PyObject* args) { return vec_common(self, args, false); }
static PyObject* cls_outvec(PyObject* self, PyObject* args) { return vec_common(self, args, true); }

static PyObject* cls_sync(PyObject* self, PyObject*) {
    Host* h = ((PyExtBase*)self)->host;
    return PyBool_FromLong(h ? h->sync() : batch_mode());
}

// _tocanvas(*msg): a message to the parent canvas (dynamic patching), on Pd's thread.
static PyObject* cls_tocanvas(PyObject* self, PyObject* args) {
    Host* h = host_or_raise(self);
    if (!h) return nullptr;
    OutMsg m;
    if (!py_to_msg(args, m)) return nullptr;
    if (m.sel == "list" && !m.atoms.empty() && m.atoms[0].is_symbol) {  // "obj 10 10 f" etc.
        m.sel = m.atoms[0].s;
        m.atoms.erase(m.atoms.begin());
    }
    HostPtr keep = h->shared_from_this();
    run_on_pd([keep, m] {
        if (keep->alive.load() && keep->canvas) msg_to_pd((t_pd*)keep->canvas, m);
    }, false);
    Py_RETURN_NONE;
}

static PyObject* cls_str(PyObject* self) {
    return PyUnicode_FromFormat("<pyext object %p>", self);
}

static PyObject* get_shouldexit(PyObject* self, void*) {
    Host* h = ((PyExtBase*)self)->host;
    return PyBool_FromLong(!h || h->shouldexit.load() || !h->alive.load());
}

// _shouldexit is cleared as soon as the stopped calls have returned, which a thread that
// Python code started may never see; the count of stops never goes back.
static PyObject* get_stopcount(PyObject* self, void*) {
    Host* h = ((PyExtBase*)self)->host;
    return PyLong_FromUnsignedLong(h ? h->stop_count.load() : 0);
}

static PyObject* get_canvas_dir(PyObject* self, void*) {
    Host* h = ((PyExtBase*)self)->host;
    if (!h) Py_RETURN_NONE;
    return PyUnicode_FromString(h->canvas_dir.c_str());
}

static PyObject* get_isthreaded(PyObject*, void*) { Py_RETURN_TRUE; }

static PyObject* get_this(PyObject* self, void*) {
    Host* h = ((PyExtBase*)self)->host;
    if (!h) Py_RETURN_NONE;
    return PyLong_FromVoidPtr(h);
}

static PyMethodDef cls_methods[] = {
    {"_outlet", cls_outlet, METH_VARARGS, "_outlet(n, *message): send to Python outlet n (1-based)"},
    {"_detach", cls_detach, METH_VARARGS, "_detach(mode): 0 synchronous, 1 worker, 2 thread per call"},
    {"_bind", cls_bind, METH_VARARGS, "_bind(name, callable): receive messages sent to name"},
    {"_unbind", cls_unbind, METH_VARARGS, "_unbind(name, callable)"},
    {"_stop", (PyCFunction)(void (*)(void))cls_stop, METH_VARARGS | METH_KEYWORDS,
     "_stop(ms=100): ask detached calls to end (sets _shouldexit, drops queued messages); "
     "returns at once, calls still running after ms are reported"},
    {"_invec", cls_invec, METH_VARARGS, "_invec(i): input signal vector i (numpy float32)"},
    {"_outvec", cls_outvec, METH_VARARGS, "_outvec(i): output signal vector i (numpy float32)"},
    {"_sync", cls_sync, METH_NOARGS, "True if this object runs synchronously (@sync 1 or -batch)"},
    {"_tocanvas", cls_tocanvas, METH_VARARGS, "_tocanvas(*msg): send a message to the parent canvas"},
    {"_send", mod_send, METH_VARARGS | METH_STATIC, "_send(receiver, *message)"},
    {"_samplerate", mod_samplerate, METH_NOARGS | METH_STATIC, "Pd's sample rate"},
    {"_blocksize", mod_blocksize, METH_NOARGS | METH_STATIC, "Pd's block size"},
    {nullptr, nullptr, 0, nullptr}};

static PyGetSetDef cls_getset[] = {
    {"_shouldexit", get_shouldexit, nullptr, "True after stop or once the Pd object is gone"},
    {"_stopcount", get_stopcount, nullptr,
     "how many times stop (or _stop) was sent: threads of the object's own compare it"},
    {"_canvas_dir", get_canvas_dir, nullptr, "directory of the patch containing the object"},
    {"_isthreaded", get_isthreaded, nullptr, "True: detached calls are supported"},
    {"_this", get_this, nullptr, "private: the C host pointer"},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

static int cls_init(PyObject*, PyObject*, PyObject*) { return 0; }

static void cls_dealloc(PyObject* self) {
    if (((PyExtBase*)self)->weakrefs) PyObject_ClearWeakRefs(self);
    Py_TYPE(self)->tp_free(self);
}

PyTypeObject PyExtBase_Type = {PyVarObject_HEAD_INIT(nullptr, 0)};

bool pyclass_ready(PyObject* module) {
    PyTypeObject& t = PyExtBase_Type;
    t.tp_name = "pyext._class";
    t.tp_basicsize = sizeof(PyExtBase);
    t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE;
    t.tp_doc = "Base class of pyext scripts: subclass it and define handlers like bang_1.";
    t.tp_new = PyType_GenericNew;
    t.tp_init = cls_init;
    t.tp_dealloc = cls_dealloc;
    t.tp_str = cls_str;
    t.tp_methods = cls_methods;
    t.tp_getset = cls_getset;
    t.tp_weaklistoffset = offsetof(PyExtBase, weakrefs);
    if (PyType_Ready(&t) < 0) return false;
    Py_INCREF(&t);
    return PyModule_AddObject(module, "_class", (PyObject*)&t) == 0;
}
