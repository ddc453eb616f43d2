//! Where this process runs: project, location, cluster and node, used for
//! `resource.labels` and `logName`.
//!
//! Read from environment variables (`SLUICE_PROJECT_ID`, `SLUICE_LOCATION`,
//! `SLUICE_CLUSTER_NAME`, `SLUICE_NODE_NAME`) and, in `sluice run` only, from
//! the GKE metadata server for whatever the environment leaves unset
//! ([`NodeInfo::discover`], [`metadata`]): the environment always wins. A
//! dry run uses the environment alone, because it opens no socket. Unknown
//! values stay empty and are reported once at start-up.

pub mod metadata;

use std::time::Duration;

use serde_json::json;

use crate::event::log_entry::Origin;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeInfo {
    pub project_id: Option<String>,
    pub location: Option<String>,
    pub cluster_name: Option<String>,
    pub node_name: Option<String>,
}

pub(crate) const ENV_PROJECT: &str = "SLUICE_PROJECT_ID";
pub(crate) const ENV_LOCATION: &str = "SLUICE_LOCATION";
pub(crate) const ENV_CLUSTER: &str = "SLUICE_CLUSTER_NAME";
pub(crate) const ENV_NODE: &str = "SLUICE_NODE_NAME";

/// Where a label's value came from, for the start-up log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelSource {
    Env,
    MetadataServer,
    Unknown,
}

impl LabelSource {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LabelSource::Env => "env",
            LabelSource::MetadataServer => "metadata-server",
            LabelSource::Unknown => "unknown",
        }
    }
}

