//! Unit tests: names, encoding and types, schema inference and adoption,
//! table routing, retry classification. The emulator tests are in
//! `tests/it/bigquery.rs`.

use serde_json::{json, Value};

use super::config::{Config, Partitioning};
use super::encoder::{self, append_row};
use super::schema::{self, Schema, Type};
use super::service::{self, classify_response, row_failures, SendError};
use super::table::{self, TableTemplate};

fn enc(log: &Value, schema: &mut Schema, add: bool) -> Result<Value, String> {
    let mut out = Vec::new();
    encoder::encode(log, schema, add, &mut out)
        .map(|_| serde_json::from_slice(&out).expect("the encoder writes valid JSON"))
        .map_err(|e| e.to_string())
}

fn entry() -> Value {
    json!({
        "insertId": "abc123",
        "logName": "projects/p/logs/stdout",
        "timestamp": "2025-11-30T12:34:56.789Z",
        "receiveTimestamp": "2025-11-30T12:34:57Z",
        "severity": "INFO",
        "resource": {"type": "k8s_container", "labels": {"namespace_name": "coditect", "Pod-Name": "x"}},
        "labels": {"k8s-pod/app": "license-api"},
        "httpRequest": {"requestMethod": "POST", "status": 503, "latency": "0.048s", "responseSize": "2530"},
        "sourceLocation": {"file": "views.py", "line": "88", "function": "acquire"},
        "jsonPayload": {"message": "hi", "User_ID": "u1", "count": 3, "ratio": 0.5, "ok": true,
                        "tags": ["a", "b"], "nested": {"Deep": {"x": 1}}, "nothing": null, "empty": {}}
    })
}

#[test]
fn normalize_follows_cloud_logging() {
    assert_eq!(schema::normalize("message"), "message");
    assert!(matches!(
        schema::normalize("message"),
        std::borrow::Cow::Borrowed(_)
    ));
    assert_eq!(schema::normalize("MESSAGE"), "message");
    assert_eq!(schema::normalize("myField"), "myfield");
    assert_eq!(schema::normalize("foo%%"), "foo__");
    assert_eq!(schema::normalize("@type"), "type");
    assert_eq!(schema::normalize("__x"), "x");
    assert_eq!(schema::normalize("k8s-pod/app"), "k8s_pod_app");
    assert_eq!(schema::normalize("caf\u{e9}"), "caf_");
    assert_eq!(schema::normalize("%%"), "unnamed");
    assert_eq!(schema::normalize(""), "unnamed");
    assert_eq!(
        schema::normalize(&"A".repeat(300)).len(),
        schema::MAX_NAME_LEN
    );
    assert_eq!(schema::normalize("2fa"), "2fa");
}

#[test]
fn encoder_keeps_logentry_names_and_normalizes_user_keys() {
    let mut s = Schema::logging();
    let row = enc(&entry(), &mut s, true).unwrap();
    assert_eq!(row["insertId"], "abc123");
    assert_eq!(row["receiveTimestamp"], "2025-11-30T12:34:57Z");
    assert_eq!(row["httpRequest"]["requestMethod"], "POST");
    // LogEntry int64-as-string and Duration forms become numbers.
    assert_eq!(row["httpRequest"]["responseSize"], 2530);
    assert_eq!(row["httpRequest"]["latency"], 0.048);
    assert_eq!(row["sourceLocation"]["line"], 88);
    assert_eq!(row["resource"]["labels"]["pod_name"], "x");
    assert_eq!(row["labels"]["k8s_pod_app"], "license-api");
    let p = &row["jsonPayload"];
    assert_eq!(p["user_id"], "u1");
    assert_eq!(p["nested"]["deep"]["x"], 1);
    assert!(p.get("nothing").is_none(), "nulls are left out");
    assert!(p.get("empty").is_none(), "empty objects add no column");
    assert_eq!(p["tags"], json!(["a", "b"]));
}

