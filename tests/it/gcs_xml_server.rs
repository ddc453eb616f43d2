//! A small GCS XML API server for tests, on 127.0.0.1:0, plain threads and
//! std sockets (no async runtime, no HTTP library).
//!
//! No packaged emulator accepts object_store's writes: object_store writes
//! through GCS's XML API, and fake-gcs-server serves the JSON API. This
//! implements the XML API calls object_store's GCS client sends, following
//! Google's XML API reference:
//! - `PUT /BUCKET/KEY`: upload (PUT Object). `x-goog-if-generation-match: 0`
//!   makes it create-only: 412 Precondition Failed if the key exists.
//! - `POST /BUCKET/KEY?uploads`: start a multipart upload
//!   (`InitiateMultipartUploadResult` with an `UploadId`).
//! - `PUT /BUCKET/KEY?partNumber=N&uploadId=ID`: upload a part (ETag back).
//! - `POST /BUCKET/KEY?uploadId=ID` with `CompleteMultipartUpload`: assemble
//!   the parts in order (`CompleteMultipartUploadResult`).
//! - `DELETE /BUCKET/KEY?uploadId=ID`: abort; `DELETE /BUCKET/KEY`: delete.
//! - `GET`/`HEAD /BUCKET/KEY` (with `Range: bytes=A-B`): download with
//!   `ETag`, `Last-Modified`, `x-goog-generation`, `Content-Type`,
//!   `Content-Encoding`, `Cache-Control`.
//! - `GET /BUCKET?list-type=2&prefix=P[&delimiter=/][&start-after=K]`:
//!   `ListBucketResult`.
//!
//! Google's pages each behaviour follows (the XML API reference):
//! - create-only uploads and 412: "Request preconditions",
//!   <https://cloud.google.com/storage/docs/request-preconditions>
//!   (`x-goog-if-generation-match`: the request fails with 412
//!   Precondition Failed when the generation does not match; 0 matches
//!   only a missing object);
//! - PUT Object: <https://cloud.google.com/storage/docs/xml-api/put-object-upload>;
//! - multipart: initiate <https://cloud.google.com/storage/docs/xml-api/post-object-multipart>,
//!   upload a part (its response's ETag must be given when completing)
//!   <https://cloud.google.com/storage/docs/xml-api/put-object-multipart>,
//!   complete (parts listed by number and ETag, assembled in order; the
//!   object's ETag is not an MD5) <https://cloud.google.com/storage/docs/xml-api/post-object-complete>;
//! - listing: <https://cloud.google.com/storage/docs/xml-api/get-bucket-list>.
//!
//! Every request is logged (method, key, query, headers) so tests can
//! assert what was sent. `fail_next_puts(n)` answers the next n object PUTs
//! with 503, to exercise retries.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct StoredObject {
    pub body: Vec<u8>,
    /// Lower-case header name -> value, for the metadata headers kept.
    pub meta: BTreeMap<String, String>,
    pub generation: u64,
}

#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    pub bucket: String,
    pub key: String,
    pub query: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
}

#[derive(Default)]
struct Upload {
    bucket: String,
    key: String,
    meta: BTreeMap<String, String>,
    parts: BTreeMap<u32, Vec<u8>>,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<(String, String), StoredObject>,
    uploads: HashMap<String, Upload>,
    log: Vec<LoggedRequest>,
    generation: u64,
    fail_puts: u32,
}

pub struct XmlServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

/// Metadata headers stored with an object and sent back on GET.
const META: [&str; 3] = ["content-type", "content-encoding", "cache-control"];

