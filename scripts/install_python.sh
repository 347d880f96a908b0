#!/usr/bin/env bash
# Installs the Python package snode assembled in build/python/snode (README command 2 runs this
# as root) into the site-packages of Debian's /usr/bin/python3 and, when it is another CPython of
# the same version (pyenv, a venv), of the python3 on PATH, so that `python3 -c "import snode"`
# works from any directory. A copy: run it again after a rebuild. Without root, or for other
# interpreters, use PYTHONPATH=build/python instead (docs/python.md).
set -euo pipefail
cd "$(dirname "$0")/.."
package=build/python/snode
if ! ls "$package"/_snode*.so >/dev/null 2>&1; then
  echo "scripts/install_python.sh: $package has no compiled module (build with pybind11 first)" >&2
  exit 1
fi
module_tag=$(basename "$package"/_snode*.so | sed 's/^_snode\.\(cpython-[0-9]*\).*/\1/')
declare -A done_dirs=()
for python in /usr/bin/python3 "$(command -v python3 || true)"; do
  [ -n "$python" ] && [ -x "$python" ] || continue
  tag=$("$python" -c 'import sys; print("cpython-%d%d" % sys.version_info[:2])')
  [ "$tag" = "$module_tag" ] || continue
  site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
  [ -z "${done_dirs[$site]:-}" ] || continue
  done_dirs[$site]=1
  mkdir -p "$site"
  rm -rf "$site/snode.tmp" && cp -r "$package" "$site/snode.tmp"
  rm -rf "$site/snode" && mv "$site/snode.tmp" "$site/snode"
  echo "snode: Python package installed in $site/snode (for $python)"
done
