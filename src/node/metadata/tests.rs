use std::collections::HashMap;

use super::*;

fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| m.get(k).cloned()
}

fn server(host: &str, port: u16) -> Endpoint {
    Endpoint::Server {
        host: host.into(),
        port,
    }
}

#[test]
fn laptop_never_asks() {
    // No pod, no override: nothing is contacted.
    assert!(matches!(
        Endpoint::from_lookup(lookup(&[])),
        Ok(Endpoint::Disabled(_))
    ));
}

#[test]
fn pod_asks_the_real_server() {
    let e = Endpoint::from_lookup(lookup(&[(ENV_KUBERNETES, "10.0.0.1")])).unwrap();
    assert_eq!(e, server(DEFAULT_HOST, 80));
}

#[test]
fn explicit_override_wins_and_none_disables() {
    let pod = (ENV_KUBERNETES, "10.0.0.1");
    let cases = [
        ("http://127.0.0.1:8123", Some(server("127.0.0.1", 8123))),
        ("http://127.0.0.1:8123/", Some(server("127.0.0.1", 8123))),
        ("127.0.0.1:8123", Some(server("127.0.0.1", 8123))),
        ("HTTP://localhost", Some(server("localhost", 80))),
        ("http://[::1]:9", Some(server("::1", 9))),
        ("none", None),
        ("NONE", None),
        ("off", None),
    ];
    for (v, want) in cases {
        let got = Endpoint::from_lookup(lookup(&[
            pod,
            (ENV_METADATA_URL, v),
            (ENV_GCE_METADATA_HOST, "10.1.1.1"),
        ]))
        .unwrap();
        match want {
            Some(w) => assert_eq!(got, w, "{v}"),
            None => assert!(matches!(got, Endpoint::Disabled(_)), "{v}: {got:?}"),
        }
    }
}

#[test]
fn gce_metadata_host_is_honoured() {
    let e = Endpoint::from_lookup(lookup(&[(ENV_GCE_METADATA_HOST, "127.0.0.1:9999")])).unwrap();
    assert_eq!(e, server("127.0.0.1", 9999));
}

#[test]
fn malformed_overrides_are_refused() {
    for v in [
        "https://metadata.google.internal",
        "ftp://x",
        "http://",
        "http://h:notaport",
        "http://h:0",
        "http://h/computeMetadata",
        "http://user@h",
        "[::1",
    ] {
        let got = Endpoint::from_lookup(lookup(&[(ENV_METADATA_URL, v)]));
        assert_eq!(
            got,
            Err(EndpointError::Invalid {
                var: ENV_METADATA_URL
            }),
            "{v}"
        );
    }
}

#[test]
fn timeout_override() {
    assert_eq!(timeout_from_lookup(lookup(&[])), DEFAULT_TIMEOUT);
    assert_eq!(
        timeout_from_lookup(lookup(&[(ENV_METADATA_TIMEOUT_MS, "250")])),
        Duration::from_millis(250)
    );
    assert_eq!(
        timeout_from_lookup(lookup(&[(ENV_METADATA_TIMEOUT_MS, "x")])),
        DEFAULT_TIMEOUT
    );
}

#[test]
fn parses_content_length_answers() {
    let raw = b"HTTP/1.1 200 OK\r\nMetadata-Flavor: Google\r\nContent-Type: application/text\r\nContent-Length: 12\r\n\r\nproj-123\r\n\r\nignored";
    let r = parse_response(raw).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.google);
    assert_eq!(r.body, b"proj-123\r\n\r\n");
    assert_eq!(complete_len(raw), Some(raw.len() - b"ignored".len()));
    assert_eq!(
        complete_len(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"),
        None
    );
}

#[test]
fn parses_chunked_answers() {
    let raw = b"HTTP/1.1 200 OK\r\nmetadata-flavor: Google\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nus-c\r\n7\r\nentral1\r\n0\r\n\r\n";
    let r = parse_response(raw).unwrap();
    assert_eq!(r.body, b"us-central1");
    assert!(r.google);
}

#[test]
fn refuses_broken_answers() {
    assert!(matches!(
        parse_response(b"HTTP/1.1 200 OK\r\n"),
        Err(FetchError::Malformed(_))
    ));
    assert!(matches!(
        parse_response(b"SSH-2.0-x\r\n\r\n"),
        Err(FetchError::Malformed(_))
    ));
    assert!(matches!(
        parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
        Err(FetchError::Malformed(_))
    ));
    assert!(matches!(
        parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        Err(FetchError::Malformed(_))
    ));
    let r = parse_response(b"HTTP/1.0 200 OK\r\n\r\nbody").unwrap();
    assert!(
        !r.google,
        "a server that does not say Metadata-Flavor: Google is not trusted"
    );
    assert_eq!(r.body, b"body");
}
