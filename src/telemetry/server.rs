//! A small HTTP/1.1 responder for `/metrics`, `/health/live` and
//! `/health/ready`, on tokio without a web framework.
//!
//! It answers GET (and HEAD) requests with one response and closes the
//! connection. Requests are tiny and rare (a scrape every few seconds,
//! kubelet probes), so a framework would add dependencies and attack
//! surface without buying anything. Connections are capped and each has a
//! deadline, so a slow or idle client cannot pin memory or tasks.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::exporter::Exporter;

/// Most connections served at once; more wait in the accept backlog.
const MAX_CONNECTIONS: usize = 16;
/// Longest a client may take to send its request head.
const READ_DEADLINE: Duration = Duration::from_secs(5);
/// Longest request head read.
const MAX_HEAD: usize = 8 * 1024;

/// Serves until `shutdown` is cancelled. Every connection task is owned
/// here and awaited (or aborted) before this returns.
pub(crate) async fn serve(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut conns = JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = shutdown.cancelled() => break,
        };
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let exporter = exporter.clone();
        conns.spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(READ_DEADLINE * 2, handle(stream, &exporter)).await;
        });
        // Reap finished connections so the set does not grow.
        while conns.try_join_next().is_some() {}
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn handle(mut stream: TcpStream, exporter: &Exporter) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        std::io::Result::Ok(())
    };
    if tokio::time::timeout(READ_DEADLINE, read).await.is_err() {
        return Ok(());
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    let (status, ctype, body) = if method != "GET" && method != "HEAD" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "only GET is supported\n".to_string(),
        )
    } else {
        route(path, exporter)
    };
    let mut resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        resp.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&resp).await?;
    stream.shutdown().await
}

fn route(path: &str, exporter: &Exporter) -> (&'static str, &'static str, String) {
    match path {
        "/metrics" => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            exporter.render(),
        ),
        "/health/live" | "/health" => ("200 OK", "text/plain", "ok\n".into()),
        "/health/ready" => {
            let t = &exporter.telemetry();
            if t.is_ready() {
                ("200 OK", "text/plain", "ready\n".into())
            } else {
                let waiting = t.not_ready().join(", ");
                (
                    "503 Service Unavailable",
                    "text/plain",
                    format!("not ready: waiting for {waiting}\n"),
                )
            }
        }
        _ => ("404 Not Found", "text/plain", "not found\n".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Telemetry;

    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn routes() {
        let t = Telemetry::new();
        t.expect_ready("sink");
        let exporter = Arc::new(Exporter::install(t.clone()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(listener, exporter, stop.clone()));
        assert!(get(addr, "/health/live").await.starts_with("HTTP/1.1 200"));
        let r = get(addr, "/health/ready").await;
        assert!(r.starts_with("HTTP/1.1 503") && r.contains("sink"), "{r}");
        t.component_started("sink");
        assert!(get(addr, "/health/ready").await.starts_with("HTTP/1.1 200"));
        let m = get(addr, "/metrics").await;
        assert!(m.contains("pipeline_ready 1"), "{m}");
        assert!(get(addr, "/nope").await.starts_with("HTTP/1.1 404"));
        stop.cancel();
        server.await.unwrap();
    }
}
