//! The `config-files` discovery plugin's parser, on any file a client may have written: JSON, JSON with comments
//! and trailing commas, TOML. It never panics; every entry it returns has a name and a command or a URL; an
//! error says where, briefly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_bridge_fuzz::MAX_MESSAGE;
use mcp_bridge_fuzz::config_files::parse_file;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the file's name (and so its format), as the clients name them.
    let Some((&knob, bytes)) = data.split_first() else {
        return;
    };
    let path = match knob % 4 {
        0 => "/home/u/.claude.json",
        1 => "/home/u/project/.vscode/mcp.json",
        2 => "/home/u/.codex/config.toml",
        _ => "/home/u/.config/Code/User/settings.json",
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    match parse_file(path, text) {
        Ok(entries) => {
            for entry in entries {
                assert!(entry.command.is_some() || entry.url.is_some(), "{entry:?}");
            }
        }
        Err(error) => assert!(
            error.len() <= MAX_MESSAGE + text.len().min(MAX_MESSAGE),
            "{error}"
        ),
    }
});
