//! The end-of-run table on stderr: per component counts, dead letters, and
//! where redactions happened, so a CI job can read them without a browser.

use std::fmt::Write as _;

use super::summary::{FieldTotal, Summary};

/// Field paths listed; the rest are summed on one line.
const FIELDS_SHOWN: usize = 15;

/// The table, ready to print.
pub(crate) fn render(s: &Summary) -> String {
    let mut out = String::new();
    for (name, c) in &s.components {
        let _ = writeln!(
            out,
            "  {:<10} {:<20} in {:>8}  out {:>8}  dropped {:>6}  errors {:>6}",
            c.kind, name, c.events_in, c.events_out, c.dropped, c.errors
        );
    }
    let _ = writeln!(out, "  dead letters: {}", s.deadletter);
    for g in &s.deadletter_reasons {
        let _ = writeln!(out, "    {:>8}  {}: {}", g.count, g.component, g.reason);
    }
    let fields = s.fields_by_total();
    if !fields.is_empty() {
        let _ = writeln!(out, "  redactions by field:");
    }
    for FieldTotal { field, total, by } in fields.iter().take(FIELDS_SHOWN) {
        let detail: Vec<String> = by.iter().map(|(d, n)| format!("{d} {n}")).collect();
        let _ = writeln!(out, "    {total:>8}  {field:<40} {}", detail.join(", "));
    }
    if fields.len() > FIELDS_SHOWN {
        let rest: u64 = fields[FIELDS_SHOWN..].iter().map(|f| f.total).sum();
        let _ = writeln!(
            out,
            "    {rest:>8}  ({} more fields)",
            fields.len() - FIELDS_SHOWN
        );
    }
    out
}
