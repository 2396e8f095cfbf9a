//! Files out and files in, against the real engine and through a real MCP client over stdio: a PNG made with the
//! standard library and a CSV come back as image and resource content, a file over the limit is listed with
//! the reason, a session sends only what changed, and the user's `[inputs]` directories are readable in the
//! sandbox while links out of them and a project's own `[inputs]` are not.

mod common;

use std::process::Stdio;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::project::Project;
use common::stdout;
use mcp_bridge::bridge::{Bridge, Caller, Response};
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock, ResourceContents};
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// A 4×3 red PNG written with zlib and struct only (no imaging library in the image), its sha256 printed.
const MAKE_PNG: &str = r#"
import hashlib, os, struct, zlib
os.makedirs("/workspace/out", exist_ok=True)
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
rows = b"".join(b"\0" + b"\xff\0\0" * 4 for _ in range(3))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 3, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
open("/workspace/out/plot.png", "wb").write(png)
print(hashlib.sha256(png).hexdigest())
"#;

/// `bridge serve` for `project` (its home, state and config; run in its directory), driven by an rmcp client.
async fn serve(
    project: &Project,
    extra: &[(&str, &str)],
) -> rmcp::service::RunningService<RoleClient, ()> {
    let mut command = common::serve_command();
    command.current_dir(project.dir.path());
    for (key, value) in project.vars() {
        command.env(key, value);
    }
    for (key, value) in extra {
        command.env(key, value);
    }
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(Stdio::null())
        .spawn()
        .expect("bridge serve starts");
    ().serve(transport).await.expect("initialize")
}

async fn call(
    client: &rmcp::service::RunningService<RoleClient, ()>,
    code: &str,
) -> CallToolResult {
    client
        .call_tool(
            CallToolRequestParams::new("run_python")
                .with_arguments(common::args(json!({"code": code, "timeout": 30}))),
        )
        .await
        .expect("run_python answers")
}

