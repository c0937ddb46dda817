// The Pd classes pyext (pyext., pyx, pyx.) and pyext~ (pyext.~, pyx~, pyx.~).
#include "pyext.hpp"

#include <cstring>

struct t_pyext {
    t_object x_obj;
    t_float x_f;  // scalar of the main signal inlet (pyext~)
    HostPtr* host;
};

struct t_inlet_proxy {
    t_pd pd;
    t_pyext* owner;
    int inlet;
};

static t_class* g_pyext_class = nullptr;
static t_class* g_pyext_tilde_class = nullptr;
static t_class* g_proxy_class = nullptr;

HostPtr* host_of(t_object* o) { return ((t_pyext*)o)->host; }

static void proxy_anything(t_inlet_proxy* p, t_symbol* s, int argc, t_atom* argv) {
    if (p->owner->host) host_message(p->owner->host->get(), p->inlet, s, argc, argv);
}

struct Parsed {
    int counts[4] = {-1, -1, -1, -1};  // nin nout sigin sigout
    std::string module, cls;
    int args_begin = 0, args_end = 0, attrs_begin = 0;
};

// [pyext {nin nout {sigin sigout}} module class args... @attr value...]
static bool parse_args(t_symbol* objname, int argc, t_atom* argv, bool signal, Parsed& p) {
    bool dotted = strchr(objname->s_name, '.') != nullptr;
    int k = 0;
    while (k < argc && !(argv[k].a_type == A_SYMBOL && argv[k].a_w.w_symbol->s_name[0] == '@')) k++;
    p.attrs_begin = k;
    int i = 0;
    if (i + 1 < k && argv[i].a_type == A_FLOAT && argv[i + 1].a_type == A_FLOAT) {
        p.counts[0] = (int)argv[i].a_w.w_float;
        p.counts[1] = (int)argv[i + 1].a_w.w_float;
        i += 2;
        if (signal && i + 1 < k && argv[i].a_type == A_FLOAT && argv[i + 1].a_type == A_FLOAT) {
            p.counts[2] = (int)argv[i].a_w.w_float;
            p.counts[3] = (int)argv[i + 1].a_w.w_float;
            i += 2;
        }
    }
    if (i >= k || argv[i].a_type != A_SYMBOL) {
        pd_error(nullptr, "%s: usage: [%s {nin nout} module class args...]", objname->s_name, objname->s_name);
        return false;
    }
    p.module = argv[i++].a_w.w_symbol->s_name;
    if (dotted) {
        // After a dotted object name the module is imported verbatim; the class is the
        // next symbol, or else the module's last dotted component.
        if (i < k && argv[i].a_type == A_SYMBOL)
            p.cls = argv[i++].a_w.w_symbol->s_name;
        else
            p.cls = p.module.substr(p.module.rfind('.') + 1);
    } else {
        size_t dot = p.module.rfind('.');
        if (dot != std::string::npos) {
            p.cls = p.module.substr(dot + 1);
            p.module = p.module.substr(0, dot);
        } else if (i < k && argv[i].a_type == A_SYMBOL) {
            p.cls = argv[i++].a_w.w_symbol->s_name;
        } else {
            pd_error(nullptr, "%s: no class name given for module %s", objname->s_name, p.module.c_str());
            return false;
        }
    }
    p.args_begin = i;
    p.args_end = k;
    return true;
}

static void call_init_hook(Host* h) {
    Gil gil;
    if (!h->inst) return;
    PyObject* fn = PyObject_GetAttrString(h->inst, "_init");
    if (!fn) {
        PyErr_Clear();
        return;
    }
    PyObject* r = PyObject_CallNoArgs(fn);
    if (!r) report_exception(("pyext: exception in " + h->class_name + "._init").c_str());
    Py_XDECREF(r);
    Py_DECREF(fn);
}

static void pyext_free(t_pyext* x) {
    if (!x->host) return;
    host_free(*x->host);
    delete x->host;
    x->host = nullptr;
}

// Import, instantiate and read the counts (GIL held). False: the box fails to create.
static bool make_python_side(Host* h, const Parsed& p, bool signal) {
    if (!host_load(h, false) || !host_make_instance(h)) return false;
    h->counts_given = p.counts[0] >= 0;
    h->n_in = h->counts_given ? p.counts[0] : host_count(h->inst, "_inlets");
    h->n_out = h->counts_given ? p.counts[1] : host_count(h->inst, "_outlets");
    if (signal) {
        h->sig_in = p.counts[2] >= 0 ? p.counts[2] : host_count(h->inst, "_sigin");
        h->sig_out = p.counts[3] >= 0 ? p.counts[3] : host_count(h->inst, "_sigout");
        h->streaming = PyObject_HasAttrString(h->inst, "process") &&
                       PyObject_HasAttrString(h->inst, "_chunk");
    }
    return true;
}

// Signal inlets first (the leftmost doubles as the control inlet), then Python inlets;
// signal outlets, Python outlets, and the attribute outlet rightmost.
static void make_inlets_outlets(t_pyext* x, Host* h) {
    for (int i = 1; i < h->sig_in; i++) inlet_new(&x->x_obj, &x->x_obj.ob_pd, &s_signal, &s_signal);
    for (int i = 1; i <= h->n_in; i++) {
        t_inlet_proxy* px = (t_inlet_proxy*)pd_new(g_proxy_class);
        px->owner = x;
        px->inlet = i;
        inlet_new(&x->x_obj, &px->pd, nullptr, nullptr);
        h->inlet_proxies.push_back(&px->pd);
    }
    for (int i = 0; i < h->sig_out; i++) outlet_new(&x->x_obj, &s_signal);
    for (int i = 0; i < h->n_out; i++) h->outlets.push_back(outlet_new(&x->x_obj, nullptr));
    h->attr_outlet = h->info_is_attr && !h->outlets.empty() ? h->outlets.back()
                                                            : outlet_new(&x->x_obj, nullptr);
    h->outlets_ready = true;
}

