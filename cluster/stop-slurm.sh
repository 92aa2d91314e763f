#!/usr/bin/env bash
# Stop exactly the daemons that start-slurm.sh started (PID files listed in $STARTED, default
# $STATE/started), in the reverse order, wait until they are gone, and remove the config files it
# wrote. Daemons it found already running are left alone.
set -uo pipefail
STATE=${STATE:-/run/avemotion-slurm}
STARTED=${STARTED:-$STATE/started}
[ -s "$STARTED" ] || { echo "stop-slurm.sh: nothing started by start-slurm.sh"; exit 0; }
status=0
for entry in $(tac "$STARTED"); do
  case "$entry" in
    *.pid) pidfile=$entry ;;
    *) rm -f "$entry"; continue ;;   # a config file start-slurm.sh wrote
  esac
  [ -s "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || continue
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "stop-slurm.sh: pid $pid ($pidfile) still running" >&2; status=1; fi
done
rm -f "$STARTED"
exit $status
