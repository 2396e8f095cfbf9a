//! An upstream server's stderr, kept as a short tail of short lines for the host's log.
//!
//! What a server writes to stderr may hold secrets (a token it logged), so it never goes into errors the
//! sandbox sees; the client logs the tail when a start fails or the server dies. The reader holds at most
//! [`MAX_LINE_BYTES`] of a line: the rest of a longer one is skipped as it arrives and the kept part ends with
//! a marker saying how much was cut, so a server writing gigabytes without a newline costs no memory.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};

/// Lines of a server's stderr kept.
pub(crate) const TAIL_LINES: usize = 20;

/// Bytes of one stderr line kept; the rest is cut.
pub(crate) const MAX_LINE_BYTES: usize = 1024;

/// The last [`TAIL_LINES`] stderr lines of a server, each at most [`MAX_LINE_BYTES`] plus a cut marker.
pub(crate) type Tail = Arc<Mutex<VecDeque<String>>>;

/// Reads `stderr` to its end, keeping its last lines in `tail` and logging each at debug level.
pub(crate) async fn keep_tail(mut stderr: impl AsyncRead + Unpin, tail: Tail, server: Arc<str>) {
    let mut buf = vec![0u8; 8192];
    let mut line = LineCap::default();
    loop {
        let n = match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut rest = &buf[..n];
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            line.push(&rest[..newline]);
            push(&tail, &server, line.take());
            rest = &rest[newline + 1..];
        }
        line.push(rest);
    }
    if !line.is_empty() {
        push(&tail, &server, line.take());
    }
}

fn push(tail: &Tail, server: &str, line: String) {
    tracing::debug!(server, "stderr: {line}");
    let Ok(mut tail) = tail.lock() else { return };
    if tail.len() == TAIL_LINES {
        tail.pop_front();
    }
    tail.push_back(line);
}

/// One line being read: its first [`MAX_LINE_BYTES`] bytes and a count of the rest.
#[derive(Default)]
struct LineCap {
    kept: Vec<u8>,
    cut: u64,
}

impl LineCap {
    fn push(&mut self, bytes: &[u8]) {
        let room = MAX_LINE_BYTES - self.kept.len();
        let keep = room.min(bytes.len());
        self.kept.extend_from_slice(&bytes[..keep]);
        self.cut += (bytes.len() - keep) as u64;
    }

    fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.cut == 0
    }

    /// The line as text (a trailing `\r` dropped), with the cut marker; ready for the next line.
    fn take(&mut self) -> String {
        let kept = self.kept.strip_suffix(b"\r").unwrap_or(&self.kept);
        let mut text = String::from_utf8_lossy(kept).into_owned();
        if self.cut > 0 {
            text.push_str(&format!(" […{} more bytes cut]", self.cut));
        }
        self.kept.clear();
        self.cut = 0;
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn tail_of(input: Vec<u8>, piece: usize) -> Vec<String> {
        let (mut writer, reader) = tokio::io::duplex(4096);
        let tail = Tail::default();
        let reading = tokio::spawn(keep_tail(reader, tail.clone(), Arc::from("test")));
        for chunk in input.chunks(piece) {
            writer.write_all(chunk).await.unwrap();
        }
        drop(writer);
        reading.await.unwrap();
        tail.lock().unwrap().iter().cloned().collect()
    }

    #[tokio::test]
    async fn short_lines_are_kept_whole_and_only_the_last_ones() {
        let input: String = (0..30).map(|i| format!("line {i}\r\n")).collect();
        let lines = tail_of(input.into_bytes(), 7).await;
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines[0], "line 10");
        assert_eq!(lines[TAIL_LINES - 1], "line 29");
    }

    #[tokio::test]
    async fn a_long_line_is_cut_with_a_marker_and_the_next_line_is_whole() {
        let mut input = vec![b'e'; 5 << 20];
        input.extend_from_slice(b"\nafter\nunterminated");
        let lines = tail_of(input, 65536).await;
        assert_eq!(
            lines[0],
            format!(
                "{} […{} more bytes cut]",
                "e".repeat(MAX_LINE_BYTES),
                (5 << 20) - MAX_LINE_BYTES
            )
        );
        assert_eq!(lines[1..], ["after", "unterminated"]);
    }
}
