//! How the bridge reaches an upstream server, with what it sends bounded at the transport.
//!
//! - stdio: [`spawn_child`] starts the server as rmcp's `TokioChildProcess` would (its own process group,
//!   killed when dropped, the graceful shutdown sequence), but reads its stdout through [`BoundedLines`], so a
//!   reply larger than `MCP_BRIDGE_MAX_TOOL_RESULT` fails exactly the request it answers with an error that
//!   [`too_large_limit`] recognises, without ever being held in memory, and the connection stays usable.
//! - streamable HTTP: [`http_config`] sets rmcp's own limits to the same value; see its docs for what that
//!   does and does not bound.
//! - stderr: [`stderr::keep_tail`] reads it with bounded lines into a short tail for the host's log.

mod bounded;
mod scan;
pub(crate) mod stderr;

use std::io;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use process_wrap::tokio::{ChildWrapper, CommandWrap};
use rmcp::model::ErrorData;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
};
use rmcp::transport::{StreamableHttpClientTransport, Transport};
use rmcp::{RoleClient, ServiceError};
use serde_json::{Value, json};
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};

use bounded::{BoundedLines, RMCP_LINE_SLACK};

/// The JSON-RPC error code of the error that replaces an oversized reply (implementation-defined range).
pub(crate) const TOO_LARGE_CODE: i32 = -32_090;

/// The key in that error's `data` holding this process's token, so a server cannot pass its own error off
/// as ours.
const TOO_LARGE_MARKER: &str = "mcp-bridge/replyTooLarge";

/// How long each step of the graceful shutdown waits for the server to exit (as rmcp's child transport).
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// A random token, fixed for the life of the process.
fn marker_token() -> u64 {
    static TOKEN: OnceLock<u64> = OnceLock::new();
    *TOKEN.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0)
}

/// The line (newline included) that replaces a reply larger than `limit`: a JSON-RPC error for request `id`.
pub(crate) fn too_large_response(id: Value, limit: usize) -> Vec<u8> {
    let message = json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": TOO_LARGE_CODE,
            "message": format!(
                "the reply was larger than MCP_BRIDGE_MAX_TOOL_RESULT ({limit} bytes) and was dropped"
            ),
            "data": {TOO_LARGE_MARKER: marker_token(), "limit": limit},
        },
    });
    let mut line = message.to_string().into_bytes();
    line.push(b'\n');
    line
}

/// The limit named by an error made by [`too_large_response`] in this process; `None` for any other error.
pub(crate) fn too_large_limit(error: &ErrorData) -> Option<usize> {
    let data = error.data.as_ref()?;
    let ours = error.code.0 == TOO_LARGE_CODE
        && data.get(TOO_LARGE_MARKER).and_then(Value::as_u64) == Some(marker_token());
    ours.then(|| data.get("limit")?.as_u64()?.try_into().ok())
        .flatten()
}

/// A stdio server: its process and the JSON-RPC lines on its stdin and (bounded) stdout.
pub(crate) struct ChildTransport {
    child: ChildGuard,
    transport: AsyncRwTransport<RoleClient, BoundedLines<ChildStdout>, ChildStdin>,
}

/// Kills the server's process (group) when dropped, unless the shutdown sequence already ended it.
struct ChildGuard {
    inner: Option<Box<dyn ChildWrapper>>,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let Some(mut child) = self.inner.take() else {
            return;
        };
        // `kill` also reaps it (no zombie); it needs the runtime, which is gone only at process exit.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(error) = Box::into_pin(child.kill()).await {
                        tracing::warn!("cannot kill an upstream server: {error}");
                    }
                });
            }
            Err(_) => {
                let _ = child.start_kill();
            }
        }
    }
}

