//! `LogEntry` -> the `json` object of an insertAll row, in one pass.
//!
//! The encoder walks the entry once, writing JSON bytes directly (no
//! intermediate `Value` tree), while it checks every key against the
//! table's [`Schema`]: keys are matched exactly when they are `LogEntry`
//! fields and normalized otherwise (see `schema`), values are checked
//! against (or converted to) their column's type, and keys the table does
//! not have yet become new NULLABLE columns in the working schema when
//! `schema_update = "add_fields"`. The sink patches the table before it
//! sends a row that needed new columns.
//!
//! `null` values are left out of the row (a missing field is NULL).
//! Columns added by a row that later turns out to conflict stay in the
//! working schema: they are NULLABLE, so that costs nothing but a column.

use serde_json::{Map, Number, Value};

use crate::event::json_out;

use super::schema::{self, Field, InferError, PayloadColumn, Record, Schema, Type};

/// Why a row cannot be written; the message names field paths and types,
/// never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Dotted path of the offending field (normalized names).
    pub(crate) path: String,
    pub(crate) message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "field `{}`: {}", self.path, self.message)
        }
    }
}

/// Internal error that collects the path while unwinding.
struct Fail {
    rev_path: Vec<String>,
    message: String,
}

impl Fail {
    fn new(message: impl Into<String>) -> Fail {
        Fail {
            rev_path: Vec::new(),
            message: message.into(),
        }
    }

    fn at(mut self, name: &str) -> Fail {
        self.rev_path.push(name.to_string());
        self
    }

    fn finish(self) -> RowError {
        let mut p = self.rev_path;
        p.reverse();
        RowError {
            path: p.join("."),
            message: self.message,
        }
    }
}

struct Cx<'a> {
    add_fields: bool,
    columns: &'a mut usize,
    added: bool,
}

/// What encoding one row did to the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoded {
    /// The row needed columns the table did not have.
    pub(crate) added_fields: bool,
}

/// Appends the row's JSON object to `out`. On error `out` is left as it was.
pub fn encode(
    log: &Value,
    schema: &mut Schema,
    add_fields: bool,
    out: &mut Vec<u8>,
) -> Result<Encoded, RowError> {
    let start = out.len();
    let Value::Object(m) = log else {
        return Err(RowError {
            path: String::new(),
            message: "the event is not a JSON object".into(),
        });
    };
    let Schema { root, columns } = schema;
    let mut cx = Cx {
        add_fields,
        columns,
        added: false,
    };
    match write_record(m, root, RecKind::Plain, true, 0, &mut cx, out) {
        Ok(()) => Ok(Encoded {
            added_fields: cx.added,
        }),
        Err(e) => {
            out.truncate(start);
            Err(e.finish())
        }
    }
}

/// How a record's keys map to column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecKind {
    /// Normalized (lowercased) unless a LogEntry field.
    Plain,
    /// A `map<string, string>`: normalized keys, STRING values.
    StringMap,
    /// Keys keep their case (inside the audit log record).
    KeepCase,
    /// A typed `jsonPayload` column: payload rules, `@type` dropped.
    Typed,
    /// `protopayload_auditlog` itself: keep-case, `@type` dropped, Struct
    /// fields as `*Json` text.
    Audit,
}

fn write_key(name: &str, first: &mut bool, out: &mut Vec<u8>) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Finds the column `name` in `rec`, or adds `make()` as a new one.
fn column(
    rec: &mut Record,
    name: &str,
    cx: &mut Cx<'_>,
    make: impl FnOnce() -> Field,
) -> Result<usize, Fail> {
    if let Some(i) = rec.index_of(name) {
        return Ok(i);
    }
    if !cx.add_fields {
        return Err(Fail::new(
            "not in the table schema (schema_update = \"reject\")",
        ));
    }
    let f = make();
    let add = schema::columns_of(&f);
    if *cx.columns + add > schema::MAX_COLUMNS {
        return Err(Fail::new(format!(
            "the table would exceed BigQuery's {} columns",
            schema::MAX_COLUMNS
        )));
    }
    *cx.columns += add;
    cx.added = true;
    rec.push(f);
    Ok(rec.fields.len() - 1)
}

