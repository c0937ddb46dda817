"""GANSynth's audio representation: log-magnitude + instantaneous-frequency spectrograms.

Follows the conventions of Magenta's ``gansynth/lib/specgrams_helper.py`` and
``spectral_ops.py`` so that a Magenta-trained generator's output means the same here:

- **STFT.** ``n_fft = 2 * n_freq`` and ``hop = (1 - overlap) * n_fft`` (overlap 0.75), a
  periodic Hann window, no centring. All the padding that makes ``n_time`` frames out of
  ``audio_length`` samples goes on the **left** (NSynth notes start at sample 0, so the
  padding sits before the attack; the last ``n_fft - hop`` samples have edge effects, as
  Magenta notes too). For ``'prog_hires'`` (n_time 128, n_freq 1024, 64,000 samples) that is
  n_fft 2048, hop 512 and 3,072 samples of left padding.
- **Bins.** The ``n_fft // 2 + 1`` one-sided bins lose the **DC** bin (``discard_dc=True``,
  Magenta's default) so that ``n_freq`` is a power of two; the Nyquist bin is kept. With
  ``discard_dc=False`` the Nyquist bin goes instead.
- **Channels.** ``log(|X| + 1e-6)`` and the instantaneous frequency: the phase unwrapped
  along time, differenced, with the first frame's unwrapped phase kept, all divided by π.
  Inverting integrates (cumulative sum × π) and overlap-adds with the window that TF's
  ``inverse_stft_window_fn`` makes (Hann divided by the summed squared overlaps).
- **Mel** (``mel_prog_hires``; Magenta's ``mel_downscale=1``, so as many mel bins as linear
  bins): power spectrum times Magenta's own linear→mel matrix (HTK mel, no DC, bands widened
  to at least 1.5 bins), then ``log(· + 1e-6)``. The phase is also carried to the mel scale
  (unwrapped phase times the same matrix) and turned into IF there. Back: exp, times the
  pseudo-inverse Magenta builds (``Mᵀ · diag(1 / colsum(M Mᵀ))``), ``0.5 · log``; the mel phase
  is integrated, mapped back the same way and re-differenced.

Shapes here are channels-first, as the torch networks want them: a spectrogram is
``[batch, 2, n_time, n_freq]`` (channel 0 log-magnitude, channel 1 IF) where Magenta's are
``[batch, n_time, n_freq, 2]``; audio is ``[batch, n_samples]``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

LOG_EPS = 1.0e-6  # Magenta's _safe_log offset
MEL_BREAK_HZ = 700.0
MEL_HIGH_Q = 1127.0
MEL_BANDS = ("magenta", "independent")
"""How low mel bands are widened: as Magenta (shared edges) or each on its own."""


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``1127 · ln(1 + hz / 700)``."""
    return MEL_HIGH_Q * np.log1p(np.asarray(hz, dtype=np.float64) / MEL_BREAK_HZ)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return MEL_BREAK_HZ * np.expm1(np.asarray(mel, dtype=np.float64) / MEL_HIGH_Q)


