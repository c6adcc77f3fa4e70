#!/usr/bin/env bash
# Fetches the pretrained TF.js face models that moodnet imports (issue 6) from the npm registry:
# the package @vladmandic/face-api 1.7.15 (MIT), checked against the sha512 recorded below, and
# extracts only model/ssd_mobilenetv1_model* (MobileNetV1 backbone) and
# model/face_expression_model* (7-class expression net).
#
#   scripts/fetch-pretrained.sh [DIR]
#
# DIR defaults to $MOODNET_PRETRAINED_DIR, else ~/.cache/moodnet/pretrained. The weights land in
# DIR/face-api-1.7.15/model/. Run it again at no cost: it does nothing when the files are there.
# Uses `npm pack` when npm is installed, else curl/wget on the registry's tarball URL; either way
# the tarball must match the recorded integrity hash. Nothing in the build calls this script.
set -euo pipefail

PKG="@vladmandic/face-api"
VERSION="1.7.15"
# `npm view @vladmandic/face-api@1.7.15 dist.integrity`, as recorded when this script was written.
INTEGRITY="sha512-WDMmK3CfNLo8jylWqMoQgf4nIst3M0fzx1dnac96wv/dvMTN4DxC/Pq1DGtduDk1lktCamQ3MIDXFnvrdHTXDw=="
TARBALL_URL="https://registry.npmjs.org/@vladmandic/face-api/-/face-api-${VERSION}.tgz"
TARBALL="vladmandic-face-api-${VERSION}.tgz" # the name `npm pack` gives it
FILES=(
  model/ssd_mobilenetv1_model-weights_manifest.json
  model/ssd_mobilenetv1_model.bin
  model/face_expression_model-weights_manifest.json
  model/face_expression_model.bin
)

dir="${1:-${MOODNET_PRETRAINED_DIR:-$HOME/.cache/moodnet/pretrained}}"
dest="$dir/face-api-$VERSION"

say() { echo "fetch-pretrained: $*"; }
die() {
  echo "fetch-pretrained: error: $*" >&2
  exit 1
}

have_all() {
  local f
  for f in "${FILES[@]}"; do [ -s "$dest/$f" ] || return 1; done
}

if have_all; then
  say "already present in $dest/model (nothing to do)"
  exit 0
fi

command -v tar >/dev/null || die "tar is required"
command -v od >/dev/null || die "od is required (coreutils)"
command -v sha512sum >/dev/null || die "sha512sum is required (coreutils)"
command -v base64 >/dev/null || die "base64 is required (coreutils)"
mkdir -p "$dir" || die "cannot create $dir"

# check_integrity FILE: FILE's sha512 equals the one in the npm-style "sha512-<base64>" $INTEGRITY.
want_hex=$(printf '%s' "${INTEGRITY#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
check_integrity() {
  local got
  got=$(sha512sum "$1" | cut -d' ' -f1) || return 1
  [ "$got" = "$want_hex" ]
}

tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ -f "$dir/$TARBALL" ] && check_integrity "$dir/$TARBALL"; then
  say "using cached $dir/$TARBALL"
else
  rm -f "$dir/$TARBALL"
  if command -v npm >/dev/null; then
    say "npm pack $PKG@$VERSION (12.7 MB) ..."
    (cd "$tmp" && npm pack --silent "$PKG@$VERSION" >/dev/null) ||
      die "npm pack $PKG@$VERSION failed (is the npm registry reachable?)"
  elif command -v curl >/dev/null; then
    say "npm not found; downloading $TARBALL_URL with curl ..."
    curl -fsSL -o "$tmp/$TARBALL" "$TARBALL_URL" || die "download of $TARBALL_URL failed"
  elif command -v wget >/dev/null; then
    say "npm not found; downloading $TARBALL_URL with wget ..."
    wget -q -O "$tmp/$TARBALL" "$TARBALL_URL" || die "download of $TARBALL_URL failed"
  else
    die "need npm (apt-get install npm), curl or wget to download $PKG@$VERSION"
  fi
  [ -f "$tmp/$TARBALL" ] || die "expected $tmp/$TARBALL after download"
  check_integrity "$tmp/$TARBALL" ||
    die "integrity mismatch for $TARBALL: expected $INTEGRITY (file kept out of the cache)"
  mv "$tmp/$TARBALL" "$dir/$TARBALL"
  say "integrity ok ($INTEGRITY)"
fi

# Extract into a temp dir, then move into place, so an interrupted run leaves no partial model/.
tar -xzf "$dir/$TARBALL" -C "$tmp" "${FILES[@]/#/package/}" ||
  die "could not extract ${FILES[*]} from $dir/$TARBALL (see tar's message above)"
mkdir -p "$dest/model"
for f in "${FILES[@]}"; do mv -f "$tmp/package/$f" "$dest/$f"; done
have_all || die "extraction incomplete in $dest"
say "weights ready in $dest/model"
