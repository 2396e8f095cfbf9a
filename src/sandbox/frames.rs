//! Parsing the frames a container sends (see `PROTOCOL.md`). Everything here is hostile input: lines are capped,
//! UTF-8 and JSON are strict, the set of frame types is closed.

use bytes::{Buf, BytesMut};
use serde::Deserialize;

/// Which of the code's output streams an `out` frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// fd 1 of the user code.
    Stdout,
    /// fd 2 of the user code.
    Stderr,
}

/// One frame from the container.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase", deny_unknown_fields)]
pub enum Frame {
    /// A chunk of user output.
    Out {
        /// The stream it was written to.
        s: Stream,
        /// The text (the runtime already replaced invalid UTF-8 with U+FFFD).
        d: String,
    },
    /// A request to the host (tool proxying).
    Rpc {
        /// Unique per run.
        id: u64,
        /// What is asked for.
        method: String,
        /// Its arguments.
        #[serde(default)]
        params: serde_json::Value,
    },
    /// The code finished with this exit status.
    Done {
        /// 0, 1 for an uncaught exception, or the `SystemExit` code.
        exit: i64,
    },
}

/// Why the container's frame stream was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    /// A line grew past the frame cap without a newline.
    #[error("frame longer than {max} bytes")]
    TooLong {
        /// The cap.
        max: usize,
    },
    /// A line was not UTF-8.
    #[error("frame is not valid UTF-8")]
    NotUtf8,
    /// A line was not one of the known frames.
    #[error("malformed frame: {0}")]
    Malformed(String),
}

/// Splits the container's stdout bytes into frames, one per line.
pub struct FrameReader {
    buffer: BytesMut,
    max_frame: usize,
    /// How far `buffer` has already been searched for a newline, so a long line is scanned once.
    scanned: usize,
}

impl FrameReader {
    /// A reader that refuses lines longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        FrameReader {
            buffer: BytesMut::new(),
            max_frame,
            scanned: 0,
        }
    }

    /// Adds bytes read from the container.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete frame, `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Frame, ProtocolError>> {
        loop {
            let newline = self.buffer[self.scanned..].iter().position(|b| *b == b'\n');
            let Some(offset) = newline else {
                self.scanned = self.buffer.len();
                if self.buffer.len() > self.max_frame {
                    return Some(Err(ProtocolError::TooLong {
                        max: self.max_frame,
                    }));
                }
                return None;
            };
            let end = self.scanned + offset;
            self.scanned = 0;
            if end > self.max_frame {
                return Some(Err(ProtocolError::TooLong {
                    max: self.max_frame,
                }));
            }
            let line = self.buffer.split_to(end);
            self.buffer.advance(1);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(parse(&line));
        }
    }
}

/// PID 1's exit record (PROTOCOL.md §1): the one thing from the container the host trusts.
#[derive(Debug, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase", deny_unknown_fields)]
enum Record {
    Exit { code: i64 },
}

/// Reads the container's stderr: text the bootstrap wrote before the runtime took fd 2 (interpreter crashes), and
/// then PID 1's exit record, which only PID 1 can write once user code runs.
pub struct StderrReader {
    partial: Vec<u8>,
    exit: Option<i64>,
}

/// A stderr line longer than this is raw text, never a record.
const MAX_RECORD_LINE: usize = 256;

impl StderrReader {
    /// An empty reader.
    pub fn new() -> Self {
        StderrReader {
            partial: Vec::new(),
            exit: None,
        }
    }

    /// Takes a chunk of stderr and returns what of it is raw text (the exit record taken out).
    pub fn push(&mut self, bytes: &[u8]) -> String {
        let mut text = Vec::new();
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            let complete = piece.ends_with(b"\n");
            // Only a short line can be a record; anything longer is text, kept no further than it has to be.
            if self.partial.len() + piece.len() > MAX_RECORD_LINE {
                text.append(&mut self.partial);
                text.extend_from_slice(piece);
                continue;
            }
            self.partial.extend_from_slice(piece);
            if !complete {
                continue;
            }
            let line = std::mem::take(&mut self.partial);
            match serde_json::from_slice::<Record>(line.trim_ascii()) {
                Ok(Record::Exit { code }) if self.exit.is_none() => self.exit = Some(code),
                _ => text.extend_from_slice(&line),
            }
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    /// The exit status PID 1 reported, once it has.
    pub fn exit(&self) -> Option<i64> {
        self.exit
    }
}

fn parse(line: &[u8]) -> Result<Frame, ProtocolError> {
    let text = std::str::from_utf8(line).map_err(|_| ProtocolError::NotUtf8)?;
    serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(reader: &mut FrameReader) -> Vec<Result<Frame, ProtocolError>> {
        std::iter::from_fn(|| reader.next_frame()).collect()
    }

    #[test]
    fn splits_lines_across_pushes() {
        let mut reader = FrameReader::new(1024);
        reader.push(br#"{"t":"out","s":"stdout","d":"hi"#);
        assert!(frames(&mut reader).is_empty());
        reader.push(b"\\n\"}\n{\"t\":\"done\",\"exit\":3}\n");
        assert_eq!(
            frames(&mut reader),
            vec![
                Ok(Frame::Out {
                    s: Stream::Stdout,
                    d: "hi\n".into()
                }),
                Ok(Frame::Done { exit: 3 })
            ]
        );
    }

    #[test]
    fn the_exit_record_is_taken_out_of_stderr_across_chunks() {
        let mut reader = StderrReader::new();
        assert_eq!(
            reader.push(b"Traceback: boom\n\n{\"t\":\"ex"),
            "Traceback: boom\n\n"
        );
        assert_eq!(reader.exit(), None);
        assert_eq!(reader.push(b"it\",\"code\":9}\n"), "");
        assert_eq!(reader.exit(), Some(9));
        // A second record changes nothing, and is shown as the text it is.
        assert_eq!(
            reader.push(b"{\"t\":\"exit\",\"code\":0}\n"),
            "{\"t\":\"exit\",\"code\":0}\n"
        );
        assert_eq!(reader.exit(), Some(9));
    }

    #[test]
    fn long_or_odd_stderr_lines_are_text() {
        let mut reader = StderrReader::new();
        let long = format!("{}\n", "x".repeat(1000));
        assert_eq!(reader.push(long.as_bytes()), long);
        assert_eq!(
            reader.push(b"{\"t\":\"exit\",\"code\":0,\"more\":1}\n"),
            "{\"t\":\"exit\",\"code\":0,\"more\":1}\n"
        );
        assert_eq!(reader.exit(), None);
    }

    #[test]
    fn refuses_long_lines_without_buffering_them_whole() {
        let mut reader = FrameReader::new(16);
        reader.push(&[b'x'; 17]);
        assert_eq!(
            reader.next_frame(),
            Some(Err(ProtocolError::TooLong { max: 16 }))
        );
    }

    #[test]
    fn refuses_unknown_types_fields_and_bad_utf8() {
        let mut reader = FrameReader::new(1024);
        reader.push(b"{\"t\":\"exec\",\"code\":\"x\"}\n");
        reader.push(b"{\"t\":\"done\",\"exit\":0,\"extra\":1}\n");
        reader.push(b"{\"t\":\"done\",\"exit\":0,\"exit\":1}\n");
        reader.push(b"\xff\xfe\n");
        reader.push(b"not json\n");
        let got = frames(&mut reader);
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(Result::is_err), "{got:?}");
        assert_eq!(got[3], Err(ProtocolError::NotUtf8));
    }
}
