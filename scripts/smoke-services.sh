#!/usr/bin/env bash
# Quick end-to-end check of every test service with CLI tools / curl.
# Needs: scripts/install-test-deps.sh done, scripts/test-services.sh start done.
#
#   scripts/smoke-services.sh            # all checks
#   SMOKE_VERBOSE=1 scripts/smoke-services.sh   # also print every emulator response body
#
# Every response is saved under ${SLUICE_CI_RUN:-/tmp/sluice-ci}/smoke/ for reference.
# Ends with a "N passed, N failed" line; exit status 1 if anything failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${SLUICE_CI_CACHE:-$HOME/.cache/sluice-ci}"
RUN="${SLUICE_CI_RUN:-/tmp/sluice-ci}"
OUT="$RUN/smoke"
rm -rf "$OUT"; mkdir -p "$OUT"
eval "$("$HERE/test-services.sh" env)"
PY="$CACHE/tools-venv/bin/python"
[[ -x "$PY" ]] || { echo "tools venv missing: run scripts/install-test-deps.sh" >&2; exit 1; }
VERBOSE="${SMOKE_VERBOSE:-0}"

passed=0; failed=0
exec 3>&1  # check results go to fd 3 so a check's own redirections cannot swallow them
ok() { passed=$((passed + 1)); printf '  ok    %s\n' "$1" >&3; }
bad() { failed=$((failed + 1)); printf '  FAIL  %s\n' "$1" >&3; [[ -n "${2:-}" ]] && printf '        %s\n' "$2" >&3; return 0; }
check() { # name command...
  local name="$1"; shift
  if "$@"; then ok "$name"; else bad "$name"; fi
}
# j FILE EXPR : evaluate a Python expression over the JSON in FILE (bound to d), print result
j() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); r=eval(sys.argv[2]); print(json.dumps(r) if not isinstance(r,str) else r)' "$1" "$2"; }
show() { [[ "$VERBOSE" == 1 ]] && { echo "        $(basename "$1"): $(head -c 2000 "$1")"; }; return 0; }
section() { printf '\n== %s  [t+%ss]\n' "$1" "$SECONDS"; }

PROJECT=test-project
BQ_API="$SLUICE_TEST_BIGQUERY"
BQ=("$SLUICE_TEST_BQ_CLI" --api "$BQ_API" --project_id "$PROJECT" --oauth_access_token=fake --quiet --headless)
REST="$BQ_API/bigquery/v2/projects/$PROJECT"
post() { curl -sS -m 30 -H 'Content-Type: application/json' -H 'Authorization: Bearer fake' "$@"; }
# jobs.query over REST (the bq CLI costs 1-2 s per call, far more on a loaded machine):
# prints the first column of the first row
bq_scalar() {
  "$PY" -c 'import json,sys; print(json.dumps({"query": sys.argv[1], "useLegacySql": False}))' "$1" \
    | post "$REST/queries" --data @- >"$OUT/last-query.json"
  j "$OUT/last-query.json" 'd["rows"][0]["f"][0]["v"]' 2>/dev/null || echo "query failed: $(head -c 400 "$OUT/last-query.json")"
}

# ============================================================ BigQuery
section "BigQuery emulator ($BQ_API)"
curl -sS -m 30 -X DELETE "$REST/datasets/smoke?deleteContents=true" >/dev/null 2>&1 || true
check "bq mk --dataset" "${BQ[@]}" mk --dataset "$PROJECT:smoke" >"$OUT/bq-mk-dataset.txt" 2>&1
check "bq mk --table (DAY partitioned on timestamp, expiration 7776000s)" \
  "${BQ[@]}" mk --table --time_partitioning_type=DAY --time_partitioning_field=timestamp \
  --time_partitioning_expiration=7776000 "$PROJECT:smoke.logs" \
  timestamp:TIMESTAMP,severity:STRING,message:STRING,n:INTEGER >"$OUT/bq-mk-table.txt" 2>&1

"${BQ[@]}" show --format=json "$PROJECT:smoke.logs" >"$OUT/bq-show-logs.json" 2>&1
show "$OUT/bq-show-logs.json"
check "tables.get timePartitioning.expirationMs == \"7776000000\"" \
  test "$(j "$OUT/bq-show-logs.json" 'd["timePartitioning"]')" == '{"expirationMs": "7776000000", "field": "timestamp", "type": "DAY"}'

