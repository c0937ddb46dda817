// The built-in Python module `pyext`: module functions and assembly of its parts.
#include "pyext.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

extern const char* const pyext_module_source;
static PyObject* g_module = nullptr;

PyObject* pyext_module() { return g_module; }

PyObject* pyext_helper(const char* name) {
    if (!g_module) return nullptr;
    return PyDict_GetItemString(PyModule_GetDict(g_module), name);
}

void report_exception(const char* where, const void* obj) {
    if (!PyErr_Occurred()) return;
    if (obj && on_pd_thread()) {
        pd_error(obj, "%s", where);
        where = "";
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value) PyException_SetTraceback(value, tb);
    PyObject* fn = pyext_helper("_report");
    PyObject* r = nullptr;
    if (fn && value) r = PyObject_CallFunction(fn, "Os", value, where);
    if (!r) {
        PyErr_Clear();
        console_postf(1, "%s (could not format the exception)", where);
    }
    Py_XDECREF(r);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

static PyObject* mod_post(PyObject*, PyObject* args) {
    const char* text;
    int level = 0;
    if (!PyArg_ParseTuple(args, "s|i", &text, &level)) return nullptr;
    console_post(text, level);
    Py_RETURN_NONE;
}

// _send(receiver, *msg): to a named receiver, delivered on Pd's thread.
PyObject* mod_send(PyObject*, PyObject* args) {
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n < 1) {
        PyErr_SetString(PyExc_TypeError, "_send(receiver, *message) needs a receiver");
        return nullptr;
    }
    PyObject* recv = PyTuple_GET_ITEM(args, 0);
    if (!PyUnicode_Check(recv)) {
        PyErr_SetString(PyExc_TypeError, "_send: the receiver must be a str or Symbol");
        return nullptr;
    }
    const char* name = PyUnicode_AsUTF8(recv);
    if (!name) return nullptr;
    OutMsg m;
    PyObject* rest = PyTuple_GetSlice(args, 1, n);
    if (!rest) return nullptr;
    bool ok = n == 2 ? py_to_msg(PyTuple_GET_ITEM(rest, 0), m) : py_to_msg(rest, m);
    Py_DECREF(rest);
    if (!ok) return nullptr;
    if (on_pd_thread())
        msg_to_receiver(name, m);
    else
        out_send(name, std::move(m));
    Py_RETURN_NONE;
}

PyObject* mod_samplerate(PyObject*, PyObject*) { return PyFloat_FromDouble(sys_getsr()); }
PyObject* mod_blocksize(PyObject*, PyObject*) { return PyLong_FromLong(sys_getblksize()); }

static PyObject* mod_sync(PyObject*, PyObject*) { return PyBool_FromLong(batch_mode()); }

static PyObject* mod_isthreaded(PyObject*, PyObject*) { Py_RETURN_TRUE; }

static PyObject* mod_pyobjects(PyObject*, PyObject*) {
    return PyLong_FromSize_t(pyobjref_count());
}

// _priority(n): change the nice value of the calling thread by -n (higher = more urgent).
static PyObject* mod_priority(PyObject*, PyObject* args) {
    int delta;
    if (!PyArg_ParseTuple(args, "i", &delta)) return nullptr;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, tid);
    if (setpriority(PRIO_PROCESS, tid, cur - delta) != 0) return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"_post", mod_post, METH_VARARGS, "_post(line, level=0): post a line to the Pd console"},
    {"_send", mod_send, METH_VARARGS, "_send(receiver, *message): send to a named Pd receiver"},
    {"_samplerate", mod_samplerate, METH_NOARGS, "Pd's sample rate"},
    {"_blocksize", mod_blocksize, METH_NOARGS, "Pd's block size"},
    {"_sync", mod_sync, METH_NOARGS, "True when Pd runs with -batch (all objects synchronous)"},
    {"_isthreaded", mod_isthreaded, METH_NOARGS, "True: this build supports detached calls"},
    {"_pyobjects", mod_pyobjects, METH_NOARGS,
     "how many Python objects sent with @py 1 are still referenced by Pd messages (after "
     "dropping the expired ones)"},
    {"_priority", mod_priority, METH_VARARGS, "_priority(n): raise this thread's priority by n"},
    {nullptr, nullptr, 0, nullptr}};

static PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "pyext",
    "Pd host module of py/pyext (pyext_py3): _class, Symbol, Buffer, _send, ...", -1,
    module_methods};

PyMODINIT_FUNC PyInit_pyext(void) {
    PyObject* m = PyModule_Create(&module_def);
    if (!m) return nullptr;
    PyObject* d = PyModule_GetDict(m);
    if (PyDict_SetItemString(d, "__builtins__", PyEval_GetBuiltins()) < 0) goto fail;
    g_module = m;
    if (!pyclass_ready(m) || !buffer_ready(m)) goto fail;
    {
        PyObject* r = PyRun_String(pyext_module_source, Py_file_input, d, d);
        if (!r) goto fail;
        Py_DECREF(r);
    }
    if (!symbol_init(m)) goto fail;
    {
        PyObject* r = PyObject_CallMethod(m, "_install_console", nullptr);
        if (!r) goto fail;
        Py_DECREF(r);
    }
    Py_INCREF(m);  // g_module keeps one reference for the life of the process
    return m;
fail:
    g_module = nullptr;
    Py_DECREF(m);
    return nullptr;
}
