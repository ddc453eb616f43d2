//! `report.html`: one self-contained page that shows a reviewer what the
//! pipeline would send. Inline CSS and SVG only: no script, no font, no
//! image or style fetched from anywhere (a Content-Security-Policy of
//! `default-src 'none'` says so to the browser), so it opens from disk,
//! from a CI artifact, or attached to a review.
//!
//! Every number on the page comes from the [`Summary`] that is also written
//! to `summary.json`, and is marked with a `data-*` attribute naming what it
//! is, so a test (or a script) can read the page back. The sampled entries
//! are shown as they left the redact transform: the replaced spans are
//! highlighted and labelled with the detector that replaced them; the
//! original values were never kept.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::prom::Family;
use super::summary::{FieldTotal, Summary, DEAD_LETTER};
use crate::telemetry::{Sampled, SampledSpan};
use crate::transforms::redact::KEY_SEGMENT;

/// What the page says about the run besides the summary.
pub(crate) struct Context<'a> {
    /// The pipeline file, or `<built-in dry-run.toml>`.
    pub(crate) pipeline: &'a str,
    /// The input files' names.
    pub(crate) inputs: &'a [String],
    /// The sampled entries, in input order.
    pub(crate) sample: &'a [Sampled],
    /// Entries with a redaction the sample was drawn from.
    pub(crate) sample_from: u64,
    /// When the report was written (RFC 3339).
    pub(crate) generated: &'a str,
}

/// Series of one metric shown; the rest are counted in a note.
const SERIES_SHOWN: usize = 25;
/// Histogram series drawn per metric.
const HISTOGRAMS_SHOWN: usize = 6;
/// Field paths listed in the by-field table.
const FIELDS_SHOWN: usize = 60;

pub(crate) fn render(s: &Summary, cx: &Context<'_>) -> String {
    let mut h = String::with_capacity(64 * 1024);
    h.push_str("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    h.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">\n",
    );
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(h, "<title>sluice dry run: {}</title>", esc(cx.pipeline));
    h.push_str(STYLE);
    h.push_str("</head><body>\n");
    header(&mut h, s, cx);
    graph(&mut h, s);
    redactions(&mut h, s);
    samples(&mut h, cx);
    sinks(&mut h, s);
    dead_letters(&mut h, s);
    metrics(&mut h, &s.metrics);
    h.push_str("<footer>Written by <code>sluice dry-run --report</code>. The same numbers are in <code>summary.json</code> beside this file.</footer>\n");
    h.push_str("</body></html>\n");
    h
}

