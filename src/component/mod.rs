//! The contract between the topology and the components: the three
//! component traits, what each is given to build and to run (contexts,
//! the ports it sends and receives through), and how it reports failure.
//!
//! This module is a leaf of the component graph: it names no source, sink
//! or transform type and no config model, so `sources`, `transforms` and
//! `sinks` depend on it and `topology` and `config` depend on them, with no
//! cycle between the layers (tests/it/architecture.rs checks the imports).

mod build;
mod context;
mod dead_letter;
mod output;

use async_trait::async_trait;

pub(crate) use build::{BuildContext, BuildError, FieldError};
pub use context::{ComponentError, SinkContext, SinkInput, SourceContext, TransformContext};
pub(crate) use dead_letter::{DeadLetter, DeadLetterRedactor, DeadLetterSender};
pub(crate) use output::Output;

use crate::event::{Batch, Event};

/// A running source. It returns when its input ends or when
/// `cx.shutdown` is cancelled, after flushing what it has read.
#[async_trait]
pub(crate) trait Source: Send {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError>;
}

/// A synchronous, batch-at-a-time stage. It pushes what survives to `out`,
/// settles what it drops on purpose as `Dropped`, and hands what it cannot
/// process to `cx.reject` (dead-letter). The topology counts.
pub trait Transform: Send {
    fn process(&mut self, batch: Batch, out: &mut Vec<Event>, cx: &mut TransformContext);
}

/// A running sink: take a batch, encode it, write it, settle each event
/// once the write is durable. Returns when its input ends, after flushing.
#[async_trait]
pub(crate) trait Sink: Send {
    async fn run(self: Box<Self>, input: SinkInput, cx: SinkContext) -> Result<(), ComponentError>;
}
