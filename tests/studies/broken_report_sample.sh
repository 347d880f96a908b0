#!/bin/sh
# A broken study report, for the test of the browser test itself: the sample report
# ($SNODE_SAMPLE_REPORT OUT_DIR) with a script error and an external image injected, which
# report_browser_test.sh must reject.
set -eu
"$SNODE_SAMPLE_REPORT" "$1"
sed -i 's|<h1>|<img src="http://example.invalid/x.png"><script>undefinedCall();</script><h1>|' \
  "$1/report.html"
