#!/usr/bin/env bash
# The test command: installs (first time) and starts the local services the
# tests talk to on 127.0.0.1, runs formatting and lint checks and every
# test, then stops the services. CI (.ci/run) runs exactly this.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -- bigquery     # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

scripts/install-test-deps.sh
scripts/test-services.sh start
trap 'scripts/test-services.sh stop >/dev/null 2>&1 || true' EXIT
eval "$(scripts/test-services.sh env)"
# sluice must never try the real GCE metadata server from a test.
export SLUICE_METADATA_URL="${SLUICE_METADATA_URL:-none}"

[[ "${1:-}" == "--" ]] && shift
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --no-fail-fast "$@"
