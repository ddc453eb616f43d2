//! A headless-Chromium harness: renders a local HTML file the way a user's
//! browser would and reports what the page logged, its DOM and a
//! full-page screenshot. `sluice dry-run --report` writes a self-contained
//! `report.html`; its test renders that file with [`render`].
//!
//! Chromium is driven over the DevTools protocol on `--remote-debugging-pipe`
//! (the browser reads commands from fd 3 and writes replies and events to
//! fd 4, NUL-terminated JSON). Unlike `--dump-dom`/`--screenshot`, this
//! sees console messages, uncaught exceptions and failed loads as
//! structured events, waits for the real load event rather than a fixed
//! delay, and needs no port (nothing to collide with, nothing another
//! process can connect to). Chromium runs inside an empty network
//! namespace (`unshare -n`, as in `dry_run_offline.rs`), so a page that
//! fetched anything would fail to load it, and that failure is reported.
//!
//! Everything is bounded: a browser that does not answer within
//! [`TIMEOUT`] is killed and the test fails saying what it waited for.
//! The browser runs in its own process group, which is killed (and its
//! leader reaped) whatever happens; the throwaway profile is removed.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// Debian's launcher (`apt-get install chromium`); it sources
/// /etc/chromium.d and execs /usr/lib/chromium/chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The most one render may take, start to exit.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// What the browser made of a page.
#[derive(Debug)]
pub struct Rendered {
    /// The serialized document after the load event (DOM.getOuterHTML of
    /// the document node: doctype included, scripts' changes applied).
    pub dom: String,
    /// One line per console.error/console.assert failure, uncaught
    /// exception, and browser-side error log entry (a failed resource
    /// load, a Content-Security-Policy violation, ...). Empty for a clean
    /// page.
    pub console_errors: Vec<String>,
    /// The full-page PNG, also written to the `screenshot` path.
    pub png: Vec<u8>,
    /// The page's full content size in CSS pixels (rounded up), as the
    /// browser measured it; at device scale 1 this is also the PNG's size.
    pub width: u32,
    pub height: u32,
}

/// Renders `page` (a local file) in headless Chromium, writes a full-page
/// PNG to `screenshot` and returns what the page logged. Panics, saying
/// why, when Chromium is missing, fails or takes longer than [`TIMEOUT`].
pub fn render(page: &Path, screenshot: &Path) -> Rendered {
    let scratch = tempfile::tempdir().expect("a temp dir for the browser profile");
    try_render(page, screenshot, TIMEOUT, scratch.path()).unwrap_or_else(|e| panic!("{e}"))
}

/// [`render`] with its time limit and scratch directory (profile and
/// browser log) as parameters, so the harness's own tests can check that
/// a hung page is killed in time and leaves nothing behind.
fn try_render(
    page: &Path,
    screenshot: &Path,
    timeout: Duration,
    scratch: &Path,
) -> Result<Rendered, String> {
    if !Path::new(CHROMIUM).exists() {
        return Err(format!(
            "{CHROMIUM} is missing: run scripts/install-test-deps.sh (it installs Debian's chromium)"
        ));
    }
    let page = page
        .canonicalize()
        .map_err(|e| format!("cannot render {}: {e}", page.display()))?;
    let mut b = Browser::launch(scratch, timeout)?;
    let result = b.render(&file_url(&page), screenshot);
    b.close();
    result.map_err(|e| {
        format!(
            "rendering {} in headless chromium: {e}\n--- chromium stderr (tail) ---\n{}",
            page.display(),
            b.log_tail()
        )
    })
}

/// A running Chromium and the client end of its DevTools pipe. Dropping it
/// kills the browser's whole process group and reaps it.
struct Browser {
    child: Child,
    /// Commands to the browser (its fd 3).
    to: File,
    /// Messages from the browser (its fd 4), one JSON value each, parsed by
    /// a reader thread so that every wait here can have a deadline.
    from: Receiver<Value>,
    /// Events received while waiting for replies, in arrival order.
    events: Vec<Value>,
    next_id: u64,
    deadline: Instant,
    timeout: Duration,
    log: PathBuf,
    /// The profile and TMPDIR, removed on drop.
    dirs: [PathBuf; 2],
}

