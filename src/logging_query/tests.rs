use proptest::prelude::*;
use serde_json::Value;

use serde_json::json;

use super::{FieldPath, ParseError, Query};

const SINK: &str = r#"resource.type="k8s_container" AND resource.labels.namespace_name="coditect" AND resource.labels.container_name="django" AND severity >= "INFO""#;

fn base() -> Value {
    json!({
        "timestamp": "2025-11-30T12:34:56.789Z",
        "severity": "INFO",
        "logName": "projects/p/logs/stdout",
        "resource": {
            "type": "k8s_container",
            "labels": {
                "namespace_name": "coditect",
                "container_name": "django",
                "pod_name": "license-api-7d8f9c6b4-xk9m2"
            }
        },
        "jsonPayload": {
            "message": "License acquisition request",
            "user_id": "550e8400",
            "status": 503,
            "count": "12",
            "ratio": "0.75",
            "ok": true,
            "tags": ["alpha", "beta"],
            "items": [{"id": 1, "name": "x"}, {"id": 7, "name": "y"}],
            "a.b": "dotted",
            "nothing": null
        },
        "httpRequest": {
            "status": 503,
            "latency": "0.153s",
            "requestMethod": "GET",
            "remoteIp": "10.1.2.3"
        },
        "labels": {"k": "v", "k8s-pod/app": "license-api"}
    })
}

fn entry(name: &str) -> Value {
    let mut e = base();
    match name {
        "base" => {}
        "wrong_ns" => e["resource"]["labels"]["namespace_name"] = json!("kube-system"),
        "debug" => e["severity"] = json!("DEBUG"),
        "error" => e["severity"] = json!("ERROR"),
        "numeric_sev" => e["severity"] = json!(500),
        "no_sev" => {
            e.as_object_mut().map(|m| m.remove("severity"));
        }
        "no_container" => {
            e["resource"]["labels"]
                .as_object_mut()
                .map(|m| m.remove("container_name"));
        }
        "text" => {
            e.as_object_mut().map(|m| m.remove("jsonPayload"));
            e["textPayload"] = json!("Connection reset by peer (ÉCHEC)");
        }
        "empty" => e = json!({}),
        other => panic!("unknown fixture {other}"),
    }
    e
}

