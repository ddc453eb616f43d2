//! Object keys: the template the sink renders, and the inverse the archive
//! source uses to tell an object's hour from its key without downloading it.
//!
//! A template mixes literal text, UTC time specifiers from the event's
//! `timestamp` (`%Y %m %d %H %M`, `%%` for a percent sign) and two
//! placeholders: `{node}` (the node name) and `{uuid}` (a fresh v4 UUID per
//! object, so two writers never pick the same key). Every event of one
//! object renders to the same key apart from `{uuid}`: that rendering is
//! the object's group, so with the default layout an object holds one hour
//! of one node's events.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};

/// The default layout: `logs/2025/11/30/12/NODE-UUID.ndjson.gz`.
pub const DATE_LAYOUT: &str = "logs/%Y/%m/%d/%H/{node}-{uuid}";
/// Hive-style partitions, as BigQuery external tables and Spark expect:
/// `logs/dt=2025-11-30/hour=12/NODE-UUID.ndjson.gz`.
pub(crate) const HIVE_LAYOUT: &str = "logs/dt=%Y-%m-%d/hour=%H/{node}-{uuid}";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Node,
    Uuid,
}

/// A parsed key template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    parts: Vec<Part>,
}

impl KeyTemplate {
    /// Parses a template; the message names the offending piece.
    pub fn parse(t: &str) -> Result<KeyTemplate, String> {
        if t.trim().is_empty() {
            return Err("must not be empty".into());
        }
        if t.starts_with('/') {
            return Err("must not start with `/` (object keys are relative to the bucket)".into());
        }
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = t.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '%' => {
                    let p = match chars.next() {
                        Some('Y') => Part::Year,
                        Some('m') => Part::Month,
                        Some('d') => Part::Day,
                        Some('H') => Part::Hour,
                        Some('M') => Part::Minute,
                        Some('%') => {
                            lit.push('%');
                            continue;
                        }
                        Some(o) => {
                            return Err(format!(
                                "unsupported time specifier `%{o}` (use %Y %m %d %H %M)"
                            ))
                        }
                        None => return Err("ends with a lone `%`".into()),
                    };
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(p);
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err("has an unclosed `{`".into()),
                        }
                    }
                    let p = match name.as_str() {
                        "node" => Part::Node,
                        "uuid" => Part::Uuid,
                        o => {
                            return Err(format!(
                                "unknown placeholder `{{{o}}}` (use {{node}} or {{uuid}})"
                            ))
                        }
                    };
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(p);
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        if !parts.contains(&Part::Uuid) {
            return Err(
                "must contain `{uuid}`: objects are never overwritten, so each needs a unique key"
                    .into(),
            );
        }
        Ok(KeyTemplate { parts })
    }

    /// Renders the key for an event time, node and object id. With an empty
    /// `uuid` this is the object's group.
    pub(crate) fn render(&self, t: DateTime<Utc>, node: &str, uuid: &str) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(96);
        for p in &self.parts {
            // Writing into a String cannot fail.
            let _ = match p {
                Part::Lit(l) => {
                    s.push_str(l);
                    Ok(())
                }
                Part::Year => write!(s, "{:04}", t.year()),
                Part::Month => write!(s, "{:02}", t.month()),
                Part::Day => write!(s, "{:02}", t.day()),
                Part::Hour => write!(s, "{:02}", t.hour()),
                Part::Minute => write!(s, "{:02}", t.minute()),
                Part::Node => {
                    s.push_str(node);
                    Ok(())
                }
                Part::Uuid => {
                    s.push_str(uuid);
                    Ok(())
                }
            };
        }
        s
    }

    /// The finest time unit in the template: an object never spans more.
    #[cfg(test)]
    pub(crate) fn granularity(&self) -> Granularity {
        if self.parts.contains(&Part::Minute) {
            Granularity::Minute
        } else if self.parts.contains(&Part::Hour) {
            Granularity::Hour
        } else if self.parts.contains(&Part::Day) {
            Granularity::Day
        } else {
            Granularity::None
        }
    }
}

/// How much time one object covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg(test)]
pub(crate) enum Granularity {
    Minute,
    Hour,
    Day,
    /// No time in the key: one group for all time.
    None,
}

/// The part of an RFC 3339 UTC timestamp (`2025-11-30T12:34:56.789Z`) that
/// decides the group, without parsing it: `2025-11-30T12:34`. `None` for
/// anything that is not in that canonical form (the caller then parses).
pub(crate) fn fast_bucket(ts: &str) -> Option<&str> {
    let b = ts.as_bytes();
    let ok = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b.last() == Some(&b'Z')
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    ok.then(|| &ts[..16])
}