// Named streaming objects: [rave~ args...] is [pyext~ dlwa.pd rave_stream args...]. Its
// signal inlets and outlets follow the loaded model's method, which an abstraction (whose
// inlets are fixed in its file) cannot do. Every message into its leftmost inlet goes to
// Python inlet 1 (the object's own `set`, `get`, `reload`, as nn~ takes them there), not to
// pyext's control messages. It has no attribute outlet of its own: pyext~'s `underruns <n>`
// go to its replies outlet (the object reports the latency itself, resampling included).
struct Shortcut {
    const char* name;
    const char* module;
    const char* cls;
};
static const Shortcut kShortcuts[] = {{"rave~", "dlwa.pd", "rave_stream"}};

static bool is_shortcut(const Host* h) {
    for (const Shortcut& sc : kShortcuts)
        if (h->module_name == sc.module && h->class_name == sc.cls) return true;
    return false;
}

static void* pyext_new(t_symbol* s, int argc, t_atom* argv) {
    if (!interp_ok()) {
        pd_error(nullptr, "%s: Python is not available (see the start-up messages)", s->s_name);
        return nullptr;
    }
    size_t len = strlen(s->s_name);
    bool signal = len > 0 && s->s_name[len - 1] == '~';
    Parsed p;
    if (!parse_args(s, argc, argv, signal, p)) return nullptr;

    t_pyext* x = (t_pyext*)pd_new(signal ? g_pyext_tilde_class : g_pyext_class);
    x->host = new HostPtr(std::make_shared<Host>());
    Host* h = x->host->get();
    h->obj = &x->x_obj;
    h->kind = signal ? "pyext~" : "pyext";
    h->canvas = canvas_getcurrent();
    h->canvas_dir = h->canvas ? canvas_getdir(h->canvas)->s_name : ".";
    h->module_name = p.module;
    h->class_name = p.cls;
    h->args.assign(argv + p.args_begin, argv + p.args_end);
    bool ok;
    {
        Gil gil;
        ok = make_python_side(h, p, signal);
    }
    if (!ok) {
        h->alive.store(false);
        delete x->host;
        x->host = nullptr;
        pd_free(&x->x_obj.ob_pd);
        return nullptr;
    }
    h->info_is_attr = signal && is_shortcut(h);
    make_inlets_outlets(x, h);
    host_apply_attrs(h, argc - p.attrs_begin, argv + p.attrs_begin);
    call_init_hook(h);
    return x;
}

static void* shortcut_new(t_symbol* s, int argc, t_atom* argv) {
    for (const Shortcut& sc : kShortcuts) {
        if (strcmp(s->s_name, sc.name) != 0) continue;
        // One symbol "module.class": after an undotted name the last dot splits them.
        std::vector<t_atom> args(argc + 1);
        SETSYMBOL(&args[0], gensym((std::string(sc.module) + "." + sc.cls).c_str()));
        for (int i = 0; i < argc; i++) args[i + 1] = argv[i];
        return pyext_new(s, argc + 1, args.data());
    }
    return nullptr;
}

static void pyext_anything(t_pyext* x, t_symbol* s, int argc, t_atom* argv) {
    if (x->host && is_shortcut(x->host->get()) && x->host->get()->n_in > 0) {
        host_message(x->host->get(), 1, s, argc, argv);
        return;
    }
    if (!x->host || !host_control(x->host->get(), s, argc, argv))
        pd_error(x, "%s: no method for '%s' in the leftmost inlet (Python inlets start at 1)",
                 x->host ? x->host->get()->kind : "pyext", s->s_name);
}

static void pyext_dsp(t_pyext* x, t_signal** sp) {
    if (x->host) stream_dsp(x->host->get(), sp);
}

static t_class* make_class(const char* name, bool signal) {
    t_class* c = class_new(gensym(name), (t_newmethod)pyext_new, (t_method)pyext_free,
                           sizeof(t_pyext), CLASS_DEFAULT, A_GIMME, 0);
    class_addanything(c, (t_method)pyext_anything);
    if (signal) {
        CLASS_MAINSIGNALIN(c, t_pyext, x_f);
        class_addmethod(c, (t_method)pyext_dsp, gensym("dsp"), A_CANT, 0);
    }
    return c;
}

void pyext_obj_setup() {
    g_proxy_class = class_new(gensym("pyext-inlet"), nullptr, nullptr, sizeof(t_inlet_proxy),
                              CLASS_PD, A_NULL);
    class_addanything(g_proxy_class, (t_method)proxy_anything);
    g_pyext_class = make_class("pyext", false);
    for (const char* alias : {"pyext.", "pyx", "pyx."})
        class_addcreator((t_newmethod)pyext_new, gensym(alias), A_GIMME, 0);
    g_pyext_tilde_class = make_class("pyext~", true);
    for (const char* alias : {"pyext.~", "pyx~", "pyx.~"})
        class_addcreator((t_newmethod)pyext_new, gensym(alias), A_GIMME, 0);
    for (const Shortcut& sc : kShortcuts)
        class_addcreator((t_newmethod)shortcut_new, gensym(sc.name), A_GIMME, 0);
}
