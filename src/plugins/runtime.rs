//! The one place that owns wasmtime: the shared engine, the WASI linker, stores with per-call limits, and the
//! epoch ticker that enforces deadlines.
//!
//! Plugins get an empty WASI context (no preopened directories, no environment, no sockets); their stdout and
//! stderr go to the bridge's log. Each call runs under an epoch deadline and inside a memory cap, so a plugin
//! that loops or allocates without bound traps instead of hanging or exhausting the bridge.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

pub use crate::config::settings::CallLimits;

use super::Kind;
use super::log::{self, LogBudget};
use super::wit;

/// How often the epoch advances: the granularity of call deadlines.
const TICK: Duration = Duration::from_millis(1);

/// How many times the per-call time and memory a discovery plugin gets.
pub const DISCOVERY_HEADROOM: usize = 10;

fn headroom(kind: Kind) -> usize {
    if kind == Kind::Discovery {
        DISCOVERY_HEADROOM
    } else {
        1
    }
}

/// A plugin instance's store data: WASI's empty context, the limits, and what the `log` import needs.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    plugin: Arc<str>,
    log_budget: LogBudget,
}

impl wit::since_v0_2_0::LogHost for PluginState {
    fn write(&mut self, level: wit::since_v0_2_0::LogLevel, message: String) {
        log::write(&self.plugin, &mut self.log_budget, level, &message);
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The shared engine and linker.
pub struct PluginRuntime {
    engine: Engine,
    linker: Linker<PluginState>,
    limits: CallLimits,
    ticker_stop: Arc<AtomicBool>,
}

impl PluginRuntime {
    /// An engine with epoch interruption, a WASI-only linker, and a ticker thread.
    pub fn new(limits: CallLimits) -> Result<Self> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("creating the wasmtime engine")?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI")?;
        wit::add_to_linker(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking the plugin API's imports")?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (ticking, stop) = (engine.clone(), ticker_stop.clone());
        std::thread::Builder::new()
            .name("mcp-bridge-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    ticking.increment_epoch();
                }
            })
            .context("starting the epoch ticker")?;
        Ok(PluginRuntime {
            engine,
            linker,
            limits,
            ticker_stop,
        })
    }

    /// The engine (for compiling and the cache key).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker every plugin world is instantiated with.
    pub fn linker(&self) -> &Linker<PluginState> {
        &self.linker
    }

    /// A fresh store for one instance of `plugin`, its output logged under that name. Discovery plugins get
    /// [`DISCOVERY_HEADROOM`] times the memory: they parse whole config files, some of them megabytes.
    pub fn store(&self, plugin: &str, kind: Kind) -> Store<PluginState> {
        let name: Arc<str> = Arc::from(plugin);
        let wasi = WasiCtxBuilder::new()
            .stdout(LogStream {
                plugin: name.clone(),
                stream: "stdout",
            })
            .stderr(LogStream {
                plugin: name.clone(),
                stream: "stderr",
            })
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes * headroom(kind))
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(
            &self.engine,
            PluginState {
                wasi,
                table: ResourceTable::new(),
                limits,
                plugin: name,
                log_budget: LogBudget::default(),
            },
        );
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_trap();
        store
    }

    /// Arms the deadline for the next call on `store` (discovery gets [`DISCOVERY_HEADROOM`] times the time).
    pub fn arm(&self, store: &mut Store<PluginState>, kind: Kind) {
        let budget = self.limits.timeout.as_millis() * headroom(kind) as u128;
        let ticks = budget.div_ceil(TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
    }

    /// The limits in force.
    pub fn limits(&self) -> CallLimits {
        self.limits
    }
}

impl Drop for PluginRuntime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Why a plugin call failed, in words for a deny reason or a log line.
pub fn describe_failure(error: &wasmtime::Error, limits: CallLimits) -> String {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => {
            format!("it ran past its {} ms deadline", limits.timeout.as_millis())
        }
        Some(wasmtime::Trap::MemoryOutOfBounds) => {
            "it trapped: out-of-bounds memory access".to_string()
        }
        Some(trap) => format!("it trapped: {trap}"),
        None if format!("{error:#}").contains("memory")
            && format!("{error:#}").contains("limit") =>
        {
            format!(
                "it exceeded its {} MiB memory cap",
                limits.memory_bytes >> 20
            )
        }
        None => format!("it failed: {error:#}"),
    }
}

/// A plugin's stdout or stderr: each line goes to the bridge's log.
struct LogStream {
    plugin: Arc<str>,
    stream: &'static str,
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LogLines {
            plugin: self.plugin.clone(),
            stream: self.stream,
            pending: Vec::new(),
        })
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        // Only WASI 0.2 streams are used (plugins are p2 components); nothing written here is kept.
        Box::new(tokio::io::sink())
    }
}

/// Longest line kept before it is logged in pieces.
const MAX_LOG_LINE: usize = 4096;

struct LogLines {
    plugin: Arc<str>,
    stream: &'static str,
    pending: Vec<u8>,
}

impl LogLines {
    fn emit(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        tracing::info!(
            plugin = &*self.plugin,
            stream = self.stream,
            "{}",
            text.trim_end()
        );
    }
}

#[async_trait::async_trait]
impl OutputStream for LogLines {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.pending.extend_from_slice(&bytes);
        while let Some(newline) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=newline).collect();
            self.emit(&line);
        }
        if self.pending.len() > MAX_LOG_LINE {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_LOG_LINE)
    }
}

#[async_trait::async_trait]
impl Pollable for LogLines {
    async fn ready(&mut self) {}
}
