#!/usr/bin/env bash
# Smoke check of the packaged application (make package-check): build the demo catalog with the packaged
# `tailor`, open the window on it offscreen and save a screenshot, train one tiny run, and read the catalog back.
# Usage: packaging/smoke_check.sh [APP_FOLDER] [SCREENSHOT]   (defaults: dist/tailor, a temporary file)
set -euo pipefail
APP="$(cd "${1:-dist/tailor}" && pwd)"
TMP="$(mktemp -d /tmp/tailor-smoke.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
SHOT="${2:-$TMP/window.png}"
export QT_QPA_PLATFORM=offscreen
cd "$TMP"   # nothing of the source tree may be needed
"$APP/tailor" --help >/dev/null
"$APP/tailor" demo --out demo --no-gui
"$APP/tailor" gui demo/catalog.sqlite --screenshot "$SHOT"
[ -s "$SHOT" ] || { echo "smoke check: no screenshot written" >&2; exit 1; }
"$APP/tailor" stats demo/catalog.sqlite -a sleeve --json > stats.json
"$APP/tailor" train demo/catalog.sqlite -a sleeve --backbone resnet32-cifar --epochs 1 --image-size 16 \
    --batch-size 32 --json > run.json
grep -q '"status": "finished"' run.json || { echo "smoke check: the training run did not finish" >&2; exit 1; }
echo "smoke check passed: demo catalog built, window shown ($SHOT), one run trained"
