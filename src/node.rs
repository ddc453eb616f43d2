//! Where this process runs: project, location, cluster and node, used for
//! `resource.labels` and `logName`.
//!
//! Read from environment variables (`SLUICE_PROJECT_ID`, `SLUICE_LOCATION`,
//! `SLUICE_CLUSTER_NAME`, `SLUICE_NODE_NAME`). Unknown values stay empty and
//! are reported once at start-up.

use serde_json::json;

use crate::event::log_entry::Origin;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeInfo {
    pub project_id: Option<String>,
    pub location: Option<String>,
    pub cluster_name: Option<String>,
    pub node_name: Option<String>,
}

pub const ENV_PROJECT: &str = "SLUICE_PROJECT_ID";
pub const ENV_LOCATION: &str = "SLUICE_LOCATION";
pub const ENV_CLUSTER: &str = "SLUICE_CLUSTER_NAME";
pub const ENV_NODE: &str = "SLUICE_NODE_NAME";

impl NodeInfo {
    /// Values from the environment only.
    pub fn from_env() -> NodeInfo {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        NodeInfo {
            project_id: get(ENV_PROJECT),
            location: get(ENV_LOCATION),
            cluster_name: get(ENV_CLUSTER),
            node_name: get(ENV_NODE),
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
    pub fn project_or_default(&self) -> &str {
        self.project_id.as_deref().unwrap_or("unknown-project")
    }

    /// The node's name for archive keys and labels.
    pub fn node_or_default(&self) -> &str {
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
