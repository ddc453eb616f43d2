//! Recursive-descent parser producing the compiled [`Node`] tree.
//!
//! Precedence follows Google's documentation rather than the usual
//! programming-language convention: `NOT`/`-` bind tightest, then `OR`, then
//! `AND` (explicit or implicit), so `a OR b AND c` is `(a OR b) AND c`.

use regex::RegexBuilder;
use serde_json::Value;

use super::ast::{Captures, CastTo, Cmp, FieldPath, Lhs, Lit, Node, Rhs, Zone};

use super::ast::{parse_cidr, parse_duration, parse_number, parse_time, severity_level};
use super::fields::{self, Kind, Resolved};
use super::lexer::{CmpOp, Piece, TokKind, Token};

use super::lexer::tokenize;

use super::ParseError;

/// Bounds recursion so hostile input (`((((…` or `NOT NOT NOT …`) yields an
/// error instead of overflowing the stack.
const MAX_DEPTH: usize = 64;

/// Keeps a compiled regex from hogging memory; far above any real filter.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A comparison's left-hand side with its resolved type.
#[derive(Debug, Clone)]
struct Target {
    lhs: Lhs,
    res: Resolved,
}

#[derive(Clone, Copy)]
enum Mode<'a> {
    /// Ordinary boolean expression.
    Top,
    /// Inside `field OP ( … )`: every leaf is a value compared with `field`.
    Value(&'a Target, CmpOp),
}

/// A function argument: a term, or a nested call such as `TIMEZONE("…")`.
enum Arg {
    Term(Vec<Piece>, usize),
    Call(String, Vec<Arg>, usize),
}

impl Arg {
    fn col(&self) -> usize {
        match self {
            Arg::Term(_, c) | Arg::Call(_, _, c) => *c,
        }
    }
}

/// What a call compiled to: a restriction on its own, or a value that a
/// comparison must follow (`regexp_extract(…) = "x"`).
enum Call {
    Bool(Node),
    Value(Target),
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
    /// The first undefined-field error. Reported only once the query is
    /// syntactically whole, so a syntax error (usually the real mistake)
    /// is what the user sees first.
    undefined: Option<ParseError>,
}

