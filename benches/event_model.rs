//! Event-representation candidates for the hot path, measured on one job:
//! parse a LogEntry line, read the fields the gke-node route filter reads
//! (`severity`, `resource.type`, `resource.labels.namespace_name`,
//! `resource.labels.container_name`), rewrite the two fields redaction
//! changes on these logs (`jsonPayload.ip_address`, `httpRequest.remoteIp`)
//! and serialize the entry again as an NDJSON line.
//!
//! ```text
//! cargo bench --bench event_model -- [--mib 32]
//! ```
//! Input: the generator's license-API lines (benches/support/gen.rs),
//! shaped into LogEntries by `event::log_entry::shape` and written as
//! NDJSON: what flows between stages and what the archive holds.
//!
//! Candidates (none is adopted here; ARCHITECTURE.md has the figures; the
//! two `serde_json::Value` variants show what keeping the tree and changing
//! only the parser or the writer would gain):
//! - `serde_json::Value`: today's representation;
//! - `sonic_rs::Value`: an owned tree from a SIMD parser;
//! - `sonic_rs::get_many` (lazy): one pass that finds the fields without
//!   building a tree; the output copies the line and splices the rewrites;
//! - `simd_json` owned and borrowed values (in-place parse of a copy);
//! - `serde_json` borrowed structs: only the fields read are deserialized,
//!   the rest is skipped; output is the raw line spliced (the `RawValue`
//!   idea, see `serde_borrowed`).
//!
//! Every candidate's output is checked against serde_json's (same value
//! after parsing, same filter decision) before anything is timed. Time is
//! the thread's CPU clock, best of 3 rounds.

#[path = "support/gen.rs"]
mod gen;

use std::borrow::Cow;
use std::path::Path;

use serde::Deserialize;
use sluice::decode::k8s;
use sluice::event::log_entry::{self, Line};
use sluice::node::NodeInfo;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MASK: &str = "[REDACTED:ip]";

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The route's predicate on the four fields it reads.
fn keep(
    severity: Option<&str>,
    kind: Option<&str>,
    ns: Option<&str>,
    container: Option<&str>,
) -> bool {
    let rank = match severity.unwrap_or("DEFAULT") {
        "DEBUG" => 100,
        "INFO" => 200,
        "NOTICE" => 300,
        "WARNING" => 400,
        "ERROR" => 500,
        "CRITICAL" => 600,
        "ALERT" => 700,
        "EMERGENCY" => 800,
        _ => 0,
    };
    kind == Some("k8s_container")
        && ns == Some("coditect")
        && container == Some("django")
        && rank >= 200
}

/// Copies `line` to `out` with each `(start, end)` byte span (a JSON value)
/// replaced by the mask string; spans are sorted and disjoint.
fn splice(line: &[u8], spans: &mut [(usize, usize)], out: &mut Vec<u8>) {
    spans.sort_unstable();
    let mut at = 0;
    for &(s, e) in spans.iter() {
        out.extend_from_slice(&line[at..s]);
        out.push(b'"');
        out.extend_from_slice(MASK.as_bytes());
        out.push(b'"');
        at = e;
    }
    out.extend_from_slice(&line[at..]);
    out.push(b'\n');
}

/// Byte span of `part` (a sub-slice of `whole`) inside `whole`.
fn span_of(whole: &[u8], part: &[u8]) -> (usize, usize) {
    let s = part.as_ptr() as usize - whole.as_ptr() as usize;
    assert!(s + part.len() <= whole.len(), "a sub-slice of the line");
    (s, s + part.len())
}

// --- serde_json::Value (today) ---------------------------------------------

/// The filter reads and the two rewrites, on a `serde_json::Value`.
fn serde_job(v: &mut serde_json::Value) -> bool {
    let r = &v["resource"];
    let k = keep(
        v.get("severity").and_then(|x| x.as_str()),
        r.get("type").and_then(|x| x.as_str()),
        r["labels"].get("namespace_name").and_then(|x| x.as_str()),
        r["labels"].get("container_name").and_then(|x| x.as_str()),
    );
    for (a, b) in [("jsonPayload", "ip_address"), ("httpRequest", "remoteIp")] {
        if let Some(x) = v.get_mut(a).and_then(|o| o.get_mut(b)) {
            *x = serde_json::Value::String(MASK.into());
        }
    }
    k
}

