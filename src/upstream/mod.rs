//! The user's own MCP servers ("upstream" of the sandbox): which ones are configured, under which Python names,
//! and (as the proxying work lands) how the sandbox reaches their tools.

pub mod discovery;
