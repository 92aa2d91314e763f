#!/usr/bin/env bash
# Start a one-node SLURM cluster on localhost (Debian 12: munge + slurmctld + slurmd 22.05) with one
# declared (fake) GPU, for avemotion's tests. Needs root and no systemd. Installs the Debian packages
# when missing. Daemons already running are reused and left alone; the PID files of the daemons this
# script starts (and the config files it writes) are appended to $STARTED, which stop-slurm.sh reads.
#   STATE (default /run/avemotion-slurm): the cluster's runtime state, logs, PID files
#   STARTED (default $STATE/started): where to list the PID files of the daemons started here
#   PARTITION (default cpu), CPUS (default max(nproc, 8)), MEM_MB (default max(RAM - 1 GB, 32000))
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${STATE:-/run/avemotion-slurm}
PARTITION=${PARTITION:-cpu}
STARTED=${STARTED:-$STATE/started}
[ "$(id -u)" -eq 0 ] || { echo "start-slurm.sh: needs root" >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v squeue >/dev/null \
   || ! command -v munged >/dev/null; then
  packages=(slurmctld slurmd slurm-client munge)
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; }
fi

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

mkdir -p "$STATE/log"
NODE=$(hostname -s)
CPUS=${CPUS:-$(( $(nproc) > 8 ? $(nproc) : 8 ))}
RAM_MB=$(( $(free -m | awk '/Mem:/{print $2}') - 1024 ))
MEM_MB=${MEM_MB:-$(( RAM_MB > 32000 ? RAM_MB : 32000 ))}
getent hosts "$NODE" >/dev/null || echo "127.0.0.1 $NODE" >> /etc/hosts

render() { sed -e "s|@NODE@|$NODE|g" -e "s|@CPUS@|$CPUS|g" -e "s|@MEM@|$MEM_MB|g" \
               -e "s|@STATE@|$STATE|g" -e "s|@PARTITION@|$PARTITION|g" "$1"; }
mkdir -p /etc/slurm
MARK="# rendered by avemotion cluster/start-slurm.sh"
if alive "$STATE/slurmctld.pid"; then
  echo "start-slurm.sh: slurmctld already running (pid $(cat "$STATE/slurmctld.pid")), reusing it"
else
  for conf in slurm.conf gres.conf; do
    if [ -e "/etc/slurm/$conf" ] && ! grep -qF "$MARK" "/etc/slurm/$conf"; then
      echo "start-slurm.sh: /etc/slurm/$conf exists and is not ours; refusing to overwrite it" >&2
      exit 3
    fi
  done
  # Removed again by stop-slurm.sh: while a slurm.conf names a controller that is not running,
  # every scontrol call waits ~9 s, and the slurm executor plugin calls it whenever snakemake starts.
  { echo "$MARK"; render "$HERE/slurm.conf.in"; } > /etc/slurm/slurm.conf
  { echo "$MARK"; render "$HERE/gres.conf.in"; } > /etc/slurm/gres.conf
  echo /etc/slurm/slurm.conf >> "$STARTED"
  echo /etc/slurm/gres.conf >> "$STARTED"
fi

# munge: Debian's postinst creates the key; make one if it is missing
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --force 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
install -d -o munge -g munge -m 755 /run/munge
if alive /run/munge/munged.pid; then
  echo "start-slurm.sh: munged already running, reusing it"
else
  su -s /bin/sh munge -c "/usr/sbin/munged --pid-file=/run/munge/munged.pid"
  echo /run/munge/munged.pid >> "$STARTED"
fi
munge -n | unmunge >/dev/null

install -d -o slurm -g slurm "$STATE/slurmctld" "$STATE/log"
install -d "$STATE/slurmd"
chown slurm:slurm "$STATE"
if ! alive "$STATE/slurmctld.pid"; then
  # -c: start from empty state (no jobs or node drains left over from an earlier cluster)
  /usr/sbin/slurmctld -c
  echo "$STATE/slurmctld.pid" >> "$STARTED"
fi
for _ in $(seq 60); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.5; done
if ! alive "$STATE/slurmd.pid"; then
  /usr/sbin/slurmd
  echo "$STATE/slurmd.pid" >> "$STARTED"
fi
for _ in $(seq 60); do sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)' && break; sleep 0.5; done
if sinfo -h -o %t | grep -qE 'drain|inval|down'; then
  scontrol update nodename="$NODE" state=resume || true
  sleep 1
fi
if ! sinfo -h -o %t | grep -qE '^(idle|mix|alloc)'; then
  echo "start-slurm.sh: node $NODE is not usable:" >&2
  sinfo -N -l >&2; tail -n 20 "$STATE/log/slurmd.log" "$STATE/log/slurmctld.log" >&2
  exit 1
fi
sinfo -N -o '%N %t %c %m %G'