#[test]
fn inferred_types() {
    let mut s = Schema::logging();
    let r = enc(&entry(), &mut s, true).unwrap();
    assert!(r.is_object());
    let p = s.root.get("jsonPayload").unwrap();
    assert!(p.fixed);
    let t = |n: &str| p.record.get(n).map(|f| (f.ty, f.repeated));
    assert_eq!(t("message"), Some((Type::String, false)));
    assert_eq!(t("count"), Some((Type::Int64, false)));
    assert_eq!(t("ratio"), Some((Type::Float64, false)));
    assert_eq!(t("ok"), Some((Type::Bool, false)));
    assert_eq!(t("tags"), Some((Type::String, true)));
    assert_eq!(t("nested"), Some((Type::Record, false)));
    assert_eq!(t("nothing"), None);
    // Labels are strings whatever the value.
    let mut s = Schema::logging();
    enc(&json!({"labels": {"n": 5}}), &mut s, true).unwrap();
    assert_eq!(
        s.root.get("labels").unwrap().record.get("n").unwrap().ty,
        Type::String
    );
    // Mixed numbers in an array -> FLOAT; objects merged.
    let f = schema::infer("a", &json!([1, 2.5]), 0).unwrap().unwrap();
    assert_eq!((f.ty, f.repeated), (Type::Float64, true));
    let f = schema::infer("a", &json!([{"x": 1}, {"y": "s"}]), 0)
        .unwrap()
        .unwrap();
    assert_eq!(f.record.fields.len(), 2);
    assert!(schema::infer("a", &json!([[1]]), 0).is_err());
    assert!(schema::infer("a", &json!([1, "x"]), 0).is_err());
}

#[test]
fn conflicts_and_conversions() {
    let mut s = Schema::logging();
    enc(
        &json!({"jsonPayload": {"n": 1, "s": "x", "f": 1.5}}),
        &mut s,
        true,
    )
    .unwrap();
    // Scalars fit STRING columns as strings; integers fit FLOAT.
    let r = enc(&json!({"jsonPayload": {"s": 7, "f": 2}}), &mut s, true).unwrap();
    assert_eq!(r["jsonPayload"]["s"], "7");
    assert_eq!(r["jsonPayload"]["f"], 2);
    // Numeric strings fit INTEGER.
    let r = enc(&json!({"jsonPayload": {"n": "42"}}), &mut s, true).unwrap();
    assert_eq!(r["jsonPayload"]["n"], 42);
    // A word for an INTEGER column is a conflict naming path and types only.
    let e = enc(&json!({"jsonPayload": {"n": "secret-value"}}), &mut s, true).unwrap_err();
    assert!(e.contains("jsonPayload.n"), "{e}");
    assert!(e.contains("INTEGER"), "{e}");
    assert!(!e.contains("secret-value"), "{e}");
    let e = enc(&json!({"jsonPayload": {"n": 1.5}}), &mut s, true).unwrap_err();
    assert!(e.contains("float"), "{e}");
    let e = enc(&json!({"jsonPayload": {"s": {"a": 1}}}), &mut s, true).unwrap_err();
    assert!(e.contains("jsonPayload.s"), "{e}");
    let e = enc(&json!({"jsonPayload": {"s": ["a"]}}), &mut s, true).unwrap_err();
    assert!(e.contains("REPEATED") || e.contains("array"), "{e}");
    // A failed row leaves the output untouched.
    let mut out = b"prefix".to_vec();
    assert!(encoder::encode(&json!({"jsonPayload": {"n": "x"}}), &mut s, true, &mut out).is_err());
    assert_eq!(out, b"prefix");
}

#[test]
fn reject_mode_refuses_new_fields() {
    let mut s = Schema::logging();
    let e = enc(
        &json!({"severity": "INFO", "jsonPayload": {"a": 1}}),
        &mut s,
        false,
    )
    .unwrap_err();
    assert!(e.contains("jsonPayload"), "{e}");
    assert!(enc(
        &json!({"severity": "INFO", "textPayload": "x"}),
        &mut s,
        false
    )
    .is_ok());
}

#[test]
fn colliding_keys_get_suffixes() {
    let mut s = Schema::logging();
    let r = enc(&json!({"jsonPayload": {"Foo": 1, "foo": 2}}), &mut s, true).unwrap();
    let p = r["jsonPayload"].as_object().unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p["foo"], 2);
    assert_eq!(p["foo_2"], 1);
}

