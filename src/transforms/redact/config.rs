//! Configuration of the redaction engine: classes, modes, custom detectors,
//! key rules and allow-lists. Deserialized from the pipeline file; the hash
//! key is never part of it (it is handed to [`super::Redactor::new`]).

use std::collections::BTreeMap;

use serde::Deserialize;

/// The kind of sensitive data a detector or key rule finds. Modes are chosen
/// per class, and the class name is the label in masks and pseudonyms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// E-mail addresses.
    Email,
    /// IPv4 and IPv6 addresses.
    Ip,
    /// Telephone numbers.
    Phone,
    /// Payment card numbers.
    Card,
    /// US social security numbers.
    Ssn,
    /// International bank account numbers.
    Iban,
    /// Credentials: tokens, API keys, passwords, authorization values.
    Secret,
    /// Hardware identifiers: MAC, IMEI, serials, device ids.
    Hardware,
    /// Other personal data found by key name (names, ip fields...).
    Personal,
}

impl Class {
    /// Every class, in index order.
    pub(crate) const ALL: [Class; 9] = [
        Class::Email,
        Class::Ip,
        Class::Phone,
        Class::Card,
        Class::Ssn,
        Class::Iban,
        Class::Secret,
        Class::Hardware,
        Class::Personal,
    ];

    /// The lower-case name used in config, masks and pseudonyms.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Class::Email => "email",
            Class::Ip => "ip",
            Class::Phone => "phone",
            Class::Card => "card",
            Class::Ssn => "ssn",
            Class::Iban => "iban",
            Class::Secret => "secret",
            Class::Hardware => "hardware",
            Class::Personal => "personal",
        }
    }

    /// Dense index, `0..Class::ALL.len()`.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Parses a class name as written by [`Class::as_str`].
    pub(crate) fn from_name(s: &str) -> Option<Class> {
        Class::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to a sensitive value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Replace with `[REDACTED:<class>]`.
    #[default]
    Mask,
    /// Replace with a keyed HMAC-SHA256 pseudonym `<class>:<16 hex>`.
    Hash,
    /// Keep a non-identifying part: last 4 digits of a card, the /24 of an
    /// IPv4 address, the domain of an e-mail. Classes without a partial form
    /// are masked.
    Partial,
    /// Remove the field. A match inside longer text is masked instead.
    Drop,
}

/// A user-defined regular-expression detector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomDetector {
    /// Name used in statistics and audit reports; must not be a built-in name.
    pub(crate) name: String,
    /// Regular expression (Rust `regex` syntax); every match is redacted.
    pub(crate) pattern: String,
    /// Class of what it finds (selects the mode and the mask label).
    pub(crate) class: Class,
    /// Optional literal that every match contains; strings without it are
    /// skipped without running the expression (strongly recommended).
    #[serde(default)]
    pub(crate) anchor: Option<String>,
}

/// A key-name rule: the whole value of every field with this key is redacted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRule {
    /// Key name. Matching ignores case, `_` and `-` (`remoteIp` = `remote_ip`).
    pub(crate) key: String,
    /// Class of the value.
    pub(crate) class: Class,
}

/// Configuration of the redact transform. Every field is optional; the
/// default value is the default profile (all classes on, everything masked,
/// built-in key rules, LogEntry envelope fields allow-listed).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactConfig {
    /// Mode for every class not listed in `modes`. Default `mask`.
    pub default_mode: Mode,
    /// Mode per class, e.g. `{ "email": "hash", "card": "partial" }`.
    pub modes: BTreeMap<Class, Mode>,
    /// Classes that are not redacted at all (neither detectors nor key rules).
    pub disabled_classes: Vec<Class>,
    /// Built-in detectors switched off by name (`email`, `ipv4`, `ipv6`,
    /// `phone`, `card`, `ssn`, `iban`, `jwt`, `bearer`, `authorization`,
    /// `api_key`, `secret_param`, `password`, `url_password`, `mac`, `imei`,
    /// `serial`, `name`, `private_key`).
    pub disabled_detectors: Vec<String>,
    /// Additional regular-expression detectors.
    pub detectors: Vec<CustomDetector>,
    /// Keep the built-in key rules (hardware, personal, credentials lists).
    /// Default `true`.
    pub default_key_rules: bool,
    /// Additional key rules (or class overrides of built-in keys).
    pub key_rules: Vec<KeyRule>,
    /// Keep the built-in allow-listed paths (`insertId`, `logName`,
    /// `resource.type`, `timestamp`, `receiveTimestamp`, `severity`, `trace`,
    /// `spanId`, `traceSampled`). Default `true`.
    pub default_allow_paths: bool,
    /// Dotted paths from the event root that are never touched, e.g.
    /// `jsonPayload.request_id`.
    pub allow_paths: Vec<String>,
    /// Keys (at any depth, matched like key rules) whose values are never
    /// touched.
    pub allow_keys: Vec<String>,
    /// Exact strings that are never redacted (e.g. a public support address).
    pub allow_values: Vec<String>,
    /// Redact a value found sensitive in one field wherever else it appears in
    /// the same event. Default `true`.
    pub propagate: bool,
    /// Shortest value (in bytes) that is propagated; shorter ones would hit
    /// ordinary words. Default 5.
    pub min_propagate_len: usize,
    /// Environment variable holding the `hash` mode key (at least 16
    /// bytes). Read by the pipeline stage, never by the engine; the key
    /// itself never appears in the pipeline file. Default `SLUICE_REDACT_KEY`.
    pub hash_key_env: Option<String>,
    /// File holding the `hash` mode key (e.g. a mounted Kubernetes secret);
    /// takes precedence over `hash_key_env`.
    pub hash_key_file: Option<std::path::PathBuf>,
}

