//! Helpers of `tests/trust_proxy.rs` beyond `common::project`: a run's proxy built as the bridge builds it, and
//! an [`Asker`] that records questions.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use mcp_bridge::plugins::RunCheck;
use mcp_bridge::proxy::{Asker, ProxyContext, RunProxy};
use mcp_bridge::sandbox::{Request, RpcError, RpcHandler};
use serde_json::Value;

/// A proxy for a run of `code` with no servers, as the bridge would make one.
pub fn run_proxy(context: &ProxyContext, code: &str, asker: Option<Arc<dyn Asker>>) -> RunProxy {
    let run = RunCheck {
        run_id: format!("r-test-{}", code.len()),
        code: code.to_string(),
        servers: Vec::new(),
        timeout_seconds: 30,
        ..RunCheck::default()
    };
    RunProxy::new(
        context.clone(),
        run,
        Vec::new(),
        asker,
        std::sync::Arc::new(mcp_bridge::response::files::AttachedFiles::with_limits(
            2 << 20,
            8 << 20,
        )),
    )
}

/// A request as a run's `rpc` frame carries it, answered by `proxy`; the result as the sandbox gets it (JSON).
pub async fn rpc(proxy: &RunProxy, method: &str, params: Value) -> Result<Value, RpcError> {
    let response = proxy.handle(Request::parse(method, params)).await?;
    Ok(serde_json::to_value(response).expect("a response is JSON"))
}

/// An [`Asker`] that records every question and answers `accept`.
pub struct RecordingAsker {
    prompts: Mutex<Vec<String>>,
    accept: bool,
}

impl RecordingAsker {
    pub fn new(accept: bool) -> Arc<Self> {
        Arc::new(RecordingAsker {
            prompts: Mutex::new(Vec::new()),
            accept,
        })
    }

    pub fn prompts(&self) -> Vec<String> {
        self.prompts.lock().unwrap().clone()
    }
}

impl Asker for RecordingAsker {
    fn ask(&self, prompt: String) -> BoxFuture<'static, Result<bool, String>> {
        self.prompts.lock().unwrap().push(prompt);
        let accept = self.accept;
        Box::pin(async move { Ok(accept) })
    }
}

pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
