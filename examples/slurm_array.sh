#!/usr/bin/env bash
# Render a large archive of consultation photos across a cluster as a Slurm job array: each array task takes
# a deterministic 1/N of the photos (smpsim batch --shard K/N), all writing into one shared results folder.
#
#   sbatch --array=1-8 examples/slurm_array.sh /shared/consultations /shared/results
#
# Then merge the shard reports into one:
#   smpsim merge-reports /shared/results/report.shard-*-of-8.json -o /shared/results/report.json
#
# A task that dies can simply be resubmitted (sbatch --array=5 ...): photos whose results are up to date
# are skipped, and a killed task's temporary files are cleaned up by the next run on that machine.
#SBATCH --job-name=smpsim
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=02:00:00
set -euo pipefail
input="$1"
output="$2"
shards="${SLURM_ARRAY_TASK_COUNT:?run this with sbatch --array=1-N}"
task="${SLURM_ARRAY_TASK_ID:?run this with sbatch --array=1-N}"
# --jobs: photos in flight per task; each photo's own work uses the task's remaining cores.
smpsim batch "$input" -o "$output" --recursive --jobs 2 --shard "$task/$shards" --csv
