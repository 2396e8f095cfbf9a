//! The `log` import (API 0.2.0 and later): a plugin's messages go to the bridge's log, tagged with its name,
//! cut to a bounded length and rate-limited so a chatty or hostile plugin cannot flood stderr.

use std::time::{Duration, Instant};

use super::runtime::PluginState;
use super::wit::since_v0_2_0::{LogHost, LogLevel};

/// Longest message kept; the rest is cut (on a character boundary) and marked.
const MAX_MESSAGE: usize = 4096;
/// Messages a plugin instance may write per [`WINDOW`]; the excess is counted and reported once.
const PER_WINDOW: u32 = 200;
const WINDOW: Duration = Duration::from_secs(1);

/// One instance's allowance of log messages.
#[derive(Debug)]
pub struct LogBudget {
    window_start: Instant,
    written: u32,
    dropped: u64,
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget {
            window_start: Instant::now(),
            written: 0,
            dropped: 0,
        }
    }
}

impl LogBudget {
    /// Whether one more message may be written now; `Some(n)` first when `n` were dropped in the window that
    /// just ended (reported once).
    fn admit(&mut self, now: Instant) -> (bool, Option<u64>) {
        let mut reported = None;
        if now.duration_since(self.window_start) >= WINDOW {
            if self.dropped > 0 {
                reported = Some(self.dropped);
            }
            self.window_start = now;
            self.written = 0;
            self.dropped = 0;
        }
        if self.written < PER_WINDOW {
            self.written += 1;
            (true, reported)
        } else {
            self.dropped += 1;
            (false, reported)
        }
    }
}

/// `message` cut to [`MAX_MESSAGE`] bytes on a character boundary, with a marker when cut.
fn bounded(message: &str) -> std::borrow::Cow<'_, str> {
    if message.len() <= MAX_MESSAGE {
        return message.into();
    }
    let mut end = MAX_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… (cut at {MAX_MESSAGE} bytes)", &message[..end]).into()
}

impl LogHost for PluginState {
    fn write(&mut self, level: LogLevel, message: String) {
        let plugin = self.plugin_name().to_string();
        let (admitted, dropped) = self.log_budget().admit(Instant::now());
        if let Some(count) = dropped {
            tracing::warn!(
                plugin,
                "{count} log messages of this plugin were dropped (over {PER_WINDOW} a second)"
            );
        }
        if !admitted {
            return;
        }
        let message = bounded(&message);
        match level {
            LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            LogLevel::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_cut_to_the_window_budget_and_the_excess_reported_once() {
        let mut budget = LogBudget::default();
        let start = budget.window_start;
        let admitted = (0..1000).filter(|_| budget.admit(start).0).count();
        assert_eq!(admitted, PER_WINDOW as usize);
        let (ok, reported) = budget.admit(start + WINDOW);
        assert!(ok);
        assert_eq!(reported, Some(1000 - u64::from(PER_WINDOW)));
        assert_eq!(budget.admit(start + WINDOW).1, None);
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_MESSAGE);
        let cut = bounded(&long);
        assert!(cut.len() < MAX_MESSAGE + 40, "{}", cut.len());
        assert!(cut.ends_with("(cut at 4096 bytes)"));
        assert_eq!(bounded("short"), "short");
    }
}
