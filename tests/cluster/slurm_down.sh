#!/usr/bin/env bash
# Stop what tests/cluster/slurm_up.sh STATE_DIR started, by the pids it recorded, and nothing else:
# SIGTERM, then SIGKILL after a bounded wait. Removes /etc/slurm/slurm.conf only if it is our symlink.
set -uo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
state=$(realpath -m "$1")
wait_s=${SLURM_DOWN_WAIT_S:-15}
[[ -f "$state/pids" ]] || { echo "slurm_down.sh: no $state/pids; nothing to stop" >&2; exit 0; }

# A pid counts only while it still names its daemon (/proc/PID/comm), so that a pid reused by another
# process since slurm_up.sh is never signalled.
ours() { [[ "$(cat "/proc/$2/comm" 2>/dev/null)" == "$1" ]]; }
mapfile -t entries < <(tac "$state/pids")

# Jobs first, so that their slurmstepd processes end with them (the cluster is ours alone).
export SLURM_CONF=$state/slurm.conf
ctld=$(awk '$1 == "slurmctld" {print $2}' "$state/pids")
if [[ -n "$ctld" ]] && ours slurmctld "$ctld"; then
    mapfile -t jobs < <(timeout 5 squeue -h -o %i 2>/dev/null)
    if (( ${#jobs[@]} )); then
        timeout 5 scancel "${jobs[@]}" 2>/dev/null
        for _ in $(seq 20); do
            [[ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ]] && break
            sleep 0.5
        done
    fi
fi

# Daemons in reverse start order: slurmd, slurmctld, munged.
for entry in "${entries[@]}"; do
    read -r name pid <<< "$entry"
    ours "$name" "$pid" && kill -TERM "$pid"
done
deadline=$((SECONDS + wait_s))
for entry in "${entries[@]}"; do
    read -r name pid <<< "$entry"
    while ours "$name" "$pid" && (( SECONDS < deadline )); do sleep 0.2; done
    if ours "$name" "$pid"; then
        echo "slurm_down.sh: $name ($pid) ignored SIGTERM for ${wait_s}s; sending SIGKILL" >&2
        kill -KILL "$pid"
    fi
done
: > "$state/pids"

if [[ -L /etc/slurm/slurm.conf && "$(readlink /etc/slurm/slurm.conf)" == "$state/slurm.conf" ]]; then
    rm -f /etc/slurm/slurm.conf
fi
