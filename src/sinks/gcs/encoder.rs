//! Object bodies: NDJSON, compressed in members as it is appended.
//!
//! An open object keeps its compressed body plus at most [`MEMBER_BYTES`]
//! of NDJSON not yet compressed. When that pending text reaches the member
//! size (or the object closes, or the sink needs memory back) it is
//! compressed in one call into a complete gzip member (or zstd frame) and
//! appended to the body. A gzip file of several members is one gzip file
//! to every reader (RFC 1952 2.2; `gzip -d`, `gsutil cat`, BigQuery load
//! jobs, sluice's archive source), and likewise concatenated zstd frames.
//!
//! Why members instead of a streaming compressor per object: libdeflate
//! compresses a whole buffer about 4x faster than zlib streaming at the same
//! ratio (the table in ARCHITECTURE.md, "Archive compression"), and an open
//! object then holds no compressor state, only bytes, so one
//! [`MemberCompressor`] per sink serves every open object and the memory of
//! hundreds of open hourly objects is the bytes they hold, which the sink
//! bounds (`max_buffered_bytes`).

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
    pub(crate) fn content_encoding(self) -> Option<&'static str> {
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

    /// The default level: gzip 5 (libdeflate), zstd 3.
    pub fn default_level(self) -> i32 {
        match self {
            Compression::Gzip => DEFAULT_GZIP_LEVEL,
            Compression::Zstd => 3,
            Compression::None => 0,
        }
    }

    /// Levels each codec accepts (libdeflate goes to 12).
    pub(crate) fn level_range(self) -> std::ops::RangeInclusive<i32> {
        match self {
            Compression::Gzip => 1..=12,
            Compression::Zstd => 1..=19,
            Compression::None => 0..=0,
        }
    }
}

/// gzip level when none is set: measured in `cargo bench --bench archive`,
/// level 5 costs ~20% less CPU than 6 for objects ~2% larger, and both are
/// smaller than zlib's level 6.
const DEFAULT_GZIP_LEVEL: i32 = 5;

/// NDJSON compressed as one member. Large enough that the ratio is within
/// ~1% of a single stream (deflate's window is 32 KiB), small enough that
/// hundreds of open objects do not hold much text each.
const MEMBER_BYTES: usize = 256 * 1024;

/// One compressor for all the objects of a sink (or of a file, or a bench).
pub struct MemberCompressor {
    codec: Codec,
}

enum Codec {
    Gzip(Box<libdeflater::Compressor>),
    Zstd(Box<zstd::bulk::Compressor<'static>>),
    Plain,
}

impl MemberCompressor {
    /// `level` must be in [`Compression::level_range`] (validated by config).
    pub fn new(c: Compression, level: i32) -> std::io::Result<MemberCompressor> {
        let codec = match c {
            Compression::Gzip => {
                let lvl = libdeflater::CompressionLvl::new(level).map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("gzip level {level} is not in 1-12"),
                    )
                })?;
                Codec::Gzip(Box::new(libdeflater::Compressor::new(lvl)))
            }
            Compression::Zstd => Codec::Zstd(Box::new(zstd::bulk::Compressor::new(level)?)),
            Compression::None => Codec::Plain,
        };
        Ok(MemberCompressor { codec })
    }

    /// Appends `raw` to `out` as one complete member (nothing for empty
    /// input: an empty member would be a valid but useless header).
    fn append_member(&mut self, raw: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        if raw.is_empty() {
            return Ok(());
        }
        match &mut self.codec {
            Codec::Gzip(z) => {
                let start = out.len();
                out.resize(start + z.gzip_compress_bound(raw.len()), 0);
                let n = z
                    .gzip_compress(raw, &mut out[start..])
                    .map_err(std::io::Error::other)?;
                out.truncate(start + n);
            }
            Codec::Zstd(z) => out.extend_from_slice(&z.compress(raw)?),
            Codec::Plain => out.extend_from_slice(raw),
        }
        Ok(())
    }
}

/// One object being built.
pub struct ObjectEncoder {
    body: Vec<u8>,
    pending: Vec<u8>,
    raw: u64,
}

impl Default for ObjectEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ObjectEncoder {
    pub fn new() -> ObjectEncoder {
        ObjectEncoder {
            body: Vec::new(),
            pending: Vec::new(),
            raw: 0,
        }
    }

