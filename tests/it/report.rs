//! `sluice dry-run --report`: the page a reviewer reads. Read back with a
//! real HTML parser, every number on it equals `summary.json`, which equals
//! what is on disk; `sluice audit` finds nothing in it; the terminal shows
//! the same redaction-by-field lines.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use scraper::{ElementRef, Html, Selector};
use serde_json::{json, Value};

use crate::support::{read_ndjson, sluice, sluice_bin};

/// Runs the built-in dry run with `--report` (over `inputs`, or the bundled
/// fixtures) and returns its stderr.
pub fn dry_run_report(out: &Path, inputs: &[&Path]) -> String {
    let mut cmd = std::process::Command::new(sluice_bin());
    cmd.args(["dry-run", "--report", "--out"]).arg(out);
    for i in inputs {
        cmd.arg("--input").arg(i);
    }
    let res = cmd
        .env("SLUICE_DATA_DIR", out.join("state"))
        .env("SLUICE_LOG", "warn")
        .output()
        .expect("sluice runs");
    let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    assert!(res.status.success(), "dry run failed:\n{stderr}");
    stderr
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap_or_else(|e| panic!("selector {s}: {e:?}"))
}

fn text(e: ElementRef<'_>) -> String {
    e.text().collect::<String>().trim().to_string()
}

fn num(e: ElementRef<'_>) -> u64 {
    let t = text(e);
    t.parse()
        .unwrap_or_else(|_| panic!("`{t}` is not a count in {}", e.html()))
}

/// The one element `css` finds under `root`.
fn one<'a>(root: ElementRef<'a>, css: &str) -> ElementRef<'a> {
    let found: Vec<_> = root.select(&sel(css)).collect();
    assert_eq!(found.len(), 1, "expected one `{css}` in {}", root.html());
    found[0]
}

fn attr<'a>(e: ElementRef<'a>, name: &str) -> &'a str {
    e.value()
        .attr(name)
        .unwrap_or_else(|| panic!("no {name} on {}", e.html()))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not a count"))
}

