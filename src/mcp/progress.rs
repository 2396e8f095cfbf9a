//! Progress notifications for a `run_python` call whose request carried a progress token: every
//! [`INTERVAL`] while the run goes on, how long it has run and how many lines of output it has printed.

use std::sync::Arc;
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::ProgressNotificationParam;
use rmcp::service::RequestContext;

use crate::sandbox::RunProgress;

/// How often a running call reports.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Reports while it lives; dropped when the call ends.
pub struct Reporter {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts reporting for the request of `context` when it asked for progress: the counter the run fills and
/// the reporter to drop when the call ends.
pub fn start(context: &RequestContext<RoleServer>) -> Option<(Arc<RunProgress>, Reporter)> {
    let token = context.meta.get_progress_token()?;
    let progress = Arc::new(RunProgress::default());
    let (peer, counted) = (context.peer.clone(), progress.clone());
    let task = tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + INTERVAL, INTERVAL);
        for tick in 1u64.. {
            ticks.tick().await;
            let seconds = tick * INTERVAL.as_secs();
            let lines = counted.output_lines();
            let message = format!(
                "running for {seconds} s, {lines} line{} of output so far",
                if lines == 1 { "" } else { "s" }
            );
            // The progress value must grow with every notification: the seconds run.
            let notification =
                ProgressNotificationParam::new(token.clone(), seconds as f64).with_message(message);
            if peer.notify_progress(notification).await.is_err() {
                break;
            }
        }
    });
    Some((progress, Reporter { task }))
}
