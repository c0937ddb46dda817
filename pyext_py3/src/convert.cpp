// Atom conversions both ways (spec §2.4, §2.5), extended to numbers that define
// __index__/__float__ (numpy and torch scalars) and to 1-D sequences such as numpy arrays.
#include "pyext.hpp"

#include <cmath>
#include <cstring>

// ---------------------------------------------------------------- Pd -> Python

PyObject* atom_to_py(const t_atom* a) {
    switch (a->a_type) {
    case A_FLOAT: {
        t_float f = a->a_w.w_float;
        // Integral floats become int (compatibility with the original).
        if (std::isfinite(f) && f == std::trunc(f) && std::fabs(f) < 9.0e18)
            return PyLong_FromLongLong((long long)f);
        return PyFloat_FromDouble(f);
    }
    case A_SYMBOL:
        return symbol_from_pd(a->a_w.w_symbol);
    default:
        console_post("py/pyext: cannot convert argument (pointer or unknown atom), using None", 1);
        Py_RETURN_NONE;
    }
}

PyObject* atoms_to_tuple(int argc, const t_atom* argv) {
    PyObject* t = PyTuple_New(argc);
    if (!t) return nullptr;
    for (int i = 0; i < argc; i++) {
        PyObject* v = atom_to_py(argv + i);
        if (!v) {
            Py_DECREF(t);
            return nullptr;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

// ---------------------------------------------------------------- Python -> Pd

static bool is_number(PyObject* v) {
    if (PyLong_Check(v) || PyFloat_Check(v)) return true;
    PyNumberMethods* nb = Py_TYPE(v)->tp_as_number;
    return nb && (nb->nb_index || nb->nb_float);
}

static bool number_value(PyObject* v, t_float& out) {
    if (PyFloat_Check(v)) {
        out = (t_float)PyFloat_AS_DOUBLE(v);
        return true;
    }
    if (PyLong_Check(v) || PyIndex_Check(v)) {
        // Exact integers (bool included); numpy/torch integer scalars via __index__.
        PyObject* i = PyNumber_Index(v);
        if (i) {
            double d = PyLong_AsDouble(i);
            Py_DECREF(i);
            if (!(d == -1.0 && PyErr_Occurred())) {
                out = (t_float)d;
                return true;
            }
        }
        PyErr_Clear();  // e.g. a float tensor refuses __index__: use __float__
    }
    double d = PyFloat_AsDouble(v);  // uses __float__ (and __index__ as a fallback)
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return false;
    }
    out = (t_float)d;
    return true;
}

static bool is_str(PyObject* v) { return PyUnicode_Check(v); }

bool is_complex(PyObject* v) {
    if (PyComplex_Check(v)) return true;  // complex, numpy.complex128
    if (PyFloat_Check(v) || PyLong_Check(v) || PyUnicode_Check(v) || v == Py_None) return false;
    // numpy (dtype.kind == 'c') and torch (dtype.is_complex) scalars, arrays and tensors
    PyObject* dt = PyObject_GetAttrString(v, "dtype");
    if (!dt) {
        PyErr_Clear();
        return false;
    }
    bool c = false;
    PyObject* kind = PyObject_GetAttrString(dt, "kind");
    if (kind && PyUnicode_Check(kind)) {
        c = PyUnicode_CompareWithASCIIString(kind, "c") == 0;
    } else {
        PyErr_Clear();
        PyObject* flag = PyObject_GetAttrString(dt, "is_complex");
        c = flag && PyObject_IsTrue(flag) > 0;
        Py_XDECREF(flag);
    }
    PyErr_Clear();
    Py_XDECREF(kind);
    Py_DECREF(dt);
    return c;
}

void complex_error(PyObject* v, const char* what) {
    PyErr_Format(PyExc_TypeError,
                 "complex value (%s) cannot be %s: Pd has real numbers only; send .real, "
                 ".imag or abs() of it",
                 Py_TYPE(v)->tp_name, what);
}

// UTF-8 of a str, or NULL with UnicodeEncodeError (lone surrogates such as "\udcff").
static const char* utf8_or_raise(PyObject* v) {
    const char* s = PyUnicode_AsUTF8(v);
    if (!s && PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
        // keep Python's exception (it names the character and its position) and say where
        PyObject *t, *e, *tb;
        PyErr_Fetch(&t, &e, &tb);
        PyErr_NormalizeException(&t, &e, &tb);
        PyObject* note = PyUnicode_FromString(
            "py/pyext: a Pd symbol must be valid UTF-8; this str holds a lone surrogate "
            "(encode or replace it before sending)");
        if (note && e) {
            PyObject* r = PyObject_CallMethod(e, "add_note", "O", note);
            Py_XDECREF(r);
        }
        Py_XDECREF(note);
        PyErr_Clear();
        PyErr_Restore(t, e, tb);
    }
    return s;
}

int py_to_atom(PyObject* v, OutAtom& out) {
    if (is_str(v)) {
        const char* s = utf8_or_raise(v);
        if (!s) return -1;
        out.is_symbol = true;
        out.s = s;
        return 1;
    }
    if (is_complex(v)) {
        complex_error(v, "sent to Pd");
        return -1;
    }
    if (v != Py_None && is_number(v)) {
        out.is_symbol = false;
        return number_value(v, out.f) ? 1 : 0;
    }
    return 0;
}

static void could_not_convert(PyObject* v) {
    console_postf(1, "py/pyext: could not convert argument of type %s", Py_TYPE(v)->tp_name);
}

// A sequence for our purposes: anything iterable by index except str (and dict).
static bool is_sequence(PyObject* v) {
    return !is_str(v) && !PyDict_Check(v) && PySequence_Check(v);
}

static bool seq_to_atoms(PyObject* seq, std::vector<OutAtom>& atoms) {
    PyObject* fast = PySequence_Fast(seq, "not a sequence");
    if (!fast) {
        PyErr_Clear();
        could_not_convert(seq);
        return true;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    atoms.resize(n);
    PyObject** items = PySequence_Fast_ITEMS(fast);
    for (Py_ssize_t i = 0; i < n; i++) {
        int r = py_to_atom(items[i], atoms[i]);
        if (r < 0) {
            Py_DECREF(fast);
            return false;
        }
        if (r == 0) {
            could_not_convert(items[i]);
            atoms[i].is_symbol = true;
            atoms[i].s.clear();
        }
    }
    Py_DECREF(fast);
    return true;
}

bool py_to_msg(PyObject* v, OutMsg& out) {
    out.atoms.clear();
    if (v == Py_None) {
        out.sel = "bang";
        return true;
    }
    if (is_str(v)) {
        out.sel = "symbol";
        out.atoms.resize(1);
        return py_to_atom(v, out.atoms[0]) >= 0;
    }
    if (is_complex(v)) {  // scalars, 0-d arrays and whole complex arrays alike
        complex_error(v, "sent to Pd");
        return false;
    }
    if (is_number(v) && !is_sequence(v)) {
        out.sel = "float";
        out.atoms.resize(1);
        if (!number_value(v, out.atoms[0].f)) {
            could_not_convert(v);
            out.sel = "symbol";
            out.atoms[0].is_symbol = true;
        }
        return true;
    }
    if (is_sequence(v)) {
        Py_ssize_t n = PySequence_Size(v);
        if (n < 0 && is_number(v)) {  // unsized, e.g. a 0-d numpy array
            PyErr_Clear();
            out.sel = "float";
            out.atoms.resize(1);
            if (number_value(v, out.atoms[0].f)) return true;
            out.atoms.clear();
        }
        if (n < 0) {
            PyErr_Clear();
            could_not_convert(v);
            out.sel = "symbol";
            out.atoms.resize(1);
            out.atoms[0].is_symbol = true;
            return true;
        }
        if (n == 0) {
            out.sel = "bang";
            return true;
        }
        if (n == 2) {  // (selector, [atoms...]) is an anything message
            PyObject* a = PySequence_GetItem(v, 0);
            PyObject* b = PySequence_GetItem(v, 1);
            bool anything = a && b && is_str(a) && is_sequence(b);
            bool ok = true;
            if (anything) {
                const char* s = utf8_or_raise(a);
                ok = s && seq_to_atoms(b, out.atoms);
                if (s) out.sel = s;
            }
            Py_XDECREF(a);
            Py_XDECREF(b);
            if (!ok) return false;
            PyErr_Clear();
            if (anything) {
                if (out.sel.empty()) out.sel = "list";
                return true;
            }
        }
        out.sel = "list";
        return seq_to_atoms(v, out.atoms);
    }
    could_not_convert(v);
    out.sel = "symbol";
    out.atoms.resize(1);
    out.atoms[0].is_symbol = true;
    return true;
}

// ---------------------------------------------------------------- delivery (Pd's thread)

std::vector<t_atom> msg_atoms(const OutMsg& m) {
    std::vector<t_atom> v(m.atoms.size());
    for (size_t i = 0; i < v.size(); i++) {
        if (m.atoms[i].is_symbol)
            SETSYMBOL(&v[i], gensym(m.atoms[i].s.c_str()));
        else
            SETFLOAT(&v[i], m.atoms[i].f);
    }
    return v;
}

void msg_to_outlet(t_outlet* o, const OutMsg& m) {
    std::vector<t_atom> v = msg_atoms(m);
    int n = (int)v.size();
    t_atom* a = v.data();
    if (m.sel == "bang")
        outlet_bang(o);
    else if (m.sel == "float" && n == 1 && a[0].a_type == A_FLOAT)
        outlet_float(o, a[0].a_w.w_float);
    else if (m.sel == "symbol" && n == 1 && a[0].a_type == A_SYMBOL)
        outlet_symbol(o, a[0].a_w.w_symbol);
    else if (m.sel == "list")
        outlet_list(o, &s_list, n, a);
    else
        outlet_anything(o, gensym(m.sel.c_str()), n, a);
}

void msg_to_pd(t_pd* target, const OutMsg& m) {
    std::vector<t_atom> v = msg_atoms(m);
    int n = (int)v.size();
    t_atom* a = v.data();
    if (m.sel == "bang")
        pd_bang(target);
    else if (m.sel == "float" && n == 1 && a[0].a_type == A_FLOAT)
        pd_float(target, a[0].a_w.w_float);
    else if (m.sel == "symbol" && n == 1 && a[0].a_type == A_SYMBOL)
        pd_symbol(target, a[0].a_w.w_symbol);
    else if (m.sel == "list")
        pd_list(target, &s_list, n, a);
    else
        typedmess(target, gensym(m.sel.c_str()), n, a);
}

void msg_to_receiver(const std::string& name, const OutMsg& m) {
    t_symbol* s = gensym(name.c_str());
    if (s->s_thing) msg_to_pd(s->s_thing, m);  // a missing receiver is ignored
}
