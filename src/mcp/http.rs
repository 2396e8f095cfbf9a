//! `bridge serve --http ADDR`: MCP over Streamable HTTP, for shared or remote use.
//!
//! rmcp's `StreamableHttpService` speaks the protocol: a session per `initialize` for clients of revisions up to
//! 2025-11-25, and every 2026-07-28 request on its own (sessionless). Around it this module adds what a server
//! reachable over a network needs:
//!
//! - **Bearer tokens** (`MCP_BRIDGE_HTTP_TOKEN`, or a file of them): a request without a valid one gets 401 and
//!   runs nothing. The token is also who the client is ([`HttpClient`]): `run_python` sessions, pending
//!   approvals and MCP sessions belong to the client that opened them, and another token never reaches them.
//!   Without a token the server binds only to loopback, and everything on the machine is one client.
//! - **`Host` and `Origin` checks** against DNS rebinding: rmcp's, with loopback names, the bound address and
//!   `--allow-host` as hosts, and only `--allow-origin` origins (a browser page from anywhere else is refused).
//! - **`GET /healthz`**, without a token: `{"status":"ok",...}` for load balancers and scripts.
//! - **A cap on requests in flight per client** (`MCP_BRIDGE_HTTP_MAX_REQUESTS`): one client cannot take every
//!   slot; beyond it, 429 with the limit named.
//! - **Graceful shutdown**: on SIGTERM/SIGINT the MCP sessions end, their runs are cancelled and every container
//!   is removed ([`crate::bridge::Bridge::shutdown`], called by the caller).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::BodyExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::BridgeServer;
use crate::bridge::Bridge;

/// The header that carries a legacy client's MCP session.
pub const SESSION_HEADER: &str = "mcp-session-id";

/// Where the MCP endpoint is served.
pub const MCP_PATH: &str = "/mcp";

/// Shortest token accepted: a guessable token is no protection.
const MIN_TOKEN_LEN: usize = 16;

/// How long a session's owner is remembered after its last request: longer than rmcp keeps an idle session
/// (5 min) by far.
const SESSION_OWNER_TTL: Duration = Duration::from_secs(24 * 3600);

/// How long shutdown waits for open HTTP connections (SSE streams) to close before the containers go anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What `bridge serve --http` was given.
pub struct HttpOptions {
    /// The address to listen on.
    pub addr: SocketAddr,
    /// The tokens that let a client in; none means no token is asked for (loopback only).
    pub tokens: Tokens,
    /// Browser origins allowed besides none (`--allow-origin`), e.g. `http://localhost:3000`.
    pub allowed_origins: Vec<String>,
    /// Host names the server answers to besides loopback and the bound address (`--allow-host`).
    pub allowed_hosts: Vec<String>,
    /// Requests one client may have in flight.
    pub max_requests_per_client: usize,
}

/// Who an HTTP request comes from: a short digest of the token it presented (never the token itself), or
/// `local` when the server takes no token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpClient(Arc<str>);

impl HttpClient {
    /// The client's id, as it appears in logs and owns sessions.
    pub fn id(&self) -> &str {
        &self.0
    }
}

/// The accepted tokens, by their SHA-256: a request's token is hashed and looked up, so no comparison runs over
/// the secret itself.
#[derive(Default)]
pub struct Tokens {
    by_digest: HashMap<[u8; 32], HttpClient>,
}

impl Tokens {
    /// The token in `MCP_BRIDGE_HTTP_TOKEN` (`from_env`) and those in `file` (one per line; blank lines and lines
    /// starting with `#` are skipped).
    pub fn load(from_env: Option<&str>, file: Option<&Path>) -> Result<Self> {
        let mut tokens = Tokens::default();
        if let Some(token) = from_env {
            tokens.add(token.trim()).context("MCP_BRIDGE_HTTP_TOKEN")?;
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the token file {}", path.display()))?;
            let mut added = 0;
            for (number, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                tokens
                    .add(line)
                    .with_context(|| format!("{} line {}", path.display(), number + 1))?;
                added += 1;
            }
            if added == 0 {
                bail!("the token file {} holds no token", path.display());
            }
        }
        Ok(tokens)
    }