fn serde_value(line: &[u8], out: &mut Vec<u8>) -> bool {
    let mut v: serde_json::Value = serde_json::from_slice(line).expect("JSON");
    let k = serde_job(&mut v);
    serde_json::to_writer(&mut *out, &v).expect("serialize");
    out.push(b'\n');
    k
}

// --- serde_json::Value parsed by sonic-rs, written by json_out -------------

/// The same tree as today, only the parser and the writer changed: what a
/// change that keeps `serde_json::Value` as the event could still gain.
fn serde_value_sonic_parse(line: &[u8], out: &mut Vec<u8>) -> bool {
    let mut v: serde_json::Value = sonic_rs::from_slice(line).expect("JSON");
    let k = serde_job(&mut v);
    sluice::event::json_out::write_value(out, &v);
    out.push(b'\n');
    k
}

/// Today's parser with the project's JSON writer.
fn serde_value_json_out(line: &[u8], out: &mut Vec<u8>) -> bool {
    let mut v: serde_json::Value = serde_json::from_slice(line).expect("JSON");
    let k = serde_job(&mut v);
    sluice::event::json_out::write_value(out, &v);
    out.push(b'\n');
    k
}

// --- sonic_rs::Value -------------------------------------------------------

fn sonic_value(line: &[u8], out: &mut Vec<u8>) -> bool {
    use sonic_rs::{JsonValueMutTrait, JsonValueTrait};
    let mut v: sonic_rs::Value = sonic_rs::from_slice(line).expect("JSON");
    let k = {
        let r = v.get("resource");
        let l = r.and_then(|r| r.get("labels"));
        keep(
            v.get("severity").and_then(|x| x.as_str()),
            r.and_then(|r| r.get("type")).and_then(|x| x.as_str()),
            l.and_then(|l| l.get("namespace_name"))
                .and_then(|x| x.as_str()),
            l.and_then(|l| l.get("container_name"))
                .and_then(|x| x.as_str()),
        )
    };
    for (a, b) in [("jsonPayload", "ip_address"), ("httpRequest", "remoteIp")] {
        if let Some(x) = v.get_mut(a).and_then(|o| o.get_mut(b)) {
            *x = sonic_rs::Value::from(MASK);
        }
    }
    sonic_rs::to_writer(&mut *out, &v).expect("serialize");
    out.push(b'\n');
    k
}

// --- sonic_rs::get_many (lazy) + splice -----------------------------------

fn sonic_tree() -> sonic_rs::PointerTree {
    let mut t = sonic_rs::PointerTree::new();
    t.add_path(["severity"]);
    t.add_path(["resource", "type"]);
    t.add_path(["resource", "labels", "namespace_name"]);
    t.add_path(["resource", "labels", "container_name"]);
    t.add_path(["jsonPayload", "ip_address"]);
    t.add_path(["httpRequest", "remoteIp"]);
    t
}

fn sonic_lazy(tree: &sonic_rs::PointerTree, line: &[u8], out: &mut Vec<u8>) -> bool {
    use sonic_rs::JsonValueTrait;
    let got = sonic_rs::get_many(line, tree).expect("JSON");
    let s = |i: usize| got[i].as_ref().and_then(|v| v.as_str());
    let k = keep(s(0), s(1), s(2), s(3));
    let mut spans = [(0, 0); 2];
    let mut n = 0;
    for v in got[4..].iter().flatten() {
        spans[n] = span_of(line, v.as_raw_str().as_bytes());
        n += 1;
    }
    splice(line, &mut spans[..n], out);
    k
}

// --- simd_json owned / borrowed -------------------------------------------

