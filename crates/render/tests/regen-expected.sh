#!/usr/bin/env bash
# Regenerate crates/render/tests/cases/*/expected.yaml with the oracle, `kubectl kustomize`
# (kustomize v5.5). Each case builds `input/<entry>` (`entry` holds one line; default `.`).
set -euo pipefail
cd "$(dirname "$0")/cases"
for case in */; do
  case="${case%/}"
  entry="."
  [[ -f "$case/entry" ]] && entry="$(head -n1 "$case/entry")"
  if ! kubectl kustomize "$case/input/$entry" >"$case/expected.yaml" 2>"$case/.err"; then
    echo "$case: kubectl kustomize failed:" >&2
    cat "$case/.err" >&2
    rm -f "$case/.err"
    exit 1
  fi
  rm -f "$case/.err"
  echo "$case: $(grep -c '^kind:' "$case/expected.yaml") objects"
done
