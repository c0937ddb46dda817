// Opaque Python objects as Pd messages (@py 1, spec §2.5): a table of strong references,
// keyed by a number that travels in a message `PyObject <type> <hi> <lo>`.
//
// Lifetime rule (docs/pyext.md, "Python objects as values"): a reference is valid while
// the message that carries it is being delivered and for the rest of that logical
// millisecond and the next one (generations advanced by the delivery clock of
// outqueue.cpp, every 1 ms of logical time): at least 1 ms of logical time after it was
// sent, so depth-first chains, [t], [delay 0] and [list store] banged in the same
// instant all see the object. A reference that is still in a queue (sent by a worker and
// not yet delivered, or received by a detached object and not yet dispatched) is pinned
// and does not expire; its window starts when the pin is released. After that the
// table's reference is dropped and a message that still carries the number is refused
// with one error line. So memory is bounded by what was sent in the last 2 ms of logical
// time plus what is queued.
//
// Threads: the table is guarded by a mutex that is never held while taking the GIL nor
// while running Python code (Py_DECREF may run __del__, which may send again).
// Expired references are released lazily, by the next thread that registers or looks up
// an object (it holds the GIL): Pd's thread never takes the GIL for this.
#include "pyext.hpp"

#include <unordered_map>

namespace {

struct Entry {
    PyObject* obj;        // strong reference (released under the GIL)
    uint64_t stamp;       // generation when sent (or when the last pin was released)
    int pins;             // queued messages that still carry it
    std::string type;     // for messages about it
};

struct Table {
    std::mutex m;
    std::unordered_map<uint64_t, Entry> entries;
    uint64_t next_id = 1;
    uint64_t collected_gen = ~0ull;
};

Table* g_t = nullptr;  // heap, never destroyed
std::atomic<uint64_t> g_gen{0};
t_symbol* g_sym = nullptr;

constexpr uint64_t kLow = 1u << 24;  // a t_float holds integers below 2^24 exactly
constexpr uint64_t kWindow = 2;      // generations a reference stays valid

bool expired(const Entry& e, uint64_t gen) { return e.pins == 0 && gen - e.stamp >= kWindow; }

}  // namespace

void pyobjref_init() {
    g_t = new Table();
    g_sym = gensym("PyObject");
}

t_symbol* pyobjref_selector() { return g_sym; }

void pyobjref_tick() { g_gen.fetch_add(1, std::memory_order_relaxed); }

