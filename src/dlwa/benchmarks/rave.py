"""RAVE streaming cost: CPU seconds per second of audio, three ways, on the same chunks.

``streaming``: the shipped ``guitar`` model's ``forward`` at its own rate (16 kHz), chunk
1024 (the default), torch on one thread (as [rave~] runs it):

- *direct*: the TorchScript method called on the chunks as nn~ feeds them (the floor);
- *dlwa stream*: :class:`dlwa.rave.stream.RaveStream`, what ``dlwa stream rave`` runs;
- *Pd object*: ``[rave~ guitar]`` in real Pd (``-batch``, so it runs as fast as it can):
  Pd's CPU time over a long (305 s) and a short (5 s) render of the same patch, the
  difference divided by the difference in audio length (model loading and start-up cancel
  out), median of three.

Also the same object at 48 kHz in Pd, where the stream resamples to the model's rate and
back. The goal: the Pd object and dlwa stream within 5 % of the direct calls.

With ``DLWA_NN_TILDE=<folder holding nn~.pd_linux>`` (IRCAM's nn~, built from its source
against the torch wheel's libtorch; never part of dlwa) the same render is measured with
``[nn~ <guitar.ts> forward 1024]`` in place of ``[rave~]``: nn~'s threaded mode, with a
``bufsize`` message before ``pd quit`` so that nn~ joins its last model thread (without
it, libtorch can shut down under that thread at exit).
"""

from __future__ import annotations

import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from dlwa import pd_runner
from dlwa.bench import Measurement, benchmark

MODEL = "guitar"
CHUNK = 1024
SECONDS = 30.0
RUNS = 3
PD_SECONDS = (5.0, 305.0)  # long enough that start-up (torch import, ±0.5 s) is noise


def _audio(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 147 * t) + 0.05 * rng.standard_normal(len(t))
            ).astype(np.float32)[None]


def _cpu_per_second(fn, seconds: float, runs: int = RUNS) -> float:
    values = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        values.append((time.process_time() - start) / seconds)
    return statistics.median(values)


def _pd_cpu(seconds: float, rate: int, nn_tilde: str | None = None) -> float:
    """CPU seconds of a headless Pd rendering ``seconds`` of a tone through [rave~ guitar]
    (or, with ``nn_tilde``, through IRCAM's [nn~] loaded from that folder)."""
    p = pd_runner.Patch()
    source = p.obj("osc~ 147")
    if nn_tilde:
        from dlwa.rave.model import find_model

        live = p.obj(f"nn~ {find_model(MODEL)} forward {CHUNK}")
    else:
        live = p.obj(f"rave~ {MODEL} forward {CHUNK if rate == 16000 else 0}")
    sink = p.obj("*~ 0")
    p.connect(source, 0, live, 0)
    p.connect(live, 0, sink, 0)
    end = p.obj(f"delay {seconds * 1000}")
    quit_ = p.msg("\\; pd quit")
    if nn_tilde:  # nn~ joins its model thread on bufsize: then quit cleanly
        join = p.msg(f"bufsize {CHUNK}")
        p.connect(end, 0, join, 0)
        p.connect(join, 0, live, 0)
    p.connect(end, 0, quit_, 0)
    p.sequence(("\\; pd dsp 1", -1, 0), ("bang", end, 0))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="dlwa-bench-") as d:
        extra = ["-path", nn_tilde] if nn_tilde else []
        pd_runner.run_patch(p.write(Path(d) / "bench.pd"), sample_rate=rate, timeout_s=600,
                            extra_args=extra).check()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _pd_per_second(rate: int, nn_tilde: str | None = None) -> float:
    short, long = PD_SECONDS
    values = [(_pd_cpu(long, rate, nn_tilde) - _pd_cpu(short, rate, nn_tilde)) / (long - short)
              for _ in range(RUNS)]
    return statistics.median(values)


@benchmark("rave")
def streaming() -> list[Measurement]:
    import torch

    from dlwa.rave.model import NNModel, find_model
    from dlwa.rave.stream import RaveStream

    torch.set_num_threads(1)
    path = find_model(MODEL)
    rate = NNModel(path).sample_rate
    x = _audio(SECONDS, rate)
    n = x.shape[1] // CHUNK * CHUNK

    model = NNModel(path)
    RaveStream(model, chunk=CHUNK).warm_up()

    def direct() -> None:
        with torch.inference_mode():
            for s in range(0, n, CHUNK):
                model.module.forward(torch.from_numpy(x[:, s:s + CHUNK])[None])

    stream = RaveStream(model, chunk=CHUNK)

    def streamed() -> None:
        for s in range(0, n, CHUNK):
            stream.process(x[:, s:s + CHUNK])

    note = f"chunk {CHUNK}, torch 1 thread, median of {2 * RUNS} x {SECONDS:g} s"
    direct_runs, stream_runs = [], []
    for _ in range(2 * RUNS):  # interleaved, so that the machine's drift hits both alike
        direct_runs.append(_cpu_per_second(direct, n / rate, runs=1))
        stream_runs.append(_cpu_per_second(streamed, n / rate, runs=1))
    direct_cpu, stream_cpu = statistics.median(direct_runs), statistics.median(stream_runs)
    pd_cpu = _pd_per_second(rate)
    pd48 = _pd_per_second(48000)
    nn_tilde = os.environ.get("DLWA_NN_TILDE")
    extra = []
    if nn_tilde:
        nn_cpu = _pd_per_second(rate, nn_tilde)
        extra.append(Measurement(
            "guitar forward, IRCAM's [nn~] in Pd at 16 kHz", nn_cpu, "CPU s per s of audio",
            f"{100 * (nn_cpu / direct_cpu - 1):+.1f} % against direct; nn~ built from its "
            "source against the torch wheel's libtorch, threaded mode, chunk 1024"))
    return [
        Measurement("guitar forward, TorchScript called directly", direct_cpu,
                    "CPU s per s of audio", note),
        Measurement("guitar forward, dlwa stream (RaveStream)", stream_cpu,
                    "CPU s per s of audio", f"{100 * (stream_cpu / direct_cpu - 1):+.1f} % "
                    "against direct"),
        Measurement("guitar forward, [rave~] in Pd at 16 kHz", pd_cpu, "CPU s per s of audio",
                    f"{100 * (pd_cpu / direct_cpu - 1):+.1f} % against direct; Pd's CPU over "
                    f"{PD_SECONDS[1]:g} s minus over {PD_SECONDS[0]:g} s of -batch render, "
                    f"median of {RUNS}"),
        Measurement("guitar forward, [rave~] in Pd at 48 kHz (resampled)", pd48,
                    "CPU s per s of audio", "default chunk (1536), the same method"),
        *extra,
    ]