/// Checks the report in `out` against `summary.json` and the files beside
/// it; returns the summary.
pub fn check_report(out: &Path, stderr: &str) -> Value {
    let summary: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap())
        .expect("summary.json is JSON");
    let report_path = out.join("report.html");
    assert!(
        stderr.contains(&format!("report: {}", report_path.display())),
        "the path is printed:\n{stderr}"
    );
    let page = std::fs::read_to_string(&report_path).expect("report.html written");
    let doc = Html::parse_document(&page);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    let root = doc.root_element();

    // Self-contained: nothing to fetch, no script.
    for css in ["script", "link", "img", "iframe", "object", "[src]"] {
        assert_eq!(root.select(&sel(css)).count(), 0, "`{css}` in the report");
    }
    let csp = one(root, "meta[http-equiv=Content-Security-Policy]");
    assert!(attr(csp, "content").starts_with("default-src 'none'"));

    // Components: the table and the graph's boxes.
    let comps = summary["components"].as_object().unwrap();
    let rows: Vec<_> = root
        .select(&sel("#components tr[data-component]"))
        .collect();
    assert_eq!(rows.len(), comps.len());
    for tr in rows {
        let c = &comps[attr(tr, "data-component")];
        for k in [
            "events_in",
            "events_out",
            "dropped",
            "errors",
            "bytes_in",
            "bytes_out",
        ] {
            assert_eq!(num(one(tr, &format!("td[data-k={k}]"))), u(&c[k]), "{k}");
        }
    }
    let graph = one(root, "svg#pipeline-graph");
    for name in comps.keys() {
        one(graph, &format!("g.node[data-node=\"{name}\"]"));
    }
    // Edges carry what their source sent.
    let edges = summary["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    for e in edges {
        let (from, to) = (e["from"].as_str().unwrap(), e["to"].as_str().unwrap());
        let label = one(
            graph,
            &format!("g.edge-label[data-from=\"{from}\"][data-to=\"{to}\"] text"),
        );
        assert_eq!(num(label), u(&e["events"]), "{from} -> {to}");
        if to != "dead-letter" {
            assert_eq!(u(&e["events"]), u(&comps[from]["events_out"]));
        }
    }

    // Redactions by detector, with classes, and by field.
    let reds = summary["redactions"].as_array().unwrap();
    let rows: Vec<_> = root
        .select(&sel("#redactions-by-detector tr[data-detector]"))
        .collect();
    assert_eq!(rows.len(), reds.len());
    let mut by_class: BTreeMap<String, u64> = BTreeMap::new();
    for r in reds {
        let d = r["detector"].as_str().unwrap();
        let tr = one(
            root,
            &format!("#redactions-by-detector tr[data-detector=\"{d}\"]"),
        );
        assert_eq!(num(one(tr, "td[data-k=count]")), u(&r["count"]), "{d}");
        let class = r["class"].as_str().unwrap_or("-");
        *by_class.entry(class.to_string()).or_default() += u(&r["count"]);
    }
    for (class, total) in &by_class {
        let pill = one(root, &format!("[data-class-total=\"{class}\"]"));
        assert_eq!(num(pill), *total, "class {class}");
    }
    let fields = summary["redactions_by_field"].as_array().unwrap();
    let mut field_total: BTreeMap<&str, u64> = BTreeMap::new();
    for f in fields {
        let (field, d) = (
            f["field"].as_str().unwrap(),
            f["detector"].as_str().unwrap(),
        );
        if d != "dropped" {
            *field_total.entry(field).or_default() += u(&f["count"]);
        }
        let tr = one(
            root,
            &format!("#redactions-by-field tr[data-field=\"{field}\"]"),
        );
        let pill = one(tr, &format!("span[data-detector=\"{d}\"]"));
        assert_eq!(
            attr(pill, "data-count").parse::<u64>().unwrap(),
            u(&f["count"])
        );
    }
    for (field, total) in &field_total {
        let tr = one(
            root,
            &format!("#redactions-by-field tr[data-field=\"{field}\"]"),
        );
        assert_eq!(num(one(tr, "td[data-k=total]")), *total, "{field}");
    }
    // Each redaction is counted at one field: the totals agree.
    for r in reds {
        let d = r["detector"].as_str().unwrap();
        let at_fields: u64 = fields
            .iter()
            .filter(|f| f["detector"] == d)
            .map(|f| u(&f["count"]))
            .sum();
        assert_eq!(at_fields, u(&r["count"]), "{d}: by field vs by detector");
    }
    // The terminal shows the same fields.
    assert!(stderr.contains("redactions by field:"), "{stderr}");
    let mut top: Vec<(&str, u64)> = field_total.iter().map(|(f, n)| (*f, *n)).collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (field, total) in top.iter().take(15) {
        assert!(
            stderr.lines().any(|l| {
                let mut w = l.split_whitespace();
                w.next() == Some(&total.to_string()) && w.next() == Some(field)
            }),
            "`{total} {field}` not in the terminal table:\n{stderr}"
        );
    }

    // The sample: redacted entries with their replacements marked.
    let articles: Vec<_> = root.select(&sel("article.sample")).collect();
    let size: u64 = attr(one(root, "[data-sample-size]"), "data-sample-size")
        .parse()
        .unwrap();
    let from: u64 = attr(one(root, "[data-sample-from]"), "data-sample-from")
        .parse()
        .unwrap();
    assert_eq!(articles.len() as u64, size);
    assert_eq!(
        size,
        from.min(12),
        "a full reservoir, or every redacted entry"
    );
    assert!(from > 0 && from <= u(&comps["redact"]["events_out"]));
    for a in &articles {
        let marks: Vec<_> = a.select(&sel("mark[data-detector]")).collect();
        let removed = a.select(&sel(".removed")).count();
        assert!(
            !marks.is_empty() || removed > 0,
            "nothing marked in {}",
            a.html()
        );
        for m in marks {
            let d = attr(m, "data-detector");
            assert!(
                reds.iter().any(|r| r["detector"] == d),
                "mark by `{d}`, which counted nothing"
            );
        }
    }

    // BigQuery tables: rows as on disk, columns, expiry.
    for t in summary["bigquery"].as_array().unwrap() {
        let (ds, table) = (t["dataset"].as_str().unwrap(), t["table"].as_str().unwrap());
        let div = one(root, &format!("div.bq-table[data-table=\"{ds}.{table}\"]"));
        let on_disk = read_ndjson(
            &out.join("bigquery")
                .join(ds)
                .join(format!("{table}.ndjson")),
        );
        assert_eq!(u(&t["rows"]), on_disk.len() as u64, "{ds}.{table}");
        assert_eq!(num(one(div, "[data-k=rows]")), u(&t["rows"]));
        assert_eq!(num(one(div, "[data-k=bytes]")), u(&t["bytes"]));
        assert_eq!(
            num(one(div, "[data-k=expiration_days]")),
            u(&t["expiration_days"])
        );
        let cols = t["columns"].as_array().unwrap();
        assert_eq!(num(one(div, "[data-k=columns]")), cols.len() as u64);
        assert_eq!(
            div.select(&sel("table.columns tbody tr")).count(),
            cols.len()
        );
        for name in ["timestamp", "severity", "insertId", "httpRequest.status"] {
            assert!(cols.iter().any(|c| c["name"] == name), "{name} column");
        }
        // Every top-level key of every row is a column (or a record of them).
        for row in &on_disk {
            for k in row.as_object().unwrap().keys() {
                assert!(
                    cols.iter().any(|c| {
                        let n = c["name"].as_str().unwrap();
                        n == k || n.starts_with(&format!("{k}."))
                    }),
                    "row key {k} has no column"
                );
            }
        }
    }

    // Archive objects: sizes as on disk, NDJSON sizes as decompressed.
    for g in summary["gcs"].as_array().unwrap() {
        let sink = g["sink"].as_str().unwrap();
        let div = one(root, &format!("div.gcs-sink[data-sink=\"{sink}\"]"));
        for k in ["objects", "events", "bytes", "raw_bytes"] {
            assert_eq!(
                num(one(div, &format!("p [data-k={k}]"))),
                u(&g[k]),
                "{sink} {k}"
            );
        }
        let bucket_dir = out.join("gcs").join(g["bucket"].as_str().unwrap());
        let listed = g["listed"].as_array().unwrap();
        assert_eq!(listed.len() as u64, u(&g["objects"]).min(200));
        for o in listed {
            let key = o["object"].as_str().unwrap();
            let bytes =
                std::fs::read(bucket_dir.join(key)).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(bytes.len() as u64, u(&o["bytes"]), "{key}");
            let mut raw = Vec::new();
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_end(&mut raw)
                .unwrap();
            assert_eq!(raw.len() as u64, u(&o["raw_bytes"]), "{key}");
            assert_eq!(
                raw.iter().filter(|b| **b == b'\n').count() as u64,
                u(&o["events"])
            );
            let tr = one(div, &format!("tr[data-object=\"{key}\"]"));
            assert_eq!(num(one(tr, "td[data-k=bytes]")), u(&o["bytes"]));
        }
    }

    // Dead letters: groups add up to the records on disk.
    let on_disk = if out.join("deadletter.ndjson").exists() {
        read_ndjson(&out.join("deadletter.ndjson")).len() as u64
    } else {
        0
    };
    assert_eq!(u(&summary["deadletter"]), on_disk);
    assert_eq!(num(one(root, "[data-total=deadletter-records]")), on_disk);
    let groups = summary["deadletter_reasons"].as_array().unwrap();
    assert_eq!(groups.iter().map(|g| u(&g["count"])).sum::<u64>(), on_disk);
    let rows: Vec<_> = root
        .select(&sel("#deadletter-reasons tr[data-reason]"))
        .collect();
    assert_eq!(rows.len(), groups.len());
    for (tr, g) in rows.iter().zip(groups) {
        assert_eq!(attr(*tr, "data-reason"), g["reason"].as_str().unwrap());
        assert_eq!(num(one(*tr, "td[data-k=count]")), u(&g["count"]));
        let example: Value = serde_json::from_str(g["example"].as_str().unwrap())
            .expect("the example is a whole record");
        assert_eq!(example["component"], g["component"]);
    }

    // Log-based metrics: as metrics.prom holds them.
    let prom = std::fs::read_to_string(out.join("metrics.prom")).unwrap();
    for f in summary["metrics"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        let div = one(root, &format!("div.metric[data-metric=\"{name}\"]"));
        assert!(prom.contains(&format!("# TYPE {name} {}", f["type"].as_str().unwrap())));
        for s in f["series"].as_array().unwrap().iter().take(6) {
            let labels: Vec<String> = s["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
                .collect();
            let key = labels.join(",");
            let value = s["value"].as_f64().unwrap();
            if f["type"] == "histogram" {
                let found: Vec<_> = div
                    .select(&sel(".histogram"))
                    .filter(|h| attr(*h, "data-labels") == key)
                    .collect();
                if let Some(h) = found.first() {
                    assert_eq!(
                        text(one(*h, "[data-k=count]")).parse::<f64>().unwrap(),
                        value
                    );
                    let bars: Vec<f64> = h
                        .select(&sel("g.bucket"))
                        .map(|b| attr(b, "data-count").parse().unwrap())
                        .collect();
                    let want: Vec<f64> = s["buckets"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|b| b[1].as_f64().unwrap())
                        .collect();
                    assert_eq!(bars, want, "{name} {key}");
                }
            } else {
                let tr = div
                    .select(&sel("tr[data-labels]"))
                    .find(|t| attr(*t, "data-labels") == key);
                if let Some(tr) = tr {
                    assert_eq!(
                        text(one(tr, "td[data-k=value]")).parse::<f64>().unwrap(),
                        value
                    );
                    let line = format!("{name}{{");
                    assert!(prom
                        .lines()
                        .any(|l| l.starts_with(&line) && l.ends_with(&format!(" {value}"))));
                }
            }
        }
    }

    // Nothing private in the report or the summary.
    for f in [&report_path, &out.join("summary.json")] {
        let res = sluice(&["audit", f.to_str().unwrap()]);
        assert!(
            res.status.success(),
            "audit found personal data in {}:\n{}",
            f.display(),
            String::from_utf8_lossy(&res.stdout)
        );
    }
    summary
}

