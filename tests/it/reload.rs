//! Issue 22 item 8: `sluice run` reloads its pipeline on SIGHUP and, with
//! `--watch-config`, when a watched file changes (a ConfigMap's symlink
//! swap), under steady load, counting lines written against lines
//! delivered.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::durability::{file_pipeline, sample, Sluice};
use crate::file_source::{append, entries, key, line, Writer};
use crate::log_metrics::get;
use crate::support::write_pipeline;

/// Every output's keys: (delivered, distinct).
fn delivered(outs: &[&Path]) -> (usize, usize) {
    let mut keys: Vec<String> = outs
        .iter()
        .flat_map(|o| entries(o))
        .map(|e| key(&e))
        .collect();
    let total = keys.len();
    keys.sort();
    keys.dedup();
    (total, keys.len())
}

fn scrape(s: &Sluice) -> String {
    get(&s.metrics_addr(), "/metrics").unwrap().1
}

fn reloads(s: &Sluice, outcome: &str) -> Option<f64> {
    sample(
        &scrape(s),
        &format!("config_reloads_total{{outcome=\"{outcome}\"}}"),
    )
}

/// A scratch folder with an empty `logs/` and a `data/` path.
fn scratch() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let (logs, data) = (t.path().join("logs"), t.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    (t, logs, data)
}

/// Waits for the first rejected reload (the watcher polls every second).
fn wait_rejected(s: &Sluice) {
    s.wait_for("the rejection", Duration::from_secs(30), || {
        reloads(s, "rejected") == Some(1.0)
    });
}

#[test]
fn issue22_8_sighup_reloads_under_steady_load_losing_and_repeating_no_line() {
    let (t, logs, data) = scratch();
    let v1 = file_pipeline(&data, &logs, "checkpoint_interval_ms = 100");
    // The second pipeline writes elsewhere, so which one delivered a line
    // shows in the output.
    let v2 = v1.replace("path = \"${OUT}\"", "path = \"${OUT2}\"");
    let invalid = v1.replace("glob_interval_ms = 100", "glob_interval_ms = \"x\"");
    let p = write_pipeline(t.path(), "p.toml", &v1);
    let (out, out2) = (t.path().join("out.ndjson"), t.path().join("out2.ndjson"));
    let mut s = Sluice::start(&p, &[("OUT", &out), ("OUT2", &out2)]);
    let writer = Writer::start(logs.join("a.log"), "hup");
    s.wait_for("the first lines", Duration::from_secs(30), || {
        entries(&out).len() > 500
    });

    std::fs::write(&p, &v2).unwrap();
    s.signal("HUP");
    s.wait_for(
        "the second pipeline's lines",
        Duration::from_secs(30),
        || entries(&out2).len() > 500,
    );
    assert_eq!(reloads(&s, "applied"), Some(1.0), "{}", scrape(&s));

    // An invalid file is refused with its key and line; the running
    // pipeline goes on.
    std::fs::write(&p, &invalid).unwrap();
    s.signal("HUP");
    wait_rejected(&s);
    let line_no = invalid
        .lines()
        .position(|l| l.contains("glob_interval_ms"))
        .unwrap()
        + 1;
    let logged = s.log_text();
    assert!(
        logged.contains("\"key\":\"sources.files.glob_interval_ms\"")
            && logged.contains(&format!("\"line\":{line_no}")),
        "the error names the key and line {line_no}: {logged}"
    );
    assert_eq!(
        sample(&scrape(&s), "config_last_reload_successful"),
        Some(0.0)
    );
    let before = entries(&out2).len();
    s.wait_for("lines after the rejection", Duration::from_secs(30), || {
        entries(&out2).len() > before + 500
    });

    std::fs::write(&p, &v1).unwrap();
    s.signal("HUP");
    let before = entries(&out).len();
    s.wait_for(
        "the first pipeline's lines again",
        Duration::from_secs(30),
        || entries(&out).len() > before + 500,
    );

    let written = writer.finish() as usize;
    s.wait_for("every line written", Duration::from_secs(60), || {
        delivered(&[&out, &out2]).0 >= written
    });
    std::thread::sleep(Duration::from_millis(300));
    let metrics = scrape(&s);
    s.stop_cleanly(Duration::from_secs(20));
    let (total, distinct) = delivered(&[&out, &out2]);
    eprintln!(
        "reloads under load: written {written}, delivered {total} ({} then {} then {}), lost {}, duplicated {}",
        before,
        entries(&out2).len(),
        entries(&out).len() - before,
        written - distinct,
        total - distinct
    );
    assert_eq!((total, distinct), (written, written), "every line once");
    for (series, want) in [
        ("config_reloads_total{outcome=\"applied\"}", 2.0),
        ("config_reloads_total{outcome=\"rejected\"}", 1.0),
        ("config_last_reload_successful", 1.0),
    ] {
        assert_eq!(
            sample(&metrics, series),
            Some(want),
            "{series} in\n{metrics}"
        );
    }
}

/// A ConfigMap volume: `NAME -> ..data/NAME`, `..data -> ..VERSION/`; an
/// update writes a new version folder and swaps `..data` atomically.
struct ConfigMap(PathBuf);

