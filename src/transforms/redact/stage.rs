//! `type = "redact"`: the pipeline stage around the redaction engine
//! (the rest of `transforms::redact`). The engine is pure; this stage reads the `hash`
//! mode key from a file or an environment variable (never from the
//! pipeline file), runs the engine over each batch, and reports counts per
//! detector. The same engine, built from the same config, redacts the
//! dead-letter records when `[dead_letter] redact_with` names this stage.

use std::sync::Arc;

use serde_json::Value;

use super::{Class, Mode, RedactConfig, RedactStats, Redactor};
use crate::component::FieldError;
use crate::component::Transform;
use crate::component::{DeadLetterRedactor, TransformContext};
use crate::event::{Batch, Event};
use crate::telemetry::{SampledSpan, Sampler, Telemetry};

/// Where the key is read from when no `hash_key_env` is configured.
pub(crate) const DEFAULT_KEY_ENV: &str = "SLUICE_REDACT_KEY";

/// A validated `redact` stage. Without `hash` mode the engine built by
/// validation is the one that runs; with it, validation checks everything
/// with a throwaway key and the real engine is built once, on first use,
/// with the key from the environment or `hash_key_file` (an environment
/// matter, reported at start-up). The transform and the dead-letter writer
/// share that one engine.
pub struct Prepared {
    cfg: RedactConfig,
    engine: std::sync::OnceLock<Result<Arc<Redactor>, String>>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").finish_non_exhaustive()
    }
}

impl Prepared {
    /// Pure checks: everything `Redactor::new` would refuse, except a
    /// missing key.
    pub(crate) fn validate(cfg: &RedactConfig) -> Result<Prepared, Vec<FieldError>> {
        let uses_hash = Class::ALL
            .iter()
            .any(|c| !cfg.disabled_classes.contains(c) && cfg.mode_for(*c) == Mode::Hash);
        // A throwaway key lets the engine check everything else.
        let probe_key = uses_hash.then_some(&[0u8; 32][..]);
        let engine = std::sync::OnceLock::new();
        match Redactor::new(cfg, probe_key) {
            Ok(e) if !uses_hash => {
                let _ = engine.set(Ok(Arc::new(e)));
            }
            Ok(_) => {}
            Err(e) => return Err(vec![FieldError::new(e.field(), e.to_string())]),
        }
        Ok(Prepared {
            cfg: cfg.clone(),
            engine,
        })
    }

    /// The engine, built with the hash key on first use.
    pub(crate) fn engine(&self) -> Result<Arc<Redactor>, String> {
        self.engine
            .get_or_init(|| build_redactor(&self.cfg).map(Arc::new))
            .clone()
    }
}