    fn add(&mut self, token: &str) -> Result<()> {
        if token.chars().count() < MIN_TOKEN_LEN {
            bail!(
                "a token must be at least {MIN_TOKEN_LEN} characters (e.g. `openssl rand -hex 32`)"
            );
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!("a token cannot contain spaces or control characters");
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let id = digest[..4]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>();
        self.by_digest
            .insert(digest, HttpClient(format!("token-{id}").into()));
        Ok(())
    }

    /// Whether any token is required.
    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }

    /// The client an `Authorization` header names, or why it is refused.
    fn identify(&self, authorization: Option<&HeaderValue>) -> Result<HttpClient, &'static str> {
        if self.is_empty() {
            return Ok(HttpClient("local".into()));
        }
        let Some(value) = authorization else {
            return Err("this server needs a bearer token: send `Authorization: Bearer <token>`");
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or("the Authorization header must be `Bearer <token>`")?;
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        self.by_digest
            .get(&digest)
            .cloned()
            .ok_or("the bearer token is not one this server accepts")
    }
}

/// The checks every MCP request passes before rmcp sees it.
struct Gate {
    tokens: Tokens,
    max_in_flight: usize,
    in_flight: Mutex<HashMap<HttpClient, Arc<Semaphore>>>,
    /// Which client opened each legacy MCP session: another client's requests never reach it.
    /// With the time of each session's last request.
    session_owners: Mutex<HashMap<String, (HttpClient, Instant)>>,
}

impl Gate {
    fn slots(&self, client: &HttpClient) -> Arc<Semaphore> {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        in_flight
            .entry(client.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(self.max_in_flight)))
            .clone()
    }

    fn owners(&self) -> std::sync::MutexGuard<'_, HashMap<String, (HttpClient, Instant)>> {
        self.session_owners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Refuses an address other machines can reach when no token is required: anyone there could run code.
pub fn check_exposure(addr: SocketAddr, tokens: &Tokens) -> Result<()> {
    if tokens.is_empty() && !addr.ip().is_loopback() {
        bail!(
            "refusing to serve {addr} without a token: anyone who can reach it could run code. Set \
             MCP_BRIDGE_HTTP_TOKEN or --token-file, or listen on a loopback address (127.0.0.1)"
        );
    }
    Ok(())
}

/// Serves MCP over HTTP on `options.addr` until `stop` is cancelled; the caller then shuts the bridge down.
pub async fn serve(
    bridge: Arc<Bridge>,
    options: HttpOptions,
    stop: CancellationToken,
) -> Result<()> {
    check_exposure(options.addr, &options.tokens)?;
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("listening on {}", options.addr))?;
    let local = listener.local_addr().context("the bound address")?;

    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).into();
    if !local.ip().is_unspecified() {
        hosts.push(local.ip().to_string());
    }
    hosts.extend(options.allowed_hosts.iter().cloned());
    hosts.sort();
    hosts.dedup();
    let sessions_end = stop.child_token();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts.clone())
        .with_allowed_origins(options.allowed_origins.clone())
        .enforce_origin_validation()
        .with_cancellation_token(sessions_end);
    let handler = BridgeServer::for_http(bridge.clone());
    let mcp = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let gate = Arc::new(Gate {
        tokens: options.tokens,
        max_in_flight: options.max_requests_per_client.max(1),
        in_flight: Mutex::default(),
        session_owners: Mutex::default(),
    });
    let tokens = if gate.tokens.is_empty() {
        "no token (loopback only)"
    } else {
        "bearer token required"
    };
    let app = Router::new()
        .route_service(MCP_PATH, mcp)
        .route_layer(middleware::from_fn_with_state(gate, admit))
        .route("/healthz", get(health));
    tracing::info!(
        "MCP over HTTP at http://{local}{MCP_PATH} ({tokens}; hosts {})",
        hosts.join(", ")
    );
    let served = axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
    let mut served = std::pin::pin!(served.into_future());
    tokio::select! {
        result = &mut served => return result.context("serving HTTP"),
        () = stop.cancelled() => {}
    }
    // Open SSE streams end with their sessions; a client that holds a connection open does not hold shutdown.
    match tokio::time::timeout(SHUTDOWN_GRACE, served).await {
        Ok(result) => result.context("serving HTTP"),
        Err(_) => {
            tracing::warn!("HTTP connections still open after {SHUTDOWN_GRACE:?}; closing anyway");
            Ok(())
        }
    }
}

