"""Export a trained RAVE run to the streaming TorchScript file nn~ and ``[rave~]`` play.

The export is acids-rave's own (``rave export --streaming``: cached convolutions, nn~
methods and attributes), run in a child process because it switches cached convolutions
on for the whole process and builds the model from the run's gin configuration.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def export_streaming(run: str | os.PathLike[str], *, name: str,
                     checkpoint: str | os.PathLike[str] | None = None,
                     output: str | os.PathLike[str] | None = None,
                     fidelity: float | None = None) -> Path:
    """Write ``<output>/<name>.ts`` from the run folder ``run`` (``config.gin`` and a
    Lightning checkpoint, ``last.ckpt`` by default); returns its path. ``fidelity``: the
    share of the latent's variance the exported latent keeps (acids-rave's default 0.95
    when None); it sets how many latent dimensions ``encode`` gives."""
    run = Path(run).resolve()
    checkpoint = Path(checkpoint).resolve() if checkpoint else run / "last.ckpt"
    output = Path(output).resolve() if output else run
    if not (run / "config.gin").is_file():
        raise FileNotFoundError(f"{run} holds no config.gin: not a RAVE run folder")
    if not checkpoint.is_file():
        raise FileNotFoundError(f"no checkpoint {checkpoint}")
    output.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "dlwa.rave.convert", f"--run={checkpoint}",
               "--streaming=True", f"--name={name}", f"--output={output}"]
    if fidelity is not None:
        command.append(f"--fidelity={fidelity}")
    # The child starts in the run folder: acids-rave's CLI is a top-level package named
    # ``scripts``, which a ``scripts/`` folder in the working directory would shadow.
    # The checkpoint is the user's own run (Lightning pickles its callbacks' settings in
    # it), which torch's default weights-only loading refuses.
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    result = subprocess.run(command, cwd=run, capture_output=True, text=True, env=env,
                            check=False)
    exported = output / f"{name}_streaming.ts"  # acids-rave's name for it
    if result.returncode != 0 or not exported.is_file():
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"rave export failed (exit {result.returncode}):\n{tail}")
    written = output / f"{name}.ts"
    os.replace(exported, written)
    return written


def _run_rave_export(argv: list[str]) -> None:
    from dlwa.rave.compat import import_rave

    import_rave()
    here = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", here)]
    from absl import app
    from scripts import export  # acids-rave's CLI module

    app.run(export.main, argv=["rave export", *argv])


if __name__ == "__main__":
    _run_rave_export(sys.argv[1:])
