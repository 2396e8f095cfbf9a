//! The host ⇄ sandbox protocol (`PROTOCOL.md`) as types. Every message either side sends is one of the types
//! here, so a message the protocol does not have cannot be built, and one that arrives is either decoded into
//! them or refused with a reason that names what was wrong.
//!
//! - host → container: the boot frame ([`BootFrame`]), the run frame ([`RunFrame`]), then an [`RpcResult`] for
//!   every request;
//! - container → host: [`Frame`]s on stdout (`ready`, `started`, `out`, `rpc`, `done`) and PID 1's [`StderrRecord`] on stderr;
//! - inside an `rpc` frame: a [`Request`], one variant per method ([`Method`]) with its typed parameters, and
//!   its result, a [`Response`].
//!
//! The wire format is serde's: frames are tagged by `t`, requests by `method` with their `params` beside it.
//! Sizes are bounded before anything is decoded ([`MAX_FRAME`], checked by the frame reader) and while it is
//! ([`MAX_DEPTH`]).
//!
//! This module and the frame reader use serde, serde_json, strum and thiserror and nothing else of the crate:
//! the fuzz targets (`fuzz/`) compile them on their own.

mod boot;
mod frame;
mod params;
mod reply;
mod request;
#[cfg(test)]
mod tests;

pub use boot::{AttachLimits, BOOT_HEADER_DIGITS, BootFrame, BootModule, RunFrame};
pub use frame::{Frame, RpcFrame, StderrRecord, Stream};
pub use params::{RequestError, RequestProblem};
pub use reply::{
    Attached, ErrorKind, ListedMemory, MemoryInfo, MemoryPage, MemoryValue, Response, RpcError,
    RpcResult, SavedToolInfo, SavedToolSource,
};
pub use request::{
    Attach, CallTool, Detail, MemoryKey, MemoryList, MemorySave, Method, NamedTool, NoParams,
    QueryToolDocs, Request, SearchToolDocs, ServerParam, ToolName, ToolSave,
};

/// The protocol version the boot frame carries as `v`.
pub const VERSION: u32 = 5;

/// The largest frame a container may send, its newline included (and so the largest request). Output is
/// chunked by the runtime, so this bounds requests, not output.
pub const MAX_FRAME: usize = 4 << 20;

/// How many levels of objects and arrays a frame's JSON may nest, the frame object itself counted: what
/// serde_json's recursion limit (128), under which every frame is parsed, lets through. A deeper frame is
/// malformed, so no handler ever recurses deeper than this into a value from the sandbox.
pub const MAX_DEPTH: usize = 127;

/// At most this many characters of a name the sandbox sent are repeated in an error message.
const MAX_ECHO_CHARS: usize = 100;

/// `text` cut to [`MAX_ECHO_CHARS`] characters: hostile names are echoed, never at any length.
fn echo(text: &str) -> String {
    text.chars().take(MAX_ECHO_CHARS).collect()
}
