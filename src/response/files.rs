//! Files a run hands back (PROTOCOL.md §5.1): collected from the sandbox's `attach` requests while the run goes,
//! then turned into the result's content (images as MCP image content, other files as embedded resources),
//! its `files` list and a note in its summary.
//!
//! Everything here comes from the sandbox, so nothing is believed but the bytes: a name is checked before it
//! is shown anywhere, an image is an image only when its bytes say so, and every limit is the host's.

use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use indicatif::HumanBytes;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use rmcp::model::{ContentBlock, ResourceContents};

use crate::config::Config;
use crate::sandbox::protocol::{Attach, AttachLimits, Attached};

pub use mcp_bridge_plugin_sdk::FileInfo;

/// The most files one result carries.
pub const MAX_FILES: usize = 16;
/// The most files one result lists (attached or left out); the rest are only counted.
const MAX_LISTED: usize = 64;
/// The longest name, in bytes.
const MAX_NAME_BYTES: usize = 255;
/// The deepest name, in path components.
const MAX_NAME_DEPTH: usize = 16;
/// Bytes of a text looked at for an `<svg` root element.
const SVG_SNIFF_BYTES: usize = 4096;

/// One file of the result: what the result lists, and its bytes when it is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its entry in the result's `files`.
    pub info: FileInfo,
    /// Its bytes; `None` for a file a limit left out.
    pub data: Option<Vec<u8>>,
}

/// The files of one run (one call of a session), as the sandbox sends them.
pub struct AttachedFiles {
    max_file: u64,
    max_total: u64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    files: Vec<Attachment>,
    /// Bytes of the attached files.
    total: u64,
    /// Files left out and not listed either (past [`MAX_LISTED`]).
    unlisted: u64,
}

impl AttachedFiles {
    /// An empty collection with the limits of `config`.
    pub fn new(config: &Config) -> Self {
        Self::with_limits(config.max_attachment_bytes, config.max_attachments_bytes)
    }

    /// The limits, as the runtime is told them.
    pub fn limits(&self) -> AttachLimits {
        AttachLimits {
            max_file: self.max_file,
            max_total: self.max_total,
            max_files: MAX_FILES,
        }
    }

    /// An empty collection: at most `max_file` bytes per file and `max_total` in all.
    pub fn with_limits(max_file: u64, max_total: u64) -> Self {
        AttachedFiles {
            max_file,
            max_total,
            state: Mutex::new(State::default()),
        }
    }

    /// Takes one `attach` request: the file goes into the result, or is listed with why it was left out. An
    /// unusable name or `data` that is not base64 is an error, and nothing is kept.
    pub fn attach(&self, request: Attach) -> Result<Attached, String> {
        let name = checked_name(&request.name)?;
        let data = match &request.data {
            Some(text) => Some(
                BASE64
                    .decode(text)
                    .map_err(|e| format!("attach {name:?}: 'data' is not base64 ({e})"))?,
            ),
            None => None,
        };
        let size = match (&data, request.size) {
            (Some(bytes), _) => bytes.len() as u64,
            (None, Some(size)) => size,
            (None, None) => {
                return Err(format!(
                    "attach {name:?}: send the file's bytes as 'data', or its 'size' when it is too large to send"
                ));
            }
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // A name attached again replaces the earlier file.
        if let Some(index) = state.files.iter().position(|f| f.info.name == name) {
            let earlier = state.files.remove(index);
            if earlier.data.is_some() {
                state.total -= earlier.info.bytes;
            }
        }
        let attached_count = state.files.iter().filter(|f| f.data.is_some()).count();
        let refusal = if size > self.max_file {
            Some(format!(
                "{} is over the per-file limit of {} (MCP_BRIDGE_MAX_ATTACHMENT)",
                HumanBytes(size),
                HumanBytes(self.max_file)
            ))
        } else if state.total + size > self.max_total {
            Some(format!(
                "the run's files would pass {} in all (MCP_BRIDGE_MAX_ATTACHMENTS)",
                HumanBytes(self.max_total)
            ))
        } else if attached_count >= MAX_FILES {
            Some(format!("a result carries at most {MAX_FILES} files"))
        } else if data.is_none() {
            // The runtime sends only the size of a file one of the limits above leaves out.
            Some(format!("{} sent without its bytes", HumanBytes(size)))
        } else {
            None
        };
        let bytes = data.as_deref().unwrap_or_default();
        let mime_type = data.as_ref().map(|_| media_type(&name, bytes).to_string());
        let reply = Attached {
            attached: refusal.is_none(),
            name: name.clone(),
            mime_type: mime_type.clone().filter(|_| refusal.is_none()),
            reason: refusal.clone(),
        };
        if refusal.is_none() {
            state.total += size;
        } else if state.files.len() >= MAX_LISTED {
            state.unlisted += 1;
            return Ok(reply);
        }
        state.files.push(Attachment {
            info: FileInfo {
                name,
                mime_type: mime_type.filter(|_| refusal.is_none()),
                bytes: size,
                skipped: refusal.clone(),
            },
            data: data.filter(|_| refusal.is_none()),
        });
        Ok(reply)
    }

    /// The files kept so far, in the order they came, and how many more were left out unlisted.
    pub fn take(&self) -> (Vec<Attachment>, u64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let unlisted = std::mem::take(&mut state.unlisted);
        state.total = 0;
        (std::mem::take(&mut state.files), unlisted)
    }
}

/// `name` if the result can show it: a relative path of at most [`MAX_NAME_BYTES`] bytes, without control
/// characters or empty, `.` and `..` components; the error says what is wrong.
pub fn checked_name(name: &str) -> Result<String, String> {
    let shown: String = name.chars().take(100).collect();
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.len() > MAX_NAME_BYTES {
        Some("is longer than 255 bytes")
    } else if name.chars().any(char::is_control) {
        Some("has control characters")
    } else if name.starts_with('/') {
        Some("is absolute (name it relative to /workspace/out)")
    } else if name
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        Some("has an empty, '.' or '..' component")
    } else if name.split('/').count() > MAX_NAME_DEPTH {
        Some("has more than 16 components")
    } else {
        None
    };
    match problem {
        None => Ok(name.to_string()),
        Some(problem) => Err(format!("attach: the name {shown:?} {problem}")),
    }
}

