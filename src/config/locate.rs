//! Finds the line of a key in the pipeline file, so every error can say
//! where to look. TOML parsing through serde loses spans once values are
//! buffered (tagged enums), so errors carry a key path and this maps the
//! path back to a line by scanning table headers and keys.

/// 1-based line of `path` (e.g. `["sinks", "bq", "inputs"]`), or of the
/// nearest enclosing table that exists.
pub(crate) fn locate(src: &str, path: &[&str]) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None; // (matched segments, line)
    let mut header: Vec<String> = Vec::new();
    for (i, raw) in src.lines().enumerate() {
        let line_no = i + 1;
        let t = raw.trim();
        if t.starts_with('[') {
            header = parse_header(t);
            let n = prefix_len(&header, path);
            let whole = n == header.len() || n == path.len();
            if whole && n > 0 && best.is_none_or(|(b, _)| n > b) {
                best = Some((n, line_no));
            }
            continue;
        }
        let Some(key) = key_of(t) else { continue };
        let mut full = header.clone();
        full.extend(key);
        let n = prefix_len(&full, path);
        if n == full.len() && n > 0 && best.is_none_or(|(b, _)| n > b) {
            best = Some((n, line_no));
        }
    }
    best.map(|(_, l)| l)
}

fn prefix_len(have: &[String], want: &[&str]) -> usize {
    have.iter()
        .zip(want)
        .take_while(|(a, b)| a.as_str() == **b)
        .count()
}

fn parse_header(t: &str) -> Vec<String> {
    let inner = t.trim_start_matches('[').split(']').next().unwrap_or("");
    split_dotted(inner)
}

fn key_of(t: &str) -> Option<Vec<String>> {
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let eq = find_unquoted(t, '=')?;
    Some(split_dotted(&t[..eq]))
}

fn find_unquoted(s: &str, c: char) -> Option<usize> {
    let mut quote = None;
    for (i, ch) in s.char_indices() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => {}
            None if ch == '"' || ch == '\'' => quote = Some(ch),
            None if ch == c => return Some(i),
            None => {}
        }
    }
    None
}

fn split_dotted(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    for ch in s.chars() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => cur.push(ch),
            None if ch == '"' || ch == '\'' => quote = Some(ch),
            None if ch == '.' => out.push(std::mem::take(&mut cur).trim().to_string()),
            None => cur.push(ch),
        }
    }
    out.push(cur.trim().to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_tables() {
        let src = "[global]\ndata_dir = \"/x\"\n\n[sinks.\"my bq\"]\ntype = \"console\"\ninputs = [\"a\"]\n[sources.in]\ntype=\"stdin\"\n";
        assert_eq!(locate(src, &["sinks", "my bq", "inputs"]), Some(6));
        assert_eq!(locate(src, &["sinks", "my bq", "nope"]), Some(4));
        assert_eq!(locate(src, &["sources", "in", "type"]), Some(8));
        assert_eq!(locate(src, &["global", "data_dir"]), Some(2));
        assert_eq!(locate(src, &["transforms"]), None);
    }
}
