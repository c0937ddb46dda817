// [py]: call a module-level function or any callable (spec §1.4). Always synchronous.
//
//   [py {ninlets} module function args...]   [py module.function]   [py .builtin]
//   [py module]  (the function is chosen by each message's selector)
//
// [pym]: call a method of a Python object (spec §1.5). Always synchronous.
//
//   [pym {ninlets} method]   inlet 1: the object (hot), inlets 2..ninlets: arguments
//
// Both accept opaque Python objects (@py 1 messages of any py object) in every Python
// inlet, whatever their own @py; with @py 1 they send their result as such an object.
#include "pyext.hpp"

#include <cstring>

struct t_pyobj {
    t_object x_obj;
    HostPtr* host;
    std::string* func_name;   // empty: chosen by selector
    PyObject* func;           // resolved callable (GIL)
    PyObject* stored;         // list of stored argument values, one per inlet (ninlets form)
    int ninlets;              // -1: one inlet taking whole messages
    t_outlet* result;
    bool method;              // [pym]: func_name is a method of the object in inlet 1
};

struct t_py_proxy {
    t_pd pd;
    t_pyobj* owner;
    int inlet;
};

static t_class* g_py_class = nullptr;
static t_class* g_pym_class = nullptr;
static t_class* g_py_proxy_class = nullptr;

static const char* who(t_pyobj* x) { return x->method ? "pym" : "py"; }

// Operator names of [pym] and the special methods they call (as the original's table,
// with Python 3's names: / is __truediv__, ! is __bool__).
static const char* const kMethodAliases[][2] = {
    {"+", "__add__"},   {"+=", "__iadd__"},   {"!+", "__radd__"},
    {"-", "__sub__"},   {"-=", "__isub__"},   {"!-", "__rsub__"},
    {"*", "__mul__"},   {"*=", "__imul__"},   {"!*", "__rmul__"},
    {"/", "__truediv__"}, {"/=", "__itruediv__"}, {"!/", "__rtruediv__"},
    {"//", "__floordiv__"}, {"//=", "__ifloordiv__"}, {"!//", "__rfloordiv__"},
    {"%", "__mod__"},   {"%=", "__imod__"},   {"!%", "__rmod__"},
    {"**", "__pow__"},  {"**=", "__ipow__"},  {"!**", "__rpow__"},
    {"&", "__and__"},   {"&=", "__iand__"},   {"!&", "__rand__"},
    {"|", "__or__"},    {"|=", "__ior__"},    {"!|", "__ror__"},
    {"^", "__xor__"},   {"^=", "__ixor__"},   {"!^", "__rxor__"},
    {"<<", "__lshift__"}, {"<<=", "__ilshift__"}, {"!<<", "__rlshift__"},
    {">>", "__rshift__"}, {">>=", "__irshift__"}, {"!>>", "__rrshift__"},
    {"==", "__eq__"},   {"!=", "__ne__"},     {"<", "__lt__"},   {">", "__gt__"},
    {"<=", "__le__"},   {">=", "__ge__"},     {"!", "__bool__"}, {"~", "__invert__"},
    {"[]", "__getitem__"},
    {".abs", "__abs__"}, {".neg", "__neg__"}, {".pos", "__pos__"}, {".divmod", "__divmod__"},
    {".int", "__int__"}, {".long", "__int__"}, {".float", "__float__"},
    {".complex", "__complex__"}, {".str", "__str__"}, {".repr", "__repr__"},
    {".doc", "__doc__"}, {".len", "__len__"}, {".in", "__contains__"},
};

static std::string method_name(const char* name) {
    for (const auto& a : kMethodAliases)
        if (!strcmp(a[0], name)) return a[1];
    return name;
}

