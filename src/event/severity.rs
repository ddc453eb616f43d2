//! LogSeverity names and their ordering, as Cloud Logging defines them
//! (google.logging.type.LogSeverity): DEFAULT 0, DEBUG 100, INFO 200,
//! NOTICE 300, WARNING 400, ERROR 500, CRITICAL 600, ALERT 700, EMERGENCY 800.

/// Canonical names, in order.
pub(crate) const NAMES: [&str; 9] = [
    "DEFAULT",
    "DEBUG",
    "INFO",
    "NOTICE",
    "WARNING",
    "ERROR",
    "CRITICAL",
    "ALERT",
    "EMERGENCY",
];

/// Maps what applications write (`"warn"`, `"Error"`, `"fatal"`, `40`...) to
/// a canonical name. Unknown values give `None`; the caller decides the
/// fallback (Google's agent uses DEFAULT).
pub(crate) fn normalize(raw: &str) -> Option<&'static str> {
    let s = raw.trim();
    if let Ok(n) = s.parse::<i64>() {
        return from_number(n);
    }
    if s.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        if let Ok(x) = s.parse::<f64>() {
            return from_f64(x);
        }
    }
    let mut buf = [0u8; 16];
    if s.len() > buf.len() {
        return None;
    }
    for (d, c) in buf.iter_mut().zip(s.bytes()) {
        *d = c.to_ascii_uppercase();
    }
    let up = std::str::from_utf8(&buf[..s.len()]).ok()?;
    Some(match up {
        "DEFAULT" => "DEFAULT",
        "TRACE" | "DEBUG" | "D" | "FINE" | "FINER" | "FINEST" => "DEBUG",
        "INFO" | "I" | "INFORMATION" => "INFO",
        "NOTICE" | "N" => "NOTICE",
        "WARNING" | "WARN" | "W" => "WARNING",
        "ERROR" | "ERR" | "E" | "SEVERE" => "ERROR",
        "CRITICAL" | "CRIT" | "C" | "FATAL" | "F" => "CRITICAL",
        "ALERT" | "A" => "ALERT",
        "EMERGENCY" | "EMERG" | "PANIC" => "EMERGENCY",
        _ => return None,
    })
}

/// A numeric severity to the nearest lower LogSeverity (450 -> WARNING),
/// as Google's agent maps numbers that are not one of the levels
/// ("Structured logging", special field `severity`). Above 800 is
/// EMERGENCY; negative numbers have no level.
pub(crate) fn from_number(n: i64) -> Option<&'static str> {
    if n < 0 {
        return None;
    }
    Some(NAMES[(n / 100).min(8) as usize])
}

/// Like `from_number` for a JSON number that may be fractional (`450.5`).
pub(crate) fn from_f64(x: f64) -> Option<&'static str> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    from_number(x.floor().min(1e6) as i64)
}

/// The numeric rank of a canonical or loosely written severity.
#[cfg(test)]
pub(crate) fn rank(raw: &str) -> Option<i64> {
    let name = normalize(raw)?;
    NAMES
        .iter()
        .position(|n| *n == name)
        .map(|i| i as i64 * 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_common_spellings() {
        assert_eq!(normalize("warn"), Some("WARNING"));
        assert_eq!(normalize("Error"), Some("ERROR"));
        assert_eq!(normalize("fatal"), Some("CRITICAL"));
        assert_eq!(normalize("500"), Some("ERROR"));
        assert_eq!(normalize("verbose-ish"), None);
        assert_eq!(rank("INFO"), Some(200));
        assert!(rank("EMERGENCY") > rank("ALERT"));
    }
}
