//! The GKE deployment (issue 8): the Dockerfile lints clean, every manifest
//! validates against the Kubernetes schemas offline, the manifests agree
//! with each other and with the pipeline files they mount, and those
//! pipelines pass `sluice validate`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_yaml::Value as Yaml;

use crate::support::{repo, require_service, sluice_bin};

/// Kubernetes versions the manifests must be valid for: the oldest GKE
/// minor still supported when this was written, and a recent one.
const K8S_VERSIONS: &[&str] = &["1.30.0", "1.33.0"];

/// Kinds that kubernetes-validate has no schema for because they are CRDs,
/// with where they are checked instead.
const CRD_KINDS: &[(&str, &str)] = &[(
    "PodMonitoring",
    "a Google Managed Prometheus CRD; its fields are checked by pod_monitoring_fits_the_crd",
)];

fn k8s_dir() -> PathBuf {
    repo().join("deploy/kubernetes")
}

/// Every manifest file (not kustomization.yaml, which is kustomize's own).
fn manifest_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [k8s_dir(), k8s_dir().join("backfill")] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            if name.ends_with(".yaml") && name != "kustomization.yaml" {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// Every document of every manifest, with its file.
fn documents() -> Vec<(PathBuf, Yaml)> {
    let mut docs = Vec::new();
    for f in manifest_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        for d in serde_yaml::Deserializer::from_str(&text) {
            let v = Yaml::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            if !v.is_null() {
                docs.push((f.clone(), v));
            }
        }
    }
    docs
}

fn find<'a>(docs: &'a [(PathBuf, Yaml)], kind: &str, name: &str) -> &'a Yaml {
    docs.iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in deploy/kubernetes"))
}

fn s(v: &Yaml) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

/// The single container of a pod template, and the pod spec.
fn pod(workload: &Yaml) -> (&Yaml, &Yaml) {
    let spec = &workload["spec"]["template"]["spec"];
    let containers = spec["containers"].as_sequence().unwrap();
    assert_eq!(containers.len(), 1, "one container per sluice pod");
    (spec, &containers[0])
}

/// The container's literal env values (valueFrom entries are skipped).
fn env_values(container: &Yaml) -> BTreeMap<String, String> {
    container["env"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((s(&e["name"]).to_string(), e["value"].as_str()?.to_string())))
        .collect()
}

#[test]
fn manifests_validate_against_kubernetes_schemas() {
    let kv = require_service("SLUICE_TEST_KUBERNETES_VALIDATE");
    let files = manifest_files();
    let crd_files: Vec<&PathBuf> = files
        .iter()
        .filter(|f| {
            let t = std::fs::read_to_string(f).unwrap();
            CRD_KINDS
                .iter()
                .any(|(k, _)| t.contains(&format!("kind: {k}")))
        })
        .collect();
    for (kind, why) in CRD_KINDS {
        // Said out loud, not skipped silently.
        println!("kubernetes-validate has no schema for {kind}: {why}");
    }
    for v in K8S_VERSIONS {
        let out = Command::new(&kv)
            .args(["--strict", "-k", v])
            .args(&files)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "kubernetes-validate {v}:\n{stdout}\n{stderr}"
        );
        for (kind, name) in [
            ("namespace", "sluice"),
            ("priorityclass", "sluice-node-critical"),
            ("serviceaccount", "sluice-node"),
            ("configmap", "sluice-pipelines"),
            ("daemonset", "sluice-node"),
            ("deployment", "sluice-aggregator"),
            ("horizontalpodautoscaler", "sluice-aggregator"),
            ("job", "sluice-backfill"),
        ] {
            let want = format!("passed for resource {kind}/{name} against version");
            assert!(stdout.contains(&want), "{v}: missing `{want}`:\n{stdout}");
        }
        // The only documents without a schema are the known CRDs.
        for line in stdout.lines().chain(stderr.lines()) {
            if line.contains("Couldn't find schema") {
                assert!(
                    CRD_KINDS
                        .iter()
                        .any(|(k, _)| line.contains(&format!("kind {k} "))),
                    "unexpected schema-less resource: {line}"
                );
            }
        }
        assert!(crd_files
            .iter()
            .all(|f| stdout.contains(f.to_str().unwrap())));
    }
}