impl Browser {
    fn launch(scratch: &Path, timeout: Duration) -> Result<Browser, String> {
        // The profile and Chromium's TMPDIR (its SingletonSocket dir and,
        // with --disable-dev-shm-usage, its shared memory files) both live
        // in `scratch`, so a killed browser leaves nothing in /tmp.
        let profile = scratch.join("profile");
        let tmp = scratch.join("tmp");
        for d in [&profile, &tmp] {
            std::fs::create_dir(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let log = scratch.join("chromium.log");
        let stderr = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        // Both pipes are O_CLOEXEC, so browsers and other processes that
        // tests in other threads spawn meanwhile never inherit them; only
        // the dup2 below, in this child, makes fds 3 and 4 survive exec.
        let (cmd_read, cmd_write) = pipe()?;
        let (msg_read, msg_write) = pipe()?;
        let (child_in, child_out) = (cmd_read.as_raw_fd(), msg_write.as_raw_fd());
        let mut cmd = Command::new("unshare");
        cmd.args(["-n", "--", CHROMIUM])
            .args([
                "--headless",
                "--no-sandbox", // as root, Chromium refuses to start without it
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                // Without these, Chromium keeps opening connections of its
                // own (updates, safe browsing, sync), refused many at a time.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                // Shared memory in /tmp: a container's /dev/shm is often
                // 64 MB, too small for a tall page's screenshot (Debian's
                // launcher tries to decide this itself, but its check breaks
                // when findmnt prints two lines).
                "--disable-dev-shm-usage",
                // A fixed, desktop-sized window at scale 1 without
                // scrollbars: screenshots are comparable between machines
                // and pages, and PNG px = CSS px.
                "--window-size=1280,800",
                "--force-device-scale-factor=1",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .env("TMPDIR", &tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            // Its own process group: Chromium's zygote, renderer and
            // utility processes stay in it, so one killpg ends them all.
            .process_group(0);
        // SAFETY: between fork and exec only async-signal-safe calls
        // (fcntl, dup2) on fds this closure owns copies of.
        unsafe {
            cmd.pre_exec(move || {
                // Move both ends above 4 first: if one already is 3 or 4,
                // dup2 onto it would be a no-op that keeps O_CLOEXEC, or the
                // first dup2 would overwrite the second end.
                let a = libc::fcntl(child_in, libc::F_DUPFD_CLOEXEC, 10);
                let b = libc::fcntl(child_out, libc::F_DUPFD_CLOEXEC, 10);
                if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start `unshare -n {CHROMIUM}`: {e}"))?;
        // Our copies of the child's ends must go, or the reader below would
        // never see end-of-file when the browser exits.
        drop(cmd);
        drop((cmd_read, msg_write));

        let (tx, from) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(File::from(msg_read));
            let mut buf = Vec::new();
            while matches!(r.read_until(0, &mut buf), Ok(n) if n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                let Ok(v) = serde_json::from_slice::<Value>(&buf) else {
                    break; // not the protocol: treated as the browser going away
                };
                if tx.send(v).is_err() {
                    break;
                }
                buf.clear();
            }
        });
        Ok(Browser {
            child,
            to: File::from(cmd_write),
            from,
            events: Vec::new(),
            next_id: 0,
            deadline: Instant::now() + timeout,
            timeout,
            log,
            dirs: [profile, tmp],
        })
    }

    fn render(&mut self, url: &str, screenshot: &Path) -> Result<Rendered, String> {
        // A new tab of our own rather than the startup one, which may not
        // exist yet when the pipe starts answering.
        let target = self.call("Target.createTarget", json!({ "url": "about:blank" }), None)?;
        let target = target["targetId"].clone();
        let attached = self.call(
            "Target.attachToTarget",
            json!({ "targetId": target, "flatten": true }),
            None,
        )?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or("Target.attachToTarget returned no sessionId")?
            .to_string();
        let s = Some(session.as_str());
        // Enabled before navigating, so nothing the page logs is missed.
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            self.call(domain, json!({}), s)?;
        }
        let nav = self.call("Page.navigate", json!({ "url": url }), s)?;
        if let Some(e) = nav["errorText"].as_str().filter(|e| !e.is_empty()) {
            return Err(format!("navigating to {url} failed: {e}"));
        }
        self.wait_for_event("Page.loadEventFired", &session)?;

        let doc = self.call("DOM.getDocument", json!({ "depth": 0 }), s)?;
        let html = self.call(
            "DOM.getOuterHTML",
            json!({ "nodeId": doc["root"]["nodeId"] }),
            s,
        )?;
        let dom = html["outerHTML"].as_str().unwrap_or_default().to_string();

        let metrics = self.call("Page.getLayoutMetrics", json!({}), s)?;
        let size = &metrics["cssContentSize"];
        let px = |v: &Value| v.as_f64().unwrap_or(0.0).ceil().max(1.0) as u32;
        let (width, height) = (px(&size["width"]), px(&size["height"]));
        // The whole content, not just the viewport: the explicit clip plus
        // captureBeyondViewport renders below the fold too.
        let shot = self.call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
            }),
            s,
        )?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .map_err(|e| format!("Page.captureScreenshot: bad base64: {e}"))?;
        std::fs::write(screenshot, &png).map_err(|e| format!("{}: {e}", screenshot.display()))?;

        // Collected last: events that arrived during the calls above count.
        let console_errors = self
            .events
            .iter()
            .filter(|e| e["sessionId"] == session.as_str())
            .filter_map(error_line)
            .collect();
        Ok(Rendered {
            dom,
            console_errors,
            png,
            width,
            height,
        })
    }

    /// Sends a command and waits for its reply, keeping the events that
    /// arrive meanwhile.
    fn call(
        &mut self,
        method: &str,
        params: Value,
        session: Option<&str>,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        self.to
            .write_all(&bytes)
            .map_err(|e| format!("{method}: the browser stopped reading its pipe: {e}"))?;
        loop {
            let m = self.next_message(method)?;
            if m["id"] == id {
                if let Some(err) = m.get("error") {
                    return Err(format!("{method} failed: {err}"));
                }
                return Ok(m["result"].clone());
            }
            self.events.push(m);
        }
    }

    fn wait_for_event(&mut self, method: &str, session: &str) -> Result<(), String> {
        let seen = |e: &Value| e["method"] == method && e["sessionId"] == session;
        while !self.events.iter().any(seen) {
            let m = self.next_message(method)?;
            self.events.push(m);
        }
        Ok(())
    }

    fn next_message(&mut self, waiting_for: &str) -> Result<Value, String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        self.from.recv_timeout(left).map_err(|e| match e {
            RecvTimeoutError::Timeout => {
                let limit = self.timeout.as_secs();
                format!("no {waiting_for} from chromium within the {limit} s limit; killed it")
            }
            RecvTimeoutError::Disconnected => {
                format!("chromium exited (or closed its pipe) while waiting for {waiting_for}")
            }
        })
    }

    /// Asks the browser to quit and gives it a few seconds (within the
    /// deadline) to do so, so that it removes its own files; Drop kills
    /// whatever is left.
    fn close(&mut self) {
        // Past the deadline the browser is presumed hung: Drop kills it.
        if Instant::now() >= self.deadline || self.call("Browser.close", json!({}), None).is_err() {
            return;
        }
        let until = (Instant::now() + Duration::from_secs(5)).min(self.deadline);
        while Instant::now() < until && !self.exited() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the browser process has exited, without reaping it: until
    /// Drop reaps it, its pid (= the process group id) cannot be reused,
    /// so the killpg there can only hit this browser's processes.
    fn exited(&self) -> bool {
        // SAFETY: waitid only writes into `info`.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
            libc::waitid(libc::P_PID, self.child.id(), &mut info, flags) == 0 && info.si_pid() != 0
        }
    }

    /// The end of the browser's stderr, for failure messages (D-Bus
    /// complaints are expected on a machine without a bus and left out).
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains(":ERROR:dbus/"))
            .collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: plain syscall; the group is ours (see `exited`).
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = self.child.wait();
        // Group members other than the leader die asynchronously; wait
        // (briefly) until none is left before removing the profile they
        // may still be writing to.
        let until = Instant::now() + Duration::from_secs(5);
        // SAFETY: signal 0 only checks that the group exists.
        while unsafe { libc::kill(-pgid, 0) } == 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        for d in &self.dirs {
            if let Err(e) = std::fs::remove_dir_all(d) {
                eprintln!("browser: cannot remove {}: {e}", d.display());
            }
        }
    }
}

