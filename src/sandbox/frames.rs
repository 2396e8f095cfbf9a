//! Reading the container's output (see `PROTOCOL.md`): its stdout split into [`Frame`]s, its stderr into text
//! and PID 1's exit record. Everything here is hostile input: lines are capped before they are parsed, UTF-8 and
//! JSON are strict, and what a line may be is [`super::protocol`]'s closed set of types.

use bytes::{Buf, BytesMut};

use super::protocol::{Frame, StderrRecord};

/// Why the container's frame stream was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    /// A line, its newline counted, is longer than the frame cap.
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
    /// A reader that refuses lines longer than `max_frame` bytes, the newline counted (PROTOCOL.md §2).
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
                // Even its newline would not fit: refused now, before more of it is buffered.
                if self.buffer.len() >= self.max_frame {
                    return Some(Err(ProtocolError::TooLong {
                        max: self.max_frame,
                    }));
                }
                return None;
            };
            let end = self.scanned + offset;
            self.scanned = 0;
            if end + 1 > self.max_frame {
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
            match serde_json::from_slice::<StderrRecord>(line.trim_ascii()) {
                Ok(StderrRecord::Exit { code }) if self.exit.is_none() => self.exit = Some(code),
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
    use crate::sandbox::protocol::{
        MAX_DEPTH, MemoryKey, Method, Request, RequestProblem, RpcFrame, Stream,
    };

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
                Ok(Frame::Done {
                    exit: 3,
                    end: false
                })
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
    fn the_cap_counts_the_newline() {
        let mut reader = FrameReader::new(22);
        // 21 bytes and the newline: exactly the cap.
        reader.push(b"{\"t\":\"done\",\"exit\":0}\n");
        assert_eq!(
            frames(&mut reader),
            vec![Ok(Frame::Done {
                exit: 0,
                end: false
            })]
        );
        reader.push(b"{\"t\":\"done\",\"exit\":10}\n");
        assert_eq!(
            reader.next_frame(),
            Some(Err(ProtocolError::TooLong { max: 22 }))
        );
        // Without its newline yet, a line that has reached the cap is refused already.
        let mut reader = FrameReader::new(4);
        reader.push(b"1234");
        assert_eq!(
            reader.next_frame(),
            Some(Err(ProtocolError::TooLong { max: 4 }))
        );
    }

    #[test]
    fn rpc_frames_carry_their_request_or_why_it_was_refused() {
        let mut reader = FrameReader::new(1024);
        reader.push(
            b"{\"t\":\"rpc\",\"id\":1,\"method\":\"memory_load\",\"params\":{\"key\":\"k\"}}\n",
        );
        reader.push(b"{\"t\":\"rpc\",\"id\":2,\"method\":\"memory_load\"}\n");
        reader.push(b"{\"t\":\"rpc\",\"id\":3,\"method\":\"nope\",\"params\":{}}\n");
        let got = frames(&mut reader);
        assert_eq!(
            got[0],
            Ok(Frame::Rpc(RpcFrame {
                id: 1,
                request: Ok(Request::MemoryLoad(MemoryKey { key: "k".into() }))
            }))
        );
        let Ok(Frame::Rpc(RpcFrame {
            id: 2,
            request: Err(missing),
        })) = &got[1]
        else {
            panic!("{got:?}");
        };
        assert_eq!(missing.method, Some(Method::MemoryLoad));
        assert_eq!(missing.problem, RequestProblem::Missing("key"));
        let Ok(Frame::Rpc(RpcFrame {
            id: 3,
            request: Err(unknown),
        })) = &got[2]
        else {
            panic!("{got:?}");
        };
        assert_eq!(unknown.method, None);
        // A frame field beside the request's is still a malformed frame.
        reader.push(b"{\"t\":\"rpc\",\"id\":4,\"method\":\"tool_list\",\"extra\":1}\n");
        assert!(matches!(
            reader.next_frame(),
            Some(Err(ProtocolError::Malformed(_)))
        ));
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |depth: usize| {
            // The frame object and `params` are two levels; the rest is the value.
            let inner = depth - 2;
            format!(
                "{{\"t\":\"rpc\",\"id\":1,\"method\":\"memory_save\",\"params\":{{\"key\":\"k\",\"value\":{}{}}}}}\n",
                "[".repeat(inner),
                "]".repeat(inner)
            )
        };
        let mut reader = FrameReader::new(1 << 20);
        reader.push(nested(MAX_DEPTH).as_bytes());
        assert!(matches!(reader.next_frame(), Some(Ok(Frame::Rpc(_)))));
        reader.push(nested(MAX_DEPTH + 1).as_bytes());
        assert!(matches!(
            reader.next_frame(),
            Some(Err(ProtocolError::Malformed(message))) if message.contains("recursion limit")
        ));
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
