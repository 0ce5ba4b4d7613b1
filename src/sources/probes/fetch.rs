//! Asking one member: the definition's requests over HTTP(S), ZooKeeper's
//! four-letter words over TCP, or SQL over PostgreSQL's protocol
//! ([`super::postgres`]), each reply bounded in size, put
//! together into the one JSON document the definition's expressions read.
//! Credentials and the client certificate go only to hosts the operator
//! allowed (the hosts named in `--probe` URLs, `--allow-net` networks).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::access::Access;
use super::assemble::reply_value;
use super::definition::{Auth, Compiled, Request, Transport};
use super::fourletter;
use super::postgres::{self, Sessions};
use crate::escape::escape;

/// The most read of any one reply; a bigger one is refused, naming this.
pub const MAX_REPLY: usize = 4 << 20;

/// HTTP clients with and without the operator's client certificate.
#[derive(Debug, Clone)]
pub struct Clients {
    trusted: reqwest::Client,
    anonymous: reqwest::Client,
    /// Login tokens by endpoint (etcd's are per member).
    tokens: Arc<Mutex<HashMap<String, String>>>,
    /// PostgreSQL connections kept between polls.
    postgres: Sessions,
}

impl Clients {
    /// `target` says how PostgreSQL members are connected to (unused by
    /// other transports).
    pub fn new(access: &Access, target: postgres::Target) -> Result<Clients, String> {
        let build = |tls: rustls::ClientConfig| {
            reqwest::Client::builder()
                .use_preconfigured_tls(tls)
                .user_agent(concat!("clusterdeck/", env!("CARGO_PKG_VERSION")))
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| format!("cannot set up HTTP: {e}"))
        };
        Ok(Clients {
            trusted: build(access.tls_config(true)?)?,
            anonymous: build(access.tls_config(false)?)?,
            tokens: Arc::default(),
            postgres: Sessions::new(target),
        })
    }

    /// The client that presents no certificate.
    pub fn anonymous(&self) -> &reqwest::Client {
        &self.anonymous
    }
}

/// Where and how to ask one member.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub def: &'a Compiled,
    pub access: &'a Access,
    pub clients: &'a Clients,
    /// `http` or `https` (unused for four-letter words).
    pub scheme: &'a str,
    pub endpoint: &'a str,
}

/// Every request of the definition, as one document, within `timeout`.
pub async fn document(ask: &Ask<'_>, timeout: Duration) -> Result<Value, String> {
    match tokio::time::timeout(timeout, gather(ask)).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "no answer within {}",
            humantime::format_duration(timeout)
        )),
    }
}

async fn gather(ask: &Ask<'_>) -> Result<Value, String> {
    let mut doc = Map::new();
    doc.insert("endpoint".into(), json!(ask.endpoint));
    for (name, request) in &ask.def.def.requests {
        let reply = match ask.def.def.transport {
            Transport::Http => http(ask, request).await,
            Transport::Fourletter => four_letters(ask.endpoint, &request.path).await,
            Transport::Postgres => {
                let sql = request.sql.as_deref().unwrap_or_default();
                postgres::query(&ask.clients.postgres, ask.access, ask.endpoint, sql).await
            }
        };
        match reply {
            Ok(value) => doc.insert(name.clone(), value),
            Err(_) if request.optional => doc.insert(name.clone(), Value::Null),
            Err(e) => return Err(e),
        };
    }
    Ok(Value::Object(doc))
}

fn host_of(endpoint: &str) -> &str {
    endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h)
}

async fn http(ask: &Ask<'_>, request: &Request) -> Result<Value, String> {
    let trusted = ask.access.allows(host_of(ask.endpoint));
    let client = if trusted {
        &ask.clients.trusted
    } else {
        &ask.clients.anonymous
    };
    let mut builder = build(client, ask, request, request.body.clone())?;
    if trusted {
        builder = authorise(ask, builder).await?;
    }
    let (status, body) = send(builder).await?;
    if status.as_u16() == 401 {
        ask.clients
            .tokens
            .lock()
            .expect("tokens")
            .remove(ask.endpoint);
    }
    if !status.is_success() {
        // On one line: a pretty-printed error body (Dgraph's) would
        // otherwise show as a run of `\n` escapes.
        let head: String = String::from_utf8_lossy(&body).chars().take(1000).collect();
        let text: String = head
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(200)
            .collect();
        let hint = if trusted || ask.access.user.is_none() {
            ""
        } else {
            " (credentials withheld: the host is not named in --probe and not in --allow-net)"
        };
        return Err(format!(
            "HTTP {} from {} {}: {}{hint}",
            status.as_u16(),
            request.method,
            request.path,
            escape(text.trim())
        ));
    }
    Ok(reply_value(&body))
}

