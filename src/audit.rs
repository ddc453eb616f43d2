//! `sluice audit`: scans NDJSON files (plain or `.gz`, or folders of them,
//! recursively) for personal data and secrets that escaped redaction.
//!
//! Every line is parsed as JSON; string values go through the redactor's
//! content detectors and key-rule fields are reported when their value is
//! not already redacted (a `[REDACTED:...]` mask or a `class:<16 hex>`
//! pseudonym is not a finding). Lines that are not JSON are scanned as
//! text. The report gives totals per class and the locations (file, line,
//! JSON path, detector) — never the found value.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::transforms::redact::{Class, EventFinding, Redactor};

/// Locations kept in the report; counts are always complete.
pub(crate) const MAX_LOCATIONS: usize = 10_000;

/// Where one finding is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// File the line came from.
    pub(crate) file: PathBuf,
    /// 1-based line number.
    pub(crate) line: u64,
    /// Dotted JSON path (`jsonPayload.user_email`), or `-` for a non-JSON
    /// line.
    pub(crate) path: String,
    /// Detector (`email`, `card`...) or key rule (`field:hardware`).
    pub(crate) detector: String,
    /// Class of the finding.
    pub(crate) class: Class,
}

/// Result of an audit.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditReport {
    /// Files read.
    pub(crate) files: u64,
    /// Lines read.
    pub(crate) lines: u64,
    /// Lines that parsed as JSON.
    pub(crate) json_lines: u64,
    /// Lines scanned as plain text.
    pub(crate) text_lines: u64,
    /// Findings per class.
    pub(crate) by_class: BTreeMap<Class, u64>,
    /// Findings per detector or key rule name.
    pub(crate) by_detector: BTreeMap<String, u64>,
    /// First [`MAX_LOCATIONS`] findings.
    pub(crate) locations: Vec<Location>,
    /// Findings not listed in `locations`.
    pub(crate) locations_omitted: u64,
}

impl AuditReport {
    /// No finding at all.
    pub(crate) fn is_clean(&self) -> bool {
        self.findings() == 0
    }

    /// Total number of findings.
    pub(crate) fn findings(&self) -> u64 {
        self.by_class.values().sum()
    }

    fn add(&mut self, file: &Path, line: u64, path: &str, detector: &str, class: Class) {
        *self.by_class.entry(class).or_insert(0) += 1;
        match self.by_detector.get_mut(detector) {
            Some(v) => *v += 1,
            None => {
                self.by_detector.insert(detector.to_string(), 1);
            }
        }
        if self.locations.len() < MAX_LOCATIONS {
            self.locations.push(Location {
                file: file.to_path_buf(),
                line,
                path: path.to_string(),
                detector: detector.to_string(),
                class,
            });
        } else {
            self.locations_omitted += 1;
        }
    }

    /// Human-readable report: totals per class and detector, then locations.
    /// Never contains a found value.
    pub(crate) fn render_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "audit: {} file(s), {} line(s) ({} JSON, {} text)",
            self.files, self.lines, self.json_lines, self.text_lines
        );
        if self.is_clean() {
            let _ = writeln!(s, "result: CLEAN (no personal data or secrets found)");
            return s;
        }
        let _ = writeln!(s, "result: {} finding(s)", self.findings());
        let _ = writeln!(s, "\nby class:");
        for (c, n) in &self.by_class {
            let _ = writeln!(s, "  {:<10} {n:>8}", c.as_str());
        }
        let _ = writeln!(s, "\nby detector / rule:");
        for (d, n) in &self.by_detector {
            let _ = writeln!(s, "  {d:<16} {n:>8}");
        }
        let _ = writeln!(s, "\nlocations (file:line path [class/detector]):");
        for l in &self.locations {
            let _ = writeln!(
                s,
                "  {}:{} {} [{}/{}]",
                l.file.display(),
                l.line,
                l.path,
                l.class.as_str(),
                l.detector
            );
        }
        if self.locations_omitted > 0 {
            let _ = writeln!(s, "  ... and {} more", self.locations_omitted);
        }
        s
    }
}

/// Audits files and folders (recursively, in name order). `.gz` files are
/// decompressed (multi-member gzip supported).
pub(crate) fn audit_paths(paths: &[PathBuf], redactor: &Redactor) -> std::io::Result<AuditReport> {
    let mut report = AuditReport::default();
    for p in paths {
        audit_path(p, redactor, &mut report)?;
    }
    Ok(report)
}

