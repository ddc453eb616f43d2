//! Docker `json-file` framing: `{"log":"text\n","stream":"stdout","time":"..."}`.
//! A `log` value without a trailing newline is a partial line (docker splits
//! lines at 16 KiB).

use serde::Deserialize;

use crate::event::log_entry::Stream;

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow)]
    log: std::borrow::Cow<'a, str>,
    stream: Option<&'a str>,
    time: Option<String>,
}

pub(crate) struct DockerLine {
    pub(crate) log: String,
    pub(crate) stream: Stream,
    pub(crate) time: String,
}

pub(crate) fn looks_like(line: &[u8]) -> bool {
    memchr::memmem::find(line, b"\"log\":").is_some()
        && memchr::memmem::find(line, b"\"stream\":").is_some()
}

pub(crate) fn parse(line: &[u8]) -> Result<DockerLine, String> {
    let raw: Raw<'_> = serde_json::from_slice(line).map_err(|e| {
        format!(
            "malformed docker json-file line: {}",
            crate::event::log_entry::json_error(&e)
        )
    })?;
    let stream = match raw.stream {
        Some("stderr") => Stream::Stderr,
        _ => Stream::Stdout,
    };
    Ok(DockerLine {
        log: raw.log.into_owned(),
        stream,
        time: raw.time.unwrap_or_default(),
    })
}