#[test]
fn the_report_of_the_bundled_fixtures_is_the_summary_and_passes_audit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let stderr = dry_run_report(&out, &[]);
    let summary = check_report(&out, &stderr);
    // The fixtures hold every kind of output.
    assert!(u(&summary["deadletter"]) > 0);
    assert!(!summary["bigquery"].as_array().unwrap().is_empty());
    assert!(!summary["gcs"].as_array().unwrap().is_empty());
    assert!(!summary["metrics"].as_array().unwrap().is_empty());
    let fields = fields_of(&summary);
    for f in [
        "jsonPayload.user_email",
        "jsonPayload.hardware_id",
        "httpRequest.remoteIp",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
}

/// The field paths `summary.json` counts redactions at.
fn fields_of(summary: &Value) -> Vec<&str> {
    summary["redactions_by_field"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect()
}

/// A generated corpus: the PII planted in it is nowhere in the report.
#[test]
fn the_report_of_a_generated_corpus_is_the_summary_and_holds_none_of_its_pii() {
    let dir = tempfile::tempdir().unwrap();
    let (input, planted) = generate_corpus(dir.path(), 3_000);
    let out = dir.path().join("out");
    let stderr = dry_run_report(&out, &[&input]);
    let summary = check_report(&out, &stderr);
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    for p in &planted {
        assert!(!page.contains(p.as_str()), "planted value in the report");
    }
    let comps = &summary["components"];
    assert_eq!(u(&comps["containers"]["events_in"]), 3_000);
    assert!(
        u(&summary["deadletter"]) >= 30,
        "malformed lines are dead-lettered"
    );
    let fields = fields_of(&summary);
    for f in [
        "jsonPayload.message",
        "jsonPayload.user_email",
        "jsonPayload.peers[]",
        "jsonPayload.by_user.(key)",
        "httpRequest.remoteIp",
        "deadletter.event.raw",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
}

/// Writes a CRI log of `n` lines named as a GKE container log, with
/// personal data in keys, values, message text and arrays, 5xx requests,
/// and malformed lines; returns its path and the planted values.
pub fn generate_corpus(dir: &Path, n: usize) -> (PathBuf, Vec<String>) {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let cards = ["4111111111111111", "5555555555554444", "4012888888881881"];
    let mut planted = Vec::new();
    let mut text = String::new();
    for i in 0..n {
        let r = next();
        let email = format!("person{}.{}@mail{}.example.com", r % 9973, i, r % 7);
        let ip = format!("203.0.{}.{}", r % 250, 1 + (r >> 8) % 250);
        let peer = format!("198.51.{}.{}", (r >> 16) % 250, 1 + (r >> 24) % 250);
        let card = cards[(r % 3) as usize];
        let status = [200, 200, 201, 404, 500, 503][(r >> 32) as usize % 6];
        let ts = format!(
            "2025-11-30T12:{:02}:{:02}.{:03}Z",
            (i / 60) % 60,
            i % 60,
            i % 1000
        );
        let line = if i % 97 == 13 {
            format!("{{\"severity\":\"ERROR\",\"message\":\"truncated for {email}")
        } else {
            json!({
                "severity": if status >= 500 { "ERROR" } else { "INFO" },
                "timestamp": ts,
                "message": format!("request {i} by {email} paid with card {card} from {ip}"),
                "user_email": email,
                "hardware_id": format!("sha256:{:016x}{:016x}{:016x}{:016x}", r, next(), next(), next()),
                "peers": [peer],
                "by_user": {email.clone(): "seen"},
                "httpRequest": {"requestMethod": "POST", "requestUrl": "/api/v1/licenses/acquire",
                    "status": status, "remoteIp": ip, "latency": format!("0.{:03}s", r % 1000)},
            })
            .to_string()
        };
        text.push_str(&format!("{ts} stdout F {line}\n"));
        planted.extend([email, ip, peer]);
    }
    let path = dir.join(
        "gen-api-7d8f9c6b4-abcde_coditect_django-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log",
    );
    std::fs::write(&path, text).unwrap();
    (path, planted)
}

/// Runs the built-in dry run with `--report` over `input` and returns its
/// peak resident memory in KiB: the `VmHWM` of its own address space, read
/// from `/proc` every 10 ms while it runs. (`wait4`'s `ru_maxrss` would
/// count the test process, whose memory the child shares until `exec`.)
fn peak_rss_of_dry_run(out: &Path, input: &Path) -> u64 {
    let mut child = std::process::Command::new(sluice_bin())
        .args(["dry-run", "--report", "--out"])
        .arg(out)
        .arg("--input")
        .arg(input)
        .env("SLUICE_DATA_DIR", out.join("state"))
        .env("SLUICE_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sluice starts");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(900);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dry run over {} hung",
            input.display()
        );
        let hwm = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|t| {
                let line = t.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .unwrap_or(0);
        peak = peak.max(hwm);
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(
        status.success(),
        "dry run over {} failed: {status}",
        input.display()
    );
    assert!(peak > 0, "no VmHWM read from {status_file}");
    peak
}

/// A 1 GiB dry run writes its report in the memory a 32 MiB one needs:
/// counts are aggregates, the sample a reservoir, every list capped.
#[test]
fn a_one_gibibyte_dry_run_writes_the_report_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    // 8 MiB of distinct lines (PII everywhere, malformed lines, many
    // reasons and fields), repeated: positions differ, so every line is its
    // own entry.
    let (block, _) = generate_corpus(dir.path(), 20_000);
    let unit = std::fs::read(&block).unwrap();
    let name = block.file_name().unwrap().to_owned();
    let write = |sub: &str, bytes: u64| {
        let d = dir.path().join(sub);
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join(&name);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
        let mut n = 0u64;
        while n < bytes {
            std::io::Write::write_all(&mut f, &unit).unwrap();
            n += unit.len() as u64;
        }
        std::io::Write::flush(&mut f).unwrap();
        (p, n / unit.len() as u64)
    };
    let (small, _) = write("small", 32 << 20);
    let small_rss = peak_rss_of_dry_run(&dir.path().join("out-small"), &small);
    std::fs::remove_file(&small).unwrap();
    let (big, copies) = write("big", 1 << 30);
    let out = dir.path().join("out-big");
    let big_rss = peak_rss_of_dry_run(&out, &big);
    std::fs::remove_file(&big).unwrap();

    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        u(&summary["components"]["containers"]["events_in"]),
        copies * 20_000,
        "every line was read"
    );
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    let doc = Html::parse_document(&page);
    assert_eq!(
        doc.root_element().select(&sel("article.sample")).count(),
        12
    );
    eprintln!("peak RSS: 32 MiB run {small_rss} KiB, 1 GiB run {big_rss} KiB");
    assert!(
        big_rss < small_rss + 64 * 1024,
        "memory grew with the input: {small_rss} KiB for 32 MiB, {big_rss} KiB for 1 GiB"
    );
    assert!(big_rss < 512 * 1024, "{big_rss} KiB");
}

