// pyext_py3: shared declarations of the py/pyext library for Pd.
//
// Threading rules used throughout (see docs/pyext.md):
//  - "Pd's thread" is the thread that ran py_setup (the scheduler thread with -nosound/-batch).
//  - Pd state (outlets, symbols, arrays, console) is touched only on Pd's thread, with
//    one exception: Buffer element access and views (buffer.cpp) from other threads,
//    under Pd's lock. Other threads hand work over through the outbound queue
//    (outqueue.cpp).
//  - Lock order: Pd's lock before the GIL. Only buffer.cpp takes Pd's lock, from other
//    threads, and never waits for it while holding the GIL (sys_trylock, then retries
//    with the GIL released).
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <m_pd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

// ---------------------------------------------------------------- interpreter (interp.cpp)
bool interp_ok();               // the interpreter started
bool on_pd_thread();            // Pd's scheduler thread, outside perform routines
bool on_pd_thread_raw();        // Pd's scheduler thread (also inside perform)
void note_pd_thread();          // called from the scheduler: this is Pd's thread
bool batch_mode();              // Pd runs with -batch (sync mode for every object)
extern thread_local bool t_in_dsp;  // set while a perform routine runs Python

// How deep Pd's thread is inside Python (Gil scopes it opened). While it is inside, Pd's
// thread touches Pd's state only while holding the GIL: so a thread that holds the GIL
// and sees this above 0 may touch Pd's state too (buffer.cpp), for example a thread that
// a synchronous handler waits for.
extern std::atomic<int> g_pd_in_python;

// RAII holder of the GIL for C++ code (re-entrant, any thread).
struct Gil {
    PyGILState_STATE st;
    bool pd;
    Gil() : st(PyGILState_Ensure()), pd(on_pd_thread_raw()) {
        if (pd) g_pd_in_python.fetch_add(1);
    }
    ~Gil() {
        if (pd) g_pd_in_python.fetch_sub(1);
        PyGILState_Release(st);
    }
};

// Post the current Python exception (traceback) to the console; clears it. Never exits,
// also for SystemExit.
// With `obj` on Pd's thread, the first line goes through pd_error(obj) so that Pd can find
// the object ("Find last error").
void report_exception(const char* where, const void* obj = nullptr);

// Register (again) the exit guard of exitguard.cpp; rate-limited unless force.
void exit_guard_arm(bool force);

// ---------------------------------------------------------------- console (console.cpp)
// Post a line to the Pd console from any thread (level 0 = normal, 1 = error).
void console_post(const std::string& text, int level = 0);
void console_postf(int level, const char* fmt, ...);

// ---------------------------------------------------------------- messages (convert.cpp)
// A Pd atom that can cross threads: symbols travel as strings, and are interned with
// gensym only on Pd's thread.
struct OutAtom {
    bool is_symbol = false;
    t_float f = 0;
    std::string s;
};
struct OutMsg {
    std::string sel;  // "bang", "float", "symbol", "list" or an anything selector
    std::vector<OutAtom> atoms;
    std::shared_ptr<void> pin;  // an opaque Python object reference kept valid while queued
};

PyObject* atom_to_py(const t_atom* a);                     // new ref, or NULL with error
PyObject* atoms_to_tuple(int argc, const t_atom* argv);    // new ref
// Python value to a Pd message by the rules of spec §2.5 (plus numbers by __index__ and
// __float__). Values that cannot be converted are posted and become the empty symbol (as
// in the original); complex numbers and strings that are not valid UTF-8 (lone
// surrogates) raise instead: false with a Python exception (TypeError/UnicodeEncodeError).
bool py_to_msg(PyObject* v, OutMsg& out);
// Complex numbers (Python, numpy, torch): Pd has no place for the imaginary part.
bool is_complex(PyObject* v);                        // never raises
void complex_error(PyObject* v, const char* what);  // sets a TypeError
// Convert one Python value to an atom: 1 done, 0 not convertible (no exception), -1 a
// Python exception is set (a complex number, a str that is not valid UTF-8).
int py_to_atom(PyObject* v, OutAtom& out);
// Deliver on Pd's thread.
void msg_to_outlet(t_outlet* o, const OutMsg& m);
void msg_to_receiver(const std::string& name, const OutMsg& m);
void msg_to_pd(t_pd* target, const OutMsg& m);
std::vector<t_atom> msg_atoms(const OutMsg& m);

