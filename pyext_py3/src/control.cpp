// Messages into the leftmost inlet (spec §1.6) and attributes (@detach, @sync, @respond).
// All on Pd's thread; replies go to the attribute (rightmost) outlet.
#include "pyext.hpp"

#include <cstring>

void attr_out(Host* h, const char* sel, int argc, t_atom* argv) {
    if (h->attr_outlet) outlet_anything(h->attr_outlet, gensym(sel), argc, argv);
}

static void attr_out_msg(Host* h, const char* sel, const OutMsg& m) {
    std::vector<t_atom> v = msg_atoms(m);
    if (m.sel != "bang" && m.sel != "float" && m.sel != "symbol" && m.sel != "list") {
        t_atom a;
        SETSYMBOL(&a, gensym(m.sel.c_str()));
        v.insert(v.begin(), a);
    }
    attr_out(h, sel, (int)v.size(), v.data());
}

static void out_names(Host* h, const char* sel, PyObject* obj) {
    PyObject* names = PyObject_Dir(obj);
    if (!names) {
        report_exception("pyext: dir failed");
        return;
    }
    OutMsg m;
    bool ok = py_to_msg(names, m);
    Py_DECREF(names);
    if (!ok) {
        report_exception("pyext: dir failed");
        return;
    }
    m.sel = "list";
    attr_out_msg(h, sel, m);
}

static void post_doc(PyObject* obj) {
    PyObject* doc = obj ? PyObject_GetAttrString(obj, "__doc__") : nullptr;
    if (doc && PyUnicode_Check(doc)) {
        std::string text = PyUnicode_AsUTF8(doc);
        size_t start = 0;
        while (start <= text.size()) {
            size_t nl = text.find('\n', start);
            if (nl == std::string::npos) nl = text.size();
            post("%s", text.substr(start, nl - start).c_str());
            start = nl + 1;
        }
    } else {
        post("(no documentation)");
    }
    PyErr_Clear();
    Py_XDECREF(doc);
}

static void post_help(Host* h) {
    post("%s: [%s {nin nout} module class {args...} {@detach 0|1|2} {@sync 0|1} {@respond 0|1} "
         "{@py 0|1}]",
         h->kind, h->kind);
    post("  leftmost inlet: reload [args], reload., dir, dir+, doc, doc+, help, get name,");
    post("  set name value..., detach n, stop [ms], sync n, respond n, getattributes, get<attr>");
    post("  Python inlets 1..n call <sel>_<n>, int_<n>, _anything_<n>, <sel>_, int_, _anything_");
}

// Reload the module's code and re-create this object's instance only (_del and __del__
// of the old one first). Other objects of the module keep their instance, its state and
// its class (the old class object; module globals are the reloaded ones, as with
// Python's own reload).
static void do_reload(Host* h, bool keep_args, int argc, t_atom* argv) {
    if (!keep_args) h->args.assign(argv, argv + argc);
    Gil gil;
    h->shouldexit.store(true);
    worker_clear(h);
    host_drop_instance(h);
    h->shouldexit.store(false);
    if (!host_load(h, true) || !host_make_instance(h)) return;
    int nin = host_count(h->inst, "_inlets"), nout = host_count(h->inst, "_outlets");
    if ((nin != h->n_in || nout != h->n_out) && !h->counts_given)
        console_postf(1, "pyext: reload cannot change the number of inlets/outlets (%d %d kept)",
                      h->n_in, h->n_out);
    PyObject* fn = PyObject_GetAttrString(h->inst, "_init");
    if (fn) {
        PyObject* r = PyObject_CallNoArgs(fn);
        if (!r) report_exception("pyext: exception in _init");
        Py_XDECREF(r);
        Py_DECREF(fn);
    } else {
        PyErr_Clear();
    }
}

static void do_get(Host* h, int argc, t_atom* argv) {
    if (argc < 1 || argv[0].a_type != A_SYMBOL || !h->inst) {
        pd_error(h->obj, "pyext: get needs an attribute name");
        return;
    }
    t_symbol* name = argv[0].a_w.w_symbol;
    Gil gil;
    PyObject* v = PyObject_GetAttrString(h->inst, name->s_name);
    if (!v) {
        report_exception("pyext: get");
        return;
    }
    OutMsg m;
    bool ok = py_to_msg(v, m);
    Py_DECREF(v);
    if (!ok) {
        report_exception("pyext: get");
        return;
    }
    std::vector<t_atom> atoms = msg_atoms(m);
    if (m.sel != "bang" && m.sel != "float" && m.sel != "symbol" && m.sel != "list") {
        t_atom a;
        SETSYMBOL(&a, gensym(m.sel.c_str()));
        atoms.insert(atoms.begin(), a);
    }
    t_atom a;
    SETSYMBOL(&a, name);
    atoms.insert(atoms.begin(), a);
    attr_out(h, "get", (int)atoms.size(), atoms.data());
}

