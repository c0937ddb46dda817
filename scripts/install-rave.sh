#!/usr/bin/env bash
# Optional: the RAVE training and export stack, on top of scripts/setup.sh's environment.
# acids-rave 2.3.1 pins numpy 1.26 and scipy 1.10, which would break the rest of dlwa, so it
# goes in with --no-deps over the `rave` extra (the parts that coexist with numpy 2).
# torchaudio has no build for torch 2.13: its CUDA wheel is installed and its compiled
# extension removed, which leaves the pure-Python Spectrogram/MelSpectrogram/resample
# that RAVE uses. See ../docs/decisions.md.
# acids-rave's PQMF filter design uses scipy APIs removed since (scipy.signal.kaiser, firwin's
# nyq): dlwa.rave.compat.import_rave() puts them back, so import it through that.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
"${PIP[@]}" -e '.[rave]' 2>&1 | grep -v "is ignored" || true
"${PIP[@]}" --no-deps 'acids-rave==2.3.1' 'nn-tilde==1.6.0' 'torchaudio==2.11.0' 2>&1 | grep -v "is ignored" || true
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
rm -f "$site"/torchaudio/lib/*.so
.venv/bin/python - <<'PY'
import importlib
for name in ("cached_conv", "gin", "pytorch_lightning", "nn_tilde", "torchaudio"):
    importlib.import_module(name)
from dlwa.rave.compat import import_rave
import_rave()
print("RAVE stack importable: rave, cached_conv, gin, pytorch_lightning, nn_tilde, torchaudio")
PY