/// The time span an object holds, read from its key: `.../%Y/%m/%d[/%H]/...`
/// or Hive-style `dt=%Y-%m-%d[/hour=%H]`. `None` when the key carries no
/// recognizable date (the caller decides what that means).
pub(crate) fn span_of_key(key: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let segs: Vec<&str> = key.split('/').collect();
    for i in 0..segs.len() {
        // Hive: dt=YYYY-MM-DD, optionally followed by hour=HH.
        if let Some(d) = segs[i].strip_prefix("dt=") {
            let Some(date) = parse_date(d) else { continue };
            let hour = segs
                .get(i + 1)
                .and_then(|s| s.strip_prefix("hour="))
                .and_then(parse_2digits(23));
            return Some(span(date, hour));
        }
        // Path: YYYY/MM/DD, optionally followed by HH. The last segment is
        // the object's file name, never a date part.
        if i + 2 < segs.len() && segs[i].len() == 4 && all_digits(segs[i]) {
            let (Some(m), Some(d)) = (
                parse_2digits(12)(segs[i + 1]),
                parse_2digits(31)(segs[i + 2]),
            ) else {
                continue;
            };
            let y: i32 = segs[i].parse().ok()?;
            if i + 2 == segs.len() - 1 {
                // `.../2025/11/30` where 30 is the file name: not a date.
                continue;
            }
            let Some(date) = NaiveDate::from_ymd_opt(y, m, d) else {
                continue;
            };
            let hour = if i + 3 < segs.len() - 1 {
                parse_2digits(23)(segs[i + 3])
            } else {
                None
            };
            return Some(span(date, hour));
        }
    }
    None
}

fn span(date: NaiveDate, hour: Option<u32>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = Utc.from_utc_datetime(
        &date
            .and_hms_opt(hour.unwrap_or(0), 0, 0)
            .expect("hour is validated to 0..=23"),
    );
    let len = if hour.is_some() {
        Duration::hours(1)
    } else {
        Duration::days(1)
    };
    (start, start + len)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_2digits(max: u32) -> impl Fn(&str) -> Option<u32> {
    move |s| {
        if s.len() == 2 && all_digits(s) {
            s.parse().ok().filter(|v| *v <= max)
        } else {
            None
        }
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn renders_default_and_hive() {
        let k = KeyTemplate::parse(&format!("{DATE_LAYOUT}.ndjson.gz")).unwrap();
        assert_eq!(
            k.render(t("2025-11-30T07:04:05Z"), "node-a", "u1"),
            "logs/2025/11/30/07/node-a-u1.ndjson.gz"
        );
        assert_eq!(k.granularity(), Granularity::Hour);
        let h = KeyTemplate::parse(&format!("{HIVE_LAYOUT}.ndjson.zst")).unwrap();
        assert_eq!(
            h.render(t("2025-01-02T23:59:59Z"), "n", "u"),
            "logs/dt=2025-01-02/hour=23/n-u.ndjson.zst"
        );
        let p = KeyTemplate::parse("a%%b/%M/{uuid}").unwrap();
        assert_eq!(p.render(t("2025-01-02T23:09:59Z"), "n", "u"), "a%b/09/u");
        assert_eq!(p.granularity(), Granularity::Minute);
    }

    #[test]
    fn rejects_bad_templates() {
        assert!(KeyTemplate::parse("logs/%Y/x.gz")
            .unwrap_err()
            .contains("{uuid}"));
        assert!(KeyTemplate::parse("logs/%S/{uuid}")
            .unwrap_err()
            .contains("%S"));
        assert!(KeyTemplate::parse("logs/{host}/{uuid}")
            .unwrap_err()
            .contains("{host}"));
        assert!(KeyTemplate::parse("/logs/{uuid}").is_err());
        assert!(KeyTemplate::parse("logs/{uuid").is_err());
        assert!(KeyTemplate::parse("logs/{uuid}%").is_err());
    }

    #[test]
    fn span_inverts_both_layouts() {
        for layout in [DATE_LAYOUT, HIVE_LAYOUT] {
            let k = KeyTemplate::parse(&format!("{layout}.ndjson.gz")).unwrap();
            let key = k.render(t("2025-11-30T12:34:56Z"), "n", "u");
            let (a, b) = span_of_key(&key).unwrap();
            assert_eq!(a, t("2025-11-30T12:00:00Z"), "{key}");
            assert_eq!(b, t("2025-11-30T13:00:00Z"), "{key}");
        }
        let (a, b) = span_of_key("x/dt=2025-11-30/n-u.gz").unwrap();
        assert_eq!(
            (a, b),
            (t("2025-11-30T00:00:00Z"), t("2025-12-01T00:00:00Z"))
        );
        let (a, b) = span_of_key("arch/2025/11/30/n-u.gz").unwrap();
        assert_eq!(
            (a, b),
            (t("2025-11-30T00:00:00Z"), t("2025-12-01T00:00:00Z"))
        );
        assert_eq!(span_of_key("misc/readme.txt"), None);
        assert_eq!(span_of_key("2025/13/01/05/x"), None);
        // A file named like a day is not a date part.
        assert_eq!(span_of_key("2025/11/30"), None);
    }

    #[test]
    fn fast_bucket_only_for_canonical_utc() {
        assert_eq!(
            fast_bucket("2025-11-30T12:34:56.789Z"),
            Some("2025-11-30T12:34")
        );
        assert_eq!(
            fast_bucket("2025-11-30T12:34:56Z"),
            Some("2025-11-30T12:34")
        );
        assert_eq!(fast_bucket("2025-11-30T12:34:56+01:00"), None);
        assert_eq!(fast_bucket("garbage"), None);
    }
}
