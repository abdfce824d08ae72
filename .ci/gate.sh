#!/bin/sh
# The GitLab `gate` job: exit 0 only when every named job recorded `success` in STATUS_DIR
# (default after_script of .gitlab-ci.yml) and the bench job's post-session step exited 0
# (ARTIFACTS/exit-status; 6 = a regression gate failed). A job that never ran fails the gate.
# Usage: sh .ci/gate.sh ARTIFACTS STATUS_DIR JOB...
set -u
artifacts=$1
status_dir=$2
shift 2
failed=0
for job in "$@"; do
  status=$(cat "$status_dir/$job" 2>/dev/null || echo "no status (did not run)")
  echo "gate: $job: $status"
  [ "$status" = success ] || failed=1
done
code=$(cat "$artifacts/exit-status" 2>/dev/null || echo "missing")
case $code in
  0) echo "gate: bench post-session exit status 0" ;;
  6) echo "gate: bench exit status 6: a regression gate failed (gate table in the bench-pr log)"; failed=1 ;;
  *) echo "gate: bench exit status $code (see the bench-pr log)"; failed=1 ;;
esac
if [ "$failed" -ne 0 ]; then
  echo "gate: FAILED"
  exit 1
fi
echo "gate: passed"
