"""SampleRNN speed: seconds of compute per second of generated audio, batch 1 and 8.

``generation``: :meth:`dlwa.samplernn.generate.Generator.generate` for the shipped
``guitar`` model and for the course's ``lstm-linear-skip`` configuration (LSTM 4 × 1024,
frames [16, 64], linear 256 levels, skip connections; random weights), with the compiled
per-sample loop and, for the default model, the torch loop it replaces. A figure below 1
is faster than real time. Each is the median of a few runs of 2 s of audio (batch 8:
per second of one sequence's audio divided by 8, i.e. the cost of a second of output).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from dlwa.bench import Measurement, benchmark

SECONDS = 2.0
RUNS = 3
BATCHES = (1, 8)
COURSE_CONFIG = {"seq_len": 1024, "frame_sizes": [16, 64], "dim": 1024, "rnn_type": "lstm",
                 "num_rnn_layers": 4, "q_type": "linear", "q_levels": 256, "emb_size": 256,
                 "skip_conn": True}


def _seconds_per_second(model: object, batch: int, *, use_kernel: bool, seconds: float
                        ) -> float:
    from dlwa.samplernn.generate import Generator

    generator = Generator(model, batch_size=batch, use_kernel=use_kernel)  # type: ignore[arg-type]
    n = round(seconds * generator.sample_rate)
    generator.generate_codes(generator.config.big_frame_size * 4,
                             rng=np.random.default_rng(0))  # warm-up
    times = []
    for run in range(RUNS):
        start = time.perf_counter()
        generator.generate_codes(n, rng=np.random.default_rng(run))
        times.append(time.perf_counter() - start)
    return statistics.median(times) / seconds / batch


@benchmark("samplernn")
def generation() -> list[Measurement]:
    from dlwa.samplernn.model import SampleRNN, SampleRNNConfig, load_model, n_parameters

    default, checkpoint = load_model("guitar")
    course = SampleRNN(SampleRNNConfig.from_prism(COURSE_CONFIG)).eval()
    results = []
    cases = [(f"default ({checkpoint.name})", default, True, SECONDS),
             (f"default ({checkpoint.name}), torch loop", default, False, SECONDS / 4),
             ("course lstm-linear-skip, random weights", course, True, SECONDS / 4)]
    for name, model, use_kernel, seconds in cases:
        for batch in BATCHES:
            value = _seconds_per_second(model, batch, use_kernel=use_kernel, seconds=seconds)
            results.append(Measurement(
                f"{name}, batch {batch}", value, "s per s of audio",
                f"{n_parameters(model) / 1e6:.1f} M parameters, {seconds:g} s generated, "
                f"torch on 1 thread (as generation runs it), median of {RUNS}"))
    return results