/// The result of [`NodeInfo::discover`]: the values, where each came from,
/// and why the metadata server gave nothing (if it was asked and failed).
#[derive(Debug, Clone)]
pub struct Discovery {
    pub info: NodeInfo,
    /// `(label, source)` for project_id, location, cluster_name, node_name.
    pub sources: [(&'static str, LabelSource); 4],
    /// Per label, why the metadata server did not supply it (error text
    /// without any value), or why it was not asked.
    pub problems: Vec<(&'static str, String)>,
}

impl Discovery {
    /// One info line naming every value and its source, then one warning
    /// naming the labels that stay unknown. The values are the node's own
    /// identifiers, not event content.
    pub(crate) fn log(&self) {
        let i = &self.info;
        let src = |n: usize| self.sources[n].1.as_str();
        tracing::info!(
            project_id = i.project_id.as_deref().unwrap_or(""),
            project_id_from = src(0),
            location = i.location.as_deref().unwrap_or(""),
            location_from = src(1),
            cluster_name = i.cluster_name.as_deref().unwrap_or(""),
            cluster_name_from = src(2),
            node_name = i.node_name.as_deref().unwrap_or(""),
            node_name_from = src(3),
            "node metadata"
        );
        for (label, why) in &self.problems {
            tracing::debug!(label, reason = %why, "metadata server gave no value");
        }
        let unknown = i.unknown();
        if !unknown.is_empty() {
            let why = self
                .problems
                .first()
                .map(|(_, w)| w.as_str())
                .unwrap_or("no source");
            tracing::warn!(
                labels = ?unknown,
                reason = why,
                "node metadata unknown; these resource labels will be empty (set SLUICE_PROJECT_ID, SLUICE_LOCATION, SLUICE_CLUSTER_NAME, SLUICE_NODE_NAME or reach the metadata server)"
            );
        }
    }
}

impl NodeInfo {
    /// Values from the environment only.
    pub(crate) fn from_env() -> NodeInfo {
        NodeInfo::from_lookup(|k| std::env::var(k).ok())
    }

    /// Values from a variable lookup (the environment, or a map in tests).
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> NodeInfo {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        NodeInfo {
            project_id: get(ENV_PROJECT),
            location: get(ENV_LOCATION),
            cluster_name: get(ENV_CLUSTER),
            node_name: get(ENV_NODE),
        }
    }

    /// Fills what `self` (from the environment) leaves unknown from the
    /// metadata server, asking for the missing values concurrently within
    /// `budget`. Never fails: what cannot be read stays unknown.
    pub async fn discover(self, endpoint: &metadata::Endpoint, budget: Duration) -> Discovery {
        let env = self;
        let mut problems = Vec::new();
        let mut info = env.clone();
        match endpoint {
            metadata::Endpoint::Disabled(why) => {
                for label in env.unknown() {
                    problems.push((label, format!("metadata server not asked: {why}")));
                }
            }
            metadata::Endpoint::Server { host, port } => {
                let ask = |wanted: bool, path: &'static str| async move {
                    if wanted {
                        Some(metadata::get_value(host, *port, path, budget).await)
                    } else {
                        None
                    }
                };
                let (project, location, cluster, node) = tokio::join!(
                    ask(env.project_id.is_none(), metadata::PATH_PROJECT),
                    ask(env.location.is_none(), metadata::PATH_LOCATION),
                    ask(env.cluster_name.is_none(), metadata::PATH_CLUSTER),
                    async {
                        if env.node_name.is_some() {
                            return None;
                        }
                        // GKE names the node after the instance; older
                        // servers or other platforms may only have the
                        // hostname, whose first label is the same name.
                        match metadata::get_value(host, *port, metadata::PATH_NAME, budget).await {
                            Ok(None) => Some(
                                metadata::get_value(host, *port, metadata::PATH_HOSTNAME, budget)
                                    .await
                                    .map(|v| {
                                        v.and_then(|h| h.split('.').next().map(str::to_string))
                                    }),
                            ),
                            other => Some(other),
                        }
                    },
                );
                let mut take = |label: &'static str,
                                slot: &mut Option<String>,
                                got: Option<Result<Option<String>, metadata::FetchError>>| match got {
                    None => {}
                    Some(Ok(Some(v))) => *slot = Some(v),
                    Some(Ok(None)) => problems.push((label, "metadata server has no such value (404)".to_string())),
                    Some(Err(e)) => problems.push((label, format!("metadata server {host}:{port}: {e}"))),
                };
                take("project_id", &mut info.project_id, project);
                take("location", &mut info.location, location);
                take("cluster_name", &mut info.cluster_name, cluster);
                take("node_name", &mut info.node_name, node);
            }
        }
        let source = |from_env: bool, known: bool| match (from_env, known) {
            (true, _) => LabelSource::Env,
            (false, true) => LabelSource::MetadataServer,
            (false, false) => LabelSource::Unknown,
        };
        let sources = [
            (
                "project_id",
                source(env.project_id.is_some(), info.project_id.is_some()),
            ),
            (
                "location",
                source(env.location.is_some(), info.location.is_some()),
            ),
            (
                "cluster_name",
                source(env.cluster_name.is_some(), info.cluster_name.is_some()),
            ),
            (
                "node_name",
                source(env.node_name.is_some(), info.node_name.is_some()),
            ),
        ];
        Discovery {
            info,
            sources,
            problems,
        }
    }

    /// Names of the labels that are still unknown.
    pub fn unknown(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.project_id.is_none() {
            v.push("project_id");
        }
        if self.location.is_none() {
            v.push("location");
        }
        if self.cluster_name.is_none() {
            v.push("cluster_name");
        }
        if self.node_name.is_none() {
            v.push("node_name");
        }
        v
    }

    /// The project for `logName`; `unknown-project` keeps names well formed.
    pub(crate) fn project_or_default(&self) -> &str {
        self.project_id.as_deref().unwrap_or("unknown-project")
    }

    /// The node's name for archive keys and labels.
    pub(crate) fn node_or_default(&self) -> &str {
        self.node_name.as_deref().unwrap_or("unknown-node")
    }

    /// Origin for entries that do not come from a container log.
    pub fn generic_origin(&self, identity: String) -> Origin {
        let resource = json!({
            "type": "global",
            "labels": {"project_id": self.project_id.clone().unwrap_or_default()}
        });
        Origin::new(resource, self.project_or_default(), identity)
    }
}
