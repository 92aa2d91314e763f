#!/usr/bin/env bash
# Mutation score of the modules whose mistakes change results silently (docs/testing.md#mutation-score):
# mutmut (requirements-mutation.txt, configured in pyproject.toml's [tool.mutmut]) mutates them in a copy
# of the repository (mutants/) and runs the fast tests that reach each mutated function, one mutant at
# a time on one core. Prints killed / total per module (timeouts count as killed).
#
#   bash benchmarks/mutation.sh          # reuses mutants/: unchanged functions keep their verdicts,
#                                        # the mutants not killed are tested again
#   bash benchmarks/mutation.sh --fresh  # starts over from an empty mutants/ (a few hours)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=.venv/bin/python
[ -x "$PYTHON" ] || { echo "no .venv: run 'bash setup.sh' first" >&2; exit 1; }
required=$(grep -E '^mutmut==' requirements-mutation.txt | cut -d= -f3)
if [ "$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("mutmut"))' 2>/dev/null)" != "$required" ]; then
  "$PYTHON" -m pip install -q -r requirements-mutation.txt
fi

if [ "${1:-}" = "--fresh" ]; then
  rm -rf mutants
elif [ -d mutants ]; then
  "$PYTHON" benchmarks/mutation_scores.py --reset
fi

# One worker process and one thread per library: the other core stays free.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# mutmut redraws its progress line; its whole output goes to a log, its summary lines to the terminal.
mkdir -p mutants
log=mutants/mutmut-run.log
if ! .venv/bin/mutmut run --max-children 1 >"$log" 2>&1; then
  tr '\r' '\n' <"$log" | tail -40
  echo "mutmut failed (its output: $log)" >&2
  exit 1
fi
tr '\r' '\n' <"$log" | grep -a -E 'done|mutations/second|Warning' || true
exec "$PYTHON" benchmarks/mutation_scores.py