// ---------------------------------------------------------------- opaque objects (pyobjref.cpp)
// @py 1: Python objects travel as `PyObject <type> <hi> <lo>` messages that name an entry
// of a table of references (lifetime rule in pyobjref.cpp and docs/pyext.md).
void pyobjref_init();
void pyobjref_tick();                 // Pd's thread, every 1 ms of logical time
t_symbol* pyobjref_selector();
// GIL held: register v and build its message; `pinned` (a message that will wait in a
// queue) keeps it valid until out.pin is released.
void pyobjref_message(PyObject* v, bool pinned, OutMsg& out);
// Is this message a reference? (also `list PyObject ...`); *id = 0 if malformed.
bool pyobjref_is(t_symbol* sel, int argc, const t_atom* argv, uint64_t* id = nullptr);
// GIL held: the object (new ref), or NULL after posting one line (expired, malformed).
PyObject* pyobjref_lookup(t_symbol* sel, int argc, const t_atom* argv, const void* obj,
                          const char* who);
// No GIL: keep a reference valid while its message waits in a queue; nullptr (one line
// posted, *ok false) if it already expired.
std::shared_ptr<void> pyobjref_pin(t_symbol* sel, int argc, const t_atom* argv, const void* obj,
                                   const char* who, bool* ok);
size_t pyobjref_count();              // GIL held: live references (after collecting)

// ---------------------------------------------------------------- Symbol (symbol.cpp)
PyObject* symbol_from_pd(t_symbol* s);    // new ref to a pyext.Symbol
PyObject* symbol_from_str(const char* s);  // new ref
bool symbol_init(PyObject* module);         // needs the Python part of the module loaded

// ---------------------------------------------------------------- outbound queue (outqueue.cpp)
struct Host;
void outqueue_init();
// Queue an outlet message of `host` (outlet < 0: the attribute outlet).
void out_outlet(const std::shared_ptr<Host>& host, int outlet, OutMsg&& m);
void out_send(std::string&& receiver, OutMsg&& m);
void out_post(std::string&& text, int level);
// Run fn on Pd's thread: now if we are on it, otherwise queue it and, when `wait`, block
// until it ran (with the GIL released if the caller holds it).
void run_on_pd(std::function<void()> fn, bool wait);
// Deliver everything queued so far (Pd's thread only).
void outqueue_drain();

// ---------------------------------------------------------------- Python module (module.cpp)
PyObject* pyext_module();          // borrowed
PyObject* pyext_helper(const char* name);  // borrowed attribute of the module, or NULL
PyMODINIT_FUNC PyInit_pyext(void);

// ---------------------------------------------------------------- _class (pyclass.cpp)
struct PyExtBase {
    PyObject_HEAD
    Host* host;  // set while attached to a Pd object; cleared under the GIL at teardown
    PyObject* weakrefs;
};
extern PyTypeObject PyExtBase_Type;
bool pyclass_ready(PyObject* module);

// ---------------------------------------------------------------- Buffer (buffer.cpp)
bool buffer_ready(PyObject* module);
// Wrap the methods of Pd's array and canvas classes that reallocate or free arrays, so
// that exported views are moved aside first (Pd's thread, at load time).
void buffer_protect_pd();

// ---------------------------------------------------------------- hosts (host.cpp)
struct InMsg {
    int inlet = 0;          // Python inlet number, 1-based
    t_symbol* sel = nullptr;
    std::vector<t_atom> atoms;
    std::shared_ptr<void> pin;  // an opaque object reference, kept valid until dispatched
};

struct Worker;   // worker.cpp
struct Stream;   // stream.cpp
struct Binding;  // bind.cpp

struct Host : std::enable_shared_from_this<Host> {
    // Pd side (Pd's thread only)
    t_object* obj = nullptr;
    t_canvas* canvas = nullptr;
    std::vector<t_outlet*> outlets;
    t_outlet* attr_outlet = nullptr;
    std::vector<t_pd*> inlet_proxies;
    std::vector<Binding*> bindings;

    // configuration
    const char* kind = "pyext";   // "pyext", "pyext~" or "py" (for messages)
    std::string canvas_dir;
    std::string module_name;      // importable name (dotted allowed)
    std::string class_name;
    std::vector<t_atom> args;     // constructor atoms, without @attributes
    int n_in = 0, n_out = 0;      // Python inlets/outlets
    int sig_in = 0, sig_out = 0;  // signal inlets/outlets (pyext~)
    std::atomic<bool> outlets_ready{false};  // read by other threads in _outlet
    bool counts_given = false;    // {nin nout} on the object box win over _inlets/_outlets
    bool streaming = false;       // pyext~ class with process() and _chunk
    bool info_is_attr = false;    // named streaming objects ([rave~]): pyext's replies
                                  // (underruns) share the last Python outlet

