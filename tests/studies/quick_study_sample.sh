#!/bin/sh
# The stiffness study's own report for report_browser_test.sh: the app (SNODE_STIFFNESS_STUDY,
# set by ctest) with the quick preset, written into $1.
exec "$SNODE_STIFFNESS_STUDY" --preset quick --quiet --out "$1"
