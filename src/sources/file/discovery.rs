//! Finds the files to tail: include globs minus exclude globs, evaluated
//! again every `glob_interval_ms` so files created while running are
//! picked up.
//!
//! Paths are reported as the glob found them. For `/var/log/containers`
//! those are the kubelet's symlinks, whose names carry the pod, namespace
//! and container; `stat` follows the link to give the real file's device,
//! inode and size, while labels keep the link's name.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use glob::{MatchOptions, Pattern};

/// A regular file found by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) path: PathBuf,
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) size: u64,
}

const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

#[derive(Debug, Clone)]
pub(crate) struct Globs {
    include: Vec<String>,
    exclude: Vec<Pattern>,
}

/// Checks pattern syntax; the message names the pattern's index, not a
/// file.
pub(crate) fn check(patterns: &[String]) -> Result<(), String> {
    for (i, p) in patterns.iter().enumerate() {
        Pattern::new(p).map_err(|e| format!("pattern {i} is not a valid glob: {}", e.msg))?;
    }
    Ok(())
}

impl Globs {
    /// Patterns must have passed [`check`].
    pub(crate) fn new(include: &[String], exclude: &[String]) -> Result<Globs, String> {
        check(include)?;
        let exclude = exclude
            .iter()
            .enumerate()
            .map(|(i, p)| Pattern::new(p).map_err(|e| format!("exclude pattern {i}: {}", e.msg)))
            .collect::<Result<_, _>>()?;
        Ok(Globs {
            include: include.to_vec(),
            exclude,
        })
    }

    fn excluded(&self, path: &std::path::Path) -> bool {
        self.exclude
            .iter()
            .any(|p| p.matches_path_with(path, OPTIONS))
    }

    /// Every regular file matched now, each path once, sorted. Unreadable
    /// folders and files that vanish mid-scan are skipped (they are found
    /// again, or not, by the next scan).
    pub(crate) fn scan(&self) -> Vec<Found> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for pattern in &self.include {
            let Ok(paths) = glob::glob_with(pattern, OPTIONS) else {
                continue;
            };
            for path in paths.flatten() {
                if self.excluded(&path) || !seen.insert(path.clone()) {
                    continue;
                }
                // Follows symlinks: the target's identity, the link's name.
                let Ok(md) = std::fs::metadata(&path) else {
                    continue;
                };
                if !md.is_file() {
                    continue;
                }
                out.push(Found {
                    path,
                    dev: md.dev(),
                    ino: md.ino(),
                    size: md.len(),
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_minus_exclude_through_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("pods")).unwrap();
        std::fs::write(d.join("pods/0.log"), b"x\n").unwrap();
        std::fs::create_dir(d.join("containers")).unwrap();
        let link = d.join("containers/web_ns_app-abc.log");
        std::os::unix::fs::symlink(d.join("pods/0.log"), &link).unwrap();
        std::fs::write(d.join("containers/sluice_sluice_agent-abc.log"), b"y\n").unwrap();
        std::fs::write(d.join("containers/notes.txt"), b"z\n").unwrap();
        std::fs::create_dir(d.join("containers/dir.log")).unwrap();
        let g = Globs::new(
            &[format!("{}/containers/*.log", d.display())],
            &[format!("{}/containers/*_sluice_*", d.display())],
        )
        .unwrap();
        let found = g.scan();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, link, "the link's name, not the target's");
        let target = std::fs::metadata(d.join("pods/0.log")).unwrap();
        assert_eq!((found[0].ino, found[0].size), (target.ino(), 2));
    }

    #[test]
    fn bad_patterns_are_reported_by_index() {
        let e = check(&["/ok/*.log".into(), "/bad/[".into()]).unwrap_err();
        assert!(e.starts_with("pattern 1"), "{e}");
    }
}