// The Python value of a message into a storing inlet (GIL held): one atom as itself,
// several as a tuple, an anything message with its selector first, bang as None, an
// opaque object reference as the object. NULL: refused (one line posted).
static PyObject* inlet_value(t_pyobj* x, t_symbol* s, int argc, t_atom* argv) {
    if (pyobjref_is(s, argc, argv)) return pyobjref_lookup(s, argc, argv, x, who(x));
    bool typed = s == &s_float || s == &s_symbol || s == &s_list;
    PyObject* v;
    if (typed && argc == 1)
        v = atom_to_py(argv);
    else if (typed)
        v = atoms_to_tuple(argc, argv);
    else if (s == &s_bang)
        v = (Py_INCREF(Py_None), Py_None);
    else {
        std::vector<t_atom> all(argc + 1);
        SETSYMBOL(&all[0], s);
        std::copy(argv, argv + argc, all.begin() + 1);
        v = atoms_to_tuple(argc + 1, all.data());
    }
    if (!v) report_exception((std::string(who(x)) + ": could not convert the message").c_str(), x);
    return v;
}

static void set_argv(Host* h) {
    PyObject* argv = PyList_New(0);
    PyObject* first = PyUnicode_FromString("py/pyext");
    PyList_Append(argv, first);
    Py_DECREF(first);
    for (const t_atom& a : h->args) {
        char buf[MAXPDSTRING];
        atom_string(&a, buf, sizeof(buf));
        PyObject* s = PyUnicode_FromString(buf);
        PyList_Append(argv, s);
        Py_DECREF(s);
    }
    PySys_SetObject("argv", argv);
    Py_DECREF(argv);
}

// Resolve module and function (GIL held). An empty module means pyext, then builtins.
static bool resolve(t_pyobj* x, bool reload) {
    Host* h = x->host->get();
    Py_CLEAR(x->func);
    if (h->module_name.empty()) {
        if (x->func_name->empty()) return false;
        x->func = pyext_helper(x->func_name->c_str());
        if (x->func) {
            Py_INCREF(x->func);
            return true;
        }
        x->func = PyDict_GetItemString(PyEval_GetBuiltins(), x->func_name->c_str());
        Py_XINCREF(x->func);
        if (!x->func) console_postf(1, "py: no function '%s' in pyext or builtins", x->func_name->c_str());
        return x->func != nullptr;
    }
    set_argv(h);
    PyObject* mod = host_import(h, h->module_name, reload);
    if (!mod) return false;
    Py_XSETREF(h->module, mod);
    if (x->func_name->empty()) return true;
    x->func = PyObject_GetAttrString(mod, x->func_name->c_str());
    if (!x->func) report_exception(("py: no function '" + *x->func_name + "' in " + h->module_name).c_str());
    return x->func != nullptr;
}

static void call_and_output(t_pyobj* x, PyObject* fn, PyObject* args) {
    PyObject* r = PyObject_Call(fn, args, nullptr);
    if (!r) {
        report_exception(x->method ? "pym: exception in the called method"
                                   : "py: exception in the called function");
        return;
    }
    if (x->method && r == Py_None) {  // as the original: a method returning None sends nothing
        Py_DECREF(r);
        return;
    }
    OutMsg m;
    bool ok = true;
    if (r != Py_None && x->host->get()->pymsg.load())
        pyobjref_message(r, false, m);  // @py 1: the object itself (Pd's thread: not pinned)
    else
        ok = py_to_msg(r, m);
    Py_DECREF(r);
    if (!ok) {
        report_exception((std::string(who(x)) + ": the result cannot be sent to Pd").c_str());
        return;
    }
    msg_to_outlet(x->result, m);
}

// [pym]: look the method up on the object in inlet 1 and call it with the other inlets.
static void pym_call(t_pyobj* x) {
    Gil gil;
    PyObject* target = PyList_GET_ITEM(x->stored, 0);
    if (target == Py_None) {
        pd_error(x, "pym: no object in inlet 1 yet");
        return;
    }
    std::string name = method_name(x->func_name->c_str());
    PyObject* fn = PyObject_GetAttrString(target, name.c_str());
    if (!fn) {
        report_exception(("pym: " + std::string(Py_TYPE(target)->tp_name) + " has no method '" +
                          name + "'").c_str(), x);
        return;
    }
    Py_ssize_t n = PyList_GET_SIZE(x->stored);
    PyObject* args = PyList_GetSlice(x->stored, 1, n);
    PyObject* t = args ? PyList_AsTuple(args) : nullptr;
    Py_XDECREF(args);
    if (t) call_and_output(x, fn, t);
    Py_XDECREF(t);
    Py_DECREF(fn);
}

