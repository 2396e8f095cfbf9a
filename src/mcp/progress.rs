//! Progress notifications for a `run_python` call whose request carried a progress token: every
//! [`INTERVAL`] while the run goes on, how long it has run and how many lines of output it has printed.

use std::sync::Arc;
use std::time::{Duration, Instant};

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
    let progress = Arc::new(RunProgress::default());
    let reporter = report(context, progress.clone(), Instant::now())?;
    Some((progress, reporter))
}

/// Reports `progress` of a run that began at `started` to the request of `context`, when it asked for
/// progress: each request of a run answered in rounds (`input_required`) hears it while it waits.
pub fn report(
    context: &RequestContext<RoleServer>,
    progress: Arc<RunProgress>,
    started: Instant,
) -> Option<Reporter> {
    let token = context.meta.get_progress_token()?;
    let (peer, counted) = (context.peer.clone(), progress);
    let task = tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + INTERVAL, INTERVAL);
        // The value must grow with every notification of this request: a tick count past the run's age.
        let base = started.elapsed().as_secs();
        for tick in 1u64.. {
            ticks.tick().await;
            let seconds = base + tick * INTERVAL.as_secs();
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
    Some(Reporter { task })
}