fn write_record(
    m: &Map<String, Value>,
    rec: &mut Record,
    kind: RecKind,
    top: bool,
    depth: usize,
    cx: &mut Cx<'_>,
    out: &mut Vec<u8>,
) -> Result<(), Fail> {
    out.push(b'{');
    let mut first = true;
    let string_map = kind == RecKind::StringMap;
    let keep_case = matches!(kind, RecKind::KeepCase | RecKind::Audit);
    // Names this object produced by normalizing a key, to give colliding
    // keys (`Foo` and `foo`) distinct columns. Empty unless a key needed
    // normalizing.
    let mut renamed: Vec<String> = Vec::new();
    for (k, v) in m {
        if v.is_null() {
            continue;
        }
        if matches!(kind, RecKind::Typed | RecKind::Audit) && k == "@type" {
            // The column name carries the type.
            continue;
        }
        if top {
            if let (Some(pc), Value::Object(pm)) = (schema::payload_column(k, v), v) {
                if !pm
                    .iter()
                    .any(|(pk, pv)| pk != "@type" && schema::has_leaf(pv))
                {
                    continue;
                }
                let (name, kind) = match &pc {
                    PayloadColumn::Typed(n) => (n.as_str(), RecKind::Typed),
                    PayloadColumn::AuditLog => (schema::AUDIT_LOG_COLUMN, RecKind::Audit),
                };
                let idx = column(rec, name, cx, || match &pc {
                    PayloadColumn::Typed(n) => Field::open_record(n, false),
                    PayloadColumn::AuditLog => Schema::audit_log_field(),
                })
                .map_err(|e| e.at(name))?;
                write_key(name, &mut first, out);
                let f = &mut rec.fields[idx];
                if f.ty != Type::Record || f.repeated {
                    return Err(mismatch(f, v).at(name));
                }
                write_record(pm, &mut f.record, kind, false, depth + 1, cx, out)
                    .map_err(|e| e.at(name))?;
                continue;
            }
        }
        if kind == RecKind::Audit {
            if let Some(col) = schema::audit_json_column(k) {
                let idx = column(rec, col, cx, || Field::text(col, true)).map_err(|e| e.at(col))?;
                if rec.fields[idx].ty != Type::String {
                    return Err(mismatch(&rec.fields[idx], v).at(col));
                }
                write_key(col, &mut first, out);
                let mut text = Vec::new();
                json_out::write_value(&mut text, v);
                let text = String::from_utf8(text).expect("JSON text is UTF-8");
                write_str(&text, out);
                continue;
            }
        }
        // One lookup by the raw key serves the common cases: a LogEntry
        // field, or a key that is already normal.
        let hit = rec.index_of(k);
        let payload = top && Schema::payload_field(k).is_some();
        let (name, idx): (std::borrow::Cow<'_, str>, Option<usize>) =
            if hit.is_some_and(|i| rec.fields[i].fixed) || payload {
                // Payload records keep their LogEntry names even before
                // they exist.
                (std::borrow::Cow::Borrowed(k.as_str()), hit)
            } else {
                let norm = if keep_case {
                    schema::sanitize(k)
                } else {
                    schema::normalize(k)
                };
                match norm {
                    std::borrow::Cow::Borrowed(b) => (std::borrow::Cow::Borrowed(b), hit),
                    std::borrow::Cow::Owned(mut n) => {
                        if m.contains_key(&n) || renamed.contains(&n) {
                            let base = n.clone();
                            n = (2..)
                                .map(|i| format!("{base}_{i}"))
                                .find(|c| !m.contains_key(c) && !renamed.contains(c))
                                .expect("an unused suffix exists");
                        }
                        renamed.push(n.clone());
                        let i = rec.index_of(&n);
                        (std::borrow::Cow::Owned(n), i)
                    }
                }
            };
        let idx = match idx {
            Some(i) => i,
            None => match new_field(k, &name, v, string_map, keep_case, top, depth, cx) {
                Ok(Some(f)) => {
                    rec.push(f);
                    rec.fields.len() - 1
                }
                Ok(None) => continue,
                Err(e) => return Err(e.at(&name)),
            },
        };
        let f = &mut rec.fields[idx];
        write_key(&name, &mut first, out);
        write_value(v, f, depth, cx, out).map_err(|e| e.at(&name))?;
    }
    out.push(b'}');
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn new_field(
    key: &str,
    name: &str,
    v: &Value,
    string_map: bool,
    keep_case: bool,
    top: bool,
    depth: usize,
    cx: &mut Cx<'_>,
) -> Result<Option<Field>, Fail> {
    if !schema::has_leaf(v) {
        // `{}` or `[]`: nothing to store, so no column needed either way.
        return Ok(None);
    }
    if !cx.add_fields {
        return Err(Fail::new(
            "not in the table schema (schema_update = \"reject\")",
        ));
    }
    let f = if keep_case {
        // Inference would normalize the children's names; instead records
        // start empty and fill, with their keys' case, as they are written.
        let record_like = match v {
            Value::Object(_) => Some(false),
            Value::Array(a) => a
                .iter()
                .find(|x| !x.is_null())
                .and_then(|x| x.is_object().then_some(true)),
            _ => None,
        };
        match record_like {
            Some(repeated) => Ok(Some(Field {
                repeated,
                ..Field::open_record(name, true)
            })),
            None => schema::infer(name, v, depth).map(|f| {
                f.map(|mut f| {
                    schema::mark_keep_case(&mut f);
                    f
                })
            }),
        }
    } else if string_map && !v.is_object() && !v.is_array() {
        schema::infer(name, &Value::String(String::new()), depth)
    } else {
        schema::infer(name, v, depth)
    };
    let mut f = match f {
        Ok(Some(f)) => f,
        Ok(None) => return Ok(None),
        Err(e) => return Err(Fail::new(e.describe())),
    };
    if top && Schema::payload_field(key).is_some() {
        f.name = key.to_string();
        f.fixed = true;
    } else {
        f.name = name.to_string();
    }
    let add = schema::columns_of(&f);
    if *cx.columns + add > schema::MAX_COLUMNS {
        return Err(Fail::new(format!(
            "the table would exceed BigQuery's {} columns",
            schema::MAX_COLUMNS
        )));
    }
    *cx.columns += add;
    cx.added = true;
    Ok(Some(f))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn mismatch(f: &Field, v: &Value) -> Fail {
    Fail::new(format!(
        "a {} value does not fit column type {}{}",
        kind(v),
        if f.repeated { "REPEATED " } else { "" },
        f.ty.name()
    ))
}

fn write_value(
    v: &Value,
    f: &mut Field,
    depth: usize,
    cx: &mut Cx<'_>,
    out: &mut Vec<u8>,
) -> Result<(), Fail> {
    if f.repeated {
        let Value::Array(items) = v else {
            return Err(mismatch(f, v));
        };
        out.push(b'[');
        let mut first = true;
        for it in items {
            if it.is_null() {
                // BigQuery refuses NULL array elements.
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            write_one(it, f, depth, cx, out)?;
        }
        out.push(b']');
        Ok(())
    } else {
        if v.is_array() {
            return Err(mismatch(f, v));
        }
        write_one(v, f, depth, cx, out)
    }
}

/// One non-null value (an element, for a REPEATED column).
fn write_one(
    v: &Value,
    f: &mut Field,
    depth: usize,
    cx: &mut Cx<'_>,
    out: &mut Vec<u8>,
) -> Result<(), Fail> {
    match (f.ty, v) {
        (Type::Record, Value::Object(m)) => {
            if depth + 1 > schema::MAX_DEPTH {
                return Err(Fail::new(InferError::TooDeep.describe()));
            }
            let kind = if f.string_map {
                RecKind::StringMap
            } else if f.keep_case {
                RecKind::KeepCase
            } else {
                RecKind::Plain
            };
            write_record(m, &mut f.record, kind, false, depth + 1, cx, out)
        }
        (Type::String, Value::String(s)) => {
            write_str(s, out);
            Ok(())
        }
        (Type::String, Value::Number(n)) => {
            out.push(b'"');
            write_number(n, out);
            out.push(b'"');
            Ok(())
        }
        (Type::String, Value::Bool(b)) => {
            out.extend_from_slice(if *b { b"\"true\"" } else { b"\"false\"" });
            Ok(())
        }
        (Type::Int64, Value::Number(n)) => {
            if n.is_i64() {
                write_number(n, out);
                return Ok(());
            }
            match n.as_f64() {
                Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => {
                    write_i64(x as i64, out);
                    Ok(())
                }
                _ => Err(mismatch(f, v)),
            }
        }
        (Type::Int64, Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(i) => {
                write_i64(i, out);
                Ok(())
            }
            Err(_) => Err(mismatch(f, v)),
        },
        (Type::Float64, Value::Number(n)) => {
            write_number(n, out);
            Ok(())
        }
        (Type::Float64, Value::String(s)) => {
            // Durations in LogEntry JSON are strings like "0.153s".
            let t = s.trim();
            let t = t.strip_suffix('s').unwrap_or(t);
            match t.parse::<f64>() {
                Ok(x) if x.is_finite() => {
                    write_f64(x, out);
                    Ok(())
                }
                _ => Err(mismatch(f, v)),
            }
        }
        (Type::Bool, Value::Bool(b)) => {
            out.extend_from_slice(if *b { b"true" } else { b"false" });
            Ok(())
        }
        (Type::Bool, Value::String(s)) if s == "true" || s == "false" => {
            out.extend_from_slice(s.as_bytes());
            Ok(())
        }
        (Type::Timestamp, Value::String(s)) => {
            write_str(s, out);
            Ok(())
        }
        (Type::Timestamp, Value::Number(n)) => {
            write_number(n, out);
            Ok(())
        }
        (Type::Other, v) => {
            json_out::write_value(out, v);
            Ok(())
        }
        _ => Err(mismatch(f, v)),
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    json_out::write_str(out, s);
}

fn write_number(n: &Number, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, n).expect("a number serializes into memory");
}

fn write_i64(i: i64, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, &i).expect("an integer serializes into memory");
}

fn write_f64(x: f64, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, &x).expect("a finite float serializes into memory");
}

/// Appends one insertAll row, `{"insertId":ID,"json":ROW}`, to a request
/// body. Without an id BigQuery cannot de-duplicate retries, so every
/// event shaped by sluice carries one.
pub(crate) fn append_row(body: &mut Vec<u8>, insert_id: Option<&str>, row: &[u8]) {
    body.push(b'{');
    if let Some(id) = insert_id {
        body.extend_from_slice(b"\"insertId\":");
        write_str(id, body);
        body.push(b',');
    }
    body.extend_from_slice(b"\"json\":");
    body.extend_from_slice(row);
    body.push(b'}');
}

/// Bytes `append_row` adds for a row, for batch sizing.
pub(crate) fn row_overhead(insert_id: Option<&str>) -> usize {
    12 + insert_id.map_or(0, |s| s.len() + 16)
}

/// The request body around rows: `{"skipInvalidRows":true,...,"rows":[`.
/// `skipInvalidRows` lets valid rows land when others are refused, so only
/// the refused ones go to dead-letter.
pub(crate) const BODY_HEAD: &[u8] =
    b"{\"skipInvalidRows\":true,\"ignoreUnknownValues\":false,\"rows\":[";
pub(crate) const BODY_TAIL: &[u8] = b"]}";