# insertAll: the same insertId twice in one request and once more in a second request
post "$REST/datasets/smoke/tables/logs/insertAll" -d '{"kind":"bigquery#tableDataInsertAllRequest","rows":[
 {"insertId":"dup-1","json":{"timestamp":"2026-01-02T03:04:05.123456Z","severity":"INFO","message":"first","n":1}},
 {"insertId":"dup-1","json":{"timestamp":"2026-01-02T03:04:05.123456Z","severity":"INFO","message":"retry","n":1}}]}' >"$OUT/insertall-ok.json"
post "$REST/datasets/smoke/tables/logs/insertAll" -d '{"rows":[
 {"insertId":"dup-1","json":{"timestamp":"2026-01-02T03:04:05.123456Z","severity":"INFO","message":"retry2","n":1}}]}' >"$OUT/insertall-dup-again.json"
show "$OUT/insertall-ok.json"
check "insertAll success response has no insertErrors" \
  test "$(j "$OUT/insertall-ok.json" 'sorted(d)')" == '["kind"]'
n=$(bq_scalar 'SELECT COUNT(*) FROM smoke.logs WHERE n = 1')
check "insertId dedup: 3 inserts with insertId dup-1 -> COUNT(*) = 1 (got $n)" test "$n" == 1

# one row with a schema violation, WITHOUT skipInvalidRows: BigQuery rejects the whole request
post "$REST/datasets/smoke/tables/logs/insertAll" -d '{"rows":[
 {"insertId":"a-2","json":{"timestamp":"2026-01-02T04:00:00Z","severity":"WARN","message":"good","n":2}},
 {"insertId":"a-3","json":{"timestamp":"2026-01-02T04:00:01Z","severity":"ERROR","message":"bad","n":"not-a-number"}},
 {"insertId":"a-4","json":{"timestamp":"2026-01-02T04:00:02Z","severity":"INFO","message":"good2","n":4}}]}' >"$OUT/insertall-errors.json"
show "$OUT/insertall-errors.json"
check "insertAll with a bad row: insertErrors per row (index 1 invalid@n, 0 and 2 stopped)" \
  test "$(j "$OUT/insertall-errors.json" '[(e["index"], e["errors"][0]["reason"], e["errors"][0]["location"]) for e in d["insertErrors"]]')" == '[[0, "stopped", ""], [1, "invalid", "n"], [2, "stopped", ""]]'
n=$(bq_scalar 'SELECT COUNT(*) FROM smoke.logs WHERE n IN (2, 4)')
check "without skipInvalidRows no row of that request lands (got $n)" test "$n" == 0
# same with skipInvalidRows=true: the good rows land
post "$REST/datasets/smoke/tables/logs/insertAll" -d '{"skipInvalidRows":true,"rows":[
 {"insertId":"b-2","json":{"timestamp":"2026-01-02T04:00:00Z","severity":"WARN","message":"good","n":2}},
 {"insertId":"b-3","json":{"timestamp":"2026-01-02T04:00:01Z","severity":"ERROR","message":"bad","n":"not-a-number"}},
 {"insertId":"b-4","json":{"timestamp":"2026-01-02T04:00:02Z","severity":"INFO","message":"good2","n":4}}]}' >"$OUT/insertall-errors-skip.json"
show "$OUT/insertall-errors-skip.json"
check "skipInvalidRows=true: insertErrors only for index 1" \
  test "$(j "$OUT/insertall-errors-skip.json" '[(e["index"], e["errors"][0]["reason"]) for e in d["insertErrors"]]')" == '[[1, "invalid"]]'
n=$(bq_scalar 'SELECT COUNT(*) FROM smoke.logs WHERE n IN (2, 4)')
check "skipInvalidRows=true: the 2 good rows land (got $n)" test "$n" == 2
# unknown field
post "$REST/datasets/smoke/tables/logs/insertAll" -d '{"rows":[{"insertId":"u-1","json":{"timestamp":"2026-01-02T05:00:00Z","nosuch":"x"}}]}' >"$OUT/insertall-unknown-field.json"
show "$OUT/insertall-unknown-field.json"
check "unknown top-level field -> insertErrors reason=invalid location=nosuch" \
  test "$(j "$OUT/insertall-unknown-field.json" '(d["insertErrors"][0]["errors"][0]["reason"], d["insertErrors"][0]["errors"][0]["location"])')" == '["invalid", "nosuch"]'