/// Starts `command` (already wrapped in its process group and kill-on-drop) with piped stdio. Its stdout
/// carries lines of at most `limit` bytes (see [`BoundedLines`]); the stderr handle is returned for
/// [`stderr::keep_tail`].
pub(crate) fn spawn_child(
    mut command: CommandWrap,
    limit: usize,
    server: Arc<str>,
) -> io::Result<(ChildTransport, Option<ChildStderr>)> {
    command
        .command_mut()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn()?;
    let stdin = child.inner_mut().stdin().take();
    let stdout = child.inner_mut().stdout().take();
    let stderr = child.inner_mut().stderr().take();
    let guard = ChildGuard { inner: Some(child) };
    let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
        return Err(io::Error::other(
            "the child's stdin or stdout is not a pipe",
        ));
    };
    let reader = BoundedLines::new(stdout, limit, server);
    let transport = AsyncRwTransport::new(reader, stdin)
        .with_max_line_length(limit.saturating_add(RMCP_LINE_SLACK));
    Ok((
        ChildTransport {
            child: guard,
            transport,
        },
        stderr,
    ))
}

impl ChildTransport {
    /// The MCP stdio shutdown sequence: close the server's stdin and wait; then SIGTERM (to its process
    /// group) and wait; then kill. If this is cancelled part-way, dropping the transport still kills it.
    async fn graceful_shutdown(&mut self) -> io::Result<()> {
        let Some(child) = self.child.inner.as_mut() else {
            return Ok(());
        };
        self.transport.close().await?;
        if wait_for_exit(child).await?.is_some() {
            self.child.inner = None;
            return Ok(());
        }
        match child.signal(libc::SIGTERM) {
            Ok(()) => {
                if wait_for_exit(child).await?.is_some() {
                    self.child.inner = None;
                    return Ok(());
                }
            }
            Err(error) => tracing::warn!("cannot send SIGTERM to an upstream server: {error}"),
        }
        Box::into_pin(child.kill()).await?;
        self.child.inner = None;
        Ok(())
    }
}

/// Waits up to [`SHUTDOWN_WAIT`] for the child to exit; `None` if it is still running.
async fn wait_for_exit(
    child: &mut Box<dyn ChildWrapper>,
) -> io::Result<Option<std::process::ExitStatus>> {
    match tokio::time::timeout(SHUTDOWN_WAIT, child.wait()).await {
        Ok(status) => status.map(Some),
        Err(_) => Ok(None),
    }
}

impl Transport<RoleClient> for ChildTransport {
    type Error = io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.transport.send(item)
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        self.transport.receive()
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.graceful_shutdown()
    }
}

/// The streamable HTTP client's settings for `url`, with rmcp's size limits set to `limit`
/// (`MCP_BRIDGE_MAX_TOOL_RESULT`).
///
/// What that bounds, and how it shows:
/// - A JSON response body (`application/json`) larger than `limit` is refused by rmcp while it is read,
///   before parsing; that request fails with `TooLarge` ([`http_too_large`]) and the session stays usable.
/// - A server-sent event larger than `limit` is never buffered whole: rmcp stops reading at the limit and
///   ends that event stream, and the session stays usable. The request whose reply was due on that stream
///   fails, but not as `TooLarge`: rmcp reports only that the stream closed (as `TransportClosed`), not why
///   (it logs the reason), so the client reports "the event stream carrying its reply ended before the
///   reply", naming the limit as a likely cause. An oversized event on the standalone GET stream ends that
///   stream, so later server notifications are not received.
/// - A JSON-RPC error body is bounded by the same `limit`; a non-JSON error body is read only up to rmcp's
///   64 KiB diagnostic prefix.
///
/// Not bounded by `limit`: the total length of one response stream (any number of events each within the
/// limit, such as progress notifications, is parsed and handled one at a time, never accumulated), response
/// headers (reqwest and hyper apply their own limits), and time (a server that sends slowly or never
/// finishes is bounded by the caller's timeout, not here).
pub(crate) fn http_config(url: &str, limit: usize) -> StreamableHttpClientTransportConfig {
    StreamableHttpClientTransportConfig::with_uri(url)
        .max_sse_event_size(limit)
        .max_json_response_size(limit)
}