fn build(
    client: &reqwest::Client,
    ask: &Ask<'_>,
    request: &Request,
    body: Option<String>,
) -> Result<reqwest::RequestBuilder, String> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| format!("bad method `{}`", escape(&request.method)))?;
    let url = format!("{}://{}{}", ask.scheme, ask.endpoint, request.path);
    let mut builder = client.request(method, url);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = body {
        builder = builder
            .header("content-type", "application/json")
            .body(body);
    }
    Ok(builder)
}

async fn authorise(
    ask: &Ask<'_>,
    builder: reqwest::RequestBuilder,
) -> Result<reqwest::RequestBuilder, String> {
    let (Some(user), Some(password)) = (&ask.access.user, &ask.access.password) else {
        return Ok(builder);
    };
    Ok(match &ask.def.def.auth {
        None | Some(Auth::Basic) => builder.basic_auth(user, Some(password)),
        Some(Auth::Header { header }) => builder.header(header, password.as_str()),
        Some(Auth::Login {
            request, header, ..
        }) => builder.header(header, token(ask, request, user, password).await?),
    })
}

/// A login token for this endpoint, asked for once and kept until refused.
async fn token(
    ask: &Ask<'_>,
    request: &Request,
    user: &str,
    password: &str,
) -> Result<String, String> {
    if let Some(token) = ask.clients.tokens.lock().expect("tokens").get(ask.endpoint) {
        return Ok(token.clone());
    }
    let (body_expr, token_expr) = ask.def.login.as_ref().ok_or("login without expressions")?;
    let input = json!({"user": user, "password": password});
    let body = body_expr.first(&input)?.unwrap_or(Value::Null).to_string();
    let builder = build(&ask.clients.trusted, ask, request, Some(body))?;
    let (status, reply) = send(builder).await?;
    if !status.is_success() {
        // Never the reply: it may repeat what was sent.
        return Err(format!(
            "login as `{}` refused (HTTP {})",
            escape(user),
            status.as_u16()
        ));
    }
    let token = token_expr
        .first(&reply_value(&reply))?
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or("the login reply has no token")?;
    ask.clients
        .tokens
        .lock()
        .expect("tokens")
        .insert(ask.endpoint.to_string(), token.clone());
    Ok(token)
}

/// Sends and reads the reply, refusing one over [`MAX_REPLY`].
pub async fn send(
    builder: reqwest::RequestBuilder,
) -> Result<(reqwest::StatusCode, Vec<u8>), String> {
    let mut response = builder.send().await.map_err(describe)?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        if body.len() + chunk.len() > MAX_REPLY {
            return Err(format!("reply over {} MiB, refused", MAX_REPLY >> 20));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// A transport error in words, with its cause (a refused connection, a
/// certificate signed by an unknown CA).
fn describe(error: reqwest::Error) -> String {
    let mut text = if error.is_connect() {
        "cannot connect".to_string()
    } else if error.is_timeout() {
        "timed out".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(&error);
    let mut last = String::new();
    while let Some(cause) = source {
        last = cause.to_string();
        source = cause.source();
    }
    if !last.is_empty() {
        text.push_str(": ");
        text.push_str(&escape(&last));
    }
    text
}

/// One four-letter word over TCP, the reply turned into JSON.
async fn four_letters(endpoint: &str, word: &str) -> Result<Value, String> {
    let mut stream = tokio::net::TcpStream::connect(endpoint)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    stream
        .write_all(word.as_bytes())
        .await
        .map_err(|e| format!("cannot send `{word}`: {e}"))?;
    let mut reply = Vec::new();
    (&mut stream)
        .take(MAX_REPLY as u64 + 1)
        .read_to_end(&mut reply)
        .await
        .map_err(|e| format!("`{word}` reply lost: {e}"))?;
    if reply.len() > MAX_REPLY {
        return Err(format!(
            "`{word}` reply over {} MiB, refused",
            MAX_REPLY >> 20
        ));
    }
    let text = String::from_utf8_lossy(&reply);
    if text.contains("is not executed because it is not in the whitelist") {
        return Err(format!(
            "`{word}` is not allowed by the server (add it to 4lw.commands.whitelist)"
        ));
    }
    Ok(fourletter::to_json(word, &text, host_of(endpoint)))
}