/// The error line for one DevTools event, if it reports an error.
fn error_line(e: &Value) -> Option<String> {
    let p = &e["params"];
    match e["method"].as_str()? {
        // console.error(...) and failed console.assert(...).
        "Runtime.consoleAPICalled" if matches!(p["type"].as_str(), Some("error" | "assert")) => {
            let args: Vec<String> = p["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| match &a["value"] {
                    Value::String(s) => s.clone(),
                    Value::Null => a["description"].as_str().unwrap_or("?").to_string(),
                    v => v.to_string(),
                })
                .collect();
            Some(format!(
                "console.{}: {}",
                p["type"].as_str()?,
                args.join(" ")
            ))
        }
        "Runtime.exceptionThrown" => {
            let d = &p["exceptionDetails"];
            let what = d["exception"]["description"]
                .as_str()
                .and_then(|s| s.lines().next())
                .unwrap_or_default();
            Some(format!(
                "uncaught exception: {} {what} ({}:{})",
                d["text"].as_str().unwrap_or_default(),
                d["url"].as_str().unwrap_or_default(),
                d["lineNumber"].as_u64().unwrap_or(0) + 1,
            ))
        }
        // Browser-side messages: failed loads (source "network"), CSP
        // violations ("security"), and other errors the page did not log.
        "Log.entryAdded" if p["entry"]["level"] == "error" => {
            let entry = &p["entry"];
            Some(format!(
                "{}: {} {}",
                entry["source"].as_str().unwrap_or("log"),
                entry["text"].as_str().unwrap_or_default(),
                entry["url"].as_str().unwrap_or_default(),
            ))
        }
        _ => None,
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array, which we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe2: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `file://` URL of an absolute path, percent-encoding all but unreserved
/// characters and `/`.
fn file_url(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut url = String::from("file://");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// Width and height from a PNG's IHDR chunk, or None if `png` is not a PNG.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    // Signature, then the first chunk: length (4), type "IHDR" (4),
    // width (4), height (4), all big-endian.
    if png.len() < 24 || !png.starts_with(SIGNATURE) || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |i: usize| u32::from_be_bytes(png[i..i + 4].try_into().unwrap());
    Some((be(16), be(20)))
}

/// A page like the report: inline CSS and SVG, no scripts, and a
/// `<div>` of the given height to make it taller than the viewport.
fn report_like(filler_px: u32) -> String {
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>t</title>
<style>body {{ font-family: sans-serif; margin: 0 }} .filler {{ height: {filler_px}px; background: #eef }}</style>
</head><body>
<h1>Dry run</h1>
<svg id="chart" width="200" height="100" viewBox="0 0 200 100"><rect width="120" height="60" fill="teal"/></svg>
<div class="filler"></div>
</body></html>"#
    )
}

fn write(dir: &Path, name: &str, html: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, html).unwrap();
    p
}

#[test]
fn a_clean_static_page_renders_without_errors_into_a_full_page_png() {
    let dir = tempfile::tempdir().unwrap();
    let mut heights = Vec::new();
    // Both pages are taller than the 800 px window, one by 2000 px more.
    for filler in [2000, 4000] {
        let page = write(dir.path(), &format!("{filler}.html"), &report_like(filler));
        let shot = dir.path().join(format!("{filler}.png"));
        let r = render(&page, &shot);
        assert!(r.console_errors.is_empty(), "{:?}", r.console_errors);
        assert!(r.dom.starts_with("<!DOCTYPE html>"), "{}", r.dom);
        assert!(r.dom.contains(r#"<svg id="chart""#), "{}", r.dom);
        assert!(r.dom.contains("<rect"), "{}", r.dom);
        assert_eq!(std::fs::read(&shot).unwrap(), r.png, "the PNG is on disk");
        let (w, h) = png_size(&r.png).expect("a PNG");
        assert_eq!((w, h), (r.width, r.height), "the PNG is the whole page");
        assert_eq!(w, 1280, "the fixed window width");
        heights.push(h);
    }
    // Full-page capture: the screenshot grows exactly with the page.
    assert!(heights[0] > 2000, "{heights:?}");
    assert_eq!(heights[1] - heights[0], 2000, "{heights:?}");
}

#[test]
fn console_error_from_a_script_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let page = write(
        dir.path(),
        "p.html",
        r#"<!doctype html><p>x</p><script>console.log("fine"); console.error("boom", 42)</script>"#,
    );
    let r = render(&page, &dir.path().join("p.png"));
    assert_eq!(r.console_errors, ["console.error: boom 42"]);
}

#[test]
fn an_uncaught_exception_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let page = write(
        dir.path(),
        "p.html",
        r#"<!doctype html><script>throw new Error("kaput")</script>"#,
    );
    let r = render(&page, &dir.path().join("p.png"));
    assert_eq!(r.console_errors.len(), 1, "{:?}", r.console_errors);
    assert!(
        r.console_errors[0].contains("Error: kaput"),
        "{:?}",
        r.console_errors
    );
}

/// Inside the empty network namespace the address cannot be reached
/// (nor anything else): the failed load is an error.
#[test]
fn an_image_from_the_network_is_reported_as_a_failed_load() {
    let dir = tempfile::tempdir().unwrap();
    let page = write(
        dir.path(),
        "p.html",
        r#"<!doctype html><p>x</p><img src="http://192.0.2.1/x.png">"#,
    );
    let r = render(&page, &dir.path().join("p.png"));
    assert_eq!(r.console_errors.len(), 1, "{:?}", r.console_errors);
    let e = &r.console_errors[0];
    assert!(e.starts_with("network: Failed to load resource"), "{e}");
    assert!(e.contains("http://192.0.2.1/x.png"), "{e}");
}

/// The report's own policy (no scripts): an inline script is blocked,
/// and the block is an error, while its inline style is allowed.
#[test]
fn a_script_blocked_by_the_content_security_policy_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let page = write(
        dir.path(),
        "p.html",
        r#"<!doctype html><html><head>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<style>p { color: red }</style></head>
<body><p id="p">x</p><script>document.getElementById("p").textContent = "ran"</script></body></html>"#,
    );
    let r = render(&page, &dir.path().join("p.png"));
    assert_eq!(r.console_errors.len(), 1, "{:?}", r.console_errors);
    let e = &r.console_errors[0];
    assert!(e.starts_with("security: "), "{e}");
    assert!(e.contains("Content Security Policy"), "{e}");
    assert!(
        r.dom.contains(r#"<p id="p">x</p>"#),
        "the script ran: {}",
        r.dom
    );
}

/// A page that never finishes loading: the render fails within its
/// time limit, and no browser process or profile outlives it.
#[test]
fn a_hung_page_is_killed_at_the_deadline_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let page = write(
        dir.path(),
        "p.html",
        "<!doctype html><script>for (;;) {}</script>",
    );
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).expect("a scratch dir");
    let started = Instant::now();
    let err = try_render(
        &page,
        &dir.path().join("p.png"),
        Duration::from_secs(5),
        &scratch,
    )
    .expect_err("a page that never loads cannot render");
    let took = started.elapsed();
    assert!(err.contains("within the 5 s limit"), "{err}");
    assert!(err.contains("Page.loadEventFired"), "{err}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .expect("the scratch dir is still there")
        .map(|e| e.expect("a readable entry").file_name())
        .collect();
    assert_eq!(left, ["chromium.log"], "profile and TMPDIR are removed");
    assert_eq!(processes_mentioning(&scratch), Vec::<String>::new());
}

