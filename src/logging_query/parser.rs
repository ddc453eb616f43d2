//! Recursive-descent parser producing the compiled [`Node`] tree.
//!
//! Precedence follows Google's documentation rather than the usual
//! programming-language convention: `NOT`/`-` bind tightest, then `OR`, then
//! `AND` (explicit or implicit), so `a OR b AND c` is `(a OR b) AND c`.

use regex::RegexBuilder;

use super::ast::{Cmp, FieldPath, Lit, Node, Rhs};

use super::ast::{parse_cidr, parse_time, severity_level};
use super::lexer::{CmpOp, Piece, TokKind, Token};

use super::lexer::tokenize;

use super::ParseError;

/// Bounds recursion so hostile input (`((((…` or `NOT NOT NOT …`) yields an
/// error instead of overflowing the stack.
const MAX_DEPTH: usize = 64;

/// Keeps a compiled regex from hogging memory; far above any real filter.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Clone, Copy)]
enum Mode<'a> {
    /// Ordinary boolean expression.
    Top,
    /// Inside `field OP ( … )`: every leaf is a value compared with `field`.
    Value(&'a FieldPath, CmpOp),
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

pub fn parse(src: &str) -> Result<Node, ParseError> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    if matches!(p.peek().kind, TokKind::Eof) {
        return Ok(Node::True);
    }
    let node = p.parse_and(Mode::Top)?;
    let t = p.peek();
    match t.kind {
        TokKind::Eof => Ok(node),
        TokKind::RParen => Err(ParseError::new(
            t.col,
            "unexpected `)` without matching `(`",
        )),
        _ => Err(ParseError::new(
            t.col,
            format!(
                "expected `AND`, `OR` or end of query, found {}",
                t.describe()
            ),
        )),
    }
}

fn starts_operand(k: &TokKind) -> bool {
    matches!(
        k,
        TokKind::Term(_) | TokKind::LParen | TokKind::Not | TokKind::Minus
    )
}

