#!/usr/bin/env bash
# README command 1: install what the stiffness study needs (when missing), build only the study
# (target `study`: its libraries and app, no tests or benchmarks), and run it. Extra arguments go
# to the app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh --study
exec build/apps/stiffness_study --out results/stiffness "$@"
