//! What the container sends (PROTOCOL.md §1, §3): frames on its stdout, PID 1's exit record on its stderr.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::params::RequestError;
use super::request::Request;

/// Which of the code's output streams an `out` frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// fd 1 of the user code.
    Stdout,
    /// fd 2 of the user code.
    Stderr,
}

/// One frame from the container's stdout: the set is closed, and no frame has a field it does not declare.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase", deny_unknown_fields)]
pub enum Frame {
    /// `{"t":"ready"}`: the runtime has imported itself and waits for its run frame (a warm container).
    Ready,
    /// `{"t":"started"}`: the runtime has read its run frame; the code runs next. A container that ends before
    /// saying so never ran the code, so the run may go to another container.
    Started,
    /// `{"t":"out","s":…,"d":…}`: a chunk of user output.
    Out {
        /// The stream it was written to.
        s: Stream,
        /// The text (the runtime already replaced invalid UTF-8 with U+FFFD).
        d: String,
    },
    /// `{"t":"rpc","id":…,"method":…,"params":…}`: a request to the host.
    Rpc(RpcFrame),
    /// `{"t":"done","exit":…}`: the runtime's claim that all output has been sent (its exit value is a claim
    /// too; the host takes a single-use run's status from PID 1's record). In a session it ends one call.
    Done {
        /// 0, 1 for an uncaught exception, or the `SystemExit` code.
        exit: i64,
        /// A session's call: the code called `runtime.end_session()`, and the runtime exits next.
        #[serde(default)]
        end: bool,
    },
}

/// An `rpc` frame. A frame with a well-formed id but an unknown method or wrong parameters is still a frame:
/// its request is an error the host answers (the run goes on), not a protocol error.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "RawRpc")]
pub struct RpcFrame {
    /// Unique per run (the host refuses a reused one).
    pub id: u64,
    /// The request, or why it was refused.
    pub request: Result<Request, RequestError>,
}

/// An `rpc` frame's fields as they arrive.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRpc {
    id: u64,
    method: String,
    #[serde(default)]
    params: Value,
}

impl From<RawRpc> for RpcFrame {
    fn from(raw: RawRpc) -> Self {
        RpcFrame {
            id: raw.id,
            request: Request::parse(&raw.method, raw.params),
        }
    }
}

/// A line PID 1 writes on the container's stderr (PROTOCOL.md §1): the one thing from the container the host
/// trusts, since only PID 1 can write there once user code runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase", deny_unknown_fields)]
pub enum StderrRecord {
    /// `{"t":"exit","code":…}`: the runtime's process ended with this status (128 + n for signal n).
    Exit {
        /// The status.
        code: i64,
    },
}
