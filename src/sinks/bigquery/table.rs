//! Table names, and creating/patching datasets and tables.
//!
//! Names: the template (`{log_id}` by default, as Cloud Logging names its
//! export tables after the log id) is rendered per entry; characters other
//! than ASCII letters, digits and `_` become `_`
//! (`cloudaudit.googleapis.com%2Factivity` -> `cloudaudit_googleapis_com_activity`).
//! With `partitioning = "sharded"` the entry's UTC day is appended:
//! `stdout_20251130`.
//!
//! Tables are created with the Cloud Logging schema, either partitioned by
//! day on `timestamp` with `expirationMs` = `expiration_days`, or (sharded)
//! with `expirationTime` = the shard's day + `expiration_days`, once the
//! first rows for them are ready, with every column those rows need. An
//! existing table is adopted as it is: its schema becomes the working
//! schema, and missing columns are added by `tables.patch` when needed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use gcp_bigquery_client::auth::Authenticator;
use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::model::dataset::Dataset;
use gcp_bigquery_client::model::table::Table;
use gcp_bigquery_client::model::table_schema::TableSchema;
use gcp_bigquery_client::model::time_partitioning::TimePartitioning;
use gcp_bigquery_client::model::view_definition::ViewDefinition;
use gcp_bigquery_client::table::ListOptions;
use serde_json::Value;

use super::config::{Config, Partitioning};
use super::schema::Schema;
use super::views;
use crate::event::log_entry::parse_rfc3339;

/// A parsed `table` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    LogId,
    Field(Vec<String>),
}

impl TableTemplate {
    pub(crate) fn parse(t: &str) -> Result<TableTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = t;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(i) => {
                    if i > 0 {
                        parts.push(Part::Lit(rest[..i].to_string()));
                    }
                    let close = rest[i..]
                        .find('}')
                        .ok_or_else(|| "unclosed `{` in the template".to_string())?;
                    let name = rest[i + 1..i + close].trim();
                    if name.is_empty() {
                        return Err("empty `{}` in the template".into());
                    }
                    parts.push(if name == "log_id" {
                        Part::LogId
                    } else {
                        Part::Field(name.split('.').map(str::to_string).collect())
                    });
                    rest = &rest[i + close + 1..];
                }
                None => {
                    parts.push(Part::Lit(rest.to_string()));
                    rest = "";
                }
            }
        }
        if parts.is_empty() {
            return Err("must not be empty".into());
        }
        for p in &parts {
            if let Part::Lit(l) = p {
                if l.contains('}') {
                    return Err("unmatched `}` in the template".into());
                }
            }
        }
        Ok(TableTemplate { parts })
    }

    /// True when every entry goes to the same table.
    #[cfg(test)]
    pub(crate) fn is_fixed(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// The table name for one entry (before any date suffix).
    pub(crate) fn render(&self, log: &Value) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(l) => out.push_str(l),
                Part::LogId => out.push_str(&log_id(log)),
                Part::Field(path) => {
                    let mut v = log;
                    for seg in path {
                        v = v.get(seg).unwrap_or(&Value::Null);
                    }
                    match v {
                        Value::String(s) => out.push_str(s),
                        Value::Null => out.push_str("none"),
                        other => out.push_str(&other.to_string()),
                    }
                }
            }
        }
        sanitize(&out)
    }
}