post "$REST/datasets/smoke/tables/logs/insertAll" -d '{"ignoreUnknownValues":true,"rows":[{"insertId":"u-2","json":{"timestamp":"2026-01-02T05:00:00Z","n":7,"nosuch":"x"}}]}' >"$OUT/insertall-ignore-unknown.json"
check "ignoreUnknownValues=true accepts the row" test "$(j "$OUT/insertall-ignore-unknown.json" '"insertErrors" in d')" == false

"${BQ[@]}" query --nouse_legacy_sql --format=json \
  "SELECT COUNT(*) AS rows_total, FORMAT_TIMESTAMP('%F %T', MIN(timestamp), 'America/New_York') AS first_ny, DATE(MIN(timestamp), 'Asia/Tokyo') AS first_tokyo FROM smoke.logs" >"$OUT/bq-query.json" 2>&1
show "$OUT/bq-query.json"
check "bq query COUNT(*) + timezone functions" \
  test "$(j "$OUT/bq-query.json" 'd[0]')" == '{"first_ny": "2026-01-01 22:04:05", "first_tokyo": "2026-01-02", "rows_total": "4"}'

# tables.patch adding a NULLABLE column
curl -sS -m 30 "$REST/datasets/smoke/tables/logs" >"$OUT/bq-show-before-patch.json"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); f=d["schema"]["fields"]; f.append({"name":"trace_id","type":"STRING","mode":"NULLABLE"}); print(json.dumps({"schema":{"fields":f}}))' \
  "$OUT/bq-show-before-patch.json" >"$OUT/patch-body.json"
curl -sS -m 30 -X PATCH -H 'Content-Type: application/json' "$REST/datasets/smoke/tables/logs" --data @"$OUT/patch-body.json" >"$OUT/tables-patch.json"
show "$OUT/tables-patch.json"
check "tables.patch adds NULLABLE column trace_id (and keeps timePartitioning)" \
  test "$(j "$OUT/tables-patch.json" '([f["name"] for f in d["schema"]["fields"]][-1], d["timePartitioning"]["expirationMs"])')" == '["trace_id", "7776000000"]'
post "$REST/datasets/smoke/tables/logs/insertAll" -d '{"rows":[{"insertId":"p-1","json":{"timestamp":"2026-01-02T06:00:00Z","n":8,"trace_id":"abc"}}]}' >"$OUT/insertall-after-patch.json"
n=$(bq_scalar "SELECT COUNT(*) FROM smoke.logs WHERE trace_id = 'abc'")
check "insert + query the patched column (got $n)" test "$n" == 1
curl -sS -m 30 -X PATCH -H 'Content-Type: application/json' "$REST/datasets/smoke/tables/logs" \
  -d '{"schema":{"fields":[{"name":"timestamp","type":"TIMESTAMP"}]}}' >"$OUT/tables-patch-drop.json"
show "$OUT/tables-patch-drop.json"
check "tables.patch that drops columns is rejected" test "$(j "$OUT/tables-patch-drop.json" '"error" in d')" == true

# nested RECORD (jsonPayload), REPEATED RECORD (labels) and JSON column
post "$REST/datasets/smoke/tables" -d '{"tableReference":{"projectId":"test-project","datasetId":"smoke","tableId":"nested"},
 "timePartitioning":{"type":"DAY","field":"timestamp","expirationMs":"7776000000"},
 "schema":{"fields":[{"name":"timestamp","type":"TIMESTAMP","mode":"REQUIRED"},
  {"name":"jsonPayload","type":"RECORD","mode":"NULLABLE","fields":[{"name":"msg","type":"STRING"},{"name":"code","type":"INTEGER"},
    {"name":"http","type":"RECORD","fields":[{"name":"status","type":"INTEGER"},{"name":"path","type":"STRING"}]}]},
  {"name":"labels","type":"RECORD","mode":"REPEATED","fields":[{"name":"key","type":"STRING"},{"name":"value","type":"STRING"}]},
  {"name":"raw","type":"JSON","mode":"NULLABLE"}]}}' >"$OUT/tables-insert-nested.json"
