//! A reader in front of rmcp's line transport that bounds each line from an upstream server and turns an
//! oversized reply into an error for exactly the request it answers.
//!
//! rmcp's `AsyncRwTransport` caps a line too, but drops an oversized one silently, so the request waiting for
//! it would wait forever. [`BoundedLines`] passes lines up to the limit through unchanged, byte for byte. A line
//! that grows past the limit is cut: what was already passed on is ended with a NUL byte and a newline (NUL is
//! valid nowhere in JSON text, so rmcp fails to parse that fragment and ignores it, as it ignores any
//! unparsable line), and the rest of the line is read and thrown away as it arrives. All of it goes through an
//! [`IdScanner`]; when the line ends, a reply with a usable id is replaced by a JSON-RPC error response for
//! that id ([`super::too_large_response`]), which rmcp delivers to the waiting request. Anything else (a
//! request or notification from the server, garbage) is dropped with a warning.
//!
//! Memory: one fixed read buffer, the scanner's few bytes, and one short pending line; rmcp itself holds at
//! most the limit (plus the two cut bytes) of a line, so its own cap must be set a little above ours.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, ReadBuf};

use super::scan::{IdScanner, Scanned};

/// Bytes read from the server at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Ends the part of an oversized line rmcp has already seen, so that it cannot parse (see the module docs).
const CUT: &[u8] = b"\0\n";

/// How much longer than our limit rmcp's own line cap must be: the cut bytes, and room for the short error
/// line that replaces an oversized reply even when the limit is tiny.
pub(crate) const RMCP_LINE_SLACK: usize = 4096;

/// Bounds each `\n`-terminated line read from `inner` to `limit` bytes (see the module docs).
pub(crate) struct BoundedLines<R> {
    inner: R,
    limit: usize,
    /// The server's name, for logs.
    server: Arc<str>,
    buf: Box<[u8]>,
    /// The unread part of `buf`.
    start: usize,
    end: usize,
    /// Bytes of the current line passed on so far (its newline excluded).
    line_len: usize,
    /// The current line went over the limit: its rest is being thrown away.
    discarding: bool,
    /// Bytes of the current oversized line, for the log.
    oversized_len: u64,
    scanner: IdScanner,
    /// Bytes to hand out before reading on: the cut, or an error line.
    pending: Vec<u8>,
    pending_pos: usize,
}