/// The log id of an entry: the last segment of `logName`
/// (`projects/P/logs/ID`), URL-decoded. `unknown_log` without a `logName`.
pub(crate) fn log_id(log: &Value) -> String {
    let name = log.get("logName").and_then(Value::as_str).unwrap_or("");
    let id = match name.find("/logs/") {
        Some(i) => &name[i + 6..],
        None => name,
    };
    if id.is_empty() {
        return "unknown_log".into();
    }
    percent_decode(id)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Table ids: ASCII letters, digits and `_`, at most 1024 bytes (room is
/// kept for a `_YYYYMMDD` suffix).
pub(crate) fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(1000)
        .collect();
    if out.is_empty() {
        out.push_str("unknown_log");
    }
    out
}

/// The entry's UTC day, from `timestamp` (or now, for entries without one).
pub(crate) fn entry_day(log: &Value) -> NaiveDate {
    log.get("timestamp")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
        .unwrap_or_else(Utc::now)
        .date_naive()
}

/// `NAME_YYYYMMDD`.
pub(crate) fn shard_name(base: &str, day: NaiveDate) -> String {
    format!("{base}_{}", day.format("%Y%m%d"))
}

/// Where an entry goes: the table id as it will be used, and the shard day
/// for sharded tables (decides the table's expiration).
pub(crate) fn route(
    template: &TableTemplate,
    partitioning: Partitioning,
    log: &Value,
) -> (String, Option<NaiveDate>) {
    let base = template.render(log);
    match partitioning {
        Partitioning::Day => (base, None),
        Partitioning::Sharded => {
            let day = entry_day(log);
            (shard_name(&base, day), Some(day))
        }
    }
}

/// Expiration time of a shard: the end of its day plus the retention.
pub(crate) fn shard_expiration(day: NaiveDate, expiration_days: u32) -> Option<DateTime<Utc>> {
    if expiration_days == 0 {
        return None;
    }
    let start = day.and_hms_opt(0, 0, 0)?.and_utc();
    Some(start + chrono::Duration::days(i64::from(expiration_days) + 1))
}

/// A failed table/dataset call, classified for retrying.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// 429, 5xx, network: worth another try.
    #[error("{0}")]
    Retriable(String),
    /// Anything else: retrying cannot help.
    #[error("{0}")]
    Fatal(String),
    /// The call succeeded but the table lacks what it asked for (a patch
    /// that did not add every column).
    #[error("{0}")]
    NotApplied(String),
}

/// HTTP status of a crate error, when the server answered.
fn status_of(e: &BQError) -> Option<i64> {
    match e {
        BQError::ResponseError { error } => Some(error.error.code),
        BQError::RequestError(r) => r.status().map(|s| i64::from(s.as_u16())),
        _ => None,
    }
}

/// Classifies a crate error. The message keeps BigQuery's reason and
/// message (they name tables and fields, not row values).
pub(crate) fn classify(what: &str, e: &BQError) -> ApiError {
    let msg = match e {
        BQError::ResponseError { error } => {
            format!("{what}: HTTP {} {}", error.error.code, error.error.message)
        }
        other => format!("{what}: {other}"),
    };
    match e {
        BQError::RequestError(r) if r.status().is_none() => ApiError::Retriable(msg),
        BQError::AuthError(_) | BQError::YupAuthError(_) | BQError::NoToken => {
            ApiError::Retriable(msg)
        }
        _ => match status_of(e) {
            Some(s) if super::service::retriable_status(s as u16) => ApiError::Retriable(msg),
            _ => ApiError::Fatal(msg),
        },
    }
}

fn is_status(e: &BQError, code: i64) -> bool {
    status_of(e) == Some(code)
}

/// Dataset and table calls through `gcp-bigquery-client`.
pub(crate) struct Tables {
    client: gcp_bigquery_client::Client,
    project: String,
    dataset: String,
    location: String,
    partitioning: Partitioning,
    expiration_days: u32,
    create: bool,
    dedup_views: bool,
    /// Set once the dataset is known to exist (a flag, not a lock: two
    /// creates racing would both check, which is harmless).
    dataset_checked: AtomicBool,
}