/// Builds the engine, reading the hash key when a class uses `hash`.
fn build_redactor(cfg: &RedactConfig) -> Result<Redactor, String> {
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

pub(crate) struct Redact {
    engine: Arc<Redactor>,
    stats: RedactStats,
    /// The dry-run report's reservoir, when one was asked for: then every
    /// entry is redacted with a trace of its replacements.
    sampler: Option<Arc<Sampler>>,
}

impl Redact {
    pub(crate) fn new(engine: Arc<Redactor>, sampler: Option<Arc<Sampler>>) -> Self {
        Redact {
            engine,
            stats: RedactStats::default(),
            sampler,
        }
    }
}

impl Transform for Redact {
    fn process(&mut self, batch: Batch, out: &mut Vec<Event>, cx: &mut TransformContext) {
        self.stats = RedactStats::default();
        match &self.sampler {
            None => {
                for mut e in batch.events {
                    self.engine.redact(e.log_mut(), &mut self.stats);
                    out.push(e);
                }
            }
            Some(sampler) => {
                let mut traced = Vec::new();
                for mut e in batch.events {
                    let mut trace = Vec::new();
                    self.engine
                        .redact_traced(e.log_mut(), &mut self.stats, &mut trace);
                    if !trace.is_empty() {
                        traced.push((out.len(), trace));
                    }
                    out.push(e);
                }
                sampler.offer(traced.len(), |i| {
                    let (at, trace) = &traced[i];
                    let spans = trace
                        .iter()
                        .map(|r| SampledSpan {
                            path: r.path.clone(),
                            detector: r.detector.to_string(),
                            replacement: r.replacement.clone(),
                        })
                        .collect();
                    (Value::clone(&out[*at].log), spans)
                });
            }
        }
        cx.redactions
            .extend(self.stats.iter().map(|(k, v)| (k.to_string(), v)));
        cx.redactions_by_field.extend(
            self.engine
                .field_counts(&self.stats)
                .into_iter()
                .map(|(f, d, n)| (f, d.to_string(), n)),
        );
    }
}

/// Redacts dead-letter records with the same engine.
pub(crate) struct DeadLetters(pub Arc<Redactor>);

impl DeadLetterRedactor for DeadLetters {
    fn redact(&self, path: &str, value: &mut Value, telemetry: &Telemetry) {
        let mut stats = RedactStats::default();
        self.0.redact_under(path, value, &mut stats);
        telemetry.add_redactions(stats.iter());
        let fields = self.0.field_counts(&stats);
        telemetry.add_field_redactions(fields.iter().map(|(f, d, n)| (f.as_str(), &**d, *n)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Validation's engine is the one that runs, and the transform and the
    /// dead-letter writer share one engine: nothing is compiled twice.
    #[test]
    fn the_engine_is_built_once_and_shared() {
        let p = Prepared::validate(&RedactConfig::default()).expect("the default profile is valid");
        assert!(
            p.engine.get().is_some(),
            "built during validation without hash mode"
        );
        let (a, b) = (p.engine().unwrap(), p.engine().unwrap());
        assert!(Arc::ptr_eq(&a, &b));
    }

    /// With `hash` mode the key is an environment matter: validation passes
    /// without it and the engine, built on first use, names what to set.
    #[test]
    fn hash_mode_without_a_key_is_refused_at_build_naming_the_setting() {
        let cfg = RedactConfig {
            default_mode: Mode::Hash,
            hash_key_env: Some("SLUICE_TEST_KEY_THAT_IS_NEVER_SET".into()),
            ..RedactConfig::default()
        };
        let p = Prepared::validate(&cfg).expect("valid apart from the key");
        assert!(p.engine.get().is_none(), "the probe engine is not kept");
        let Err(err) = p.engine() else {
            panic!("an engine in hash mode without a key")
        };
        assert!(err.contains("SLUICE_TEST_KEY_THAT_IS_NEVER_SET"), "{err}");
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;

    const KEY: &str = "k3y-0f-the-t3st-that-must-n0t-leak";

    fn hash_cfg(env: Option<&str>, file: Option<std::path::PathBuf>) -> RedactConfig {
        RedactConfig {
            default_mode: Mode::Hash,
            hash_key_env: env.map(str::to_string),
            hash_key_file: file,
            ..RedactConfig::default()
        }
    }

    fn pseudonym(r: &Redactor) -> String {
        let mut v = Value::String("mail ops@example.com".into());
        r.redact(&mut v, &mut RedactStats::default());
        v.as_str().unwrap_or_default().to_string()
    }

    #[test]
    fn hash_key_from_env_var_default_and_named() {
        // The default variable, SLUICE_REDACT_KEY: no other test sets it.
        std::env::set_var(DEFAULT_KEY_ENV, KEY);
        let from_default = build_redactor(&hash_cfg(None, None));
        std::env::remove_var(DEFAULT_KEY_ENV);
        let from_default = from_default.expect("key read from SLUICE_REDACT_KEY");
        let var = "SLUICE_TEST_KEY_NAMED_ENV";
        std::env::set_var(var, KEY);
        let named = build_redactor(&hash_cfg(Some(var), None)).expect("key read from hash_key_env");
        std::env::remove_var(var);
        let (a, b) = (pseudonym(&from_default), pseudonym(&named));
        assert!(
            a.starts_with("mail email:") && a.len() == "mail email:".len() + 16,
            "{a}"
        );
        assert_eq!(a, b, "same key, same pseudonym");
        let other =
            Redactor::new(&hash_cfg(None, None), Some(b"another-key-of-16+bytes")).expect("valid");
        assert_ne!(a, pseudonym(&other), "the pseudonym depends on the key");
    }

    #[test]
    fn hash_key_from_file_wins_and_is_trimmed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("key");
        std::fs::write(&path, format!("{KEY}\n")).expect("write key");
        let var = "SLUICE_TEST_KEY_FILE_WINS";
        std::env::set_var(var, "an-env-key-that-is-not-used");
        let r = build_redactor(&hash_cfg(Some(var), Some(path))).expect("key read from file");
        std::env::remove_var(var);
        let direct = Redactor::new(&hash_cfg(None, None), Some(KEY.as_bytes())).expect("valid");
        assert_eq!(
            pseudonym(&r),
            pseudonym(&direct),
            "file key, newline trimmed"
        );
    }

    #[test]
    fn hash_mode_without_key_is_refused_and_errors_never_show_the_key() {
        let var = "SLUICE_TEST_KEY_UNSET";
        std::env::remove_var(var);
        let err = build_redactor(&hash_cfg(Some(var), None)).expect_err("no key, no hash mode");
        assert!(err.contains(var) && err.contains("hash_key_file"), "{err}");
        // An empty variable is no key either.
        std::env::set_var(var, "");
        let err = build_redactor(&hash_cfg(Some(var), None)).expect_err("empty key");
        std::env::remove_var(var);
        assert!(err.contains(var), "{err}");
        // Too short: refused, and the message does not carry the key.
        let short = "sh0rt-k3y";
        let var2 = "SLUICE_TEST_KEY_SHORT";
        std::env::set_var(var2, short);
        let err = build_redactor(&hash_cfg(Some(var2), None)).expect_err("short key");
        std::env::remove_var(var2);
        assert!(!err.contains(short), "{err}");
        // A missing key file: the path is named, not a key.
        let err = build_redactor(&hash_cfg(None, Some("/nonexistent/sluice-key".into())))
            .expect_err("unreadable key file");
        assert!(err.contains("/nonexistent/sluice-key"), "{err}");
        // Only classes in hash mode need a key.
        build_redactor(&RedactConfig::default()).expect("mask mode needs no key");
        // The engine's Debug output (what a log line would print) has no key.
        let r = Redactor::new(&hash_cfg(None, None), Some(KEY.as_bytes())).expect("valid");
        let dbg = format!("{r:?}");
        assert!(!dbg.contains(KEY) && !dbg.contains("k3y"), "{dbg}");
        // Nor does a pseudonym.
        assert!(!pseudonym(&r).contains(KEY));
    }
}
