//! `type = "redact"`: the pipeline stage around the redaction engine
//! (`transforms::redact`). The engine is pure; this stage reads the `hash`
//! mode key from a file or an environment variable (never from the
//! pipeline file), runs the engine over each batch, and reports counts per
//! detector. The same engine, built from the same config, redacts the
//! dead-letter records when `[dead_letter] redact_with` names this stage.

use std::sync::Arc;

use serde_json::Value;

use super::redact::{Class, Mode, RedactConfig, RedactStats, Redactor};
use super::Transform;
use crate::config::FieldError;
use crate::event::{Batch, Event};
use crate::telemetry::Telemetry;
use crate::topology::{DeadLetterRedactor, TransformContext};

/// Where the key is read from when no `hash_key_env` is configured.
pub const DEFAULT_KEY_ENV: &str = "SLUICE_REDACT_KEY";

/// Pure checks: everything `Redactor::new` would refuse, except a missing
/// key (an environment matter, reported at start-up).
pub fn validate(cfg: &RedactConfig) -> Vec<FieldError> {
    let uses_hash = Class::ALL
        .iter()
        .any(|c| !cfg.disabled_classes.contains(c) && cfg.mode_for(*c) == Mode::Hash);
    // A throwaway key lets the engine check everything else.
    let probe_key = uses_hash.then_some(&[0u8; 32][..]);
    match Redactor::new(cfg, probe_key) {
        Ok(_) => Vec::new(),
        Err(e) => vec![FieldError::new(e.field(), e.to_string())],
    }
}

/// Builds the engine, reading the hash key when a class uses `hash`.
pub fn build_redactor(cfg: &RedactConfig) -> Result<Redactor, String> {
    let key = read_key(cfg)?;
    Redactor::new(cfg, key.as_deref()).map_err(|e| match key {
        None => format!(
            "{e} (set {} or hash_key_file)",
            cfg.hash_key_env.as_deref().unwrap_or(DEFAULT_KEY_ENV)
        ),
        Some(_) => e.to_string(),
    })
}

fn read_key(cfg: &RedactConfig) -> Result<Option<Vec<u8>>, String> {
    if let Some(path) = &cfg.hash_key_file {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read hash_key_file {}: {e}", path.display()))?;
        let trimmed = bytes.trim_ascii_end().to_vec();
        return Ok(Some(trimmed));
    }
    let var = cfg.hash_key_env.as_deref().unwrap_or(DEFAULT_KEY_ENV);
    Ok(std::env::var(var)
        .ok()
        .filter(|k| !k.is_empty())
        .map(String::into_bytes))
}

pub struct Redact {
    engine: Arc<Redactor>,
    stats: RedactStats,
}

impl Redact {
    pub fn new(engine: Arc<Redactor>) -> Self {
        Redact {
            engine,
            stats: RedactStats::default(),
        }
    }
}

impl Transform for Redact {
    fn process(&mut self, batch: Batch, out: &mut Vec<Event>, cx: &mut TransformContext) {
        self.stats = RedactStats::default();
        for mut e in batch.events {
            self.engine.redact(&mut e.log, &mut self.stats);
            out.push(e);
        }
        cx.redactions
            .extend(self.stats.iter().map(|(k, v)| (k.to_string(), v)));
    }
}

/// Redacts dead-letter records with the same engine.
pub struct DeadLetters(pub Arc<Redactor>);

impl DeadLetterRedactor for DeadLetters {
    fn redact(&self, record: &mut Value, telemetry: &Telemetry) {
        let mut stats = RedactStats::default();
        self.0.redact(record, &mut stats);
        telemetry.add_redactions(stats.iter());
    }
}
