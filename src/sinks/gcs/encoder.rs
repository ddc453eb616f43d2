//! Object bodies: NDJSON, compressed as it is appended.
//!
//! Each open object keeps a streaming compressor over an in-memory buffer,
//! so memory holds compressed bytes and the CPU cost is spread over the
//! batches instead of paid at close. The result is one gzip member (or one
//! zstd frame), which every reader (gsutil, BigQuery external tables,
//! `zcat`, sluice's archive source) understands.

use std::io::Write;

use serde::Deserialize;

/// How objects are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// gzip (`Content-Encoding: gzip`, `.ndjson.gz`).
    #[default]
    Gzip,
    /// zstd (`Content-Encoding: zstd`, `.ndjson.zst`): smaller and faster,
    /// but fewer tools read it.
    Zstd,
    /// Plain NDJSON.
    None,
}

impl Compression {
    /// The `Content-Encoding` the object is stored with.
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            Compression::Gzip => Some("gzip"),
            Compression::Zstd => Some("zstd"),
            Compression::None => None,
        }
    }

    /// The file extension the default key template ends with.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Gzip => ".ndjson.gz",
            Compression::Zstd => ".ndjson.zst",
            Compression::None => ".ndjson",
        }
    }

    /// The library's default level: gzip 6, zstd 3.
    pub fn default_level(self) -> i32 {
        match self {
            Compression::Gzip => 6,
            Compression::Zstd => 3,
            Compression::None => 0,
        }
    }

    /// Levels each codec accepts.
    pub fn level_range(self) -> std::ops::RangeInclusive<i32> {
        match self {
            Compression::Gzip => 1..=9,
            Compression::Zstd => 1..=19,
            Compression::None => 0..=0,
        }
    }
}

enum Inner {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
    Plain(Vec<u8>),
}

/// One object being built.
pub struct ObjectEncoder {
    inner: Inner,
    raw: u64,
}

impl ObjectEncoder {
    /// `level` must be in [`Compression::level_range`] (validated by config).
    pub fn new(c: Compression, level: i32) -> std::io::Result<ObjectEncoder> {
        let inner = match c {
            Compression::Gzip => Inner::Gzip(flate2::write::GzEncoder::new(
                Vec::with_capacity(64 * 1024),
                flate2::Compression::new(level.clamp(0, 9) as u32),
            )),
            Compression::Zstd => Inner::Zstd(zstd::stream::write::Encoder::new(
                Vec::with_capacity(64 * 1024),
                level,
            )?),
            Compression::None => Inner::Plain(Vec::with_capacity(64 * 1024)),
        };
        Ok(ObjectEncoder { inner, raw: 0 })
    }

    /// Appends NDJSON bytes (whole lines).
    pub fn write(&mut self, ndjson: &[u8]) -> std::io::Result<()> {
        self.raw += ndjson.len() as u64;
        match &mut self.inner {
            Inner::Gzip(e) => e.write_all(ndjson),
            Inner::Zstd(e) => e.write_all(ndjson),
            Inner::Plain(v) => {
                v.extend_from_slice(ndjson);
                Ok(())
            }
        }
    }

    /// Uncompressed bytes written so far.
    pub fn raw_len(&self) -> u64 {
        self.raw
    }

    /// Compressed bytes produced so far (the compressor may hold a little
    /// more internally until `finish`).
    pub fn compressed_len(&self) -> u64 {
        (match &self.inner {
            Inner::Gzip(e) => e.get_ref().len(),
            Inner::Zstd(e) => e.get_ref().len(),
            Inner::Plain(v) => v.len(),
        }) as u64
    }

    /// Closes the stream and returns the object's bytes.
    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        match self.inner {
            Inner::Gzip(e) => e.finish(),
            Inner::Zstd(e) => e.finish(),
            Inner::Plain(v) => Ok(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn round_trips_every_codec() {
        let body = b"{\"a\":1}\n{\"b\":2}\n".repeat(1000);
        for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
            let mut e = ObjectEncoder::new(c, c.default_level()).unwrap();
            for chunk in body.chunks(777) {
                e.write(chunk).unwrap();
            }
            assert_eq!(e.raw_len(), body.len() as u64);
            let out = e.finish().unwrap();
            let mut back = Vec::new();
            match c {
                Compression::Gzip => {
                    assert_eq!(&out[..2], &[0x1f, 0x8b]);
                    flate2::read::GzDecoder::new(&out[..])
                        .read_to_end(&mut back)
                        .unwrap();
                }
                Compression::Zstd => {
                    assert_eq!(&out[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
                    back = zstd::decode_all(&out[..]).unwrap();
                }
                Compression::None => back = out.clone(),
            }
            assert_eq!(back, body, "{c:?}");
            if c != Compression::None {
                assert!(
                    out.len() < body.len() / 10,
                    "{c:?} compresses repetitive logs"
                );
            }
        }
    }
}
