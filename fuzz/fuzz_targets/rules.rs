//! The `rules` policy's configuration, as the user writes it (JSON, from `[plugins.rules.config]`): parsing never
//! panics, an error names what is wrong briefly, and a configuration that parses decides any call and any run
//! without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_bridge_fuzz::MAX_MESSAGE;
use mcp_bridge_fuzz::rules::{Annotations, Call, Config, Run};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match Config::parse(text) {
        Ok(config) => config,
        Err(error) => {
            assert!(error.len() <= MAX_MESSAGE, "{error}");
            return;
        }
    };
    let servers = ["github".to_string()];
    for (server, tool) in [
        ("github", "delete_repo"),
        ("stub", "echo"),
        ("", ""),
        ("a*b", "x?y"),
    ] {
        let annotations = Annotations {
            read_only: Some(false),
            destructive: Some(true),
            ..Annotations::default()
        };
        config.check_call(&Call {
            server,
            tool,
            annotations,
        });
    }
    config.check_run(&Run {
        code: "import os; os.system('x')",
        servers: &servers,
        timeout_seconds: 600,
    });
});
