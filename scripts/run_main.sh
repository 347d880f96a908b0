#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the main job (the stiffness study).
# Extra arguments go to the app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
if [ -x build/apps/stiffness_study ]; then
  exec build/apps/stiffness_study --out results/stiffness "$@"
else
  exec build/apps/snode_demo "$@"
fi