static void do_set(Host* h, int argc, t_atom* argv) {
    if (argc < 2 || argv[0].a_type != A_SYMBOL || !h->inst) {
        pd_error(h->obj, "pyext: set needs an attribute name and a value");
        return;
    }
    const char* name = argv[0].a_w.w_symbol->s_name;
    if (name[0] == '_') {
        pd_error(h->obj, "pyext: set: attribute names starting with '_' are reserved");
        return;
    }
    Gil gil;
    if (!PyObject_HasAttrString(h->inst, name)) {
        pd_error(h->obj, "pyext: set: no attribute '%s' (only existing attributes can be set)", name);
        return;
    }
    PyObject* v = argc == 2 ? atom_to_py(argv + 1) : atoms_to_tuple(argc - 1, argv + 1);
    if (!v || PyObject_SetAttrString(h->inst, name, v) < 0) report_exception("pyext: set");
    Py_XDECREF(v);
}

static bool is_flag(const char* name) {
    return !strcmp(name, "detach") || !strcmp(name, "sync") || !strcmp(name, "respond") ||
           !strcmp(name, "py");
}

// False for a name that is no flag, so the caller says "no method" or "unknown attribute"
// (checking the argument first told a user that 'load guitar' "needs a number").
static bool set_flag(Host* h, const char* name, int argc, t_atom* argv) {
    if (!is_flag(name)) return false;
    if (argc < 1 || argv[0].a_type != A_FLOAT) {
        pd_error(h->obj, "pyext: %s needs a number", name);
        return true;
    }
    int v = (int)argv[0].a_w.w_float;
    if (!strcmp(name, "detach")) {
        if (v < 0 || v > 2) pd_error(h->obj, "pyext: detach must be 0, 1 or 2");
        else h->detach.store(v);
    } else if (!strcmp(name, "sync")) {
        h->sync_attr.store(v != 0 ? 1 : 0);
    } else if (!strcmp(name, "respond")) {
        h->respond.store(v != 0);
    } else if (!strcmp(name, "py")) {
        h->pymsg.store(v != 0);
    } else {
        return false;
    }
    return true;
}

static bool get_attr(Host* h, const char* name) {
    t_atom a;
    if (!strcmp(name, "detach")) SETFLOAT(&a, h->detach.load());
    else if (!strcmp(name, "sync")) SETFLOAT(&a, h->sync() ? 1 : 0);
    else if (!strcmp(name, "respond")) SETFLOAT(&a, h->respond.load() ? 1 : 0);
    else if (!strcmp(name, "py")) SETFLOAT(&a, h->pymsg.load() ? 1 : 0);
    else if (!strcmp(name, "args")) {
        attr_out(h, "args", (int)h->args.size(), h->args.data());
        return true;
    } else if (!strcmp(name, "dir+")) {
        Gil gil;
        if (h->inst) out_names(h, "dir+", h->inst);
        return true;
    } else if (!strcmp(name, "latency") || !strcmp(name, "underruns")) {
        if (!h->streaming)
            pd_error(h->obj, "%s: %s: get%s: this object does not stream (only [pyext~] classes "
                     "with _chunk and process() do)", h->kind, h->class_name.c_str(), name);
        else if (!stream_report(h))
            pd_error(h->obj, "%s: %s: get%s: not streaming yet (switch DSP on)", h->kind,
                     h->class_name.c_str(), name);
        return true;
    } else {
        return false;
    }
    attr_out(h, name, 1, &a);
    return true;
}

// How many arguments each control message takes; more (or fewer) is refused with one line
// rather than ignored. reload, reload., args and set take any number (checked by them).
struct Arity {
    const char* name;
    int min, max;
    const char* usage;
};
static const Arity kArities[] = {
    {"dir", 0, 0, "dir"},        {"dir+", 0, 0, "dir+"},
    {"doc", 0, 0, "doc"},        {"doc+", 0, 0, "doc+"},
    {"help", 0, 0, "help"},      {"edit", 0, 0, "edit"},
    {"get", 1, 1, "get <name>"}, {"stop", 0, 1, "stop [ms]"},
    {"getattributes", 0, 0, "getattributes"},
    {"getmethods", 0, 0, "getmethods"},
    {"detach", 1, 1, "detach 0|1|2"},
    {"sync", 1, 1, "sync 0|1"},  {"respond", 1, 1, "respond 0|1"},
    {"py", 1, 1, "py 0|1"},
};