check "tables.insert with RECORD/REPEATED RECORD/JSON columns" test "$(j "$OUT/tables-insert-nested.json" 'd["schema"]["fields"][3]["type"]')" == JSON
post "$REST/datasets/smoke/tables/nested/insertAll" -d '{"rows":[
 {"insertId":"n1","json":{"timestamp":"2026-01-02T12:00:00Z","jsonPayload":{"msg":"hello","code":7,"http":{"status":200,"path":"/x"}},
   "labels":[{"key":"a","value":"1"},{"key":"b","value":"2"}],"raw":"{\"k\":[1,2,{\"z\":null}]}"}},
 {"insertId":"n2","json":{"timestamp":"2026-01-02T12:00:01Z","jsonPayload":{"msg":"obj-json"},"raw":{"obj":true}}}]}' >"$OUT/insertall-nested.json"
show "$OUT/insertall-nested.json"
check "insertAll nested RECORD + JSON (string and object) accepted" test "$(j "$OUT/insertall-nested.json" '"insertErrors" in d')" == false
"$PY" -c 'import json,sys; print(json.dumps({"query": sys.argv[1], "useLegacySql": False}))' \
  "SELECT jsonPayload.http.status AS status, jsonPayload.msg AS msg, ARRAY_LENGTH(labels) AS nlabels, JSON_VALUE(raw, '\$.k[0]') AS k0, TO_JSON_STRING(raw) AS raw FROM smoke.nested ORDER BY timestamp" \
  | post "$REST/queries" --data @- >"$OUT/jobs-query-nested.json"
show "$OUT/jobs-query-nested.json"
check "jobs.query nested fields / JSON_VALUE" \
  test "$(j "$OUT/jobs-query-nested.json" '[(r["f"][0]["v"], r["f"][1]["v"], r["f"][3]["v"], r["f"][4]["v"]) for r in d["rows"]]')" == '[["200", "hello", "1", "{\"k\":[1,2,{\"z\":null}]}"], [null, "obj-json", null, "{\"obj\":true}"]]'
post "$REST/datasets/smoke/tables/nested/insertAll" -d '{"rows":[{"insertId":"n3","json":{"jsonPayload":{"msg":"no timestamp"}}}]}' >"$OUT/insertall-missing-required.json"
show "$OUT/insertall-missing-required.json"
check "missing REQUIRED field -> insertErrors" test "$(j "$OUT/insertall-missing-required.json" 'd["insertErrors"][0]["errors"][0]["message"]')" == "Missing required field: timestamp."
curl -sS -m 30 "$REST/datasets/smoke/tables/nested/data?maxResults=1" >"$OUT/tabledata-list-nested.json"
show "$OUT/tabledata-list-nested.json"
post "$REST/datasets/smoke/tables/nope/insertAll" -d '{"rows":[{"json":{"a":1}}]}' -w '\n%{http_code}' >"$OUT/insertall-no-table.txt"
show "$OUT/insertall-no-table.txt"
check "insertAll into a missing table -> HTTP 404" test "$(tail -n1 "$OUT/insertall-no-table.txt")" == 404

# ============================================================ Pub/Sub
section "Pub/Sub emulator ($SLUICE_TEST_PUBSUB)"
PS="http://$PUBSUB_EMULATOR_HOST/v1/projects/$PROJECT"
curl -sS -m 10 -X DELETE "$PS/subscriptions/smoke-sub" >/dev/null; curl -sS -m 10 -X DELETE "$PS/topics/smoke-topic" >/dev/null
curl -sS -m 10 -X PUT "$PS/topics/smoke-topic" >"$OUT/pubsub-create-topic.json"; show "$OUT/pubsub-create-topic.json"
check "create topic" test "$(j "$OUT/pubsub-create-topic.json" 'd["name"]')" == "projects/$PROJECT/topics/smoke-topic"
curl -sS -m 10 -X PUT -H 'Content-Type: application/json' "$PS/subscriptions/smoke-sub" \
  -d "{\"topic\":\"projects/$PROJECT/topics/smoke-topic\",\"ackDeadlineSeconds\":10}" >"$OUT/pubsub-create-sub.json"; show "$OUT/pubsub-create-sub.json"
