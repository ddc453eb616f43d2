//! `type = "blackhole"`: accepts and discards everything (benchmarks,
//! and pipelines that only derive metrics).

use async_trait::async_trait;
use serde::Deserialize;

use super::Sink;
use crate::component::{ComponentError, SinkContext, SinkInput};
use crate::event::EventStatus;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {}

pub(crate) struct Blackhole;

#[async_trait]
impl Sink for Blackhole {
    async fn run(
        self: Box<Self>,
        mut input: SinkInput,
        cx: SinkContext,
    ) -> Result<(), ComponentError> {
        while let Some(batch) = input.next().await {
            cx.stats.sent(batch.len() as u64, 0);
            for e in batch.events {
                e.finalize(EventStatus::Delivered);
            }
        }
        Ok(())
    }
}