#[test]
fn kubernetes_validate_catches_a_bad_field() {
    // The validator really checks: a typo in a DaemonSet fails it.
    let kv = require_service("SLUICE_TEST_KUBERNETES_VALIDATE");
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(k8s_dir().join("daemonset.yaml"))
        .unwrap()
        .replace(
            "terminationGracePeriodSeconds:",
            "terminationGracePeriodSecond:",
        );
    let bad = dir.path().join("daemonset.yaml");
    std::fs::write(&bad, text).unwrap();
    let out = Command::new(&kv)
        .args(["--strict", "-k", K8S_VERSIONS[0]])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A small schema of PodMonitoring (monitoring.googleapis.com/v1) written
/// from Google Managed Prometheus' documented fields: known keys only, the
/// required ones present, durations well formed, and the selector and port
/// actually matching the sluice pods.
#[test]
fn pod_monitoring_fits_the_crd() {
    let docs = documents();
    let pm = find(&docs, "PodMonitoring", "sluice");
    assert_eq!(pm["apiVersion"], "monitoring.googleapis.com/v1");
    assert_eq!(pm["metadata"]["namespace"], "sluice");
    let keys = |v: &Yaml| -> BTreeSet<String> {
        v.as_mapping()
            .unwrap_or_else(|| panic!("not a mapping: {v:?}"))
            .keys()
            .map(|k| s(k).to_string())
            .collect()
    };
    let allowed = |v: &Yaml, ok: &[&str], what: &str| {
        for k in keys(v) {
            assert!(
                ok.contains(&k.as_str()),
                "PodMonitoring {what}: unknown field `{k}`"
            );
        }
    };
    allowed(pm, &["apiVersion", "kind", "metadata", "spec"], "top level");
    let spec = &pm["spec"];
    allowed(
        spec,
        &[
            "selector",
            "endpoints",
            "targetLabels",
            "limits",
            "filterRunning",
        ],
        "spec",
    );
    allowed(
        &spec["selector"],
        &["matchLabels", "matchExpressions"],
        "spec.selector",
    );
    let duration = regex::Regex::new(r"^([0-9]+(ms|s|m|h|d|w|y))+$").unwrap();
    let secs = |d: &str| -> u64 {
        let n: u64 = d.trim_end_matches(char::is_alphabetic).parse().unwrap();
        match d.trim_start_matches(char::is_numeric) {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            other => panic!("unexpected unit {other}"),
        }
    };
    let endpoints = spec["endpoints"]
        .as_sequence()
        .expect("spec.endpoints is required");
    assert!(!endpoints.is_empty());
    for e in endpoints {
        allowed(
            e,
            &[
                "port",
                "scheme",
                "interval",
                "timeout",
                "path",
                "params",
                "proxyUrl",
                "metricRelabeling",
                "authorization",
                "basicAuth",
                "oauth2",
                "tls",
            ],
            "spec.endpoints[]",
        );
        assert!(!e["port"].is_null(), "spec.endpoints[].port is required");
        for f in ["interval", "timeout"] {
            if let Some(d) = e[f].as_str() {
                assert!(
                    duration.is_match(d),
                    "{f}: `{d}` is not a Prometheus duration"
                );
            }
        }
        if let (Some(i), Some(t)) = (e["interval"].as_str(), e["timeout"].as_str()) {
            assert!(secs(t) <= secs(i), "timeout must not exceed interval");
        }
        assert_eq!(e["path"], "/metrics");
    }
    if !spec["targetLabels"].is_null() {
        allowed(
            &spec["targetLabels"],
            &["fromPod", "metadata"],
            "spec.targetLabels",
        );
        for m in spec["targetLabels"]["metadata"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            assert!(
                ["pod", "container", "node"].contains(&s(m)),
                "targetLabels.metadata: {m:?}"
            );
        }
        for f in spec["targetLabels"]["fromPod"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            allowed(f, &["from", "to"], "spec.targetLabels.fromPod[]");
            assert!(f["from"].is_string());
        }
    }
    // It scrapes the node agent and the aggregator on their metrics port.
    let selector = spec["selector"]["matchLabels"].as_mapping().unwrap();
    for (kind, name) in [
        ("DaemonSet", "sluice-node"),
        ("Deployment", "sluice-aggregator"),
    ] {
        let w = find(&docs, kind, name);
        let labels = &w["spec"]["template"]["metadata"]["labels"];
        for (k, v) in selector {
            assert_eq!(
                &labels[s(k)],
                v,
                "{kind}/{name} pods do not match the PodMonitoring selector"
            );
        }
        let (_, c) = pod(w);
        let port = &endpoints[0]["port"];
        assert!(
            c["ports"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|p| &p["name"] == port || &p["containerPort"] == port),
            "{kind}/{name} has no port {port:?}"
        );
    }
}

#[test]
fn configmap_is_rendered_from_the_pipeline_files() {
    let out = Command::new("bash")
        .arg(k8s_dir().join("render-configmap.sh"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the generated parts are stale:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Independently of the script: parse the YAML and compare every value
    // with its file, byte for byte.
    let docs = documents();
    let cm = find(&docs, "ConfigMap", "sluice-pipelines");
    let data = cm["data"].as_mapping().unwrap();
    let mut want: BTreeMap<String, PathBuf> = BTreeMap::new();
    for f in ["gke-node.toml", "aggregator.toml", "backfill.toml"] {
        want.insert(f.into(), repo().join("pipelines").join(f));
    }
    let metrics = repo().join("pipelines/metrics");
    if metrics.is_dir() {
        for e in std::fs::read_dir(&metrics).unwrap() {
            let p = e.unwrap().path();
            want.insert(
                format!("metrics.{}", p.file_name().unwrap().to_str().unwrap()),
                p,
            );
        }
    }
    let got: BTreeSet<String> = data.keys().map(|k| s(k).to_string()).collect();
    assert_eq!(got, want.keys().cloned().collect::<BTreeSet<_>>());
    for (key, path) in &want {
        let file = std::fs::read_to_string(path).unwrap();
        assert!(
            cm["data"][key.as_str()].as_str() == Some(file.as_str()),
            "ConfigMap key {key} differs from {}",
            path.display()
        );
    }
    // Each workload lays every key out as the repository does.
    for (kind, name) in [
        ("DaemonSet", "sluice-node"),
        ("Deployment", "sluice-aggregator"),
        ("Job", "sluice-backfill"),
    ] {
        let items = mounted_items(find(&docs, kind, name));
        let want_items: BTreeMap<String, String> = want
            .keys()
            .map(|k| {
                (
                    k.clone(),
                    k.strip_prefix("metrics.")
                        .map(|m| format!("metrics/{m}"))
                        .unwrap_or(k.clone()),
                )
            })
            .collect();
        assert_eq!(items, want_items, "{kind}/{name}");
    }
}

/// key -> path of the `pipelines` projected volume.
fn mounted_items(workload: &Yaml) -> BTreeMap<String, String> {
    let (spec, _) = pod(workload);
    let vol = spec["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "pipelines")
        .expect("a `pipelines` volume");
    let sources = vol["projected"]["sources"].as_sequence().unwrap();
    assert_eq!(sources[0]["configMap"]["name"], "sluice-pipelines");
    sources[0]["configMap"]["items"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|i| (s(&i["key"]).to_string(), s(&i["path"]).to_string()))
        .collect()
}

/// The pipeline a workload runs, from its args, and the mount it sits in.
fn pipeline_of(workload: &Yaml) -> (String, PathBuf) {
    let (_, c) = pod(workload);
    let args: Vec<&str> = c["args"].as_sequence().unwrap().iter().map(s).collect();
    let file = args[1];
    let mount = c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "pipelines")
        .unwrap();
    let rel = Path::new(file)
        .strip_prefix(s(&mount["mountPath"]))
        .unwrap_or_else(|_| panic!("{file} is not under the pipelines mount"));
    let items = mounted_items(workload);
    let key = items
        .iter()
        .find(|(_, p)| Path::new(p.as_str()) == rel)
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| panic!("{file} is not in the mounted ConfigMap items"));
    (key.clone(), repo().join("pipelines").join(key))
}

/// The `[global]` table of a pipeline file after `${VAR}` interpolation
/// with the pod's environment.
fn pipeline_global(path: &Path, env: &BTreeMap<String, String>) -> toml::Table {
    let text = std::fs::read_to_string(path).unwrap();
    let text = sluice::config::interpolate(&text, |k| env.get(k).cloned()).unwrap_or_else(|m| {
        panic!(
            "{}: unset variables {m:?} with the pod's env",
            path.display()
        )
    });
    let table: toml::Table = toml::from_str(&text).unwrap();
    table
        .get("global")
        .and_then(|g| g.as_table())
        .cloned()
        .unwrap_or_default()
}

#[test]
fn configmap_pipelines_pass_sluice_validate() {
    // Each workload's pipeline, laid out as in the pod (workingDir
    // /etc/sluice, files under pipelines/), validated with the pod's env.
    let docs = documents();
    let mut failures = Vec::new();
    for (kind, name) in [
        ("DaemonSet", "sluice-node"),
        ("Deployment", "sluice-aggregator"),
        ("Job", "sluice-backfill"),
    ] {
        let w = find(&docs, kind, name);
        let (_, c) = pod(w);
        let dir = tempfile::tempdir().unwrap();
        for (key, path) in mounted_items(w) {
            let src = repo().join("pipelines").join(
                key.strip_prefix("metrics.")
                    .map(|m| format!("metrics/{m}"))
                    .unwrap_or(key.clone()),
            );
            let dst = dir.path().join("pipelines").join(&path);
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::copy(&src, &dst).unwrap();
        }
        let (key, _) = pipeline_of(w);
        let out = Command::new(sluice_bin())
            .arg("validate")
            .arg(dir.path().join("pipelines").join(&key))
            .current_dir(dir.path())
            .env_clear()
            .envs(env_values(c))
            .output()
            .unwrap();
        if !out.status.success() {
            failures.push(format!(
                "{kind}/{name} ({key}):\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn workloads_keep_the_pod_contract() {
    let docs = documents();
    for (kind, name) in [
        ("DaemonSet", "sluice-node"),
        ("Deployment", "sluice-aggregator"),
        ("Job", "sluice-backfill"),
    ] {
        let w = find(&docs, kind, name);
        let what = format!("{kind}/{name}");
        let (spec, c) = pod(w);
        let env = env_values(c);
        let (_, pipeline) = pipeline_of(w);
        let global = pipeline_global(&pipeline, &env);

        // Drain before SIGKILL: the pod's grace period exceeds sluice's.
        let grace = global
            .get("shutdown_grace_secs")
            .and_then(|v| v.as_integer())
            .unwrap_or(20);
        let pod_grace = spec["terminationGracePeriodSeconds"].as_i64().unwrap_or(30);
        assert!(
            pod_grace >= grace + 5,
            "{what}: terminationGracePeriodSeconds {pod_grace} must exceed shutdown_grace_secs {grace} with room to exit"
        );

        // /metrics and /health/* on the pod IP, on the port the probes use.
        let addr = global
            .get("metrics_address")
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{what}: {} sets no metrics_address", pipeline.display()));
        assert_eq!(addr, "0.0.0.0:9598", "{what}: metrics_address in the pod");
        let ports = c["ports"].as_sequence().unwrap();
        let metrics_port = ports
            .iter()
            .find(|p| p["name"] == "metrics")
            .expect("a `metrics` port");
        assert_eq!(metrics_port["containerPort"].as_u64(), Some(9598));
        if kind != "Job" {
            for (probe, path) in [
                ("livenessProbe", "/health/live"),
                ("readinessProbe", "/health/ready"),
            ] {
                assert_eq!(c[probe]["httpGet"]["path"], path, "{what} {probe}");
                assert_eq!(c[probe]["httpGet"]["port"], "metrics", "{what} {probe}");
            }
        }

        // State goes to data_dir, which is a mounted volume.
        let data_dir = global.get("data_dir").and_then(|v| v.as_str()).unwrap();
        let mounts = c["volumeMounts"].as_sequence().unwrap();
        assert!(
            mounts
                .iter()
                .any(|m| m["mountPath"] == data_dir && m["readOnly"] != true),
            "{what}: data_dir {data_dir} is not a writable mount"
        );

        // Hardened container; requests no larger than limits.
        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{what}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{what}");
        assert_eq!(sc["capabilities"]["drop"][0], "ALL", "{what}");
        for r in ["cpu", "memory"] {
            let req = quantity(s(&c["resources"]["requests"][r]));
            let lim = quantity(s(&c["resources"]["limits"][r]));
            assert!(
                req > 0.0 && req <= lim,
                "{what}: {r} request {req} vs limit {lim}"
            );
        }

        // The service account exists and is set up for Workload Identity.
        let sa = find(&docs, "ServiceAccount", s(&spec["serviceAccountName"]));
        assert!(
            s(&sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"])
                .ends_with(".iam.gserviceaccount.com"),
            "{what}"
        );
        assert_eq!(
            spec["automountServiceAccountToken"], false,
            "{what}: sluice needs no API token"
        );

        // The image is the one the kustomization and Cargo.toml name.
        assert_eq!(
            s(&c["image"]),
            format!("sluice:{}", env!("CARGO_PKG_VERSION")),
            "{what}"
        );
        // Every pod says which node it runs on (resource labels).
        assert!(
            c["env"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|e| e["name"] == "SLUICE_NODE_NAME"
                    && e["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"),
            "{what}: SLUICE_NODE_NAME from the downward API"
        );
    }
}

/// A Kubernetes quantity in base units (cores, bytes).
fn quantity(q: &str) -> f64 {
    for (suffix, mul) in [
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ki", 1024.0),
        ("m", 0.001),
    ] {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().unwrap() * mul;
        }
    }
    q.parse().unwrap()
}

#[test]
fn daemonset_runs_on_every_node_with_the_host_paths() {
    let docs = documents();
    let ds = find(&docs, "DaemonSet", "sluice-node");
    let (spec, c) = pod(ds);
    let tolerations = spec["tolerations"].as_sequence().unwrap();
    assert!(
        tolerations
            .iter()
            .any(|t| t["operator"] == "Exists" && t["key"].is_null() && t["effect"].is_null()),
        "a blanket toleration keeps the agent on tainted and draining nodes"
    );
    let pc = find(&docs, "PriorityClass", s(&spec["priorityClassName"]));
    assert!(pc["value"].as_i64().unwrap() > 0 && pc["value"].as_i64().unwrap() < 1_000_000_000);
    let volumes = spec["volumes"].as_sequence().unwrap();
    let host = |path: &str| {
        volumes
            .iter()
            .find(|v| v["hostPath"]["path"] == path)
            .unwrap_or_else(|| panic!("no hostPath {path}"))
    };
    let mount = |vol: &Yaml| {
        c["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| m["name"] == vol["name"])
            .cloned()
            .unwrap()
    };
    let varlog = mount(host("/var/log"));
    assert_eq!(varlog["mountPath"], "/var/log");
    assert_eq!(varlog["readOnly"], true, "/var/log is read-only");
    let data = mount(host("/var/lib/sluice"));
    assert_eq!(data["mountPath"], "/var/lib/sluice");
    assert_ne!(data["readOnly"], true);
    assert_eq!(
        env_values(c).get("SLUICE_DATA_DIR").map(String::as_str),
        Some("/var/lib/sluice")
    );
}

#[test]
fn aggregator_scales_with_an_hpa() {
    let docs = documents();
    let hpa = find(&docs, "HorizontalPodAutoscaler", "sluice-aggregator");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "sluice-aggregator");
    let min = hpa["spec"]["minReplicas"].as_i64().unwrap();
    assert!(min >= 2 && hpa["spec"]["maxReplicas"].as_i64().unwrap() > min);
    let (_, c) = pod(find(&docs, "Deployment", "sluice-aggregator"));
    assert!(
        !c["resources"]["requests"]["cpu"].is_null(),
        "CPU utilization needs a CPU request"
    );
}

#[test]
fn backfill_is_an_indexed_job_over_n_shards() {
    let docs = documents();
    let job = find(&docs, "Job", "sluice-backfill");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let n = job["spec"]["completions"].as_i64().unwrap();
    let (_, c) = pod(job);
    let args: Vec<&str> = c["args"].as_sequence().unwrap().iter().map(s).collect();
    assert_eq!(args[0], "backfill");
    let shard = args.iter().position(|a| *a == "--shard").expect("--shard");
    assert_eq!(args[shard + 1], format!("$(JOB_COMPLETION_INDEX)/{n}"));
    assert!(args.contains(&"--from"));
    // $(VAR) is expanded by the kubelet only for variables in env.
    assert!(c["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "JOB_COMPLETION_INDEX"
            && e["valueFrom"]["fieldRef"]["fieldPath"]
                == "metadata.annotations['batch.kubernetes.io/job-completion-index']"));
}

#[test]
fn kustomization_lists_the_base() {
    let k: Yaml = serde_yaml::from_str(
        &std::fs::read_to_string(k8s_dir().join("kustomization.yaml")).unwrap(),
    )
    .unwrap();
    let listed: BTreeSet<String> = k["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| s(r).to_string())
        .collect();
    let present: BTreeSet<String> = std::fs::read_dir(k8s_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().to_string())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    assert_eq!(
        listed, present,
        "kustomization.yaml resources vs files (backfill/ is applied on its own)"
    );
    let image = &k["images"][0];
    assert_eq!(image["name"], "sluice");
    assert_eq!(image["newTag"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn dockerfile_lints_clean() {
    let hadolint = require_service("SLUICE_TEST_HADOLINT");
    let dockerfile = repo().join("Dockerfile");
    // The strictest threshold: style findings fail too.
    let out = Command::new(&hadolint)
        .args(["--no-color", "--failure-threshold", "style"])
        .arg(&dockerfile)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The linter really lints: an unpinned base and a root user fail.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("Dockerfile");
    std::fs::write(&bad, "FROM debian:latest\nRUN apt-get install curl\n").unwrap();
    let out = Command::new(&hadolint)
        .arg("--no-color")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());

    // What the image promises, read from the Dockerfile.
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    let stages: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "multi-stage: {stages:?}");
    assert!(
        stages[0].contains("rust:") && stages[1].contains("distroless/cc"),
        "{stages:?}"
    );
    let user = text
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER");
    assert!(!user.contains(" root") && !user.contains(" 0"), "{user}");
    assert!(
        text.contains("SLUICE_BUILD_VERSION=\"${SLUICE_VERSION}\""),
        "the version is compiled in"
    );
    assert!(text.contains("org.opencontainers.image.version=\"${SLUICE_VERSION}\""));
    assert!(text.contains(&format!("ARG SLUICE_VERSION={}", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn version_flag_prints_the_package_version() {
    // Without SLUICE_BUILD_VERSION at compile time, Cargo.toml's version;
    // the Dockerfile checks the same output against its build argument.
    // Compared with what the build was given, not with the constant the
    // binary prints.
    let want = option_env!("SLUICE_BUILD_VERSION").unwrap_or(env!("CARGO_PKG_VERSION"));
    let out = Command::new(sluice_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("sluice {want}")
    );
}

/// The DaemonSet contract, process level: a gke-node-like pipeline (file
/// source over a `/var/log/containers` tree -> routing filter -> file sink)
/// gets SIGTERM while the containers are still writing; it exits 0 within
/// its grace period with every line it read written and its checkpoint
/// saved, and the restarted process (same data_dir, as the hostPath gives
/// the next pod) resumes with no line lost and none twice.
#[test]
fn daemonset_sigterm_drains_checkpoints_and_resumes() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    const GRACE_SECS: u64 = 10;
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("var/log/containers");
    std::fs::create_dir_all(&logs).unwrap();
    let data = dir.path().join("var/lib/sluice");
    let out = dir.path().join("out.ndjson");
    let pipeline = crate::support::write_pipeline(
        dir.path(),
        "gke-node-like.toml",
        &format!(
            r#"[global]
data_dir = "{data}"
shutdown_grace_secs = {GRACE_SECS}
# Tests run in parallel: never the fixed default port.
metrics_address = "127.0.0.1:0"

[sources.containers]
type = "file"
include = ["{logs}/*.log"]
exclude = ["{logs}/*_sluice_*.log"]

[transforms.route]
type = "filter"
inputs = ["containers"]
query = 'resource.type="k8s_container" AND resource.labels.namespace_name="coditect" AND severity>="INFO"'

[sinks.out]
type = "file"
inputs = ["route"]
path = "{out}"
allow_unredacted = true

[dead_letter]
allow_unredacted = true
"#,
            data = data.display(),
            logs = logs.display(),
            out = out.display()
        ),
    );
    // Three containers of the coditect namespace, and sluice's own log,
    // which the pipeline must not read back.
    let id = |n: u8| format!("{:064x}", n as u128 * 0x1234_5678_9abc_def1);
    let files = [
        logs.join(format!(
            "license-api-7d8f9c6b4-xk9m2_coditect_django-{}.log",
            id(1)
        )),
        logs.join(format!(
            "license-worker-5c9d7f8b6-p2q4r_coditect_worker-{}.log",
            id(2)
        )),
        logs.join(format!(
            "license-api-7d8f9c6b4-ab12c_coditect_django-{}.log",
            id(3)
        )),
        logs.join(format!("sluice-node-x1y2z_sluice_sluice-{}.log", id(4))),
    ];
    let line = |file: usize, seq: usize| {
        format!(
            "2025-11-30T12:34:56.{:09}Z stdout F {{\"severity\":\"INFO\",\"message\":\"License acquisition request\",\"file\":{file},\"seq\":{seq}}}\n",
            seq % 1_000_000_000
        )
    };
    let written: Arc<Vec<AtomicUsize>> =
        Arc::new((0..files.len()).map(|_| AtomicUsize::new(0)).collect());
    let write_burst = |written: &[AtomicUsize], n: usize| {
        for (f, path) in files.iter().enumerate() {
            let mut w = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap();
            let start = written[f].load(Ordering::SeqCst);
            let text: String = (start..start + n).map(|s| line(f, s)).collect();
            w.write_all(text.as_bytes()).unwrap();
            written[f].store(start + n, Ordering::SeqCst);
        }
    };
    write_burst(&written, 500);

    // Appends keep going while sluice runs and while it drains.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, written, files) = (stop.clone(), written.clone(), files.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                for (f, path) in files.iter().enumerate() {
                    // The temp dir vanishes if the test fails first.
                    let Ok(mut w) = std::fs::OpenOptions::new().append(true).open(path) else {
                        return;
                    };
                    let start = written[f].load(Ordering::SeqCst);
                    let text: String = (start..start + 20).map(|s| line(f, s)).collect();
                    w.write_all(text.as_bytes()).unwrap();
                    written[f].store(start + 20, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    let start = || {
        Command::new(sluice_bin())
            .args(["run", pipeline.to_str().unwrap()])
            .env("SLUICE_METADATA_URL", "none")
            .env("SLUICE_PROJECT_ID", "coditect-cloud-infra")
            .env("SLUICE_LOCATION", "us-central1")
            .env("SLUICE_CLUSTER_NAME", "production-gke-cluster")
            .env("SLUICE_NODE_NAME", "gke-node-1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let out_lines = || {
        std::fs::read_to_string(&out)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    // Fails at once, with sluice's stderr, if the process ends early.
    let wait_for = |what: &str, child: &mut std::process::Child, cond: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cond() {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                panic!("sluice exited ({status}) before {what}:\n{err}");
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let terminate = |child: std::process::Child| {
        let pid = child.id().to_string();
        let sent = Instant::now();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let output = child.wait_with_output().unwrap();
        let took = sent.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(
            output.status.code(),
            Some(0),
            "exit after SIGTERM:\n{stderr}"
        );
        assert!(
            took < Duration::from_secs(GRACE_SECS),
            "drained in {took:?}, over the {GRACE_SECS} s grace period:\n{stderr}"
        );
    };

    // First pod: SIGTERM mid-stream.
    let mut first = start();
    wait_for("the first lines to be delivered", &mut first, &|| {
        out_lines() >= 300
    });
    terminate(first);
    let checkpoints = data.join("checkpoints/containers/checkpoints.json");
    let saved: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&checkpoints)
            .unwrap_or_else(|e| panic!("no checkpoint at {}: {e}", checkpoints.display())),
    )
    .expect("the checkpoint file is JSON");
    assert!(!saved.is_null());

    // Every line the first run wrote is a contiguous prefix of its file:
    // nothing read was dropped on the way out.
    let seqs = |events: &[serde_json::Value]| {
        let mut by_file: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for e in events {
            let p = &e["jsonPayload"];
            by_file
                .entry(p["file"].as_u64().unwrap())
                .or_default()
                .push(p["seq"].as_u64().unwrap());
        }
        by_file
    };
    let first_events = crate::support::read_ndjson(&out);
    for (f, s) in seqs(&first_events) {
        let want: Vec<u64> = (0..s.len() as u64).collect();
        let mut got = s.clone();
        got.sort_unstable();
        assert_eq!(
            got, want,
            "file {f}: the first run's output is not a gap-free prefix"
        );
    }
    let first_count = first_events.len();

    // A little more is written while no sluice runs (the pod is
    // restarting), then the writer stops.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let expected: usize = written
        .iter()
        .take(3)
        .map(|w| w.load(Ordering::SeqCst))
        .sum();
    assert!(
        first_count < expected,
        "SIGTERM came after everything was read; not mid-stream"
    );

    // Second pod on the same node: resumes from the checkpoint.
    let mut second = start();
    wait_for("every line to be delivered", &mut second, &|| {
        out_lines() >= expected
    });
    // Give a duplicate the chance to show up before stopping.
    std::thread::sleep(Duration::from_millis(500));
    terminate(second);

    let events = crate::support::read_ndjson(&out);
    let by_file = seqs(&events);
    assert!(!by_file.contains_key(&3), "sluice read its own pod's log");
    for f in 0..3u64 {
        let n = written[f as usize].load(Ordering::SeqCst) as u64;
        let mut got = by_file.get(&f).cloned().unwrap_or_default();
        got.sort_unstable();
        assert_eq!(
            got.len() as u64,
            n,
            "file {f}: {} delivered of {n} (duplicates or loss)",
            got.len()
        );
        assert_eq!(
            got,
            (0..n).collect::<Vec<_>>(),
            "file {f}: every line exactly once"
        );
    }
    let ids: BTreeSet<&str> = events
        .iter()
        .map(|e| e["insertId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        events.len(),
        "insertIds are unique: no event was written twice"
    );
    assert_eq!(
        events[0]["resource"]["labels"]["cluster_name"],
        "production-gke-cluster"
    );
}

/// `${VAR}` names a pipeline file reads: (all, those without a default).
fn pipeline_vars(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut all, mut required) = (BTreeSet::new(), BTreeSet::new());
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(i) = rest.find("${") {
            rest = &rest[i + 2..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if rest[name.len()..].starts_with(":-") {
                all.insert(name);
            } else {
                all.insert(name.clone());
                required.insert(name);
            }
        }
    }
    (all, required)
}

#[test]
fn issue13_13_every_variable_a_manifest_sets_is_read_by_its_pipeline_and_each_required_one_is_set()
{
    // Read by the binary or the command line itself, not by the pipeline.
    const PROCESS: &[&str] = &[
        "SLUICE_NODE_NAME",
        "SLUICE_LOG",
        "SLUICE_LOG_FORMAT",
        "SLUICE_PROJECT_ID",
        "SLUICE_CLUSTER_NAME",
        "SLUICE_LOCATION",
        "SLUICE_METADATA_URL",
        "SLUICE_METADATA_TIMEOUT_MS",
        "SLUICE_REDACT_KEY",
        "JOB_COMPLETION_INDEX",
    ];
    let docs = documents();
    let mut problems = Vec::new();
    for (kind, name) in [
        ("DaemonSet", "sluice-node"),
        ("Deployment", "sluice-aggregator"),
        ("Job", "sluice-backfill"),
    ] {
        let w = find(&docs, kind, name);
        let (_, c) = pod(w);
        let set: BTreeSet<String> = c["env"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|e| s(&e["name"]).to_string())
            .collect();
        let (key, path) = pipeline_of(w);
        let (read, required) = pipeline_vars(&std::fs::read_to_string(&path).unwrap());
        for v in &set {
            if !PROCESS.contains(&v.as_str()) && !read.contains(v) {
                problems.push(format!("{kind}/{name} sets {v}, which {key} never reads"));
            }
        }
        for v in &required {
            if !set.contains(v) {
                problems.push(format!(
                    "{key} needs {v} (no default), which {kind}/{name} does not set"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
