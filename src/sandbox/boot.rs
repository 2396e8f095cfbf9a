//! The in-sandbox Python runtime, embedded at build time, and the two frames that carry it and the code into the
//! container over stdin (no files are mounted; see `PROTOCOL.md`).

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use super::RunSpec;
use super::protocol::{BootFrame, BootModule, CompiledRuntime, MAX_FRAME, RunFrame, VERSION};

/// The program the container starts with: `python3 -I -B -c BOOTSTRAP`. It reads the boot frame.
pub const BOOTSTRAP: &str = include_str!("python/bootstrap.py");

/// The sandbox manual: `runtime.capability_summary()` inside, the capabilities resource outside.
pub const MANUAL: &str = include_str!("python/MANUAL.md");

/// Modules installed by the bootstrap's in-memory importer: (name, is package, source).
const MODULES: &[(&str, bool, &str)] = &[
    (
        "mcp_bridge_runtime",
        false,
        include_str!("python/mcp_bridge_runtime.py"),
    ),
    (
        "mcp_bridge_relay",
        false,
        include_str!("python/mcp_bridge_relay.py"),
    ),
    ("mcp", true, include_str!("python/mcp/__init__.py")),
    ("mcp.runtime", false, include_str!("python/mcp/runtime.py")),
    ("mcp._rpc", false, include_str!("python/mcp/_rpc.py")),
    ("mcp._tools", false, include_str!("python/mcp/_tools.py")),
    (
        "mcp._saved_tools",
        false,
        include_str!("python/mcp/_saved_tools.py"),
    ),
    (
        "mcp.user_tools",
        false,
        include_str!("python/mcp/user_tools.py"),
    ),
    (
        "mcp.servers",
        true,
        include_str!("python/mcp/servers/__init__.py"),
    ),
];

/// Warm containers asked for the runtime's bytecode before the bridge stops asking: one answer is enough, and
/// an image whose runtime never gives a usable one is not asked for ever.
const COMPILE_ASKS: u32 = 3;

/// The most bytes of base64 bytecode taken from a container (the runtime's compiles to ~100 KB).
const MAX_COMPILED_BYTES: usize = 2 << 20;

/// The boot frames of one engine's containers (PROTOCOL.md §2.2): the runtime as source until a warm container
/// has compiled it with the image's interpreter, then with that bytecode too, which spares every later container
/// compiling it (a warm container's CPU to `ready`: ~55 → ~41 ms; `benches/probes/cpu_per_run.py boot`).
///
/// Only warm containers are asked: one answers with `ready`, before the host sends it a run frame, so the
/// bytecode comes from the image and the bridge's own runtime and never from code a run brought. The bridge
/// never runs it; it checks its shape and size and passes it on, and each bootstrap uses it only if it was made
/// for its own interpreter.
pub struct BootFrames {
    compiled: OnceLock<Vec<u8>>,
    asks_left: AtomicU32,
}

impl Default for BootFrames {
    fn default() -> Self {
        BootFrames {
            compiled: OnceLock::new(),
            asks_left: AtomicU32::new(COMPILE_ASKS),
        }
    }
}

impl BootFrames {
    /// The bytes written to a new container's stdin before anything else, and whether they ask it for the
    /// runtime's bytecode (only a `warm` container is asked, and only until one has answered).
    pub fn frame(&self, warm: bool) -> (&[u8], bool) {
        if let Some(frame) = self.compiled.get() {
            return (frame, false);
        }
        let ask = warm
            && self
                .asks_left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                    left.checked_sub(1)
                })
                .is_ok();
        if ask {
            static ASKING: OnceLock<Vec<u8>> = OnceLock::new();
            (ASKING.get_or_init(|| encode(true, None)), true)
        } else {
            (source_frame(), false)
        }
    }

    /// Takes the bytecode a container asked by [`BootFrames::frame`] sent with its `ready` frame. An answer of
    /// the wrong shape is refused (and no container is asked again): the reason says what was wrong.
    pub fn learn(&self, compiled: CompiledRuntime) -> Result<(), String> {
        self.asks_left.store(0, Ordering::Relaxed);
        check(&compiled)?;
        let _ = self.compiled.set(encode(false, Some(&compiled)));
        Ok(())
    }
}

