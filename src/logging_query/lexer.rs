//! Tokenizer for the Logging query language.
//!
//! Columns are 1-based and counted in `char`s so that error positions line up
//! with what an editor shows for the (possibly non-ASCII) filter text.

use super::ParseError;

/// Comparison operators, in the spelling Google documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Has,
    Re,
    NotRe,
}

impl CmpOp {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Has => ":",
            CmpOp::Re => "=~",
            CmpOp::NotRe => "!~",
        }
    }
}

/// One contiguous chunk of a term: either a bare run or a quoted string
/// (already unescaped). Keeping them apart lets the parser tell
/// `labels."a.b"` (two segments) from `labels.a.b` (three).
#[derive(Debug, Clone)]
pub(crate) struct Piece {
    pub(crate) text: String,
    pub(crate) quoted: bool,
    pub(crate) col: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum TokKind {
    LParen,
    RParen,
    Comma,
    Op(CmpOp),
    And,
    Or,
    Not,
    /// `-` used as a NOT prefix.
    Minus,
    Term(Vec<Piece>),
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) kind: TokKind,
    /// 1-based char column of the first char.
    pub(crate) col: usize,
    /// 1-based char column just past the last char; used to detect adjacency
    /// (`log_id(` is a call, `foo (` is an implicit AND).
    pub(crate) end: usize,
}

impl Token {
    pub(crate) fn describe(&self) -> String {
        match &self.kind {
            TokKind::LParen => "`(`".into(),
            TokKind::RParen => "`)`".into(),
            TokKind::Comma => "`,`".into(),
            TokKind::Op(op) => format!("`{}`", op.as_str()),
            TokKind::And => "`AND`".into(),
            TokKind::Or => "`OR`".into(),
            TokKind::Not => "`NOT`".into(),
            TokKind::Minus => "`-`".into(),
            TokKind::Term(p) => {
                let s: String = p.iter().map(|p| p.text.as_str()).collect();
                let short: String = s.chars().take(30).collect();
                format!("`{short}`")
            }
            TokKind::Eof => "end of query".into(),
        }
    }
}

/// Characters that end a bare word. `-` is absent on purpose: it is only
/// special at the start of a term, so `license-api-7d8f` stays one word.
fn is_delim(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"' | '=' | '!' | '<' | '>' | ':' | ',')
}

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0usize;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // Google documents `--` comments running to the end of the line.
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let single = |kind| Token {
            kind,
            col,
            end: col + 1,
        };
        match c {
            '(' => {
                toks.push(single(TokKind::LParen));
                i += 1;
            }
            ')' => {
                toks.push(single(TokKind::RParen));
                i += 1;
            }
            ',' => {
                toks.push(single(TokKind::Comma));
                i += 1;
            }
            ':' => {
                toks.push(single(TokKind::Op(CmpOp::Has)));
                i += 1;
            }
            '=' | '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('=', Some('~')) => (CmpOp::Re, 2),
                    ('=', _) => (CmpOp::Eq, 1),
                    ('!', Some('=')) => (CmpOp::Ne, 2),
                    ('!', Some('~')) => (CmpOp::NotRe, 2),
                    ('!', _) => {
                        return Err(ParseError::new(
                            col,
                            "expected `!=` or `!~`; use `NOT` or `-` to negate",
                        ));
                    }
                    ('<', Some('=')) => (CmpOp::Le, 2),
                    ('<', _) => (CmpOp::Lt, 1),
                    ('>', Some('=')) => (CmpOp::Ge, 2),
                    _ => (CmpOp::Gt, 1),
                };
                toks.push(Token {
                    kind: TokKind::Op(op),
                    col,
                    end: col + len,
                });
                i += len;
            }
            '-' => {
                let next = chars.get(i + 1).copied();
                let starts_number = match next {
                    Some(d) if d.is_ascii_digit() => true,
                    Some('.') => chars.get(i + 2).is_some_and(|d| d.is_ascii_digit()),
                    _ => false,
                };
                if starts_number {
                    i = lex_term(&chars, i, &mut toks)?;
                } else {
                    toks.push(single(TokKind::Minus));
                    i += 1;
                }
            }
            _ => {
                i = lex_term(&chars, i, &mut toks)?;
            }
        }
    }
    toks.push(Token {
        kind: TokKind::Eof,
        col: chars.len() + 1,
        end: chars.len() + 1,
    });
    Ok(toks)
}

/// Lexes a run of adjacent bare/quoted pieces starting at `start`; returns the
/// index just past it.
fn lex_term(chars: &[char], start: usize, toks: &mut Vec<Token>) -> Result<usize, ParseError> {
    let mut i = start;
    let mut pieces = Vec::new();
    loop {
        match chars.get(i) {
            Some('"') => {
                let (text, next) = lex_string(chars, i)?;
                pieces.push(Piece {
                    text,
                    quoted: true,
                    col: i + 1,
                });
                i = next;
            }
            Some(&c) if !is_delim(c) => {
                let s = i;
                // The first char may be `-` (negative number); after that a
                // bare run continues until a delimiter.
                i += 1;
                while i < chars.len() && !is_delim(chars[i]) {
                    i += 1;
                }
                pieces.push(Piece {
                    text: chars[s..i].iter().collect(),
                    quoted: false,
                    col: s + 1,
                });
            }
            _ => break,
        }
    }
    let kind = match pieces.as_slice() {
        [p] if !p.quoted && p.text == "AND" => TokKind::And,
        [p] if !p.quoted && p.text == "OR" => TokKind::Or,
        [p] if !p.quoted && p.text == "NOT" => TokKind::Not,
        _ => TokKind::Term(pieces),
    };
    toks.push(Token {
        kind,
        col: start + 1,
        end: i + 1,
    });
    Ok(i)
}

/// Unescapes a double-quoted string starting at `start` (the opening quote).
///
/// Unknown escapes keep their backslash so regex literals such as `"\d+"`
/// reach the regex engine intact, which is how filters are written in
/// practice.
fn lex_string(chars: &[char], start: usize) -> Result<(String, usize), ParseError> {
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(ParseError::new(start + 1, "unterminated string literal"));
        };
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return Err(ParseError::new(start + 1, "unterminated string literal"));
                };
                match e {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'u' => {
                        let hex: String = chars.iter().skip(i + 2).take(4).collect();
                        let cp = if hex.len() == 4 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                            u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                        } else {
                            None
                        };
                        match cp {
                            Some(ch) => {
                                out.push(ch);
                                i += 4;
                            }
                            None => {
                                return Err(ParseError::new(
                                    i + 1,
                                    "expected four hex digits after `\\u`",
                                ));
                            }
                        }
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
}
