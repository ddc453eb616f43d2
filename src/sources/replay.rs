//! The dry-run input source: reads given files (or the bundled fixtures)
//! once, start to end, with the framing detected per file (CRI, docker
//! json-file, NDJSON; gzip of any of these). Container log file names give
//! the Kubernetes resource labels, as on a node.

use std::io::Read;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{LineFeeder, Position, Source};
use crate::component::{ComponentError, SourceContext};
use crate::decode::{k8s, Decoder, Format};
use crate::node::NodeInfo;

/// One input: a file on disk or bytes built into the binary.
#[derive(Debug, Clone)]
pub enum Input {
    File(PathBuf),
    Embedded {
        name: &'static str,
        bytes: &'static [u8],
    },
}

impl Input {
    /// Expands directories into their files (sorted, recursive).
    pub(crate) fn expand(paths: &[PathBuf]) -> std::io::Result<Vec<Input>> {
        let mut out = Vec::new();
        for p in paths {
            collect(p, &mut out)?;
        }
        Ok(out)
    }
}

fn collect(p: &Path, out: &mut Vec<Input>) -> std::io::Result<()> {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            collect(&e, out)?;
        }
    } else {
        // Opening now reports a missing input before anything runs.
        std::fs::File::open(p)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
        out.push(Input::File(p.to_path_buf()));
    }
    Ok(())
}

pub(crate) struct Replay {
    inputs: Vec<Input>,
    node: NodeInfo,
    format: Format,
    max_line_bytes: usize,
}

impl Replay {
    /// `format` is `Auto` for `--input` files (detected per file), or the
    /// framing of the file source the inputs stand in for.
    pub(crate) fn new(
        inputs: Vec<Input>,
        node: NodeInfo,
        format: Format,
        max_line_bytes: usize,
    ) -> Self {
        Replay {
            inputs,
            node,
            format,
            max_line_bytes,
        }
    }
}

#[async_trait]
impl Source for Replay {
    async fn run(self: Box<Self>, mut cx: SourceContext) -> Result<(), ComponentError> {
        for input in &self.inputs {
            if cx.shutdown.is_cancelled() {
                break;
            }
            let (name, reader): (PathBuf, Box<dyn Read + Send>) = match input {
                Input::File(p) => {
                    let f = std::fs::File::open(p).map_err(|e| {
                        ComponentError::new(format!("cannot open {}", p.display()), e)
                    })?;
                    (p.clone(), Box::new(f))
                }
                Input::Embedded { name, bytes } => (PathBuf::from(name), Box::new(*bytes)),
            };
            let mut reader = maybe_gunzip(reader)
                .map_err(|e| ComponentError::new(format!("cannot read {}", name.display()), e))?;
            let logical = name.to_string_lossy().trim_end_matches(".gz").to_string();
            let origin = k8s::origin_for_file(Path::new(&logical), &self.node);
            let decoder = Decoder::new(self.format, origin, self.max_line_bytes);
            let mut feeder = LineFeeder::new(decoder, self.max_line_bytes, Position::Bytes);
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = reader.read(&mut buf).map_err(|e| {
                    ComponentError::new(format!("cannot read {}", name.display()), e)
                })?;
                if n == 0 {
                    break;
                }
                feeder.feed(&buf[..n], &mut cx).await?;
            }
            feeder.finish(&mut cx).await?;
            tracing::info!(input = %name.display(), "input read");
        }
        Ok(())
    }
}

/// Wraps the reader in a gzip decoder when it starts with gzip's magic.
pub(crate) fn maybe_gunzip(mut r: Box<dyn Read + Send>) -> std::io::Result<Box<dyn Read + Send>> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        let n = r.read(&mut magic[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let head = std::io::Cursor::new(magic[..got].to_vec());
    let chained: Box<dyn Read + Send> = Box::new(head.chain(r));
    if got == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(chained)))
    } else {
        Ok(chained)
    }
}
