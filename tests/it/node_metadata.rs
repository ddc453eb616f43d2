//! Node and cluster metadata from the GKE metadata server (issue 8), against
//! a loopback server written here to Google's documented behaviour: paths
//! under `/computeMetadata/v1/`, requests must carry `Metadata-Flavor:
//! Google` (refused with 403 otherwise), answers carry the same header.
//!
//! Every `sluice run` here sets `SLUICE_METADATA_URL` (to the loopback
//! server or `none`), so no test can reach the real metadata address.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sluice::node::metadata::{self, Endpoint};
use sluice::node::{LabelSource, NodeInfo};

use crate::support::{read_ndjson, sluice_bin, write_pipeline};

/// A metadata server on 127.0.0.1:0. Records every request path, and every
/// request that lacked the `Metadata-Flavor: Google` header.
struct MetadataServer {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    flavorless: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl MetadataServer {
    /// `values`: path under `/computeMetadata/v1/` -> answer. `send_flavor`
    /// false imitates something that is not a metadata server.
    fn start(values: &[(&str, &str)], send_flavor: bool) -> MetadataServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let values: HashMap<String, String> = values
            .iter()
            .map(|(k, v)| (format!("/computeMetadata/v1/{k}"), v.to_string()))
            .collect();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let flavorless = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (req, fl, st) = (requests.clone(), flavorless.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (values, req, fl) = (values.clone(), req.clone(), fl.clone());
                std::thread::spawn(move || serve(conn, &values, &req, &fl, send_flavor));
            }
        });
        MetadataServer {
            port,
            requests,
            flavorless,
            stop,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::Server {
            host: "127.0.0.1".into(),
            port: self.port,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    fn assert_all_flavored(&self) {
        let bad = self.flavorless.lock().unwrap().clone();
        assert!(
            bad.is_empty(),
            "requests without Metadata-Flavor: Google: {bad:?}"
        );
    }
}

impl Drop for MetadataServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so the thread ends.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(
    conn: TcpStream,
    values: &HashMap<String, String>,
    requests: &Mutex<Vec<String>>,
    flavorless: &Mutex<Vec<String>>,
    send_flavor: bool,
) {
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut flavor = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("metadata-flavor") && v.trim() == "Google" {
                flavor = true;
            }
        }
    }
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    requests.lock().unwrap().push(path.clone());
    let (status, body) = if !flavor {
        flavorless.lock().unwrap().push(path.clone());
        (
            "403 Forbidden",
            "Missing Metadata-Flavor:Google header.\n".to_string(),
        )
    } else {
        match values.get(&path) {
            Some(v) => ("200 OK", v.clone()),
            None => ("404 Not Found", "not found\n".to_string()),
        }
    };
    let flavor_header = if send_flavor {
        "Metadata-Flavor: Google\r\n"
    } else {
        ""
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\n{flavor_header}Content-Type: application/text\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut w = conn;
    let _ = w.write_all(resp.as_bytes());
}

const GKE: &[(&str, &str)] = &[
    ("project/project-id", "coditect-cloud-infra"),
    ("instance/attributes/cluster-location", "us-central1"),
    ("instance/attributes/cluster-name", "production-gke-cluster"),
    ("instance/name", "gke-production-default-pool-1a2b3c4d-x7k2"),
    (
        "instance/hostname",
        "gke-production-default-pool-1a2b3c4d-x7k2.us-central1-a.c.coditect-cloud-infra.internal",
    ),
];

fn discover(env: NodeInfo, endpoint: &Endpoint, budget: Duration) -> sluice::node::Discovery {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(env.discover(endpoint, budget))
}

#[test]
fn discover_fills_every_label_from_the_server() {
    let server = MetadataServer::start(GKE, true);
    let d = discover(
        NodeInfo::default(),
        &server.endpoint(),
        Duration::from_secs(5),
    );
    assert_eq!(
        d.info,
        NodeInfo {
            project_id: Some("coditect-cloud-infra".into()),
            location: Some("us-central1".into()),
            cluster_name: Some("production-gke-cluster".into()),
            node_name: Some("gke-production-default-pool-1a2b3c4d-x7k2".into()),
        }
    );
    assert!(
        d.sources
            .iter()
            .all(|(_, s)| *s == LabelSource::MetadataServer),
        "{:?}",
        d.sources
    );
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    server.assert_all_flavored();
    let mut asked = server.requests();
    asked.sort();
    assert_eq!(
        asked,
        [
            "/computeMetadata/v1/instance/attributes/cluster-location",
            "/computeMetadata/v1/instance/attributes/cluster-name",
            "/computeMetadata/v1/instance/name",
            "/computeMetadata/v1/project/project-id",
        ]
    );
}

