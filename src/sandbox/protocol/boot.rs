//! The two length-prefixed frames on the container's stdin (PROTOCOL.md §2): the boot frame, the same for every
//! container, carrying the runtime's modules; then the run frame, carrying the one run the container will ever
//! serve. A warm container gets its boot frame when it starts and its run frame when a run takes it; a cold one
//! gets both at once. A 12-digit length header lets the runtime read a body of any size with exact reads.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// Length of the zero-padded decimal header before the boot frame's JSON.
pub const BOOT_HEADER_DIGITS: usize = 12;

/// The boot frame's JSON body. Borrowed: the sources and the code are written out, never copied.
#[derive(Debug, Clone, Serialize)]
pub struct BootFrame<'a> {
    /// The protocol version ([`super::VERSION`]).
    pub v: u32,
    /// The modules the bootstrap's in-memory importer serves, by dotted name.
    pub modules: BTreeMap<&'a str, BootModule<'a>>,
    /// The module whose `main(boot)` the bootstrap calls.
    pub entry: &'a str,
    /// The largest frame the runtime may send, its newline included.
    pub max_frame: usize,
    /// `runtime.capability_summary()`'s text.
    pub manual: &'a str,
}

/// One module of the runtime.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BootModule<'a> {
    /// Its Python source.
    pub source: &'a str,
    /// Whether it is a package (may have submodules).
    pub package: bool,
    /// Its entry in the image's bytecode cache: the hex sha256 of its name, a NUL byte and its source
    /// (`scripts/runtime_bytecode.py` builds the cache).
    pub cache: &'a str,
}

/// The run frame: what the runtime is to run, sent once it is warm (after its `ready` frame) or, on a cold
/// start, right after the boot frame.
#[derive(Debug, Clone, Serialize)]
pub struct RunFrame<'a> {
    /// The run's id.
    pub id: &'a str,
    /// The code.
    pub code: &'a str,
    /// The servers the run asked for.
    pub servers: &'a [String],
    /// The run's timeout in whole seconds.
    pub timeout: u64,
    /// This run's servers and their tools, and every server the user trusts (`{"loaded": […],
    /// "discovered": […]}`), as the host's upstream layer describes them: server and tool data.
    pub server_info: &'a Value,
    /// The session this call belongs to: the container serves the session's later calls too (§2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<&'a str>,
    /// The host's limits on the files the run hands back (§5.1).
    pub attach: AttachLimits,
    /// Bytes of the inputs' tar that follow the frame (§2.2); left out when there is none.
    #[serde(skip_serializing_if = "is_zero")]
    pub inputs: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The host's limits on the files one run hands back (PROTOCOL.md §5.1), told to the runtime so that it sends
/// only the size of a file the host would leave out; the host applies them whatever the runtime sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AttachLimits {
    /// Bytes of one file (`MCP_BRIDGE_MAX_ATTACHMENT`).
    pub max_file: u64,
    /// Bytes of all the run's files (`MCP_BRIDGE_MAX_ATTACHMENTS`).
    pub max_total: u64,
    /// Files in one result.
    pub max_files: usize,
}

impl BootFrame<'_> {
    /// The header and the body, as written to the container's stdin.
    pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        with_header(self)
    }
}

impl RunFrame<'_> {
    /// The header and the body, as written to the container's stdin.
    pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        with_header(self)
    }

    /// A session's later call: `{"t":"run",…}` on one line, on the stream that carries the rpc replies.
    pub fn encode_line(&self) -> Result<Vec<u8>, serde_json::Error> {
        #[derive(Serialize)]
        struct Line<'a, 'b> {
            t: &'static str,
            #[serde(flatten)]
            run: &'b RunFrame<'a>,
        }
        let mut line = serde_json::to_vec(&Line {
            t: "run",
            run: self,
        })?;
        line.push(b'\n');
        Ok(line)
    }
}

/// `value` as JSON behind its 12-digit length header.
fn with_header(value: &impl Serialize) -> Result<Vec<u8>, serde_json::Error> {
    let body = serde_json::to_vec(value)?;
    let header = format!("{:0width$}", body.len(), width = BOOT_HEADER_DIGITS);
    if header.len() != BOOT_HEADER_DIGITS {
        return Err(serde::ser::Error::custom(format!(
            "a frame of {} bytes does not fit its {BOOT_HEADER_DIGITS}-digit header",
            body.len()
        )));
    }
    let mut frame = header.into_bytes();
    frame.extend_from_slice(&body);
    Ok(frame)
}
