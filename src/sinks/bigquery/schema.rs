//! The table schema: Cloud Logging's BigQuery export schema plus the
//! columns inferred from the entries, and the field-name rules.
//!
//! # Field names (Cloud Logging "BigQuery schema for logs")
//! - Fields of the `LogEntry` type keep their exact names (`insertId`,
//!   `textPayload`, `httpRequest.requestMethod`, `sourceLocation.line`...).
//!   A key counts as a `LogEntry` field when the fixed schema below has a
//!   field of exactly that name at that position.
//! - Every other key (anything under `jsonPayload`, `labels`,
//!   `resource.labels`, `protoPayload`, or unknown keys anywhere) is
//!   user-supplied and is normalized:
//!   1. lowercased (ASCII);
//!   2. every character other than an ASCII letter, digit or `_` becomes `_`
//!      (one `_` per character: `foo%%` -> `foo__`, `@type` -> `_type`);
//!   3. leading underscores are removed (`_type` -> `type`), since a name
//!      must begin with a letter or digit;
//!   4. cut to 128 characters;
//!   5. a key left empty by these rules becomes `unnamed`.
//!
//!   Two keys of one object that normalize to the same name (`Foo` and
//!   `foo`) would collide; the later one (in key order) gets `_2`, `_3`...
//!   so nothing is lost.
//!
//! # Payloads with `@type` ("BigQuery schema for logs", "Fields with
//! `@type`")
//! - A `jsonPayload` with an `@type` goes to the column named after the
//!   type: `jsonpayload_` and the last two dotted components of the type
//!   name, normalized (`type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry`
//!   -> `jsonpayload_type_loadbalancerlogentry`, as exported tables show;
//!   the page describes the rule only by example). Its children follow the
//!   payload rules; `@type` itself is carried by the column name.
//! - An audit log (`protoPayload` with `@type`
//!   `type.googleapis.com/google.cloud.audit.AuditLog`) goes to
//!   `protopayload_auditlog`, whose field names keep the AuditLog type's
//!   case (`methodName`, `authenticationInfo.principalEmail`), as exports
//!   do; its `Struct` fields `request`, `response`, `metadata` and
//!   `resourceOriginalState` are written as JSON text in `requestJson`,
//!   `responseJson`, `metadataJson` and `resourceOriginalStateJson`.
//! - Not implemented: other `protoPayload` types (App Engine `RequestLog`
//!   ...) stay in `protoPayload`, and `serviceData` stays a record.
//!
//! # Column types
//! Fixed columns have the types Cloud Logging uses (`timestamp` TIMESTAMP,
//! `httpRequest.status` INTEGER, `httpRequest.latency` FLOAT seconds...).
//! New columns are inferred from the first value seen: string -> STRING,
//! integer -> INTEGER, other number -> FLOAT, bool -> BOOLEAN, object ->
//! RECORD, array -> REPEATED of its elements' type (integers and floats
//! mixed -> FLOAT; objects merged). `null`, empty objects and empty arrays
//! add nothing (BigQuery has no column type for them). All new columns are
//! NULLABLE (or REPEATED).
//!
//! Later values that do not fit their column are handled by the encoder:
//! scalars are written as strings into STRING columns and integers into
//! FLOAT columns, numeric strings into INTEGER/FLOAT columns (the LogEntry
//! JSON form carries int64 as strings); anything else (a float or a word
//! for an INTEGER column, an object for a STRING column, an array of
//! arrays...) is a conflict and the row goes to dead-letter with the field
//! path and the types, never the value.

use std::collections::HashMap;

use gcp_bigquery_client::model::field_type::FieldType as BqType;
use gcp_bigquery_client::model::table_field_schema::TableFieldSchema;
use gcp_bigquery_client::model::table_schema::TableSchema;
use serde_json::Value;

