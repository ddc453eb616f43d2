//! Google Cloud Storage as both ends of the archive use it: where objects
//! live ([`store`]: `gs://BUCKET/PREFIX` or a local folder, and how to
//! reach it) and how their keys encode event time ([`key`]). The `gcs`
//! sink writes with these and the `archive` source reads with them, so
//! neither imports the other's internals.

pub mod key;
pub mod store;
