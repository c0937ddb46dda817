// Host: the Python side of one pyext object: module search and import, instance
// lifecycle, message dispatch (spec §2.3) and teardown.
#include "pyext.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

// ---------------------------------------------------------------- module search

static void sys_path_append(const std::string& dir) {
    if (dir.empty()) return;
    PyObject* path = PySys_GetObject("path");  // borrowed
    if (!path || !PyList_Check(path)) return;
    PyObject* d = PyUnicode_FromString(dir.c_str());
    if (!d) {
        PyErr_Clear();
        return;
    }
    int has = PySequence_Contains(path, d);
    if (has == 0) PyList_Append(path, d);
    PyErr_Clear();
    Py_DECREF(d);
}

// Find `<name>.py` or `<name>/__init__.py` through Pd's canvas-aware search path (the
// canvas directory, [declare -path], -path and the standard paths) and put its directory
// on sys.path. Returns the name to import (the part after the last '/').
static std::string locate_module(Host* h, const std::string& module, std::string& found_dir) {
    std::string dirpart, name = module;
    size_t slash = module.rfind('/');
    if (slash != std::string::npos) {
        dirpart = module.substr(0, slash + 1);
        name = module.substr(slash + 1);
    }
    std::string top = name.substr(0, name.find('.'));
    char dir[MAXPDSTRING];
    char* fname = nullptr;
    std::string file = dirpart + top;
    int fd = canvas_open(h->canvas, file.c_str(), ".py", dir, &fname, MAXPDSTRING, 0);
    if (fd >= 0) {
        close(fd);
        sys_path_append(dir);
        found_dir = dir;
        return name;
    }
    file = dirpart + top + "/__init__";
    fd = canvas_open(h->canvas, file.c_str(), ".py", dir, &fname, MAXPDSTRING, 0);
    if (fd >= 0) {
        close(fd);
        std::string d(dir);
        size_t s = d.rfind('/');
        found_dir = s == std::string::npos ? d : d.substr(0, s);
        sys_path_append(found_dir);
    }
    return name;
}

PyObject* host_import(Host* h, const std::string& module, bool reload_module) {
    sys_path_append(h->canvas_dir);
    std::string found_dir;
    std::string name = locate_module(h, module, found_dir);
    PyObject* modules = PyImport_GetModuleDict();
    PyObject* existing = PyDict_GetItemString(modules, name.c_str());
    PyObject* mod = (reload_module && existing) ? PyImport_ReloadModule(existing)
                                                : PyImport_ImportModule(name.c_str());
    exit_guard_arm(true);  // after the libraries this import loaded
    if (!mod) {
        report_exception(("pyext: could not import module '" + name + "'").c_str());
        return nullptr;
    }
    // Python's import order wins (sys.modules, installed packages); say so when the file
    // Pd's search path found is not the one imported.
    PyObject* file = found_dir.empty() ? nullptr : PyObject_GetAttrString(mod, "__file__");
    const char* f = file && PyUnicode_Check(file) ? PyUnicode_AsUTF8(file) : nullptr;
    if (f && strncmp(f, found_dir.c_str(), found_dir.size()) != 0)
        console_postf(1, "pyext: warning: module '%s' in %s is shadowed by %s", name.c_str(),
                      found_dir.c_str(), f);
    Py_XDECREF(file);
    PyErr_Clear();
    return mod;
}

bool host_load(Host* h, bool reload_module) {
    PyObject* mod = host_import(h, h->module_name, reload_module);
    if (!mod) return false;
    const std::string& name = h->module_name;
    PyObject* cls = PyObject_GetAttrString(mod, h->class_name.c_str());
    if (!cls) {
        report_exception(("pyext: module '" + name + "' has no class '" + h->class_name + "'").c_str());
        Py_DECREF(mod);
        return false;
    }
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject*)cls, &PyExtBase_Type)) {
        console_postf(1, "pyext: %s.%s is not a subclass of pyext._class", name.c_str(),
                      h->class_name.c_str());
        Py_DECREF(cls);
        Py_DECREF(mod);
        return false;
    }
    Py_XSETREF(h->module, mod);
    Py_XSETREF(h->cls, cls);
    return true;
}