fn simd_owned(line: &[u8], scratch: &mut Vec<u8>, out: &mut Vec<u8>) -> bool {
    use simd_json::prelude::*;
    scratch.clear();
    scratch.extend_from_slice(line);
    let mut v = simd_json::to_owned_value(scratch).expect("JSON");
    let k = {
        let r = v.get("resource");
        let l = r.and_then(|r| r.get("labels"));
        keep(
            v.get_str("severity"),
            r.and_then(|r| r.get_str("type")),
            l.and_then(|l| l.get_str("namespace_name")),
            l.and_then(|l| l.get_str("container_name")),
        )
    };
    for (a, b) in [("jsonPayload", "ip_address"), ("httpRequest", "remoteIp")] {
        if let Some(x) = v.get_mut(a).and_then(|o| o.get_mut(b)) {
            *x = simd_json::OwnedValue::from(MASK);
        }
    }
    v.write(&mut *out).expect("serialize");
    out.push(b'\n');
    k
}

fn simd_borrowed(line: &[u8], scratch: &mut Vec<u8>, out: &mut Vec<u8>) -> bool {
    use simd_json::prelude::*;
    scratch.clear();
    scratch.extend_from_slice(line);
    let mut v = simd_json::to_borrowed_value(scratch).expect("JSON");
    let k = {
        let r = v.get("resource");
        let l = r.and_then(|r| r.get("labels"));
        keep(
            v.get_str("severity"),
            r.and_then(|r| r.get_str("type")),
            l.and_then(|l| l.get_str("namespace_name")),
            l.and_then(|l| l.get_str("container_name")),
        )
    };
    for (a, b) in [("jsonPayload", "ip_address"), ("httpRequest", "remoteIp")] {
        if let Some(x) = v.get_mut(a).and_then(|o| o.get_mut(b)) {
            *x = simd_json::BorrowedValue::from(MASK);
        }
    }
    v.write(&mut *out).expect("serialize");
    out.push(b'\n');
    k
}

// --- serde_json borrowed structs + splice ---------------------------------
//
// Only the fields read are deserialized (the rest is skipped, still
// validated); the rewritten strings are borrowed `&str`s whose position in
// the line gives the span to splice. `RawValue` would do the same for any
// value type but needs serde_json's `raw_value` feature, which, unified
// across the build, recompiles every crate that uses serde_json.

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    severity: Option<Cow<'a, str>>,
    #[serde(borrow)]
    resource: Option<Resource<'a>>,
    #[serde(borrow, rename = "jsonPayload")]
    json_payload: Option<Payload<'a>>,
    #[serde(borrow, rename = "httpRequest")]
    http_request: Option<Http<'a>>,
}

#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    labels: Option<Labels<'a>>,
}

#[derive(Deserialize)]
struct Labels<'a> {
    #[serde(borrow)]
    namespace_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    container_name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    ip_address: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Http<'a> {
    #[serde(borrow, rename = "remoteIp")]
    remote_ip: Option<Cow<'a, str>>,
}

fn serde_borrowed(line: &[u8], out: &mut Vec<u8>) -> bool {
    let e: Entry = serde_json::from_slice(line).expect("JSON");
    let r = e.resource.as_ref();
    let l = r.and_then(|r| r.labels.as_ref());
    let k = keep(
        e.severity.as_deref(),
        r.and_then(|r| r.kind.as_deref()),
        l.and_then(|l| l.namespace_name.as_deref()),
        l.and_then(|l| l.container_name.as_deref()),
    );
    let found = [
        e.json_payload.as_ref().and_then(|p| p.ip_address.as_ref()),
        e.http_request.as_ref().and_then(|h| h.remote_ip.as_ref()),
    ];
    let mut spans = [(0, 0); 2];
    let mut n = 0;
    for v in found.into_iter().flatten() {
        match v {
            // The string's content; the JSON value adds its two quotes.
            Cow::Borrowed(s) => {
                let (a, b) = span_of(line, s.as_bytes());
                spans[n] = (a - 1, b + 1);
                n += 1;
            }
            // An escaped string has no span in the line: re-serialize.
            Cow::Owned(_) => {
                return serde_value(line, out);
            }
        }
    }
    splice(line, &mut spans[..n], out);
    k
}

// ---------------------------------------------------------------------------

