//! `[sources.NAME] type = "kafka"`: the settings, their defaults, and the
//! checks `validate` makes (librdkafka options included, without
//! connecting).

use std::collections::BTreeMap;

use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use serde::Deserialize;

use crate::component::FieldError;

/// librdkafka settings the source owns; `librdkafka_options` may not set them.
const RESERVED: [&str; 5] = [
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "statistics.interval.ms",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Comma-separated `host:port` list (`bootstrap.servers`).
    pub(crate) bootstrap_servers: String,
    /// Topics to consume.
    pub(crate) topics: Vec<String>,
    /// Consumer group (`group.id`).
    pub(crate) group_id: String,
    /// Where a group with no committed offset starts: `earliest` (default)
    /// or `latest`.
    #[serde(default = "default_offset_reset")]
    pub(crate) auto_offset_reset: String,
    /// How often acknowledged offsets are committed.
    #[serde(default = "default_commit_interval_ms")]
    pub(crate) commit_interval_ms: u64,
    /// Unacknowledged records above which the assignment is paused.
    #[serde(default = "default_max_in_flight_messages")]
    pub(crate) max_in_flight_messages: usize,
    /// Unacknowledged payload bytes above which the assignment is paused.
    #[serde(default = "default_max_in_flight_bytes")]
    pub(crate) max_in_flight_bytes: usize,
    /// How long a revoke waits for in-flight batches before committing.
    #[serde(default = "default_rebalance_drain_ms")]
    pub(crate) rebalance_drain_ms: u64,
    /// On shutdown, how long to wait for in-flight batches.
    #[serde(default = "default_drain_timeout_secs")]
    pub(crate) drain_timeout_secs: u64,
    /// How often librdkafka reports statistics (source lag); 0 disables.
    #[serde(default = "default_statistics_interval_ms")]
    pub(crate) statistics_interval_ms: u64,
    /// Any other librdkafka setting, passed through as is: TLS
    /// (`security.protocol`, `ssl.ca.location`, ...), SASL (`sasl.mechanism`,
    /// `sasl.username`, ...), `session.timeout.ms`, `client.id`, ...
    #[serde(default)]
    pub(crate) librdkafka_options: BTreeMap<String, String>,
}

fn default_offset_reset() -> String {
    "earliest".into()
}
fn default_commit_interval_ms() -> u64 {
    1000
}
fn default_max_in_flight_messages() -> usize {
    20_000
}
fn default_max_in_flight_bytes() -> usize {
    64 << 20
}
fn default_rebalance_drain_ms() -> u64 {
    2000
}
fn default_drain_timeout_secs() -> u64 {
    10
}
fn default_statistics_interval_ms() -> u64 {
    10_000
}

impl Config {
    pub(crate) fn validate(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        if self.bootstrap_servers.trim().is_empty() {
            e.push(FieldError::new("bootstrap_servers", "must not be empty"));
        }
        if self.topics.is_empty() {
            e.push(FieldError::new("topics", "must name at least one topic"));
        }
        if self.topics.iter().any(|t| t.trim().is_empty()) {
            e.push(FieldError::new("topics", "topic names must not be empty"));
        }
        if self.group_id.trim().is_empty() {
            e.push(FieldError::new("group_id", "must not be empty"));
        }
        if !matches!(self.auto_offset_reset.as_str(), "earliest" | "latest") {
            e.push(FieldError::new(
                "auto_offset_reset",
                "must be `earliest` or `latest`",
            ));
        }
        if self.commit_interval_ms == 0 {
            e.push(FieldError::new("commit_interval_ms", "must be positive"));
        }
        if self.max_in_flight_messages == 0 {
            e.push(FieldError::new(
                "max_in_flight_messages",
                "must be positive",
            ));
        }
        if self.max_in_flight_bytes == 0 {
            e.push(FieldError::new("max_in_flight_bytes", "must be positive"));
        }
        for k in self.librdkafka_options.keys() {
            if RESERVED.contains(&k.as_str()) {
                e.push(FieldError::new(
                    format!("librdkafka_options.{k}"),
                    "is set by the source (use the source's own option)",
                ));
            }
        }
        if e.is_empty() {
            // librdkafka checks every option name and value here, without
            // creating a client (no connection): `sluice validate` refuses
            // what `run` would.
            if let Err(err) = self.client_config().create_native_config() {
                e.push(option_error(err, &self.librdkafka_options));
            }
        }
        e
    }

    pub(super) fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        for (k, v) in &self.librdkafka_options {
            c.set(k, v);
        }
        c.set("bootstrap.servers", &self.bootstrap_servers)
            .set("group.id", &self.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", &self.auto_offset_reset)
            .set(
                "statistics.interval.ms",
                self.statistics_interval_ms.to_string(),
            );
        if !self.librdkafka_options.contains_key("client.id") {
            c.set("client.id", "sluice");
        }
        c
    }
}

/// librdkafka's refusal as a field error on the option's key. The value
/// is cut out of the message: options include passwords.
fn option_error(err: KafkaError, options: &BTreeMap<String, String>) -> FieldError {
    match err {
        KafkaError::ClientConfig(_, desc, key, value) => {
            let field = if options.contains_key(&key) {
                format!("librdkafka_options.{key}")
            } else {
                "librdkafka_options".to_string()
            };
            let desc = if value.is_empty() {
                desc
            } else {
                desc.replace(&value, "…")
            };
            FieldError::new(field, format!("librdkafka refuses it: {desc}"))
        }
        other => FieldError::new(
            "librdkafka_options",
            format!("librdkafka refuses them: {other}"),
        ),
    }
}