/// The boot frame with the runtime as source only: the same for every container, so it is encoded once.
pub fn source_frame() -> &'static [u8] {
    static FRAME: OnceLock<Vec<u8>> = OnceLock::new();
    FRAME.get_or_init(|| encode(false, None))
}

fn encode(compile: bool, compiled: Option<&CompiledRuntime>) -> Vec<u8> {
    BootFrame {
        v: VERSION,
        modules: MODULES
            .iter()
            .map(|&(name, package, source)| (name, BootModule { source, package }))
            .collect(),
        entry: "mcp_bridge_runtime",
        max_frame: MAX_FRAME,
        manual: MANUAL,
        compile,
        compiled,
    }
    .encode()
    // Strings and integers: encoding cannot fail, and the size ([`MAX_COMPILED_BYTES`] at most on top of the
    // sources) is far below the header's limit.
    .unwrap_or_default()
}

/// Whether `compiled` has the shape the bootstrap expects: exactly the runtime's modules, base64 text, bounded.
fn check(compiled: &CompiledRuntime) -> Result<(), String> {
    let expected: BTreeSet<&str> = MODULES.iter().map(|&(name, _, _)| name).collect();
    let got: BTreeSet<&str> = compiled.modules.keys().map(String::as_str).collect();
    if got != expected {
        return Err("the compiled runtime does not have exactly the runtime's modules".into());
    }
    let is_base64 = |text: &str| {
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    };
    if compiled.magic.is_empty() || compiled.magic.len() > 24 || !is_base64(&compiled.magic) {
        return Err("the compiled runtime's magic number is not short base64".into());
    }
    let mut total = 0;
    for (name, code) in &compiled.modules {
        if code.is_empty() || !is_base64(code) {
            return Err(format!("the compiled module {name} is not base64"));
        }
        total += code.len();
    }
    if total > MAX_COMPILED_BYTES {
        return Err(format!(
            "the compiled runtime is {total} bytes, over the {MAX_COMPILED_BYTES}-byte limit"
        ));
    }
    Ok(())
}

/// The run frame for `spec`, with its header: what a container is given to run (the first call of `session`).
pub fn run_frame(spec: &RunSpec, session: Option<&str>) -> Result<Vec<u8>, serde_json::Error> {
    frame(spec, session).encode()
}

/// A session's later call: the run frame as a `run` line (PROTOCOL.md §2.1).
pub fn run_line(spec: &RunSpec, session: &str) -> Result<Vec<u8>, serde_json::Error> {
    frame(spec, Some(session)).encode_line()
}

