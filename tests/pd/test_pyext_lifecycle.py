"""Creation syntax, module search, reload, exceptions, attributes and bindings."""

import pytest
from pyext_patch import QUIT, Patch

pytestmark = pytest.mark.pd


def test_reload_and_reload_dot(run):
    p = Patch()
    a = p.obj("pyext reloadme R 1 2")
    b = p.obj("pyext reloadme R 9")
    pa, pb = p.obj("print A"), p.obj("print B")
    p.connect(a, 0, pa, 0)
    p.connect(b, 0, pb, 0)
    p.sequence(
        ("bang", a, 1),
        ("rewrite", a, 1),
        ("reload 5 6", a, 0),   # new code and args for a (only a is re-created)
        ("bang", a, 1),
        ("bang", b, 1),
        ("reload.", a, 0),      # keeps the args
        ("bang", a, 1),
        ("reload", a, 0),       # plain reload: empty args
        ("bang", a, 1),
        QUIT,
    )
    r = run(p).check()
    assert r.printed("A") == ["v 1 2 1 2", "v 22 2 5 6", "v 22 2 5 6", "v 22 0"]
    assert r.printed("B") == ["v 22 1 9"]  # b's old instance reads the reloaded globals
    # _del of a's old instances ran before each re-creation; b was never re-created
    assert [line for line in r.lines if line.startswith("DEL")] == [
        "DEL 1 1 2", "DEL 22 5 6", "DEL 22 5 6"]


def test_reload_recreates_only_the_receiving_object(run):
    """Other objects of the module keep their instance and its state (a loaded model)."""
    p = Patch()
    a = p.obj("pyext reloadme R 1")
    b = p.obj("pyext reloadme R 2")
    pa, pb = p.obj("print A"), p.obj("print B")
    p.connect(a, 0, pa, 0)
    p.connect(b, 0, pb, 0)
    p.sequence(
        ("tick", a, 1), ("tick", b, 1), ("tick", b, 1), ("tick", b, 1),
        ("rewrite", a, 1), ("reload.", a, 0),
        ("state", a, 1), ("state", b, 1),
        QUIT,
    )
    r = run(p).check()
    assert r.printed("A") == ["state 0 22 22"]  # new instance of the new class
    assert r.printed("B") == ["state 3 1 1"]    # same instance, same (old) class, state kept
    assert [line for line in r.lines if line.startswith("DEL")] == ["DEL 1 1"]


def test_failed_reload_is_reported_and_recoverable(run):
    p = Patch()
    a = p.obj("pyext reloadme R 1")
    pa = p.obj("print A")
    p.connect(a, 0, pa, 0)
    brk, fix = p.obj("py reloadme break_module"), p.obj("py reloadme fix_module")
    p.sequence(
        ("bang", brk, 0), ("reload.", a, 0), ("bang", a, 1),   # syntax error: no instance
        ("bang", fix, 0), ("reload.", a, 0), ("bang", a, 1),   # fixed: works again
        QUIT,
    )
    r = run(p).check()
    assert any("SyntaxError" in line for line in r.lines)
    assert any("has no Python instance (a reload failed)" in line for line in r.lines)
    assert r.printed("A") == ["v 1 1 1"]


def test_exceptions_are_reported_and_pd_keeps_running(run):
    p = Patch()
    p.obj("pyext errors BadInit")
    obj = p.obj("pyext errors BadHandler")
    pr = p.obj("print OUT")
    p.connect(obj, 0, pr, 0)
    oi = p.obj("pyext errors OutletInInit")
    p2 = p.obj("print INIT")
    p.connect(oi, 0, p2, 0)
    p.sequence(("boom", obj, 1), ("exit", obj, 1), ("thread", obj, 1), ("early", obj, 1),
               ("answer", obj, 1), ("bang", obj, 1), QUIT)
    r = run(p).check()
    out = r.output
    assert "RuntimeError: bad init" in out
    assert "couldn't create" in out and "errors BadInit" in out
    assert "ValueError: boom in handler" in out
    assert "SystemExit: 3" in out
    assert "KeyError: 'boom in thread'" in out
    assert "outlet 5 out of range (1..1)" in out
    assert "returned value is ignored" in out
    assert r.printed("OUT") == ["alive"]
    assert any(l.startswith("INIT OUTLET _outlet: the outlets do not exist yet") for l in r.lines)
    assert "INIT HOOK ran" in r.lines


def test_attribute_outlet_messages(run):
    p = Patch()
    obj = p.obj("pyext 1 2 pdattrs Attrs @respond 1")   # counts on the box win: 2 outlets
    attr = p.obj("print ATTR")
    p.connect(obj, 2, attr, 0)                          # attribute outlet is the rightmost
    send = p.msg("\\; bus1 1 2 \\; bus1 foo x \\; bus1 off \\; bus1 3")
    p.sequence(
        ("get gain", obj, 0), ("set gain 0.75", obj, 0), ("get gain", obj, 0),
        ("set name a b", obj, 0), ("get name", obj, 0),
        ("set _x 1", obj, 0), ("set missing 1", obj, 0),
        ("getdetach", obj, 0), ("detach 1", obj, 0), ("getdetach", obj, 0), ("detach 0", obj, 0),
        ("getattributes", obj, 0), ("getrespond", obj, 0),
        ("show", obj, 1), ("nothing_here", obj, 1),
        ("doc", obj, 0), ("doc+", obj, 0), ("help", obj, 0),
        ("bang", send, 0),
        QUIT,
    )
    r = run(p).check()
    got = r.printed("ATTR")
    assert got[:3] == ["get gain 0.5", "get gain 0.75", "get name a b"]
    assert got[3:] == ["detach 0", "detach 1", "attributes detach dir+ args py respond sync",
                       "respond 1", "response 1", "response 0"]
    assert "error: pyext: set: attribute names starting with '_' are reserved" in r.lines
    assert any("set: no attribute 'missing'" in l for l in r.lines)
    assert "Module docstring of pdattrs." in r.lines and "Second line." in r.lines
    assert "Class docstring of Attrs." in r.lines
    assert any(l.startswith("pyext: [pyext {nin nout} module class") for l in r.lines)
    assert [l for l in r.lines if l.startswith("BUS")] == [
        "BUS (1, 2)", "BUS (<Symbol foo>, <Symbol x>)", "BUS (<Symbol off>,)"]