/// Chromium runs in its own, empty network namespace: a server on this
/// machine's loopback, which the same page outside the namespace loads
/// from, gets no connection, and the failed load is an error.
#[test]
fn a_server_on_the_hosts_loopback_is_out_of_the_pages_reach() {
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    server.set_nonblocking(true).unwrap();
    let port = server.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/x.png");
    let page = write(
        dir.path(),
        "p.html",
        &format!(r#"<!doctype html><img src="{url}">"#),
    );
    let scratch = tempfile::tempdir().unwrap();
    // Bounded well below TIMEOUT: had the page reached the server, which
    // never answers, the load would hang.
    let result = try_render(
        &page,
        &dir.path().join("p.png"),
        Duration::from_secs(30),
        scratch.path(),
    );
    assert!(
        server.accept().is_err(),
        "the page connected to {url} from inside the browser's network namespace"
    );
    let r = result.unwrap();
    assert_eq!(r.console_errors.len(), 1, "{:?}", r.console_errors);
    assert!(r.console_errors[0].contains(&url), "{:?}", r.console_errors);
}

#[test]
fn a_missing_page_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.html");
    let err = try_render(&missing, &dir.path().join("p.png"), TIMEOUT, dir.path())
        .expect_err("nothing to render");
    assert!(err.contains("nope.html"), "{err}");
}

/// Command lines of live (non-zombie) processes that contain `path`.
fn processes_mentioning(path: &Path) -> Vec<String> {
    let needle = path.to_str().unwrap();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        // A zombie has an empty cmdline; only live processes matter.
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(cmdline);
        }
    }
    found
}