check "create subscription" test "$(j "$OUT/pubsub-create-sub.json" 'd["topic"]')" == "projects/$PROJECT/topics/smoke-topic"
curl -sS -m 10 -X POST -H 'Content-Type: application/json' "$PS/topics/smoke-topic:publish" \
  -d "{\"messages\":[{\"data\":\"$(printf '{"msg":"hello pubsub"}' | base64 -w0)\",\"attributes\":{\"severity\":\"INFO\"}}]}" >"$OUT/pubsub-publish.json"; show "$OUT/pubsub-publish.json"
check "publish" test "$(j "$OUT/pubsub-publish.json" 'len(d["messageIds"])')" == 1
curl -sS -m 30 -X POST -H 'Content-Type: application/json' "$PS/subscriptions/smoke-sub:pull" -d '{"maxMessages":10}' >"$OUT/pubsub-pull.json"; show "$OUT/pubsub-pull.json"
check "pull returns the message (base64 data + attributes)" \
  test "$(j "$OUT/pubsub-pull.json" '(__import__("base64").b64decode(d["receivedMessages"][0]["message"]["data"]).decode(), d["receivedMessages"][0]["message"]["attributes"])')" == '["{\"msg\":\"hello pubsub\"}", {"severity": "INFO"}]'
ack="$(j "$OUT/pubsub-pull.json" 'd["receivedMessages"][0]["ackId"]' 2>/dev/null)"
curl -sS -m 10 -X POST -H 'Content-Type: application/json' "$PS/subscriptions/smoke-sub:acknowledge" -d "{\"ackIds\":[\"$ack\"]}" >"$OUT/pubsub-ack.json"; show "$OUT/pubsub-ack.json"
check "acknowledge -> {}" test "$(j "$OUT/pubsub-ack.json" 'd')" == '{}'
curl -sS -m 30 -X POST -H 'Content-Type: application/json' "$PS/subscriptions/smoke-sub:pull" -d '{"maxMessages":10,"returnImmediately":true}' >"$OUT/pubsub-pull-empty.json"
check "pull after ack is empty ({} with no receivedMessages)" test "$(j "$OUT/pubsub-pull-empty.json" 'd')" == '{}'
curl -sS -m 10 -X PUT "$PS/topics/smoke-topic" >"$OUT/pubsub-create-topic-again.json"; show "$OUT/pubsub-create-topic-again.json"
check "re-creating the topic -> 409 ALREADY_EXISTS" test "$(j "$OUT/pubsub-create-topic-again.json" 'd["error"]["status"]')" == ALREADY_EXISTS

# ============================================================ Kafka
section "Kafka / tansu ($SLUICE_TEST_KAFKA)"
"$PY" - "$SLUICE_TEST_KAFKA" >"$OUT/kafka.txt" 2>&1 <<'EOF'
import sys, time, uuid
from confluent_kafka import Consumer, Producer, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap = sys.argv[1]
topic = f"smoke-{uuid.uuid4().hex[:8]}"
admin = AdminClient({"bootstrap.servers": bootstrap})
admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(10)
print("topic created", topic)
p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": False, "linger.ms": 0})
for i in range(3):
    p.produce(topic, key=f"k{i}".encode(), value=f'{{"n":{i}}}'.encode(), partition=i)
left = p.flush(10)
assert left == 0, f"{left} messages not delivered"
print("produced 3")
assigned = {}
def on_assign(c, parts):
    assigned.setdefault("t", time.monotonic()); assigned["parts"] = [x.partition for x in parts]
# tansu completes a new group's first join only after ~session.timeout.ms/2 (min ~1 s):
# librdkafka's default 45000 ms means ~23 s before the first assignment; 6000 ms -> ~3 s.
c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex[:8]}",
              "auto.offset.reset": "earliest", "enable.auto.commit": False,
              "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000})
t0 = time.monotonic()
c.subscribe([topic], on_assign=on_assign)
got, first = [], None
while time.monotonic() - t0 < 60 and len(got) < 3:
    m = c.poll(0.2)
    if m is None: continue
    if m.error(): raise KafkaException(m.error())
    first = first or time.monotonic()
    got.append(m.value().decode())
