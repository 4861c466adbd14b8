#!/bin/sh
# `npm run check:pack`: packs podl (npm pack runs 'prepare': compile and build), installs the tarball
# into a scratch folder outside the repository, and runs the installed bin there: --version, --help,
# spec init on a CSV written here and spec check of the spec it wrote. Needs the npm registry (the
# tarball's dependencies). Prints the tarball's size and each step's wall time.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/podl-pack-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
step() { start=$(date +%s.%N); "$@"; echo "check:pack: $* ($(echo "$(date +%s.%N) - $start" | bc) s)"; }

cd "$root"
npm pack --silent --pack-destination "$scratch" >/dev/null
tarball=$(ls "$scratch"/podl-*.tgz)
echo "check:pack: $(basename "$tarball"): $(du -k "$tarball" | cut -f1) KB, $(tar -tzf "$tarball" | wc -l) files"
cd "$scratch"
npm init -y >/dev/null
step npm install --no-audit --no-fund --loglevel=error "$tarball"
echo "check:pack: the installed podl runs on node_modules/node: $(node_modules/node/bin/node --version)"
step npx podl --version
step sh -c "node_modules/.bin/podl --help >/dev/null"
step sh -c "npx podl --help >/dev/null"
{ echo "x1,x2,x3,kind"; for i in $(seq 1 30); do echo "$i.5,$((i % 7)).25,$((i * 3 % 11)),$([ $((i % 2)) = 0 ] && echo even || echo odd)"; done; } >rows.csv
step npx podl spec init --dataset rows.csv --label-column kind --out spec.json
step npx podl spec check spec.json
echo "check:pack: ok (installed in $scratch, removed on exit)"