impl Tables {
    /// Dataset and table calls for the sink configured by `cfg`.
    pub(crate) async fn connect(
        cfg: &Config,
        auth: Arc<dyn Authenticator>,
        http: reqwest::Client,
    ) -> Result<Tables, String> {
        let client = gcp_bigquery_client::client_builder::ClientBuilder::new()
            .with_v2_base_url(cfg.base_url())
            .with_client(http)
            .build_from_authenticator(auth)
            .await
            .map_err(|e| format!("bigquery client: {e}"))?;
        Ok(Tables {
            client,
            project: cfg.project.clone(),
            dataset: cfg.dataset.clone(),
            location: cfg.location.clone(),
            partitioning: cfg.partitioning,
            expiration_days: cfg.expiration_days,
            create: cfg.create_tables,
            dedup_views: cfg.dedup_views,
            dataset_checked: AtomicBool::new(false),
        })
    }

    /// The table's schema; `None` when the table does not exist yet and may
    /// be created. Creation waits for the first rows ([`Tables::create`]):
    /// BigQuery refuses an empty RECORD, so a table created before any row
    /// would lack `resource.labels.*` and the payload's nested columns, and
    /// adding those later depends on `tables.patch` applying nested fields.
    pub(crate) async fn lookup(&self, table: &str) -> Result<Option<Schema>, ApiError> {
        match self
            .client
            .table()
            .get(&self.project, &self.dataset, table, None)
            .await
        {
            Ok(t) => Ok(Some(Schema::from_bq(&t.schema))),
            Err(e) if is_status(&e, 404) && self.create => Ok(None),
            Err(e) if is_status(&e, 404) => Err(ApiError::Fatal(format!(
                "table {}.{table} does not exist and create_tables = false",
                self.dataset
            ))),
            Err(e) => Err(classify("tables.get", &e)),
        }
    }

    /// Creates the table (and the dataset when missing) with `schema`, the
    /// columns the rows waiting for it need. Returns the schema BigQuery
    /// has now: the one created, or theirs when another writer created the
    /// table first (the caller then patches its own columns in).
    pub(crate) async fn create(
        &self,
        table: &str,
        day: Option<NaiveDate>,
        schema: &Schema,
    ) -> Result<TableSchema, ApiError> {
        self.ensure_dataset().await?;
        let mut t = Table::new(&self.project, &self.dataset, table, schema.to_bq());
        match self.partitioning {
            Partitioning::Day => {
                let mut p = TimePartitioning::per_day().field("timestamp");
                if self.expiration_days > 0 {
                    p = p.expiration_ms(Duration::from_secs(
                        u64::from(self.expiration_days) * 86_400,
                    ));
                }
                t = t.time_partitioning(p);
            }
            Partitioning::Sharded => {
                if let Some(exp) = day.and_then(|d| shard_expiration(d, self.expiration_days)) {
                    if exp <= Utc::now() {
                        return Err(ApiError::Fatal(format!(
                            "shard {table} is older than expiration_days ({}): it would already have expired",
                            self.expiration_days
                        )));
                    }
                    t.expiration_time = Some(exp.timestamp_millis().to_string());
                }
            }
        }
        match self.client.table().create(t).await {
            Ok(created) => {
                tracing::info!(dataset = %self.dataset, table, "created BigQuery table");
                if self.dedup_views {
                    if let Some(base) = views::base_of(table, self.partitioning) {
                        // The rows do not depend on the view: a failure is
                        // reported, and `sluice bigquery-views` can make it.
                        if let Err(e) = self.create_view(base).await {
                            tracing::warn!(dataset = %self.dataset, table, error = %e,
                                "could not create the one-row-per-insertId view; `sluice bigquery-views --create` makes it");
                        }
                    }
                }
                Ok(created.schema)
            }
            // Another writer created it first: adopt theirs.
            Err(e) if is_status(&e, 409) => self
                .client
                .table()
                .get(&self.project, &self.dataset, table, None)
                .await
                .map(|t| t.schema)
                .map_err(|e| classify("tables.get", &e)),
            Err(e) => Err(classify("tables.insert", &e)),
        }
    }

