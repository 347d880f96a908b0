#!/usr/bin/env bash
# Lists the functions of the library and app code longer than a limit (default 120 lines), longest
# first, from universal-ctags' start and end lines. Exit code 1 when any is over the limit.
#   bash scripts/function_lengths.sh            # the limit 120, library and apps
#   bash scripts/function_lengths.sh 60 adjoint # another limit, other folders
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${1:-120}"
shift || true
folders=("$@")
if [ ${#folders[@]} -eq 0 ]; then
  folders=()
  for d in core models io optim problems integrators adjoint plugins distributed testing studies apps; do
    [ -d "$d" ] && folders+=("$d")
  done
fi
if ! command -v ctags >/dev/null || ! ctags --version 2>/dev/null | grep -q Universal; then
  echo "function_lengths: needs universal-ctags (apt-get install universal-ctags)" >&2
  exit 2
fi
report=$(ctags -R --languages=C++ --kinds-C++=f --fields=+ne -f - "${folders[@]}" |
  awk -F'\t' -v limit="$limit" '{
      line = ""; end = "";
      for (i = 4; i <= NF; i++) {
        if ($i ~ /^line:/) line = substr($i, 6);
        if ($i ~ /^end:/) end = substr($i, 5);
      }
      if (line != "" && end != "" && end - line + 1 > limit)
        printf "%5d  %s:%s  %s\n", end - line + 1, $2, line, $1;
    }' | sort -rn)
if [ -z "$report" ]; then
  echo "function_lengths: no function over $limit lines in ${folders[*]}"
  exit 0
fi
echo "function_lengths: functions over $limit lines (lines, file:line, name):"
echo "$report"
exit 1