    // Python side (GIL)
    PyObject* module = nullptr;
    PyObject* cls = nullptr;
    PyObject* inst = nullptr;

    // state shared between threads
    std::atomic<bool> alive{true};
    std::atomic<bool> shouldexit{false};
    std::atomic<int> detach{0};
    std::atomic<int> sync_attr{-1};  // -1: automatic (sync under -batch), 0 or 1: @sync
    std::atomic<bool> respond{false};
    std::atomic<bool> pymsg{false};  // @py 1: outlets send opaque Python object references
    std::atomic<int> running{0};   // detached calls in progress
    std::atomic<unsigned> stop_count{0};   // stops so far: Python threads compare it
    std::atomic<bool> stop_pending{false};  // stop sent: clear shouldexit when running is 0
    std::atomic<bool> torn_down{false};
    t_clock* stop_clock = nullptr;   // Pd's thread: reports calls still running after stop
    int stop_ms = 0;
    Worker* worker = nullptr;        // heap, created on first detached message
    Stream* stream = nullptr;        // pyext~ streaming state

    ~Host();  // worker.cpp: frees the worker's queue (Python references are left alone:
              // the last owner may be any thread, with or without the GIL)

    bool sync() const {
        int s = sync_attr.load();
        return s < 0 ? batch_mode() : s != 0;
    }
};

using HostPtr = std::shared_ptr<Host>;

// Creation: parses nothing; loads module/class and creates the instance (GIL held).
bool host_load(Host* h, bool reload_module);
// Find (canvas dir, Pd's search path) and import or reload a module (GIL held); new ref.
PyObject* host_import(Host* h, const std::string& module, bool reload_module);
bool host_make_instance(Host* h);       // __new__ + __init__ (GIL held)
void host_drop_instance(Host* h);       // _del, unbind, detach pointer (GIL held)
int host_count(PyObject* inst, const char* name);  // _inlets/_outlets (GIL held)
// Message into Python inlet n (Pd's thread): dispatches now or hands over to a worker.
void host_message(Host* h, int inlet, t_symbol* sel, int argc, t_atom* argv);
// §2.3 dispatch (GIL held, any thread). Returns true if a handler was found.
bool host_dispatch(Host* h, int inlet, t_symbol* sel, int argc, const t_atom* argv);
// Control messages into the leftmost inlet (Pd's thread). Returns false if unknown.
bool host_control(Host* h, t_symbol* sel, int argc, t_atom* argv);
void host_apply_attrs(Host* h, int argc, t_atom* argv);  // "@name value..." groups
void host_free(HostPtr& h);     // Pd's thread: the Pd object goes away
void host_teardown(Host* h);    // once, GIL held: Python side goes away
void attr_out(Host* h, const char* sel, int argc, t_atom* argv);  // Pd's thread
// stop: set shouldexit and drop queued messages, never waiting (any thread); shouldexit is
// cleared when the running calls have ended; calls still running after ms are reported.
void host_stop(Host* h, int ms);
void host_call_ended(Host* h);  // a detached call returned (any thread)

// ---------------------------------------------------------------- workers (worker.cpp)
void worker_post(const HostPtr& h, InMsg&& m);   // Pd's thread, never takes the GIL
void worker_spawn(const HostPtr& h, InMsg&& m);  // detach 2: one thread per call
void worker_clear(Host* h);                      // drop pending messages
void worker_shutdown(const HostPtr& h);          // Pd's thread: stop and tear down async

// ---------------------------------------------------------------- bindings (bind.cpp)
bool bind_add(Host* h, const char* name, PyObject* fn);     // Pd's thread, GIL held
bool bind_remove(Host* h, const char* name, PyObject* fn);  // Pd's thread, GIL held
void defer_on_pd(std::function<void()> fn);  // outqueue.cpp: run later on Pd's thread
void bind_clear(Host* h);        // GIL held, any thread: drop all bindings
void bind_unbind_pd(Host* h);    // Pd's thread: detach all receivers from Pd now

// ---------------------------------------------------------------- Pd classes
void pyext_obj_setup();   // pyext_obj.cpp: pyext, pyext~ and aliases
void py_obj_setup();      // py_obj.cpp
HostPtr* host_of(t_object* o);  // pyext_obj.cpp

// ---------------------------------------------------------------- signal (stream.cpp)
void stream_dsp(Host* h, t_signal** sp);   // pyext~ dsp method
void stream_free(Host* h);
PyObject* stream_vec(Host* h, int index, bool out);  // _invec/_outvec (GIL held)
bool stream_report(Host* h);  // latency/underruns to attr outlet; false if not streaming now
