#!/usr/bin/env bash
# Screenshot every shipped patch (and help patch) in Pd's GUI under Xvfb, into docs/images/.
#
#   bash scripts/patch_screenshots.sh [patch.pd ...]     (default: every pd_patches/*.pd)
#
# Installs Xvfb and ImageMagick on demand (Debian, as root or with sudo); the test suite
# does not need them. Each PNG is cropped to the patch window and saved with an 8-bit
# palette, so it stays small.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=docs/images

need=()
command -v Xvfb >/dev/null || need+=(xvfb)
command -v import >/dev/null || need+=(imagemagick)
command -v xwininfo >/dev/null || need+=(x11-utils)
if ((${#need[@]})); then
    SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
    $SUDO apt-get install -y -q "${need[@]}" >/dev/null
fi

PD=$(command -v pd)
.venv/bin/python -c "from dlwa import pd_runner; pd_runner.build_external()"
mkdir -p "$OUT"
patches=("$@")
[ ${#patches[@]} -gt 0 ] || patches=(pd_patches/*.pd)

DISPLAY_NUM=:$((90 + RANDOM % 9))
Xvfb "$DISPLAY_NUM" -screen 0 1280x860x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
trap 'kill $XVFB 2>/dev/null || true' EXIT
export DISPLAY=$DISPLAY_NUM PYEXT_PYTHON=$ROOT/.venv/bin/python
for _ in $(seq 50); do xwininfo -root >/dev/null 2>&1 && break; sleep 0.1; done

for patch in "${patches[@]}"; do
    name=$(basename "$patch" .pd)
    "$PD" -noprefs -nosound -nomidi -nrt -path pyext_py3/build -path pd_patches -lib py \
        -open "$ROOT/$patch" >/dev/null 2>&1 &
    pd_pid=$!
    # The patch window is titled "<name>.pd  - <folder>"; wait for it to be drawn.
    win=""
    for _ in $(seq 100); do
        win=$(xwininfo -root -tree 2>/dev/null | grep -F "\"$name.pd" | awk '{print $1}' | head -1 || true)
        [ -n "$win" ] && break
        sleep 0.1
    done
    sleep 1.5
    if [ -n "$win" ]; then
        import -window "$win" -colors 64 "PNG8:$OUT/$name.png"
        echo "wrote $OUT/$name.png ($(stat -c %s "$OUT/$name.png") bytes)"
    else
        echo "no window for $patch" >&2
    fi
    kill "$pd_pid" 2>/dev/null || true
    wait "$pd_pid" 2>/dev/null || true
done