#[test]
fn env_wins_and_is_not_asked_for() {
    let server = MetadataServer::start(GKE, true);
    let env = NodeInfo {
        project_id: Some("env-project".into()),
        node_name: Some("node-from-downward-api".into()),
        ..NodeInfo::default()
    };
    let d = discover(env, &server.endpoint(), Duration::from_secs(5));
    assert_eq!(d.info.project_id.as_deref(), Some("env-project"));
    assert_eq!(d.info.node_name.as_deref(), Some("node-from-downward-api"));
    assert_eq!(
        d.info.cluster_name.as_deref(),
        Some("production-gke-cluster")
    );
    assert_eq!(d.info.location.as_deref(), Some("us-central1"));
    assert_eq!(
        d.sources.map(|(_, s)| s),
        [
            LabelSource::Env,
            LabelSource::MetadataServer,
            LabelSource::MetadataServer,
            LabelSource::Env
        ]
    );
    let asked = server.requests();
    assert!(
        !asked
            .iter()
            .any(|p| p.ends_with("project-id") || p.ends_with("instance/name")),
        "asked for values the environment had: {asked:?}"
    );
}

#[test]
fn node_name_falls_back_to_the_hostname() {
    // Without `instance/name`, the first DNS label of the hostname.
    let values: Vec<_> = GKE
        .iter()
        .copied()
        .filter(|(k, _)| *k != "instance/name")
        .collect();
    let server = MetadataServer::start(&values, true);
    let d = discover(
        NodeInfo::default(),
        &server.endpoint(),
        Duration::from_secs(5),
    );
    assert_eq!(
        d.info.node_name.as_deref(),
        Some("gke-production-default-pool-1a2b3c4d-x7k2")
    );
}

#[test]
fn missing_values_stay_unknown_with_a_reason() {
    // A server outside GKE: a project but no cluster attributes.
    let server = MetadataServer::start(&[("project/project-id", "p1")], true);
    let d = discover(
        NodeInfo::default(),
        &server.endpoint(),
        Duration::from_secs(5),
    );
    assert_eq!(d.info.project_id.as_deref(), Some("p1"));
    assert_eq!(d.info.unknown(), ["location", "cluster_name", "node_name"]);
    let labels: Vec<_> = d.problems.iter().map(|(l, _)| *l).collect();
    assert_eq!(labels, ["location", "cluster_name", "node_name"]);
    assert!(
        d.problems.iter().all(|(_, why)| why.contains("404")),
        "{:?}",
        d.problems
    );
}

#[test]
fn an_answer_without_metadata_flavor_is_not_trusted() {
    let server = MetadataServer::start(GKE, false);
    let d = discover(
        NodeInfo::default(),
        &server.endpoint(),
        Duration::from_secs(5),
    );
    assert_eq!(d.info, NodeInfo::default());
    assert!(
        d.problems
            .iter()
            .all(|(_, why)| why.contains("Metadata-Flavor")),
        "{:?}",
        d.problems
    );
}

