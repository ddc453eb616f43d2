#!/usr/bin/env bash
# Start/stop the emulated external systems sluice's tests talk to, on 127.0.0.1 only.
#
#   scripts/test-services.sh start    # (re)start all services with fresh data dirs, wait until ready
#   scripts/test-services.sh stop     # stop everything this script started
#   scripts/test-services.sh status   # pid / port / readiness of each service
#   scripts/test-services.sh env      # print `export` lines for the tests:  eval "$(scripts/test-services.sh env)"
#
#   start/stop/status accept service names to act on a subset: bigquery pubsub kafka gcs
#
# Binaries come from scripts/install-test-deps.sh (${SLUICE_CI_CACHE:-$HOME/.cache/sluice-ci}).
# Logs, pid files and data dirs live under ${SLUICE_CI_RUN:-/tmp/sluice-ci}.
# Prometheus and Alertmanager are not started here: the Rust tests start them
# with their own config using $SLUICE_TEST_PROMETHEUS_BIN and
# $SLUICE_TEST_ALERTMANAGER_BIN.
set -euo pipefail

CACHE="${SLUICE_CI_CACHE:-$HOME/.cache/sluice-ci}"
RUN="${SLUICE_CI_RUN:-/tmp/sluice-ci}"
READY_TIMEOUT="${SLUICE_CI_READY_TIMEOUT:-120}"  # BigQuery needed ~40 s on a machine loaded by cargo builds
PROJECT=test-project

BQ_PORT=9050
BQ_GRPC_PORT=9060
PUBSUB_PORT=8085
KAFKA_PORT=19092
GCS_PORT=4443

ALL_SERVICES=(bigquery pubsub kafka gcs)

log() { printf '[test-services] %s\n' "$*" >&2; }
die() { printf '[test-services] ERROR: %s\n' "$*" >&2; exit 1; }

ports_of() {
  case "$1" in
    bigquery) echo "$BQ_PORT $BQ_GRPC_PORT" ;;
    pubsub) echo "$PUBSUB_PORT" ;;
    kafka) echo "$KAFKA_PORT" ;;
    gcs) echo "$GCS_PORT" ;;
    *) die "unknown service: $1 (known: ${ALL_SERVICES[*]})" ;;
  esac
}

need() { [[ -x "$1" ]] || die "$2 not installed ($1 missing): run scripts/install-test-deps.sh"; }

pubsub_bin() {
  if [[ -x "$CACHE/bin/cloud-pubsub-emulator" ]]; then echo "$CACHE/bin/cloud-pubsub-emulator"; return; fi
  local root; root="$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null || echo /usr/lib/google-cloud-sdk)"
  echo "$root/platform/pubsub-emulator/bin/cloud-pubsub-emulator"
}

pidfile() { echo "$RUN/$1.pid"; }
logfile() { echo "$RUN/$1.log"; }
datadir() { echo "$RUN/data/$1"; }