    /// Appends NDJSON bytes (whole lines), compressing a member whenever
    /// [`MEMBER_BYTES`] are pending.
    pub fn write(&mut self, z: &mut MemberCompressor, ndjson: &[u8]) -> std::io::Result<()> {
        self.raw += ndjson.len() as u64;
        if self.pending.is_empty() && ndjson.len() >= MEMBER_BYTES {
            return z.append_member(ndjson, &mut self.body);
        }
        self.pending.extend_from_slice(ndjson);
        if self.pending.len() >= MEMBER_BYTES {
            self.seal(z)?;
        }
        Ok(())
    }

    /// Compresses the pending text now (to give memory back) and frees
    /// its buffer.
    pub(crate) fn seal(&mut self, z: &mut MemberCompressor) -> std::io::Result<()> {
        z.append_member(&self.pending, &mut self.body)?;
        self.pending = Vec::new();
        Ok(())
    }

    /// Uncompressed bytes written so far.
    pub(crate) fn raw_len(&self) -> u64 {
        self.raw
    }

    /// Text not yet compressed.
    pub(crate) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Memory the object holds: its compressed body and its pending text.
    pub(crate) fn held_bytes(&self) -> usize {
        self.body.capacity() + self.pending.capacity()
    }

    /// Compresses what is pending and returns the object's bytes.
    pub fn finish(mut self, z: &mut MemberCompressor) -> std::io::Result<Vec<u8>> {
        z.append_member(&self.pending, &mut self.body)?;
        Ok(self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::archive::read::Inflater;
    use std::io::Read;

    #[test]
    fn round_trips_every_codec() {
        let body = b"{\"a\":1}\n{\"b\":2}\n".repeat(1000);
        for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
            let mut z = MemberCompressor::new(c, c.default_level()).unwrap();
            let mut e = ObjectEncoder::new();
            for chunk in body.chunks(777) {
                e.write(&mut z, chunk).unwrap();
            }
            assert_eq!(e.raw_len(), body.len() as u64);
            let out = e.finish(&mut z).unwrap();
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

    /// Objects larger than a member are several members (frames) back to
    /// back; every reader must see one body, in order, whatever the chunking.
    #[test]
    fn objects_of_many_members_read_back_whole_with_the_archive_reader_and_gzip() {
        let mut body = Vec::new();
        for i in 0..40_000 {
            body.extend_from_slice(
                format!("{{\"n\":{i},\"msg\":\"line {}\"}}\n", i * 7919 % 1000).as_bytes(),
            );
        }
        assert!(body.len() > 3 * MEMBER_BYTES, "test needs several members");
        for c in [Compression::Gzip, Compression::Zstd] {
            let mut z = MemberCompressor::new(c, c.default_level()).unwrap();
            let mut e = ObjectEncoder::new();
            let mut written = 0;
            for (i, chunk) in body.chunks(10_000).enumerate() {
                e.write(&mut z, chunk).unwrap();
                written += chunk.len();
                if i == 3 {
                    // A relief seal mid-member, as the sink does under memory pressure.
                    e.seal(&mut z).unwrap();
                    assert_eq!(e.pending_len(), 0);
                }
                assert!(e.pending_len() < MEMBER_BYTES, "pending is bounded");
            }
            assert_eq!(written as u64, e.raw_len());
            let out = e.finish(&mut z).unwrap();
            let mut back = Vec::new();
            let mut inflate = Inflater::new();
            for chunk in out.chunks(4096) {
                inflate.push(chunk, &mut back).unwrap();
            }
            inflate.finish(&mut back).unwrap();
            assert_eq!(back, body, "{c:?} through the archive source's reader");
            if c == Compression::Gzip {
                let mut members = 0;
                let mut pos = 0;
                while let Some(i) = memchr::memmem::find(&out[pos..], &[0x1f, 0x8b, 0x08]) {
                    members += 1;
                    pos += i + 3;
                }
                assert!(members >= 4, "{members} gzip members");
                let mut via_flate2 = Vec::new();
                flate2::read::MultiGzDecoder::new(&out[..])
                    .read_to_end(&mut via_flate2)
                    .unwrap();
                assert_eq!(via_flate2, body);
            }
        }
    }

    #[test]
    fn a_level_outside_the_codec_range_is_an_error_not_a_panic() {
        let e = MemberCompressor::new(Compression::Gzip, 13)
            .err()
            .expect("refused");
        assert!(e.to_string().contains("gzip level 13"), "{e}");
    }
}