impl XmlServer {
    pub fn start() -> XmlServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("bound");
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &st);
                });
            }
        });
        XmlServer { addr, state }
    }

    /// The base URL to give as `endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn object(&self, bucket: &str, key: &str) -> Option<StoredObject> {
        let s = self.state.lock().unwrap();
        s.objects
            .get(&(bucket.to_string(), key.to_string()))
            .cloned()
    }

    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let s = self.state.lock().unwrap();
        s.objects
            .keys()
            .filter(|(b, _)| b == bucket)
            .map(|(_, k)| k.clone())
            .collect()
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn fail_next_puts(&self, n: u32) {
        self.state.lock().unwrap().fail_puts = n;
    }

    /// Multipart uploads started but neither completed nor aborted.
    pub fn open_uploads(&self) -> usize {
        self.state.lock().unwrap().uploads.len()
    }
}

struct Request {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// HEAD: send Content-Length of the body but not the body.
    head: bool,
}

impl Response {
    fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            head: false,
        }
    }
    fn header(mut self, k: &str, v: impl Into<String>) -> Response {
        self.headers.push((k.to_string(), v.into()));
        self
    }
    fn xml(mut self, body: String) -> Response {
        self.headers.push((
            "Content-Type".into(),
            "application/xml; charset=UTF-8".into(),
        ));
        self.body = body.into_bytes();
        self
    }
    fn error(status: u16, code: &str, message: &str) -> Response {
        Response::new(status).xml(format!(
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        ))
    }
}

fn serve(conn: TcpStream, st: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut writer = conn;
    loop {
        let Some(req) = read_request(&mut reader)? else {
            return Ok(());
        };
        let resp = handle(req, st);
        write_response(&mut writer, resp)?;
    }
}

fn read_request(r: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let body = if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        body
    } else {
        let n: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; n];
        r.read_exact(&mut body)?;
        body
    };
    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
    let query = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k, true), decode(v, true))
        })
        .collect();
    Ok(Some(Request {
        method,
        path: path.to_string(),
        query,
        headers,
        body,
    }))
}

fn write_response(w: &mut TcpStream, r: Response) -> std::io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        400 => "Bad Request",
        404 => "Not Found",
        412 => "Precondition Failed",
        416 => "Range Not Satisfiable",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", r.status);
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", r.body.len()));
    w.write_all(head.as_bytes())?;
    if !r.head {
        w.write_all(&r.body)?;
    }
    w.flush()
}

/// Percent-decoding (and `+` as space in query strings).
fn decode(s: &str, plus: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' if plus => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn etag_of(body: &[u8]) -> String {
    // Any stable digest works for a test server: GCS gives simple uploads
    // an MD5 ETag and multipart objects one that is not an MD5
    // (post-object-complete); clients only compare ETags for equality.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("\"{h:016x}\"")
}

