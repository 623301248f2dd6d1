//! Outbound HTTP for plugins, through `wasi:http/outgoing-handler`. The host sends a request only to a host
//! the operator granted (`http:outbound:<host[:port]>`); any other is refused before a connection is made and
//! comes back here as `Error::Denied`.

use super::Error;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

/// A response: status and body text.
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// The parts of an `http://` or `https://` URL a request needs.
fn split_url(url: &str) -> Result<(Scheme, &str, &str), Error> {
    let (scheme, rest) = if let Some(r) = url.strip_prefix("http://") {
        (Scheme::Http, r)
    } else if let Some(r) = url.strip_prefix("https://") {
        (Scheme::Https, r)
    } else {
        return Err(Error::Invalid(format!(
            "{url}: only http:// and https:// URLs"
        )));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(Error::Invalid(format!("{url}: no host")));
    }
    Ok((scheme, authority, path))
}

fn failed(url: &str, e: ErrorCode) -> Error {
    match e {
        ErrorCode::HttpRequestDenied => Error::Denied(format!("{url}: not a granted destination")),
        other => Error::Internal(format!("{url}: {other:?}")),
    }
}

/// POSTs `body` as JSON to `url` and waits for the whole response.
pub fn post_json(url: &str, body: &str) -> Result<Response, Error> {
    let (scheme, authority, path) = split_url(url)?;
    let headers = Fields::from_list(&[
        ("content-type".to_string(), b"application/json".to_vec()),
        (
            "content-length".to_string(),
            body.len().to_string().into_bytes(),
        ),
    ])
    .map_err(|e| Error::Internal(format!("headers: {e:?}")))?;
    let request = OutgoingRequest::new(headers);
    let bad = |what: &str| Error::Invalid(format!("{url}: bad {what}"));
    request
        .set_method(&Method::Post)
        .map_err(|_| bad("method"))?;
    request
        .set_scheme(Some(&scheme))
        .map_err(|_| bad("scheme"))?;
    request
        .set_authority(Some(authority))
        .map_err(|_| bad("authority"))?;
    request
        .set_path_with_query(Some(path))
        .map_err(|_| bad("path"))?;
    let outgoing = request
        .body()
        .map_err(|_| Error::Internal("request body taken twice".into()))?;
    let future = outgoing_handler::handle(request, None).map_err(|e| failed(url, e))?;
    // If the host refuses the request (an ungranted destination), the body stream closes: the response
    // future then says why, which is the error worth reporting.
    let mut write_error = None;
    {
        let stream = outgoing
            .write()
            .map_err(|_| Error::Internal("request body stream taken twice".into()))?;
        // A blocking write takes at most 4096 bytes at a time.
        for chunk in body.as_bytes().chunks(4096) {
            if let Err(e) = stream.blocking_write_and_flush(chunk) {
                write_error = Some(format!("{url}: writing the body: {e:?}"));
                break;
            }
        }
    }
    if write_error.is_none() {
        OutgoingBody::finish(outgoing, None).map_err(|e| failed(url, e))?;
    }
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(e))) => return Err(failed(url, e)),
        Some(Err(())) => return Err(Error::Internal("response taken twice".into())),
        None => return Err(Error::Internal("no response after waiting".into())),
    };
    if let Some(e) = write_error {
        return Err(Error::Internal(e));
    }
    let status = response.status();
    let incoming = response
        .consume()
        .map_err(|_| Error::Internal("response body taken twice".into()))?;
    let mut bytes = Vec::new();
    {
        let stream = incoming
            .stream()
            .map_err(|_| Error::Internal("response stream taken twice".into()))?;
        // Read until the stream closes; bounded so that a server cannot fill the plugin's memory.
        while bytes.len() < (1 << 20) {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(_) => break,
            }
        }
    }
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}
