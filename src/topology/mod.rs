//! Builds the component graph from a validated config and runs it.
//!
//! Ownership: [`Running`] owns a `JoinSet` with one named task per
//! component, plus the dead-letter writer. The root `CancellationToken`
//! belongs to the caller (`main` wires it to SIGTERM/SIGINT); each source
//! gets a child token. Shutdown is a cascade: sources stop reading and
//! drop their outputs, transforms end when their inputs close, sinks flush
//! and end when theirs close, the dead-letter writer ends last. Every
//! channel is bounded, counted in batches, so a stalled sink stalls its
//! upstream all the way to the sources.

mod builder;
mod dead_letter;
mod running;

pub use builder::{build, build_dry_run, DryRunPlan};
pub use running::{Outcome, Running};

#[cfg(test)]
mod tests;
