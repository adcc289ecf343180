#!/usr/bin/env bash
# The project's quality gates, in the order a failure is cheapest to read. Run from anywhere; needs `pip install -e '.[dev]'`.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== ruff"
ruff check grpc_errgen tests bench examples scripts
echo "== black"
black --check --quiet grpc_errgen tests bench examples
echo "== generated example is fresh"
grpc-errgen generate --check
grpc-errgen docs --out examples/CATALOGUE.md --check
echo "== mypy --strict: grpc_errgen/"
mypy grpc_errgen
echo "== mypy --strict: the example (user code against the generated module and typed stubs)"
# --follow-imports=silent: check the generated module strictly, not the protoc stubs it imports.
MYPYPATH=examples mypy --explicit-package-bases --follow-imports=silent examples/*.py examples/shop/v1/orders_errgen.py
echo "== pytest"
# Exit 5 (no tests collected) must fail the run, and it does: only 0 passes.
python -m pytest -q -p no:cacheprovider "$@"