async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({
        "status": "ok",
        "server": "mcp-bridge",
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// Token, session owner and per-client cap, in that order; the client's identity rides on the request for the
/// handler ([`BridgeServer`] reads it to scope sessions and approvals).
async fn admit(State(gate): State<Arc<Gate>>, mut request: Request, next: Next) -> Response {
    let client = match gate
        .tokens
        .identify(request.headers().get(header::AUTHORIZATION))
    {
        Ok(client) => client,
        Err(reason) => {
            tracing::info!("HTTP request refused: {reason}");
            let mut response = refusal(StatusCode::UNAUTHORIZED, reason);
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    };
    let session = request
        .headers()
        .get(SESSION_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    if let Some(session) = &session
        && let Some((owner, last_used)) = gate.owners().get_mut(session)
    {
        if *owner != client {
            // As rmcp answers an unknown session: another client's session id tells nothing.
            return refusal(StatusCode::NOT_FOUND, "no such MCP session");
        }
        // A session in use keeps its owner however long it lives.
        *last_used = Instant::now();
    }
    // Requests are POSTs; a GET is a client's standing stream for server messages, open for the session's
    // whole life, and is not work in flight.
    let permit = if request.method() == Method::POST {
        gate.slots(&client).try_acquire_owned().ok()
    } else {
        None
    };
    if request.method() == Method::POST && permit.is_none() {
        return refusal(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "this client already has {} requests in flight (MCP_BRIDGE_HTTP_MAX_REQUESTS); retry when one \
                 has finished",
                gate.max_in_flight
            ),
        );
    }
    let closing = request.method() == Method::DELETE;
    request.extensions_mut().insert(client.clone());
    let response = next.run(request).await;

    if let Some(opened) = response
        .headers()
        .get(SESSION_HEADER)
        .and_then(|value| value.to_str().ok())
    {
        let mut owners = gate.owners();
        owners.retain(|_, (_, since)| since.elapsed() < SESSION_OWNER_TTL);
        owners
            .entry(opened.to_string())
            .or_insert((client, Instant::now()));
    }
    if closing
        && response.status().is_success()
        && let Some(session) = session
    {
        gate.owners().remove(&session);
        // rmcp answers 202, which clients that expect a plain success (the official Python SDK takes only 200
        // and 204) report as a failed termination; the session is gone, so say so with nothing to add.
        if response.status() == StatusCode::ACCEPTED {
            return StatusCode::NO_CONTENT.into_response();
        }
    }
    // The slot is held until the response body (an SSE stream with the run's result) has been sent.
    let (parts, body) = response.into_parts();
    let body = body.map_frame(move |frame| {
        let _slot = &permit;
        frame
    });
    Response::from_parts(parts, Body::new(body))
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_identify_their_client_and_refuse_the_rest() {
        let tokens = Tokens::load(Some("correct-horse-battery-staple"), None).expect("a token");
        let good = HeaderValue::from_static("Bearer correct-horse-battery-staple");
        let client = tokens.identify(Some(&good)).expect("accepted");
        assert!(client.id().starts_with("token-"));
        assert!(!client.id().contains("horse"));
        for bad in [
            "Bearer wrong-token-wrong-token",
            "Basic Y29ycmVjdA==",
            "correct-horse-battery-staple",
        ] {
            assert!(
                tokens
                    .identify(Some(&HeaderValue::from_static(bad)))
                    .is_err(),
                "{bad}"
            );
        }
        assert!(tokens.identify(None).is_err());
    }

    #[test]
    fn short_or_spaced_tokens_are_refused_with_the_reason() {
        let short = Tokens::load(Some("abc"), None).err().expect("too short");
        assert!(format!("{short:#}").contains("at least 16"));
        let spaced = Tokens::load(Some("a token with spaces in it"), None)
            .err()
            .expect("spaces");
        assert!(format!("{spaced:#}").contains("spaces"));
    }

    #[test]
    fn without_tokens_everyone_is_the_local_client() {
        let tokens = Tokens::default();
        assert_eq!(tokens.identify(None).expect("open").id(), "local");
    }
}
