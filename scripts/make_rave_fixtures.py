"""The RAVE test fixtures: models made by the upstream code itself (run once, committed).

Needs the RAVE stack (``bash scripts/install-rave.sh``)::

    .venv/bin/python scripts/make_rave_fixtures.py --out tests/fixtures/rave

Writes:

- ``rave_small.ts``: acids-rave 2.3.1's own streaming export (``rave export --streaming``)
  of a v2_small model (capacity 8, 16 kHz) after 30 training steps on the Fret-on-Fire
  guitar stems (``scripts/make_samplernn_data.py``), so that its weights, biases and
  norms are not their initial values; exported with fidelity 0.999 so that the latent
  has several dimensions.
- ``toy_nn_tilde.ts``: a model written with the ``nn-tilde`` package (1.6.0): three methods
  with different channels and ratios (``forward`` 2 → 2, ``envelope`` 1 → 1 at ratio 256,
  ``tone`` 1 at ratio 256 → 1, an oscillator whose phase carries over between calls) and
  attributes of each type nn~ knows (float ``gain``, bool ``swap``, int ``harmonic``, str
  ``shape``).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import torch

from dlwa.rave.convert import export_streaming
from dlwa.rave.train import RaveTrainConfig, train

GUITAR = Path("out/samplernn_data/guitar")


def make_rave(out: Path, data: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        cfg = RaveTrainConfig(overrides=["CAPACITY = 8"], steps=30, val_every=15,
                              phase_1_steps=20, batch_size=2, n_signal=65536, export=False,
                              threads=2)
        train(data, run, cfg)
        ts = export_streaming(run, name="rave_small", fidelity=0.999)
        shutil.copy(ts, out / "rave_small.ts")


def make_toy(out: Path) -> None:
    import nn_tilde

    class Toy(nn_tilde.Module):
        def __init__(self) -> None:
            super().__init__(sr=16000)
            self.register_attribute("gain", 1.0)
            self.register_attribute("swap", False)
            self.register_attribute("harmonic", 1)
            self.register_attribute("shape", "sine")
            self.register_buffer("phase", torch.zeros(1))
            self.register_method("forward", 2, 1, 2, 1,
                                 input_labels=["(signal) left", "(signal) right"],
                                 output_labels=["(signal) left", "(signal) right"])
            self.register_method("envelope", 1, 1, 1, 256)
            self.register_method("tone", 1, 256, 1, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = x * self.gain[0]
            if self.swap[0]:
                y = y.flip(1)
            return y

        @torch.jit.export
        def envelope(self, x: torch.Tensor) -> torch.Tensor:
            b, c, n = x.shape
            return x.abs().reshape(b, c, n // 256, 256).mean(-1) * self.gain[0]

        @torch.jit.export
        def tone(self, f: torch.Tensor) -> torch.Tensor:
            """Frames of frequency (Hz) in; a waveform out, its phase kept between calls."""
            hz = f.repeat_interleave(256, dim=-1) * float(self.harmonic[0])
            phase = self.phase + torch.cumsum(hz / 16000.0, dim=-1)
            self.phase.copy_(phase[0, 0, -1:] % 1.0)
            wave = torch.sin(2 * torch.pi * phase)
            if self.shape[0] == "square":
                wave = torch.sign(wave)
            return wave * self.gain[0]

        @torch.jit.export
        def get_gain(self) -> float:
            return self.gain[0]

        @torch.jit.export
        def set_gain(self, gain: float) -> int:
            self.gain = (gain,)
            return 0

        @torch.jit.export
        def get_swap(self) -> bool:
            return self.swap[0]

        @torch.jit.export
        def set_swap(self, swap: bool) -> int:
            self.swap = (swap,)
            return 0

        @torch.jit.export
        def get_harmonic(self) -> int:
            return self.harmonic[0]

        @torch.jit.export
        def set_harmonic(self, harmonic: int) -> int:
            if harmonic < 1:
                return -1
            self.harmonic = (harmonic,)
            return 0

        @torch.jit.export
        def get_shape(self) -> str:
            return self.shape[0]

        @torch.jit.export
        def set_shape(self, shape: str) -> int:
            if shape != "sine" and shape != "square":
                return -1
            self.shape = (shape,)
            return 0

    Toy().export_to_ts(str(out / "toy_nn_tilde.ts"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/rave"))
    parser.add_argument("--data", type=Path, default=GUITAR)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    make_toy(args.out)
    make_rave(args.out, args.data)
    for path in sorted(args.out.glob("*.ts")):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
