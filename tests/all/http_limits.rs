//! HTTP server limits against a real server on loopback: header-read timeout, keep-alive idle timeout,
//! connection cap, per-request timeout. Bounds are generous; nothing asserts how fast a limit acts, only that
//! it acts before a bound many times the configured value.

use crate::support::{Db, Server, start_server, testapp};
use objectos_host::http::HttpConfig;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far longer than any limit configured here: a connection still open then was not closed by the limit.
const BOUND: Duration = Duration::from_secs(20);

async fn connect(s: &Server) -> TcpStream {
    let addr = s.base.trim_start_matches("http://");
    TcpStream::connect(addr).await.expect("connect")
}

/// Reads until the server closes the connection; what arrived.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                // A reset is a close too.
                Err(_) => return,
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server kept the connection open past {BOUND:?}"
    );
    got
}

/// Reads one whole response (head and a content-length body) from a connection left open.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let done = tokio::time::timeout(BOUND, async {
        loop {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before a whole response");
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if got.len() >= end + 4 + length {
                    return text;
                }
            }
        }
    })
    .await;
    done.expect("a response in time")
}

fn limits(f: impl FnOnce(&mut HttpConfig)) -> HttpConfig {
    let mut c = HttpConfig::default();
    f(&mut c);
    c
}

#[tokio::test]
async fn slow_headers_are_closed_after_the_header_timeout() {
    let http = limits(|c| {
        c.header_timeout = Duration::from_secs(1);
        c.idle_timeout = Duration::from_secs(600);
    });
    let s = start_server(Db::Sqlite, "", testapp(), http).await;
    let mut slow = Vec::new();
    for _ in 0..5 {
        let mut c = connect(&s).await;
        c.write_all(b"GET /api/v1/hea").await.expect("write");
        slow.push(c);
    }
    for c in &mut slow {
        let got = read_until_closed(c).await;
        assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    }
    // The server still serves.
    let r = s.call("GET", "/api/v1/health", json!(null), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let http = limits(|c| {
        c.header_timeout = Duration::from_secs(600);
        c.idle_timeout = Duration::from_secs(1);
    });
    let s = start_server(Db::Sqlite, "", testapp(), http).await;
    // One answered request, then nothing: the connection is closed once idle.
    let mut c = connect(&s).await;
    c.write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let head = read_response(&mut c).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let rest = read_until_closed(&mut c).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    // A connection that never sends a byte is closed too.
    let mut silent = connect(&s).await;
    assert!(read_until_closed(&mut silent).await.is_empty());
}

#[tokio::test]
async fn connections_past_the_cap_are_refused_with_503() {
    let http = limits(|c| c.max_connections = 2);
    let s = start_server(Db::Sqlite, "", testapp(), http).await;
    // Two connections that each completed a request hold both slots (keep-alive).
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = connect(&s).await;
        c.write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("write");
        let head = read_response(&mut c).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        held.push(c);
    }
    let mut third = connect(&s).await;
    let _ = third
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await;
    let answer = String::from_utf8_lossy(&read_until_closed(&mut third).await).to_string();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("TOO_MANY_CONNECTIONS"), "{answer}");
    // Closing one frees its slot: a later connection is served (the server notices the close on its own time,
    // so a few refusals may come first).
    drop(held.pop());
    let mut served = false;
    for _ in 0..200 {
        let mut c = connect(&s).await;
        let _ = c
            .write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await;
        let answer = String::from_utf8_lossy(&read_until_closed(&mut c).await).to_string();
        if answer.starts_with("HTTP/1.1 200") {
            served = true;
            break;
        }
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "a freed slot was never reused");
}

/// A request whose body never completes: the handler waits for it past the request timeout.
#[tokio::test]
async fn a_request_past_the_request_timeout_is_answered_503() {
    let http = limits(|c| {
        c.request_timeout = Duration::from_secs(1);
        c.idle_timeout = Duration::from_secs(600);
    });
    let s = start_server(Db::Sqlite, "", testapp(), http).await;
    let mut c = connect(&s).await;
    c.write_all(
        b"POST /api/v1/auth/sign-in/email HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"email\"",
    )
    .await
    .expect("write");
    let answer = read_response(&mut c).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
    // The server goes on serving.
    let r = s.call("GET", "/api/v1/health", json!(null), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}
