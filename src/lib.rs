//! mcp-bridge: an MCP server with one tool, `run_python`, that runs the model's Python in a hardened container.
//!
//! Follow one call: [`mcp::BridgeServer`] (the MCP tool) → [`bridge::Bridge::run_python`] → [`request::ArgumentChecker`]
//! (checked arguments) → [`sandbox::Sandbox::run`] (a fresh container, frames in, container removed) →
//! [`response::Payload`] → [`response::encode`] (text for the model).

pub mod bridge;
pub mod cli;
pub mod config;
pub mod mcp;
pub mod plugins;
pub mod project;
pub mod proxy;
pub mod request;
pub mod response;
pub mod sandbox;
pub mod state;
pub mod store;
pub mod upstream;