fn what(mode: Mode<'_>) -> &'static str {
    match mode {
        Mode::Top => "an expression",
        Mode::Value(..) => "a value",
    }
}

fn concat(pieces: &[Piece]) -> String {
    pieces.iter().map(|p| p.text.as_str()).collect()
}

impl Parser {
    fn peek(&self) -> &Token {
        // The token list always ends with Eof and `next` never moves past it.
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn enter(&mut self, col: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::new(col, "expression nested too deeply"));
        }
        Ok(())
    }

    fn require_operand(&self, mode: Mode<'_>, after: &str) -> Result<(), ParseError> {
        let t = self.peek();
        if starts_operand(&t.kind) {
            Ok(())
        } else {
            Err(ParseError::new(
                t.col,
                format!(
                    "expected {} after `{after}`, found {}",
                    what(mode),
                    t.describe()
                ),
            ))
        }
    }

    fn parse_and(&mut self, mode: Mode<'_>) -> Result<Node, ParseError> {
        let mut items = vec![self.parse_or(mode)?];
        loop {
            let k = &self.peek().kind;
            if matches!(k, TokKind::And) {
                self.next();
                self.require_operand(mode, "AND")?;
            } else if !starts_operand(k) {
                break;
            }
            // Adjacent terms with no operator are an implicit AND.
            items.push(self.parse_or(mode)?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Node::True)
        } else {
            Node::And(items)
        })
    }

    fn parse_or(&mut self, mode: Mode<'_>) -> Result<Node, ParseError> {
        let mut items = vec![self.parse_unary(mode)?];
        while matches!(self.peek().kind, TokKind::Or) {
            self.next();
            self.require_operand(mode, "OR")?;
            items.push(self.parse_unary(mode)?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Node::True)
        } else {
            Node::Or(items)
        })
    }

    fn parse_unary(&mut self, mode: Mode<'_>) -> Result<Node, ParseError> {
        let t = self.peek();
        let word = match t.kind {
            TokKind::Not => "NOT",
            TokKind::Minus => "-",
            _ => return self.parse_primary(mode),
        };
        let col = t.col;
        self.next();
        self.require_operand(mode, word)?;
        self.enter(col)?;
        let inner = self.parse_unary(mode)?;
        self.depth -= 1;
        Ok(Node::Not(Box::new(inner)))
    }

    /// `( … )` in either mode; the opening paren is the next token.
    fn parse_group(&mut self, mode: Mode<'_>) -> Result<Node, ParseError> {
        let open = self.next();
        self.enter(open.col)?;
        self.require_operand(mode, "(")?;
        let inner = self.parse_and(mode)?;
        let t = self.peek();
        if !matches!(t.kind, TokKind::RParen) {
            return Err(ParseError::new(
                t.col,
                format!(
                    "expected `)` to close `(` at column {}, found {}",
                    open.col,
                    t.describe()
                ),
            ));
        }
        self.next();
        self.depth -= 1;
        Ok(inner)
    }

    fn parse_primary(&mut self, mode: Mode<'_>) -> Result<Node, ParseError> {
        let t = self.peek().clone();
        match (&t.kind, mode) {
            (TokKind::LParen, _) => self.parse_group(mode),
            (TokKind::Term(pieces), Mode::Value(path, op)) => {
                self.next();
                compile_cmp(path.clone(), op, pieces, t.col)
            }
            (TokKind::Term(pieces), Mode::Top) => {
                self.next();
                let nt = self.peek().clone();
                match nt.kind {
                    TokKind::LParen
                        if nt.col == t.end && pieces.len() == 1 && !pieces[0].quoted =>
                    {
                        self.parse_call(&pieces[0].text, t.col)
                    }
                    TokKind::Op(op) => {
                        self.next();
                        let path = FieldPath::from_pieces(pieces, t.col)?;
                        self.parse_rhs(path, op, &nt)
                    }
                    _ => Ok(Node::Global(Lit::new(&concat(pieces)))),
                }
            }
            (TokKind::Op(op), Mode::Top) => Err(ParseError::new(
                t.col,
                format!("expected a field name before `{}`", op.as_str()),
            )),
            _ => Err(ParseError::new(
                t.col,
                format!("expected {}, found {}", what(mode), t.describe()),
            )),
        }
    }

    fn parse_rhs(
        &mut self,
        path: FieldPath,
        op: CmpOp,
        op_tok: &Token,
    ) -> Result<Node, ParseError> {
        let t = self.peek();
        if !starts_operand(&t.kind) {
            return Err(ParseError::new(
                t.col,
                format!(
                    "expected a value after `{}`, found {}",
                    op.as_str(),
                    t.describe()
                ),
            ));
        }
        self.enter(op_tok.col)?;
        let mode = Mode::Value(&path, op);
        // A value is a single (possibly negated) literal or a parenthesised
        // value expression; anything after it belongs to the outer query.
        let node = self.parse_unary(mode)?;
        self.depth -= 1;
        Ok(node)
    }

    fn parse_call(&mut self, name: &str, col: usize) -> Result<Node, ParseError> {
        self.next(); // `(`
        let mut args: Vec<(Vec<Piece>, usize)> = Vec::new();
        loop {
            let t = self.next();
            match t.kind {
                TokKind::RParen if args.is_empty() => break,
                TokKind::Term(p) => {
                    args.push((p, t.col));
                    let sep = self.next();
                    match sep.kind {
                        TokKind::Comma => {}
                        TokKind::RParen => break,
                        _ => {
                            return Err(ParseError::new(
                                sep.col,
                                format!("expected `,` or `)`, found {}", sep.describe()),
                            ));
                        }
                    }
                }
                _ => {
                    return Err(ParseError::new(
                        t.col,
                        format!("expected a function argument, found {}", t.describe()),
                    ));
                }
            }
        }
        let arity = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(ParseError::new(
                    col,
                    format!("`{name}` takes {n} argument(s), got {}", args.len()),
                ))
            }
        };
        match name {
            "log_id" => {
                arity(1)?;
                let id = concat(&args[0].0);
                Ok(Node::LogId {
                    plain: format!("/logs/{id}"),
                    encoded: format!("/logs/{}", id.replace('/', "%2F")),
                })
            }
            "ip_in_net" => {
                arity(2)?;
                let path = FieldPath::from_pieces(&args[0].0, args[0].1)?;
                let (net, ncol) = (concat(&args[1].0), args[1].1);
                let net = parse_cidr(&net).ok_or_else(|| {
                    ParseError::new(
                        ncol,
                        format!("expected an IP network such as \"10.0.0.0/8\", found `{net}`"),
                    )
                })?;
                Ok(Node::IpInNet { path, net })
            }
            "SEARCH" | "search" | "sample" | "cast" | "regexp_extract" => Err(ParseError::new(
                col,
                format!("function `{name}` is not supported"),
            )),
            _ => Err(ParseError::new(col, format!("unknown function `{name}`"))),
        }
    }
}

fn compile_cmp(
    path: FieldPath,
    op: CmpOp,
    pieces: &[Piece],
    col: usize,
) -> Result<Node, ParseError> {
    let raw = concat(pieces);
    let bare = pieces.iter().all(|p| !p.quoted);
    let ordered = matches!(
        op,
        CmpOp::Eq | CmpOp::Ne | CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge
    );
    let rhs = if op == CmpOp::Has && bare && raw == "*" {
        Rhs::Present
    } else if matches!(op, CmpOp::Re | CmpOp::NotRe) {
        let re = RegexBuilder::new(&raw)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| {
                let msg = e.to_string();
                let detail = msg
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string();
                ParseError::new(col, format!("invalid regular expression: {detail}"))
            })?;
        Rhs::Regex(re)
    } else if ordered && path.is_single("severity") {
        let lvl = severity_level(&raw).ok_or_else(|| {
            ParseError::new(
                col,
                format!(
                    "unknown severity `{raw}`; expected DEFAULT, DEBUG, INFO, NOTICE, WARNING, \
                     ERROR, CRITICAL, ALERT, EMERGENCY or a number"
                ),
            )
        })?;
        Rhs::Severity(lvl)
    } else if ordered && (path.is_single("timestamp") || path.is_single("receiveTimestamp")) {
        let t = parse_time(&raw).ok_or_else(|| {
            ParseError::new(
                col,
                format!(
                    "expected an RFC 3339 timestamp such as \"2025-11-30T00:00:00Z\", found `{raw}`"
                ),
            )
        })?;
        Rhs::Time(t)
    } else {
        Rhs::Value(Lit::new(&raw))
    };
    Ok(Node::Cmp(Box::new(Cmp { path, op, rhs })))
}
