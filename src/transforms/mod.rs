//! Transforms: synchronous, batch-at-a-time stages between sources and
//! sinks. One module per `type`; registered in [`TransformConfig`].
//!
//! A transform gets a batch and pushes what survives to `out`. It settles
//! what it drops on purpose as `Dropped` and hands what it cannot process
//! to `cx.reject` (dead-letter). Counts of dropped events are derived by
//! the topology from sizes, so transforms do not count them.

pub(crate) mod filter;
pub(crate) mod log_metrics;
pub mod redact;

use std::sync::Arc;

use serde::Deserialize;

use crate::component::FieldError;
use crate::component::Transform;
use crate::component::{BuildContext, BuildError, DeadLetterRedactor};

/// `[transforms.NAME]` tables, by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransformConfig {
    Filter(filter::Config),
    Redact(Box<redact::RedactConfig>),
    LogMetrics(log_metrics::Config),
}

impl TransformConfig {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            TransformConfig::Filter(_) => "filter",
            TransformConfig::Redact(_) => "redact",
            TransformConfig::LogMetrics(_) => "log_metrics",
        }
    }

    /// Checks that need no network, keeping what they computed (the
    /// parsed query, the compiled metric definitions, the redaction engine)
    /// so that `build` parses, reads and compiles nothing again.
    pub(crate) fn validate(&self) -> Result<Validated, Vec<FieldError>> {
        match self {
            TransformConfig::Filter(c) => c.validate().map(Validated::Filter),
            TransformConfig::Redact(c) => {
                redact::stage::Prepared::validate(c).map(|p| Validated::Redact(Arc::new(p)))
            }
            TransformConfig::LogMetrics(c) => c.validate().map(Validated::LogMetrics),
        }
    }

    /// Gives components that name files the pipeline file's folder, so
    /// relative paths mean "next to the pipeline".
    pub(crate) fn resolve_paths(&mut self, base: Option<&std::path::Path>) {
        match self {
            TransformConfig::Filter(_) | TransformConfig::Redact(_) => {}
            TransformConfig::LogMetrics(c) => c.resolve_paths(base),
        }
    }

    /// Files this transform reads when built, as they are now.
    pub(crate) fn named_files(&self) -> Vec<std::path::PathBuf> {
        match self {
            TransformConfig::Filter(_) => Vec::new(),
            TransformConfig::Redact(c) => c.hash_key_file.iter().cloned().collect(),
            TransformConfig::LogMetrics(c) => c.definition_files(),
        }
    }

    /// True for transforms after which events count as redacted.
    /// A `redact` with every class disabled redacts nothing and does not
    /// count.
    pub(crate) fn redacts(&self) -> bool {
        match self {
            TransformConfig::Redact(c) => c.redacts_anything(),
            _ => false,
        }
    }

    /// True for transforms whose output leaves the pipeline by another way
    /// than the events: `log_metrics` label values reach `/metrics`.
    pub(crate) fn exports_labels(&self) -> bool {
        matches!(self, TransformConfig::LogMetrics(_))
    }
}

/// A transform's config after `validate`: what validation computed, used by
/// `build` as it is.
#[derive(Debug, Clone)]
pub enum Validated {
    Filter(crate::logging_query::Query),
    Redact(Arc<redact::stage::Prepared>),
    LogMetrics(log_metrics::Prepared),
}

impl Validated {
    /// A redactor for dead-letter records, if this is a redact transform:
    /// the same engine the transform runs.
    pub(crate) fn dead_letter_redactor(
        &self,
    ) -> Result<Option<Arc<dyn DeadLetterRedactor>>, String> {
        match self {
            Validated::Redact(p) => Ok(Some(Arc::new(redact::stage::DeadLetters(p.engine()?)))),
            _ => Ok(None),
        }
    }

    pub fn build(&self, name: &str, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        let fail = |e: String| BuildError::new("transform", name, e);
        Ok(match self {
            Validated::Filter(q) => Box::new(filter::Filter::new(q.clone())),
            Validated::Redact(p) => Box::new(redact::stage::Redact::new(
                p.engine().map_err(fail)?,
                cx.telemetry.sampler(),
            )),
            Validated::LogMetrics(p) => Box::new(p.build(name, &cx.telemetry).map_err(fail)?),
        })
    }
}
