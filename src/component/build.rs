//! What a component is given to build itself, and how building fails.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::node::NodeInfo;
use crate::telemetry::Telemetry;

/// What components need to build themselves: the pipeline-wide settings
/// they use, the node, and telemetry. Built by `config` from `[global]`;
/// in a dry run the topology points `data_dir` into the output folder.
#[derive(Clone)]
pub struct BuildContext {
    /// Where components keep state (checkpoints, resume files).
    pub(crate) data_dir: PathBuf,
    /// How long a source may wait for acknowledgements at shutdown.
    pub(crate) shutdown_grace: Duration,
    pub(crate) node: NodeInfo,
    pub(crate) telemetry: Arc<Telemetry>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build {kind} `{name}`: {message}")]
pub struct BuildError {
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    pub(crate) message: String,
}

impl BuildError {
    pub(crate) fn new(kind: &'static str, name: &str, message: impl std::fmt::Display) -> Self {
        BuildError {
            kind,
            name: name.to_string(),
            message: message.to_string(),
        }
    }
}

/// An error from a component's own `validate`, relative to the component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Key inside the component's table, e.g. `query`.
    pub(crate) field: String,
    pub(crate) message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}