static bool arity_ok(Host* h, const char* s, int argc) {
    for (const Arity& a : kArities) {
        if (strcmp(s, a.name)) continue;
        if (argc >= a.min && argc <= a.max) return true;
        pd_error(h->obj, "pyext: %s: usage: %s (got %d argument%s)", h->class_name.c_str(),
                 a.usage, argc, argc == 1 ? "" : "s");
        return false;
    }
    if (!strncmp(s, "get", 3) && s[3] && argc > 0) {  // get<attr> takes none
        pd_error(h->obj, "pyext: %s: usage: %s (got %d argument%s)", h->class_name.c_str(), s,
                 argc, argc == 1 ? "" : "s");
        return false;
    }
    return true;
}

bool host_control(Host* h, t_symbol* sel, int argc, t_atom* argv) {
    const char* s = sel->s_name;
    if (s[0] == '@') s++;  // "@detach 1" as a message
    if (!interp_ok()) return false;
    if (pyobjref_is(sel, argc, argv)) {
        pd_error(h->obj, "%s: a Python object (PyObject message) into the leftmost inlet, which "
                 "takes control messages only: connect it to a Python inlet", h->kind);
        return true;
    }
    if (!arity_ok(h, s, argc)) return true;
    if (!strcmp(s, "reload") || !strcmp(s, "reload.")) {
        do_reload(h, s[6] == '.', argc, argv);
    } else if (!strcmp(s, "args")) {  // @args: new constructor arguments, then reload
        do_reload(h, false, argc, argv);
    } else if (!strcmp(s, "dir")) {
        Gil gil;
        if (h->module) out_names(h, "dir", h->module);
    } else if (!strcmp(s, "dir+")) {
        get_attr(h, "dir+");
    } else if (!strcmp(s, "doc")) {
        Gil gil;
        post_doc(h->module);
    } else if (!strcmp(s, "doc+")) {
        Gil gil;
        post_doc(h->cls);
    } else if (!strcmp(s, "help")) {
        post_help(h);
    } else if (!strcmp(s, "get")) {
        do_get(h, argc, argv);
    } else if (!strcmp(s, "set")) {
        do_set(h, argc, argv);
    } else if (!strcmp(s, "stop")) {
        host_stop(h, argc > 0 && argv[0].a_type == A_FLOAT ? (int)argv[0].a_w.w_float : 100);
    } else if (!strcmp(s, "getattributes")) {
        const char* names[] = {"detach", "dir+", "args", "py", "respond", "sync"};
        t_atom a[6];
        for (int i = 0; i < 6; i++) SETSYMBOL(a + i, gensym(names[i]));
        attr_out(h, "attributes", 6, a);
    } else if (!strcmp(s, "getmethods")) {
        const char* names[] = {"reload", "reload.", "dir", "dir+", "doc", "doc+", "help",
                               "get", "set", "stop", "detach", "sync", "respond"};
        t_atom a[13];
        for (int i = 0; i < 13; i++) SETSYMBOL(a + i, gensym(names[i]));
        attr_out(h, "methods", 13, a);
    } else if (!strncmp(s, "get", 3) && s[3]) {
        return get_attr(h, s + 3);
    } else if (!strcmp(s, "edit")) {
        post("pyext: edit is not supported; the module is %s", h->module_name.c_str());
    } else {
        return set_flag(h, s, argc, argv);
    }
    return true;
}

void host_apply_attrs(Host* h, int argc, t_atom* argv) {
    int i = 0;
    while (i < argc) {
        const char* name = argv[i].a_type == A_SYMBOL ? argv[i].a_w.w_symbol->s_name : "";
        int j = i + 1;
        while (j < argc && !(argv[j].a_type == A_SYMBOL && argv[j].a_w.w_symbol->s_name[0] == '@')) j++;
        if (name[0] == '@' && !set_flag(h, name + 1, j - i - 1, argv + i + 1))
            pd_error(h->obj, "pyext: unknown attribute %s", name);
        i = j;
    }
}
