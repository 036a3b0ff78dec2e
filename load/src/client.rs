//! A bare HTTP/1.1 client over one TCP connection (hyper's low-level connection API): no pool,
//! no redirects, no retries — the load generator decides what happens on a failure.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::LoadError;
use crate::target::Endpoint;

/// The sending half of one keep-alive connection.
pub(crate) type Sender = SendRequest<Full<Bytes>>;

/// Opens a connection to `addr`; its reading half runs as a task until the sender is dropped or
/// the server closes it.
pub(crate) async fn connect(addr: SocketAddr) -> io::Result<Sender> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    tokio::spawn(async move {
        // Its error reaches the sender's next call; nothing to do with it here.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request on `sender` and reads the whole answer.
pub(crate) async fn exchange(
    sender: &mut Sender,
    request: Request<Full<Bytes>>,
) -> Result<(u16, Bytes), hyper::Error> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// A request with the headers every call carries.
pub(crate) fn request(
    method: Method,
    uri: Uri,
    host: &HeaderValue,
    authorization: Option<&HeaderValue>,
    body: Bytes,
) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(HOST, host.clone());
    if let Some(a) = authorization {
        headers.insert(AUTHORIZATION, a.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    request
}

/// `Authorization: Bearer <token>`, checked once.
pub(crate) fn bearer(token: &str) -> Result<HeaderValue, LoadError> {
    HeaderValue::from_str(&baoan_api::http::bearer_value(token))
        .map_err(|_| LoadError::BadSpec("a token must be printable ASCII".into()))
}

/// The `Host` header of an endpoint.
pub(crate) fn host_header(endpoint: &Endpoint) -> Result<HeaderValue, LoadError> {
    HeaderValue::from_str(&endpoint.authority).map_err(|_| LoadError::BadUrl {
        url: endpoint.url.clone(),
        problem: "the host is not a valid Host header".into(),
    })
}

/// One call on a connection of its own (set-up, `/metrics`), within `timeout`: the status and
/// body, or an error naming `what` was being done.
pub(crate) async fn one_shot(
    endpoint: &Endpoint,
    method: Method,
    path: &'static str,
    token: Option<&str>,
    body: Bytes,
    timeout: Duration,
    what: &str,
) -> Result<(u16, Bytes), LoadError> {
    let host = host_header(endpoint)?;
    let authorization = token.map(bearer).transpose()?;
    let call = async {
        let mut sender = connect(endpoint.addr)
            .await
            .map_err(|source| LoadError::Connect {
                addr: endpoint.addr,
                url: endpoint.url.clone(),
                source,
            })?;
        let request = request(
            method,
            Uri::from_static(path),
            &host,
            authorization.as_ref(),
            body,
        );
        exchange(&mut sender, request)
            .await
            .map_err(|e| LoadError::Http {
                what: what.to_string(),
                addr: endpoint.addr,
                message: e.to_string(),
            })
    };
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| LoadError::Http {
            what: what.to_string(),
            addr: endpoint.addr,
            message: format!("no answer within {} s", timeout.as_secs_f64()),
        })?
}