static void py_call_message(t_pyobj* x, t_symbol* s, int argc, t_atom* argv) {
    Gil gil;
    bool typed = s == &s_float || s == &s_list || s == &s_symbol || s == &s_bang;
    PyObject* fn = x->func;
    Py_XINCREF(fn);
    PyObject* args;
    if (pyobjref_is(s, argc, argv)) {  // an opaque object: the one argument
        PyObject* obj = pyobjref_lookup(s, argc, argv, x, "py");
        if (!obj) {
            Py_XDECREF(fn);
            return;
        }
        args = PyTuple_Pack(1, obj);
        Py_DECREF(obj);
        if (!fn) {
            pd_error(x, "py: no function set for a Python object (use [py module function])");
            Py_DECREF(args);
            return;
        }
        call_and_output(x, fn, args);
        Py_DECREF(args);
        Py_DECREF(fn);
        return;
    }
    args = atoms_to_tuple(argc, argv);
    if (!fn) {  // [py module]: the selector names the function
        Host* h = x->host->get();
        if (h->module && !typed) fn = PyObject_GetAttrString(h->module, s->s_name);
        if (!fn) {
            PyErr_Clear();
            pd_error(x, "py: no function for '%s'", s->s_name);
            Py_XDECREF(args);
            return;
        }
    } else if (!typed && args) {
        PyObject* t = PyTuple_New(argc + 1);
        PyTuple_SET_ITEM(t, 0, symbol_from_pd(s));
        for (int i = 0; i < argc; i++) {
            Py_INCREF(PyTuple_GET_ITEM(args, i));
            PyTuple_SET_ITEM(t, i + 1, PyTuple_GET_ITEM(args, i));
        }
        Py_SETREF(args, t);
    }
    if (args) call_and_output(x, fn, args);
    Py_XDECREF(args);
    Py_DECREF(fn);
}

static void py_call_stored(t_pyobj* x) {
    Gil gil;
    if (!x->func) {
        pd_error(x, "py: no function set");
        return;
    }
    PyObject* args = x->stored ? PyList_AsTuple(x->stored) : PyTuple_New(0);
    if (args) call_and_output(x, x->func, args);
    Py_XDECREF(args);
}

static void proxy_anything(t_py_proxy* p, t_symbol* s, int argc, t_atom* argv) {
    t_pyobj* x = p->owner;
    if (x->ninlets < 0) {
        py_call_message(x, s, argc, argv);
        return;
    }
    {
        Gil gil;
        if (s == &s_bang && !x->method) {
            // [py n f]: bang keeps the stored value (as before)
        } else {
            PyObject* v = inlet_value(x, s, argc, argv);
            if (!v) return;  // refused: no call
            PyList_SetItem(x->stored, p->inlet - 1, v);  // steals v
        }
    }
    if (p->inlet != 1) return;  // inlet 1 is hot, the others cold
    if (x->method)
        pym_call(x);
    else
        py_call_stored(x);
}

static void py_bang(t_pyobj* x) {
    if (x->method) {
        pym_call(x);
        return;
    }
    if (x->ninlets >= 0) {
        py_call_stored(x);
        return;
    }
    Gil gil;
    if (!x->func) {
        pd_error(x, "py: no function set");
        return;
    }
    PyObject* args = PyTuple_New(0);
    call_and_output(x, x->func, args);
    Py_DECREF(args);
}