impl<R> BoundedLines<R> {
    /// Wraps `inner`, allowing lines of at most `limit` bytes (without the newline).
    pub(crate) fn new(inner: R, limit: usize, server: Arc<str>) -> Self {
        BoundedLines {
            inner,
            limit,
            server,
            buf: vec![0; READ_CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
            line_len: 0,
            discarding: false,
            oversized_len: 0,
            scanner: IdScanner::default(),
            pending: Vec::new(),
            pending_pos: 0,
        }
    }

    /// The oversized line has ended: queue the error for the request it answered, or log that it was dropped.
    fn oversized_line_ended(&mut self) {
        let bytes = self.oversized_len;
        match self.scanner.finish() {
            Scanned::Response(id) => {
                tracing::warn!(
                    server = &*self.server,
                    %id,
                    bytes,
                    limit = self.limit,
                    "upstream reply larger than MCP_BRIDGE_MAX_TOOL_RESULT dropped; its request fails"
                );
                self.pending = super::too_large_response(id, self.limit);
            }
            Scanned::FromServer => tracing::warn!(
                server = &*self.server,
                bytes,
                limit = self.limit,
                "upstream request or notification larger than MCP_BRIDGE_MAX_TOOL_RESULT dropped"
            ),
            Scanned::Unusable => tracing::warn!(
                server = &*self.server,
                bytes,
                limit = self.limit,
                "upstream message larger than MCP_BRIDGE_MAX_TOOL_RESULT, with no usable id, dropped"
            ),
        }
        self.pending_pos = 0;
        self.discarding = false;
        self.oversized_len = 0;
        self.line_len = 0;
        self.scanner.reset();
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for BoundedLines<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if out.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if this.pending_pos < this.pending.len() {
                let n = out.remaining().min(this.pending.len() - this.pending_pos);
                out.put_slice(&this.pending[this.pending_pos..this.pending_pos + n]);
                this.pending_pos += n;
                if this.pending_pos == this.pending.len() {
                    this.pending.clear();
                    this.pending_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.start == this.end {
                let mut read = ReadBuf::new(&mut this.buf);
                ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
                let n = read.filled().len();
                if n == 0 {
                    // End of stream. A partial line (oversized or not) has no delimiter, so nothing would be
                    // delivered for it anyway.
                    return Poll::Ready(Ok(()));
                }
                this.start = 0;
                this.end = n;
            }
            let chunk = &this.buf[this.start..this.end];
            let newline = chunk.iter().position(|&b| b == b'\n');
            let body = newline.unwrap_or(chunk.len());
            if this.discarding {
                this.scanner.feed(&chunk[..body]);
                this.oversized_len += body as u64;
                this.start += body;
                if newline.is_some() {
                    this.start += 1;
                    this.oversized_line_ended();
                }
                continue;
            }
            let room = this.limit - this.line_len;
            if body > room {
                if room > 0 {
                    // Up to the limit the line is passed on as usual; whether it is too long shows only later.
                    let n = room.min(out.remaining());
                    this.scanner.feed(&chunk[..n]);
                    out.put_slice(&chunk[..n]);
                    this.start += n;
                    this.line_len += n;
                    return Poll::Ready(Ok(()));
                }
                this.discarding = true;
                this.oversized_len = this.line_len as u64;
                this.pending.extend_from_slice(CUT);
                continue;
            }
            let whole = body + usize::from(newline.is_some());
            let n = whole.min(out.remaining());
            this.scanner.feed(&chunk[..n.min(body)]);
            out.put_slice(&chunk[..n]);
            this.start += n;
            if newline.is_some() && n == whole {
                this.line_len = 0;
                this.scanner.reset();
            } else {
                this.line_len += n;
            }
            return Poll::Ready(Ok(()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Everything `BoundedLines` makes of `input` (written in `piece`-sized writes), read in `read`-sized reads.
    async fn through(input: &[u8], limit: usize, piece: usize, read: usize) -> Vec<u8> {
        let (mut writer, reader) = tokio::io::duplex(1024);
        let input = input.to_vec();
        let writing = tokio::spawn(async move {
            for chunk in input.chunks(piece) {
                writer.write_all(chunk).await.unwrap();
            }
        });
        let mut bounded = BoundedLines::new(reader, limit, Arc::from("test"));
        let mut output = Vec::new();
        let mut buf = vec![0; read];
        loop {
            let n = bounded.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            output.extend_from_slice(&buf[..n]);
        }
        writing.await.unwrap();
        output
    }

    /// The lines rmcp would parse: the ones that are JSON.
    fn parsed(output: &[u8]) -> Vec<Value> {
        output
            .split(|&b| b == b'\n')
            .filter_map(|line| serde_json::from_slice(line).ok())
            .collect()
    }

    #[tokio::test]
    async fn lines_within_the_limit_pass_unchanged() {
        let input =
            b"{\"id\":1,\"result\":{}}\n\n{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\r\npartial";
        for (piece, read) in [(input.len(), 4096), (1, 1), (3, 7)] {
            assert_eq!(through(input, 64, piece, read).await, input);
        }
        // Exactly the limit is allowed.
        let line = format!("{{\"id\":1,\"result\":\"{}\"}}\n", "x".repeat(100));
        let limit = line.len() - 1;
        assert_eq!(through(line.as_bytes(), limit, 5, 3).await, line.as_bytes());
    }

    #[tokio::test]
    async fn an_oversized_reply_becomes_an_error_for_its_id_and_the_next_line_passes() {
        let big = format!(
            "{{\"result\":{{\"content\":[{{\"type\":\"text\",\"text\":\"{}\"}}]}},\"jsonrpc\":\"2.0\",\"id\":7}}\n",
            "x".repeat(300_000)
        );
        let next = "{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{}}\n";
        let input = [big.as_bytes(), next.as_bytes()].concat();
        for (piece, read) in [(input.len(), 8192), (4096, 100), (777, 8192)] {
            let output = through(&input, 1000, piece, read).await;
            // The cut fragment, the error line and the next line; nothing near the big line's size.
            assert!(output.len() < 1000 + 600, "{}", output.len());
            let messages = parsed(&output);
            assert_eq!(messages.len(), 2, "{messages:?}");
            assert_eq!(messages[0]["id"], json!(7));
            assert_eq!(messages[0]["error"]["data"]["limit"], json!(1000));
            assert_eq!(messages[1], serde_json::from_str::<Value>(next).unwrap());
            // The fragment rmcp sees first ends in NUL, so it is not JSON.
            let first_line = output.split(|&b| b == b'\n').next().unwrap();
            assert_eq!(first_line.len(), 1001);
            assert_eq!(first_line.last(), Some(&0));
        }
    }

    #[tokio::test]
    async fn oversized_lines_without_a_usable_id_are_dropped() {
        let request = format!(
            "{{\"id\":1,\"method\":\"sampling/createMessage\",\"params\":{{\"x\":\"{}\"}}}}\n",
            "y".repeat(5000)
        );
        let garbage = format!("{}\n", "z".repeat(5000));
        let next = "{\"id\":2,\"result\":{}}\n";
        let input = [request.as_bytes(), garbage.as_bytes(), next.as_bytes()].concat();
        let output = through(&input, 100, 333, 64).await;
        assert_eq!(
            parsed(&output),
            [serde_json::from_str::<Value>(next).unwrap()]
        );
    }

    #[tokio::test]
    async fn a_line_that_never_ends_is_not_kept() {
        // 8 MiB without a newline, then the stream ends: the output stays at the limit plus the cut.
        let input = vec![b'q'; 8 << 20];
        let output = through(&input, 4096, 65536, 65536).await;
        assert_eq!(output.len(), 4096 + CUT.len());
    }
}