const STYLE: &str = r#"<style>
:root{--ink:#1d2330;--mute:#5b6475;--line:#d9dde5;--bg:#f6f7f9;--card:#fff;--accent:#2457c5;--warn:#b3261e;--mark:#fff1b8;--markline:#e0b400}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#10203f;color:#fff;padding:20px 32px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:2px 0;color:#c9d3e6}
header .totals{display:flex;gap:28px;margin-top:12px;flex-wrap:wrap}
header .totals div{font-size:12px;color:#c9d3e6;text-transform:uppercase;letter-spacing:.04em}
header .totals b{display:block;font-size:22px;color:#fff;letter-spacing:0;text-transform:none}
nav{padding:8px 32px;background:#fff;border-bottom:1px solid var(--line);position:sticky;top:0}
nav a{color:var(--accent);margin-right:18px;text-decoration:none}
section{margin:20px 32px;padding:16px 20px;background:var(--card);border:1px solid var(--line);border-radius:8px}
section h2{margin:0 0 12px;font-size:18px}
section h3{margin:18px 0 8px;font-size:15px}
p.note{color:var(--mute);margin:4px 0 10px}
table{border-collapse:collapse;width:100%;margin:6px 0 10px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--mute);font-weight:600;text-transform:uppercase;letter-spacing:.03em}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{margin:0;white-space:pre-wrap;word-break:break-all}
.bar{display:inline-block;height:10px;background:var(--accent);border-radius:2px;vertical-align:middle}
.bar.warn{background:var(--warn)}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:20px}
@media (max-width:1000px){.cols{grid-template-columns:1fr}}
article.sample{border:1px solid var(--line);border-radius:6px;padding:8px 10px;margin:10px 0;background:#fbfbfc}
article.sample h4{margin:0 0 6px;font-size:12px;color:var(--mute);font-weight:600}
mark{background:var(--mark);border-bottom:2px solid var(--markline);padding:0 1px;border-radius:2px}
mark sup{font:600 9.5px system-ui,sans-serif;color:#7a5a00;margin-left:2px;vertical-align:super}
.removed{color:var(--warn);font-size:12px;margin-top:4px}
details summary{cursor:pointer;color:var(--accent)}
.pill{display:inline-block;padding:0 6px;border-radius:9px;background:#e8eefc;color:#173c8f;font-size:11.5px;margin:1px 2px}
svg text{font-family:system-ui,sans-serif}
footer{margin:24px 32px 40px;color:var(--mute);font-size:12px}
</style>
"#;

fn header(h: &mut String, s: &Summary, cx: &Context<'_>) {
    let sources_out: u64 = s
        .components
        .values()
        .filter(|c| c.kind == "source")
        .map(|c| c.events_out)
        .sum();
    let redacted: u64 = s
        .redactions
        .iter()
        .filter(|r| r.detector != "dropped")
        .map(|r| r.count)
        .sum();
    let rows: u64 = s.bigquery.iter().map(|t| t.rows).sum();
    let objects: u64 = s.gcs.iter().map(|g| g.objects.objects).sum();
    h.push_str("<header><h1>What this pipeline would send</h1>\n");
    let _ = writeln!(
        h,
        "<p>Pipeline <code>{}</code>, dry run written {}.</p>",
        esc(cx.pipeline),
        esc(cx.generated)
    );
    if !cx.inputs.is_empty() {
        let names: Vec<String> = cx.inputs.iter().map(|i| esc(i)).collect();
        let _ = writeln!(h, "<p>Inputs: {}</p>", names.join(", "));
    }
    h.push_str("<div class=\"totals\">");
    for (label, key, n) in [
        ("events read", "events_read", sources_out),
        ("values redacted", "redacted", redacted),
        ("BigQuery rows", "bigquery_rows", rows),
        ("archive objects", "gcs_objects", objects),
        ("dead letters", "deadletter", s.deadletter),
    ] {
        let _ = write!(h, "<div>{label}<b data-total=\"{key}\">{n}</b></div>");
    }
    h.push_str("</div></header>\n<nav><a href=\"#graph\">Pipeline</a><a href=\"#redactions\">Redactions</a><a href=\"#samples\">Samples</a><a href=\"#sinks\">Sinks</a><a href=\"#deadletters\">Dead letters</a><a href=\"#metrics\">Metrics</a></nav>\n");
}

// ---------------------------------------------------------------- graph

struct Node<'a> {
    name: &'a str,
    kind: &'a str,
    ty: &'a str,
    layer: usize,
    row: usize,
}

const NODE_W: usize = 184;
const NODE_H: usize = 70;
const GAP_X: usize = 84;
const GAP_Y: usize = 34;
const PAD: usize = 16;
const LANE: usize = 26;

fn graph(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"graph\"><h2>Pipeline</h2>\n<p class=\"note\">Each box is a component with its events in, out, dropped (filtered) and errored; each arrow carries the events that crossed it. Dashed arrows go to the dead-letter output.</p>\n");
    // Layer = longest path from a source; sinks share the last layer.
    let mut layer: BTreeMap<&str, usize> = BTreeMap::new();
    for (n, c) in &s.components {
        if c.kind == "source" {
            layer.insert(n, 0);
        }
    }
    for _ in 0..s.components.len() {
        for e in s.edges.iter().filter(|e| e.to != DEAD_LETTER) {
            let from = layer.get(e.from.as_str()).copied();
            if let Some(l) = from {
                let slot = layer.entry(&e.to).or_insert(l + 1);
                *slot = (*slot).max(l + 1);
            }
        }
    }
    let last = s
        .components
        .iter()
        .filter(|(_, c)| c.kind != "sink")
        .filter_map(|(n, _)| layer.get(n.as_str()))
        .max()
        .map_or(1, |l| l + 1);
    let mut rows: BTreeMap<usize, usize> = BTreeMap::new();
    let mut nodes: Vec<Node<'_>> = Vec::new();
    for (n, c) in &s.components {
        let l = if c.kind == "sink" {
            last
        } else {
            layer.get(n.as_str()).copied().unwrap_or(0)
        };
        let r = rows.entry(l).or_default();
        nodes.push(Node {
            name: n,
            kind: c.kind,
            ty: c.type_name,
            layer: l,
            row: *r,
        });
        *r += 1;
    }
    let has_dl = s.edges.iter().any(|e| e.to == DEAD_LETTER);
    if has_dl {
        let r = rows.entry(last).or_default();
        nodes.push(Node {
            name: DEAD_LETTER,
            kind: "output",
            ty: "deadletter.ndjson",
            layer: last,
            row: *r,
        });
        *r += 1;
    }
    let max_rows = rows.values().copied().max().unwrap_or(1);
    let width = PAD * 2 + (last + 1) * NODE_W + last * GAP_X;
    // Edges that skip a layer run in lanes below the boxes, one each, so
    // they never pass behind a component they do not touch.
    let skips = s
        .edges
        .iter()
        .filter(|e| {
            let (a, b) = (
                nodes.iter().find(|n| n.name == e.from),
                nodes.iter().find(|n| n.name == e.to),
            );
            matches!((a, b), (Some(a), Some(b)) if b.layer > a.layer + 1)
        })
        .count();
    let boxes_bottom = PAD + max_rows * NODE_H + max_rows.saturating_sub(1) * GAP_Y;
    let height = boxes_bottom + PAD + skips * LANE;
    let mut lane = 0;
    let pos = |n: &Node<'_>| {
        (
            PAD + n.layer * (NODE_W + GAP_X),
            PAD + n.row * (NODE_H + GAP_Y),
        )
    };
    let find = |name: &str| nodes.iter().find(|n| n.name == name);
    let _ = writeln!(
        h,
        "<svg id=\"pipeline-graph\" role=\"img\" aria-label=\"pipeline graph\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" style=\"max-width:100%;height:auto\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    h.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10z\" fill=\"#5b6475\"/></marker>\
<marker id=\"arrow-dl\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10z\" fill=\"#b3261e\"/></marker></defs>\n");
    let mut labels = String::new();
    for e in &s.edges {
        let (Some(a), Some(b)) = (find(&e.from), find(&e.to)) else {
            continue;
        };
        let ((ax, ay), (bx, by)) = (pos(a), pos(b));
        let (x1, y1) = (ax + NODE_W, ay + NODE_H / 2);
        let (x2, y2) = (bx, by + NODE_H / 2);
        let dl = e.to == DEAD_LETTER;
        let mid = (x1 + x2) / 2;
        let (d, (lx, ly)) = if b.layer > a.layer + 1 {
            lane += 1;
            let y = boxes_bottom + lane * LANE - LANE / 2;
            let (xa, xb) = (x1 + GAP_X / 2, x2 - GAP_X / 2);
            (
                format!("M{x1},{y1} C{xa},{y1} {x1},{y} {xa},{y} L{xb},{y} C{x2},{y} {xb},{y2} {x2},{y2}"),
                (mid, y),
            )
        } else {
            (
                format!("M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"),
                (mid, (y1 + y2) / 2),
            )
        };
        let _ = writeln!(
            h,
            "<path class=\"edge\" d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\"{} marker-end=\"url(#{})\"/>",
            if dl { "#b3261e" } else { "#5b6475" },
            if dl { " stroke-dasharray=\"5 4\"" } else { "" },
            if dl { "arrow-dl" } else { "arrow" },
        );
        let text = e.events.to_string();
        let w = 10 + 7 * text.len();
        let _ = writeln!(
            labels,
            "<g class=\"edge-label\" data-from=\"{}\" data-to=\"{}\"><rect x=\"{}\" y=\"{}\" width=\"{w}\" height=\"16\" rx=\"8\" fill=\"#fff\" stroke=\"#d9dde5\"/><text x=\"{lx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#1d2330\" data-edge-events=\"{}\">{text}</text></g>",
            esc(&e.from),
            esc(&e.to),
            lx - w / 2,
            ly - 8,
            ly + 4,
            e.events
        );
    }
    h.push_str(&labels);
    for n in &nodes {
        let (x, y) = pos(n);
        let (fill, stroke) = match n.kind {
            "source" => ("#e8f1ff", "#2457c5"),
            "transform" => ("#eef8f0", "#2e7d32"),
            "sink" => ("#fff5e6", "#b26a00"),
            _ => ("#fdecea", "#b3261e"),
        };
        let _ = writeln!(
            h,
            "<g class=\"node\" data-node=\"{}\"><rect x=\"{x}\" y=\"{y}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"8\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.4\"/>",
            esc(n.name)
        );
        let _ = writeln!(
            h,
            "<text x=\"{}\" y=\"{}\" font-size=\"13\" font-weight=\"600\" fill=\"#1d2330\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#5b6475\">{} · {}</text>",
            x + 10,
            y + 18,
            esc(&clip(n.name, 22)),
            x + 10,
            y + 33,
            esc(n.kind),
            esc(n.ty)
        );
        if let Some(c) = s.components.get(n.name) {
            let _ = writeln!(
                h,
                "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#1d2330\">in {} · out {}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{}\">dropped {} · errors {}</text>",
                x + 10,
                y + 48,
                c.events_in,
                c.events_out,
                x + 10,
                y + 62,
                if c.errors > 0 { "#b3261e" } else { "#5b6475" },
                c.dropped,
                c.errors
            );
        } else {
            let _ = writeln!(
                h,
                "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#1d2330\">records {}</text>",
                x + 10,
                y + 48,
                s.deadletter
            );
        }
        h.push_str("</g>\n");
    }
    h.push_str("</svg>\n");
    h.push_str("<table id=\"components\"><thead><tr><th>component</th><th>kind</th><th>type</th><th class=\"num\">in</th><th class=\"num\">out</th><th class=\"num\">dropped</th><th class=\"num\">errors</th><th class=\"num\">bytes in</th><th class=\"num\">bytes out</th></tr></thead><tbody>\n");
    for (n, c) in &s.components {
        let _ = write!(
            h,
            "<tr data-component=\"{}\"><td><code>{}</code></td><td>{}</td><td>{}</td>",
            esc(n),
            esc(n),
            c.kind,
            c.type_name
        );
        for (k, v) in [
            ("events_in", c.events_in),
            ("events_out", c.events_out),
            ("dropped", c.dropped),
            ("errors", c.errors),
            ("bytes_in", c.bytes_in),
            ("bytes_out", c.bytes_out),
        ] {
            let _ = write!(h, "<td class=\"num\" data-k=\"{k}\">{v}</td>");
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></section>\n");
}

// ----------------------------------------------------------- redactions

fn redactions(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"redactions\"><h2>Redactions</h2>\n");
    if s.redactions.is_empty() {
        h.push_str("<p class=\"note\">Nothing was redacted.</p></section>\n");
        return;
    }
    h.push_str("<div class=\"cols\"><div><h3>By class and detector</h3>\n<p class=\"note\"><code>field:*</code> counts whole values replaced because of their key (<code>user_email</code>, <code>hardware_id</code>); <code>propagated</code> counts other occurrences of such values; <code>dropped</code> counts fields removed.</p>\n");
    let mut by_class: BTreeMap<&str, Vec<&super::summary::Redaction>> = BTreeMap::new();
    for r in &s.redactions {
        by_class.entry(r.class.unwrap_or("-")).or_default().push(r);
    }
    let max = s
        .redactions
        .iter()
        .map(|r| r.count)
        .max()
        .unwrap_or(1)
        .max(1);
    h.push_str("<table id=\"redactions-by-detector\"><thead><tr><th>class</th><th>detector</th><th class=\"num\">count</th><th></th></tr></thead><tbody>\n");
    for (class, rs) in &by_class {
        let total: u64 = rs.iter().map(|r| r.count).sum();
        for (i, r) in rs.iter().enumerate() {
            let class_cell = if i == 0 {
                format!(
                    "<td rowspan=\"{}\"><b>{}</b> <span class=\"pill\" data-class-total=\"{}\">{total}</span></td>",
                    rs.len(),
                    esc(class),
                    esc(class)
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                h,
                "<tr data-detector=\"{}\">{class_cell}<td><code>{}</code></td><td class=\"num\" data-k=\"count\">{}</td><td>{}</td></tr>",
                esc(&r.detector),
                esc(&r.detector),
                r.count,
                bar(r.count, max, false)
            );
        }
    }
    h.push_str("</tbody></table></div>\n<div><h3>By field</h3>\n<p class=\"note\">Where personal data sat in these logs. Key segments that would carry data themselves are shown as <code>*</code>.</p>\n");
    let fields = s.fields_by_total();
    let fmax = fields.first().map_or(1, |f| f.total.max(1));
    h.push_str("<table id=\"redactions-by-field\"><thead><tr><th>field</th><th class=\"num\">total</th><th>by detector</th></tr></thead><tbody>\n");
    for FieldTotal { field, total, by } in fields.iter().take(FIELDS_SHOWN) {
        let _ = write!(
            h,
            "<tr data-field=\"{}\"><td><code>{}</code><br>{}</td><td class=\"num\" data-k=\"total\">{total}</td><td>",
            esc(field),
            esc(field),
            bar(*total, fmax, false)
        );
        for (d, n) in by {
            let _ = write!(
                h,
                "<span class=\"pill\" data-detector=\"{}\" data-count=\"{n}\">{} {n}</span>",
                esc(d),
                esc(d)
            );
        }
        h.push_str("</td></tr>\n");
    }
    h.push_str("</tbody></table>");
    if fields.len() > FIELDS_SHOWN {
        let _ = write!(
            h,
            "<p class=\"note\">{} more fields in <code>summary.json</code>.</p>",
            fields.len() - FIELDS_SHOWN
        );
    }
    h.push_str("</div></div></section>\n");
}

// -------------------------------------------------------------- samples

fn samples(h: &mut String, cx: &Context<'_>) {
    h.push_str("<section id=\"samples\"><h2>Sample of redacted entries</h2>\n");
    if cx.sample.is_empty() {
        h.push_str("<p class=\"note\">No entry had anything redacted.</p></section>\n");
        return;
    }
    let _ = writeln!(
        h,
        "<p class=\"note\"><span data-sample-size=\"{}\">{}</span> of the <span data-sample-from=\"{}\">{}</span> entries in which something was redacted, drawn evenly over the whole run, as they left the redact transform. Highlighted: the text that replaced a value, labelled with the detector that found it. The original values are not in this report.</p>",
        cx.sample.len(),
        cx.sample.len(),
        cx.sample_from,
        cx.sample_from
    );
    for item in cx.sample {
        let _ = writeln!(
            h,
            "<article class=\"sample\" data-seq=\"{}\" data-spans=\"{}\"><h4>entry {} of the redacted ones · {} replacement(s)</h4><pre>",
            item.seq,
            item.spans.len(),
            item.seq,
            item.spans.len()
        );
        let mut path = String::new();
        json(h, &item.entry, &item.spans, &mut path, 0);
        h.push_str("</pre>");
        let removed: Vec<&SampledSpan> = item
            .spans
            .iter()
            .filter(|s| s.replacement.is_empty())
            .collect();
        for r in removed {
            let _ = write!(
                h,
                "<div class=\"removed\">removed: <code>{}</code> ({})</div>",
                esc(&r.path),
                esc(&r.detector)
            );
        }
        h.push_str("</article>\n");
    }
    h.push_str("</section>\n");
}

/// Pretty-prints `v` as JSON, highlighting in each string the replacements
/// traced at its path.
fn json(h: &mut String, v: &Value, spans: &[SampledSpan], path: &mut String, depth: usize) {
    let pad = |h: &mut String, d: usize| {
        for _ in 0..d {
            h.push_str("  ");
        }
    };
    match v {
        Value::Object(m) if !m.is_empty() => {
            h.push_str("{\n");
            // Keys redacted in this object are traced at `PATH.(key)`.
            let keys_at = if path.is_empty() {
                KEY_SEGMENT.to_string()
            } else {
                format!("{path}.{KEY_SEGMENT}")
            };
            for (i, (k, x)) in m.iter().enumerate() {
                pad(h, depth + 1);
                string(h, k, spans, &keys_at);
                h.push_str(": ");
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                json(h, x, spans, path, depth + 1);
                path.truncate(len);
                if i + 1 < m.len() {
                    h.push(',');
                }
                h.push('\n');
            }
            pad(h, depth);
            h.push('}');
        }
        Value::Array(a) if !a.is_empty() => {
            h.push_str("[\n");
            let len = path.len();
            path.push_str("[]");
            for (i, x) in a.iter().enumerate() {
                pad(h, depth + 1);
                json(h, x, spans, path, depth + 1);
                if i + 1 < a.len() {
                    h.push(',');
                }
                h.push('\n');
            }
            path.truncate(len);
            pad(h, depth);
            h.push(']');
        }
        Value::String(s) => string(h, s, spans, path),
        other => h.push_str(&esc(&other.to_string())),
    }
}

/// A JSON string with the replacements at `path` marked.
fn string(h: &mut String, s: &str, spans: &[SampledSpan], path: &str) {
    let mut here: Vec<&SampledSpan> = spans
        .iter()
        .filter(|r| r.path == path && !r.replacement.is_empty())
        .collect();
    // Longest first, so a replacement that contains another wins.
    here.sort_by_key(|r| std::cmp::Reverse(r.replacement.len()));
    let mut marks: Vec<(usize, usize, &str)> = Vec::new();
    for r in here {
        let mut from = 0;
        while let Some(i) = s[from..].find(&r.replacement) {
            let (st, en) = (from + i, from + i + r.replacement.len());
            if !marks.iter().any(|m| st < m.1 && m.0 < en) {
                marks.push((st, en, &r.detector));
            }
            from = en;
        }
    }
    marks.sort_by_key(|m| m.0);
    let quoted = json_str(s);
    if marks.is_empty() {
        h.push_str(&esc(&quoted));
        return;
    }
    h.push('"');
    let mut last = 0;
    for (st, en, det) in marks {
        h.push_str(&esc(inner(&json_str(&s[last..st]))));
        let _ = write!(
            h,
            "<mark data-detector=\"{}\">{}<sup>{}</sup></mark>",
            esc(det),
            esc(inner(&json_str(&s[st..en]))),
            esc(det)
        );
        last = en;
    }
    h.push_str(&esc(inner(&json_str(&s[last..]))));
    h.push('"');
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn inner(q: &str) -> &str {
    q.strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(q)
}

// ---------------------------------------------------------------- sinks

fn sinks(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"sinks\"><h2>What each sink writes</h2>\n");
    if s.bigquery.is_empty() && s.gcs.is_empty() {
        h.push_str("<p class=\"note\">No BigQuery table or archive object was written.</p>");
    }
    for t in &s.bigquery {
        let _ = writeln!(
            h,
            "<div class=\"bq-table\" data-sink=\"{}\" data-table=\"{}.{}\"><h3>BigQuery <code>{}.{}</code> <span class=\"note\">(sink <code>{}</code>)</span></h3>",
            esc(&t.sink),
            esc(&t.dataset),
            esc(&t.table),
            esc(&t.dataset),
            esc(&t.table),
            esc(&t.sink)
        );
        let expiry = match t.partitioning {
            "sharded" => format!(
                "one table per day, each deleted {} days after its day",
                t.expiration_days
            ),
            _ => format!(
                "partitioned by day on <code>timestamp</code>; partitions expire after {} days",
                t.expiration_days
            ),
        };
        let _ = writeln!(
            h,
            "<p><b data-k=\"rows\">{}</b> rows, <span data-k=\"bytes\">{}</span> bytes of row JSON; {expiry} (<span data-k=\"expiration_days\">{}</span>).</p>",
            t.rows, t.bytes, t.expiration_days
        );
        let _ = writeln!(
            h,
            "<details><summary><span data-k=\"columns\">{}</span> columns (the Cloud Logging export schema and the payload columns these rows add)</summary><table class=\"columns\"><thead><tr><th>column</th><th>type</th><th>mode</th></tr></thead><tbody>",
            t.columns.len()
        );
        for c in &t.columns {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&c.name),
                c.ty,
                c.mode
            );
        }
        h.push_str("</tbody></table></details></div>\n");
    }
    for g in &s.gcs {
        let o = &g.objects;
        let _ = writeln!(
            h,
            "<div class=\"gcs-sink\" data-sink=\"{}\"><h3>Archive <code>gs://{}</code> <span class=\"note\">(sink <code>{}</code>)</span></h3>",
            esc(&g.sink),
            esc(&g.bucket),
            esc(&g.sink)
        );
        let _ = writeln!(
            h,
            "<p><b data-k=\"objects\">{}</b> objects, <span data-k=\"events\">{}</span> entries, <span data-k=\"bytes\">{}</span> bytes stored from <span data-k=\"raw_bytes\">{}</span> bytes of NDJSON (compression ratio {}).</p>",
            o.objects,
            o.events,
            o.bytes,
            o.raw_bytes,
            ratio(o.raw_bytes, o.bytes)
        );
        h.push_str("<table class=\"objects\"><thead><tr><th>object key</th><th class=\"num\">entries</th><th class=\"num\">bytes</th><th class=\"num\">NDJSON bytes</th><th class=\"num\">ratio</th></tr></thead><tbody>\n");
        for ob in &o.listed {
            let _ = writeln!(
                h,
                "<tr data-object=\"{}\"><td><code>{}</code></td><td class=\"num\" data-k=\"events\">{}</td><td class=\"num\" data-k=\"bytes\">{}</td><td class=\"num\" data-k=\"raw_bytes\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&ob.key),
                esc(&ob.key),
                ob.events,
                ob.bytes,
                ob.raw_bytes,
                ratio(ob.raw_bytes, ob.bytes)
            );
        }
        h.push_str("</tbody></table>");
        if o.objects > o.listed.len() as u64 {
            let _ = write!(
                h,
                "<p class=\"note\">{} more objects are in the totals above.</p>",
                o.objects - o.listed.len() as u64
            );
        }
        h.push_str("</div>\n");
    }
    h.push_str("</section>\n");
}

fn ratio(raw: u64, stored: u64) -> String {
    if stored == 0 {
        return "-".into();
    }
    format!("{:.1}×", raw as f64 / stored as f64)
}

// --------------------------------------------------------- dead letters

fn dead_letters(h: &mut String, s: &Summary) {
    let _ = writeln!(
        h,
        "<section id=\"deadletters\"><h2>Dead letters: <span data-total=\"deadletter-records\">{}</span></h2>",
        s.deadletter
    );
    if s.deadletter_reasons.is_empty() {
        h.push_str("<p class=\"note\">Nothing was rejected.</p></section>\n");
        return;
    }
    h.push_str("<p class=\"note\">Records written to <code>deadletter.ndjson</code>, grouped by component and reason (numbers in reasons shown as N), with the first record of each group as written (redacted).</p>\n");
    h.push_str("<table id=\"deadletter-reasons\"><thead><tr><th>component</th><th>reason</th><th class=\"num\">records</th><th>example</th></tr></thead><tbody>\n");
    for g in &s.deadletter_reasons {
        let pretty = serde_json::from_str::<Value>(&g.example)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| g.example.clone());
        let _ = writeln!(
            h,
            "<tr data-component=\"{}\" data-reason=\"{}\"><td><code>{}</code></td><td>{}</td><td class=\"num\" data-k=\"count\">{}</td><td><details><summary>record</summary><pre>{}</pre></details></td></tr>",
            esc(&g.component),
            esc(&g.reason),
            esc(&g.component),
            esc(&g.reason),
            g.count,
            esc(&pretty)
        );
    }
    h.push_str("</tbody></table></section>\n");
}

// -------------------------------------------------------------- metrics

fn metrics(h: &mut String, families: &[Family]) {
    h.push_str("<section id=\"metrics\"><h2>Log-based metrics</h2>\n");
    if families.is_empty() {
        h.push_str("<p class=\"note\">No log-based metric had a value.</p></section>\n");
        return;
    }
    h.push_str(
        "<p class=\"note\">As <code>metrics.prom</code> holds them at the end of the run.</p>\n",
    );
    for f in families {
        let _ = writeln!(
            h,
            "<div class=\"metric\" data-metric=\"{}\" data-type=\"{}\"><h3><code>{}</code> <span class=\"pill\">{}</span></h3><p class=\"note\">{}</p>",
            esc(&f.name),
            esc(&f.kind),
            esc(&f.name),
            esc(&f.kind),
            esc(&f.help)
        );
        let mut series: Vec<&super::prom::Series> = f.series.iter().collect();
        series.sort_by(|a, b| b.value.total_cmp(&a.value));
        let max = series.first().map_or(1.0, |s| s.value.max(1.0));
        if f.kind == "histogram" {
            for s in series.iter().take(HISTOGRAMS_SHOWN) {
                histogram(h, s);
            }
            if series.len() > HISTOGRAMS_SHOWN {
                let _ = write!(
                    h,
                    "<p class=\"note\">{} more series in <code>metrics.prom</code>.</p>",
                    series.len() - HISTOGRAMS_SHOWN
                );
            }
        } else {
            h.push_str("<table class=\"series\"><thead><tr><th>labels</th><th class=\"num\">value</th><th></th></tr></thead><tbody>\n");
            for s in series.iter().take(SERIES_SHOWN) {
                let _ = writeln!(
                    h,
                    "<tr data-labels=\"{}\"><td>{}</td><td class=\"num\" data-k=\"value\">{}</td><td>{}</td></tr>",
                    esc(&labels_key(s)),
                    labels_html(s),
                    fmt_f(s.value),
                    bar_f(s.value, max)
                );
            }
            h.push_str("</tbody></table>");
            if series.len() > SERIES_SHOWN {
                let _ = write!(
                    h,
                    "<p class=\"note\">{} more series in <code>metrics.prom</code>.</p>",
                    series.len() - SERIES_SHOWN
                );
            }
        }
        h.push_str("</div>\n");
    }
    h.push_str("</section>\n");
}

/// A histogram series as an SVG bar chart, one bar per bucket.
fn histogram(h: &mut String, s: &super::prom::Series) {
    let n = s.buckets.len().max(1);
    let (bw, gap, ch, top, bottom) = (34usize, 6usize, 110usize, 16usize, 30usize);
    let width = 50 + n * (bw + gap);
    let height = top + ch + bottom;
    let max = s.buckets.iter().map(|b| b.1).fold(1.0f64, f64::max);
    let _ = writeln!(
        h,
        "<div class=\"histogram\" data-labels=\"{}\"><p>{} · count <span data-k=\"count\">{}</span>{}</p>",
        esc(&labels_key(s)),
        labels_html(s),
        fmt_f(s.value),
        s.sum
            .map(|x| format!(" · sum <span data-k=\"sum\">{}</span>", fmt_f(x)))
            .unwrap_or_default()
    );
    let _ = writeln!(
        h,
        "<svg class=\"hist\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\"><line x1=\"40\" y1=\"{}\" x2=\"{width}\" y2=\"{}\" stroke=\"#d9dde5\"/>",
        top + ch,
        top + ch
    );
    for (i, (le, c)) in s.buckets.iter().enumerate() {
        let bh = ((c / max) * ch as f64).round() as usize;
        let x = 44 + i * (bw + gap);
        let y = top + ch - bh;
        let _ = writeln!(
            h,
            "<g class=\"bucket\" data-le=\"{}\" data-count=\"{}\"><rect x=\"{x}\" y=\"{y}\" width=\"{bw}\" height=\"{bh}\" fill=\"#2457c5\" rx=\"2\"/><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#1d2330\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#5b6475\">≤{}</text></g>",
            esc(le),
            fmt_f(*c),
            x + bw / 2,
            y.saturating_sub(3).max(10),
            fmt_f(*c),
            x + bw / 2,
            top + ch + 14,
            esc(le)
        );
    }
    h.push_str("</svg></div>\n");
}

fn labels_key(s: &super::prom::Series) -> String {
    s.labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn labels_html(s: &super::prom::Series) -> String {
    if s.labels.is_empty() {
        return "<i>no labels</i>".into();
    }
    s.labels
        .iter()
        .map(|(k, v)| format!("<span class=\"pill\">{}={}</span>", esc(k), esc(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn fmt_f(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

// -------------------------------------------------------------- helpers

fn bar(n: u64, max: u64, warn: bool) -> String {
    let w = (n as f64 / max.max(1) as f64 * 160.0).round().max(1.0);
    format!(
        "<span class=\"bar{}\" style=\"width:{w}px\"></span>",
        if warn { " warn" } else { "" }
    )
}

fn bar_f(x: f64, max: f64) -> String {
    let w = (x / max.max(1e-9) * 160.0).round().clamp(1.0, 160.0);
    format!("<span class=\"bar\" style=\"width:{w}px\"></span>")
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(path: &str, det: &str, rep: &str) -> SampledSpan {
        SampledSpan {
            path: path.into(),
            detector: det.into(),
            replacement: rep.into(),
        }
    }

    #[test]
    fn replacements_are_marked_where_they_stand_and_text_is_escaped() {
        let entry = serde_json::json!({
            "jsonPayload": {"message": "mail [REDACTED:email] from <ip> [REDACTED:ip]", "user_email": "[REDACTED:email]"},
            "labels": ["[REDACTED:email]"]
        });
        let spans = vec![
            span("jsonPayload.message", "email", "[REDACTED:email]"),
            span("jsonPayload.message", "ipv4", "[REDACTED:ip]"),
            span(
                "jsonPayload.user_email",
                "field:personal",
                "[REDACTED:email]",
            ),
        ];
        let mut h = String::new();
        json(&mut h, &entry, &spans, &mut String::new(), 0);
        assert_eq!(h.matches("<mark").count(), 3, "{h}");
        assert!(
            h.contains(
                "from &lt;ip&gt; <mark data-detector=\"ipv4\">[REDACTED:ip]<sup>ipv4</sup></mark>"
            ),
            "{h}"
        );
        assert!(h.contains("<mark data-detector=\"field:personal\">"), "{h}");
        // The array item was not traced at `labels[]`: not marked.
        assert!(h.contains("&quot;[REDACTED:email]&quot;\n  ]"), "{h}");
    }
}