#[test]
fn added_fields_are_reported_once() {
    let mut s = Schema::logging();
    let mut out = Vec::new();
    let a = encoder::encode(&json!({"jsonPayload": {"a": 1}}), &mut s, true, &mut out).unwrap();
    assert!(a.added_fields);
    out.clear();
    let b = encoder::encode(&json!({"jsonPayload": {"a": 2}}), &mut s, true, &mut out).unwrap();
    assert!(!b.added_fields);
}

#[test]
fn schema_roundtrips_through_bigquery_form() {
    let mut s = Schema::logging();
    enc(&entry(), &mut s, true).unwrap();
    let bq = s.to_bq();
    let back = Schema::from_bq(&bq);
    assert_eq!(back.columns, s.columns);
    assert!(back.root.get("insertId").unwrap().fixed);
    assert!(back.root.get("jsonPayload").unwrap().fixed);
    let v = serde_json::to_value(&bq).unwrap();
    let names: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for n in [
        "timestamp",
        "receiveTimestamp",
        "severity",
        "logName",
        "insertId",
        "resource",
        "jsonPayload",
        "textPayload",
        "httpRequest",
        "labels",
        "trace",
        "spanId",
        "sourceLocation",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let ts = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "timestamp")
        .unwrap();
    assert_eq!(ts["type"], "TIMESTAMP");
}

/// What the emulator answered to a patch that added `resource.labels`
/// children to a table created without them: the top-level column was
/// added, the nested ones were not. The check names exactly those.
#[test]
fn a_patch_answer_without_nested_columns_names_what_it_lacks() {
    let before = Schema::logging().to_bq();
    let mut s = Schema::logging();
    enc(&entry(), &mut s, true).unwrap();
    let asked = s.to_bq();
    assert!(schema::missing_columns(&asked, &asked).is_empty());
    let missing = schema::missing_columns(&asked, &before);
    for want in [
        "resource.labels",
        "labels",
        "jsonPayload",
        "sourceLocation.file",
    ] {
        let present = missing.iter().any(|m| m == want);
        // `sourceLocation` is in the fixed schema from the start.
        assert_eq!(
            present,
            want != "sourceLocation.file",
            "{want} in {missing:?}"
        );
    }
    // One name per missing record, not per child; case is BigQuery's.
    assert!(
        !missing.iter().any(|m| m.starts_with("resource.labels.")),
        "{missing:?}"
    );
    let mut upper: serde_json::Value = serde_json::to_value(&asked).unwrap();
    for f in upper["fields"].as_array_mut().unwrap() {
        let n = f["name"].as_str().unwrap().to_ascii_uppercase();
        f["name"] = n.into();
    }
    let upper = serde_json::from_value(upper).unwrap();
    assert!(schema::missing_columns(&asked, &upper).is_empty());
}

#[test]
fn table_names() {
    let t = TableTemplate::parse("{log_id}").unwrap();
    assert_eq!(
        t.render(&json!({"logName": "projects/p/logs/stdout"})),
        "stdout"
    );
    assert_eq!(
        t.render(&json!({"logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity"})),
        "cloudaudit_googleapis_com_activity"
    );
    assert_eq!(t.render(&json!({})), "unknown_log");
    let t = TableTemplate::parse("app_{resource.labels.container_name}").unwrap();
    assert_eq!(
        t.render(&json!({"resource": {"labels": {"container_name": "django-api"}}})),
        "app_django_api"
    );
    assert!(TableTemplate::parse("logs").unwrap().is_fixed());
    assert!(TableTemplate::parse("{oops").is_err());
    assert!(TableTemplate::parse("").is_err());
    assert!(TableTemplate::parse("a}").is_err());

    let e = json!({"logName": "projects/p/logs/stderr", "timestamp": "2025-11-30T23:59:59.9Z"});
    let tpl = TableTemplate::parse("{log_id}").unwrap();
    assert_eq!(table::route(&tpl, Partitioning::Day, &e).0, "stderr");
    let (name, day) = table::route(&tpl, Partitioning::Sharded, &e);
    assert_eq!(name, "stderr_20251130");
    let exp = table::shard_expiration(day.unwrap(), 90).unwrap();
    assert_eq!(exp.to_rfc3339(), "2026-03-01T00:00:00+00:00");
    assert!(table::shard_expiration(day.unwrap(), 0).is_none());
}

