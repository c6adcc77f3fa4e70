#!/usr/bin/env bash
# Renders a moodnet report (`moodnet train ... --report DIR`) to a PNG the way a user sees it,
# with headless Chromium (Debian: apt-get install chromium), to check the page by eye.
# Not run by CI.
#
#   scripts/render_report.sh REPORT_DIR [OUT.png] [WIDTHxHEIGHT]
set -euo pipefail
dir=${1:?usage: render_report.sh REPORT_DIR [OUT.png] [WIDTHxHEIGHT]}
out=${2:-report.png}
size=${3:-1200x3000}
[[ -f "$dir/index.html" ]] || { echo "render_report: no $dir/index.html" >&2; exit 2; }
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n "$browser" ]] || { echo "render_report: chromium not found (apt-get install chromium)" >&2; exit 2; }
page=$(cd "$dir" && pwd)/index.html
# --no-sandbox: Chromium refuses to run as root otherwise (containers).
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size="${size/x/,}" --screenshot="$out" "file://$page" 2>/dev/null
echo "wrote $out"