running_pid() { # prints pid if the service's process (group leader) is alive
  local f; f="$(pidfile "$1")"
  [[ -f "$f" ]] || return 1
  local pid; pid="$(cat "$f")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

group_pids() { # all pids in the process group led by $1
  ps -eo pid=,pgid= | awk -v g="$1" '$2 == g {print $1}'
}

port_in_use() { ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }

port_owner() { ss -ltnpH "sport = :$1" 2>/dev/null | grep -oE 'users:\(\(.*\)\)' | head -n1; }

launch() { # service -> starts in its own session/process group
  local svc="$1" log data
  log="$(logfile "$svc")"; data="$(datadir "$svc")"
  rm -rf "$data"; mkdir -p "$data"
  : >"$log"
  case "$svc" in
    bigquery)
      need "$CACHE/bq-venv/bin/local-bigquery" "BigQuery emulator (local-bigquery)"
      [[ -d "$CACHE/bq-home/.duckdb/extensions" ]] || die "DuckDB extensions missing in $CACHE/bq-home: run scripts/install-test-deps.sh"
      HOME="$CACHE/bq-home" setsid "$CACHE/bq-venv/bin/local-bigquery" serve \
        --host 127.0.0.1 --port "$BQ_PORT" --grpc-port "$BQ_GRPC_PORT" \
        --project "$PROJECT" --data-dir "$data" </dev/null >>"$log" 2>&1 &
      ;;
    pubsub)
      local b; b="$(pubsub_bin)"
      need "$b" "Pub/Sub emulator"
      setsid "$b" --host=127.0.0.1 --port="$PUBSUB_PORT" --data-dir="$data" </dev/null >>"$log" 2>&1 &
      ;;
    kafka)
      need "$CACHE/bin/tansu" "tansu (Kafka) broker"
      # tansu's defaults listen on 0.0.0.0:9092; always pass explicit loopback URLs.
      # No --otlp-endpoint-url: without it tansu exports no telemetry and opens no other port.
      setsid "$CACHE/bin/tansu" broker \
        --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --storage-engine memory://tansu/ </dev/null >>"$log" 2>&1 &
      ;;
    gcs)
      need "$CACHE/bin/fake-gcs-server" "fake-gcs-server"
      (cd "$data" && exec setsid "$CACHE/bin/fake-gcs-server" -scheme http -host 127.0.0.1 -port "$GCS_PORT" \
        -public-host "127.0.0.1:$GCS_PORT" -external-url "http://127.0.0.1:$GCS_PORT" \
        -backend memory -location US </dev/null >>"$log" 2>&1) &
      ;;
  esac
  echo $! >"$(pidfile "$svc")"
}

probe() { # service -> 0 when ready
  case "$1" in
    bigquery)
      # Listing datasets opens DuckDB + the ducklake catalog (first use); 200 means it works.
      [[ "$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:$BQ_PORT/bigquery/v2/projects/$PROJECT/datasets")" == 200 ]] \
        && port_in_use "$BQ_GRPC_PORT" ;;
    pubsub)
      [[ "$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:$PUBSUB_PORT/v1/projects/$PROJECT/topics")" == 200 ]] ;;
    kafka)
      (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null ;;
    gcs)
      [[ "$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:$GCS_PORT/storage/v1/b?project=$PROJECT")" == 200 ]] ;;
  esac
}

wait_ready() {
  local svc="$1" pid deadline
  pid="$(cat "$(pidfile "$svc")")"
  deadline=$((SECONDS + READY_TIMEOUT))
  while ((SECONDS < deadline)); do
    if probe "$svc"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$svc exited during startup; last lines of $(logfile "$svc"):"
      tail -n 30 "$(logfile "$svc")" >&2
      return 1
    fi
    sleep 0.3
  done
  log "$svc not ready after ${READY_TIMEOUT}s; last lines of $(logfile "$svc"):"
  tail -n 30 "$(logfile "$svc")" >&2
  return 1
}

check_loopback() { # every listening socket of the service's process group must be loopback-only
  local svc="$1" pid bad=0 n=0 line addr
  pid="$(cat "$(pidfile "$svc")")"
  local pids; pids="$(group_pids "$pid" | tr '\n' ' ')"
  while read -r line; do
    [[ -n "$line" ]] || continue
    local lp; lp="$(grep -oE 'pid=[0-9]+' <<<"$line" | cut -d= -f2 | head -n1)"
    [[ -n "$lp" && " $pids " == *" $lp "* ]] || continue
    n=$((n + 1))
    addr="$(awk '{print $4}' <<<"$line")"
    case "$addr" in
      127.*:* | "[::1]":* | "[::ffff:127."*) ;;
      *) log "WARNING: $svc listens on $addr (not loopback): $line"; bad=1 ;;
    esac
  done < <(ss -ltnpH 2>/dev/null; ss -lunpH 2>/dev/null)
  ((n > 0)) || { log "WARNING: no listening sockets found for $svc (pid $pid)"; return 1; }
  return $bad
}

stop_one() {
  local svc="$1" pid
  pid="$(running_pid "$svc")" || { rm -f "$(pidfile "$svc")"; return 0; }
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    group_pids "$pid" | grep -q . || break
    sleep 0.2
  done
  if group_pids "$pid" | grep -q .; then
    kill -KILL -- "-$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$(pidfile "$svc")"
  log "stopped $svc (pid $pid)"
}

