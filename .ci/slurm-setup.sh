#!/usr/bin/env bash
# .ci/slurm-setup.sh - install what tests/slurm/cluster.sh needs: the SLURM
# daemons and clients (slurm-wlm: slurmctld, slurmd, sbatch, squeue, ...) and
# munge (authentication). Debian/Ubuntu only; needs root.
#
# Idempotent and quiet: does nothing when everything is already installed;
# otherwise prints only errors (full apt log in $SDG_SLURM_SETUP_LOG).
# .ci/run calls it, then `tests/slurm/cluster.sh start`, `pytest -m slurm`,
# `tests/slurm/cluster.sh stop`.
set -euo pipefail

LOG="${SDG_SLURM_SETUP_LOG:-/tmp/sdgflow-slurm-setup.log}"
PKGS=(slurm-wlm slurm-client munge)

have_all() {
  local p
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || return 1
  done
  command -v sbatch >/dev/null && command -v /usr/sbin/slurmctld >/dev/null && command -v /usr/sbin/munged >/dev/null
}

if have_all; then
  exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "slurm-setup: need root to apt-get install ${PKGS[*]}" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
echo "slurm-setup: installing ${PKGS[*]} (log: $LOG)" >&2
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${PKGS[@]}"; } >"$LOG" 2>&1; then
  tail -n 30 "$LOG" >&2
  echo "slurm-setup: apt-get failed (full log: $LOG)" >&2
  exit 1
fi
have_all || { echo "slurm-setup: packages installed but binaries missing" >&2; exit 1; }