fn audit_path(p: &Path, redactor: &Redactor, report: &mut AuditReport) -> std::io::Result<()> {
    let meta = std::fs::metadata(p)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        entries.sort();
        for e in entries {
            let hidden = e
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if !hidden {
                audit_path(&e, redactor, report)?;
            }
        }
        return Ok(());
    }
    let file = File::open(p)?;
    let reader: Box<dyn Read> = if p.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    report.files += 1;
    audit_reader(
        p,
        BufReader::with_capacity(1 << 16, reader),
        redactor,
        report,
    )
}

fn audit_reader(
    file: &Path,
    mut r: impl BufRead,
    redactor: &Redactor,
    report: &mut AuditReport,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let mut findings: Vec<EventFinding> = Vec::new();
    let mut text_findings = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        report.lines += 1;
        while buf.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
            buf.pop();
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<serde_json::Value>(&buf) {
            Ok(v) => {
                report.json_lines += 1;
                findings.clear();
                redactor.scan_event(&v, &mut findings);
                for f in &findings {
                    report.add(file, line_no, &f.path, &f.detector, f.class);
                }
            }
            Err(_) => {
                report.text_lines += 1;
                let text = String::from_utf8_lossy(&buf);
                text_findings.clear();
                redactor.scan_str(&text, &mut text_findings);
                for f in &text_findings {
                    report.add(file, line_no, "-", &f.detector, f.class);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::transforms::redact::{RedactConfig, RedactStats};

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sluice-audit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("sub")).expect("temp dir is writable");
        d
    }

    #[test]
    fn finds_leaks_in_files_gz_and_text_and_never_prints_values() {
        let r = Redactor::new(&RedactConfig::default(), None).expect("default config is valid");
        let d = tmpdir("leaks");
        std::fs::write(
            d.join("a.ndjson"),
            "{\"jsonPayload\":{\"user_email\":\"leak@example.com\",\"message\":\"ok\"}}\n\
             {\"jsonPayload\":{\"user_email\":\"[REDACTED:email]\",\"serial\":\"hardware:0123456789abcdef\"}}\n\
             plain text with card 4111 1111 1111 1111\n",
        )
        .expect("write");
        let f = File::create(d.join("sub").join("b.ndjson.gz")).expect("create");
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        gz.write_all(
            b"{\"httpRequest\":{\"remoteIp\":\"203.0.113.9\"},\"m\":\"from 198.51.100.4\"}\n",
        )
        .expect("gzip");
        gz.finish().expect("gzip");

        let rep = audit_paths(std::slice::from_ref(&d), &r).expect("audit");
        assert_eq!(rep.files, 2);
        assert_eq!(rep.lines, 4);
        assert_eq!(rep.text_lines, 1);
        assert!(!rep.is_clean());
        assert_eq!(rep.by_detector.get("field:personal"), Some(&2), "{rep:?}");
        assert_eq!(rep.by_detector.get("card"), Some(&1));
        assert_eq!(rep.by_detector.get("ipv4"), Some(&1));
        assert!(rep
            .locations
            .iter()
            .any(|l| l.path == "jsonPayload.user_email" && l.line == 1));
        assert!(rep.locations.iter().any(|l| l.path == "m"));
        let text = rep.render_text();
        for v in ["leak@example.com", "4111", "203.0.113.9", "198.51.100.4"] {
            assert!(!text.contains(v), "value printed: {text}");
        }
        assert!(text.contains("jsonPayload.user_email"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn redacted_output_audits_clean() {
        let r = Redactor::new(&RedactConfig::default(), None).expect("default config is valid");
        let d = tmpdir("clean");
        let mut out = String::new();
        for line in [
            r#"{"jsonPayload":{"user_email":"a@b.com","message":"from 203.0.113.42 pw password=hunter2","hardware_id":"SN-1234567"}}"#,
            r#"{"textPayload":"card 4111111111111111 iban DE89370400440532013000"}"#,
        ] {
            let mut v: serde_json::Value = serde_json::from_str(line).expect("json");
            r.redact(&mut v, &mut RedactStats::default());
            out.push_str(&v.to_string());
            out.push('\n');
        }
        std::fs::write(d.join("out.ndjson"), out).expect("write");
        let rep = audit_paths(&[d.join("out.ndjson")], &r).expect("audit");
        assert!(rep.is_clean(), "{}", rep.render_text());
        assert!(rep.render_text().contains("CLEAN"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn missing_path_is_an_error() {
        let r = Redactor::new(&RedactConfig::default(), None).expect("default config is valid");
        assert!(audit_paths(&[PathBuf::from("/nonexistent/sluice/x.ndjson")], &r).is_err());
    }
}
