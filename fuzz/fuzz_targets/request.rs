//! The request parser: `{"method": …, "params": …}` → a typed request or an error. A request round-trips; an
//! error names the method exactly when it is one of the protocol's, and its message stays short.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_bridge_fuzz::protocol::{Method, Request};
use mcp_bridge_fuzz::{MAX_MESSAGE, assert_round_trip};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(mut call)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Some(Value::String(method)) = call.remove("method") else {
        return;
    };
    let params = call.remove("params").unwrap_or(Value::Null);
    match Request::parse(&method, params) {
        Ok(request) => {
            assert_eq!(request.method().name(), method);
            assert_round_trip(&request);
        }
        Err(error) => {
            assert_eq!(error.method, method.parse::<Method>().ok(), "{error}");
            assert!(error.to_string().len() <= MAX_MESSAGE, "{error}");
        }
    }
});