bool host_make_instance(Host* h) {
    PyObject* inst = PyObject_CallMethod(h->cls, "__new__", "O", h->cls);
    if (!inst) {
        report_exception("pyext: could not create the instance");
        return false;
    }
    if (!PyObject_TypeCheck(inst, &PyExtBase_Type)) {
        console_postf(1, "pyext: %s.__new__ did not return a pyext._class", h->class_name.c_str());
        Py_DECREF(inst);
        return false;
    }
    ((PyExtBase*)inst)->host = h;
    h->inst = inst;
    PyObject* args = atoms_to_tuple((int)h->args.size(), h->args.data());
    PyObject* init = args ? PyObject_GetAttrString(inst, "__init__") : nullptr;
    PyObject* r = init ? PyObject_Call(init, args, nullptr) : nullptr;
    Py_XDECREF(init);
    Py_XDECREF(args);
    if (!r) {
        std::string where = "pyext: exception in " + h->module_name + "." + h->class_name + ".__init__";
        report_exception(where.c_str(), h->obj);
        ((PyExtBase*)inst)->host = nullptr;
        h->inst = nullptr;
        Py_DECREF(inst);
        return false;
    }
    Py_DECREF(r);
    return true;
}

int host_count(PyObject* inst, const char* name) {
    PyObject* v = PyObject_GetAttrString(inst, name);
    if (!v) {
        PyErr_Clear();
        return 0;
    }
    if (PyCallable_Check(v)) Py_SETREF(v, PyObject_CallNoArgs(v));
    long n = v ? PyLong_AsLong(v) : -1;
    Py_XDECREF(v);
    if (PyErr_Occurred()) {
        report_exception((std::string("pyext: bad ") + name).c_str());
        return 0;
    }
    return n < 0 ? 0 : (int)n;
}

static void call_hook(Host* h, const char* name) {
    PyObject* fn = PyObject_GetAttrString(h->inst, name);
    if (!fn) {
        PyErr_Clear();
        return;
    }
    PyObject* r = PyObject_CallNoArgs(fn);
    Py_DECREF(fn);
    if (!r) report_exception((std::string("pyext: exception in ") + name).c_str());
    Py_XDECREF(r);
}

void host_drop_instance(Host* h) {
    PyObject* inst = h->inst;
    if (!inst) return;
    bind_clear(h);
    call_hook(h, "_del");
    ((PyExtBase*)inst)->host = nullptr;
    h->inst = nullptr;
    Py_DECREF(inst);  // runs __del__ if nothing else holds the instance
}

void host_teardown(Host* h) {
    if (h->torn_down.exchange(true)) return;
    host_drop_instance(h);
}

// ---------------------------------------------------------------- dispatch

enum Call { NOT_FOUND, CALLED };

static Call try_call(Host* h, PyObject* inst, const char* name, PyObject* args) {
    PyObject* fn = PyObject_GetAttrString(inst, name);
    if (!fn) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            return NOT_FOUND;
        }
        report_exception((std::string("pyext: error looking up ") + name).c_str());
        return CALLED;
    }
    PyObject* r = PyObject_Call(fn, args, nullptr);
    Py_DECREF(fn);
    if (!r) {
        std::string where = "pyext: exception in " + h->class_name + "." + name;
        report_exception(where.c_str(), h->obj);
        return CALLED;
    }
    if (r != Py_None) {
        int truth = PyObject_IsTrue(r);
        PyErr_Clear();
        if (truth > 0) console_postf(0, "pyext: %s.%s: returned value is ignored", h->class_name.c_str(), name);
    }
    Py_DECREF(r);
    return CALLED;
}

static PyObject* prepend(PyObject* first, PyObject* second, PyObject* rest) {
    Py_ssize_t n = PyTuple_GET_SIZE(rest), k = second ? 2 : 1;
    PyObject* t = PyTuple_New(n + k);
    Py_INCREF(first);
    PyTuple_SET_ITEM(t, 0, first);
    if (second) {
        Py_INCREF(second);
        PyTuple_SET_ITEM(t, 1, second);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject* v = PyTuple_GET_ITEM(rest, i);
        Py_INCREF(v);
        PyTuple_SET_ITEM(t, i + k, v);
    }
    return t;
}

static void respond(Host* h, bool found) {
    OutMsg m;
    m.sel = "response";
    m.atoms.resize(1);
    m.atoms[0].f = found ? 1 : 0;
    if (on_pd_thread()) {
        if (h->alive.load() && h->attr_outlet) msg_to_outlet(h->attr_outlet, m);
    } else {
        out_outlet(h->shared_from_this(), -1, std::move(m));
    }
}

