"""DDSP timbre transfer speed: real-time factor of 60 s of input, per pitch tracker, and the
CPU load of live streaming per chunk size (``streaming``).

``end_to_end``: :func:`dlwa.ddsp.transfer.transfer` on a 60-s melody at 44.1 kHz with the
shipped violin model (resampling, features, auto adjust, decoder, synthesis, resampling
back to 44.1 kHz), one torch thread, best of 3 (crepe-full: one run on the first 10 s,
since it takes minutes per minute of audio). The stages are also
timed alone: the pitch tracker, the decoder (GRU + stacks), the synths and reverb.
``decoder_full_size``: DDSP's ``solo_instrument.gin`` sizes (GRU 512, stacks 3 × 512,
60 harmonics, 65 bands, 48000-sample reverb) on 4 s, the configuration the ddsp package
runs, for the side-by-side comparison in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from dlwa.bench import Measurement, benchmark

DURATION_S = 60.0
INPUT_RATE = 44100


def _best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _melody(sample_rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    n = int(DURATION_S * sample_rate)
    t = np.arange(n) / sample_rate
    notes = 60 + rng.integers(0, 15, size=int(DURATION_S * 4) + 1)
    f0 = 440.0 * 2 ** ((notes[(t * 4).astype(int)] - 69 + 0.2 * np.sin(2 * np.pi * 5 * t)) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    return (0.2 * sum(np.sin(k * phase) / k for k in range(1, 8))).astype(np.float32)


@benchmark("ddsp")
def end_to_end() -> list[Measurement]:
    import torch

    from dlwa.ddsp.features import available_trackers, compute_f0
    from dlwa.ddsp.model import load_model
    from dlwa.ddsp.transfer import TransferParams, transfer

    torch.set_num_threads(1)
    model = load_model("violin")
    audio = _melody(INPUT_RATE)
    at_16k = _melody(16000)
    results = []
    for tracker in available_trackers():
        slow = tracker == "crepe-full"
        repeats, duration_s = (1, 10.0) if slow else (3, DURATION_S)
        x, x16 = audio[:int(duration_s * INPUT_RATE)], at_16k[:int(duration_s * 16000)]
        params = TransferParams(tracker=tracker)
        seconds = _best(lambda p=params, x=x: transfer(
            x, sample_rate=INPUT_RATE, model=model, params=p, out_sample_rate=INPUT_RATE), repeats)
        pitch_s = _best(lambda tr=tracker, x=x16: compute_f0(x, sample_rate=16000, tracker=tr),
                        repeats)
        results += [
            Measurement(f"end-to-end real-time factor, {tracker}", duration_s / seconds,
                        "x real time", f"{duration_s:g} s at 44.1 kHz in and out, violin model, "
                        f"{seconds:.2f} s, 1 thread"),
            Measurement(f"pitch tracker alone, {tracker}", duration_s / pitch_s, "x real time",
                        f"{duration_s:g} s at 16 kHz, {pitch_s:.2f} s"),
        ]
    int8 = load_model("violin", quantize=True)
    seconds = _best(lambda: transfer(audio, sample_rate=INPUT_RATE, model=int8,
                                     out_sample_rate=INPUT_RATE), 3)
    results.append(Measurement("end-to-end real-time factor, yin, int8 decoder",
                               DURATION_S / seconds, "x real time",
                               f"as above with load_model(quantize=True), {seconds:.2f} s"))
    n_frames = int(DURATION_S * model.model.config.frame_rate)
    f0 = torch.full((1, n_frames), 330.0)
    loudness = torch.full((1, n_frames), -30.0)
    with torch.inference_mode():
        decoder_s = _best(lambda: model.model.controls(f0, loudness), 3)
        synth_s = _best(lambda: model.model(f0, loudness), 3) - decoder_s
    results += [
        Measurement("decoder (GRU 256, stacks 3 x 128)", DURATION_S / decoder_s, "x real time",
                    f"60 s of frames at 250/s, {decoder_s:.3f} s"),
        Measurement("synths + reverb (48 harmonics, 65 bands)", DURATION_S / synth_s,
                    "x real time", f"60 s at 16 kHz, {synth_s:.3f} s"),
    ]
    return results


@benchmark("ddsp")
def decoder_full_size() -> list[Measurement]:
    import torch

    from dlwa.ddsp.model import DDSPConfig, DDSPModel, n_parameters, quantize_decoder

    torch.set_num_threads(1)
    model = DDSPModel(DDSPConfig()).eval()
    f0 = torch.full((1, 1000), 330.0)
    loudness = torch.full((1, 1000), -30.0)
    with torch.inference_mode():
        model(f0, loudness)
        decoder_s = _best(lambda: model.controls(f0, loudness), 5)
        total_s = _best(lambda: model(f0, loudness), 5)
    n_params = n_parameters(model.decoder)
    quantize_decoder(model)
    with torch.inference_mode():
        model(f0, loudness)
        int8_decoder_s = _best(lambda: model.controls(f0, loudness), 5)
        int8_total_s = _best(lambda: model(f0, loudness), 5)
    return [
        Measurement("solo_instrument.gin decoder, 4 s", decoder_s / 4.0, "s per s of audio",
                    f"{n_params / 1e6:.2f} M parameters, float32, 1 thread"),
        Measurement("solo_instrument.gin decoder + synths + reverb, 4 s", total_s / 4.0,
                    "s per s of audio", "float32"),
        Measurement("solo_instrument.gin decoder, int8, 4 s", int8_decoder_s / 4.0,
                    "s per s of audio", "quantize_decoder: int8 GRU and Linear"),
        Measurement("solo_instrument.gin decoder + synths + reverb, int8, 4 s",
                    int8_total_s / 4.0, "s per s of audio",
                    "ddsp 3.7.0: scripts/bench_ddsp_reference.py"),
    ]


STREAM_RATE = 48000
STREAM_CHUNKS = (128, 256, 384, 512, 1024)
STREAM_SECONDS = 20.0


@benchmark("ddsp")
def streaming() -> list[Measurement]:
    """Live transfer (:class:`dlwa.ddsp.stream.DDSPStream`, what ``[ddsp~]`` runs): CPU
    time per second of audio at 48 kHz for each chunk size, with the latency in Pd (the
    stream's own plus pyext~'s two chunks of ring), one torch thread, after ``warm_up``.
    The goal is at most 20 % of one core at the default chunk."""
    import torch

    from dlwa.ddsp.model import DDSPConfig, DDSPModel, LoadedModel, load_model
    from dlwa.ddsp.stream import DEFAULT_CHUNK, DDSPStream

    torch.set_num_threads(1)
    audio = _melody(STREAM_RATE)[:int(STREAM_SECONDS * STREAM_RATE)]
    violin = load_model("violin")
    full = LoadedModel(DDSPModel(DDSPConfig()).eval(), violin.statistics, "solo_instrument",
                       "yin")
    results = []
    for name, model, chunks in [("violin", violin, STREAM_CHUNKS),
                                ("solo_instrument.gin sizes", full, (DEFAULT_CHUNK,))]:
        for chunk in chunks:
            stream = DDSPStream(model, sample_rate=STREAM_RATE, chunk=chunk)
            stream.warm_up()
            n = len(audio) // chunk * chunk
            start = time.process_time()
            for i in range(0, n, chunk):
                stream.process(audio[i:i + chunk])
            cpu = (time.process_time() - start) / (n / STREAM_RATE)
            latency_ms = 1000 * stream.host_latency(realtime=True) / STREAM_RATE
            default = " (default)" if chunk == DEFAULT_CHUNK else ""
            results.append(Measurement(
                f"live {name}, chunk {chunk}{default}", 100 * cpu, "% of one core",
                f"{STREAM_SECONDS:g} s at 48 kHz, latency in Pd {latency_ms:.1f} ms "
                f"({stream.latency_ms:.1f} ms own + 2 chunks), 1 thread"))
    return results
