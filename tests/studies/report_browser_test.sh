#!/bin/sh
# Renders the study report of a real mini study in headless Chromium and checks it:
#   - the page loads without console errors (the page's own self-check records window errors
#     and console.error; every console line Chromium logs must be the self-check's own),
#   - every figure (inline SVG) has a non-zero width and height, and as many figures as the
#     report rendered are on the page (at least one when gnuplot is installed),
#   - the verdict table is present,
# and writes a screenshot, OUT_DIR/report.png (1280 × 2400).
#   report_browser_test.sh SAMPLE_REPORT_EXE OUT_DIR
# Without chromium (Debian's package "chromium"; SNODE_CHROMIUM=path overrides the lookup) the
# test is skipped: exit code 77.
set -u
if [ $# -ne 2 ]; then
  echo "usage: report_browser_test.sh SAMPLE_REPORT_EXE OUT_DIR" >&2
  exit 2
fi
sample=$1
out=$2
browser=${SNODE_CHROMIUM:-}
if [ -z "$browser" ]; then
  browser=$(command -v chromium || command -v chromium-browser || true)
fi
if [ -z "$browser" ] || [ ! -x "$browser" ]; then
  echo "SKIPPED: chromium not found, the report was not checked in a browser" \
       "(install it with: apt-get install chromium)"
  exit 77
fi

fail() {
  echo "FAILED: $*"
  exit 1
}

rm -rf "$out" && mkdir -p "$out" || fail "cannot create $out"
out=$(cd "$out" && pwd)
"$sample" "$out" >"$out/sample_report.log" 2>&1 || {
  cat "$out/sample_report.log"
  fail "sample_report did not write the report"
}
cat "$out/sample_report.log"
[ -s "$out/report.html" ] || fail "no $out/report.html"

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
set -- --headless --disable-gpu --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$profile" \
  --host-resolver-rules="MAP * ~NOTFOUND"
# Chromium refuses to run as root without --no-sandbox.
[ "$(id -u)" = 0 ] && set -- "$@" --no-sandbox
page="file://$out/report.html"

timeout 180 "$browser" "$@" --enable-logging=stderr --v=0 --dump-dom "$page" \
  >"$out/report_dom.html" 2>"$out/chromium_console.log" ||
  fail "chromium --dump-dom failed (see $out/chromium_console.log)"
timeout 180 "$browser" "$@" --hide-scrollbars --window-size=1280,2400 \
  --screenshot="$out/report.png" "$page" >"$out/chromium_screenshot.log" 2>&1 ||
  fail "chromium --screenshot failed (see $out/chromium_screenshot.log)"
[ -s "$out/report.png" ] || fail "no screenshot $out/report.png"

verdict=$(sed -n 's:.*<pre id="self-check">\([^<]*\)</pre>.*:\1:p' "$out/report_dom.html")
echo "self-check: ${verdict:-<missing>}"
[ -n "$verdict" ] || fail "the page's self-check did not run (no result in the DOM)"
case "$verdict" in
  *'"ok":true'*) ;;
  *) fail "the page's self-check failed: $verdict" ;;
esac
others=$(grep 'CONSOLE' "$out/chromium_console.log" | grep -v 'snode report self-check:' || true)
[ -z "$others" ] || fail "console messages while loading the page:
$others"
if command -v gnuplot >/dev/null 2>&1; then
  case "$verdict" in
    *'"figures":0,'*) fail "gnuplot is installed but the page has no figures" ;;
  esac
fi
grep -q 'id="verdict-table"' "$out/report_dom.html" || fail "no verdict table in the page"
echo "PASSED: $page renders without console errors; screenshot $out/report.png"
