//! `type = "stdin"`: NDJSON or plain lines from standard input.

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use super::{LineFeeder, Position, Source};
use crate::component::FieldError;
use crate::component::{BuildContext, ComponentError, SourceContext};
use crate::decode::{Decoder, Format, InvalidUtf8};
use crate::node::NodeInfo;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Framing of the input lines: `auto` (default), `cri`, `docker`, `ndjson`.
    #[serde(default)]
    pub(crate) format: Format,
    /// Lines longer than this go to the dead-letter output.
    #[serde(default = "default_max_line_bytes")]
    pub(crate) max_line_bytes: usize,
    /// Text lines that are not valid UTF-8: `replace` (default, U+FFFD)
    /// or `deadletter`. Counted either way.
    #[serde(default)]
    pub(crate) invalid_utf8: InvalidUtf8,
    /// Names the run in every insertId (with the line number). Default:
    /// unique per process, so a second run is new input. Set the same
    /// value to replay an input with the same ids (BigQuery then drops
    /// the replay).
    #[serde(default)]
    pub(crate) run_id: Option<String>,
}

pub(crate) fn default_max_line_bytes() -> usize {
    256 * 1024
}

impl Config {
    pub(crate) fn validate(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        if self.max_line_bytes < 64 {
            e.push(FieldError::new("max_line_bytes", "must be at least 64"));
        }
        e
    }
}

pub(crate) struct Stdin {
    cfg: Config,
    node: NodeInfo,
}

impl Stdin {
    pub(crate) fn new(cfg: Config, cx: &BuildContext) -> Self {
        Stdin {
            cfg,
            node: cx.node.clone(),
        }
    }
}

#[async_trait]
impl Source for Stdin {
    async fn run(self: Box<Self>, mut cx: SourceContext) -> Result<(), ComponentError> {
        // stdin has no checkpoint, so each run is new input: the run (start
        // time and pid) and the line number make the insertId, and two
        // identical lines are two entries.
        let run = self.cfg.run_id.clone().unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            format!("{nanos}.{}", std::process::id())
        });
        let origin = self.node.generic_origin(format!("stdin:{}:{run}", cx.name));
        let decoder = Decoder::new(self.cfg.format, origin, self.cfg.max_line_bytes)
            .with_invalid_utf8(self.cfg.invalid_utf8);
        let mut feeder = LineFeeder::new(decoder, self.cfg.max_line_bytes, Position::Lines);
        let mut stdin = tokio::io::stdin();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = tokio::select! {
                r = stdin.read(&mut buf) => r.map_err(|e| ComponentError::new("stdin: read", e))?,
                _ = cx.shutdown.cancelled() => break,
            };
            if n == 0 {
                break;
            }
            feeder.feed(&buf[..n], &mut cx).await?;
        }
        feeder.finish(&mut cx).await?;
        Ok(())
    }
}