#[test]
fn a_dead_server_costs_at_most_the_budget() {
    // A port with nothing listening: refused at once, retried until the budget.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = Endpoint::Server {
        host: "127.0.0.1".into(),
        port,
    };
    let started = std::time::Instant::now();
    let d = discover(NodeInfo::default(), &endpoint, Duration::from_millis(400));
    assert_eq!(d.info, NodeInfo::default());
    assert_eq!(d.problems.len(), 4);
    assert!(
        d.problems
            .iter()
            .all(|(_, why)| why.contains("cannot connect")),
        "{:?}",
        d.problems
    );
    // Generous bound: the point is that it gives up, not how fast.
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Runs `sluice run` over one stdin line with a stdin -> file pipeline,
/// with `env` added to a cleaned environment; returns (exit code, output
/// events, parsed stderr log lines).
fn run_stdin(env: &[(&str, &str)]) -> (Option<i32>, Vec<Value>, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let pipeline = write_pipeline(
        dir.path(),
        "p.toml",
        &format!(
            "[global]\ndata_dir = \"{}\"\nshutdown_grace_secs = 5\nmetrics_address = \"127.0.0.1:0\"\n\n\
             [sources.in]\ntype = \"stdin\"\n\n\
             [sinks.out]\ntype = \"file\"\ninputs = [\"in\"]\npath = \"{}\"\nallow_unredacted = true\n\n\
             [dead_letter]\nallow_unredacted = true\n",
            dir.path().join("data").display(),
            out.display()
        ),
    );
    let mut cmd = Command::new(sluice_bin());
    cmd.args(["run", pipeline.to_str().unwrap()])
        .env("SLUICE_LOG_FORMAT", "json")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for k in [
        "SLUICE_PROJECT_ID",
        "SLUICE_LOCATION",
        "SLUICE_CLUSTER_NAME",
        "SLUICE_NODE_NAME",
        "SLUICE_METADATA_URL",
        "SLUICE_METADATA_TIMEOUT_MS",
        "GCE_METADATA_HOST",
        "KUBERNETES_SERVICE_HOST",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"severity\":\"INFO\",\"message\":\"hello\"}\n")
        .unwrap();
    // stdin closed: the source ends and the pipeline drains and exits.
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| Value::String(l.to_string())))
        .collect();
    let events = if out.exists() {
        read_ndjson(&out)
    } else {
        Vec::new()
    };
    (output.status.code(), events, logs)
}

fn log_line<'a>(logs: &'a [Value], message: &str) -> Option<&'a Value> {
    logs.iter().find(|l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(message))
    })
}

#[test]
fn run_labels_events_from_the_metadata_server() {
    let server = MetadataServer::start(GKE, true);
    let (code, events, logs) = run_stdin(&[("SLUICE_METADATA_URL", &server.url())]);
    assert_eq!(code, Some(0), "{logs:?}");
    assert_eq!(events.len(), 1, "{logs:?}");
    assert_eq!(
        events[0]["resource"]["labels"]["project_id"],
        "coditect-cloud-infra"
    );
    assert!(
        events[0]["logName"]
            .as_str()
            .unwrap()
            .starts_with("projects/coditect-cloud-infra/logs/"),
        "{}",
        events[0]
    );
    let line = log_line(&logs, "node metadata")
        .unwrap_or_else(|| panic!("no node metadata line: {logs:?}"));
    for label in ["project_id", "location", "cluster_name", "node_name"] {
        assert_eq!(line[format!("{label}_from")], "metadata-server", "{line}");
    }
    assert_eq!(line["cluster_name"], "production-gke-cluster");
    assert!(
        log_line(&logs, "node metadata unknown").is_none(),
        "{logs:?}"
    );
    server.assert_all_flavored();
}

#[test]
fn run_prefers_env_over_the_metadata_server() {
    let server = MetadataServer::start(GKE, true);
    let (code, events, logs) = run_stdin(&[
        ("SLUICE_METADATA_URL", &server.url()),
        ("SLUICE_PROJECT_ID", "env-project"),
        ("SLUICE_CLUSTER_NAME", "env-cluster"),
    ]);
    assert_eq!(code, Some(0), "{logs:?}");
    assert_eq!(events[0]["resource"]["labels"]["project_id"], "env-project");
    assert!(events[0]["logName"]
        .as_str()
        .unwrap()
        .starts_with("projects/env-project/logs/"));
    let line = log_line(&logs, "node metadata").unwrap();
    assert_eq!(line["project_id_from"], "env", "{line}");
    assert_eq!(line["cluster_name"], "env-cluster", "{line}");
    assert_eq!(line["location_from"], "metadata-server", "{line}");
    assert!(!server.requests().iter().any(|p| p.ends_with("project-id")));
}

