//! The frame decoder: container stdout bytes → frames, under the frame cap, strict UTF-8 and JSON, the depth
//! limit. Whatever the bytes and however they are cut into reads, the reader gives the same frames and
//! errors (up to the first error, where the host stops the run), every request it decodes round-trips, and
//! the stderr reader takes any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_bridge_fuzz::frames::{FrameReader, ProtocolError, StderrReader};
use mcp_bridge_fuzz::protocol::{Frame, RpcFrame};
use mcp_bridge_fuzz::{MAX_MESSAGE, assert_round_trip};

fuzz_target!(|data: &[u8]| {
    // The first byte sets the cap and how the rest is cut into reads.
    let Some((&knob, bytes)) = data.split_first() else {
        return;
    };
    let max_frame = 8 + usize::from(knob & 0x1f) * 48;
    let chunk = 1 + usize::from(knob >> 5) * 5;
    let whole = decode(bytes, max_frame, bytes.len().max(1));
    assert_eq!(whole, decode(bytes, max_frame, chunk));
    let mut stderr = StderrReader::new();
    for piece in bytes.chunks(chunk) {
        stderr.push(piece);
    }
});

fn decode(bytes: &[u8], max_frame: usize, chunk: usize) -> Vec<Result<Frame, ProtocolError>> {
    let mut reader = FrameReader::new(max_frame);
    let mut frames = Vec::new();
    for piece in bytes.chunks(chunk) {
        reader.push(piece);
        while let Some(frame) = reader.next_frame() {
            match &frame {
                Ok(Frame::Rpc(RpcFrame {
                    request: Ok(request),
                    ..
                })) => assert_round_trip(request),
                Ok(Frame::Rpc(RpcFrame {
                    request: Err(error),
                    ..
                })) => {
                    assert!(error.to_string().len() <= MAX_MESSAGE, "{error}")
                }
                _ => {}
            }
            let failed = frame.is_err();
            frames.push(frame);
            if failed {
                return frames;
            }
        }
    }
    frames
}
