//! What a dry run found, for people and for machines: `summary.json`
//! ([`summary`]), the table printed at the end of the run ([`terminal`]) and,
//! with `--report`, one self-contained `report.html` a reviewer reads
//! ([`html`]). All three are views of one [`Summary`], collected from the
//! run's telemetry after it ended, plus the sample of redacted entries.

pub mod html;
pub mod prom;
pub mod summary;
pub mod terminal;

pub use summary::Summary;