/// The bundled fixtures' report in a real browser (Debian's headless
/// Chromium, no network): no console error (a fetch the CSP refused, a
/// failed load, a script), the graph and every table in the DOM, and a
/// full-page screenshot. `SLUICE_UPDATE_SCREENSHOT=1` also copies it to
/// `docs/report.png`, the picture in the README.
#[test]
fn the_report_renders_in_headless_chromium_without_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    dry_run_report(&out, &[]);
    let shot = out.join("report.png");
    let r = crate::browser::render(&out.join("report.html"), &shot);
    assert!(
        r.console_errors.is_empty(),
        "console errors: {:#?}",
        r.console_errors
    );
    let dom = Html::parse_document(&r.dom);
    let root = dom.root_element();
    for css in [
        "svg#pipeline-graph g.node",
        "svg#pipeline-graph path.edge",
        "table#components tbody tr",
        "table#redactions-by-detector tbody tr",
        "table#redactions-by-field tbody tr",
        "article.sample mark",
        "div.bq-table table.columns",
        "div.gcs-sink table.objects tbody tr",
        "table#deadletter-reasons tbody tr",
        "div.metric",
        "div.histogram svg g.bucket",
    ] {
        assert!(
            root.select(&sel(css)).next().is_some(),
            "`{css}` not in the rendered DOM"
        );
    }
    assert_eq!(
        (r.width, r.height),
        crate::browser::png_size(&r.png).unwrap()
    );
    assert!(
        r.height > 2000,
        "the whole page is captured ({} px)",
        r.height
    );
    let docs = crate::support::repo().join("docs/report.png");
    if std::env::var_os("SLUICE_UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(&shot, &docs).unwrap();
    }
    // The README shows the committed screenshot of this same report.
    let readme = std::fs::read_to_string(crate::support::repo().join("README.md")).unwrap();
    assert!(readme.contains("](docs/report.png)"));
    let committed = std::fs::read(&docs).expect("docs/report.png is committed");
    let (w, h) = crate::browser::png_size(&committed).expect("docs/report.png is a PNG");
    assert_eq!(
        w, r.width,
        "docs/report.png is this report at the harness's width"
    );
    assert!(h > 2000, "docs/report.png is a full page ({h} px)");
    // A report that gained or lost a line no longer has the committed
    // picture's height: the README would show a page sluice no longer
    // writes.
    assert_eq!(
        h, r.height,
        "docs/report.png is stale (the report is now {} px high): rerun this test with SLUICE_UPDATE_SCREENSHOT=1",
        r.height
    );
}
