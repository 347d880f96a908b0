#!/usr/bin/env bash
# Checks the documentation's references: every relative Markdown link in README.md and docs/ must
# name an existing file (and, with #anchor, a heading of that page, slugged as GitHub does), and
# no page may cite files outside the repository. Code spans and fenced blocks are skipped. Prints
# each problem and exits 1 if there is any.
#
#   scripts/check_doc_links.sh
set -uo pipefail
cd "$(dirname "$0")/.."

python3 - <<'PY'
import glob, os, re, sys

def strip_code(text):
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)

def slug(heading):
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")

def anchors(path):
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"^```.*?^```", "", f.read(), flags=re.S | re.M)
    return {slug(h) for h in re.findall(r"^#+\s+(.*)$", text, flags=re.M)}

pages = ["README.md"] + sorted(glob.glob("docs/**/*.md", recursive=True))
problems = 0
for page in pages:
    with open(page, encoding="utf-8") as f:
        text = f.read()
    for target in re.findall(r"\]\(([^)\s]+)\)", strip_code(text)):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if not os.path.exists(resolved):
            print("%s: broken link %s" % (page, target))
            problems += 1
        elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
            print("%s: no heading for anchor %s" % (page, target))
            problems += 1
    for n, line in enumerate(text.splitlines(), 1):
        if re.search(r"shared/|sundials-notes|workloads\.md", line):
            print("%s:%d: cites a file outside the repository: %s" % (page, n, line.strip()[:100]))
            problems += 1
sys.exit(1 if problems else 0)
PY
