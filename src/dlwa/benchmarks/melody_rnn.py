"""Benchmarks of MelodyRNN generation (``dlwa bench melody_rnn``).

- ``steps_per_second``: 16th-note steps generated per second by each shipped checkpoint
  (basic, lookback, attention), continuing a 2-bar primer by 8 bars with plain sampling,
  and with beam search (beam 4, branch factor 2, 4 steps per iteration).
- ``answer_latency``: wall time from the end of a phrase to the first answer note being
  scheduled: the ``[melody_rnn]`` object (headless, through the pyext stand-in) receives
  a 2-bar phrase, then ``generate`` for an 8-bar answer; the clock runs from the message to
  its first ``schedule`` reply (the whole answer is computed by then). The A.I. Duet
  budget is the 600 ms silence before an answer; the goal here is under 50 ms.

All figures are medians of repeated runs on one torch thread, after one warm-up run.
"""

from __future__ import annotations

import statistics
import time

from dlwa.bench import Measurement, benchmark

MODELS = ("melody_rnn_basic", "melody_rnn_lookback", "melody_rnn_attention")
PHRASE = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 67, 65, 64]  # 8th notes
ANSWER_STEPS = 128
REPEATS = 7


def _primer() -> list:
    from dlwa.melody_rnn.generate import Note

    return [Note(i * 0.25, i * 0.25 + 0.2, p, 90) for i, p in enumerate(PHRASE)]


@benchmark("melody_rnn")
def steps_per_second() -> list[Measurement]:
    """Generation speed of each shipped checkpoint, sampling and beam search."""
    import torch

    from dlwa.melody_rnn.generate import GenerateOptions, load_generator

    torch.set_num_threads(1)
    out = []
    for name in MODELS:
        generator = load_generator(name)
        for label, options in (("sampling", GenerateOptions(seed=0)),
                               ("beam 4x2/4", GenerateOptions(seed=0, beam_size=4,
                                                              branch_factor=2,
                                                              steps_per_iteration=4))):
            generator.answer(_primer(), n_steps=ANSWER_STEPS, qpm=120, options=options)
            times = []
            for _ in range(REPEATS):
                start = time.perf_counter()
                generator.answer(_primer(), n_steps=ANSWER_STEPS, qpm=120, options=options)
                times.append(time.perf_counter() - start)
            out.append(Measurement(f"{name} {label}", ANSWER_STEPS / statistics.median(times),
                                   "steps/s", f"8 bars after a 2-bar primer, median of {REPEATS}"))
    return out


@benchmark("melody_rnn")
def answer_latency() -> list[Measurement]:
    """Phrase end → first answer note scheduled, through the Pd object (stand-in)."""
    import torch

    from dlwa.pd import melody_rnn, standin

    torch.set_num_threads(1)
    out = []
    for name in MODELS:
        standin.reset()
        obj = standin.create(melody_rnn)
        for text in (f"load {name}", "tempo 120", "length 8 bars", "seed 1"):
            standin.send_message(obj, 1, text)
        standin.outputs(obj)
        times = []
        for k in range(REPEATS + 1):
            standin.send_message(obj, 1, "clear")
            for i, pitch in enumerate(PHRASE):
                standin.send_message(obj, 1, f"time {i * 250}")
                standin.send_message(obj, 1, f"note {pitch} 90")
                standin.send_message(obj, 1, f"time {i * 250 + 200}")
                standin.send_message(obj, 1, f"note {pitch} 0")
            standin.outputs(obj)
            start = time.perf_counter()
            standin.send_message(obj, 1, "generate")
            elapsed = time.perf_counter() - start
            replies = standin.outputs(obj)
            if not any(r.startswith("schedule ") for r in replies):
                raise RuntimeError(f"{name}: no answer: {replies[:3]}")
            if k:  # the first run warms up
                times.append(elapsed)
        out.append(Measurement(f"{name} 8-bar answer", 1000 * statistics.median(times), "ms",
                               f"phrase end to first note scheduled, median of {REPEATS}; "
                               f"max {1000 * max(times):.1f} ms"))
    standin.reset()
    return out