#[test]
fn table_of_matches() {
    let cases: &[(&str, &str, bool)] = &[
        // The sink filter this module exists for.
        (SINK, "base", true),
        (SINK, "error", true),
        (SINK, "wrong_ns", false),
        (SINK, "debug", false),
        (SINK, "no_container", false),
        (SINK, "no_sev", false),
        // Equality and inequality on strings.
        (r#"resource.type="k8s_container""#, "base", true),
        (r#"resource.type="gce_instance""#, "base", false),
        (r#"httpRequest.requestMethod = "get""#, "base", true),
        ("httpRequest.requestMethod = GE", "base", false),
        ("httpRequest.requestMethod != POST", "base", true),
        ("httpRequest.requestMethod != get", "base", false),
        (
            "resource.labels.pod_name = license-api-7d8f9c6b4-xk9m2",
            "base",
            true,
        ),
        (r#"httpRequest.latency = "0.153s""#, "base", true),
        // String ordering is case-insensitive and lexicographic.
        (r#"jsonPayload.message > "a""#, "base", true),
        (r#"jsonPayload.message < "M""#, "base", true),
        (r#"jsonPayload.message <= "LICENSE""#, "base", false),
        // Numbers: JSON numbers, numeric strings, quoted numeric literals.
        ("httpRequest.status = 503", "base", true),
        (r#"httpRequest.status = "503""#, "base", true),
        ("httpRequest.status = 503.0", "base", true),
        ("httpRequest.status >= 500", "base", true),
        ("httpRequest.status < 500", "base", false),
        ("httpRequest.status != 503", "base", false),
        ("httpRequest.status > -1", "base", true),
        // `count` is the string "12": the literal is converted to the
        // field's type, string, and "12" < "9" as text (LQL "Values and
        // conversions"; see `google_documented_cases`).
        ("jsonPayload.count > 9", "base", false),
        ("jsonPayload.count > 1", "base", true),
        ("jsonPayload.ratio < 1", "base", true),
        ("jsonPayload.ratio >= 0.75", "base", true),
        ("jsonPayload.ok = true", "base", true),
        ("jsonPayload.ok = FALSE", "base", false),
        // Has: case-insensitive substring, on scalars and whole subtrees.
        ("jsonPayload.message:acquisition", "base", true),
        (r#"jsonPayload.message:"ACQUISITION REQ""#, "base", true),
        ("jsonPayload.message:timeout", "base", false),
        (r#"jsonPayload:"acquisition""#, "base", true),
        ("jsonPayload.status:50", "base", true),
        ("httpRequest.requestMethod : ge", "base", true),
        ("labels.k:V", "base", true),
        (r#"textPayload:"connection RESET""#, "text", true),
        (r#"textPayload:"échec""#, "text", true),
        // Regex: RE2 syntax, case-sensitive, unanchored.
        (r#"jsonPayload.message=~"^License\s+acq""#, "base", true),
        (r#"jsonPayload.message=~"^license""#, "base", false),
        (r#"jsonPayload.message=~"acq""#, "base", true),
        (r#"jsonPayload.message=~"(?i)^license""#, "base", true),
        (r#"jsonPayload.message!~"timeout""#, "base", true),
        (r#"jsonPayload.message!~"License""#, "base", false),
        (r#"httpRequest.status=~"^5\d\d$""#, "base", true),
        (r#"jsonPayload.missing=~".*""#, "base", false),
        // Arrays: any element.
        (r#"jsonPayload.tags = "beta""#, "base", true),
        (r#"jsonPayload.tags = "gamma""#, "base", false),
        (r#"jsonPayload.tags != "beta""#, "base", false),
        (r#"jsonPayload.tags != "gamma""#, "base", true),
        ("jsonPayload.items.id = 7", "base", true),
        ("jsonPayload.items.id > 7", "base", false),
        (r#"jsonPayload.items.name = "z""#, "base", false),
        // Missing fields: every comparison is false; NOT flips it; `:*`
        // tests presence; JSON null counts as missing.
        (r#"jsonPayload.missing = "x""#, "base", false),
        (r#"jsonPayload.missing != "x""#, "base", false),
        (r#"NOT jsonPayload.missing = "x""#, "base", true),
        ("jsonPayload.missing:*", "base", false),
        ("-jsonPayload.missing:*", "base", true),
        ("jsonPayload.user_id:*", "base", true),
        ("NOT jsonPayload.user_id:*", "base", false),
        ("jsonPayload.nothing:*", "base", false),
        ("jsonPayload:*", "text", false),
        ("textPayload:*", "text", true),
        // Quoted path segments.
        (r#"jsonPayload."a.b" = "dotted""#, "base", true),
        (r#"jsonPayload.a.b = "dotted""#, "base", false),
        (r#"labels."k8s-pod/app" = "license-api""#, "base", true),
        // Severity ordering, both directions, names and numbers.
        ("severity >= INFO", "base", true),
        ("severity > INFO", "base", false),
        ("severity < WARNING", "base", true),
        ("severity <= debug", "base", false),
        ("severity = 200", "base", true),
        ("severity != INFO", "base", false),
        ("severity != INFO", "error", true),
        ("severity >= ERROR", "error", true),
        (r#"severity < "ERROR""#, "error", false),
        ("severity > NOTICE", "numeric_sev", true),
        ("severity <= warning", "numeric_sev", false),
        ("severity = DEFAULT", "no_sev", true),
        ("severity >= DEBUG", "no_sev", false),
        ("severity < EMERGENCY", "debug", true),
        ("severity > EMERGENCY", "error", false),
        // Timestamps as instants, across offsets and precisions.
        (r#"timestamp >= "2025-11-30T00:00:00Z""#, "base", true),
        (r#"timestamp < "2025-11-30T12:34:56.789Z""#, "base", false),
        (r#"timestamp <= "2025-11-30T12:34:56.789Z""#, "base", true),
        (r#"timestamp > "2025-11-30T13:00:00+02:00""#, "base", true),
        (
            r#"timestamp = "2025-11-30T14:34:56.789000+02:00""#,
            "base",
            true,
        ),
        (r#"timestamp < "2025-11-30""#, "base", false),
        (r#"timestamp > "2025-12-01T00:00:00""#, "base", false),
        (r#"timestamp >= "2025-11-30T00:00:00Z""#, "empty", false),
        // Global restrictions search every value, case-insensitively.
        (r#""License" AND severity>=ERROR"#, "base", false),
        (r#""License" AND severity>=ERROR"#, "error", true),
        ("timeout", "base", false),
        ("license", "base", true),
        ("xk9m2", "base", true),
        ("503", "base", true),
        (r#""reset by""#, "text", true),
        // Lower-case `or` is a search term, not the operator.
        ("timeout or license", "base", false),
        // Boolean operators, `-`, implicit AND.
        ("NOT severity=INFO", "base", false),
        ("-severity=INFO", "base", false),
        ("NOT NOT severity=INFO", "base", true),
        (
            r#"resource.type="k8s_container" severity>=ERROR"#,
            "base",
            false,
        ),
        (
            r#"resource.type="k8s_container" severity>=ERROR"#,
            "error",
            true,
        ),
        ("license -timeout", "base", true),
        ("license -django", "base", false),
        // Rule from Google's Boolean-operators section (paraphrased): NOT
        // binds tightest, then OR, then AND, so `a OR b AND c` is
        // `(a OR b) AND c`.
        // With a=true, c=false this is false (C-style precedence gives true).
        (
            r#"severity=INFO OR resource.type="gce_instance" AND httpRequest.status=404"#,
            "base",
            false,
        ),
        (
            r#"severity=INFO OR (resource.type="gce_instance" AND httpRequest.status=404)"#,
            "base",
            true,
        ),
        (
            r#"(severity=INFO OR resource.type="gce_instance") AND httpRequest.status=503"#,
            "base",
            true,
        ),
        // Implicit AND ranks like AND, so the same rule holds without it.
        ("license OR timeout nothere", "base", false),
        // Value groups distribute the comparison over the values.
        (
            r#"resource.type = ("gce_instance" OR "k8s_container")"#,
            "base",
            true,
        ),
        (
            r#"resource.labels.container_name = ("nginx" OR "redis")"#,
            "base",
            false,
        ),
        (
            r#"jsonPayload.message:("license" AND "request")"#,
            "base",
            true,
        ),
        (r#"jsonPayload.message:("license" "nope")"#, "base", false),
        (r#"severity = (DEBUG OR INFO)"#, "base", true),
        (r#"severity = (DEBUG OR INFO)"#, "error", false),
        (r#"httpRequest.status = (NOT 404)"#, "base", true),
        // Comments.
        (
            "severity=INFO -- only info\n AND resource.type=\"k8s_container\"",
            "base",
            true,
        ),
        ("-- nothing but a comment", "base", true),
        // Functions.
        (r#"log_id("stdout")"#, "base", true),
        (r#"log_id("stderr")"#, "base", false),
        (
            r#"ip_in_net(httpRequest.remoteIp, "10.0.0.0/8")"#,
            "base",
            true,
        ),
        (
            r#"ip_in_net(httpRequest.remoteIp, "192.168.0.0/16")"#,
            "base",
            false,
        ),
        // Empty filter matches everything.
        ("", "base", true),
        ("   ", "empty", true),
    ];
    assert!(cases.len() >= 50);
    let mut failures = Vec::new();
    for (expr, fixture, want) in cases {
        let q = Query::parse(expr).unwrap_or_else(|e| panic!("parse {expr:?}: {e}"));
        let got = q.matches(&entry(fixture));
        if got != *want {
            failures.push(format!("{expr:?} on {fixture}: got {got}, want {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn table_of_errors() {
    let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
    let cases: &[(&str, usize)] = &[
        ("severity =", 11),
        ("= 5", 1),
        ("(severity=INFO", 15),
        ("severity=INFO)", 14),
        ("a AND", 6),
        ("a OR OR b", 6),
        ("NOT", 4),
        (r#"jsonPayload.x =~ "(unclosed""#, 18),
        (r#"x = "unterminated"#, 5),
        ("severity >= BOGUS", 13),
        (r#"timestamp > "yesterday""#, 13),
        ("a ! b", 3),
        ("labels..x = 1", 8),
        ("labels. = 1", 8),
        (r#"labels."a"b = 1"#, 11),
        ("sample(insertId, 1.5)", 18),
        ("foo(bar)", 1),
        ("a = b = c", 7),
        ("x = )", 5),
        ("()", 2),
        (r#"ip_in_net(x, "nope")"#, 14),
        (r#"log_id("a", "b")"#, 1),
        (r#"log_id("a" "b")"#, 12),
        (r#"x = "\u12""#, 6),
        ("résumé = (", 11),
        ("a AND -", 8),
        (r#"x = ("a" OR)"#, 12),
        (&deep, 65),
    ];
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for (expr, col) in cases {
        match Query::parse(expr) {
            Ok(_) => failures.push(format!("{expr:?}: parsed, want error at column {col}")),
            Err(e) if e.column != *col => {
                failures.push(format!("{expr:?}: {e}, want column {col}"))
            }
            Err(e) => assert!(!e.message.is_empty()),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_display_names_what_was_expected() {
    let e = Query::parse("resource.type = ").unwrap_err();
    assert_eq!(e.column, 17);
    assert_eq!(
        e.to_string(),
        "column 17: expected a value after `=`, found end of query"
    );
    let e = Query::parse("a AND )").unwrap_err();
    assert!(e.to_string().contains("after `AND`"), "{e}");
}

#[test]
fn doc_precedence_example_is_equivalent() {
    // Google's own example: `"a" OR NOT "b" AND NOT "c" OR "d"` is
    // `("a" OR (NOT "b")) AND ((NOT "c") OR "d")`.
    let implicit = Query::parse(r#""a" OR NOT "b" AND NOT "c" OR "d""#).unwrap();
    let explicit = Query::parse(r#"("a" OR (NOT "b")) AND ((NOT "c") OR "d")"#).unwrap();
    let c_style = Query::parse(r#""a" OR ((NOT "b") AND (NOT "c")) OR "d""#).unwrap();
    let mut differs_from_c = false;
    for bits in 0..16u8 {
        let words: Vec<&str> = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, w)| *w)
            .collect();
        let e = json!({ "words": words });
        assert_eq!(implicit.matches(&e), explicit.matches(&e), "{words:?}");
        differs_from_c |= implicit.matches(&e) != c_style.matches(&e);
    }
    assert!(differs_from_c);
}

#[test]
fn field_path_parse_and_lookup() {
    let e = base();
    let p = FieldPath::parse("httpRequest.status").unwrap();
    assert_eq!(p.segments(), ["httpRequest", "status"]);
    assert_eq!(p.lookup(&e), Some(&json!(503)));
    let p = FieldPath::parse(r#"jsonPayload."a.b""#).unwrap();
    assert_eq!(p.segments(), ["jsonPayload", "a.b"]);
    assert_eq!(p.lookup(&e), Some(&json!("dotted")));
    let p = FieldPath::parse(r#"labels."k8s-pod/app""#).unwrap();
    assert_eq!(p.lookup(&e), Some(&json!("license-api")));
    assert_eq!(p.to_string(), r#"labels."k8s-pod/app""#);
    // Arrays on the way: first element that has the rest of the path.
    let p = FieldPath::parse("jsonPayload.items.name").unwrap();
    assert_eq!(p.lookup(&e), Some(&json!("x")));
    assert_eq!(
        FieldPath::parse("jsonPayload.nothing").unwrap().lookup(&e),
        None
    );
    assert_eq!(FieldPath::parse("nope.x").unwrap().lookup(&e), None);
    for bad in ["", "a..b", "a.", ".a", "a b", "a = 1", "(a)"] {
        let err: ParseError = FieldPath::parse(bad).unwrap_err();
        assert!(err.column >= 1, "{bad:?}");
    }
}

#[test]
fn query_traits_and_source() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    assert_traits::<Query>();
    assert_traits::<FieldPath>();
    assert_traits::<ParseError>();
    let q: Query = SINK.parse().unwrap();
    assert_eq!(q.source(), SINK);
    assert_eq!(q.to_string(), SINK);
    assert!(!q.is_match_all());
    assert!(Query::parse(" -- c").unwrap().is_match_all());
    let q2 = q.clone();
    assert!(q2.matches(&base()));
    assert!(!format!("{q:?}").is_empty());
}

#[test]
fn non_object_entries_do_not_panic() {
    let q = Query::parse(SINK).unwrap();
    for v in [
        json!(null),
        json!(1),
        json!("INFO"),
        json!([1, 2]),
        json!({}),
    ] {
        assert!(!q.matches(&v));
    }
    assert!(Query::parse("x").unwrap().matches(&json!("xyz")));
}

const SOUP: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "-",
    "(",
    ")",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    ":",
    "=~",
    "!~",
    "!",
    "*",
    ",",
    "\"",
    "\"x\"",
    "\"a.b\"",
    "\\",
    "--",
    "\n",
    "severity",
    "INFO",
    "timestamp",
    "\"2025-11-30T00:00:00Z\"",
    "jsonPayload.x",
    "a.",
    ".",
    "..",
    "-1",
    "1e9",
    "é",
    "\"(\"",
    "log_id",
    "ip_in_net",
    "sample",
    "SEARCH",
    "cast",
    "regexp_extract",
    "source",
    "TIMEZONE",
    "NULL_VALUE",
    "`",
    "httpRequest.latency",
    "\"1s\"",
    "\"\\u00e9\"",
    "\"[\"",
    "x",
    "503",
    "labels.\"k\"",
];

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_strings(s in "\\PC{0,80}") {
        if let Ok(q) = Query::parse(&s) {
            let _ = q.matches(&base());
        }
    }

    #[test]
    fn parse_never_panics_on_token_soup(
        parts in proptest::collection::vec((0..SOUP.len(), any::<bool>()), 0..24)
    ) {
        let mut s = String::new();
        for (i, space) in parts {
            s.push_str(SOUP[i]);
            if space {
                s.push(' ');
            }
        }
        match Query::parse(&s) {
            Ok(q) => {
                let _ = q.matches(&base());
                let _ = q.matches(&entry("text"));
            }
            Err(e) => prop_assert!(e.column >= 1 && e.column <= s.chars().count() + 1),
        }
        let _ = FieldPath::parse(&s);
    }
}

/// Cases built from Google's documentation, one per rule, each naming the
/// page and section it comes from. LQL is the "Logging query language"
/// page, <https://cloud.google.com/logging/docs/view/logging-query-language>;
/// LogEntry is the REST reference of that type,
/// <https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry>.
#[test]
fn google_documented_cases() {
    let ts = json!({"timestamp": "2025-11-30T12:34:56.789Z", "logName": "projects/p/logs/stdout"});
    let http = |h: Value| json!({"httpRequest": h});
    let jp = |p: Value| json!({"jsonPayload": p});
    let text = json!({
        "textPayload": "Hello, World: request took 42 ms",
        "insertId": "abc",
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "httpRequest": {"remoteIp": "10.1.2.3"}
    });
    let cases: Vec<(&str, &str, Value, bool)> = vec![
        // LQL "Comparisons" / LogEntry: `trace`, `spanId`, `httpRequest.*`
        // and `operation.*` are proto3 scalars, so an entry without them
        // compares as if they held their default ("", 0, false).
        (
            "LQL Comparisons: defaulted string",
            r#"trace != "x""#,
            json!({}),
            true,
        ),
        (
            "LQL Comparisons: defaulted string",
            r#"trace = """#,
            json!({}),
            true,
        ),
        (
            "LQL Comparisons: defaulted string",
            r#"spanId = "x""#,
            json!({}),
            false,
        ),
        (
            "LQL Comparisons: defaulted int, no httpRequest",
            "httpRequest.status < 300",
            json!({}),
            true,
        ),
        (
            "LQL Comparisons: defaulted int",
            "httpRequest.status = 0",
            http(json!({})),
            true,
        ),
        (
            "LQL Comparisons: defaulted int",
            "httpRequest.status >= 300",
            json!({}),
            false,
        ),
        (
            "LQL Comparisons: defaulted bool",
            "operation.first = false",
            json!({}),
            true,
        ),
        (
            "LQL Comparisons: defaulted string",
            r#"operation.id != "op-1""#,
            json!({}),
            true,
        ),
        (
            "LQL Comparisons: defaulted enum",
            "severity = DEFAULT",
            json!({}),
            true,
        ),
        // `:*` asks whether the field is set, which a default is not (the
        // doc is silent on `:*` for defaulted fields; proto3 presence).
        (
            "LQL Comparisons: presence of a defaulted field",
            "trace:*",
            json!({}),
            false,
        ),
        // Payload fields, map entries and the payload oneof keep the
        // missing-field rule: no comparison matches.
        (
            "LQL Comparisons: payload keeps the missing rule",
            r#"jsonPayload.x != "a""#,
            jp(json!({})),
            false,
        ),
        (
            "LQL Comparisons: payload keeps the missing rule",
            r#"NOT jsonPayload.x = "a""#,
            jp(json!({})),
            true,
        ),
        (
            "LogEntry: textPayload is in the payload oneof",
            r#"textPayload != "x""#,
            json!({}),
            false,
        ),
        (
            "LogEntry: labels is a map",
            r#"labels.app != "x""#,
            json!({}),
            false,
        ),
        (
            "LogEntry: resource.labels is a map",
            r#"resource.labels.pod != "x""#,
            json!({}),
            false,
        ),
        // LQL "Values and conversions": the value is converted to the
        // type of the field; strings compare as strings.
        (
            "LQL Values and conversions: string field",
            r#"jsonPayload.a > "100""#,
            jp(json!({"a": "50"})),
            true,
        ),
        (
            "LQL Values and conversions: string field",
            r#"jsonPayload.a < "9""#,
            jp(json!({"a": "10"})),
            true,
        ),
        (
            "LQL Values and conversions: string field, numeric literal",
            "jsonPayload.a > 9",
            jp(json!({"a": "12"})),
            false,
        ),
        (
            "LQL Values and conversions: numeric field",
            "jsonPayload.n > 9",
            jp(json!({"n": 12})),
            true,
        ),
        (
            "LQL Values and conversions: LogEntry string field",
            "trace > 100",
            json!({"trace": "50"}),
            true,
        ),
        (
            "LQL Values and conversions: numeric LogEntry field",
            r#"httpRequest.status = "503""#,
            http(json!({"status": 503})),
            true,
        ),
        (
            "LogEntry/HttpRequest: int64 as a JSON string",
            "httpRequest.responseSize > 1000",
            http(json!({"responseSize": "2048"})),
            true,
        ),
        (
            "LogEntry/HttpRequest: boolean field",
            "httpRequest.cacheHit = true",
            http(json!({"cacheHit": true})),
            true,
        ),
        (
            "LogEntry/HttpRequest: boolean field, defaulted",
            "httpRequest.cacheHit = FALSE",
            json!({}),
            true,
        ),
        // LQL "Values and conversions": NULL_VALUE is a JSON null.
        (
            "LQL NULL_VALUE",
            "jsonPayload.x = NULL_VALUE",
            jp(json!({"x": null})),
            true,
        ),
        (
            "LQL NULL_VALUE",
            "jsonPayload.x = NULL_VALUE",
            jp(json!({"x": 1})),
            false,
        ),
        (
            "LQL NULL_VALUE",
            "jsonPayload.x = NULL_VALUE",
            jp(json!({})),
            false,
        ),
        (
            "LQL NULL_VALUE",
            "jsonPayload.x != NULL_VALUE",
            jp(json!({"x": 1})),
            true,
        ),
        (
            "LQL NULL_VALUE",
            "jsonPayload.x != NULL_VALUE",
            jp(json!({"x": null})),
            false,
        ),
        (
            "LQL NULL_VALUE",
            "NOT jsonPayload.x = NULL_VALUE",
            jp(json!({})),
            true,
        ),
        // LQL "Values and conversions": Duration fields compare by length.
        // The doc shows "1.5s"-style values; the other units are Go/proto
        // duration spellings, which the doc neither lists nor refuses.
        (
            "LQL Values and conversions: duration",
            r#"httpRequest.latency > "999ms""#,
            http(json!({"latency": "1s"})),
            true,
        ),
        (
            "LQL Values and conversions: duration",
            r#"httpRequest.latency >= "150ms""#,
            http(json!({"latency": "0.153s"})),
            true,
        ),
        (
            "LQL Values and conversions: duration",
            r#"httpRequest.latency < "1s""#,
            http(json!({"latency": "1.5s"})),
            false,
        ),
        (
            "LQL Values and conversions: duration",
            r#"httpRequest.latency = "1s""#,
            http(json!({"latency": "1.000s"})),
            true,
        ),
        // Duration is a message type (proto3 presence): absent is missing.
        (
            "LogEntry/HttpRequest: latency is a Duration message",
            r#"httpRequest.latency < "1s""#,
            json!({}),
            false,
        ),
        // LQL "Functions" (SEARCH): tokens, case-insensitive, all terms,
        // backquotes for an exact phrase; with or without a field. The doc
        // does not list which fields a field-less SEARCH covers: here it is
        // every value of the entry, like a global restriction.
        (
            "LQL SEARCH: token",
            r#"SEARCH("hello")"#,
            text.clone(),
            true,
        ),
        (
            "LQL SEARCH: whole tokens only",
            r#"SEARCH("hell")"#,
            text.clone(),
            false,
        ),
        (
            "LQL SEARCH: every term, any order",
            r#"SEARCH("world hello")"#,
            text.clone(),
            true,
        ),
        (
            "LQL SEARCH: every term must be found",
            r#"SEARCH("hello mars")"#,
            text.clone(),
            false,
        ),
        (
            "LQL SEARCH: backquoted phrase in order",
            r#"SEARCH("`hello world`")"#,
            text.clone(),
            true,
        ),
        (
            "LQL SEARCH: backquoted phrase out of order",
            r#"SEARCH("`world hello`")"#,
            text.clone(),
            false,
        ),
        (
            "LQL SEARCH: with a field",
            r#"SEARCH(textPayload, "WORLD")"#,
            text.clone(),
            true,
        ),
        (
            "LQL SEARCH: with another field",
            r#"SEARCH(jsonPayload, "world")"#,
            text.clone(),
            false,
        ),
        (
            "LQL SEARCH: numbers are tokens",
            r#"SEARCH("42")"#,
            text.clone(),
            true,
        ),
        (
            "LQL: function names are case-insensitive",
            r#"search("hello")"#,
            text.clone(),
            true,
        ),
        // LQL "Functions" (sample): a fraction of entries by a field's
        // hash; 0 and 1 are the edges (the hash itself is undocumented).
        (
            "LQL sample: fraction 1",
            "sample(insertId, 1)",
            text.clone(),
            true,
        ),
        (
            "LQL sample: fraction 0",
            "sample(insertId, 0)",
            text.clone(),
            false,
        ),
        (
            "LQL sample: missing field",
            "sample(trace, 1)",
            text.clone(),
            false,
        ),
        // LQL "Functions" (cast, TIMEZONE): the field as a string, a
        // timestamp in the given zone. The doc does not print the string
        // form; RFC 3339 with the zone's offset is what sluice writes.
        (
            "LQL cast with TIMEZONE",
            r#"cast(timestamp, STRING, TIMEZONE("-05:00")) =~ "^2025-11-30T07:34:56\.789-05:00$""#,
            ts.clone(),
            true,
        ),
        (
            "LQL cast with TIMEZONE",
            r#"CAST(timestamp, STRING, timezone("+09:30")) =~ "^2025-11-30T22:04""#,
            ts.clone(),
            true,
        ),
        // The doc's own zone example is an IANA name; the offset follows
        // summer time.
        (
            "LQL cast with an IANA TIMEZONE",
            r#"cast(timestamp, STRING, TIMEZONE("America/New_York")) =~ "^2025-11-30T07:34:56\.789-05:00$""#,
            ts.clone(),
            true,
        ),
        (
            "LQL cast with an IANA TIMEZONE, summer time",
            r#"cast(timestamp, STRING, TIMEZONE("Europe/Paris")) = "2025-07-01T02:00:00+02:00""#,
            json!({"timestamp": "2025-07-01T00:00:00Z"}),
            true,
        ),
        (
            "LQL cast",
            r#"cast(timestamp, STRING) =~ "^2025-11-30T12""#,
            ts.clone(),
            true,
        ),
        (
            "LQL cast: a number as text",
            r#"cast(httpRequest.status, STRING) = "503""#,
            http(json!({"status": 503})),
            true,
        ),
        // Issue 22 (12): cast to INT64, FLOAT64 and BOOL, as the reference
        // lists them; a value that does not convert does not match.
        (
            "LQL cast to INT64: a numeric string",
            "cast(jsonPayload.build, INT64) > 9",
            jp(json!({"build": "10"})),
            true,
        ),
        (
            "LQL cast to INT64: compared as a number, not as text",
            "cast(jsonPayload.build, INT64) > 9",
            jp(json!({"build": "8"})),
            false,
        ),
        (
            "LQL cast to INT64: not an integer",
            "cast(jsonPayload.build, INT64) > 9",
            jp(json!({"build": "10.5"})),
            false,
        ),
        (
            "LQL cast to INT64: a float rounds",
            "cast(jsonPayload.ratio, INT64) = 3",
            jp(json!({"ratio": 2.5})),
            true,
        ),
        (
            "LQL cast to FLOAT64",
            "cast(jsonPayload.ratio, FLOAT64) >= 0.25",
            jp(json!({"ratio": "0.3"})),
            true,
        ),
        (
            "LQL cast to BOOL",
            "cast(jsonPayload.enabled, BOOL) = true",
            jp(json!({"enabled": "TRUE"})),
            true,
        ),
        (
            "LQL cast to BOOL: not a boolean",
            "cast(jsonPayload.enabled, BOOL) = false",
            jp(json!({"enabled": "no"})),
            false,
        ),
        // LQL "Functions" (regexp_extract): the capture group's text.
        (
            "LQL regexp_extract",
            r#"regexp_extract(textPayload, "took (\d+) ms") = "42""#,
            text.clone(),
            true,
        ),
        (
            "LQL regexp_extract",
            r#"REGEXP_EXTRACT(textPayload, "took (\d+) ms") = "41""#,
            text.clone(),
            false,
        ),
        (
            "LQL regexp_extract: no match",
            r#"regexp_extract(textPayload, "took (\d+) s") = "42""#,
            text.clone(),
            false,
        ),
        (
            "LQL regexp_extract: no group, whole match",
            r#"regexp_extract(textPayload, "\d+ ms"):"42""#,
            text.clone(),
            true,
        ),
        // LQL "Functions" (source): entries of a resource. Only logName is
        // known here, so folders/organizations match only their own logs.
        ("LQL source", "source(projects/p)", text.clone(), true),
        ("LQL source", "source(projects/q)", text.clone(), false),
        // LQL "Functions" (log_id, ip_in_net), names in any case.
        (
            "LQL log_id",
            r#"LOG_ID("cloudaudit.googleapis.com/activity")"#,
            text.clone(),
            true,
        ),
        (
            "LQL ip_in_net",
            r#"IP_IN_NET(httpRequest.remoteIp, "10.0.0.0/8")"#,
            text.clone(),
            true,
        ),
    ];
    let mut failures = Vec::new();
    for (doc, expr, e, want) in &cases {
        let q = Query::parse(expr).unwrap_or_else(|err| panic!("{doc}: parse {expr:?}: {err}"));
        let got = q.matches(e);
        if got != *want {
            failures.push(format!("{doc}: {expr:?} on {e}: got {got}, want {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// LQL "Field path identifiers": a path that is not a LogEntry field (or
/// goes below a scalar) is an error before the query runs, located at the
/// offending segment. Also values that do not convert to the field's type.
#[test]
fn undefined_fields_and_bad_values_are_refused_with_their_column() {
    // (expression, the text the error column points at)
    let cases: &[(&str, &str)] = &[
        (r#"operation.thud = "x""#, "thud"),
        (r#"textPayload.thud = "x""#, "thud"),
        ("thud = 1", "thud"),
        (r#"severity=INFO AND httprequest.status = 1"#, "httprequest"),
        ("httpRequest.status = abc", "abc"),
        (r#"httpRequest.latency > "soon""#, "\"soon"),
        ("httpRequest.cacheHit = maybe", "maybe"),
        ("jsonPayload.x > NULL_VALUE", "NULL_VALUE"),
        ("cast(timestamp, DATE) = 1", "DATE"),
        (
            r#"cast(jsonPayload.build, INT64, TIMEZONE("UTC")) = 1"#,
            "TIMEZONE",
        ),
        (
            r#"cast(timestamp, STRING, TIMEZONE("Mars/Olympus")) = "x""#,
            "\"Mars",
        ),
        (
            r#"cast(httpRequest.status, STRING, TIMEZONE("UTC")) = "x""#,
            "TIMEZONE",
        ),
        (r#"regexp_extract(textPayload, "(a)(b)") = "x""#, "\"(a)"),
        (r#"regexp_extract(textPayload, "(a)")"#, ""),
        ("sample(insertId, 2)", "2"),
        ("source(buckets/x)", "buckets"),
        (r#"SEARCH("  ")"#, "\"  \""),
        (r#"SEARCH(operation.thud, "x")"#, "thud"),
        (r#"ip_in_net(httpRequest.nope, "10.0.0.0/8")"#, "nope"),
    ];
    let mut failures = Vec::new();
    for (expr, at) in cases {
        let want = if at.is_empty() {
            expr.chars().count() + 1
        } else {
            expr.find(at).expect("marker in expression") + 1
        };
        match Query::parse(expr) {
            Ok(_) => failures.push(format!("{expr:?}: parsed, want error at column {want}")),
            Err(e) if e.column != want => {
                failures.push(format!("{expr:?}: {e}, want column {want}"))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let e = Query::parse(r#"operation.thud = "x""#).unwrap_err();
    assert_eq!(e.to_string(), "column 11: `operation` has no field `thud`");
    let e = Query::parse("httprequest.status = 1").unwrap_err();
    assert!(e.message.contains("did you mean `httpRequest`"), "{e}");
}

/// LQL "Functions" (sample): about `fraction` of distinct values pass, and
/// the same value always gets the same answer.
#[test]
fn sample_keeps_about_the_fraction_and_is_stable() {
    let q = Query::parse("sample(insertId, 0.25)").unwrap();
    let n = 20_000;
    let kept = (0..n)
        .filter(|i| q.matches(&json!({"insertId": format!("id-{i}")})))
        .count();
    assert!((4_400..=5_600).contains(&kept), "kept {kept} of {n}");
    let e = json!({"insertId": "id-7"});
    let first = q.matches(&e);
    assert!((0..10).all(|_| q.matches(&e) == first));
}