    /// Creates the one-row-per-insertId view over `base` unless it exists;
    /// true when this call created it.
    pub(crate) async fn create_view(&self, base: &str) -> Result<bool, ApiError> {
        let name = views::view_name(base);
        // A view carries no schema: BigQuery refuses one given with it.
        let mut v = Table::new(&self.project, &self.dataset, &name, TableSchema::default());
        v.view = Some(ViewDefinition {
            query: views::view_query(&self.project, &self.dataset, base, self.partitioning),
            use_legacy_sql: Some(false),
            user_defined_function_resources: None,
        });
        match self.client.table().create(v).await {
            Ok(_) => {
                tracing::info!(dataset = %self.dataset, view = %name, "created BigQuery view");
                Ok(true)
            }
            Err(e) if is_status(&e, 409) => Ok(false),
            Err(e) => Err(classify("tables.insert (view)", &e)),
        }
    }

    /// The bases (tables, or the names shards share) of the tables in the
    /// dataset, each once, sluice's own views left out.
    pub(crate) async fn bases(&self) -> Result<Vec<String>, ApiError> {
        let mut bases = std::collections::BTreeSet::new();
        let mut page = None;
        loop {
            let mut opts = ListOptions::default();
            if let Some(token) = page.take() {
                opts = opts.page_token(token);
            }
            let list = self
                .client
                .table()
                .list(&self.project, &self.dataset, opts)
                .await
                .map_err(|e| classify("tables.list", &e))?;
            for t in list.tables.iter().flatten() {
                if t.r#type.as_deref().is_some_and(|ty| ty != "TABLE") {
                    continue;
                }
                if let Some(b) = views::base_of(&t.table_reference.table_id, self.partitioning) {
                    bases.insert(b.to_string());
                }
            }
            match list.next_page_token {
                Some(token) if !token.is_empty() => page = Some(token),
                _ => return Ok(bases.into_iter().collect()),
            }
        }
    }

    /// The dataset these calls address.
    pub(crate) fn dataset(&self) -> &str {
        &self.dataset
    }

    /// The `CREATE OR REPLACE VIEW` statement for `base`.
    pub(crate) fn view_ddl(&self, base: &str) -> String {
        views::view_ddl(&self.project, &self.dataset, base, self.partitioning)
    }

    async fn ensure_dataset(&self) -> Result<(), ApiError> {
        if self.dataset_checked.load(Ordering::Relaxed) {
            return Ok(());
        }
        match self
            .client
            .dataset()
            .get(&self.project, &self.dataset)
            .await
        {
            Ok(_) => {}
            Err(e) if is_status(&e, 404) => {
                let d = Dataset::new(&self.project, &self.dataset).location(&self.location);
                match self.client.dataset().create(d).await {
                    Ok(_) => {
                        tracing::info!(dataset = %self.dataset, "created BigQuery dataset");
                    }
                    Err(e) if is_status(&e, 409) => {}
                    Err(e) => return Err(classify("datasets.insert", &e)),
                }
            }
            Err(e) => return Err(classify("datasets.get", &e)),
        }
        self.dataset_checked.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Sends the whole working schema (`tables.patch` replaces the field
    /// list; BigQuery accepts it when it only adds NULLABLE columns).
    /// Returns the schema BigQuery now has, which the caller checks: a
    /// patch can succeed without adding what it asked for.
    pub(crate) async fn patch(
        &self,
        table: &str,
        schema: &Schema,
    ) -> Result<TableSchema, ApiError> {
        let t = Table::new(&self.project, &self.dataset, table, schema.to_bq());
        match self
            .client
            .table()
            .patch(&self.project, &self.dataset, table, t)
            .await
        {
            Ok(t) => Ok(t.schema),
            Err(e) => Err(classify("tables.patch", &e)),
        }
    }

    /// The schema BigQuery has now (after a failed patch).
    pub(crate) async fn fetch(&self, table: &str) -> Result<Schema, ApiError> {
        self.client
            .table()
            .get(&self.project, &self.dataset, table, None)
            .await
            .map(|t| Schema::from_bq(&t.schema))
            .map_err(|e| classify("tables.get", &e))
    }
}