// GIL held. Drop the references that expired (at most one scan per generation unless force).
static void collect(bool force) {
    std::vector<PyObject*> dead;
    {
        std::lock_guard<std::mutex> lk(g_t->m);
        uint64_t gen = g_gen.load();
        if (!force && g_t->collected_gen == gen) return;
        g_t->collected_gen = gen;
        for (auto it = g_t->entries.begin(); it != g_t->entries.end();) {
            if (expired(it->second, gen)) {
                dead.push_back(it->second.obj);
                it = g_t->entries.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (PyObject* o : dead) Py_DECREF(o);  // may run __del__: no lock held
}

static void unpin(uint64_t id) {
    std::lock_guard<std::mutex> lk(g_t->m);
    auto it = g_t->entries.find(id);
    if (it == g_t->entries.end()) return;
    if (--it->second.pins <= 0) {
        it->second.pins = 0;
        it->second.stamp = g_gen.load();  // the validity window starts now
    }
}

static std::shared_ptr<void> make_pin(uint64_t id) {
    return std::shared_ptr<void>(nullptr, [id](void*) { unpin(id); });
}

void pyobjref_message(PyObject* v, bool pinned, OutMsg& out) {
    collect(false);
    Py_INCREF(v);
    uint64_t id;
    std::string type = Py_TYPE(v)->tp_name;
    {
        std::lock_guard<std::mutex> lk(g_t->m);
        id = g_t->next_id++;
        g_t->entries.emplace(id, Entry{v, g_gen.load(), pinned ? 1 : 0, type});
    }
    out.sel = "PyObject";
    out.atoms.assign(3, OutAtom());
    out.atoms[0].is_symbol = true;
    out.atoms[0].s = type;
    out.atoms[1].f = (t_float)(id / kLow);
    out.atoms[2].f = (t_float)(id % kLow);
    out.pin = pinned ? make_pin(id) : nullptr;
}

// `PyObject <type> <hi> <lo>` as an anything message, or `list PyObject <type> <hi> <lo>`
// (after [list store] and friends).
bool pyobjref_is(t_symbol* sel, int argc, const t_atom* argv, uint64_t* id) {
    if (sel == &s_list && argc == 4 && argv[0].a_type == A_SYMBOL && argv[0].a_w.w_symbol == g_sym) {
        sel = g_sym;
        argc--;
        argv++;
    }
    if (sel != g_sym) return false;
    if (id) *id = 0;
    if (argc != 3 || argv[0].a_type != A_SYMBOL || argv[1].a_type != A_FLOAT || argv[2].a_type != A_FLOAT)
        return true;  // malformed: refused by the lookup
    t_float hi = argv[1].a_w.w_float, lo = argv[2].a_w.w_float;
    if (hi < 0 || lo < 0 || lo >= (t_float)kLow) return true;
    if (id) *id = (uint64_t)hi * kLow + (uint64_t)lo;
    return true;
}

// The type name in a reference message (for messages about it).
static const char* ref_type(t_symbol* sel, int argc, const t_atom* argv) {
    if (sel == &s_list && argc >= 1) {
        argc--;
        argv++;
    }
    return argc >= 1 && argv[0].a_type == A_SYMBOL ? argv[0].a_w.w_symbol->s_name : "?";
}

static void refuse(const void* obj, const char* who, uint64_t id, const char* type) {
    if (id == 0)
        console_postf(1, "%s: malformed Python object reference (PyObject <type> <hi> <lo>)", who);
    else if (obj && on_pd_thread())
        pd_error(obj, "%s: Python object #%llu (%s) has expired: a reference sent with @py 1 is "
                 "valid for 1 ms of logical time; keep values in Python to hold them longer",
                 who, (unsigned long long)id, type);
    else
        console_postf(1, "%s: Python object #%llu (%s) has expired: a reference sent with @py 1 "
                      "is valid for 1 ms of logical time; keep values in Python to hold them "
                      "longer", who, (unsigned long long)id, type);
}

PyObject* pyobjref_lookup(t_symbol* sel, int argc, const t_atom* argv, const void* obj, const char* who) {
    uint64_t id = 0;
    pyobjref_is(sel, argc, argv, &id);
    PyObject* v = nullptr;
    if (id) {
        std::lock_guard<std::mutex> lk(g_t->m);
        auto it = g_t->entries.find(id);
        if (it != g_t->entries.end() && !expired(it->second, g_gen.load())) {
            v = it->second.obj;
            Py_INCREF(v);
        }
    }
    collect(false);
    if (!v) refuse(obj, who, id, ref_type(sel, argc, argv));
    return v;
}

std::shared_ptr<void> pyobjref_pin(t_symbol* sel, int argc, const t_atom* argv, const void* obj,
                                   const char* who, bool* ok) {
    uint64_t id = 0;
    pyobjref_is(sel, argc, argv, &id);
    *ok = false;
    if (id) {
        std::lock_guard<std::mutex> lk(g_t->m);
        auto it = g_t->entries.find(id);
        if (it != g_t->entries.end() && !expired(it->second, g_gen.load())) {
            it->second.pins++;
            *ok = true;
        }
    }
    if (!*ok) {
        refuse(obj, who, id, ref_type(sel, argc, argv));
        return nullptr;
    }
    return make_pin(id);
}

size_t pyobjref_count() {
    collect(true);
    std::lock_guard<std::mutex> lk(g_t->m);
    return g_t->entries.size();
}