def test_dir_and_dir_plus(run):
    p = Patch()
    obj = p.obj("pyext pdattrs Attrs")
    attr = p.obj("print ATTR")
    p.connect(obj, 1, attr, 0)
    p.sequence(("dir", obj, 0), ("dir+", obj, 0), QUIT)
    r = run(p).check()
    d, dplus = r.printed("ATTR")
    assert d.startswith("dir ") and "Attrs" in d.split() and "pyext" in d.split()
    assert dplus.startswith("dir+ ") and {"gain", "show_1", "_outlet"} <= set(dplus.split())


def test_deleting_object_unbinds_and_calls_del(run):
    p = Patch()
    p.lines.append("#N canvas 0 0 300 200 sub 0;")
    p.lines.append("#X obj 10 10 pyext pdattrs Attrs;")
    p.lines.append("#X restore 400 10 pd sub;")
    p.count += 1
    p.sequence(("\\; bus1 1", -1, 0), ("\\; pd-sub clear", -1, 0), ("\\; bus1 2", -1, 0), QUIT)
    r = run(p).check()
    assert [l for l in r.lines if l.startswith("BUS")] == ["BUS (1,)"]
    assert "ATTRS DEL" in r.lines


def test_module_search_declare_path_dotted_and_subdir(run, workdir):
    (workdir / "lib").mkdir()
    (workdir / "lib" / "libmod.py").write_text(
        "import pyext\nclass L(pyext._class):\n    _outlets = 1\n"
        "    def _init(self): print('found', 'libmod')\n")
    (workdir / "pkg").mkdir()
    (workdir / "pkg" / "__init__.py").write_text("")
    (workdir / "pkg" / "sub.py").write_text(
        "import pyext\nclass sub(pyext._class):\n    _outlets = 1\n"
        "    def __init__(self, *a): self.a = a\n"
        "    def _init(self): print('found', 'pkg.sub', *self.a)\n"
        "class K(sub): pass\n")
    (workdir / "deep" / "er").mkdir(parents=True)
    (workdir / "deep" / "er" / "deepmod.py").write_text(
        "import pyext\nclass D(pyext._class):\n    _outlets = 1\n"
        "    def _init(self): print('found', 'deepmod')\n")
    p = Patch()
    p.lines.append("#X declare -path lib;")  # what Pd saves for a [declare -path lib]
    p.obj("declare -path lib")
    for box in ("pyext libmod L", "pyext. pkg.sub K 1", "pyx. pkg.sub 7", "pyext pkg.sub.K",
                "pyext deep/er/deepmod D"):
        p.obj(box)
    p.sequence(QUIT)
    r = run(p).check()
    # _init runs at creation, before loadbang; Pd creates objects in file order
    assert [l for l in r.lines if l.startswith("found")] == [
        "found libmod", "found pkg.sub 1", "found pkg.sub 7", "found pkg.sub", "found deepmod"]


def test_course_style_script_runs_unchanged(run):
    p = Patch()
    p.array("melody_out", 10)
    obj = p.obj("pyext course_melody melody_rnn @detach 1")
    trim = p.obj("list trim")
    pr = p.obj("print COURSE")
    p.connect(obj, 0, trim, 0)
    p.connect(trim, 0, pr, 0)
    size = p.obj("array size melody_out")
    ps = p.obj("print SIZE")
    p.connect(size, 0, ps, 0)
    d = p.obj("delay 1000")
    t = p.obj("t b b")
    p.connect(d, 0, t, 0)
    p.connect(t, 1, size, 0)
    q = p.msg("\\; pd quit")
    p.connect(t, 0, q, 0)
    p.sequence(("note 60 100", obj, 1), ("load basic_rnn", obj, 1), ("note 60 100", obj, 1),
               ("generate melody_out 500", obj, 1), ("bang", d, 0))
    r = run(p, batch=False).check()
    assert "no model loaded" in r.lines
    # the Timer's note and the worker's 'generated' may arrive in either order
    got = r.printed("COURSE")
    assert got[0] == "loaded basic_rnn"
    assert sorted(got[1:]) == ["generated melody_out 500", "note 72 100"]
    assert r.printed("SIZE") == ["500"]


def test_objects_load_without_lib_flag(pd_external, workdir):
    """[pyext]/[pyext~] are found by Pd's loader through links to the py binary."""
    import subprocess

    from dlwa import pd_runner

    p = Patch()
    p.obj("pyext dispatch Full")
    p.obj("pyext~ signals Identity")
    p.obj("py .len")
    p.sequence(QUIT)
    path = p.write(workdir / "nolib.pd")
    cmd = [pd_runner.find_pd(), *pd_runner.HEADLESS_FLAGS, "-batch", "-path",
           str(pd_external.parent), "-open", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=workdir,
                          check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "couldn't create" not in out and "py/pyext (pyext_py3)" in out