c.commit(asynchronous=False)
committed = c.committed([__import__("confluent_kafka").TopicPartition(topic, i) for i in range(3)], timeout=10)
c.close()
print(f"consumed {len(got)}: {sorted(got)}")
print(f"committed offsets: {[tp.offset for tp in committed]}")
print(f"session.timeout.ms=6000: first assignment after {assigned.get('t', float('nan')) - t0:.2f}s (partitions {assigned.get('parts')}); first message after {(first or float('nan')) - t0:.2f}s")
assert len(got) == 3, got
EOF
rc=$?
sed 's/^/        /' "$OUT/kafka.txt"
check "produce 3 / consume 3 with a new consumer group + commit" test $rc == 0

# ============================================================ GCS
section "fake-gcs-server ($SLUICE_TEST_GCS)"
G="$SLUICE_TEST_GCS"
curl -sS -m 10 -X POST -H 'Content-Type: application/json' "$G/storage/v1/b?project=$PROJECT" -d '{"name":"smoke-bucket"}' >"$OUT/gcs-create-bucket.json"; show "$OUT/gcs-create-bucket.json"
check "create bucket" test "$(j "$OUT/gcs-create-bucket.json" 'd.get("name") or d["error"]["code"]')" != ""
printf '{"line":1}\n{"line":2}\n' >"$OUT/obj.ndjson"
curl -sS -m 10 -X POST -H 'Content-Type: application/x-ndjson' --data-binary @"$OUT/obj.ndjson" \
  "$G/upload/storage/v1/b/smoke-bucket/o?uploadType=media&name=logs/2026/01/02/part-0.ndjson" >"$OUT/gcs-upload-media.json"; show "$OUT/gcs-upload-media.json"
check "upload (uploadType=media)" test "$(j "$OUT/gcs-upload-media.json" '(d["name"], d["size"])')" == '["logs/2026/01/02/part-0.ndjson", "22"]'
# resumable upload: POST returns a Location header, then PUT the bytes there
loc="$(curl -sS -m 10 -D - -o /dev/null -X POST -H 'Content-Type: application/json' -H 'X-Upload-Content-Type: application/x-ndjson' \
  "$G/upload/storage/v1/b/smoke-bucket/o?uploadType=resumable&name=logs/2026/01/02/part-1.ndjson" -d '{}' | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')"
echo "$loc" >"$OUT/gcs-resumable-location.txt"
curl -sS -m 10 -X PUT --data-binary @"$OUT/obj.ndjson" "$loc" >"$OUT/gcs-upload-resumable.json"; show "$OUT/gcs-upload-resumable.json"
check "upload (uploadType=resumable, Location=$loc)" test "$(j "$OUT/gcs-upload-resumable.json" 'd["name"]')" == logs/2026/01/02/part-1.ndjson
curl -sS -m 10 "$G/storage/v1/b/smoke-bucket/o?prefix=logs/2026/" >"$OUT/gcs-list.json"; show "$OUT/gcs-list.json"
check "list objects by prefix" test "$(j "$OUT/gcs-list.json" '[o["name"] for o in d["items"]]')" == '["logs/2026/01/02/part-0.ndjson", "logs/2026/01/02/part-1.ndjson"]'
curl -sS -m 10 "$G/storage/v1/b/smoke-bucket/o/logs%2F2026%2F01%2F02%2Fpart-0.ndjson?alt=media" >"$OUT/gcs-get.bin"
check "get object (alt=media) returns the bytes" cmp -s "$OUT/gcs-get.bin" "$OUT/obj.ndjson"

# ============================================================ Prometheus
section "Prometheus ($SLUICE_TEST_PROMETHEUS_BIN)"
PDIR="$OUT/prometheus"; mkdir -p "$PDIR/data"
cat >"$PDIR/prometheus.yml" <<'EOF'
global:
  scrape_interval: 1s
scrape_configs: []
EOF
check "promtool check config" "$SLUICE_TEST_PROMTOOL" check config "$PDIR/prometheus.yml" >"$PDIR/promtool-check.txt" 2>&1
PPORT=19090
setsid "$SLUICE_TEST_PROMETHEUS_BIN" --config.file="$PDIR/prometheus.yml" --web.listen-address="127.0.0.1:$PPORT" \
  --storage.tsdb.path="$PDIR/data" </dev/null >"$PDIR/prometheus.log" 2>&1 &
