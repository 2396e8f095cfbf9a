//! mcp-bridge: an MCP server with one tool, `run_python`, that runs the model's Python in a hardened container.
//!
//! Follow one call: [`mcp::BridgeServer`] (the MCP tool) → [`bridge::Bridge::run_python`] → [`request::ArgumentChecker`]
//! (checked arguments) → [`sandbox::Sandbox::run`] (a fresh container, frames in, container removed) →
//! [`response::Payload`] → [`response::encode`] (text for the model).
//!
//! Where each concern lives:
//! - [`config`]: every setting: the `MCP_BRIDGE_*` environment, and the config files' layers
//!   ([`config::settings`]: plugin entries, plugin call limits, the audit log);
//! - [`servers`]: the configured MCP servers as plain data: entries, merging, aliases, self-references (a leaf,
//!   shared by the plugin host that finds them and the clients that start them);
//! - [`plugins`]: the WebAssembly host: policies, encoders and discovery sources;
//! - [`upstream`]: the live clients of the user's MCP servers, and the [`upstream::catalog`] of their tools;
//! - [`proxy`]: a run's requests to the host: tool calls, search, memory and saved tools, the audit log;
//! - [`sandbox`]: the container engine, the container and the frames on its stdio;
//! - [`request`], [`response`]: the tool's arguments and its result, with their schemas;
//! - [`mcp`], [`cli`]: the two faces (MCP server, command line) over [`bridge::Bridge`];
//! - [`project`]: the working directory and the user's trust in it; [`state`]: the state directory's files.

pub mod bridge;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod mcp;
pub mod plugins;
pub mod project;
pub mod proxy;
pub mod request;
pub mod response;
pub mod sandbox;
pub mod servers;
pub mod state;
pub mod store;
pub mod upstream;
