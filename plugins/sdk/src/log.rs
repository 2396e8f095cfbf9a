//! The bridge's log (stderr of `bridge serve`), through the WIT `log` import every world has. Messages are
//! tagged with the plugin's name; the bridge shows `info` and above by default (`MCP_BRIDGE_LOG_LEVEL`), cuts
//! messages past 4 KiB and drops a flood.
//!
//! ```
//! use mcp_bridge_plugin_sdk::log;
//! log::info!("loaded {} rules", 3);
//! log::write(log::Level::Debug, "plain text works too");
//! ```
//!
//! Outside a component (native tests) messages go to stderr.

/// How much a message matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Step-by-step detail.
    Trace,
    /// Detail for debugging a plugin.
    Debug,
    /// Normal events worth seeing.
    Info,
    /// Something odd that the plugin worked around.
    Warn,
    /// Something failed.
    Error,
}

/// Writes one message at `level`.
pub fn write(level: Level, message: &str) {
    imp::write(level, message);
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Level;
    use crate::component::log as wit;

    pub fn write(level: Level, message: &str) {
        let level = match level {
            Level::Trace => wit::Level::Trace,
            Level::Debug => wit::Level::Debug,
            Level::Info => wit::Level::Info,
            Level::Warn => wit::Level::Warn,
            Level::Error => wit::Level::Error,
        };
        wit::write(level, message);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::Level;

    pub fn write(level: Level, message: &str) {
        eprintln!("[{level:?}] {message}");
    }
}

/// `log::trace!("format", args…)`: formats and writes at [`Level::Trace`].
#[macro_export]
#[doc(hidden)]
macro_rules! __log_trace {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Trace, &::std::format!($($arg)*)) };
}

/// `log::debug!("format", args…)`: formats and writes at [`Level::Debug`].
#[macro_export]
#[doc(hidden)]
macro_rules! __log_debug {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Debug, &::std::format!($($arg)*)) };
}

/// `log::info!("format", args…)`: formats and writes at [`Level::Info`].
#[macro_export]
#[doc(hidden)]
macro_rules! __log_info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, &::std::format!($($arg)*)) };
}

/// `log::warn!("format", args…)`: formats and writes at [`Level::Warn`].
#[macro_export]
#[doc(hidden)]
macro_rules! __log_warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warn, &::std::format!($($arg)*)) };
}

/// `log::error!("format", args…)`: formats and writes at [`Level::Error`].
#[macro_export]
#[doc(hidden)]
macro_rules! __log_error {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, &::std::format!($($arg)*)) };
}

#[doc(inline)]
pub use crate::__log_debug as debug;
#[doc(inline)]
pub use crate::__log_error as error;
#[doc(inline)]
pub use crate::__log_info as info;
#[doc(inline)]
pub use crate::__log_trace as trace;
#[doc(inline)]
pub use crate::__log_warn as warn;