static void py_control(t_pyobj* x, t_symbol* s, int argc, t_atom* argv) {
    Host* h = x->host->get();
    const char* sel = s->s_name;
    if (x->method) {
        if (!strcmp(sel, "set") && argc == 1 && argv[0].a_type == A_SYMBOL) {
            *x->func_name = argv[0].a_w.w_symbol->s_name;
        } else if (!strcmp(sel, "set")) {
            pd_error(x, "pym: set method");
        } else if (!strcmp(sel, "help")) {
            post("pym: [pym {ninlets} method {@py 0|1}]: inlet 1 takes the object (hot), inlets "
                 "2.. the arguments; bang calls again");
            post("  method: a name, or an operator (+ - * / // %% ** & | ^ << >> == != < > <= >= [] "
                 "and their += and !+ forms, .len .str .repr .int .float .abs .neg .in ...)");
            post("  the result (none for None) goes out of the left outlet; leftmost inlet: set "
                 "method, help, py 0|1, respond 0|1");
        } else if (!host_control(h, s, argc, argv)) {
            pd_error(x, "pym: no method for '%s' in the leftmost inlet", sel);
        }
        return;
    }
    if (!strcmp(sel, "set")) {
        if (argc < 1 || argv[argc - 1].a_type != A_SYMBOL) {
            pd_error(x, "py: set [module] function");
            return;
        }
        if (argc >= 2 && argv[0].a_type == A_SYMBOL) h->module_name = argv[0].a_w.w_symbol->s_name;
        *x->func_name = argv[argc - 1].a_w.w_symbol->s_name;
        Gil gil;
        resolve(x, false);
    } else if (!strcmp(sel, "reload") || !strcmp(sel, "reload.")) {
        if (sel[6] != '.') h->args.assign(argv, argv + argc);
        Gil gil;
        resolve(x, true);
    } else if (!strcmp(sel, "help")) {
        post("py: [py {ninlets} module function args...], [py .builtin], [py module]");
        post("  bang calls the function; inlet 1 calls it with the message; result on outlet 0");
        post("  leftmost inlet: set [module] function, reload, reload., dir, dir+, doc, doc+, help");
    } else if (!host_control(h, s, argc, argv)) {
        pd_error(x, "py: no method for '%s' in the leftmost inlet", sel);
    }
}

// What [py] and [pym] share: the object and its host (Python inlets and outlets follow in
// finish_pyobj, once the Python side is set up).
static t_pyobj* new_pyobj(t_class* c, const char* kind, const std::string& name, int ninlets,
                          bool method, const t_atom* args_begin, const t_atom* args_end) {
    t_pyobj* x = (t_pyobj*)pd_new(c);
    x->host = new HostPtr(std::make_shared<Host>());
    x->func_name = new std::string(name);
    x->func = nullptr;
    x->stored = nullptr;
    x->ninlets = ninlets;
    x->method = method;
    Host* h = x->host->get();
    h->obj = &x->x_obj;
    h->kind = kind;
    h->canvas = canvas_getcurrent();
    h->canvas_dir = h->canvas ? canvas_getdir(h->canvas)->s_name : ".";
    h->class_name = name;
    h->args.assign(args_begin, args_end);
    return x;
}

// The stored values of Python inlets 2..n, all None (needs the GIL).
static void store_slots(t_pyobj* x, int n) {
    x->stored = PyList_New(n);
    for (int j = 0; j < n; j++) {
        Py_INCREF(Py_None);
        PyList_SET_ITEM(x->stored, j, Py_None);
    }
}

// Python inlets 1..n, the result and attribute outlets, then the @attributes.
static void finish_pyobj(t_pyobj* x, int n, int argc, t_atom* argv) {
    Host* h = x->host->get();
    for (int j = 1; j <= n; j++) {
        t_py_proxy* p = (t_py_proxy*)pd_new(g_py_proxy_class);
        p->owner = x;
        p->inlet = j;
        inlet_new(&x->x_obj, &p->pd, nullptr, nullptr);
        h->inlet_proxies.push_back(&p->pd);
    }
    x->result = outlet_new(&x->x_obj, nullptr);
    h->attr_outlet = outlet_new(&x->x_obj, nullptr);
    h->outlets_ready = true;
    host_apply_attrs(h, argc, argv);
}