def linear_to_mel_matrix(
    n_mel: int, n_freq: int, sample_rate: float, *, f_min: float = 0.0,
    f_max: float | None = None, shared_edges: bool = True,
) -> np.ndarray:
    """Magenta's linear→mel weights, float64 ``[n_freq, n_mel]``.

    As ``spectral_ops.linear_to_mel_weight_matrix``: the ``n_freq`` bins are taken as
    ``linspace(0, nyquist, n_freq)`` (a Magenta quirk: not the STFT's bin centres), row 0
    stays zero, triangles are linear in mel, and a band narrower than 1.5 bins
    (``1.5 · nyquist / n_freq`` Hz) is widened symmetrically in mel to that width. Magenta's
    band edges are views of one array, so each widening also moves the neighbouring bands'
    shared edges (and centres) before they are tested; this does the same, which changes
    most low bands of the released models' matrix ([1024, 1024] at 16 kHz).
    ``shared_edges=False`` widens each band on its own (a true mel filterbank; dlwa's matrix
    before it matched Magenta's, which models trained then still need).

    Raises:
        ValueError: a size that is not positive or band edges outside ``[0, nyquist]``.
    """
    nyquist = sample_rate / 2.0
    f_max = nyquist if f_max is None else f_max
    if n_mel <= 0 or n_freq <= 0:
        raise ValueError(f"n_mel and n_freq must be positive, got {n_mel} and {n_freq}")
    if not 0.0 <= f_min < f_max <= nyquist:
        raise ValueError(f"need 0 <= f_min < f_max <= nyquist ({nyquist} Hz), "
                         f"got f_min {f_min}, f_max {f_max}")
    freqs = np.linspace(0.0, nyquist, n_freq)[1:, None]  # row 0 (DC) is re-added as zeros
    edges = np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mel + 2)
    # Views of one array, as in Magenta: widening band i moves edges that bands i - 2 to
    # i + 2 share, and the bands after it are then tested and widened with the moved edges.
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    if not shared_edges:
        lower, upper = lower.copy(), upper.copy()
    min_width_hz = 1.5 * nyquist / n_freq
    for i in range(n_mel):
        if mel_to_hz(upper[i]) - mel_to_hz(lower[i]) < min_width_hz:
            # Half-width in mel whose Hz span around the centre is min_width_hz.
            rhs = 0.5 * min_width_hz / (mel_to_hz(center[i]) + MEL_BREAK_HZ)
            half = MEL_HIGH_Q * np.log(rhs + np.sqrt(1.0 + rhs**2))
            lower[i] = center[i] - half
            upper[i] = center[i] + half
    lo, mid, hi = (mel_to_hz(v)[None, :] for v in (lower, center, upper))
    rising = (freqs - lo) / (mid - lo)
    falling = (hi - freqs) / (hi - mid)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.pad(weights, [(1, 0), (0, 0)])