ppid=$!
for _ in $(seq 1 100); do curl -fsS -m 2 "http://127.0.0.1:$PPORT/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sS -m 10 "http://127.0.0.1:$PPORT/api/v1/query?query=up" >"$PDIR/query-up.json"; show "$PDIR/query-up.json"
check "query up via HTTP API (no targets -> empty vector)" test "$(j "$PDIR/query-up.json" '(d["status"], d["data"]["resultType"], d["data"]["result"])')" == '["success", "vector", []]'
check "prometheus listens only on 127.0.0.1" bash -c "ss -ltnpH | grep 'pid=$ppid,' | awk '{print \$4}' | grep -qv '^127\.' && exit 1; ss -ltnpH | grep -q 'pid=$ppid,'"
kill "$ppid" 2>/dev/null; wait "$ppid" 2>/dev/null
"$SLUICE_TEST_PROMTOOL" --version 2>&1 | head -n1 | sed 's/^/        /'

# ============================================================ Alertmanager
section "Alertmanager ($SLUICE_TEST_ALERTMANAGER_BIN)"
ADIR="$OUT/alertmanager"; mkdir -p "$ADIR/data"
cat >"$ADIR/alertmanager.yml" <<'EOF'
route:
  receiver: none
receivers:
  - name: none
EOF
APORT=19093
# --cluster.listen-address= turns the gossip listener (TCP+UDP :9094) off.
setsid "$SLUICE_TEST_ALERTMANAGER_BIN" --config.file="$ADIR/alertmanager.yml" --storage.path="$ADIR/data" \
  --web.listen-address="127.0.0.1:$APORT" --cluster.listen-address= </dev/null >"$ADIR/alertmanager.log" 2>&1 &
apid=$!
for _ in $(seq 1 100); do curl -fsS -m 2 "http://127.0.0.1:$APORT/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
check "alertmanager /-/ready" curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$APORT/-/ready"
check "alertmanager listens on 127.0.0.1:$APORT and nothing else" \
  test "$(ss -ltunpH | grep "pid=$apid," | awk '{print $1, $5}')" == "tcp 127.0.0.1:$APORT"
kill "$apid" 2>/dev/null; wait "$apid" 2>/dev/null
"$SLUICE_TEST_ALERTMANAGER_BIN" --version 2>&1 | head -n1 | sed 's/^/        /'

# ============================================================ hadolint
section "hadolint ($SLUICE_TEST_HADOLINT)"
printf 'FROM debian:bookworm-slim\nCMD ["true"]\n' >"$OUT/Dockerfile.good"
printf 'FROM debian:latest\nRUN apt-get update && apt-get install -y curl\n' >"$OUT/Dockerfile.bad"
check "hadolint passes a clean 2-line Dockerfile" "$SLUICE_TEST_HADOLINT" "$OUT/Dockerfile.good"
"$SLUICE_TEST_HADOLINT" "$OUT/Dockerfile.bad" >"$OUT/hadolint-bad.txt" 2>&1; rc=$?
check "hadolint flags DL3007 (latest tag) in a bad one (exit $rc)" grep -q DL3007 "$OUT/hadolint-bad.txt"

# ============================================================ kubernetes-validate (offline)
section "kubernetes-validate ($SLUICE_TEST_KUBERNETES_VALIDATE), offline"
cat >"$OUT/deploy.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sluice
spec:
  replicas: 1
  selector:
    matchLabels: {app: sluice}
  template:
    metadata:
      labels: {app: sluice}
    spec:
      containers:
        - name: sluice
          image: sluice:dev
          ports: [{containerPort: 9000}]
EOF
sed 's/replicas: 1/replicas: 1\n  replikas: 2/' "$OUT/deploy.yaml" >"$OUT/deploy-bad.yaml"
offline=(); unshare --net true 2>/dev/null && offline=(unshare --net)
check "valid Deployment passes (k8s 1.30.0, --strict, ${offline[*]:-online})" "${offline[@]}" "$SLUICE_TEST_KUBERNETES_VALIDATE" --strict -k 1.30.0 "$OUT/deploy.yaml"
"${offline[@]}" "$SLUICE_TEST_KUBERNETES_VALIDATE" --strict -k 1.30.0 "$OUT/deploy-bad.yaml" >"$OUT/kv-bad.txt" 2>&1; rc=$?
check "unknown field is rejected with --strict (exit $rc)" test $rc != 0

printf "\nresponses saved in %s  [t+%ss]\n" "$OUT" "$SECONDS"
echo "smoke: $passed passed, $failed failed"
((failed == 0))
