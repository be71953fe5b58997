#!/usr/bin/env bash
# Refresh the web UI's vendored browser builds from the npm registry (no CDN at run time).
# Usage: scripts/refresh-vendor.sh            (the pinned versions below)
#        MARKED=18.2.1 scripts/refresh-vendor.sh (another version of one package)
set -euo pipefail

MARKED=${MARKED:-18.2.1}
DOMPURIFY=${DOMPURIFY:-3.4.18}
HIGHLIGHT=${HIGHLIGHT:-11.12.0}

root="$(cd "$(dirname "$0")/.." && pwd)"
vendor="$root/src/graphchat/ui/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# `npm pack` fetches a package's tarball through the ordinary client; nothing is installed.
unpack() {
  local spec=$1 dir=$2
  mkdir -p "$work/$dir"
  (cd "$work" && npm pack --silent "$spec" >"$dir.name")
  tar -xzf "$work/$(cat "$work/$dir.name")" -C "$work/$dir" --strip-components=1
}

unpack "marked@$MARKED" marked
unpack "dompurify@$DOMPURIFY" dompurify
unpack "@highlightjs/cdn-assets@$HIGHLIGHT" hljs

rm -rf "$vendor"
mkdir -p "$vendor/marked" "$vendor/dompurify" "$vendor/highlight"
cp "$work/marked/lib/marked.esm.js" "$vendor/marked/marked.esm.js"
cp "$work/marked/LICENSE" "$vendor/marked/LICENSE"
cp "$work/dompurify/dist/purify.es.mjs" "$vendor/dompurify/purify.es.mjs"
cp "$work/dompurify/LICENSE" "$work/dompurify/LICENSE-MPL" "$vendor/dompurify/"
cp "$work/hljs/es/highlight.min.js" "$vendor/highlight/highlight.min.js"
cp "$work/hljs/LICENSE" "$vendor/highlight/LICENSE"

cat >"$vendor/VERSIONS" <<VERSIONS
marked $MARKED
dompurify $DOMPURIFY
@highlightjs/cdn-assets $HIGHLIGHT
VERSIONS
echo "vendored into $vendor:" && cat "$vendor/VERSIONS"
