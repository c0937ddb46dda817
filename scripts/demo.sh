#!/usr/bin/env bash
# Install what is missing (idempotent), then run the headless demo: the shipped patches
# play in Pd batch mode with the default checkpoints and what they play is written to wav.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
exec .venv/bin/dlwa demo "$@"