impl Default for RedactConfig {
    fn default() -> Self {
        RedactConfig {
            default_mode: Mode::Mask,
            modes: BTreeMap::new(),
            disabled_classes: Vec::new(),
            disabled_detectors: Vec::new(),
            detectors: Vec::new(),
            default_key_rules: true,
            key_rules: Vec::new(),
            default_allow_paths: true,
            allow_paths: Vec::new(),
            allow_keys: Vec::new(),
            allow_values: Vec::new(),
            propagate: true,
            min_propagate_len: 5,
            hash_key_env: None,
            hash_key_file: None,
        }
    }
}

impl RedactConfig {
    /// The mode in force for `class`.
    pub(crate) fn mode_for(&self, class: Class) -> Mode {
        self.modes.get(&class).copied().unwrap_or(self.default_mode)
    }

    /// False when every class is disabled: such a transform redacts
    /// nothing, so it does not count as redaction in validation.
    pub(crate) fn redacts_anything(&self) -> bool {
        Class::ALL
            .iter()
            .any(|c| !self.disabled_classes.contains(c))
    }
}

/// Built-in key rules: hardware identifiers.
pub(crate) const HARDWARE_KEYS: &[&str] = &[
    "hardware_id",
    "device_id",
    "serial",
    "serial_number",
    "android_id",
    "machine_id",
    "imei",
    "mac",
    "mac_address",
    "hardware_uuid",
    "system_uuid",
];

/// Built-in key rules: personal data.
pub(crate) const PERSONAL_KEYS: &[&str] = &[
    "email",
    "user_email",
    "phone",
    "phone_number",
    "ip",
    "ip_address",
    "remoteIp",
    "x-forwarded-for",
    "name",
    "user_name",
    "full_name",
    "first_name",
    "last_name",
];

/// Built-in key rules: credentials.
pub(crate) const CREDENTIAL_KEYS: &[&str] = &[
    "password",
    "secret",
    "token",
    "api_key",
    "authorization",
    "license_key",
    "cookie",
    "set-cookie",
];

/// Built-in allow-listed paths (LogEntry envelope).
pub(crate) const DEFAULT_ALLOW_PATHS: &[&str] = &[
    "insertId",
    "logName",
    "resource.type",
    "timestamp",
    "receiveTimestamp",
    "severity",
    "trace",
    "spanId",
    "traceSampled",
];

/// A configuration that cannot be used. Names the offending config key and
/// never contains a configured or detected value.
#[derive(Debug, thiserror::Error)]
pub enum RedactConfigError {
    /// Hash mode without a key.
    #[error("redact: class `{class}` uses mode `hash` (key `modes`/`default_mode`) but no hash key was supplied")]
    MissingHashKey {
        /// The class whose mode is `hash`.
        class: &'static str,
    },
    /// Key shorter than 16 bytes.
    #[error("redact: the hash key is shorter than 16 bytes")]
    ShortHashKey,
    /// A custom pattern does not compile.
    #[error("redact: `detectors[{index}].pattern` is not a valid regular expression: {reason}")]
    InvalidPattern {
        /// Index in `detectors`.
        index: usize,
        /// The regex crate's own explanation (its last line, without the
        /// pattern echo).
        reason: String,
    },
    /// A custom detector name is empty or taken.
    #[error("redact: `detectors[{index}].name` is empty or already used")]
    InvalidDetectorName {
        /// Index in `detectors`.
        index: usize,
    },
    /// A custom anchor is empty.
    #[error("redact: `detectors[{index}].anchor` is empty")]
    EmptyAnchor {
        /// Index in `detectors`.
        index: usize,
    },
    /// Unknown name in `disabled_detectors`.
    #[error("redact: `disabled_detectors[{index}]` is not a built-in detector name")]
    UnknownDetector {
        /// Index in `disabled_detectors`.
        index: usize,
    },
    /// Empty key in `key_rules` or `allow_keys`.
    #[error("redact: `{list}[{index}]` has an empty key")]
    EmptyKey {
        /// `key_rules` or `allow_keys`.
        list: &'static str,
        /// Index in that list.
        index: usize,
    },
    /// Malformed allow path.
    #[error("redact: `allow_paths[{index}]` is empty or has an empty segment")]
    BadAllowPath {
        /// Index in `allow_paths`.
        index: usize,
    },
}

impl RedactConfigError {
    /// The key of the transform's table the error is about, for the
    /// config error's key path and line.
    pub(crate) fn field(&self) -> &'static str {
        match self {
            RedactConfigError::MissingHashKey { .. } => "modes",
            RedactConfigError::ShortHashKey => "hash_key_file",
            RedactConfigError::InvalidPattern { .. }
            | RedactConfigError::InvalidDetectorName { .. }
            | RedactConfigError::EmptyAnchor { .. } => "detectors",
            RedactConfigError::UnknownDetector { .. } => "disabled_detectors",
            RedactConfigError::EmptyKey { list, .. } => list,
            RedactConfigError::BadAllowPath { .. } => "allow_paths",
        }
    }
}