/// Longest field name BigQuery accepts from Cloud Logging.
pub(crate) const MAX_NAME_LEN: usize = 128;
/// BigQuery's limit of nested RECORD levels.
pub(crate) const MAX_DEPTH: usize = 15;
/// BigQuery's limit of columns per table (nested ones included).
pub(crate) const MAX_COLUMNS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    String,
    Int64,
    Float64,
    Bool,
    Timestamp,
    Record,
    /// Any other BigQuery type found on an existing table (BYTES, DATE,
    /// NUMERIC, JSON...): values are passed through unchecked.
    Other,
}

impl Type {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Type::String => "STRING",
            Type::Int64 => "INTEGER",
            Type::Float64 => "FLOAT",
            Type::Bool => "BOOLEAN",
            Type::Timestamp => "TIMESTAMP",
            Type::Record => "RECORD",
            Type::Other => "OTHER",
        }
    }

    fn to_bq(self) -> BqType {
        match self {
            Type::String | Type::Other => BqType::String,
            Type::Int64 => BqType::Integer,
            Type::Float64 => BqType::Float,
            Type::Bool => BqType::Boolean,
            Type::Timestamp => BqType::Timestamp,
            Type::Record => BqType::Record,
        }
    }

    fn from_bq(t: &BqType) -> Type {
        match t {
            BqType::String => Type::String,
            BqType::Integer | BqType::Int64 => Type::Int64,
            BqType::Float | BqType::Float64 => Type::Float64,
            BqType::Boolean | BqType::Bool => Type::Bool,
            BqType::Timestamp => Type::Timestamp,
            BqType::Record | BqType::Struct => Type::Record,
            _ => Type::Other,
        }
    }
}

/// One column.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) ty: Type,
    pub(crate) repeated: bool,
    /// A `LogEntry` field: its key is matched exactly, not normalized.
    pub(crate) fixed: bool,
    /// Children of a RECORD.
    pub(crate) record: Record,
    /// Children of a `LogEntry` map (`labels`): always STRING, keys
    /// normalized. Lets the encoder type new label keys without inference.
    pub(crate) string_map: bool,
    /// The table's own type for `Type::Other` columns, sent back as is.
    pub(crate) bq_type: Option<BqType>,
    /// Children keep the case of their keys (the audit log record): only
    /// characters BigQuery refuses are replaced.
    pub(crate) keep_case: bool,
}

impl Field {
    fn new(name: &str, ty: Type) -> Field {
        Field {
            name: name.to_string(),
            ty,
            repeated: false,
            fixed: false,
            record: Record::default(),
            string_map: false,
            bq_type: None,
            keep_case: false,
        }
    }

    /// A STRING column (`keep_case` for the audit log's `*Json` columns).
    pub(crate) fn text(name: &str, keep_case: bool) -> Field {
        Field {
            keep_case,
            ..Field::fixed(name, Type::String)
        }
    }

    /// An empty RECORD column that fills as values arrive (for typed
    /// payloads and keep-case records).
    pub(crate) fn open_record(name: &str, keep_case: bool) -> Field {
        Field {
            keep_case,
            ..Field::fixed(name, Type::Record)
        }
    }

    fn fixed(name: &str, ty: Type) -> Field {
        Field {
            fixed: true,
            ..Field::new(name, ty)
        }
    }

    fn fixed_record(name: &str, children: Vec<Field>) -> Field {
        let mut f = Field::fixed(name, Type::Record);
        for c in children {
            f.record.push(c);
        }
        f
    }

    fn string_map(name: &str) -> Field {
        Field {
            string_map: true,
            ..Field::fixed(name, Type::Record)
        }
    }

    /// False for a RECORD with no (non-empty) children yet: BigQuery
    /// refuses empty RECORDs, so such fields wait until a value fills them.
    fn has_columns(&self) -> bool {
        self.ty != Type::Record || self.record.fields.iter().any(Field::has_columns)
    }

    /// Number of columns this field counts for (itself and nested ones).
    fn columns(&self) -> usize {
        1 + self.record.columns()
    }