/// The media type of a file: an image type only when the bytes are that image, otherwise one from the name
/// (text or binary alike: the result says what the name suggests, and carries the bytes as they are).
pub fn media_type(name: &str, bytes: &[u8]) -> &'static str {
    if let Some(kind) = infer::get(bytes)
        && kind.matcher_type() == infer::MatcherType::Image
        && matches!(
            kind.mime_type(),
            "image/png" | "image/jpeg" | "image/gif" | "image/webp"
        )
    {
        return kind.mime_type();
    }
    if is_svg(bytes) {
        return "image/svg+xml";
    }
    let by_name = mime_guess::from_path(name)
        .first_raw()
        .filter(|mime| !mime.starts_with("image/"));
    match by_name {
        Some(mime) => mime,
        None if !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok() => "text/plain",
        None => "application/octet-stream",
    }
}

/// Whether `bytes` are an SVG document: UTF-8 text whose first element (after an XML declaration, comments and a
/// doctype) is `<svg`.
fn is_svg(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(SVG_SNIFF_BYTES)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // The sniffed head may end inside a character.
        Err(error) if error.error_len().is_none() => {
            std::str::from_utf8(&head[..error.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        if rest.starts_with("<svg") {
            return true;
        }
        let skipped = if rest.starts_with("<?") {
            rest.find("?>").map(|end| end + 2)
        } else if rest.starts_with("<!--") {
            rest.find("-->").map(|end| end + 3)
        } else if rest.starts_with("<!") {
            rest.find('>').map(|end| end + 1)
        } else {
            None
        };
        match skipped {
            Some(end) => rest = rest[end..].trim_start(),
            None => return false,
        }
    }
}

/// Whether a media type is text that can go back as a text resource.
fn is_text(mime: &str) -> bool {
    mime.starts_with("text/")
        || mime.ends_with("+json")
        || mime.ends_with("+xml")
        || matches!(
            mime,
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/toml"
                | "application/yaml"
                | "application/x-yaml"
                | "application/sql"
        )
}

/// Characters escaped in a name within a resource URI: controls, space and what URIs reserve, but not `/`.
const URI_PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The MCP content of the attached files, in order: images as image content, everything else as an embedded
/// resource named `mcp-bridge://runs/<run>/<name>` (text when it is UTF-8 text, else a base64 blob).
pub fn content(run_id: &str, files: &[Attachment]) -> Vec<ContentBlock> {
    files
        .iter()
        .filter_map(|file| {
            let data = file.data.as_ref()?;
            let mime = file
                .info
                .mime_type
                .as_deref()
                .unwrap_or("application/octet-stream");
            if mime.starts_with("image/") {
                return Some(ContentBlock::image(BASE64.encode(data), mime));
            }
            let uri = format!(
                "mcp-bridge://runs/{run_id}/{}",
                utf8_percent_encode(&file.info.name, URI_PATH)
            );
            let resource = match std::str::from_utf8(data) {
                Ok(text) if is_text(mime) => ResourceContents::text(text, uri),
                _ => ResourceContents::blob(BASE64.encode(data), uri),
            };
            Some(ContentBlock::resource(resource.with_mime_type(mime)))
        })
        .collect()
}

/// What the summary says about the files, e.g. `attached: plot.png (image/png, 12.30 KiB) — not attached:
/// big.bin: 5.00 MiB is over …`; `None` when there were none.
pub fn note(files: &[Attachment], unlisted: u64) -> Option<String> {
    let attached: Vec<String> = files
        .iter()
        .filter(|f| f.data.is_some())
        .map(|f| {
            format!(
                "{} ({}, {})",
                f.info.name,
                f.info
                    .mime_type
                    .as_deref()
                    .unwrap_or("application/octet-stream"),
                HumanBytes(f.info.bytes)
            )
        })
        .collect();
    let left_out: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let reason = f.info.skipped.as_deref()?;
            Some(format!("{}: {reason}", f.info.name))
        })
        .collect();
    let mut parts = Vec::new();
    if !attached.is_empty() {
        parts.push(format!("attached: {}", attached.join(", ")));
    }
    if !left_out.is_empty() || unlisted > 0 {
        let mut part = format!("not attached: {}", left_out.join("; "));
        if unlisted > 0 {
            if !left_out.is_empty() {
                part.push_str("; ");
            }
            part.push_str(&format!("and {unlisted} more"));
        }
        parts.push(part);
    }
    (!parts.is_empty()).then(|| parts.join(" — "))
}

#[cfg(test)]
mod tests;
