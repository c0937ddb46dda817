// Interpreter start-up and the library's setup function.
#include "pyext.hpp"

#include <dlfcn.h>
#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#ifndef PYEXT_DEFAULT_PYTHON
#define PYEXT_DEFAULT_PYTHON "python3"
#endif

thread_local bool t_in_dsp = false;
std::atomic<int> g_pd_in_python{0};

// The thread that runs Pd's scheduler: the loading thread, updated on every queue tick,
// because with a callback audio API (-callback, JACK) the scheduler moves to the audio
// thread once DSP runs.
static std::atomic<pthread_t> g_pd_thread;
static bool g_ok = false;
static bool g_batch = false;

bool interp_ok() { return g_ok; }
bool on_pd_thread() { return pthread_equal(pthread_self(), g_pd_thread.load()) && !t_in_dsp; }
bool on_pd_thread_raw() { return pthread_equal(pthread_self(), g_pd_thread.load()); }
void note_pd_thread() { g_pd_thread.store(pthread_self()); }
bool batch_mode() { return g_batch; }

// Pd 0.53 exports no flag for -batch, so read our own command line: Pd takes its flags
// from argv (and from the preferences, which we never use headless).
static bool detect_batch() {
    FILE* f = fopen("/proc/self/cmdline", "rb");
    if (!f) return false;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
        if (!strcmp(buf + i, "-batch")) return true;
    return false;
}

// numpy's extension modules need libpython's symbols to be global. Pd loads externals
// with RTLD_GLOBAL, but promote libpython explicitly in case a host does not.
static void promote_libpython() {
    Dl_info info;
    if (dladdr((void*)&Py_InitializeFromConfig, &info) && info.dli_fname)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
}

static bool start_python() {
    if (Py_IsInitialized()) return true;
    promote_libpython();
    if (PyImport_AppendInittab("pyext", PyInit_pyext) < 0) return false;
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    const char* prog = getenv("PYEXT_PYTHON");
    if (!prog || !*prog) prog = PYEXT_DEFAULT_PYTHON;
    PyStatus st = PyConfig_SetBytesString(&config, &config.program_name, prog);
    if (!PyStatus_Exception(st)) {
        const char* argv[] = {"py/pyext"};
        st = PyConfig_SetBytesArgv(&config, 1, (char* const*)argv);
    }
    if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        pd_error(nullptr, "py/pyext: could not start Python (%s): %s", prog,
                 st.err_msg ? st.err_msg : "unknown error");
        return false;
    }
    // Import our module: it replaces sys.stdout/sys.stderr by console streams.
    PyObject* m = PyImport_ImportModule("pyext");
    if (!m) {
        PyErr_Print();
        return false;
    }
    Py_DECREF(m);
    return true;
}

#define PYEXT_EXPORT extern "C" __attribute__((visibility("default")))

PYEXT_EXPORT void py_setup(void) {
    static bool done = false;  // one binary may be reached as py, pyext or pyext~
    if (done) return;
    done = true;
    g_pd_thread.store(pthread_self());
    g_batch = detect_batch();
    pyobjref_init();
    outqueue_init();
    g_ok = start_python();
    if (g_ok) {
        PyRun_SimpleString("import sys\n"
                           "print('py/pyext (pyext_py3) with Python %s, %s' % "
                           "(sys.version.split()[0], sys.prefix))\n");
        PyEval_SaveThread();  // release the GIL; every entry takes it with PyGILState_Ensure
    }
    outqueue_drain();
    if (g_batch) post("py/pyext: -batch detected, all objects run synchronously");
    buffer_protect_pd();
    pyext_obj_setup();
    py_obj_setup();
}

// Without -lib py, Pd's loader finds [pyext] and [pyext~] through the links
// build/pyext.pd_linux and build/pyext~.pd_linux to this same binary.
PYEXT_EXPORT void pyext_setup(void) { py_setup(); }
PYEXT_EXPORT void pyext_tilde_setup(void) { py_setup(); }
