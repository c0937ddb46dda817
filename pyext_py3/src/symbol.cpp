// pyext.Symbol: a str subclass defined in Python (module_py.cpp); here the fast path from
// Pd symbols, cached per t_symbol (Pd symbols live forever, and so do the cached objects).
#include "pyext.hpp"

#include <cstring>
#include <unordered_map>

static PyObject* g_symbol_type = nullptr;
// Heap-allocated and never destroyed: no static destructor may run at exit while
// worker threads still use it.
static auto& g_cache = *new std::unordered_map<const t_symbol*, PyObject*>();  // GIL

bool symbol_init(PyObject* module) {
    g_symbol_type = PyObject_GetAttrString(module, "Symbol");
    return g_symbol_type != nullptr;
}

PyObject* symbol_from_str(const char* s) {
    PyObject* str = PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
    if (!str) return nullptr;
    PyObject* sym = PyObject_CallOneArg(g_symbol_type, str);
    Py_DECREF(str);
    return sym;
}

PyObject* symbol_from_pd(t_symbol* s) {
    auto it = g_cache.find(s);
    if (it != g_cache.end()) {
        Py_INCREF(it->second);
        return it->second;
    }
    PyObject* sym = symbol_from_str(s->s_name);
    if (!sym) return nullptr;
    Py_INCREF(sym);
    g_cache.emplace(s, sym);
    return sym;
}