// The argument tuples of the dispatch steps, built on first use.
struct DispatchArgs {
    int n, argc;
    t_symbol* sel;
    const t_atom* argv;
    bool is_float, typed;
    PyObject *args = nullptr, *intargs = nullptr, *anyargs = nullptr, *inlet = nullptr, *selsym = nullptr;

    DispatchArgs(int n_, t_symbol* s, int c, const t_atom* v)
        : n(n_), argc(c), sel(s), argv(v),
          is_float(s == &s_float && c == 1 && v[0].a_type == A_FLOAT),
          typed(s == &s_float || s == &s_list || s == &s_symbol) {
        args = atoms_to_tuple(argc, argv);
        selsym = symbol_from_pd(sel);
        inlet = PyLong_FromLong(n);
    }
    ~DispatchArgs() {
        Py_XDECREF(args);
        Py_XDECREF(intargs);
        Py_XDECREF(anyargs);
        Py_XDECREF(inlet);
        Py_XDECREF(selsym);
    }
    bool ok() const { return args && selsym && inlet; }
    PyObject* as_int() {  // (trunc(x),)
        if (!intargs) intargs = Py_BuildValue("(L)", (long long)std::trunc(argv[0].a_w.w_float));
        return intargs;
    }
    PyObject* as_anything() {  // (Symbol(sel), *a) for anything messages, (*a) otherwise
        if (!anyargs) anyargs = typed ? (Py_INCREF(args), args) : prepend(selsym, nullptr, args);
        return anyargs;
    }
    PyObject* with_inlet_anything() {  // (n, *anything); plain bang: (n, 'bang', '')
        if (sel == &s_bang && argc == 0) {
            PyObject* empty = symbol_from_pd(&s_);
            PyObject* tail = PyTuple_Pack(1, empty);
            PyObject* t = prepend(inlet, selsym, tail);
            Py_DECREF(tail);
            Py_DECREF(empty);
            return t;
        }
        return prepend(inlet, nullptr, as_anything());
    }
};

// An opaque Python object (@py 1) into inlet n: _anything_n(obj), then _anything_(n, obj),
// as the original (its selector is no Python name).
static bool dispatch_object(Host* h, int n, t_symbol* sel, int argc, const t_atom* argv) {
    std::string who = std::string(h->kind) + ": " + h->class_name;
    PyObject* obj = pyobjref_lookup(sel, argc, argv, h->obj, who.c_str());
    if (!obj) return false;
    PyObject* keep = h->inst;
    Py_INCREF(keep);
    char name[64];
    snprintf(name, sizeof(name), "_anything_%d", n);
    PyObject* a = PyTuple_Pack(1, obj);
    Call c = try_call(h, keep, name, a);
    Py_DECREF(a);
    if (c == NOT_FOUND) {
        PyObject* inlet = PyLong_FromLong(n);
        a = PyTuple_Pack(2, inlet, obj);
        c = try_call(h, keep, "_anything_", a);
        Py_DECREF(a);
        Py_DECREF(inlet);
    }
    if (c == NOT_FOUND)
        console_postf(1, "pyext: %s: no method for a Python object (%s) into inlet %d: define "
                      "_anything_%d or _anything_", h->class_name.c_str(), Py_TYPE(obj)->tp_name,
                      n, n);
    Py_DECREF(obj);
    if (h->respond.load()) respond(h, c != NOT_FOUND);
    Py_DECREF(keep);
    return c != NOT_FOUND;
}

