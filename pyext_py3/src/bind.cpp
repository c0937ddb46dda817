// _bind/_unbind: Pd receivers that call Python callables, always on Pd's thread.
#include "pyext.hpp"

#include <algorithm>

struct Binding {
    t_pd pd;
    Host* host;
    t_symbol* sym;
    PyObject* fns;  // list of callables (GIL)
    bool bound;
};

static t_class* g_bind_class = nullptr;

static void binding_anything(Binding* b, t_symbol* sel, int argc, t_atom* argv) {
    if (!b->fns || !b->host || !b->host->alive.load()) return;
    Gil gil;
    if (!b->fns) return;
    bool typed = sel == &s_float || sel == &s_list || sel == &s_symbol;
    PyObject* args = nullptr;
    if (pyobjref_is(sel, argc, argv)) {  // a Python object sent with @py 1: the object itself
        PyObject* obj = pyobjref_lookup(sel, argc, argv, nullptr, b->sym->s_name);
        if (!obj) return;  // expired or malformed: one line was posted
        args = PyTuple_Pack(1, obj);
        Py_DECREF(obj);
        typed = true;
    } else {
        args = atoms_to_tuple(argc, argv);
    }
    if (args && !typed) {
        PyObject* s = symbol_from_pd(sel);
        PyObject* t = PyTuple_New(argc + 1);
        PyTuple_SET_ITEM(t, 0, s);
        for (int i = 0; i < argc; i++) {
            Py_INCREF(PyTuple_GET_ITEM(args, i));
            PyTuple_SET_ITEM(t, i + 1, PyTuple_GET_ITEM(args, i));
        }
        Py_SETREF(args, t);
    }
    PyObject* fns = PySequence_List(b->fns);  // a callable may unbind itself
    for (Py_ssize_t i = 0; args && fns && i < PyList_GET_SIZE(fns); i++) {
        PyObject* r = PyObject_Call(PyList_GET_ITEM(fns, i), args, nullptr);
        if (!r) report_exception((std::string("pyext: exception in callable bound to ") + b->sym->s_name).c_str());
        Py_XDECREF(r);
    }
    Py_XDECREF(fns);
    Py_XDECREF(args);
}

static Binding* find(Host* h, t_symbol* s) {
    for (Binding* b : h->bindings)
        if (b->sym == s) return b;
    return nullptr;
}

bool bind_add(Host* h, const char* name, PyObject* fn) {
    if (!g_bind_class) {
        g_bind_class = class_new(gensym("pyext-bind"), nullptr, nullptr, sizeof(Binding), CLASS_PD, A_NULL);
        class_addanything(g_bind_class, (t_method)binding_anything);
    }
    t_symbol* s = gensym(name);
    Binding* b = find(h, s);
    if (!b) {
        b = (Binding*)pd_new(g_bind_class);
        b->host = h;
        b->sym = s;
        b->fns = PyList_New(0);
        b->bound = true;
        pd_bind(&b->pd, s);
        h->bindings.push_back(b);
    }
    return PyList_Append(b->fns, fn) == 0;
}

static void release(Binding* b) {
    if (b->bound && on_pd_thread_raw()) {
        pd_unbind(&b->pd, b->sym);
        b->bound = false;
    }
    Py_CLEAR(b->fns);
    b->host = nullptr;
    // Freed later: we may be inside this binding's own message.
    defer_on_pd([b] {
        if (b->bound) pd_unbind(&b->pd, b->sym);
        pd_free(&b->pd);
    });
}

bool bind_remove(Host* h, const char* name, PyObject* fn) {
    Binding* b = find(h, gensym(name));
    if (!b) return false;
    bool removed = false;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(b->fns); i++) {
        int eq = PyObject_RichCompareBool(PyList_GET_ITEM(b->fns, i), fn, Py_EQ);
        if (eq > 0) {
            PySequence_DelItem(b->fns, i);
            removed = true;
            break;
        }
        PyErr_Clear();
    }
    if (PyList_GET_SIZE(b->fns) == 0) {
        h->bindings.erase(std::find(h->bindings.begin(), h->bindings.end(), b));
        release(b);
    }
    return removed;
}

void bind_unbind_pd(Host* h) {
    for (Binding* b : h->bindings)
        if (b->bound) {
            pd_unbind(&b->pd, b->sym);
            b->bound = false;
        }
}

void bind_clear(Host* h) {
    for (Binding* b : h->bindings) release(b);
    h->bindings.clear();
}