/// Generated app lines -> LogEntry NDJSON, as the shaping stage writes it.
fn log_entries(mib: u64) -> Vec<u8> {
    let mut app = Vec::new();
    gen::generate(&mut app, gen::Framing::Ndjson, mib << 20, 11).expect("generate");
    let origin = k8s::origin_for_file(
        Path::new("/var/log/containers/license-api-7d8f9c6b4-xk9m2_coditect_django-3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19.log"),
        &NodeInfo::default(),
    );
    let now = chrono::Utc::now();
    let mut out = Vec::with_capacity(app.len() * 2);
    for (i, l) in app
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let line = Line {
            payload: l,
            time: None,
            stream: None,
            raw: l,
            position: Some(i as u64),
        };
        let v = log_entry::shape(line, &origin, now).expect("shapes");
        serde_json::to_writer(&mut out, &v).expect("serialize");
        out.push(b'\n');
        if out.len() as u64 >= mib << 20 {
            break;
        }
    }
    out
}

type Candidate<'t> = Box<dyn FnMut(&[u8], &mut Vec<u8>) -> bool + 't>;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let mib: u64 = arg("--mib")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 32 } else { 1 });
    let data = log_entries(mib);
    let lines: Vec<&[u8]> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let tree = sonic_tree();
    let mut scratch_o = Vec::new();
    let mut scratch_b = Vec::new();
    let mut candidates: Vec<(&str, Candidate)> = vec![
        (
            "copy the line (floor)",
            Box::new(|l: &[u8], o: &mut Vec<u8>| {
                o.extend_from_slice(l);
                o.push(b'\n');
                !l.is_empty()
            }),
        ),
        ("serde_json::Value (today)", Box::new(serde_value)),
        (
            "serde_json::Value + json_out",
            Box::new(serde_value_json_out),
        ),
        (
            "serde_json::Value, sonic parse",
            Box::new(serde_value_sonic_parse),
        ),
        ("sonic_rs::Value", Box::new(sonic_value)),
        (
            "sonic_rs::get_many + splice",
            Box::new(|l: &[u8], o: &mut Vec<u8>| sonic_lazy(&tree, l, o)),
        ),
        (
            "simd_json owned",
            Box::new(|l: &[u8], o: &mut Vec<u8>| simd_owned(l, &mut scratch_o, o)),
        ),
        (
            "simd_json borrowed",
            Box::new(|l: &[u8], o: &mut Vec<u8>| simd_borrowed(l, &mut scratch_b, o)),
        ),
        ("serde_json borrowed + splice", Box::new(serde_borrowed)),
    ];

    // Same result as today's representation, line by line, before timing.
    let mut want = Vec::new();
    let mut got = Vec::new();
    let check = lines.len().min(5000);
    for (name, f) in candidates.iter_mut().skip(2) {
        for l in &lines[..check] {
            want.clear();
            got.clear();
            let a = serde_value(l, &mut want);
            let b = f(l, &mut got);
            assert_eq!(a, b, "{name}: filter decision differs");
            let va: serde_json::Value = serde_json::from_slice(&want).unwrap();
            let vb: serde_json::Value = serde_json::from_slice(&got)
                .unwrap_or_else(|e| panic!("{name}: output is not JSON: {e}"));
            assert_eq!(va, vb, "{name}: output differs");
        }
    }

    println!(
        "event_model: {} LogEntry lines, {:.1} MiB NDJSON, {:.0} B/line; parse + 4 filter reads + 2 rewrites + serialize; one thread, CPU time, best of 3",
        lines.len(),
        data.len() as f64 / (1 << 20) as f64,
        data.len() as f64 / lines.len() as f64
    );
    println!(
        "{:<32} {:>10} {:>12} {:>8}",
        "candidate", "ns/event", "MiB/CPU-s", "kept"
    );
    let mut out = Vec::with_capacity(1 << 20);
    for (name, f) in candidates.iter_mut() {
        let mut best = u64::MAX;
        let mut kept = 0;
        for _ in 0..3 {
            kept = 0;
            let t0 = thread_cpu_ns();
            for l in &lines {
                if out.len() > (1 << 20) {
                    out.clear();
                }
                kept += f(l, &mut out) as u64;
            }
            best = best.min(thread_cpu_ns() - t0);
        }
        println!(
            "{name:<32} {:>10.0} {:>12.1} {:>8}",
            best as f64 / lines.len() as f64,
            data.len() as f64 / (1 << 20) as f64 / (best as f64 / 1e9),
            kept
        );
    }
}