bool host_dispatch(Host* h, int n, t_symbol* sel, int argc, const t_atom* argv) {
    if (!h->inst) {
        if (h->alive.load())
            console_postf(1, "pyext: %s has no Python instance (a reload failed); fix the script "
                          "and send 'reload.'", h->class_name.c_str());
        return false;
    }
    if (pyobjref_is(sel, argc, argv)) return dispatch_object(h, n, sel, argc, argv);
    PyObject* keep = h->inst;  // a reload may replace h->inst while we run
    Py_INCREF(keep);
    DispatchArgs d(n, sel, argc, argv);
    char name[MAXPDSTRING + 32];
    Call c = NOT_FOUND;
    if (d.ok()) {
        snprintf(name, sizeof(name), "%s_%d", sel->s_name, n);  // 1. sel_n(*a)
        c = try_call(h, keep, name, d.args);
        if (c == NOT_FOUND && d.is_float) {                     // 2. int_n(trunc(x))
            snprintf(name, sizeof(name), "int_%d", n);
            c = try_call(h, keep, name, d.as_int());
        }
        if (c == NOT_FOUND) {                                    // 3. _anything_n(...)
            snprintf(name, sizeof(name), "_anything_%d", n);
            c = try_call(h, keep, name, d.as_anything());
        }
        if (c == NOT_FOUND) {                                    // 4. sel_(n, *a)
            snprintf(name, sizeof(name), "%s_", sel->s_name);
            PyObject* a = prepend(d.inlet, nullptr, d.args);
            c = try_call(h, keep, name, a);
            Py_DECREF(a);
        }
        if (c == NOT_FOUND && d.is_float) c = try_call(h, keep, "int_", d.as_int());  // 5. no inlet
        if (c == NOT_FOUND) {                                    // 6. _anything_(n, ...)
            PyObject* a = d.with_inlet_anything();
            c = try_call(h, keep, "_anything_", a);
            Py_DECREF(a);
        }
        if (c == NOT_FOUND)                                      // 7.
            console_postf(1, "pyext: %s: no matching method found for '%s' into inlet %d",
                          h->class_name.c_str(), sel->s_name, n);
    } else {
        report_exception("pyext: could not convert the message");
    }
    if (h->respond.load()) respond(h, c != NOT_FOUND);
    exit_guard_arm(false);  // after libraries a handler may have imported
    Py_DECREF(keep);
    return c != NOT_FOUND;
}

void host_message(Host* h, int inlet, t_symbol* sel, int argc, t_atom* argv) {
    if (!h->alive.load()) return;
    int mode = h->sync() ? 0 : h->detach.load();
    if (mode == 0) {
        Gil gil;
        host_dispatch(h, inlet, sel, argc, argv);
        return;
    }
    InMsg m;
    if (pyobjref_is(sel, argc, argv)) {  // keep the object valid until the worker has it
        bool ok;
        std::string who = std::string(h->kind) + ": " + h->class_name;
        m.pin = pyobjref_pin(sel, argc, argv, h->obj, who.c_str(), &ok);
        if (!ok) return;
    }
    m.inlet = inlet;
    m.sel = sel;
    m.atoms.assign(argv, argv + argc);
    if (mode == 1)
        worker_post(h->shared_from_this(), std::move(m));
    else
        worker_spawn(h->shared_from_this(), std::move(m));
}

// The stopped calls have all ended: new calls run normally again.
static void stop_finished(Host* h) {
    if (h->stop_pending.exchange(false) && h->alive.load()) h->shouldexit.store(false);
}

void host_call_ended(Host* h) {
    if (h->running.load() == 0) stop_finished(h);
}

static void stop_report(Host* h) {  // Pd's thread, `ms` after a stop
    int n = h->running.load();
    if (h->alive.load() && h->stop_pending.load() && n > 0)
        pd_error(h->obj, "pyext: %s: %d detached call(s) still running %d ms after stop",
                 h->class_name.c_str(), n, h->stop_ms);
}

// Pd's thread never waits for a worker (the worker may need Pd's thread to finish: a
// Buffer operation, _bind): set the flag, drop what is queued, return; a clock reports
// later whatever still runs. Order matters: stop_pending is set before running is read,
// and host_call_ended reads stop_pending after running dropped, so one of them clears it.
void host_stop(Host* h, int ms) {
    h->stop_count.fetch_add(1);  // before shouldexit, which may be cleared again at once
    h->stop_pending.store(true);
    h->shouldexit.store(true);
    worker_clear(h);
    if (h->running.load() == 0) stop_finished(h);
    HostPtr keep = h->shared_from_this();
    run_on_pd([keep, ms] {
        Host* x = keep.get();
        if (!x->alive.load()) return;
        if (!x->stop_clock) x->stop_clock = clock_new(x, (t_method)stop_report);
        x->stop_ms = ms < 0 ? 0 : ms;
        clock_delay(x->stop_clock, x->stop_ms);
    }, false);
}

void host_free(HostPtr& hp) {
    Host* h = hp.get();
    h->alive.store(false);
    h->shouldexit.store(true);
    h->outlets_ready = false;
    if (h->stop_clock) {
        clock_free(h->stop_clock);
        h->stop_clock = nullptr;
    }
    stream_free(h);
    for (t_pd* p : h->inlet_proxies) pd_free(p);
    h->inlet_proxies.clear();
    if (!interp_ok()) return;
    bind_unbind_pd(h);
    if (h->worker) {
        worker_shutdown(hp);  // the worker runs _del and drops the instance when it is free
    } else if (h->running.load() == 0) {
        Gil gil;
        host_teardown(h);
    }  // else the last detach-2 thread tears down
}