fn handle(req: Request, st: &Mutex<State>) -> Response {
    let path = req.path.trim_start_matches('/');
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) => (decode(b, false), decode(k, false)),
        None => (decode(path, false), String::new()),
    };
    let mut s = st.lock().unwrap();
    s.log.push(LoggedRequest {
        method: req.method.clone(),
        bucket: bucket.clone(),
        key: key.clone(),
        query: req.query.clone(),
        headers: req.headers.clone(),
    });
    let q = &req.query;
    match (req.method.as_str(), key.is_empty()) {
        ("GET", true) => list(&s, &bucket, q),
        ("PUT", false) if q.contains_key("uploadId") => {
            let id = &q["uploadId"];
            let n: u32 = q
                .get("partNumber")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            match s.uploads.get_mut(id) {
                Some(u) if n >= 1 => {
                    let etag = etag_of(&req.body);
                    u.parts.insert(n, req.body);
                    Response::new(200).header("ETag", etag)
                }
                Some(_) => Response::error(400, "InvalidArgument", "partNumber must be 1 or more"),
                None => Response::error(404, "NoSuchUpload", "no such upload"),
            }
        }
        ("PUT", false) => {
            if s.fail_puts > 0 {
                s.fail_puts -= 1;
                return Response::error(503, "ServiceUnavailable", "try again");
            }
            let k = (bucket.clone(), key.clone());
            // "Request preconditions": generation-match 0 means "only if no
            // live object has this name"; otherwise 412.
            if req
                .headers
                .get("x-goog-if-generation-match")
                .is_some_and(|g| g == "0")
                && s.objects.contains_key(&k)
            {
                return Response::error(
                    412,
                    "PreconditionFailed",
                    "At least one of the pre-conditions you specified did not hold.",
                );
            }
            s.generation += 1;
            let generation = s.generation;
            let meta = META
                .iter()
                .filter_map(|h| req.headers.get(*h).map(|v| (h.to_string(), v.clone())))
                .collect();
            let etag = etag_of(&req.body);
            s.objects.insert(
                k,
                StoredObject {
                    body: req.body,
                    meta,
                    generation,
                },
            );
            Response::new(200)
                .header("ETag", etag)
                .header("x-goog-generation", generation.to_string())
        }
        ("POST", false) if q.contains_key("uploads") => {
            s.generation += 1;
            let id = format!("upload-{}", s.generation);
            let meta = META
                .iter()
                .filter_map(|h| req.headers.get(*h).map(|v| (h.to_string(), v.clone())))
                .collect();
            s.uploads.insert(
                id.clone(),
                Upload {
                    bucket: bucket.clone(),
                    key: key.clone(),
                    meta,
                    parts: BTreeMap::new(),
                },
            );
            Response::new(200).xml(format!(
                "<?xml version='1.0' encoding='UTF-8'?><InitiateMultipartUploadResult><Bucket>{}</Bucket><Key>{}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>",
                xml_escape(&bucket),
                xml_escape(&key)
            ))
        }
        ("POST", false) if q.contains_key("uploadId") => {
            let id = q["uploadId"].clone();
            let Some(u) = s.uploads.remove(&id) else {
                return Response::error(404, "NoSuchUpload", "no such upload");
            };
            // The request lists each part's number and the ETag its upload
            // returned, in ascending order (post-object-complete); a part
            // that was not uploaded, or listed with another ETag, refuses
            // the request.
            let text = String::from_utf8_lossy(&req.body).into_owned();
            let mut body = Vec::new();
            let mut last = 0;
            for part in text.split("<Part>").skip(1) {
                let num: u32 = between(part, "<PartNumber>", "</PartNumber>")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                let etag = between(part, "<ETag>", "</ETag>").unwrap_or_default();
                let Some(data) = u.parts.get(&num) else {
                    return Response::error(400, "InvalidPart", "a listed part was not uploaded");
                };
                if num <= last || etag.replace("&quot;", "\"") != etag_of(data) {
                    return Response::error(400, "InvalidPart", "part order or ETag mismatch");
                }
                last = num;
                body.extend_from_slice(data);
            }
            s.generation += 1;
            let generation = s.generation;
            let etag = etag_of(&body);
            s.objects.insert(
                (u.bucket.clone(), u.key.clone()),
                StoredObject {
                    body,
                    meta: u.meta,
                    generation,
                },
            );
            Response::new(200)
                .header("x-goog-generation", generation.to_string())
                .xml(format!(
                    "<?xml version='1.0' encoding='UTF-8'?><CompleteMultipartUploadResult><Location>/{b}/{k}</Location><Bucket>{b}</Bucket><Key>{k}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
                    xml_escape(&etag),
                    b = xml_escape(&u.bucket),
                    k = xml_escape(&u.key)
                ))
        }
        ("DELETE", false) if q.contains_key("uploadId") => {
            s.uploads.remove(&q["uploadId"]);
            Response::new(204)
        }
        ("DELETE", false) => match s.objects.remove(&(bucket, key)) {
            Some(_) => Response::new(204),
            None => Response::error(404, "NoSuchKey", "The specified key does not exist."),
        },
        ("GET" | "HEAD", false) => {
            let head = req.method == "HEAD";
            let Some(o) = s.objects.get(&(bucket, key)) else {
                let mut r = Response::error(404, "NoSuchKey", "The specified key does not exist.");
                r.head = head;
                return r;
            };
            let mut r = Response::new(200)
                .header("ETag", etag_of(&o.body))
                .header("Last-Modified", "Sun, 30 Nov 2025 12:00:00 GMT")
                .header("x-goog-generation", o.generation.to_string());
            for (k, v) in &o.meta {
                r = r.header(k, v.clone());
            }
            let len = o.body.len();
            let range = req
                .headers
                .get("range")
                .and_then(|v| v.strip_prefix("bytes="))
                .and_then(|v| v.split_once('-'))
                .map(|(a, b)| {
                    let a: usize = a.parse().unwrap_or(0);
                    let b: usize = b.parse().unwrap_or(len.saturating_sub(1));
                    (a, b.min(len.saturating_sub(1)))
                });
            match range {
                Some((a, b)) if a >= len || a > b => Response::error(
                    416,
                    "InvalidRange",
                    "The requested range cannot be satisfied.",
                ),
                Some((a, b)) => {
                    r.status = 206;
                    r = r.header("Content-Range", format!("bytes {a}-{b}/{len}"));
                    r.body = o.body[a..=b].to_vec();
                    r.head = head;
                    r
                }
                None => {
                    r.body = o.body.clone();
                    r.head = head;
                    r
                }
            }
        }
        _ => Response::error(
            400,
            "NotImplemented",
            "this test server does not implement that call",
        ),
    }
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> Option<&'a str> {
    let i = s.find(a)? + a.len();
    let j = s[i..].find(b)? + i;
    Some(&s[i..j])
}

