"""pyext~ classes: classic _dsp/_signal and the chunked streaming extension."""
import numpy as np
import pyext


class Sine(pyext._class):
    """Classic: a 0.5-amplitude sine of `freq` Hz written into _outvec(0) every block."""

    def __init__(self, freq=750):
        self.freq = freq
        self.n = 0

    def _dsp(self):
        self.sr = pyext._samplerate()
        return True

    def _signal(self):
        out = self._outvec(0)
        t = (self.n + np.arange(len(out))) / self.sr
        out[:] = 0.5 * np.sin(2 * np.pi * self.freq * t)
        self.n += len(out)


class Gain(pyext._class):
    """Classic: output = input * gain (input and output may alias)."""

    gain = 0.5

    def _signal(self):
        self._outvec(0)[:] = self._invec(0) * self.gain


class Off(pyext._class):
    def _dsp(self):
        return False

    def _signal(self):
        raise RuntimeError("never called")


class Identity(pyext._class):
    """Streaming: returns its input chunk unchanged."""

    _sigin = 1
    _sigout = 1
    _chunk = 2048
    _outlets = 1

    def process(self, x):
        assert x.dtype == np.float32 and x.shape == (1, 2048)
        return x


class Stereo(pyext._class):
    """Streaming, 2 in 2 out: swaps the channels and scales by 2."""

    _sigin = 2
    _sigout = 2
    _chunk = 256

    def process(self, x):
        return 2 * x[::-1]


class Check(pyext._class):
    """Reads recorded arrays and reports what the signal tests need."""

    _inlets = 1

    def sine_1(self, name, freq):
        x = np.asarray(pyext.Buffer(name), dtype=np.float64)
        spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        peak_hz = np.argmax(spec) * pyext._samplerate() / len(x)
        print(f"SINE peak {np.max(np.abs(x)):.3f} freq_ok {int(abs(peak_hz - freq) < 20)}")

    def delay_1(self, src, dst, latency):
        x = np.asarray(pyext.Buffer(src))
        y = np.asarray(pyext.Buffer(dst))
        n, latency = len(x), int(latency)
        silent = int(np.all(y[:latency] == 0))
        exact = int(np.array_equal(y[latency:], x[: n - latency]))
        print(f"DELAY head_silent {silent} exact {exact} nonzero {int(np.count_nonzero(y) > 0)}")

    def blocks_1(self, src, dst, latency):
        # real time: each 64-sample block is either the delayed input or silence (underrun)
        x = np.asarray(pyext.Buffer(src))
        y = np.asarray(pyext.Buffer(dst))
        latency = int(latency)
        good = bad = silent = 0
        for b in range(latency // 64, len(x) // 64):
            got, want = y[b * 64:(b + 1) * 64], x[b * 64 - latency:(b + 1) * 64 - latency]
            if np.array_equal(got, want):
                good += 1
            elif not got.any():
                silent += 1
            else:
                bad += 1
        print(f"BLOCKS good>0 {int(good > 0)} bad {bad}")


class LowLatency(Identity):
    """Streaming identity asking for chunk + 256 samples of latency in real time."""

    _latency = 2048 + 256
