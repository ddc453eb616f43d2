//! `sluice validate PIPELINE`: load and check a pipeline without building it.

use std::path::Path;

use anyhow::Result;

pub fn run(path: &Path) -> Result<u8> {
    match crate::config::load_file(path) {
        Ok(cfg) => {
            println!(
                "{}: ok ({} sources, {} transforms, {} sinks)",
                path.display(),
                cfg.sources.len(),
                cfg.transforms.len(),
                cfg.sinks.len()
            );
            Ok(0)
        }
        Err(e) => {
            eprint!("{e}");
            Ok(1)
        }
    }
}
