//! Sources: where events enter the pipeline. One module per `type`.
//!
//! Adding a source: a folder or file here with a `Config` (serde,
//! `deny_unknown_fields`, a pure `validate`) and a type implementing
//! [`Source`], then one variant in [`SourceConfig`] and one arm in each
//! `match` below; the compiler points at any arm you miss.

pub mod archive;
mod emit;
pub(crate) mod file;
pub(crate) mod kafka;
mod message;
pub(crate) mod pubsub;
pub mod replay;
pub(crate) mod stdin;

pub(crate) use emit::{send_read, Emitter, LineFeeder, Position};

use std::path::PathBuf;

use serde::Deserialize;

use crate::component::FieldError;
use crate::component::Source;
use crate::component::{BuildContext, BuildError};
use crate::decode::Format;

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
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            SourceConfig::Archive(_) => "archive",
            SourceConfig::Stdin(_) => "stdin",
            SourceConfig::File(_) => "file",
            SourceConfig::Pubsub(_) => "pubsub",
            SourceConfig::Kafka(_) => "kafka",
        }
    }

    /// Checks that need no IO; errors name the field.
    pub(crate) fn validate(&self) -> Vec<FieldError> {
        match self {
            SourceConfig::Archive(c) => c.validate(),
            SourceConfig::Stdin(c) => c.validate(),
            SourceConfig::File(c) => c.validate(),
            SourceConfig::Pubsub(c) => c.validate(),
            SourceConfig::Kafka(c) => c.validate(),
        }
    }

    /// What stands in for this source in a dry run (see [`DryRunInput`]).
    /// The match is exhaustive on purpose: a new source type must say how
    /// it takes part before it compiles, so none slips a socket into a dry
    /// run.
    pub(crate) fn dry_run_input(&self) -> DryRunInput {
        match self {
            SourceConfig::Stdin(_) => DryRunInput::AsIs,
            SourceConfig::File(c) => DryRunInput::Files {
                paths: c.matched_now(),
                format: c.format,
                max_line_bytes: c.max_line_bytes,
            },
            SourceConfig::Archive(c) => match c.selection() {
                Ok(Some(sel)) if sel.location.is_remote() => DryRunInput::Network {
                    reads: sel.location.to_string(),
                    instead: "copy the objects to a folder and pass `--from DIR`",
                },
                // A local folder ends and opens no socket; a bad or missing
                // location is reported by `build`.
                _ => DryRunInput::AsIs,
            },
            SourceConfig::Pubsub(c) => DryRunInput::Network {
                reads: format!("Pub/Sub subscription {}", c.subscription),
                instead: "pass `--input FILE` (NDJSON of message bodies) to stand in for it",
            },
            SourceConfig::Kafka(c) => DryRunInput::Network {
                reads: format!("Kafka topics {}", c.topics.join(", ")),
                instead: "pass `--input FILE` (NDJSON of message values) to stand in for it",
            },
        }
    }

    pub(crate) fn build(
        &self,
        name: &str,
        cx: &BuildContext,
    ) -> Result<Box<dyn Source>, BuildError> {
        Ok(match self {
            SourceConfig::Archive(c) => Box::new(archive::Archive::build(c, name, cx)?),
            SourceConfig::Stdin(c) => Box::new(stdin::Stdin::new(c.clone(), cx)),
            SourceConfig::File(c) => Box::new(file::FileSource::new(c.clone(), name, cx)?),
            SourceConfig::Pubsub(c) => Box::new(pubsub::Pubsub::new(c.clone(), cx)),
            SourceConfig::Kafka(c) => Box::new(kafka::Kafka::new(c.clone(), cx, name)?),
        })
    }
}

/// How a source takes part in a dry run, which opens no network connection
/// and always ends. The topology applies it; sources never look at the
/// dry-run flag themselves.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DryRunInput {
    /// Reads local input that ends by itself (stdin to EOF, a local
    /// archive folder): built as configured.
    AsIs,
    /// Tails local files without end: replaced by one read, start to end,
    /// of the files its globs match now.
    Files {
        paths: Vec<PathBuf>,
        format: Format,
        max_line_bytes: usize,
    },
    /// Reads from the network: refused unless `--input` files stand in for
    /// every source.
    Network {
        /// What it would connect to, for the message (no credentials).
        reads: String,
        /// What to do instead.
        instead: &'static str,
    },
}
