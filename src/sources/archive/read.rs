//! Stream decompression, chosen by the object's first bytes (gzip, zstd,
//! or plain NDJSON), not by its name or metadata: GCS may serve a gzip
//! object already decompressed, and old archives were named by hand.
//!
//! Push-based (`write` decoders), so it works on the chunks of an HTTP
//! body as they arrive, without a blocking reader.

use std::io::Write;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The compression an object turned out to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Gzip,
    Zstd,
    Plain,
}

enum State {
    /// Fewer than 4 bytes seen yet.
    Sniffing(Vec<u8>),
    Gzip(Box<flate2::write::MultiGzDecoder<Vec<u8>>>),
    Zstd(Box<zstd::stream::write::Decoder<'static, Vec<u8>>>),
    Plain,
}

/// Decompresses one object's bytes as they arrive.
pub struct Inflater {
    state: State,
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Inflater {
    pub fn new() -> Inflater {
        Inflater {
            state: State::Sniffing(Vec::with_capacity(4)),
        }
    }

    pub(crate) fn codec(&self) -> Option<Codec> {
        match self.state {
            State::Sniffing(_) => None,
            State::Gzip(_) => Some(Codec::Gzip),
            State::Zstd(_) => Some(Codec::Zstd),
            State::Plain => Some(Codec::Plain),
        }
    }

    fn decide(&mut self, head: &[u8]) -> std::io::Result<()> {
        self.state = if head.starts_with(&GZIP_MAGIC) {
            State::Gzip(Box::new(flate2::write::MultiGzDecoder::new(
                Vec::with_capacity(256 * 1024),
            )))
        } else if head.starts_with(&ZSTD_MAGIC) {
            State::Zstd(Box::new(zstd::stream::write::Decoder::new(
                Vec::with_capacity(256 * 1024),
            )?))
        } else {
            State::Plain
        };
        Ok(())
    }

    /// Feeds compressed bytes; appends what they decompress to into `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        if let State::Sniffing(head) = &mut self.state {
            head.extend_from_slice(chunk);
            if head.len() < ZSTD_MAGIC.len() {
                return Ok(());
            }
            let head = std::mem::take(head);
            self.decide(&head)?;
            return self.feed(&head, out);
        }
        self.feed(chunk, out)
    }

    fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        match &mut self.state {
            State::Sniffing(_) => unreachable!("decided before feeding"),
            State::Plain => out.extend_from_slice(chunk),
            State::Gzip(d) => {
                d.write_all(chunk)?;
                drain(d.get_mut(), out);
            }
            State::Zstd(d) => {
                d.write_all(chunk)?;
                drain(d.get_mut(), out);
            }
        }
        Ok(())
    }

    /// Ends the object: flushes what the decoder still holds and checks
    /// that the stream was complete.
    pub fn finish(mut self, out: &mut Vec<u8>) -> std::io::Result<Codec> {
        if let State::Sniffing(head) = &mut self.state {
            let head = std::mem::take(head);
            self.decide(&head)?;
            self.feed(&head, out)?;
        }
        let codec = self.codec().expect("decided above");
        match self.state {
            State::Sniffing(_) | State::Plain => {}
            State::Gzip(mut d) => {
                d.try_finish()?;
                drain(d.get_mut(), out);
                let inner = d.finish()?;
                out.extend_from_slice(&inner);
            }
            State::Zstd(mut d) => {
                d.flush()?;
                drain(d.get_mut(), out);
            }
        }
        Ok(codec)
    }
}

fn drain(from: &mut Vec<u8>, out: &mut Vec<u8>) {
    if out.is_empty() {
        std::mem::swap(from, out);
    } else {
        out.extend_from_slice(from);
        from.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::gcs::encoder::{Compression, MemberCompressor, ObjectEncoder};

    #[test]
    fn inflates_any_codec_in_any_chunking() {
        let body: Vec<u8> = (0..5000)
            .flat_map(|i| format!("{{\"insertId\":\"{i}\"}}\n").into_bytes())
            .collect();
        for (c, want) in [
            (Compression::Gzip, Codec::Gzip),
            (Compression::Zstd, Codec::Zstd),
            (Compression::None, Codec::Plain),
        ] {
            let mut zc = MemberCompressor::new(c, c.default_level()).unwrap();
            let mut e = ObjectEncoder::new();
            e.write(&mut zc, &body).unwrap();
            let mut z = e.finish(&mut zc).unwrap();
            if c == Compression::Gzip {
                // Two gzip members, the second at another level.
                let mut zc = MemberCompressor::new(c, 1).unwrap();
                let mut e2 = ObjectEncoder::new();
                e2.write(&mut zc, b"{\"tail\":1}\n").unwrap();
                z.extend(e2.finish(&mut zc).unwrap());
            }
            for chunk in [1, 3, 7, 4096, 1 << 20] {
                let mut inf = Inflater::new();
                let mut out = Vec::new();
                for piece in z.chunks(chunk) {
                    inf.push(piece, &mut out).unwrap();
                }
                assert_eq!(inf.finish(&mut out).unwrap(), want);
                let mut expect = body.clone();
                if c == Compression::Gzip {
                    expect.extend_from_slice(b"{\"tail\":1}\n");
                }
                assert!(out == expect, "{c:?} chunk {chunk}");
            }
        }
        // Tiny plain objects (under the sniff length) come through whole.
        let mut inf = Inflater::new();
        let mut out = Vec::new();
        inf.push(b"{}", &mut out).unwrap();
        assert_eq!(inf.finish(&mut out).unwrap(), Codec::Plain);
        assert_eq!(out, b"{}");
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let mut zc = MemberCompressor::new(Compression::Gzip, 6).unwrap();
        let mut e = ObjectEncoder::new();
        e.write(&mut zc, &b"{\"a\":1}\n".repeat(10_000)).unwrap();
        let z = e.finish(&mut zc).unwrap();
        let mut inf = Inflater::new();
        let mut out = Vec::new();
        let r = inf
            .push(&z[..z.len() - 10], &mut out)
            .and_then(|_| inf.finish(&mut out).map(|_| ()));
        assert!(r.is_err(), "a cut gzip stream must not pass as complete");
    }
}