fn list(s: &State, bucket: &str, q: &BTreeMap<String, String>) -> Response {
    let prefix = q.get("prefix").cloned().unwrap_or_default();
    let delimiter = q.get("delimiter").cloned().filter(|d| !d.is_empty());
    let after = q.get("start-after").cloned();
    let mut contents = String::new();
    let mut prefixes: Vec<String> = Vec::new();
    for ((b, k), o) in &s.objects {
        if b != bucket || !k.starts_with(&prefix) || after.as_ref().is_some_and(|a| k <= a) {
            continue;
        }
        if let Some(d) = &delimiter {
            if let Some(i) = k[prefix.len()..].find(d.as_str()) {
                let p = k[..prefix.len() + i + d.len()].to_string();
                if !prefixes.contains(&p) {
                    prefixes.push(p);
                }
                continue;
            }
        }
        contents.push_str(&format!(
            "<Contents><Key>{}</Key><Generation>{}</Generation><LastModified>2025-11-30T12:00:00.000Z</LastModified><ETag>{}</ETag><Size>{}</Size></Contents>",
            xml_escape(k),
            o.generation,
            xml_escape(&etag_of(&o.body)),
            o.body.len()
        ));
    }
    let common: String = prefixes
        .iter()
        .map(|p| {
            format!(
                "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
                xml_escape(p)
            )
        })
        .collect();
    Response::new(200).xml(format!(
        "<?xml version='1.0' encoding='UTF-8'?><ListBucketResult xmlns='http://doc.s3.amazonaws.com/2006-03-01'><Name>{}</Name><Prefix>{}</Prefix><IsTruncated>false</IsTruncated>{contents}{common}</ListBucketResult>",
        xml_escape(bucket),
        xml_escape(&prefix)
    ))
}

/// A one-shot HTTP/1.1 request (for seeding fake-gcs-server through its
/// JSON API). Returns the status and body.
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut conn = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut r = BufReader::new(conn);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let code: u16 = status
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut len = None;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((h, ""));
        if k.eq_ignore_ascii_case("content-length") {
            len = v.trim().parse::<usize>().ok();
        }
        if k.eq_ignore_ascii_case("transfer-encoding") && v.trim().eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let mut out = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = len {
        out.resize(n, 0);
        r.read_exact(&mut out).unwrap();
    } else {
        r.read_to_end(&mut out).unwrap();
    }
    (code, out)
}
