//! `EXTRACT(field)` and `REGEXP_EXTRACT(field, "re")`, the two extractor
//! functions of Cloud Logging's log-based metrics (`valueExtractor` and
//! `labelExtractors` in a LogMetric).
//!
//! Google's contract (LogMetric reference, `value_extractor`): the field's
//! value is converted to a string before the regex is applied; the regex
//! (RE2 syntax) must have exactly one capture group, and anything else is a
//! configuration error; when the extraction (or, for values, the
//! conversion to a number) fails, nothing is recorded. For labels a failed
//! extraction yields its type's default ("" STRING, 0 INT64, false BOOL).

use std::fmt::Write as _;

use regex::{CaptureLocations, Regex};
use serde_json::Value;

use crate::logging_query::FieldPath;

/// A compiled extractor expression.
#[derive(Debug, Clone)]
pub(crate) struct Extractor {
    field: FieldPath,
    regex: Option<Regex>,
    /// Reused match positions, so a regex match does not allocate.
    locs: Option<CaptureLocations>,
}

/// Why an extractor expression was refused. Names positions and shapes,
/// never field values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ExtractError {
    #[error("expected EXTRACT(field) or REGEXP_EXTRACT(field, \"regex\")")]
    Shape,
    #[error("unknown function `{0}`: only EXTRACT and REGEXP_EXTRACT are supported")]
    Function(String),
    #[error("invalid field path: {0}")]
    Field(String),
    #[error("REGEXP_EXTRACT takes a quoted regular expression as its second argument")]
    RegexLiteral,
    #[error("invalid regular expression: {0}")]
    Regex(String),
    #[error("the regular expression must have exactly one capture group (it has {0})")]
    Groups(usize),
    #[error("EXTRACT takes exactly one argument")]
    Arity,
}

impl Extractor {
    /// Parses an extractor expression such as
    /// `REGEXP_EXTRACT(httpRequest.latency, "([0-9.]+)s")`. Function names
    /// are matched case-insensitively.
    pub(crate) fn parse(src: &str) -> Result<Extractor, ExtractError> {
        let s = src.trim();
        let open = s.find('(').ok_or(ExtractError::Shape)?;
        if !s.ends_with(')') {
            return Err(ExtractError::Shape);
        }
        let func = s[..open].trim();
        let args = &s[open + 1..s.len() - 1];
        let (field_src, rest) = split_first_arg(args);
        let field =
            FieldPath::parse(field_src.trim()).map_err(|e| ExtractError::Field(e.to_string()))?;
        if func.eq_ignore_ascii_case("EXTRACT") {
            if rest.is_some() {
                return Err(ExtractError::Arity);
            }
            return Ok(Extractor {
                field,
                regex: None,
                locs: None,
            });
        }
        if !func.eq_ignore_ascii_case("REGEXP_EXTRACT") {
            return Err(ExtractError::Function(func.to_string()));
        }
        let lit = rest.ok_or(ExtractError::RegexLiteral)?.trim();
        let pattern = unquote(lit).ok_or(ExtractError::RegexLiteral)?;
        let regex = Regex::new(&pattern).map_err(|e| ExtractError::Regex(first_line(&e)))?;
        // captures_len counts the implicit whole-match group.
        let groups = regex.captures_len() - 1;
        if groups != 1 {
            return Err(ExtractError::Groups(groups));
        }
        Ok(Extractor {
            field,
            locs: Some(regex.capture_locations()),
            regex: Some(regex),
        })
    }

    /// Appends the extracted text to `out`; false (with `out` unchanged)
    /// when the field is missing, not a scalar, or the regex does not match.
    pub(crate) fn extract_into(&mut self, entry: &Value, out: &mut String) -> bool {
        let Some(v) = self.field.lookup(entry) else {
            return false;
        };
        let start = out.len();
        match v {
            Value::String(s) => out.push_str(s),
            Value::Number(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Null | Value::Array(_) | Value::Object(_) => return false,
        }
        let (Some(re), Some(locs)) = (&self.regex, &mut self.locs) else {
            return true;
        };
        let matched = re
            .captures_read(locs, &out[start..])
            .and_then(|_| locs.get(1))
            .map(|(a, b)| (start + a, start + b));
        match matched {
            Some((a, b)) => {
                // Keep only the capture, moved to `start`, in place.
                out.truncate(b);
                out.replace_range(start..a, "");
                true
            }
            None => {
                out.truncate(start);
                false
            }
        }
    }

    /// The extracted value as a number: JSON numbers directly, strings
    /// (or regex captures) parsed as a double. `None` when extraction or
    /// conversion fails, or the number is not finite.
    pub(crate) fn extract_number(&mut self, entry: &Value, scratch: &mut String) -> Option<f64> {
        if self.regex.is_none() {
            if let Some(Value::Number(n)) = self.field.lookup(entry) {
                return n.as_f64().filter(|f| f.is_finite());
            }
        }
        scratch.clear();
        if !self.extract_into(entry, scratch) {
            return None;
        }
        scratch.trim().parse::<f64>().ok().filter(|f| f.is_finite())
    }
}

/// Splits `a, b` at the first comma outside quotes.
fn split_first_arg(args: &str) -> (&str, Option<&str>) {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in args.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (None, '"') | (None, '\'') => quote = Some(c),
            (None, ',') => return (&args[..i], Some(&args[i + 1..])),
            _ => {}
        }
    }
    (args, None)
}

