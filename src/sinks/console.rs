//! `type = "console"`: NDJSON to standard output.

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::{encode_ndjson, Sink};
use crate::component::{ComponentError, SinkContext, SinkInput};
use crate::event::finalization::Finalizers;
use crate::event::EventStatus;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {}

pub(crate) struct Console;

#[async_trait]
impl Sink for Console {
    async fn run(
        self: Box<Self>,
        mut input: SinkInput,
        cx: SinkContext,
    ) -> Result<(), ComponentError> {
        let mut stdout = tokio::io::stdout();
        let mut buf = Vec::new();
        while let Some(batch) = input.next().await {
            let n = batch.len() as u64;
            let mut fins = Finalizers::default();
            buf.clear();
            for mut e in batch.events {
                fins.push(e.take_finalizer());
                encode_ndjson(&mut buf, &e.log);
            }
            let res = async {
                stdout.write_all(&buf).await?;
                stdout.flush().await
            }
            .await;
            match res {
                Ok(()) => {
                    cx.stats.sent(n, buf.len() as u64);
                    fins.settle(EventStatus::Delivered);
                }
                // A closed stdout (`sluice ... | head`) ends the sink; the
                // unwritten events stay unacknowledged.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    fins.settle(EventStatus::Errored);
                    return Ok(());
                }
                Err(e) => {
                    fins.settle(EventStatus::Errored);
                    return Err(ComponentError::new(
                        format!("sink {}: write to stdout", cx.name),
                        e,
                    ));
                }
            }
        }
        Ok(())
    }
}