impl ConfigMap {
    fn new(dir: PathBuf, files: &[(&str, &str)]) -> ConfigMap {
        std::fs::create_dir_all(&dir).unwrap();
        let cm = ConfigMap(dir);
        cm.publish("..v1", files);
        for (name, _) in files {
            std::os::unix::fs::symlink(format!("..data/{name}"), cm.0.join(name)).unwrap();
        }
        cm
    }

    fn publish(&self, version: &str, files: &[(&str, &str)]) {
        let v = self.0.join(version);
        std::fs::create_dir_all(&v).unwrap();
        for (name, text) in files {
            std::fs::write(v.join(name), text).unwrap();
        }
        let tmp = self.0.join("..data_tmp");
        std::os::unix::fs::symlink(version, &tmp).unwrap();
        std::fs::rename(&tmp, self.0.join("..data")).unwrap();
    }
}

fn counter_metric(name: &str) -> String {
    format!(
        "- name: {name}\n  filter: textPayload:\"s=cm\"\n  metricDescriptor:\n    metricKind: DELTA\n    valueType: INT64\n"
    )
}

#[test]
fn issue22_8_watch_config_follows_a_configmap_swap_of_a_named_file_under_load() {
    let (t, logs, data) = scratch();
    let pipeline = file_pipeline(&data, &logs, "checkpoint_interval_ms = 100").replace(
        "[sinks.out]",
        "[transforms.count]\ntype = \"log_metrics\"\ninputs = [\"files\"]\nallow_unredacted = true\ndefinitions = [\"metrics.yaml\"]\n\n[sinks.out]",
    );
    let first = counter_metric("lines_a");
    let cm = ConfigMap::new(
        t.path().join("cm"),
        &[("p.toml", &pipeline), ("metrics.yaml", &first)],
    );
    let out = t.path().join("out.ndjson");
    let mut s = Sluice::start_with(&cm.0.join("p.toml"), &["--watch-config"], &[("OUT", &out)]);
    let writer = Writer::start(logs.join("a.log"), "cm");
    s.wait_for("the first metric", Duration::from_secs(30), || {
        sample(&scrape(&s), "lines_a_total").is_some_and(|n| n > 500.0)
    });

    // Only the named file changes: a second metric.
    let second = format!("{first}{}", counter_metric("lines_b"));
    cm.publish("..v2", &[("p.toml", &pipeline), ("metrics.yaml", &second)]);
    s.wait_for("the second metric", Duration::from_secs(30), || {
        sample(&scrape(&s), "lines_b_total").is_some_and(|n| n > 500.0)
    });
    assert_eq!(reloads(&s, "applied"), Some(1.0));

    // A broken definition is refused and the running pipeline keeps both.
    cm.publish(
        "..v3",
        &[("p.toml", &pipeline), ("metrics.yaml", "- name: [")],
    );
    wait_rejected(&s);
    assert!(
        s.log_text().contains("transforms.count.definitions"),
        "{}",
        s.log_text()
    );
    let b = sample(&scrape(&s), "lines_b_total").unwrap();
    s.wait_for(
        "counting after the rejection",
        Duration::from_secs(30),
        || sample(&scrape(&s), "lines_b_total").is_some_and(|n| n > b + 500.0),
    );

    let written = writer.finish() as usize;
    s.wait_for("every line written", Duration::from_secs(60), || {
        delivered(&[&out]).0 >= written
    });
    std::thread::sleep(Duration::from_millis(300));
    s.stop_cleanly(Duration::from_secs(20));
    let (total, distinct) = delivered(&[&out]);
    eprintln!(
        "watched ConfigMap swaps under load: written {written}, delivered {total}, lost {}, duplicated {}",
        written - distinct,
        total - distinct
    );
    assert_eq!((total, distinct), (written, written), "every line once");
}

#[test]
fn issue22_8_a_reload_that_would_restart_state_is_refused_naming_the_key() {
    let (t, logs, data) = scratch();
    std::fs::write(logs.join("a.log"), line("dd", 0)).unwrap();
    let v1 = file_pipeline(&data, &logs, "");
    let p = write_pipeline(t.path(), "p.toml", &v1);
    let out = t.path().join("out.ndjson");
    let mut s = Sluice::start(&p, &[("OUT", &out)]);
    s.wait_for("the first line", Duration::from_secs(30), || {
        !entries(&out).is_empty()
    });
    let moved = t.path().join("elsewhere");
    std::fs::write(
        &p,
        v1.replace(&data.display().to_string(), &moved.display().to_string()),
    )
    .unwrap();
    s.signal("HUP");
    wait_rejected(&s);
    assert!(
        s.log_text().contains("`global.data_dir` cannot change"),
        "{}",
        s.log_text()
    );
    assert!(
        !moved.exists(),
        "nothing was started under the new data_dir"
    );
    let mut f = append(&logs.join("a.log"));
    f.write_all(line("dd", 1).as_bytes()).unwrap();
    s.wait_for(
        "a line after the rejection",
        Duration::from_secs(30),
        || entries(&out).len() == 2,
    );
    s.stop_cleanly(Duration::from_secs(20));
}