static void* py_new(t_symbol* s, int argc, t_atom* argv) {
    if (!interp_ok()) {
        pd_error(nullptr, "py: Python is not available (see the start-up messages)");
        return nullptr;
    }
    int i = 0, ninlets = -1;
    if (i < argc && argv[i].a_type == A_FLOAT) ninlets = (int)argv[i++].a_w.w_float;
    int k = i;
    while (k < argc && !(argv[k].a_type == A_SYMBOL && argv[k].a_w.w_symbol->s_name[0] == '@')) k++;
    std::string module, func;
    if (i < k && argv[i].a_type == A_SYMBOL) {
        module = argv[i++].a_w.w_symbol->s_name;
        if (!module.empty() && module[0] == '.') {
            func = module.substr(1);
            module.clear();
        } else if (i < k && argv[i].a_type == A_SYMBOL) {
            func = argv[i++].a_w.w_symbol->s_name;
        } else if (module.find('.') != std::string::npos) {
            func = module.substr(module.rfind('.') + 1);
            module = module.substr(0, module.rfind('.'));
        }
    }
    t_pyobj* x = new_pyobj(g_py_class, "py", func, ninlets, false, argv + i, argv + k);
    x->host->get()->module_name = module;
    {
        Gil gil;
        if (ninlets > 0) store_slots(x, ninlets);
        if (!module.empty() || !func.empty()) resolve(x, false);
    }
    finish_pyobj(x, ninlets < 0 ? 1 : ninlets, argc - k, argv + k);
    return x;
}

// [pym {ninlets} method args... @attrs]: ninlets (default 1) Python inlets.
static void* pym_new(t_symbol*, int argc, t_atom* argv) {
    if (!interp_ok()) {
        pd_error(nullptr, "pym: Python is not available (see the start-up messages)");
        return nullptr;
    }
    int i = 0, ninlets = 1;
    if (i < argc && argv[i].a_type == A_FLOAT) ninlets = (int)argv[i++].a_w.w_float;
    if (ninlets < 1) ninlets = 1;
    int k = i;
    while (k < argc && !(argv[k].a_type == A_SYMBOL && argv[k].a_w.w_symbol->s_name[0] == '@')) k++;
    std::string method;
    if (i < k && argv[i].a_type == A_SYMBOL) method = argv[i++].a_w.w_symbol->s_name;
    if (method.empty()) {
        pd_error(nullptr, "pym: usage: [pym {ninlets} method]");
        return nullptr;
    }
    t_pyobj* x = new_pyobj(g_pym_class, "pym", method, ninlets, true, argv + i, argv + k);
    {
        Gil gil;
        store_slots(x, ninlets);
    }
    finish_pyobj(x, ninlets, argc - k, argv + k);
    return x;
}

static void py_free(t_pyobj* x) {
    Host* h = x->host->get();
    h->alive.store(false);
    for (t_pd* p : h->inlet_proxies) pd_free(p);
    {
        Gil gil;
        Py_CLEAR(x->func);
        Py_CLEAR(x->stored);
    }
    delete x->func_name;
    delete x->host;
}

void py_obj_setup() {
    g_py_proxy_class = class_new(gensym("py-inlet"), nullptr, nullptr, sizeof(t_py_proxy), CLASS_PD, A_NULL);
    class_addanything(g_py_proxy_class, (t_method)proxy_anything);
    g_py_class = class_new(gensym("py"), (t_newmethod)py_new, (t_method)py_free, sizeof(t_pyobj),
                           CLASS_DEFAULT, A_GIMME, 0);
    class_addbang(g_py_class, (t_method)py_bang);
    class_addanything(g_py_class, (t_method)py_control);
    g_pym_class = class_new(gensym("pym"), (t_newmethod)pym_new, (t_method)py_free,
                            sizeof(t_pyobj), CLASS_DEFAULT, A_GIMME, 0);
    class_addbang(g_pym_class, (t_method)py_bang);
    class_addanything(g_pym_class, (t_method)py_control);
}
