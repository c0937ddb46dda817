#!/usr/bin/env bash
# Install what is missing (idempotent), lint (ruff), then run the whole test suite, real Pd included.
# Extra arguments go to pytest, e.g. scripts/test.sh -k pyext -x
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# setup.sh, plus the optional RAVE training stack, so that `dlwa train rave` is tested too.
bash scripts/install-rave.sh
# Pd integration tests fail instead of skipping when Pd or the external is missing.
export DLWA_REQUIRE_PD=1
# Two cores: one BLAS/OpenMP thread per process keeps Pd and the tests from starving each other.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# Lint first: any ruff finding fails the run (rules: pyproject.toml [tool.ruff]).
.venv/bin/python -m ruff check src tests
exec .venv/bin/python -m pytest "$@"