cmd_start() {
  local svcs=("$@") svc port failed=()
  mkdir -p "$RUN/data"
  stop_many "${svcs[@]}"
  for svc in "${svcs[@]}"; do
    for port in $(ports_of "$svc"); do
      # the port may linger briefly after stop; give it a few seconds
      for _ in $(seq 1 25); do port_in_use "$port" || break; sleep 0.2; done
      port_in_use "$port" && die "port $port (for $svc) is already in use by another process: $(port_owner "$port")"
    done
  done
  for svc in "${svcs[@]}"; do launch "$svc"; done
  for svc in "${svcs[@]}"; do
    if wait_ready "$svc"; then
      if check_loopback "$svc"; then
        log "$svc ready (pid $(cat "$(pidfile "$svc")"), ports $(ports_of "$svc"))"
      else
        failed+=("$svc(not loopback-only)")
      fi
    else
      failed+=("$svc")
    fi
  done
  if ((${#failed[@]})); then
    stop_many "${svcs[@]}"
    die "failed to start: ${failed[*]} (logs in $RUN)"
  fi
}

stop_many() { # stop services in parallel
  local svc pids=()
  for svc in "$@"; do stop_one "$svc" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || true; done
}

cmd_stop() { stop_many "$@"; }

cmd_status() {
  local svc pid rc=0
  for svc in "$@"; do
    if pid="$(running_pid "$svc")"; then
      if probe "$svc"; then
        printf '%-9s running  pid=%-7s ports=%-10s ready   log=%s\n' "$svc" "$pid" "$(ports_of "$svc" | tr ' ' ,)" "$(logfile "$svc")"
      else
        printf '%-9s running  pid=%-7s ports=%-10s NOT READY log=%s\n' "$svc" "$pid" "$(ports_of "$svc" | tr ' ' ,)" "$(logfile "$svc")"; rc=1
      fi
    else
      printf '%-9s stopped\n' "$svc"; rc=1
    fi
  done
  return $rc
}

cmd_env() {
  cat <<EOF
export SLUICE_TEST_BIGQUERY=http://127.0.0.1:$BQ_PORT
export SLUICE_TEST_BIGQUERY_GRPC=127.0.0.1:$BQ_GRPC_PORT
export SLUICE_TEST_BIGQUERY_BIN=$CACHE/bq-venv/bin/local-bigquery
export SLUICE_TEST_BIGQUERY_HOME=$CACHE/bq-home
export SLUICE_TEST_GCP_PROJECT=$PROJECT
export PUBSUB_EMULATOR_HOST=127.0.0.1:$PUBSUB_PORT
export SLUICE_TEST_PUBSUB=127.0.0.1:$PUBSUB_PORT
export SLUICE_TEST_KAFKA=127.0.0.1:$KAFKA_PORT
export SLUICE_TEST_GCS=http://127.0.0.1:$GCS_PORT
export SLUICE_TEST_PROMETHEUS_BIN=$CACHE/bin/prometheus
export SLUICE_TEST_PROMTOOL=$CACHE/bin/promtool
export SLUICE_TEST_ALERTMANAGER_BIN=$CACHE/bin/alertmanager
export SLUICE_TEST_HADOLINT=$CACHE/bin/hadolint
export SLUICE_TEST_KUBERNETES_VALIDATE=$CACHE/bin/kubernetes-validate
export SLUICE_TEST_BQ_CLI=bq
EOF
}

main() {
  local cmd="${1:-}"; shift || true
  local svcs=("$@")
  ((${#svcs[@]})) || svcs=("${ALL_SERVICES[@]}")
  for s in "${svcs[@]}"; do ports_of "$s" >/dev/null; done
  case "$cmd" in
    start) cmd_start "${svcs[@]}" ;;
    stop) cmd_stop "${svcs[@]}" ;;
    restart) cmd_stop "${svcs[@]}"; cmd_start "${svcs[@]}" ;;
    status) cmd_status "${svcs[@]}" ;;
    env) cmd_env ;;
    *) echo "usage: $0 start|stop|restart|status|env [bigquery pubsub kafka gcs]" >&2; exit 2 ;;
  esac
}
main "$@"