#[test]
fn run_without_any_source_starts_and_names_the_unknown_labels() {
    let (code, events, logs) = run_stdin(&[("SLUICE_METADATA_URL", "none")]);
    assert_eq!(code, Some(0), "{logs:?}");
    assert_eq!(events.len(), 1, "the pipeline ran: {logs:?}");
    assert_eq!(events[0]["resource"]["labels"]["project_id"], "");
    assert!(events[0]["logName"]
        .as_str()
        .unwrap()
        .starts_with("projects/unknown-project/logs/"));
    let warn =
        log_line(&logs, "node metadata unknown").unwrap_or_else(|| panic!("no warning: {logs:?}"));
    assert_eq!(warn["level"], "WARN");
    let labels = warn["labels"].as_str().unwrap();
    for label in ["project_id", "location", "cluster_name", "node_name"] {
        assert!(labels.contains(label), "{warn}");
    }
    assert!(
        warn["reason"]
            .as_str()
            .unwrap()
            .contains("SLUICE_METADATA_URL"),
        "{warn}"
    );
}

#[test]
fn run_outside_a_pod_never_asks_by_default() {
    // No override and no KUBERNETES_SERVICE_HOST: a laptop. The reason in
    // the warning shows the server was not contacted.
    let (code, _, logs) = run_stdin(&[]);
    assert_eq!(code, Some(0), "{logs:?}");
    let warn = log_line(&logs, "node metadata unknown").unwrap();
    assert!(
        warn["reason"]
            .as_str()
            .unwrap()
            .contains("not in a Kubernetes pod"),
        "{warn}"
    );
}

#[test]
fn run_with_an_unreachable_server_starts_and_warns() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let (code, events, logs) = run_stdin(&[
        ("SLUICE_METADATA_URL", &url),
        ("SLUICE_METADATA_TIMEOUT_MS", "300"),
        ("SLUICE_NODE_NAME", "node-a"),
    ]);
    assert_eq!(code, Some(0), "{logs:?}");
    assert_eq!(events.len(), 1);
    let warn = log_line(&logs, "node metadata unknown").unwrap();
    let labels = warn["labels"].as_str().unwrap();
    assert!(
        labels.contains("project_id") && !labels.contains("node_name"),
        "{warn}"
    );
    assert!(
        warn["reason"].as_str().unwrap().contains("cannot connect"),
        "{warn}"
    );
}

#[test]
fn run_refuses_a_malformed_override() {
    let (code, events, logs) =
        run_stdin(&[("SLUICE_METADATA_URL", "https://metadata.google.internal")]);
    assert_eq!(code, Some(2), "{logs:?}");
    assert!(events.is_empty());
    assert!(
        logs.iter().any(|l| l
            .as_str()
            .is_some_and(|s| s.contains("SLUICE_METADATA_URL"))),
        "{logs:?}"
    );
}

#[test]
fn dry_run_never_contacts_the_metadata_server() {
    // Even with an explicit server, dry-run takes labels from env only.
    let server = MetadataServer::start(GKE, true);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let fixture = crate::support::fixtures().join("containers");
    let output = Command::new(sluice_bin())
        .args([
            "dry-run",
            "--out",
            out.to_str().unwrap(),
            "--input",
            fixture.to_str().unwrap(),
        ])
        .arg(crate::support::repo().join("pipelines/dry-run.toml"))
        .env("SLUICE_METADATA_URL", server.url())
        .env("SLUICE_PROJECT_ID", "env-project")
        .env("SLUICE_LOCATION", "europe-west1")
        .env("SLUICE_CLUSTER_NAME", "env-cluster")
        .env("SLUICE_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        server.requests().is_empty(),
        "dry-run asked {:?}",
        server.requests()
    );
    let tables = out.join("bigquery").join("coditect_logs");
    let rows: Vec<serde_json::Value> = std::fs::read_dir(&tables)
        .unwrap_or_else(|e| panic!("{}: {e}", tables.display()))
        .flat_map(|f| read_ndjson(&f.unwrap().path()))
        .collect();
    assert!(!rows.is_empty());
    for r in &rows {
        let l = &r["resource"]["labels"];
        assert_eq!(l["project_id"], "env-project", "{r}");
        assert_eq!(l["location"], "europe-west1", "{r}");
        assert_eq!(l["cluster_name"], "env-cluster", "{r}");
    }
    // The loopback server exists only to catch a request; reaching here
    // with none recorded is the assertion above. Also exercise the parser
    // of the override so the two tests agree on the URL form.
    assert_eq!(
        Endpoint::from_lookup(|k| (k == metadata::ENV_METADATA_URL).then(|| server.url())).unwrap(),
        server.endpoint()
    );
}
