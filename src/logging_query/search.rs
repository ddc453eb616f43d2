//! Tokens for `SEARCH()`.
//!
//! Google's "Logging query language" page ("Functions", `SEARCH`) says the
//! function matches tokens rather than substrings, case-insensitively, that
//! every term of the query must be found, and that a term in backquotes is
//! an exact phrase (its tokens adjacent and in order). It points to
//! BigQuery's text analysis for how text is cut into tokens; the delimiters
//! below are those of BigQuery's default `LOG_ANALYZER` (whitespace and
//! `[ ] < > ( ) { } | ! ; , ' " * & ? + / : = @ . - $ % \ _`).
//! The percent-encoded delimiters of that analyzer (`%20`, `%2F`, …) are
//! not split on: the docs do not say whether Cloud Logging applies them.
//! Without a field, every value of the entry is searched (the docs do not
//! list the fields a field-less `SEARCH` covers). A term may be found in
//! one value and the next term in another; a phrase lies within one value.

/// True for a char that separates tokens.
pub(crate) fn is_delim(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '[' | ']'
                | '<'
                | '>'
                | '('
                | ')'
                | '{'
                | '}'
                | '|'
                | '!'
                | ';'
                | ','
                | '\''
                | '"'
                | '*'
                | '&'
                | '?'
                | '+'
                | '/'
                | ':'
                | '='
                | '@'
                | '.'
                | '-'
                | '$'
                | '%'
                | '\\'
                | '_'
        )
}

fn tokens(s: &str) -> impl Iterator<Item = &str> + Clone {
    s.split(is_delim).filter(|t| !t.is_empty())
}

/// The query's terms: each a list of lowercased tokens that must appear in
/// order and adjacent (one token, unless the term was a backquoted phrase).
pub(crate) fn compile(query: &str) -> Vec<Vec<String>> {
    let lower = |t: &str| t.chars().flat_map(char::to_lowercase).collect::<String>();
    let mut terms = Vec::new();
    for (i, part) in query.split('`').enumerate() {
        if i % 2 == 1 {
            let phrase: Vec<String> = tokens(part).map(lower).collect();
            if !phrase.is_empty() {
                terms.push(phrase);
            }
        } else {
            terms.extend(tokens(part).map(|t| vec![lower(t)]));
        }
    }
    terms
}

fn eq_token(t: &str, lower: &str) -> bool {
    if t.is_ascii() && lower.is_ascii() {
        return t.eq_ignore_ascii_case(lower);
    }
    t.chars().flat_map(char::to_lowercase).eq(lower.chars())
}

/// Whether `text` holds the term's tokens adjacent and in order.
pub(crate) fn text_has(text: &str, term: &[String]) -> bool {
    let mut it = tokens(text);
    loop {
        let mut probe = it.clone();
        if term
            .iter()
            .all(|want| probe.next().is_some_and(|t| eq_token(t, want)))
        {
            return true;
        }
        if it.next().is_none() {
            return false;
        }
    }
}
