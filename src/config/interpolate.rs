//! `${VAR}` and `${VAR:-default}` in pipeline files, resolved before TOML
//! parsing so a value can be anything TOML accepts. `$$` is a literal `$`.
//! Substitution never adds lines, so error line numbers stay true.

/// A variable that is unset and has no default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingVar {
    pub(crate) name: String,
    pub(crate) line: usize,
}

/// Resolves every reference with `lookup`; returns the text or all the
/// missing variables.
pub fn interpolate(
    src: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<MissingVar>> {
    let mut out = String::with_capacity(src.len());
    let mut missing = Vec::new();
    let mut rest = src;
    let mut line = 1;
    while let Some(i) = rest.find('$') {
        let before = &rest[..i];
        line += before.matches('\n').count();
        out.push_str(before);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
            continue;
        }
        let Some(body_start) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body_start
            .find('}')
            .filter(|e| !body_start[..*e].contains('\n'))
        else {
            out.push('$');
            rest = after;
            continue;
        };
        let body = &body_start[..end];
        let (name, default) = match body.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (body, None),
        };
        let valid =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            out.push('$');
            rest = after;
            continue;
        }
        match (
            lookup(name).filter(|v| !v.is_empty() || default.is_none()),
            default,
        ) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => missing.push(MissingVar {
                name: name.to_string(),
                line,
            }),
        }
        rest = &body_start[end + 1..];
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "A" => Some("alpha".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_and_defaults() {
        assert_eq!(
            interpolate("x=${A} y=${B:-bee} $$HOME $x", env).unwrap(),
            "x=alpha y=bee $HOME $x"
        );
        assert_eq!(interpolate("${EMPTY:-d}", env).unwrap(), "d");
        assert_eq!(interpolate("${EMPTY}", env).unwrap(), "");
    }

    #[test]
    fn reports_missing_with_line() {
        let e = interpolate("a\nb=${NOPE}\n${ALSO}", env).unwrap_err();
        assert_eq!(
            e,
            vec![
                MissingVar {
                    name: "NOPE".into(),
                    line: 2
                },
                MissingVar {
                    name: "ALSO".into(),
                    line: 3
                }
            ]
        );
    }
}
