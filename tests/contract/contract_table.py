"""The pyext contract: messages in, lines ``[print contract]`` must show, in order.

Rows run in sequence against one ``Contract`` and one ``Steps`` object (see
``pyext_contract.py``), through the stand-in (``test_contract_standin.py``) and through
real Pd with our external (``test_contract_pd.py``). Section numbers refer to
``pyext-spec.md``.

A row is ``(target, message, expected_lines, console_substring)``:

- target: ``in1``/``in2`` (Contract's Python inlets), ``steps1``/``steps2`` (Steps's),
  or ``bound`` (the named receiver ``contract-bound``);
- message: as typed in a Pd message box;
- expected_lines: what ``[print contract]`` prints, without the ``contract:`` prefix
  (both objects' outlet 1 and the receiver ``contract-sent`` feed that print);
- console_substring: text some console line must contain, or None.
"""

from __future__ import annotations

from pathlib import Path

Row = tuple[str, str, list[str], str | None]

MODULE = "pyext_contract"
ARRAY = "contract-arr"
ARRAY_SIZE = 8
SAMPLE_RATE = 48000
CONSTRUCTOR_ARGS = (3, 2.5, "foo")
BOUND = "contract-bound"
SENT = "contract-sent"
PATCH_NAME = "contract.pd"

ROWS: list[Row] = [
    # Creation (§1.8, §2.4): constructor atoms converted, _init after outlets exist.
    ("in1", "args", ["args int:3 float:2.5 Symbol:foo"], None),
    ("in1", "lifecycle", ["lifecycle 1 raised"], None),
    # Dispatch step 1, sel_n (§2.3), with §2.4 conversions.
    ("in1", "bang", ["bang_1"], None),
    ("in1", "3", ["float_1 int:3"], None),
    ("in1", "3.5", ["float_1 float:3.5"], None),
    ("in1", "-2", ["float_1 int:-2"], None),
    ("in1", "1e+06", ["float_1 int:1000000"], None),
    ("in1", "list 1 2 x", ["list_1 int:1 int:2 Symbol:x"], None),
    ("in1", "1 2", ["list_1 int:1 int:2"], None),
    ("in1", "list", ["list_1"], None),
    ("in1", "symbol abc", ["symbol_1 Symbol:abc"], None),
    ("in1", "foo 1 2.5 bar", ["foo_1 int:1 float:2.5 Symbol:bar"], None),
    # Step 3, _anything_n.
    ("in1", "bar 7", ["_anything_1 Symbol:bar int:7"], None),
    # Step 7: nothing matches; a console message, no output.
    ("in2", "zzz 1", [], "no matching method found for 'zzz' into inlet 2"),
    # Step 2, int_n; step 3 for list/bang/symbol without the selector (bang with it).
    ("steps1", "3.7", ["int_1 int:3"], None),
    ("steps1", "-2.5", ["int_1 int:-2"], None),
    ("steps1", "bar 7", ["_anything_1 Symbol:bar int:7"], None),
    ("steps1", "list 1 2", ["_anything_1 int:1 int:2"], None),
    ("steps1", "bang", ["_anything_1 Symbol:bang"], None),
    ("steps1", "symbol s", ["_anything_1 Symbol:s"], None),
    # Steps 4-6: sel_(n, ...), int_(x) without the inlet, _anything_(n, ...).
    ("steps2", "hello 1 x", ["hello_ int:2 int:1 Symbol:x"], None),
    ("steps2", "2.5", ["int_ int:2"], None),
    ("steps2", "bar 7", ["_anything_ int:2 Symbol:bar int:7"], None),
    ("steps2", "bang", ["_anything_ int:2 Symbol:bang Symbol:"], None),
    ("steps2", "list 1 2", ["_anything_ int:2 int:1 int:2"], None),
    ("steps2", "symbol s", ["_anything_ int:2 Symbol:s"], None),
    # Python → Pd (§2.5).
    ("in1", "emit none", ["bang"], None),
    ("in1", "emit int", ["3"], None),
    ("in1", "emit bool", ["1"], None),
    ("in1", "emit float", ["2.5"], None),
    ("in1", "emit str", ["symbol abc"], None),
    ("in1", "emit symbol", ["symbol abc"], None),
    ("in1", "emit anything", ["note 60 100"], None),
    ("in1", "emit anything_tuple", ["note 60 2.5 x"], None),
    ("in1", "emit anything_empty", ["stop"], None),
    ("in1", "emit numbers", ["1 2.5"], None),
    ("in1", "emit words", ["list note 60 100"], None),
    ("in1", "emit single_symbol_list", ["symbol abc"], None),
    ("in1", "emit empty", ["bang"], None),
    ("in1", "emit2", ["list note 60 100"], None),
    ("in1", "emit3", ["1 2.5"], None),
    # The numeric extension: numpy/torch-like scalars, 1-D arrays element-wise.
    ("in1", "emit np_float32", ["1.5"], None),
    ("in1", "emit np_float64", ["0.25"], None),
    ("in1", "emit np_int64", ["7"], None),
    ("in1", "emit np_bool", ["1"], None),
    ("in1", "emit np_arange", ["0 1 2"], None),
    ("in1", "emit np_float_array", ["0.5 -1"], None),
    ("in1", "emit index_only", ["7"], None),
    ("in1", "emit float_only", ["2.5"], None),
    ("in1", "emit anything_np", ["peak 0.5 2"], None),
    ("in1", "outlet_range", ["outlet_range ValueError ValueError"], None),
    # _send (§2.1).
    ("in1", "send 1 2", ["1 2"], None),
    ("in1", "send note 60", ["list note 60"], None),
    ("in1", "send_bang", ["bang"], None),
    # Symbol (§2.6): a str subclass.
    ("in1", "symcheck abc", ["symcheck 1 1 1 1 1 1 1 3 a abcx"], None),
    # Buffer (§2.7).
    ("in1", f"buf_read {ARRAY}", ["buf_read 8 0 0 0 0 0 0 0 0"], None),
    ("in1", f"buf_write {ARRAY} 4", [f"buf_write {ARRAY} 1"], None),
    ("in1", f"buf_read {ARRAY}", ["buf_read 4 0.5 -0.25 1 2"], None),
    ("in1", f"buf_resize {ARRAY} 6", ["buf_resize 6 1"], None),
    ("in1", f"buf_read {ARRAY}", ["buf_read 6 0.5 -0.25 1 2 0 0"], None),
    ("in1", f"buf_item {ARRAY} 1 3", ["buf_item float:-0.25 3"], None),
    ("in1", f"buf_view {ARRAY} 9", ["buf_view 9 float32 1"], None),
    ("in1", f"buf_scale {ARRAY} 0.5", ["buf_scale 18 4.5 6"], None),
    ("in1", f"buf_read {ARRAY}", ["buf_read 6 4.5 1.5 0.5 1 0 0"], None),
    ("in1", "buf_missing contract-nowhere", ["buf_missing ValueError"], None),
    ("in1", f"buf_errors {ARRAY}", ["buf_errors ValueError IndexError IndexError"], None),
    ("in1", f"buf_fill {ARRAY} 0.25", ["buf_fill 0.25 0.25 0.5"], None),
    # Buffer.write (§3.5's atomic helper): resize to fit, then write.
    ("in1", f"buf_write_all {ARRAY}", ["buf_write_all 3 1 1 2 3"], None),
    # Host queries (§2.1, §2.2).
    ("in1", "sr", [f"sr {SAMPLE_RATE} float"], None),
    ("in1", "sr_method", [f"sr_method {SAMPLE_RATE} 64"], None),
    ("in1", "blocksize", ["blocksize 64"], None),
    ("in1", "canvas", ["canvas 1 1"], None),
    ("in1", "shouldexit", ["shouldexit 0"], None),
    ("in1", "detach 5", ["detach ValueError"], None),
    ("in1", "detach 0", ["detach ok"], None),
    # An exception prints a traceback; the object keeps working.
    ("in1", "boom", [], "contract-boom"),
    ("in1", "bang", ["bang_1"], None),
    # _bind/_unbind (§2.2): callbacks get the selector for anything messages.
    ("in1", f"bind {BOUND}", [], None),
    ("bound", "7", ["bound int:7"], None),
    ("bound", "hi 5", ["bound Symbol:hi int:5"], None),
    ("in1", f"unbind {BOUND}", [], None),
    ("bound", "8", [], None),
]