#[test]
fn retry_classification() {
    assert!(service::retriable_status(429));
    assert!(service::retriable_status(500));
    assert!(service::retriable_status(503));
    assert!(!service::retriable_status(400));
    assert!(!service::retriable_status(403));
    assert!(matches!(
        classify_response(503, b"<html>bad gateway</html>"),
        SendError::Retriable(_)
    ));
    assert!(matches!(
        classify_response(429, b"{}"),
        SendError::Retriable(_)
    ));
    assert!(matches!(
        classify_response(403, br#"{"error":{"code":403,"message":"Exceeded rate limits","errors":[{"reason":"rateLimitExceeded"}]}}"#),
        SendError::Retriable(_)
    ));
    assert!(matches!(
        classify_response(403, br#"{"error":{"code":403,"message":"Access Denied","errors":[{"reason":"accessDenied"}]}}"#),
        SendError::Fatal(_)
    ));
    assert_eq!(classify_response(404, b"{}"), SendError::NotFound);
    assert_eq!(classify_response(413, b""), SendError::TooLarge);
    assert!(matches!(
        classify_response(400, br#"{"error":{"message":"bad"}}"#),
        SendError::Fatal(_)
    ));

    let body = br#"{"kind":"bigquery#tableDataInsertAllResponse","insertErrors":[
        {"index":1,"errors":[{"reason":"invalid","location":"jsonPayload.n","message":"Cannot convert value to integer"}]},
        {"index":2,"errors":[{"reason":"stopped","message":""}]},
        {"index":3,"errors":[{"reason":"invalid","location":"jsonPayload.new","message":"no such field: new."}]}]}"#;
    let f = row_failures(body).unwrap();
    assert_eq!(f.len(), 3);
    assert_eq!((f[0].index, f[0].retriable), (1, false));
    assert!(
        f[0].reason.contains("invalid") && f[0].reason.contains("jsonPayload.n"),
        "{}",
        f[0].reason
    );
    assert!(f[1].retriable, "stopped rows are retried");
    assert!(
        f[2].retriable,
        "columns not yet visible after a patch are retried"
    );
    assert!(row_failures(b"{}").unwrap().is_empty());
    // Values BigQuery quotes in its messages stay out of the reason.
    let f = row_failures(br#"{"insertErrors":[{"index":0,"errors":[{"reason":"invalid","location":"receiveTimestamp","message":"Cannot convert value to timestamp (bad value): jane@example.com"}]}]}"#).unwrap();
    assert!(!f[0].reason.contains("jane"), "{}", f[0].reason);
    assert!(
        f[0].reason.contains("Cannot convert value to timestamp"),
        "{}",
        f[0].reason
    );
}

#[test]
fn retry_schedule_is_half_a_second_doubling_to_thirty() {
    // The schedule itself is tested in crate::backoff; this pins
    // BigQuery's numbers (service.rs's module doc quotes them).
    let mut b = service::RETRY.within(std::time::Duration::from_secs(3600));
    let first = std::time::Duration::from_millis(500);
    let d1 = b.next_delay().unwrap();
    let d2 = b.next_delay().unwrap();
    let d3 = b.next_delay().unwrap();
    assert!(d1 >= first / 2 && d1 <= first);
    assert!(d2 >= first && d2 <= first * 2);
    assert!(d3 >= first * 2 && d3 <= first * 4);
    for _ in 0..20 {
        assert!(b.next_delay().unwrap() <= std::time::Duration::from_secs(30));
    }
}

#[test]
fn rows_and_bodies() {
    let mut body = Vec::new();
    append_row(&mut body, Some("id\"1"), br#"{"a":1}"#);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v, json!({"insertId": "id\"1", "json": {"a": 1}}));
    assert!(body.len() <= 7 + encoder::row_overhead(Some("id\"1")));
}

#[test]
fn config_validation_names_fields() {
    let c: Config = toml::from_str(
        r#"project = "p"
dataset = "bad-name"
auth = "key_file"
batch_max_bytes = 20000000
endpoint = "localhost:9050""#,
    )
    .unwrap();
    let errs: Vec<String> = c.validate().into_iter().map(|e| format!("{e:?}")).collect();
    for f in ["dataset", "key_file", "batch_max_bytes", "endpoint"] {
        assert!(errs.iter().any(|e| e.contains(f)), "{f} not in {errs:?}");
    }
    let ok: Config = toml::from_str("project = \"p\"\ndataset = \"d\"").unwrap();
    assert!(ok.validate().is_empty());
    assert_eq!(ok.table, "{log_id}");
    assert_eq!(ok.expiration_days, 90);
    assert_eq!(ok.batch_max_rows, 500);
    assert_eq!(ok.base_url(), "https://bigquery.googleapis.com/bigquery/v2");
    assert!(toml::from_str::<Config>("project = \"p\"\ndataset = \"d\"\nbogus = 1").is_err());
    let t: Config = toml::from_str("project = \"p\"\ndataset = \"d\"\ntoken = \"s3cr3t\"").unwrap();
    assert!(!format!("{t:?}").contains("s3cr3t"));
}

fn audit_entry() -> Value {
    json!({
        "insertId": "a1",
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "timestamp": "2025-11-30T12:34:56.789Z",
        "severity": "NOTICE",
        "resource": {"type": "project", "labels": {"project_id": "p"}},
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "status": {},
            "authenticationInfo": {"principalEmail": "admin@example.com"},
            "requestMetadata": {"callerIp": "203.0.113.25", "requestAttributes": {}, "destinationAttributes": {}},
            "serviceName": "cloudresourcemanager.googleapis.com",
            "methodName": "SetIamPolicy",
            "authorizationInfo": [{"resource": "projects/p", "permission": "resourcemanager.projects.setIamPolicy", "granted": true}],
            "resourceName": "projects/p",
            "numResponseItems": "2",
            "serviceAccountDelegationInfo": [{"firstPartyPrincipal": {"principalEmail": "x@example.com"}}],
            "request": {"@type": "type.googleapis.com/google.iam.v1.SetIamPolicyRequest", "resource": "p"},
            "response": {"bindings": [{"role": "roles/editor"}]}
        }
    })
}

/// Cloud Logging "BigQuery schema for logs"
/// (<https://cloud.google.com/logging/docs/export/bigquery>), section on
/// fields with `@type`: payloads with a type go to a column named after
/// it; audit logs to `protopayload_auditlog` with `*Json` text for their
/// Struct fields. The page gives the rule by example
/// (`protopayload_auditlog`, `jsonpayload_type_loadbalancerlogentry`); the
/// "last two components" reading is what public exports show
/// (`jsonpayload_v1beta1_insight`, `jsonpayload_v1_workflowinvocationcompletionlogentry`).
/// Field-name case inside the audit record is kept, as in exported tables
/// (`protopayload_auditlog.authenticationInfo.principalEmail`).
#[test]
fn typed_payloads_go_to_the_columns_cloud_logging_uses() {
    let lb = json!({
        "insertId": "l1",
        "jsonPayload": {
            "@type": "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry",
            "statusDetails": "response_sent_by_backend",
            "backendTargetProjectNumber": "projects/1"
        }
    });
    let insight = json!({"jsonPayload": {"@type": "type.googleapis.com/google.cloud.clouderrorreporting.v1beta1.Insight", "Name": "n"}});
    let untyped = json!({"jsonPayload": {"statusDetails": "x"}});
    let other_proto = json!({"protoPayload": {"@type": "type.googleapis.com/google.appengine.logging.v1.RequestLog", "Method": "GET"}});
    let cases: Vec<(&str, Value, &str, Value)> = vec![
        ("jsonPayload @type: column by type", lb.clone(),
            "/jsonpayload_type_loadbalancerlogentry/statusdetails", json!("response_sent_by_backend")),
        ("jsonPayload @type: payload names are normalized", lb.clone(),
            "/jsonpayload_type_loadbalancerlogentry/backendtargetprojectnumber", json!("projects/1")),
        ("jsonPayload @type: @type itself is not a column", lb.clone(),
            "/jsonpayload_type_loadbalancerlogentry/type", Value::Null),
        ("jsonPayload @type: not in jsonPayload", lb.clone(), "/jsonPayload", Value::Null),
        ("jsonPayload @type: last two components", insight, "/jsonpayload_v1beta1_insight/name", json!("n")),
        ("jsonPayload without @type stays", untyped, "/jsonPayload/statusdetails", json!("x")),
        ("audit log: protopayload_auditlog", audit_entry(),
            "/protopayload_auditlog/methodName", json!("SetIamPolicy")),
        ("audit log: nested case kept", audit_entry(),
            "/protopayload_auditlog/authenticationInfo/principalEmail", json!("admin@example.com")),
        ("audit log: repeated record", audit_entry(),
            "/protopayload_auditlog/authorizationInfo/0/granted", json!(true)),
        ("audit log: int64 as string to INTEGER", audit_entry(),
            "/protopayload_auditlog/numResponseItems", json!(2)),
        ("audit log: new fields keep their case", audit_entry(),
            "/protopayload_auditlog/serviceAccountDelegationInfo/0/firstPartyPrincipal/principalEmail",
            json!("x@example.com")),
        ("audit log: request as JSON text", audit_entry(),
            "/protopayload_auditlog/requestJson",
            json!(r#"{"@type":"type.googleapis.com/google.iam.v1.SetIamPolicyRequest","resource":"p"}"#)),
        ("audit log: response as JSON text", audit_entry(),
            "/protopayload_auditlog/responseJson", json!(r#"{"bindings":[{"role":"roles/editor"}]}"#)),
        ("audit log: empty records hold no columns", audit_entry(),
            "/protopayload_auditlog/requestMetadata/requestAttributes", Value::Null),
        ("audit log: not in protoPayload", audit_entry(), "/protoPayload", Value::Null),
        // Not covered by the page: other protoPayload types are kept as
        // they are (named in the module doc as not implemented).
        ("other protoPayload types stay", other_proto, "/protoPayload/method", json!("GET")),
    ];
    let mut failures = Vec::new();
    for (doc, e, ptr, want) in &cases {
        let mut s = Schema::logging();
        match enc(e, &mut s, true) {
            Ok(row) => {
                let got = row.pointer(ptr).cloned().unwrap_or(Value::Null);
                if &got != want {
                    failures.push(format!("{doc}: {ptr} = {got}, want {want}; row {row}"));
                }
            }
            Err(err) => failures.push(format!("{doc}: {err}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The table schema has the typed columns with their types and case.
    let mut s = Schema::logging();
    enc(&audit_entry(), &mut s, true).unwrap();
    enc(&lb, &mut s, true).unwrap();
    let bq = serde_json::to_value(s.to_bq()).unwrap();
    let fields = bq["fields"].as_array().unwrap();
    let col = |name: &str| fields.iter().find(|f| f["name"] == name).cloned();
    let audit = col("protopayload_auditlog").expect("audit column");
    let sub = |f: &Value, n: &str| {
        f["fields"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == n).cloned())
    };
    assert_eq!(sub(&audit, "requestJson").unwrap()["type"], "STRING");
    assert_eq!(sub(&audit, "numResponseItems").unwrap()["type"], "INTEGER");
    assert_eq!(
        sub(&audit, "authorizationInfo").unwrap()["mode"],
        "REPEATED"
    );
    assert!(sub(&audit, "methodname").is_none());
    assert!(col("jsonpayload_type_loadbalancerlogentry").is_some());
    assert!(col("protoPayload").is_none());

    // An existing table's audit column keeps its case rules when adopted.
    let mut adopted = Schema::from_bq(&s.to_bq());
    let row = enc(&audit_entry(), &mut adopted, false).unwrap();
    assert_eq!(row["protopayload_auditlog"]["methodName"], "SetIamPolicy");
}
