//! Transforms: synchronous, batch-at-a-time stages between sources and
//! sinks. One module per `type`; registered in [`TransformConfig`].
//!
//! A transform gets a batch and pushes what survives to `out`. It settles
//! what it drops on purpose as `Dropped` and hands what it cannot process
//! to `cx.reject` (dead-letter). Counts of dropped events are derived by
//! the topology from sizes, so transforms do not count them.

pub mod filter;
pub mod log_metrics;
pub mod redact;
pub mod redact_stage;

use std::sync::Arc;

use serde::Deserialize;

use crate::config::FieldError;
use crate::event::{Batch, Event};
use crate::topology::{BuildContext, BuildError, DeadLetterRedactor, TransformContext};

pub trait Transform: Send {
    fn process(&mut self, batch: Batch, out: &mut Vec<Event>, cx: &mut TransformContext);

    /// Called once when the input is finished, for transforms that hold
    /// state (none emit events today; the hook keeps that possible).
    fn finish(&mut self, _out: &mut Vec<Event>) {}
}

/// `[transforms.NAME]` tables, by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransformConfig {
    Filter(filter::Config),
    Redact(Box<redact::RedactConfig>),
    LogMetrics(log_metrics::Config),
}

impl TransformConfig {
    pub fn type_name(&self) -> &'static str {
        match self {
            TransformConfig::Filter(_) => "filter",
            TransformConfig::Redact(_) => "redact",
            TransformConfig::LogMetrics(_) => "log_metrics",
        }
    }

    pub fn validate(&self) -> Vec<FieldError> {
        match self {
            TransformConfig::Filter(c) => c.validate(),
            TransformConfig::Redact(c) => redact_stage::validate(c),
            TransformConfig::LogMetrics(c) => c.validate(),
        }
    }

    /// Gives components that name files the pipeline file's folder, so
    /// relative paths mean "next to the pipeline".
    pub fn resolve_paths(&mut self, base: Option<&std::path::Path>) {
        match self {
            TransformConfig::Filter(_) | TransformConfig::Redact(_) => {}
            TransformConfig::LogMetrics(c) => c.resolve_paths(base),
        }
    }

    /// True for transforms after which events count as redacted.
    /// A `redact` with every class disabled redacts nothing and does not
    /// count.
    pub fn redacts(&self) -> bool {
        match self {
            TransformConfig::Redact(c) => c.redacts_anything(),
            _ => false,
        }
    }

    /// True for transforms whose output leaves the pipeline by another way
    /// than the events: `log_metrics` label values reach `/metrics`.
    pub fn exports_labels(&self) -> bool {
        matches!(self, TransformConfig::LogMetrics(_))
    }

    /// A redactor for dead-letter records, if this is a redact transform.
    pub fn dead_letter_redactor(
        &self,
        _cx: &BuildContext,
    ) -> Result<Option<Arc<dyn DeadLetterRedactor>>, String> {
        match self {
            TransformConfig::Redact(c) => {
                let engine = Arc::new(redact_stage::build_redactor(c)?);
                Ok(Some(Arc::new(redact_stage::DeadLetters(engine))))
            }
            _ => Ok(None),
        }
    }

    pub fn build(&self, name: &str, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        let fail = |e: String| BuildError::new("transform", name, e);
        Ok(match self {
            TransformConfig::Filter(c) => Box::new(c.build().map_err(fail)?),
            TransformConfig::Redact(c) => {
                let engine = redact_stage::build_redactor(c).map_err(fail)?;
                Box::new(redact_stage::Redact::new(Arc::new(engine)))
            }
            TransformConfig::LogMetrics(c) => Box::new(c.build(name, &cx.telemetry).map_err(fail)?),
        })
    }
}