    fn to_bq(&self) -> TableFieldSchema {
        let ty = match (&self.bq_type, self.ty) {
            (Some(t), Type::Other) => t.clone(),
            _ => self.ty.to_bq(),
        };
        let mut f = TableFieldSchema::new(&self.name, ty);
        f.mode = Some(
            if self.repeated {
                "REPEATED"
            } else {
                "NULLABLE"
            }
            .to_string(),
        );
        if self.ty == Type::Record {
            f.fields = Some(
                self.record
                    .fields
                    .iter()
                    .filter(|c| c.has_columns())
                    .map(Field::to_bq)
                    .collect(),
            );
        }
        f
    }
}

/// FxHash (the rustc hasher): a multiply and a rotate per word. Column
/// names are short and come from our own schema, so HashDoS resistance
/// buys nothing here, and SipHash dominated the encoder's profile.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("an 8-byte chunk"));
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

/// The fields of one RECORD (or of the table), with a name index.
#[derive(Debug, Clone, Default)]
pub(crate) struct Record {
    pub(crate) fields: Vec<Field>,
    index: HashMap<String, usize, FxBuild>,
}

impl Record {
    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    #[cfg(test)]
    pub(crate) fn get(&self, name: &str) -> Option<&Field> {
        self.index.get(name).map(|&i| &self.fields[i])
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut Field> {
        match self.index.get(name) {
            Some(&i) => Some(&mut self.fields[i]),
            None => None,
        }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    pub(crate) fn push(&mut self, f: Field) -> &mut Field {
        let i = self.fields.len();
        self.index.insert(f.name.clone(), i);
        self.fields.push(f);
        &mut self.fields[i]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    fn columns(&self) -> usize {
        self.fields.iter().map(Field::columns).sum()
    }

    /// Leaf columns as `(dotted name, type, mode)`, in schema order.
    pub(crate) fn leaves(&self, prefix: &str, out: &mut Vec<(String, &'static str, &'static str)>) {
        for f in &self.fields {
            let name = if prefix.is_empty() {
                f.name.clone()
            } else {
                format!("{prefix}.{}", f.name)
            };
            let mode = if f.repeated { "REPEATED" } else { "NULLABLE" };
            if f.ty == Type::Record && !f.record.is_empty() {
                f.record.leaves(&name, out);
            } else {
                out.push((name, f.ty.name(), mode));
            }
        }
    }

    /// Adds the fields of `other` missing here (by name, recursively).
    /// Returns false on a type clash (the caller keeps its own version).
    fn merge_from(&mut self, other: &Record) -> bool {
        let mut ok = true;
        for f in &other.fields {
            match self.get_mut(&f.name) {
                Some(mine) => {
                    if mine.ty != f.ty || mine.repeated != f.repeated {
                        ok = false;
                    } else if mine.ty == Type::Record {
                        ok &= mine.record.merge_from(&f.record);
                    }
                }
                None => {
                    self.push(f.clone());
                }
            }
        }
        ok
    }
}

/// A table's schema as sluice tracks it.
#[derive(Debug, Clone)]
pub struct Schema {
    pub(crate) root: Record,
    /// Total columns, nested included, against BigQuery's limit.
    pub(crate) columns: usize,
}

impl Schema {
    /// Cloud Logging's export schema for a `LogEntry` (fields sluice
    /// produces or passes through; `jsonPayload`/`protoPayload` children and
    /// label keys are added as entries carry them).
    pub fn logging() -> Schema {
        use Type::*;
        let mut root = self::Record::default();
        for f in [
            Field::fixed("logName", String),
            Field::fixed_record(
                "resource",
                vec![Field::fixed("type", String), Field::string_map("labels")],
            ),
            Field::fixed("timestamp", Timestamp),
            Field::fixed("receiveTimestamp", Timestamp),
            Field::fixed("severity", String),
            Field::fixed("insertId", String),
            Field::fixed_record(
                "httpRequest",
                vec![
                    Field::fixed("requestMethod", String),
                    Field::fixed("requestUrl", String),
                    Field::fixed("requestSize", Int64),
                    Field::fixed("status", Int64),
                    Field::fixed("responseSize", Int64),
                    Field::fixed("userAgent", String),
                    Field::fixed("remoteIp", String),
                    Field::fixed("serverIp", String),
                    Field::fixed("referer", String),
                    Field::fixed("latency", Float64),
                    Field::fixed("cacheLookup", Bool),
                    Field::fixed("cacheHit", Bool),
                    Field::fixed("cacheValidatedWithOriginServer", Bool),
                    Field::fixed("cacheFillBytes", Int64),
                    Field::fixed("protocol", String),
                ],
            ),
            Field::string_map("labels"),
            Field::fixed_record(
                "operation",
                vec![
                    Field::fixed("id", String),
                    Field::fixed("producer", String),
                    Field::fixed("first", Bool),
                    Field::fixed("last", Bool),
                ],
            ),
            Field::fixed("trace", String),
            Field::fixed("spanId", String),
            Field::fixed("traceSampled", Bool),
            Field::fixed_record(
                "sourceLocation",
                vec![
                    Field::fixed("file", String),
                    Field::fixed("line", Int64),
                    Field::fixed("function", String),
                ],
            ),
            Field::fixed_record(
                "split",
                vec![
                    Field::fixed("uid", String),
                    Field::fixed("index", Int64),
                    Field::fixed("totalSplits", Int64),
                ],
            ),
            Field::fixed("textPayload", String),
            // Record columns need at least one child: the payload records
            // are added on first use, like Cloud Logging does.
        ] {
            root.push(f);
        }
        let columns = root.columns();
        Schema { root, columns }
    }

    /// The audit log record, `protopayload_auditlog`, with the AuditLog
    /// fields Cloud Logging's export schema types (others are added, with
    /// their case, as entries carry them).
    pub(crate) fn audit_log_field() -> Field {
        use Type::*;
        let rec = |name: &str, children: Vec<Field>| Field::fixed_record(name, children);
        let mut f = Field::fixed_record(
            AUDIT_LOG_COLUMN,
            vec![
                Field::fixed("serviceName", String),
                Field::fixed("methodName", String),
                Field::fixed("resourceName", String),
                Field::fixed("numResponseItems", Int64),
                rec(
                    "status",
                    vec![Field::fixed("code", Int64), Field::fixed("message", String)],
                ),
                rec(
                    "authenticationInfo",
                    vec![
                        Field::fixed("principalEmail", String),
                        Field::fixed("authoritySelector", String),
                        Field::fixed("serviceAccountKeyName", String),
                        Field::fixed("principalSubject", String),
                    ],
                ),
                Field {
                    repeated: true,
                    ..rec(
                        "authorizationInfo",
                        vec![
                            Field::fixed("resource", String),
                            Field::fixed("permission", String),
                            Field::fixed("granted", Bool),
                        ],
                    )
                },
                rec(
                    "requestMetadata",
                    vec![
                        Field::fixed("callerIp", String),
                        Field::fixed("callerSuppliedUserAgent", String),
                        Field::fixed("callerNetwork", String),
                    ],
                ),
                rec(
                    "resourceLocation",
                    vec![
                        Field {
                            repeated: true,
                            ..Field::fixed("currentLocations", String)
                        },
                        Field {
                            repeated: true,
                            ..Field::fixed("originalLocations", String)
                        },
                    ],
                ),
                Field::fixed("requestJson", String),
                Field::fixed("responseJson", String),
                Field::fixed("metadataJson", String),
                Field::fixed("resourceOriginalStateJson", String),
            ],
        );
        set_keep_case(&mut f);
        f
    }

    /// The JSON payload records are "fixed" names with free children.
    pub(crate) fn payload_field(name: &str) -> Option<Field> {
        match name {
            "jsonPayload" | "protoPayload" => Some(Field::fixed(name, Type::Record)),
            _ => None,
        }
    }

    /// For `tables.insert` / `tables.patch`: the full field list. Records
    /// with no children yet are left out (BigQuery refuses them).
    pub(crate) fn to_bq(&self) -> TableSchema {
        let fields = self
            .root
            .fields
            .iter()
            .filter(|f| f.has_columns())
            .map(Field::to_bq)
            .collect();
        TableSchema::new(fields)
    }

    /// Adopts an existing table's schema, keeping the fixed-field flags of
    /// the Cloud Logging schema and adding its fields the table lacks.
    pub(crate) fn from_bq(existing: &TableSchema) -> Schema {
        let mut remote = Record::default();
        for f in existing.fields.iter().flatten() {
            remote.push(field_from_bq(f));
        }
        let mut s = Schema::logging();
        mark_and_merge(&mut s.root, remote);
        s.columns = s.root.columns();
        s
    }

    /// Merges another schema's fields (used when a patch raced with another
    /// writer). False on a type clash.
    pub(crate) fn merge_from(&mut self, other: &Schema) -> bool {
        let ok = self.root.merge_from(&other.root);
        self.columns = self.root.columns();
        ok
    }
}

/// The columns of `asked` that `got` lacks, as dotted paths (a missing
/// RECORD is named once, not per child). BigQuery answers a `tables.patch`
/// with the table as it now is, which need not hold what was asked: an
/// emulator may ignore nested additions, a racing writer may have changed
/// the table. Names compare as BigQuery compares them, ignoring case.
pub(crate) fn missing_columns(asked: &TableSchema, got: &TableSchema) -> Vec<String> {
    fn walk(
        asked: &[TableFieldSchema],
        got: &[TableFieldSchema],
        prefix: &str,
        out: &mut Vec<String>,
    ) {
        for a in asked {
            let path = if prefix.is_empty() {
                a.name.clone()
            } else {
                format!("{prefix}.{}", a.name)
            };
            match got.iter().find(|g| g.name.eq_ignore_ascii_case(&a.name)) {
                None => out.push(path),
                Some(g) => walk(
                    a.fields.as_deref().unwrap_or_default(),
                    g.fields.as_deref().unwrap_or_default(),
                    &path,
                    out,
                ),
            }
        }
    }
    let mut out = Vec::new();
    walk(
        asked.fields.as_deref().unwrap_or_default(),
        got.fields.as_deref().unwrap_or_default(),
        "",
        &mut out,
    );
    out
}

fn field_from_bq(f: &TableFieldSchema) -> Field {
    let mut out = Field::new(&f.name, Type::from_bq(&f.r#type));
    if out.ty == Type::Other {
        out.bq_type = Some(f.r#type.clone());
    }
    out.repeated = f.mode.as_deref() == Some("REPEATED");
    for c in f.fields.iter().flatten() {
        out.record.push(field_from_bq(c));
    }
    out
}

/// The remote table's fields win (types are what BigQuery has); fixed
/// flags come from the Cloud Logging schema; fixed fields the table lacks
/// stay (they are added by the next patch).
fn mark_and_merge(local: &mut Record, remote: Record) {
    for mut rf in remote.fields {
        match local.get_mut(&rf.name) {
            Some(lf) => {
                let fixed = lf.fixed;
                let string_map = lf.string_map;
                let mut local_children = std::mem::take(&mut lf.record);
                mark_and_merge(&mut local_children, std::mem::take(&mut rf.record));
                *lf = Field {
                    fixed,
                    string_map,
                    record: local_children,
                    ..rf
                };
            }
            None => {
                if rf.name == AUDIT_LOG_COLUMN {
                    let mut a = Schema::audit_log_field();
                    mark_and_merge(&mut a.record, rf.record);
                    set_keep_case(&mut a);
                    local.push(a);
                } else if let Some(mut p) = Schema::payload_field(&rf.name) {
                    p.record = rf.record;
                    p.ty = rf.ty;
                    p.repeated = rf.repeated;
                    local.push(p);
                } else {
                    local.push(rf);
                }
            }
        }
    }
}

/// The column of audit log payloads.
pub(crate) const AUDIT_LOG_COLUMN: &str = "protopayload_auditlog";
const AUDIT_LOG_TYPE: &str = "type.googleapis.com/google.cloud.audit.AuditLog";

/// The AuditLog fields of type `Struct`, written as JSON text in a
/// `NAMEJson` STRING column.
pub(crate) fn audit_json_column(key: &str) -> Option<&'static str> {
    Some(match key {
        "request" => "requestJson",
        "response" => "responseJson",
        "metadata" => "metadataJson",
        "resourceOriginalState" => "resourceOriginalStateJson",
        _ => return None,
    })
}

/// Which column a top-level payload goes to, by its `@type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PayloadColumn {
    /// `jsonpayload_<type>`: payload rules, `@type` dropped.
    Typed(String),
    /// `protopayload_auditlog`.
    AuditLog,
}

/// `None` for payloads without an `@type` (or types kept as they are).
pub(crate) fn payload_column(key: &str, v: &Value) -> Option<PayloadColumn> {
    let ty = v.get("@type")?.as_str()?;
    match key {
        "protoPayload" if ty == AUDIT_LOG_TYPE => Some(PayloadColumn::AuditLog),
        "jsonPayload" => {
            let name = ty.rsplit('/').next().unwrap_or(ty);
            let mut parts = name.rsplit('.');
            let last = parts.next().filter(|p| !p.is_empty())?;
            let suffix = match parts.next().filter(|p| !p.is_empty()) {
                Some(pkg) => format!("{pkg}_{last}"),
                None => last.to_string(),
            };
            let col = format!("jsonpayload_{}", normalize(&suffix));
            Some(PayloadColumn::Typed(
                col.chars().take(MAX_NAME_LEN).collect(),
            ))
        }
        _ => None,
    }
}

fn set_keep_case(f: &mut Field) {
    f.keep_case = true;
    for c in &mut f.record.fields {
        set_keep_case(c);
    }
}

/// Marks a new field (and its children) as keep-case.
pub(crate) fn mark_keep_case(f: &mut Field) {
    set_keep_case(f);
}

/// A key under a keep-case record: its case kept, characters other than
/// ASCII letters, digits and `_` replaced by `_`, leading `_` removed, cut
/// to 128 characters.
pub(crate) fn sanitize(key: &str) -> std::borrow::Cow<'_, str> {
    column_name(key, true)
}

/// True when `v` holds something a column can store (a non-null scalar
/// somewhere beneath it); `{}` and `{"a": {}}` hold nothing.
pub(crate) fn has_leaf(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Object(m) => m.values().any(has_leaf),
        Value::Array(a) => a.iter().any(has_leaf),
        _ => true,
    }
}

/// Normalizes a user-supplied key (see the module doc). Borrows when the
/// key is already normal, which is the common case.
pub(crate) fn normalize(key: &str) -> std::borrow::Cow<'_, str> {
    column_name(key, false)
}

/// The one column-name rule behind [`normalize`] and [`sanitize`]: ASCII
/// letters, digits and `_` kept (lower-cased unless `keep_case`), anything
/// else `_`, leading `_` dropped, cut to 128 characters, `unnamed` if
/// nothing is left. Borrows when the key already follows it.
fn column_name(key: &str, keep_case: bool) -> std::borrow::Cow<'_, str> {
    let b = key.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= MAX_NAME_LEN
        && b[0] != b'_'
        && b.iter().all(|&c| {
            c == b'_'
                || c.is_ascii_digit()
                || c.is_ascii_lowercase()
                || (keep_case && c.is_ascii_uppercase())
        });
    if ok {
        return std::borrow::Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len());
    for ch in key.chars() {
        let c = if ch.is_ascii_alphanumeric() || ch == '_' {
            if keep_case {
                ch
            } else {
                ch.to_ascii_lowercase()
            }
        } else {
            '_'
        };
        if c == '_' && out.is_empty() {
            continue;
        }
        out.push(c);
        if out.len() == MAX_NAME_LEN {
            break;
        }
    }
    if out.is_empty() {
        out.push_str("unnamed");
    }
    std::borrow::Cow::Owned(out)
}

