//! `bridge`: see the library crate, `mcp_bridge`, for how a call flows.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    mcp_bridge::cli::main().await
}