/// The limit a streamable HTTP request failed on, when its reply body was over [`http_config`]'s limit.
pub(crate) fn http_too_large(error: &ServiceError) -> Option<usize> {
    /// Walks the error chain for the transport's own error type, `StreamableHttpError<C::Error>`, with `C`
    /// taken from the constructor (so the HTTP client crate need not be named here).
    fn body_limit<C: StreamableHttpClient + 'static>(
        _constructor: fn(StreamableHttpClientTransportConfig) -> StreamableHttpClientTransport<C>,
        error: &(dyn std::error::Error + 'static),
    ) -> Option<usize> {
        let mut current = Some(error);
        while let Some(error) = current {
            if let Some(StreamableHttpError::<C::Error>::ResponseBodyTooLarge { max_size }) =
                error.downcast_ref::<StreamableHttpError<C::Error>>()
            {
                return Some(*max_size);
            }
            current = error.source();
        }
        None
    }
    let ServiceError::TransportSend(error) = error else {
        return None;
    };
    body_limit(StreamableHttpClientTransport::from_config, &*error.error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// `sh -c script` started as the client starts servers: own process group, killed on drop.
    fn spawn_sh(script: &str) -> ChildTransport {
        let mut command = tokio::process::Command::new("sh");
        command.arg("-c").arg(script);
        let mut wrapped = CommandWrap::from(command);
        wrapped.wrap(process_wrap::tokio::ProcessGroup::leader());
        wrapped.wrap(process_wrap::tokio::KillOnDrop);
        let (transport, stderr) = spawn_child(wrapped, 1024, Arc::from("test")).unwrap();
        // Read as the client does: with its stderr closed, `sh` dies of SIGPIPE reporting "Terminated".
        let stderr = stderr.expect("stderr is piped");
        tokio::spawn(stderr::keep_tail(
            stderr,
            stderr::Tail::default(),
            Arc::from("test"),
        ));
        transport
    }

    /// Whether process `pid` still exists (and is not a zombie).
    fn alive(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    }

    async fn read_when_written(path: &std::path::Path) -> String {
        for _ in 0..100 {
            if let Ok(text) = std::fs::read_to_string(path)
                && text.ends_with('\n')
            {
                return text.trim().to_string();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{} was never written", path.display());
    }

    #[tokio::test]
    async fn shutdown_sends_sigterm_to_the_whole_group_when_closing_stdin_is_not_enough() {
        let dir = tempfile::tempdir().unwrap();
        let (marker, pidfile) = (dir.path().join("term"), dir.path().join("pid"));
        // Ignores stdin closing; a child in its group would outlive it if only the leader were signalled.
        let script = format!(
            "sleep 300 & echo $! > '{}'; trap 'echo term > \"{}\"; exit 0' TERM; while :; do sleep 0.1; done",
            pidfile.display(),
            marker.display()
        );
        let mut transport = spawn_sh(&script);
        let grandchild = read_when_written(&pidfile).await;
        assert!(alive(&grandchild));
        let started = Instant::now();
        transport.graceful_shutdown().await.unwrap();
        assert!(marker.exists(), "no SIGTERM before the kill");
        assert!(
            started.elapsed() < 2 * SHUTDOWN_WAIT,
            "{:?}",
            started.elapsed()
        );
        for _ in 0..100 {
            if !alive(&grandchild) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the server's child {grandchild} outlived the shutdown");
    }

    #[tokio::test]
    async fn dropping_the_transport_kills_a_server_that_ignores_sigterm() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!(
            "echo $$ > '{}'; trap '' TERM; while :; do sleep 0.1; done",
            pidfile.display()
        );
        let transport = spawn_sh(&script);
        let pid = read_when_written(&pidfile).await;
        drop(transport);
        for _ in 0..100 {
            if !alive(&pid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("server {pid} survived its transport");
    }

    #[test]
    fn our_too_large_error_is_recognised_and_a_forged_one_is_not() {
        let line = too_large_response(json!(7), 1234);
        let message: Value = serde_json::from_slice(&line).unwrap();
        let error: ErrorData = serde_json::from_value(message["error"].clone()).unwrap();
        assert_eq!(too_large_limit(&error), Some(1234));
        assert!(
            error
                .message
                .contains("MCP_BRIDGE_MAX_TOOL_RESULT (1234 bytes)")
        );
        let forged = ErrorData::new(
            rmcp::model::ErrorCode(TOO_LARGE_CODE),
            "too large",
            Some(json!({TOO_LARGE_MARKER: 1, "limit": 5})),
        );
        assert_eq!(too_large_limit(&forged), None);
    }
}
