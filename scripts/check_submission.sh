#!/usr/bin/env bash
# Check every submission folder (or those given) and render the board with them, as the CI job does.
# Usage: scripts/check_submission.sh [submissions/<name> ...]   (board written to ${OUT:-submission-board}/<name>)
# Exit 2 when a submission has a problem (each message names its file), 0 when all pass.
set -euo pipefail
cd "$(dirname "$0")/.."
LENSBENCH=${LENSBENCH:-lensbench}
OUT=${OUT:-submission-board}
RESULTS=${RESULTS:-leaderboards/results}
folders=("$@")
if [ ${#folders[@]} -eq 0 ]; then
  for d in submissions/*/; do [ -d "$d" ] && folders+=("${d%/}"); done
fi
if [ ${#folders[@]} -eq 0 ]; then
  echo "no submission folders under submissions/"; exit 0
fi
status=0
for d in "${folders[@]}"; do
  echo "== $d"
  "$LENSBENCH" submission check "$d" --results "$RESULTS" --out "$OUT/$(basename "$d")" || status=$?
done
exit $status