fn text_of(result: &CallToolResult) -> &str {
    match &result.content[0] {
        ContentBlock::Text(text) => &text.text,
        other => panic!("the first block is the encoder's text, not {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_png_and_a_csv_come_back_as_content_and_a_file_over_the_limit_is_listed_with_the_reason()
{
    common::engine().await;
    let project = Project::new(json!({}));
    // The pool is on (its default): the files come back from warm containers as from cold ones.
    let client = serve(&project, &[("MCP_BRIDGE_MAX_ATTACHMENT", "4k")]).await;
    let code = format!(
        "{MAKE_PNG}\nopen('/workspace/out/table.csv', 'w').write('city,n\\nOslo,3\\n')\n\
         open('/workspace/out/big.bin', 'wb').write(b'x' * 10000)\n"
    );
    let result = call(&client, &code).await;
    assert_eq!(result.is_error, Some(false), "{result:?}");
    let text = text_of(&result);
    let digest = text.lines().next().expect("the PNG's sha256").to_string();
    assert!(
        text.ends_with(
            "attached: plot.png (image/png, 73 B), table.csv (text/csv, 14 B) — not attached: big.bin: \
             9.77 KiB is over the per-file limit of 4.00 KiB (MCP_BRIDGE_MAX_ATTACHMENT)"
        ),
        "{text}"
    );

    assert_eq!(result.content.len(), 3, "{:?}", result.content);
    match &result.content[1] {
        ContentBlock::Image(image) => {
            assert_eq!(image.mime_type, "image/png");
            let png = BASE64.decode(&image.data).expect("base64");
            assert_eq!(format!("{:x}", Sha256::digest(&png)), digest);
        }
        other => panic!("the PNG is image content, not {other:?}"),
    }
    match &result.content[2] {
        ContentBlock::Resource(embedded) => match &embedded.resource {
            ResourceContents::TextResourceContents {
                uri,
                mime_type,
                text,
                ..
            } => {
                assert!(uri.starts_with("mcp-bridge://runs/r"), "{uri}");
                assert!(uri.ends_with("/table.csv"), "{uri}");
                assert_eq!(mime_type.as_deref(), Some("text/csv"));
                assert_eq!(text, "city,n\nOslo,3\n");
            }
            other => panic!("the CSV is a text resource, not {other:?}"),
        },
        other => panic!("the CSV is an embedded resource, not {other:?}"),
    }
    let structured = result.structured_content.expect("structuredContent");
    assert_eq!(
        structured["files"],
        // In the order they came: the files of out/ by name.
        json!([
            {"name": "big.bin", "bytes": 10000,
             "skipped": "9.77 KiB is over the per-file limit of 4.00 KiB (MCP_BRIDGE_MAX_ATTACHMENT)"},
            {"name": "plot.png", "mimeType": "image/png", "bytes": 73},
            {"name": "table.csv", "mimeType": "text/csv", "bytes": 14}
        ])
    );

    // A run that hands nothing back has nothing but its text.
    let plain = call(&client, "print('just text')").await;
    assert_eq!(plain.content.len(), 1);
    assert_eq!(text_of(&plain), "just text");
    assert!(plain.structured_content.unwrap().get("files").is_none());
    client.cancel().await.ok();
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn the_users_input_directories_are_copied_in_and_nothing_else_is() {
    common::engine().await;
    let project = Project::new(json!({}));
    let data = project.path("data");
    let forbidden = project.path("forbidden");
    std::fs::create_dir_all(data.join("2026")).unwrap();
    std::fs::create_dir_all(&forbidden).unwrap();
    std::fs::write(data.join("sales.csv"), "region,total\nnorth,12\n").unwrap();
    std::fs::write(data.join("2026/q1.csv"), "q1\n").unwrap();
    std::fs::write(forbidden.join("id_rsa"), "PRIVATE KEY").unwrap();
    // A link inside the permitted directory to the forbidden one, and to a file in it.
    std::os::unix::fs::symlink(&forbidden, data.join("keys")).unwrap();
    std::os::unix::fs::symlink(forbidden.join("id_rsa"), data.join("id_rsa")).unwrap();
    // The project's own config asks for the forbidden directory: only the user's file can list inputs.
    std::fs::create_dir_all(project.path(".mcp-bridge")).unwrap();
    std::fs::write(
        project.path(".mcp-bridge/config.toml"),
        format!("[inputs]\nkeys = {:?}\n", forbidden.display().to_string()),
    )
    .unwrap();
    let project = project.with_config(&format!(
        "[inputs]\nsales = {:?}\n",
        data.display().to_string()
    ));

    let client = serve(&project, &[]).await;
    let result = call(
        &client,
        "import os\n\
         for d, dirs, files in sorted(os.walk('/workspace/in')):\n\
         \x20   for f in sorted(files):\n\
         \x20       p = os.path.join(d, f)\n\
         \x20       print(p, oct(os.stat(p).st_mode & 0o777), open(p).read().splitlines()[-1])\n\
         print(sorted(os.listdir('/workspace/in')), sorted(os.listdir('/workspace/in/sales')))\n\
         try:\n    open('/workspace/in/sales/sales.csv', 'a').write('x')\nexcept PermissionError as e:\n    print('read-only')\n",
    )
    .await;
    assert_eq!(result.is_error, Some(false), "{result:?}");
    assert_eq!(
        text_of(&result).lines().collect::<Vec<_>>(),
        [
            "/workspace/in/sales/sales.csv 0o444 north,12",
            "/workspace/in/sales/2026/q1.csv 0o444 q1",
            "['sales'] ['2026', 'sales.csv']",
            "read-only",
        ]
    );
    client.cancel().await.ok();

    // A listed directory that is gone is a clear error before anything runs.
    std::fs::remove_dir_all(&data).unwrap();
    let client = serve(&project, &[]).await;
    let result = call(&client, "print('never')").await;
    assert_eq!(result.is_error, Some(true));
    let text = text_of(&result);
    assert!(
        text.contains("input 'sales'") && text.contains("[inputs]"),
        "{text}"
    );
    assert!(!text.contains("never"), "{text}");
    client.cancel().await.ok();
}

async fn session_call(bridge: &Bridge, code: &str) -> Response {
    bridge
        .run_python_for(
            &common::args(json!({"code": code, "session": "plots"})),
            &CancellationToken::new(),
            Caller {
                connection: Some("connection"),
                ..Default::default()
            },
        )
        .await
        .expect("not cancelled")
}

fn file_names(response: &Response) -> Vec<String> {
    response
        .files
        .iter()
        .map(|file| file.info.name.clone())
        .collect()
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn a_session_call_hands_back_only_the_files_it_made_or_changed() {
    common::engine().await;
    let project = Project::new(json!({}));
    std::fs::create_dir_all(project.path("data")).unwrap();
    std::fs::write(project.path("data/rows.txt"), "1\n2\n").unwrap();
    let rows = project.path("data").display().to_string();
    let project = project
        .var("MCP_BRIDGE_POOL_SIZE", "0")
        .with_config(&format!("[inputs]\nrows = {rows:?}\n"));
    let bridge = project.bridge();

    let first = session_call(
        &bridge,
        "import os\nos.mkdir('out')\nopen('out/a.txt', 'w').write('a')\nopen('out/b.txt', 'w').write('b')\n\
         print(len(open('in/rows/rows.txt').read().split()))",
    )
    .await;
    assert_eq!(stdout(&first), ["2"], "{:?}", first.payload);
    assert_eq!(file_names(&first), ["a.txt", "b.txt"]);

    let second = session_call(
        &bridge,
        "import os\nopen('out/b.txt', 'w').write('b, longer')\nopen('out/c.txt', 'w').write('c')\n\
         print(sorted(os.listdir('out')), os.path.exists('in/rows/rows.txt'))",
    )
    .await;
    assert_eq!(
        stdout(&second),
        ["['a.txt', 'b.txt', 'c.txt'] True"],
        "{:?}",
        second.payload
    );
    assert_eq!(file_names(&second), ["b.txt", "c.txt"]);
    let b = &second.files[0];
    assert_eq!(b.data.as_deref(), Some(&b"b, longer"[..]));

    let third = session_call(&bridge, "print('nothing new')").await;
    assert!(third.files.is_empty());
    assert_eq!(third.payload.to_value().get("files"), None::<&Value>);
    common::finish(&bridge).await;
}

#[tokio::test]
#[ignore = "needs a Docker engine, the sandbox image and PyPI: run scripts/test, or cargo test -- --include-ignored"]
async fn matplotlib_figures_left_open_come_back_as_pngs_and_bridge_run_saves_them() {
    let docker = common::engine().await;
    let tag = format!("mcp-bridge/test-matplotlib:{}", std::process::id());
    let bridge = |args: &[&str], image: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_bridge"))
            .args(args)
            .env("MCP_BRIDGE_IMAGE", image)
            .env("MCP_BRIDGE_LOG_LEVEL", "warn")
            .output()
            .expect("bridge runs")
    };
    let built = bridge(
        &[
            "image",
            "build",
            "--with",
            "matplotlib==3.9.2",
            "--tag",
            &tag,
            "--no-record",
        ],
        &common::image(),
    );
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).to_string();
    assert!(built.status.success(), "{}", text(&built.stderr));

    let saved = tempfile::TempDir::new().unwrap();
    let dir = saved.path().join("files");
    let run = bridge(
        &[
            "run",
            "--save-files",
            &dir.display().to_string(),
            "-c",
            "import matplotlib.pyplot as plt\n\
             fig, ax = plt.subplots()\nax.plot([1, 2, 3], [1, 4, 9])\nplt.show()\n\
             plt.figure()\nplt.bar(['a', 'b'], [3, 5])\nprint(runtime.show()['name'])\n",
        ],
        &tag,
    );
    common::remove_images(&docker, &[&tag]).await;
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let said = text(&run.stdout);
    // runtime.show() sent the bar chart at once; the line plot, left open after plt.show(), at the end.
    assert!(
        said.starts_with("figure-2.png\nattached: figure-2.png (image/png, "),
        "{said}"
    );
    assert!(said.contains(", figure-1.png (image/png, "), "{said}");
    for name in ["figure-1.png", "figure-2.png"] {
        let png = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is a PNG");
        assert!(
            png.len() > 2000,
            "{name} is a drawn figure: {} bytes",
            png.len()
        );
    }
    assert!(
        text(&run.stderr).contains("bridge: saved "),
        "{}",
        text(&run.stderr)
    );
}