/// A double- or single-quoted literal. Only `\"` (or `\'`) is an escape:
/// every other backslash is kept, so `"(\d+)"` reaches the regex engine as
/// `(\d+)`, as in Google's documented example.
fn unquote(lit: &str) -> Option<String> {
    let q = lit.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    if lit.len() < 2 || !lit.ends_with(q) {
        return None;
    }
    let body = &lit[1..lit.len() - 1];
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&q) {
            out.push(q);
            chars.next();
        } else if c == q {
            // An unescaped quote inside: more than one literal.
            return None;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn first_line(e: &regex::Error) -> String {
    // regex errors span several lines (with a caret diagram); the last
    // line names the problem.
    e.to_string()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(x: &mut Extractor, v: &Value) -> Option<String> {
        let mut s = String::from("prefix|");
        x.extract_into(v, &mut s)
            .then(|| s["prefix|".len()..].to_string())
    }

    #[test]
    fn extract_scalars() {
        let e = json!({"httpRequest": {"status": 503, "latency": "0.153s"}, "b": true, "o": {}});
        let mut x = Extractor::parse("EXTRACT(httpRequest.status)").unwrap();
        assert_eq!(text(&mut x, &e).as_deref(), Some("503"));
        assert_eq!(x.extract_number(&e, &mut String::new()), Some(503.0));
        let mut b = Extractor::parse("extract( b )").unwrap();
        assert_eq!(text(&mut b, &e).as_deref(), Some("true"));
        assert_eq!(b.extract_number(&e, &mut String::new()), None);
        let mut o = Extractor::parse("EXTRACT(o)").unwrap();
        assert_eq!(text(&mut o, &e), None);
        let mut missing = Extractor::parse("EXTRACT(jsonPayload.nope)").unwrap();
        assert_eq!(text(&mut missing, &e), None);
    }

    #[test]
    fn regexp_extract_takes_the_group() {
        let e = json!({"httpRequest": {"latency": "0.153s", "status": 404}});
        let mut x =
            Extractor::parse(r#"REGEXP_EXTRACT(httpRequest.latency, "([0-9.]+)s")"#).unwrap();
        assert_eq!(text(&mut x, &e).as_deref(), Some("0.153"));
        assert_eq!(x.extract_number(&e, &mut String::new()), Some(0.153));
        // Numbers are converted to text before the regex applies.
        let mut d = Extractor::parse(r#"REGEXP_EXTRACT(httpRequest.status, "(\d)\d\d")"#).unwrap();
        assert_eq!(text(&mut d, &e).as_deref(), Some("4"));
        let mut no = Extractor::parse(r#"REGEXP_EXTRACT(httpRequest.latency, "(ms)")"#).unwrap();
        assert_eq!(text(&mut no, &e), None);
        assert_eq!(no.extract_number(&e, &mut String::new()), None);
        // A comma inside the quoted regex is not an argument separator.
        let mut c =
            Extractor::parse(r#"REGEXP_EXTRACT(httpRequest.latency, "([0-9]{1,3})")"#).unwrap();
        assert_eq!(text(&mut c, &e).as_deref(), Some("0"));
        let mut q = Extractor::parse(r#"REGEXP_EXTRACT(a, "\"(.)\"")"#).unwrap();
        assert_eq!(text(&mut q, &json!({"a": "x\"y\"z"})).as_deref(), Some("y"));
    }

    #[test]
    fn refuses_bad_expressions() {
        assert_eq!(
            Extractor::parse(r#"REGEXP_EXTRACT(a, "(x)(y)")"#).unwrap_err(),
            ExtractError::Groups(2)
        );
        assert_eq!(
            Extractor::parse(r#"REGEXP_EXTRACT(a, "xy")"#).unwrap_err(),
            ExtractError::Groups(0)
        );
        // Non-capturing groups do not count.
        assert!(Extractor::parse(r#"REGEXP_EXTRACT(a, "(?:x)(y)")"#).is_ok());
        assert!(matches!(
            Extractor::parse(r#"REGEXP_EXTRACT(a, "(x")"#),
            Err(ExtractError::Regex(_))
        ));
        assert!(matches!(
            Extractor::parse("SUBSTR(a)"),
            Err(ExtractError::Function(_))
        ));
        assert_eq!(
            Extractor::parse("EXTRACT(a, b)").unwrap_err(),
            ExtractError::Arity
        );
        assert_eq!(
            Extractor::parse("REGEXP_EXTRACT(a, x)").unwrap_err(),
            ExtractError::RegexLiteral
        );
        assert_eq!(
            Extractor::parse("jsonPayload.x").unwrap_err(),
            ExtractError::Shape
        );
        assert!(matches!(
            Extractor::parse("EXTRACT(a..b)"),
            Err(ExtractError::Field(_))
        ));
    }
}