pub(crate) fn parse(src: &str) -> Result<Node, ParseError> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        undefined: None,
    };
    if matches!(p.peek().kind, TokKind::Eof) {
        return Ok(Node::True);
    }
    let node = p.parse_and(Mode::Top)?;
    let t = p.peek();
    match t.kind {
        TokKind::Eof => match p.undefined.take() {
            Some(e) => Err(e),
            None => Ok(node),
        },
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
            (TokKind::Term(pieces), Mode::Value(target, op)) => {
                self.next();
                compile_cmp(target, op, pieces, t.col)
            }
            (TokKind::Term(pieces), Mode::Top) => {
                self.next();
                let nt = self.peek().clone();
                match nt.kind {
                    TokKind::LParen
                        if nt.col == t.end && pieces.len() == 1 && !pieces[0].quoted =>
                    {
                        let args = self.parse_args()?;
                        match self.compile_call(&pieces[0].text, t.col, args)? {
                            Call::Bool(n) => Ok(n),
                            Call::Value(target) => {
                                let op_tok = self.next();
                                let TokKind::Op(op) = op_tok.kind else {
                                    return Err(ParseError::new(
                                        op_tok.col,
                                        format!(
                                            "expected a comparison after `{}(…)`, found {}",
                                            pieces[0].text,
                                            op_tok.describe()
                                        ),
                                    ));
                                };
                                self.parse_rhs(target, op, &op_tok)
                            }
                        }
                    }
                    TokKind::Op(op) => {
                        self.next();
                        let path = self.field(pieces, t.col)?;
                        let res = self.resolve(&path.0, &path.1);
                        let target = Target {
                            lhs: Lhs::Path(path.0),
                            res,
                        };
                        self.parse_rhs(target, op, &nt)
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

    fn field(&self, pieces: &[Piece], col: usize) -> Result<(FieldPath, Vec<usize>), ParseError> {
        FieldPath::from_pieces_with_cols(pieces, col)
    }

    /// The field's type; an undefined LogEntry field is remembered as the
    /// query's error and treated as a payload field meanwhile.
    fn resolve(&mut self, path: &FieldPath, cols: &[usize]) -> Resolved {
        match fields::resolve(path.segments(), cols) {
            Ok(r) => r,
            Err(e) => {
                self.undefined.get_or_insert(e);
                Resolved::DYNAMIC
            }
        }
    }

    fn parse_rhs(&mut self, target: Target, op: CmpOp, op_tok: &Token) -> Result<Node, ParseError> {
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
        let mode = Mode::Value(&target, op);
        // A value is a single (possibly negated) literal or a parenthesised
        // value expression; anything after it belongs to the outer query.
        let node = self.parse_unary(mode)?;
        self.depth -= 1;
        Ok(node)
    }

    /// Parses `( arg, … )`; the opening paren is the next token.
    fn parse_args(&mut self) -> Result<Vec<Arg>, ParseError> {
        let open = self.next(); // `(`
        self.enter(open.col)?;
        let mut args = Vec::new();
        loop {
            let t = self.next();
            match t.kind {
                TokKind::RParen if args.is_empty() => break,
                TokKind::Term(p) => {
                    let nt = self.peek().clone();
                    let arg = if matches!(nt.kind, TokKind::LParen)
                        && nt.col == t.end
                        && p.len() == 1
                        && !p[0].quoted
                    {
                        Arg::Call(p[0].text.clone(), self.parse_args()?, t.col)
                    } else {
                        Arg::Term(p, t.col)
                    };
                    args.push(arg);
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
        self.depth -= 1;
        Ok(args)
    }

    fn path_arg(&mut self, name: &str, a: &Arg) -> Result<(FieldPath, Resolved), ParseError> {
        match a {
            Arg::Term(p, c) => {
                let (path, cols) = self.field(p, *c)?;
                let res = self.resolve(&path, &cols);
                Ok((path, res))
            }
            Arg::Call(..) => Err(ParseError::new(
                a.col(),
                format!("`{name}` expects a field name here"),
            )),
        }
    }

    /// Function names are case-insensitive like the rest of the language
    /// ("Logging query language", "Functions").
    fn compile_call(&mut self, name: &str, col: usize, args: Vec<Arg>) -> Result<Call, ParseError> {
        let lname = name.to_ascii_lowercase();
        let arity = |lo: usize, hi: usize| {
            if (lo..=hi).contains(&args.len()) {
                Ok(())
            } else {
                let n = if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo} to {hi}")
                };
                Err(ParseError::new(
                    col,
                    format!("`{name}` takes {n} argument(s), got {}", args.len()),
                ))
            }
        };
        match lname.as_str() {
            "log_id" => {
                arity(1, 1)?;
                let id = text_arg(name, &args[0])?;
                Ok(Call::Bool(Node::LogId {
                    plain: format!("/logs/{id}"),
                    encoded: format!("/logs/{}", id.replace('/', "%2F")),
                }))
            }
            "ip_in_net" => {
                arity(2, 2)?;
                let (path, _) = self.path_arg(name, &args[0])?;
                let (net, ncol) = (text_arg(name, &args[1])?, args[1].col());
                let net = parse_cidr(&net).ok_or_else(|| {
                    ParseError::new(
                        ncol,
                        format!("expected an IP network such as \"10.0.0.0/8\", found `{net}`"),
                    )
                })?;
                Ok(Call::Bool(Node::IpInNet { path, net }))
            }
            "search" => {
                arity(1, 2)?;
                let path = if args.len() == 2 {
                    Some(self.path_arg(name, &args[0])?.0)
                } else {
                    None
                };
                let q = args.last().expect("arity checked");
                let terms = super::search::compile(&text_arg(name, q)?);
                if terms.is_empty() {
                    return Err(ParseError::new(q.col(), "SEARCH needs at least one token"));
                }
                Ok(Call::Bool(Node::Search { path, terms }))
            }
            "sample" => {
                arity(2, 2)?;
                let (path, _) = self.path_arg(name, &args[0])?;
                let f = text_arg(name, &args[1])?;
                let frac = parse_number(&f)
                    .filter(|x| (0.0..=1.0).contains(x))
                    .ok_or_else(|| {
                        ParseError::new(
                            args[1].col(),
                            format!("expected a fraction between 0 and 1, found `{f}`"),
                        )
                    })?;
                // Scaled to the 64-bit hash range; 1.0 saturates to "all".
                let below = if frac >= 1.0 {
                    u64::MAX
                } else {
                    (frac * 18_446_744_073_709_551_616.0) as u64
                };
                Ok(Call::Bool(Node::Sample { path, below }))
            }
            "source" => {
                arity(1, 1)?;
                let r = text_arg(name, &args[0])?;
                let r = r.trim_end_matches('/');
                let ok = [
                    "projects/",
                    "folders/",
                    "organizations/",
                    "billingAccounts/",
                ]
                .iter()
                .any(|p| {
                    r.strip_prefix(p)
                        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
                });
                if !ok {
                    return Err(ParseError::new(
                        args[0].col(),
                        format!(
                            "expected a resource such as projects/PROJECT_ID, folders/FOLDER_ID, \
                             organizations/ORGANIZATION_ID or billingAccounts/ACCOUNT_ID, found `{r}`"
                        ),
                    ));
                }
                Ok(Call::Bool(Node::Source {
                    prefix: format!("{r}/logs/"),
                }))
            }
            "cast" => {
                arity(2, 3)?;
                let (path, res) = self.path_arg(name, &args[0])?;
                let ty = text_arg(name, &args[1])?;
                let (to, kind) = match ty.to_ascii_uppercase().as_str() {
                    "STRING" => (CastTo::String, Kind::Str),
                    "INT64" => (CastTo::Int64, Kind::Int),
                    "FLOAT64" => (CastTo::Float64, Kind::Int),
                    "BOOL" => (CastTo::Bool, Kind::Bool),
                    _ => {
                        return Err(ParseError::new(
                            args[1].col(),
                            format!(
                                "cast to `{ty}` is not supported; expected STRING, INT64, \
                                 FLOAT64 or BOOL"
                            ),
                        ))
                    }
                };
                if to != CastTo::String && args.len() > 2 {
                    return Err(ParseError::new(
                        args[2].col(),
                        "TIMEZONE applies only to a cast to STRING",
                    ));
                }
                let tz = match args.get(2) {
                    None => None,
                    Some(Arg::Call(f, a, c)) if f.eq_ignore_ascii_case("TIMEZONE") => {
                        if a.len() != 1 {
                            return Err(ParseError::new(*c, "`TIMEZONE` takes 1 argument"));
                        }
                        if res.kind != Kind::Timestamp {
                            return Err(ParseError::new(
                                *c,
                                "TIMEZONE applies only to a timestamp field",
                            ));
                        }
                        let z = text_arg("TIMEZONE", &a[0])?;
                        let zone = parse_offset(&z)
                            .map(Zone::Fixed)
                            .or_else(|| z.trim().parse::<chrono_tz::Tz>().ok().map(Zone::Named));
                        Some(zone.ok_or_else(|| {
                            ParseError::new(
                                a[0].col(),
                                format!(
                                    "unknown time zone `{z}`; expected an IANA name such as \
                                     \"America/New_York\", UTC, or an offset such as \"-05:00\""
                                ),
                            )
                        })?)
                    }
                    Some(a) => {
                        return Err(ParseError::new(
                            a.col(),
                            "expected TIMEZONE(\"…\") as the third argument of cast",
                        ));
                    }
                };
                Ok(Call::Value(Target {
                    lhs: Lhs::Cast { path, to, tz },
                    res: Resolved {
                        kind,
                        defaulted: false,
                    },
                }))
            }
            "regexp_extract" => {
                arity(2, 2)?;
                let (path, _) = self.path_arg(name, &args[0])?;
                let re = build_regex(&text_arg(name, &args[1])?, args[1].col())?;
                let groups = re.captures_len() - 1;
                if groups > 1 {
                    return Err(ParseError::new(
                        args[1].col(),
                        format!(
                            "the regular expression must have at most one capture group (it has {groups})"
                        ),
                    ));
                }
                Ok(Call::Value(Target {
                    lhs: Lhs::Extract {
                        path,
                        re: Captures::new(re),
                    },
                    res: Resolved {
                        kind: Kind::Str,
                        defaulted: false,
                    },
                }))
            }
            _ => Err(ParseError::new(col, format!("unknown function `{name}`"))),
        }
    }
}

fn text_arg(func: &str, a: &Arg) -> Result<String, ParseError> {
    match a {
        Arg::Term(p, _) => Ok(concat(p)),
        Arg::Call(..) => Err(ParseError::new(
            a.col(),
            format!("`{func}` expects a value here, not a function call"),
        )),
    }
}

/// `UTC`, `Z`, `GMT`, `Etc/UTC`, or `±HH:MM` / `±HHMM` / `±HH`.
fn parse_offset(s: &str) -> Option<chrono::FixedOffset> {
    let s = s.trim();
    if ["UTC", "Z", "GMT", "Etc/UTC", "Etc/GMT"]
        .iter()
        .any(|z| z.eq_ignore_ascii_case(s))
    {
        return chrono::FixedOffset::east_opt(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

fn build_regex(raw: &str, col: usize) -> Result<regex::Regex, ParseError> {
    RegexBuilder::new(raw)
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
        })
}

/// The value a defaulted LogEntry field has when unset (proto3 defaults).
fn default_value(kind: Kind) -> Option<Value> {
    Some(match kind {
        Kind::Str => Value::String(String::new()),
        Kind::Int => Value::from(0),
        Kind::Bool => Value::Bool(false),
        Kind::Severity => Value::String("DEFAULT".into()),
        _ => return None,
    })
}

fn compile_cmp(
    target: &Target,
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
    let kind = target.res.kind;
    let path = target.lhs.path();
    let convert_err = |what: &str| {
        ParseError::new(
            col,
            format!(
                "`{path}` is {}; expected {what}, found `{raw}`",
                kind.describe()
            ),
        )
    };
    let rhs = if op == CmpOp::Has && bare && raw == "*" {
        Rhs::Present
    } else if bare && raw == "NULL_VALUE" {
        if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            return Err(ParseError::new(
                col,
                "NULL_VALUE can only be compared with `=` or `!=`",
            ));
        }
        Rhs::Null
    } else if matches!(op, CmpOp::Re | CmpOp::NotRe) {
        Rhs::Regex(build_regex(&raw, col)?)
    } else if !ordered {
        Rhs::Value(Lit::new(&raw))
    } else {
        match kind {
            Kind::Severity => Rhs::Severity(severity_level(&raw).ok_or_else(|| {
                ParseError::new(
                    col,
                    format!(
                        "unknown severity `{raw}`; expected DEFAULT, DEBUG, INFO, NOTICE, WARNING, \
                         ERROR, CRITICAL, ALERT, EMERGENCY or a number"
                    ),
                )
            })?),
            Kind::Timestamp => Rhs::Time(parse_time(&raw).ok_or_else(|| {
                ParseError::new(
                    col,
                    format!(
                        "expected an RFC 3339 timestamp such as \"2025-11-30T00:00:00Z\", found `{raw}`"
                    ),
                )
            })?),
            Kind::Duration => Rhs::Duration(
                parse_duration(&raw)
                    .ok_or_else(|| convert_err("a duration such as \"1.5s\" or \"150ms\""))?,
            ),
            Kind::Int => Rhs::Num(parse_number(raw.trim()).ok_or_else(|| convert_err("a number"))?),
            Kind::Bool => Rhs::Bool(if raw.eq_ignore_ascii_case("true") {
                true
            } else if raw.eq_ignore_ascii_case("false") {
                false
            } else {
                return Err(convert_err("true or false"));
            }),
            Kind::Str => Rhs::Text(Lit::new(&raw).lower),
            Kind::Dynamic | Kind::Message => Rhs::Value(Lit::new(&raw)),
        }
    };
    let positive = match op {
        CmpOp::Ne => CmpOp::Eq,
        CmpOp::NotRe => CmpOp::Re,
        op => op,
    };
    let absent = match (&rhs, &target.lhs) {
        (Rhs::Present | Rhs::Null, _) => None,
        (_, Lhs::Path(_)) if target.res.defaulted => {
            default_value(kind).map(|d| super::eval::test(positive, &rhs, &d))
        }
        _ => None,
    };
    Ok(Node::Cmp(Box::new(Cmp {
        lhs: target.lhs.clone(),
        op,
        rhs,
        absent,
    })))
}
