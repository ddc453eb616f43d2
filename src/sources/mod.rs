//! Sources: where events enter the pipeline. One module per `type`.
//!
//! Adding a source: a folder or file here with a `Config` (serde,
//! `deny_unknown_fields`, a pure `validate`) and a type implementing
//! [`Source`], then one variant in [`SourceConfig`] and one arm in each
//! `match` below; the compiler points at any arm you miss.

pub mod archive;
mod emit;
pub mod file;
pub mod kafka;
mod message;
pub mod pubsub;
pub mod replay;
pub mod stdin;

pub use emit::{send_read, Emitter, LineFeeder, Position};

use async_trait::async_trait;
use serde::Deserialize;

use crate::config::FieldError;
use crate::topology::{BuildContext, BuildError, ComponentError, SourceContext};

/// A running source. It returns when its input ends or when
/// `cx.shutdown` is cancelled, after flushing what it has read.
#[async_trait]
pub trait Source: Send {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError>;
}

/// `[sources.NAME]` tables, by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceConfig {
    Archive(archive::Config),
    Stdin(stdin::Config),
    File(file::Config),
    Pubsub(pubsub::Config),
    Kafka(kafka::Config),
}

impl SourceConfig {
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceConfig::Archive(_) => "archive",
            SourceConfig::Stdin(_) => "stdin",
            SourceConfig::File(_) => "file",
            SourceConfig::Pubsub(_) => "pubsub",
            SourceConfig::Kafka(_) => "kafka",
        }
    }

    /// Checks that need no IO; errors name the field.
    pub fn validate(&self) -> Vec<FieldError> {
        match self {
            SourceConfig::Archive(c) => c.validate(),
            SourceConfig::Stdin(c) => c.validate(),
            SourceConfig::File(c) => c.validate(),
            SourceConfig::Pubsub(c) => c.validate(),
            SourceConfig::Kafka(c) => c.validate(),
        }
    }

    pub fn build(&self, name: &str, cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        Ok(match self {
            SourceConfig::Archive(c) => Box::new(archive::Archive::build(c, name, cx)?),
            SourceConfig::Stdin(c) => Box::new(stdin::Stdin::new(c.clone(), cx)),
            SourceConfig::File(c) => Box::new(file::FileSource::new(c.clone(), name, cx)?),
            SourceConfig::Pubsub(c) => Box::new(pubsub::Pubsub::new(c.clone(), cx)),
            SourceConfig::Kafka(c) => Box::new(kafka::Kafka::new(c.clone(), cx, name)?),
        })
    }
}
