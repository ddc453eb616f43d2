//! Uploading one finished object: a single create-only PUT, or a multipart
//! upload for large objects, retried with exponential backoff.
//!
//! Objects are never overwritten. A single PUT is sent with
//! `PutMode::Create` (GCS: `x-goog-if-generation-match: 0`). object_store
//! cannot attach that precondition to a multipart upload, so before one the
//! key is checked with a HEAD; keys carry a fresh v4 UUID, so the check
//! only guards against a bug, never a race with another writer.
//!
//! A retried create that finds the key taken means an earlier attempt of
//! this same upload landed but its response was lost (the key's UUID is
//! ours alone): the object is finalized, so the upload counts as done.

use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, GetOptions, ObjectStore, PutMode, PutMultipartOptions, PutOptions,
    PutPayload,
};

use crate::backoff::Backoff;
use crate::gcs::store::Opened;

/// Upload settings (from the sink's config).
#[derive(Debug, Clone)]
pub struct UploadPlan {
    /// Objects at least this large (compressed) go up in parts.
    pub multipart_threshold: usize,
    /// Size of each part but the last (GCS wants at least 5 MiB).
    pub part_size: usize,
    /// Attempts per object before the sink gives up (at least 1).
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for UploadPlan {
    fn default() -> Self {
        UploadPlan {
            multipart_threshold: 32 * 1024 * 1024,
            part_size: 16 * 1024 * 1024,
            max_attempts: 8,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// One object ready to go.
#[derive(Debug, Clone)]
pub struct Object {
    pub key: String,
    pub body: Bytes,
    pub content_encoding: Option<&'static str>,
}

/// Why an upload failed for good. Names the key, never content.
#[derive(Debug, thiserror::Error)]
#[error("object {key}: {kind} after {attempts} attempt(s): {source}")]
pub struct UploadError {
    pub(crate) key: String,
    pub(crate) attempts: u32,
    pub kind: &'static str,
    pub(crate) source: object_store::Error,
}

/// The object's metadata as sent to GCS.
pub(crate) fn attributes(content_encoding: Option<&'static str>) -> Attributes {
    let mut a = Attributes::new();
    a.insert(Attribute::ContentType, "application/x-ndjson".into());
    if let Some(enc) = content_encoding {
        a.insert(Attribute::ContentEncoding, enc.into());
        // Without this GCS would serve gzip objects decompressed to clients
        // that do not send `Accept-Encoding: gzip` ("decompressive
        // transcoding"), with no Content-Length; readers want the bytes
        // as stored.
        a.insert(Attribute::CacheControl, "no-transform".into());
    }
    a
}

/// Uploads `obj`, retrying transient failures. Returns the attempts used.
pub async fn upload(target: &Opened, obj: &Object, plan: &UploadPlan) -> Result<u32, UploadError> {
    let path = Path::from(obj.key.as_str());
    let schedule = Backoff::new(plan.initial_backoff, plan.max_backoff);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let res = if obj.body.len() >= plan.multipart_threshold {
            put_multipart(target, &path, obj, plan).await
        } else {
            put_once(target, &path, obj).await
        };
        let err = match res {
            Ok(()) => return Ok(attempt),
            Err(object_store::Error::AlreadyExists { .. }) if attempt > 1 => {
                // See the module doc: our own earlier attempt landed.
                return Ok(attempt);
            }
            Err(e) => e,
        };
        let (retriable, kind) = classify(&err);
        if !retriable || attempt >= plan.max_attempts.max(1) {
            return Err(UploadError {
                key: obj.key.clone(),
                attempts: attempt,
                kind,
                source: err,
            });
        }
        tracing::warn!(key = %obj.key, attempt, error = %err, "archive upload failed; retrying");
        tokio::time::sleep(schedule.delay(attempt)).await;
    }
}

/// Which failures are worth another attempt.
fn classify(e: &object_store::Error) -> (bool, &'static str) {
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => (false, "bucket or path not found"),
        E::PermissionDenied { .. } => (false, "permission denied"),
        E::Unauthenticated { .. } => (false, "not authenticated"),
        E::AlreadyExists { .. } => (false, "key already exists"),
        E::InvalidPath { .. } | E::NotSupported { .. } | E::NotImplemented { .. } => {
            (false, "not supported")
        }
        _ => (true, "failed"),
    }
}

fn put_options(target: &Opened, obj: &Object) -> PutOptions {
    let mut o = PutOptions::from(PutMode::Create);
    if target.attributes {
        o.attributes = attributes(obj.content_encoding);
    }
    o
}

async fn put_once(target: &Opened, path: &Path, obj: &Object) -> object_store::Result<()> {
    target
        .store
        .put_opts(
            path,
            PutPayload::from(obj.body.clone()),
            put_options(target, obj),
        )
        .await
        .map(|_| ())
}

async fn put_multipart(
    target: &Opened,
    path: &Path,
    obj: &Object,
    plan: &UploadPlan,
) -> object_store::Result<()> {
    // `get_opts` rather than `ObjectStoreExt::head`: this future must be
    // `Send` (it runs as one of the sink's in-flight uploads).
    match target
        .store
        .get_opts(path, GetOptions::new().with_head(true))
        .await
    {
        Ok(_) => {
            return Err(object_store::Error::AlreadyExists {
                path: path.to_string(),
                source: "the key exists; objects are never overwritten".into(),
            })
        }
        Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let mut opts = PutMultipartOptions::default();
    if target.attributes {
        opts.attributes = attributes(obj.content_encoding);
    }
    let mut up = target.store.put_multipart_opts(path, opts).await?;
    let part_size = plan.part_size.max(1);
    // Parts go up a few at a time: enough to hide latency, bounded memory
    // (the body is already in memory; parts are cheap slices of it).
    let mut parts = Vec::new();
    for chunk in (0..obj.body.len()).step_by(part_size) {
        let end = (chunk + part_size).min(obj.body.len());
        parts.push(up.put_part(PutPayload::from(obj.body.slice(chunk..end))));
    }
    use futures::StreamExt;
    let results: Vec<object_store::Result<()>> =
        futures::stream::iter(parts).buffered(4).collect().await;
    if let Some(e) = results.into_iter().find_map(Result::err) {
        // Parts left behind would be billed until GCS expires them.
        if let Err(abort) = up.abort().await {
            tracing::warn!(key = %obj.key, error = %abort, "cannot abort a failed multipart upload");
        }
        return Err(e);
    }
    up.complete().await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;
    use object_store::ObjectStoreExt;
    use std::sync::Arc;

    fn mem() -> Opened {
        Opened {
            store: Arc::new(InMemory::new()),
            attributes: true,
        }
    }

    fn plan(threshold: usize, part: usize) -> UploadPlan {
        UploadPlan {
            multipart_threshold: threshold,
            part_size: part,
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        }
    }

    #[tokio::test]
    async fn single_put_sets_metadata_and_never_overwrites() {
        let t = mem();
        let obj = Object {
            key: "logs/a.ndjson.gz".into(),
            body: Bytes::from_static(b"abc"),
            content_encoding: Some("gzip"),
        };
        assert_eq!(upload(&t, &obj, &plan(1 << 20, 1 << 20)).await.unwrap(), 1);
        let got = t.store.get(&Path::from("logs/a.ndjson.gz")).await.unwrap();
        assert_eq!(
            got.attributes
                .get(&Attribute::ContentType)
                .unwrap()
                .as_ref(),
            "application/x-ndjson"
        );
        assert_eq!(
            got.attributes
                .get(&Attribute::ContentEncoding)
                .unwrap()
                .as_ref(),
            "gzip"
        );
        assert_eq!(got.bytes().await.unwrap().as_ref(), b"abc");
        // A first-attempt collision is an error, not an overwrite.
        let other = Object {
            body: Bytes::from_static(b"zzz"),
            ..obj.clone()
        };
        let e = upload(&t, &other, &plan(1 << 20, 1 << 20))
            .await
            .unwrap_err();
        assert_eq!(e.kind, "key already exists");
        let got = t.store.get(&Path::from("logs/a.ndjson.gz")).await.unwrap();
        assert_eq!(got.bytes().await.unwrap().as_ref(), b"abc");
    }

    #[tokio::test]
    async fn multipart_for_large_objects() {
        let t = mem();
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let obj = Object {
            key: "logs/big".into(),
            body: Bytes::from(body.clone()),
            content_encoding: None,
        };
        upload(&t, &obj, &plan(1000, 3000)).await.unwrap();
        let got = t.store.get(&Path::from("logs/big")).await.unwrap();
        assert_eq!(got.bytes().await.unwrap().as_ref(), &body[..]);
        // The HEAD guard refuses to replace it.
        let e = upload(&t, &obj, &plan(1000, 3000)).await.unwrap_err();
        assert_eq!(e.kind, "key already exists");
    }
}
