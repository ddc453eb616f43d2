//! Kubernetes resource labels from container log file names.
//!
//! The kubelet links each container's log as
//! `/var/log/containers/POD_NAMESPACE_CONTAINER-CONTAINERID.log`. Pod,
//! namespace and container names cannot contain `_` (DNS-1123), and the
//! container id is 64 hex digits, so the split is unambiguous.

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::event::log_entry::Origin;
use crate::node::NodeInfo;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerFile {
    pub(crate) pod: String,
    pub(crate) namespace: String,
    pub(crate) container: String,
    pub(crate) container_id: String,
}

/// The name without a rotation suffix: `a.log.1`, `a.log.2.gz`,
/// `a.log-20251130` and `a.log.20251130-120000` are all `a.log`. A rotated
/// copy then has the labels and insertIds of the log it was copied from.
pub(crate) fn base_log_name(name: &str) -> &str {
    match name.rfind(".log") {
        Some(i) if matches!(name.as_bytes().get(i + 4), None | Some(b'.' | b'-')) => &name[..i + 4],
        _ => name,
    }
}

/// Parses a container log file name (rotation suffix ignored); `None` for
/// other names.
pub(crate) fn parse_file_name(path: &Path) -> Option<ContainerFile> {
    let name = base_log_name(path.file_name()?.to_str()?);
    let stem = name.strip_suffix(".log")?;
    let mut parts = stem.splitn(3, '_');
    let pod = parts.next()?;
    let namespace = parts.next()?;
    let rest = parts.next()?;
    let dash = rest.rfind('-')?;
    let (container, id) = (&rest[..dash], &rest[dash + 1..]);
    if pod.is_empty() || namespace.is_empty() || container.is_empty() || id.is_empty() {
        return None;
    }
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(ContainerFile {
        pod: pod.into(),
        namespace: namespace.into(),
        container: container.into(),
        container_id: id.into(),
    })
}

/// The shaping origin for a file: `k8s_container` for container logs,
/// `generic_node`-style `global` resource for anything else.
pub fn origin_for_file(path: &Path, node: &NodeInfo) -> Origin {
    match parse_file_name(path) {
        Some(c) => {
            let resource = json!({
                "type": "k8s_container",
                "labels": {
                    "project_id": node.project_id.clone().unwrap_or_default(),
                    "location": node.location.clone().unwrap_or_default(),
                    "cluster_name": node.cluster_name.clone().unwrap_or_default(),
                    "namespace_name": c.namespace,
                    "pod_name": c.pod,
                    "container_name": c.container,
                }
            });
            // The identity excludes rotation suffixes and directories: the
            // same container log read from a rotated copy or a dry-run
            // fixture path gives the same insertIds.
            let identity = format!(
                "{}_{}_{}-{}",
                c.pod, c.namespace, c.container, c.container_id
            );
            let mut o = Origin::new(resource, node.project_or_default(), identity);
            let mut labels = Map::new();
            labels.insert("k8s.io/container_id".into(), Value::String(c.container_id));
            if let Some(n) = &node.node_name {
                labels.insert(
                    "compute.googleapis.com/resource_name".into(),
                    Value::String(n.clone()),
                );
            }
            o.labels = labels;
            o
        }
        None => {
            let name = path
                .file_name()
                .map(|n| base_log_name(&n.to_string_lossy()).to_string())
                .unwrap_or_default();
            node.generic_origin(name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gke_names() {
        let p = Path::new("/var/log/containers/license-api-7d8f9c6b4-xk9m2_coditect_django-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log");
        let c = parse_file_name(p).unwrap();
        assert_eq!(c.pod, "license-api-7d8f9c6b4-xk9m2");
        assert_eq!(c.namespace, "coditect");
        assert_eq!(c.container, "django");
        assert_eq!(c.container_id.len(), 64);
        assert!(parse_file_name(Path::new("/var/log/syslog")).is_none());
        assert!(parse_file_name(Path::new("a_b_c-notHEX!.log")).is_none());
        let c = parse_file_name(Path::new("p_ns_my-sidecar-abc123.log")).unwrap();
        assert_eq!(c.container, "my-sidecar");
        // A rotated copy is the same container's log.
        let c = parse_file_name(Path::new("p_ns_c-abc123.log.20251130-120000")).unwrap();
        assert_eq!(c.container_id, "abc123");
    }

    #[test]
    fn issue13_5_a_rotated_copy_has_the_identity_of_its_log() {
        let node = NodeInfo::default();
        for (copy, live) in [
            ("/l/app.log.1", "/l/app.log"),
            ("/l/app.log.2.gz", "/l/app.log"),
            ("/l/app.log-20251130", "/l/app.log"),
            ("/l/p_ns_c-abc123.log.1", "/l/p_ns_c-abc123.log"),
        ] {
            let a = origin_for_file(Path::new(copy), &node);
            let b = origin_for_file(Path::new(live), &node);
            assert_eq!(a.identity, b.identity, "{copy}");
            assert_eq!(a.resource, b.resource, "{copy}");
        }
        assert_eq!(base_log_name("app.logger"), "app.logger");
        assert_eq!(base_log_name("syslog"), "syslog");
    }
}
