//! Turns decoded lines into acknowledged batches. Shared by every source
//! that reads lines (stdin, file, dry-run inputs).

use std::sync::Arc;

use serde_json::json;

use crate::component::{ComponentError, SourceContext};
use crate::decode::{Decoded, Decoder, LineSplitter, Piece};
use crate::event::{Batch, BatchNotifier, BatchStatusReceiver, Event};

/// Collects decoded lines into one batch with one notifier.
pub(crate) struct Emitter {
    notifier: Arc<BatchNotifier>,
    receiver: Option<BatchStatusReceiver>,
    events: Vec<Event>,
    rejects: Vec<(Event, String)>,
    bytes: u64,
}

impl Default for Emitter {
    fn default() -> Self {
        Self::new()
    }
}

impl Emitter {
    pub(crate) fn new() -> Self {
        let (notifier, rx) = BatchNotifier::new_with_receiver();
        Emitter {
            notifier,
            receiver: Some(rx),
            events: Vec::new(),
            rejects: Vec::new(),
            bytes: 0,
        }
    }

    /// Events and rejects collected so far.
    pub(crate) fn len(&self) -> usize {
        self.events.len() + self.rejects.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn push(&mut self, d: Decoded) {
        match d {
            Decoded::Entry { log, size } => {
                self.bytes += size as u64;
                self.events
                    .push(Event::with_notifier(log, size, &self.notifier));
            }
            Decoded::Reject {
                reason,
                sample,
                size,
            } => {
                self.bytes += size as u64;
                let log = json!({"raw": sample, "raw_bytes": size});
                self.rejects
                    .push((Event::with_notifier(log, size, &self.notifier), reason));
            }
        }
    }

    /// Sends the batch (events downstream, rejects to the dead-letter
    /// output) and returns the receiver that resolves when all of it is
    /// durable. Waits while downstream is full.
    pub(crate) async fn flush(
        mut self,
        cx: &mut SourceContext,
    ) -> Result<BatchStatusReceiver, ComponentError> {
        let rx = self.receiver.take().expect("an emitter is flushed once");
        let n = (self.events.len() + self.rejects.len()) as u64;
        let (events, rejects, bytes) = (
            std::mem::take(&mut self.events),
            std::mem::take(&mut self.rejects),
            self.bytes,
        );
        // The emitter's own notifier reference must go before the events
        // travel, or the batch could not resolve.
        drop(self);
        send_read(cx, events, rejects, n, bytes).await?;
        Ok(rx)
    }
}

/// Hands one source read to the pipeline: counts `received` inputs (and
/// the rejects as errors), sends the rejects to the dead-letter output and
/// the events downstream, waiting while downstream is full. Every source
/// ends a read here, whatever its acknowledgement bookkeeping.
pub(crate) async fn send_read(
    cx: &mut SourceContext,
    events: Vec<Event>,
    rejects: Vec<(Event, String)>,
    received: u64,
    bytes: u64,
) -> Result<(), ComponentError> {
    cx.stats.received(received, bytes);
    cx.stats.errored(rejects.len() as u64);
    cx.dead_letter.send_all(&cx.name, rejects).await;
    cx.out
        .send(Batch::new(events))
        .await
        .map_err(|e| ComponentError::new(format!("source {}", cx.name), e))
}

/// How a [`LineFeeder`] counts the position that goes into `insertId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Position {
    /// Byte offset of the line's start, as the file source counts, so a
    /// file replayed in a dry run gets the ids the live source gives it.
    Bytes,
    /// Line number from 1 (stdin).
    Lines,
}

/// Bytes in, batches out: splitter + decoder + emitter for one stream.
pub(crate) struct LineFeeder {
    splitter: LineSplitter,
    decoder: Decoder,
    emitter: Emitter,
    decoded: Vec<Decoded>,
    count: Position,
    /// Bytes or lines before the next line.
    position: u64,
}

impl LineFeeder {
    pub(crate) fn new(decoder: Decoder, max_line_bytes: usize, count: Position) -> Self {
        LineFeeder {
            splitter: LineSplitter::new(max_line_bytes),
            decoder,
            emitter: Emitter::new(),
            decoded: Vec::new(),
            count,
            position: 0,
        }
    }

    fn split(&mut self, chunk: &[u8], last: bool) {
        let received = chrono::Utc::now();
        let (decoder, decoded) = (&mut self.decoder, &mut self.decoded);
        let (count, position) = (self.count, &mut self.position);
        let mut f = |p: Piece<'_>| {
            let len = match &p {
                Piece::Line(l) => l.len(),
                Piece::Oversize { total, .. } => *total,
            };
            let (at, step) = match count {
                Position::Bytes => (*position, len as u64 + 1),
                Position::Lines => (*position + 1, 1),
            };
            *position += step;
            decoder.at(at);
            match p {
                Piece::Line(l) => decoder.push_line(l, received, decoded),
                Piece::Oversize { prefix, total } => decoder.push_oversize(prefix, total, decoded),
            }
        };
        if last {
            self.splitter.finish(&mut f);
        } else {
            self.splitter.push(chunk, &mut f);
        }
    }

    /// Decodes a chunk; sends a batch whenever `batch_max_events` is reached.
    pub(crate) async fn feed(
        &mut self,
        chunk: &[u8],
        cx: &mut SourceContext,
    ) -> Result<(), ComponentError> {
        self.split(chunk, false);
        self.drain(cx).await
    }

    /// Flushes the last line and the open batch.
    pub(crate) async fn finish(&mut self, cx: &mut SourceContext) -> Result<(), ComponentError> {
        self.split(&[], true);
        self.drain(cx).await
    }

    /// Sends full batches, then whatever is left: a chunk's lines are never
    /// held back waiting for more input.
    async fn drain(&mut self, cx: &mut SourceContext) -> Result<(), ComponentError> {
        cx.telemetry
            .invalid_utf8(&cx.name, self.decoder.take_invalid_utf8());
        for d in self.decoded.drain(..) {
            self.emitter.push(d);
            if self.emitter.len() >= cx.batch_max_events {
                std::mem::take(&mut self.emitter).flush(cx).await?;
            }
        }
        if !self.emitter.is_empty() {
            std::mem::take(&mut self.emitter).flush(cx).await?;
        }
        Ok(())
    }
}
