//! What a dry run found, for people and for machines: `summary.json`
//! ([`summary`]), the table printed at the end of the run ([`terminal`]) and,
//! with `--report`, one self-contained `report.html` a reviewer reads
//! ([`html`]). All three are views of one [`Summary`], collected from the
//! run's telemetry after it ended, plus the sample of redacted entries.

pub(crate) mod html;
pub(crate) mod prom;
pub(crate) mod summary;
pub(crate) mod terminal;

pub(crate) use summary::Summary;