/// Why a value cannot get a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InferError {
    NestedArray,
    MixedArray,
    TooDeep,
}

impl InferError {
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            InferError::NestedArray => "an array of arrays has no BigQuery column type",
            InferError::MixedArray => "an array mixes value types",
            InferError::TooDeep => "nested deeper than BigQuery's 15 RECORD levels",
        }
    }
}

/// Infers a new column for `value` named `name`; `Ok(None)` when the value
/// adds nothing (null, empty object/array).
pub(crate) fn infer(name: &str, value: &Value, depth: usize) -> Result<Option<Field>, InferError> {
    let (ty, repeated, record) = match value {
        Value::Null => return Ok(None),
        Value::Bool(_) => (Type::Bool, false, None),
        Value::Number(n) => (number_type(n), false, None),
        Value::String(_) => (Type::String, false, None),
        Value::Object(m) => match infer_record(m, depth + 1)? {
            Some(r) => (Type::Record, false, Some(r)),
            None => return Ok(None),
        },
        Value::Array(items) => {
            let mut ty: Option<Type> = None;
            let mut record: Option<Record> = None;
            for it in items {
                let t = match it {
                    Value::Null => continue,
                    Value::Bool(_) => Type::Bool,
                    Value::Number(n) => number_type(n),
                    Value::String(_) => Type::String,
                    Value::Array(_) => return Err(InferError::NestedArray),
                    Value::Object(m) => {
                        if let Some(r) = infer_record(m, depth + 1)? {
                            match record.as_mut() {
                                Some(acc) => {
                                    if !acc.merge_from(&r) {
                                        return Err(InferError::MixedArray);
                                    }
                                }
                                None => record = Some(r),
                            }
                        }
                        Type::Record
                    }
                };
                ty = Some(match (ty, t) {
                    (None, t) => t,
                    (Some(a), b) if a == b => a,
                    (Some(Type::Int64), Type::Float64) | (Some(Type::Float64), Type::Int64) => {
                        Type::Float64
                    }
                    _ => return Err(InferError::MixedArray),
                });
            }
            match ty {
                None => return Ok(None),
                Some(Type::Record) => match record {
                    Some(r) => (Type::Record, true, Some(r)),
                    None => return Ok(None),
                },
                Some(t) => (t, true, None),
            }
        }
    };
    let mut f = Field::new(&normalize(name), ty);
    f.repeated = repeated;
    if let Some(r) = record {
        f.record = r;
    }
    Ok(Some(f))
}

fn infer_record(
    m: &serde_json::Map<String, Value>,
    depth: usize,
) -> Result<Option<Record>, InferError> {
    if depth > MAX_DEPTH {
        return Err(InferError::TooDeep);
    }
    let mut r = Record::default();
    for (k, v) in m {
        if let Some(mut f) = infer(k, v, depth)? {
            f.name = unique_name(&r, f.name);
            r.push(f);
        }
    }
    Ok(if r.is_empty() { None } else { Some(r) })
}

/// `name`, or `name_2`, `name_3`... if a sibling already uses it.
pub(crate) fn unique_name(r: &Record, name: String) -> String {
    if !r.contains(&name) {
        return name;
    }
    (2..)
        .map(|i| format!("{name}_{i}"))
        .find(|n| !r.contains(n))
        .expect("an unused suffix exists")
}

pub(crate) fn number_type(n: &serde_json::Number) -> Type {
    // Above i64::MAX (u64) BigQuery's INTEGER cannot hold it: FLOAT.
    if n.is_i64() {
        Type::Int64
    } else {
        Type::Float64
    }
}

/// Counts the columns a new field adds.
pub(crate) fn columns_of(f: &Field) -> usize {
    f.columns()
}
