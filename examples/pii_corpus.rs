//! Writes the labelled PII corpus, `fixtures/pii/{corpus,planted,benign}.ndjson`,
//! from its deterministic generator. Run after changing the generator:
//!
//! ```text
//! cargo run --example pii_corpus
//! ```
//!
//! `transforms::redact::corpus_tests::corpus_is_deterministic_and_current`
//! fails until the fixtures match the generator again.

#[path = "../tests/generators/pii_corpus.rs"]
mod pii_corpus;

/// Events in the committed corpus.
const EVENTS: usize = 2800;

fn main() -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pii");
    std::fs::create_dir_all(&dir)?;
    let (corpus, planted, benign) = pii_corpus::generate(EVENTS);
    for (name, text) in [
        ("corpus.ndjson", corpus),
        ("planted.ndjson", planted),
        ("benign.ndjson", benign),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