RECEIVERS = {
    "in1": "contract-in1", "in2": "contract-in2", "steps1": "contract-steps1",
    "steps2": "contract-steps2", "bound": BOUND,
}


def contract_patch() -> str:
    """The Pd patch that sends every row, each after a ``contract-mark <index>``, then quits."""
    sends = []
    for i, (target, message, _, _) in enumerate(ROWS):
        sends += [f"\\; contract-mark {i}", f"\\; {RECEIVERS[target]} {message}"]
    sends += [f"\\; contract-mark {len(ROWS)}", "\\; pd quit"]
    args = " ".join(str(a) for a in CONSTRUCTOR_ARGS)
    lines = [
        "#N canvas 0 0 700 500 10;",
        "#X obj 10 10 loadbang;",  # 0
        f"#X msg 10 40 {' '.join(sends)};",  # 1
        "#X obj 10 100 r contract-in1;",  # 2
        "#X obj 130 100 r contract-in2;",  # 3
        f"#X obj 10 140 pyext {MODULE} Contract {args};",  # 4
        "#X obj 300 100 r contract-steps1;",  # 5
        "#X obj 430 100 r contract-steps2;",  # 6
        f"#X obj 300 140 pyext {MODULE} Steps;",  # 7
        "#X obj 10 200 print contract;",  # 8
        f"#X obj 150 170 r {SENT};",  # 9
        "#X obj 300 250 r contract-mark;",  # 10
        "#X obj 300 280 print mark;",  # 11
        f"#X obj 10 300 table {ARRAY} {ARRAY_SIZE};",  # 12
        "#X connect 0 0 1 0;",
        "#X connect 2 0 4 1;",
        "#X connect 3 0 4 2;",
        "#X connect 5 0 7 1;",
        "#X connect 6 0 7 2;",
        "#X connect 4 0 8 0;",
        "#X connect 7 0 8 0;",
        "#X connect 9 0 8 0;",
        "#X connect 10 0 11 0;",
    ]
    return "\n".join(lines) + "\n"


def write_patch(directory: Path) -> Path:
    """Write the contract patch into ``directory`` and return its path."""
    path = directory / PATCH_NAME
    path.write_text(contract_patch())
    return path


def check_rows(results: list[tuple[list[str], list[str]]]) -> list[str]:
    """Compare per-row ``(printed_lines, console_lines)`` with ROWS; return the mismatches."""
    problems = []
    for i, ((target, message, expected, console), (got, log)) in enumerate(
        zip(ROWS, results, strict=True)
    ):
        if got != expected:
            problems.append(f"row {i} {target} '{message}': expected {expected}, got {got}")
        if console is not None and not any(console in line for line in log):
            problems.append(f"row {i} {target} '{message}': no console line has {console!r}")
    return problems