@functools.lru_cache(maxsize=8)
def _mel_matrices(n_mel: int, n_freq: int, sample_rate: float, shared_edges: bool
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Both matrices, built once per shape (the band loop and the inverse take ~0.1 s)."""
    l2m = linear_to_mel_matrix(n_mel, n_freq, sample_rate, shared_edges=shared_edges)
    m2l = mel_to_linear_matrix(l2m)
    return l2m, m2l


def mel_to_linear_matrix(linear_to_mel: np.ndarray) -> np.ndarray:
    """Magenta's approximate inverse ``[n_mel, n_freq]`` of a linear→mel matrix ``M``.

    ``Mᵀ · diag(d)`` with ``d = 1 / colsum(M Mᵀ)``, a zero column sum left as it is.
    """
    m = np.asarray(linear_to_mel, dtype=np.float64)
    sums = (m @ m.T).sum(axis=0)
    d = np.where(np.abs(sums) > 1.0e-8, 1.0 / np.where(sums == 0, 1.0, sums), sums)
    return m.T @ np.diag(d)


def unwrap(phase: torch.Tensor, dim: int = -2) -> torch.Tensor:
    """Unwrap phase along ``dim`` as Magenta's ``spectral_ops.unwrap`` does.

    Each step is brought into ``[-π, π)`` (a step of exactly +π stays +π). Magenta's code
    never applies numpy's "leave steps below π alone" rule (the line that would is dead), so
    neither does this: the two differ only by float rounding.
    """
    dd = torch.diff(phase, dim=dim)
    ddmod = torch.remainder(dd + math.pi, 2.0 * math.pi) - math.pi
    ddmod = torch.where((ddmod == -math.pi) & (dd > 0), torch.full_like(ddmod, math.pi), ddmod)
    correction = torch.cumsum(ddmod - dd, dim=dim)
    first = torch.zeros_like(phase.narrow(dim, 0, 1))
    return phase + torch.cat([first, correction], dim=dim)


def instantaneous_frequency(phase: torch.Tensor, dim: int = -2) -> torch.Tensor:
    """Phase (radians) → instantaneous frequency in units of π per hop, same shape.

    The first frame holds the unwrapped initial phase / π, so :func:`integrate_frequency`
    recovers the phase exactly (up to multiples of 2π).
    """
    unwrapped = unwrap(phase, dim=dim)
    steps = torch.diff(unwrapped, dim=dim)
    return torch.cat([unwrapped.narrow(dim, 0, 1), steps], dim=dim) / math.pi


def integrate_frequency(ifreq: torch.Tensor, dim: int = -2) -> torch.Tensor:
    """Inverse of :func:`instantaneous_frequency`: ``cumsum(ifreq · π)`` along ``dim``."""
    return torch.cumsum(ifreq * math.pi, dim=dim)


def synthesis_window(n_fft: int, hop: int, *, dtype: torch.dtype = torch.float32,
                     device: torch.device | str | None = None) -> torch.Tensor:
    """The overlap-add window of TF's ``inverse_stft_window_fn``: Hann / Σ shifted Hann²."""
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    overlaps = -(-n_fft // hop)
    squared = nn.functional.pad(window**2, (0, overlaps * hop - n_fft))
    denom = squared.reshape(overlaps, hop).sum(dim=0).repeat(overlaps)[:n_fft]
    return (window / denom).to(dtype=dtype, device=device)


@dataclass(frozen=True)
class SpecgramTransform:
    """Waveforms ↔ GANSynth spectrograms for one shape (Magenta's ``SpecgramsHelper``).

    Args:
        audio_length: Samples per note (64000).
        n_time: Frames (128 for ``prog_hires``).
        n_freq: Frequency bins kept, a power of two (1024).
        sample_rate: Hz (16000); only the mel matrix uses it.
        overlap: Window overlap (0.75 → hop ``n_fft / 4``).
        mel: Whether :meth:`audio_to_specgram` and back use the mel variant.
        mel_downscale: Linear bins per mel bin (Magenta: 1).
        mel_bands: ``"magenta"`` (Magenta's matrix, see :func:`linear_to_mel_matrix`) or
            ``"independent"`` (the matrix dlwa models trained before 2026-12-02 use).
        ifreq: Channel 1 is the instantaneous frequency (True) or the phase / π.
        discard_dc: Drop the DC bin (True) or the Nyquist bin.

    Raises:
        ValueError: ``n_freq`` not a power of two, or ``audio_length`` longer than the
            ``n_time`` frames cover.
    """

    audio_length: int = 64000
    n_time: int = 128
    n_freq: int = 1024
    sample_rate: int = 16000
    overlap: float = 0.75
    mel: bool = False
    mel_downscale: int = 1
    ifreq: bool = True
    discard_dc: bool = True
    mel_bands: str = "magenta"

    def __post_init__(self) -> None:
        if self.mel_bands not in MEL_BANDS:
            raise ValueError(f"mel_bands must be one of {', '.join(MEL_BANDS)}, "
                             f"got {self.mel_bands!r}")
        if self.n_freq <= 0 or self.n_freq & (self.n_freq - 1):
            raise ValueError(f"n_freq must be a power of two, got {self.n_freq}")
        if self.hop <= 0:
            raise ValueError(f"overlap {self.overlap} leaves no hop for n_fft {self.n_fft}")
        covered = self.hop * (self.n_time - 1) + self.n_fft
        if covered < self.audio_length:
            raise ValueError(f"{self.n_time} frames of hop {self.hop} cover {covered} samples, "
                             f"fewer than audio_length {self.audio_length}")

    @property
    def n_fft(self) -> int:
        """FFT and frame length: twice ``n_freq``."""
        return 2 * self.n_freq

    @property
    def hop(self) -> int:
        """Samples between frames: ``int((1 - overlap) · n_fft)`` as Magenta rounds it."""
        return int((1.0 - self.overlap) * self.n_fft)

    @property
    def pad_left(self) -> int:
        """Zeros put before the audio so that exactly ``n_time`` frames fit."""
        return self.hop * (self.n_time - 1) + self.n_fft - self.audio_length

    @property
    def n_mel(self) -> int:
        """Mel bins: ``n_freq // mel_downscale``."""
        return self.n_freq // self.mel_downscale

    def mel_matrices(self, dtype: torch.dtype = torch.float32,
                     device: torch.device | str | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(linear→mel [n_freq, n_mel], mel→linear [n_mel, n_freq])`` as Magenta builds them
        (with ``mel_bands="independent"``, from bands widened each on its own)."""
        l2m, m2l = _mel_matrices(self.n_mel, self.n_freq, self.sample_rate,
                                 self.mel_bands == "magenta")
        return (torch.as_tensor(l2m, dtype=dtype, device=device),
                torch.as_tensor(m2l, dtype=dtype, device=device))

    # -- STFT ----------------------------------------------------------------------------

    def stft(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio ``[batch, audio_length]`` → complex STFT ``[batch, n_time, n_freq]``.

        Raises:
            ValueError: audio of another length.
        """
        if audio.shape[-1] != self.audio_length:
            raise ValueError(f"audio must have {self.audio_length} samples, "
                             f"got {audio.shape[-1]}")
        padded = nn.functional.pad(audio, (self.pad_left, 0))
        frames = padded.unfold(-1, self.n_fft, self.hop)
        window = torch.hann_window(self.n_fft, periodic=True, dtype=audio.dtype,
                                   device=audio.device)
        spectrum = torch.fft.rfft(frames * window, dim=-1)
        return spectrum[..., 1:] if self.discard_dc else spectrum[..., :-1]

    def istft(self, stft: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``[batch, n_time, n_freq]`` → audio ``[batch, audio_length]``."""
        pad = (1, 0) if self.discard_dc else (0, 1)  # the dropped bin comes back as zero
        full = nn.functional.pad(stft, pad)
        frames = torch.fft.irfft(full, n=self.n_fft, dim=-1)
        frames = frames * synthesis_window(self.n_fft, self.hop, dtype=frames.dtype,
                                           device=frames.device)
        batch_shape = frames.shape[:-2]
        n_frames = frames.shape[-2]
        length = self.hop * (n_frames - 1) + self.n_fft
        columns = frames.reshape(-1, n_frames, self.n_fft).transpose(1, 2)
        audio = nn.functional.fold(columns, output_size=(1, length),
                                   kernel_size=(1, self.n_fft), stride=(1, self.hop))
        return audio.reshape(*batch_shape, length)[..., self.pad_left:]

    # -- linear specgrams ----------------------------------------------------------------

    def stft_to_specgram(self, stft: torch.Tensor) -> torch.Tensor:
        """Complex ``[batch, n_time, n_freq]`` → ``[batch, 2, n_time, n_freq]``."""
        logmag = torch.log(stft.abs() + LOG_EPS)
        phase = torch.angle(stft)
        p = instantaneous_frequency(phase) if self.ifreq else phase / math.pi
        return torch.stack([logmag, p], dim=-3)

    def specgram_to_stft(self, specgram: torch.Tensor) -> torch.Tensor:
        """``[batch, 2, n_time, n_freq]`` → complex ``[batch, n_time, n_freq]``."""
        logmag, p = specgram.unbind(dim=-3)
        phase = integrate_frequency(p) if self.ifreq else p * math.pi
        return torch.polar(torch.exp(logmag), phase)

    # -- mel specgrams -------------------------------------------------------------------

    def specgram_to_mel(self, specgram: torch.Tensor) -> torch.Tensor:
        """Linear specgram → mel specgram (log mel power, mel IF), same layout."""
        l2m, _ = self.mel_matrices(specgram.dtype, specgram.device)
        logmag, p = specgram.unbind(dim=-3)
        power = torch.exp(2.0 * logmag)
        phase = integrate_frequency(p)
        log_mel_power = torch.log(power @ l2m + LOG_EPS)
        mel_if = instantaneous_frequency(phase @ l2m)
        return torch.stack([log_mel_power, mel_if], dim=-3)

    def mel_to_specgram(self, mel_specgram: torch.Tensor) -> torch.Tensor:
        """Mel specgram → linear specgram, with Magenta's approximate inverse matrix."""
        _, m2l = self.mel_matrices(mel_specgram.dtype, mel_specgram.device)
        log_mel_power, mel_if = mel_specgram.unbind(dim=-3)
        power = torch.exp(log_mel_power) @ m2l
        logmag = 0.5 * torch.log(power + LOG_EPS)
        phase = integrate_frequency(mel_if) @ m2l
        return torch.stack([logmag, instantaneous_frequency(phase)], dim=-3)

    # -- audio ↔ model data ---------------------------------------------------------------

    def audio_to_specgram(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio ``[batch, audio_length]`` → the model's data ``[batch, 2, n_time, n_freq]``."""
        specgram = self.stft_to_specgram(self.stft(audio))
        return self.specgram_to_mel(specgram) if self.mel else specgram

    def specgram_to_audio(self, specgram: torch.Tensor) -> torch.Tensor:
        """The model's data ``[batch, 2, n_time, n_freq]`` → audio ``[batch, audio_length]``."""
        if self.mel:
            specgram = self.mel_to_specgram(specgram)
        return self.istft(self.specgram_to_stft(specgram))


# Magenta's pre-specified scales (gansynth/lib/model.py set_flags), used by its released
# all_instruments and acoustic_only models.
PRESPECIFIED_MAG_A = 0.0661371661726
PRESPECIFIED_MAG_B = 0.113718730221
PRESPECIFIED_IF_A = 0.8
PRESPECIFIED_IF_B = 0.0


def range_scale(values: torch.Tensor, margin: float) -> tuple[float, float]:
    """``(a, b)`` mapping ``values``' min and max to ``∓margin`` (Magenta's _range_normalizer).

    Raises:
        ValueError: all values equal (no range to scale).
    """
    lo, hi = float(values.min()), float(values.max())
    if not hi > lo:
        raise ValueError(f"cannot scale values that are all {lo}: max must exceed min")
    a = margin * 2.0 / (hi - lo)
    b = margin * (-2.0 * lo / (hi - lo) - 1.0)
    return a, b


class SpecgramNormalizer(nn.Module):
    """Affine scaling of each channel into [-1, 1]: Magenta's ``data_normalizer``.

    ``normalize(x) = clip(a·x + b, -1, 1)`` (the discriminator's input) and
    ``denormalize(y) = (y - b) / a`` (the generator's tanh output). ``a`` and ``b`` are
    buffers of shape ``[2, 1]`` (one pair per channel: ``specgrams_prespecified_normalizer``
    and ``specgrams_simple_normalizer``) or ``[2, n_freq]`` (``specgrams_freq_normalizer``),
    so they travel in a checkpoint's weights.

    Args:
        n_freq: Bins per frame; None for one scale per channel.
    """

    def __init__(self, n_freq: int | None = None) -> None:
        super().__init__()
        width = 1 if n_freq is None else n_freq
        self.register_buffer("a", torch.ones(2, width))
        self.register_buffer("b", torch.zeros(2, width))
        self.set_prespecified()

    def set_prespecified(self, mag_a: float = PRESPECIFIED_MAG_A, mag_b: float = PRESPECIFIED_MAG_B,
                         if_a: float = PRESPECIFIED_IF_A, if_b: float = PRESPECIFIED_IF_B) -> None:
        """Set the scales to given numbers (default: Magenta's pre-specified ones)."""
        with torch.no_grad():
            self.a[0].fill_(mag_a)
            self.a[1].fill_(if_a)
            self.b[0].fill_(mag_b)
            self.b[1].fill_(if_b)

    def fit(self, specgrams: torch.Tensor, margin: float = 0.8) -> None:
        """Compute the scales from data ``[n, 2, n_time, n_freq]``, as Magenta does.

        Each channel's (or each channel-and-bin's) minimum maps to ``-margin`` and its
        maximum to ``+margin``.
        """
        per_bin = self.a.shape[1] > 1
        with torch.no_grad():
            for ch in range(2):
                values = specgrams[:, ch]
                columns = [values[..., f] for f in range(values.shape[-1])] if per_bin else [values]
                for f, column in enumerate(columns):
                    self.a[ch, f], self.b[ch, f] = range_scale(column, margin)

    def _scales(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # [2, width] → [2, 1, width], broadcasting over [batch, 2, n_time, n_freq]
        return self.a[:, None, :].to(x.dtype), self.b[:, None, :].to(x.dtype)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Data → network range, clipped to [-1, 1]."""
        a, b = self._scales(x)
        return torch.clamp(a * x + b, -1.0, 1.0)

    def denormalize(self, y: torch.Tensor) -> torch.Tensor:
        """Network range → data (no clipping)."""
        a, b = self._scales(y)
        return (y - b) / a