fn frame<'a>(spec: &'a RunSpec, session: Option<&'a str>) -> RunFrame<'a> {
    RunFrame {
        id: &spec.run_id,
        code: &spec.code,
        servers: &spec.servers,
        timeout: spec.timeout.as_secs(),
        server_info: &spec.server_info,
        session,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::protocol::BOOT_HEADER_DIGITS;
    use std::time::Duration;

    struct Refuse;

    impl crate::sandbox::RpcHandler for Refuse {
        fn handle(
            &self,
            _request: Result<crate::sandbox::Request, crate::sandbox::RequestError>,
        ) -> futures::future::BoxFuture<
            'static,
            Result<crate::sandbox::Response, crate::sandbox::RpcError>,
        > {
            Box::pin(std::future::ready(Err(crate::sandbox::RpcError::new("no"))))
        }
    }

    fn compiled_runtime() -> CompiledRuntime {
        CompiledRuntime {
            magic: "pw0NCg==".into(),
            modules: MODULES
                .iter()
                .map(|&(name, _, _)| (name.to_string(), "YwAAAA==".to_string()))
                .collect(),
        }
    }

    fn boot_json(frame: &[u8]) -> serde_json::Value {
        serde_json::from_slice(&frame[BOOT_HEADER_DIGITS..]).unwrap()
    }

    #[test]
    fn warm_containers_are_asked_for_the_bytecode_until_one_gives_it_and_then_every_container_gets_it()
     {
        let frames = BootFrames::default();
        let (frame, asked) = frames.frame(false);
        assert!(!asked, "a cold container never compiles for others");
        assert_eq!(frame, source_frame());
        let (frame, asked) = frames.frame(true);
        assert!(asked);
        assert_eq!(boot_json(frame)["compile"], true);
        frames.learn(compiled_runtime()).unwrap();
        for warm in [true, false] {
            let (frame, asked) = frames.frame(warm);
            assert!(!asked);
            let boot = boot_json(frame);
            assert!(boot.get("compile").is_none());
            assert_eq!(boot["compiled"]["magic"], "pw0NCg==");
            assert_eq!(boot["compiled"]["modules"]["mcp.runtime"], "YwAAAA==");
            assert_eq!(
                boot["modules"]["mcp.runtime"]["package"], false,
                "the sources stay (tracebacks show their lines)"
            );
        }
        assert!(source_frame().len() < frames.frame(false).0.len());
    }

    #[test]
    fn asking_stops_after_a_few_containers_that_never_answer() {
        let frames = BootFrames::default();
        let asked = (0..10).filter(|_| frames.frame(true).1).count();
        assert_eq!(asked, COMPILE_ASKS as usize);
        assert_eq!(frames.frame(true).0, source_frame());
    }

    #[test]
    fn bytecode_of_the_wrong_shape_is_refused_and_nobody_is_asked_again() {
        type Spoil = fn(&mut CompiledRuntime);
        let cases: [(Spoil, &str); 6] = [
            (
                |c| {
                    c.modules.remove("mcp.runtime");
                },
                "exactly the runtime's modules",
            ),
            (
                |c| {
                    c.modules.insert("os".into(), "YwAAAA==".into());
                },
                "exactly the runtime's modules",
            ),
            (
                |c| {
                    c.modules.insert("mcp".into(), "not base64!".into());
                },
                "mcp is not base64",
            ),
            (
                |c| {
                    c.modules.insert("mcp".into(), String::new());
                },
                "mcp is not base64",
            ),
            (|c| c.magic = "A".repeat(25), "magic number"),
            (
                |c| {
                    c.modules
                        .insert("mcp".into(), "A".repeat(MAX_COMPILED_BYTES + 1));
                },
                "over the 2097152-byte limit",
            ),
        ];
        for (spoil, reason) in cases {
            let frames = BootFrames::default();
            assert!(frames.frame(true).1);
            let mut compiled = compiled_runtime();
            spoil(&mut compiled);
            let error = frames.learn(compiled).unwrap_err();
            assert!(error.contains(reason), "{error:?} should say {reason:?}");
            assert_eq!(frames.frame(true), (source_frame(), false));
        }
    }

    #[test]
    fn headers_give_the_exact_body_length() {
        let spec = RunSpec {
            run_id: "r-1".into(),
            code: "print('é')".into(),
            servers: vec![],
            timeout: Duration::from_secs(5),
            server_info: serde_json::Value::Null,
            rpc: std::sync::Arc::new(Refuse),
        };
        let body = |frame: &[u8]| -> serde_json::Value {
            let length: usize = std::str::from_utf8(&frame[..BOOT_HEADER_DIGITS])
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(length, frame.len() - BOOT_HEADER_DIGITS);
            serde_json::from_slice(&frame[BOOT_HEADER_DIGITS..]).unwrap()
        };
        let boot = body(source_frame());
        assert_eq!(boot["v"], VERSION);
        assert_eq!(boot["entry"], "mcp_bridge_runtime");
        assert_eq!(boot["max_frame"], MAX_FRAME);
        assert_eq!(boot["modules"]["mcp"]["package"], true);
        assert_eq!(boot["modules"]["mcp.runtime"]["package"], false);
        assert_eq!(boot["modules"].as_object().unwrap().len(), MODULES.len());
        let run = body(&run_frame(&spec, None).unwrap());
        assert_eq!(run["code"], "print('é')");
        assert_eq!(run["id"], "r-1");
        assert_eq!(run["timeout"], 5);
        assert!(run.get("session").is_none());
        let line = run_line(&spec, "s1").unwrap();
        assert!(line.ends_with(b"\n") && !line[..line.len() - 1].contains(&b'\n'));
        let line: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(line["t"], "run");
        assert_eq!(line["session"], "s1");
        assert_eq!(line["code"], "print('é')");
    }
}
