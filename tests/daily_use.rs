//! What a user meets after the first run, through the real binary: `bridge doctor` (all green on a healthy
//! setup; each broken part named with its fix: the engine stopped, the image missing, a plugin that does not
//! load, a server that does not start), `bridge install` into each client's own config format, and
//! `bridge image build` baking a package from PyPI into an image that runs then use, and building the sandbox
//! image itself with no registry.

mod common;

use std::process::Output;

use common::project::Project;
use serde_json::{Value, json};

/// `bridge ARGS` with the test image and `env`.
fn bin(args: &[&str], env: &[(&str, &str)]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args(args)
        .env("MCP_BRIDGE_IMAGE", common::image())
        .env("MCP_BRIDGE_LOG_LEVEL", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("bridge runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn doctor(project: &Project, extra: &[(&str, &str)], json: bool) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_bridge"));
    command
        .arg("doctor")
        .current_dir(project.path("."))
        .envs(project.vars())
        .env("MCP_BRIDGE_IMAGE", common::image())
        .env("MCP_BRIDGE_LOG_LEVEL", "error")
        .envs(extra.iter().copied());
    if json {
        command.arg("--json");
    }
    command.output().expect("bridge doctor runs")
}

fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "{error}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The check called `name`.
fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn on_a_healthy_setup_every_check_is_green() {
    let docker = common::engine().await;
    let project = Project::stub();
    let output = doctor(&project, &[], true);
    let found = report(&output);
    assert_eq!(output.status.code(), Some(0), "{found:#}");
    assert_eq!(found["runs_work"], true);
    for check in found["checks"].as_array().unwrap() {
        assert_eq!(check["outcome"], "ok", "{check:#}");
    }
    for name in [
        "engine",
        "rootless",
        "runtime",
        "image",
        "state dir",
        "cache dir",
        "inputs",
        "run",
        "seccomp",
        "privileges",
    ] {
        check(&found, name);
    }
    assert!(
        check(&found, "engine")["detail"]
            .as_str()
            .unwrap()
            .contains("API 1.")
    );
    assert!(check(&found, "run")["ms"].as_f64().unwrap() > 0.0);
    assert!(
        check(&found, "seccomp")["detail"]
            .as_str()
            .unwrap()
            .contains("Seccomp: 2")
    );
    assert!(
        check(&found, "privileges")["detail"]
            .as_str()
            .unwrap()
            .contains("uid 65534")
    );
    assert!(
        check(&found, "plugin toon")["detail"]
            .as_str()
            .unwrap()
            .contains("API ")
    );
    let stub = check(&found, "server stub")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        stub.starts_with("started, ") && stub.contains("tool(s)"),
        "{stub}"
    );

    // The text form says the same, and ends saying runs work.
    let text = doctor(&project, &[], false);
    assert_eq!(text.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("ok    seccomp")),
        "{stdout}"
    );
    assert!(stdout.ends_with("runs work; nothing to fix\n"), "{stdout}");

    // Under gVisor the sandbox's kernel is gVisor's own, and doctor says so rather than failing on the seccomp
    // profile it does not load (SECURITY.md).
    common::require_runtime(&docker, "runsc").await;
    let gvisor = report(&doctor(&project, &[("MCP_BRIDGE_RUNTIME", "runsc")], true));
    assert_eq!(gvisor["runs_work"], true, "{gvisor:#}");
    assert!(
        check(&gvisor, "seccomp")["detail"]
            .as_str()
            .unwrap()
            .starts_with("gVisor: ")
    );

    // An image the engine does not have: named, with both ways to get one; the run is not tried.
    let missing = doctor(
        &project,
        &[("MCP_BRIDGE_IMAGE", "mcp-bridge/no-such-image:1")],
        true,
    );
    assert_eq!(missing.status.code(), Some(1));
    let found = report(&missing);
    let image = check(&found, "image");
    assert_eq!(image["outcome"], "fail");
    let fix = image["fix"].as_str().unwrap();
    assert!(
        fix.contains("docker pull mcp-bridge/no-such-image:1"),
        "{fix}"
    );
    assert!(fix.contains("`bridge image build`"), "{fix}");
    assert_eq!(check(&found, "run")["outcome"], "skip");
}

#[test]
fn a_stopped_engine_a_broken_plugin_and_an_unstartable_server_are_each_named_with_their_fix() {
    let project = Project::new(json!({
        "stub": {"command": "python3", "args": [common::stub_script()]},
        "broken": {"command": "/nonexistent/mcp-server", "args": ["--stdio"]},
    }))
    .with_config("[inputs]\ngone = \"/nonexistent/data\"\n");
    std::fs::create_dir_all(project.path("plugins")).unwrap();
    std::fs::write(project.path("plugins/garbage.wasm"), "this is not wasm").unwrap();
    let plugins = project.path("plugins").display().to_string();
    let settings = [
        ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ("MCP_BRIDGE_PLUGIN_PATH", plugins.as_str()),
    ];
    let output = doctor(&project, &settings, true);
    assert_eq!(output.status.code(), Some(1));
    let found = report(&output);
    assert_eq!(found["runs_work"], false);

    let engine = check(&found, "engine");
    assert_eq!(engine["outcome"], "fail");
    assert!(
        engine["detail"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/docker.sock"),
        "{engine}"
    );
    assert!(
        engine["fix"].as_str().unwrap().contains("dockerd"),
        "{engine}"
    );
    for name in ["rootless", "runtime", "image", "run"] {
        assert_eq!(check(&found, name)["outcome"], "skip", "{name}");
    }

    let plugin = check(&found, "plugin garbage");
    assert_eq!(plugin["outcome"], "fail", "{plugin}");
    assert!(
        plugin["detail"]
            .as_str()
            .unwrap()
            .contains("not a loadable WebAssembly component")
    );
    assert!(
        plugin["fix"]
            .as_str()
            .unwrap()
            .contains("bridge plugin check"),
        "{plugin}"
    );

    let server = check(&found, "server broken");
    assert_eq!(server["outcome"], "warn", "{server}");
    assert!(
        server["fix"]
            .as_str()
            .unwrap()
            .contains("`/nonexistent/mcp-server --stdio` starts"),
        "{server}"
    );
    // A server that works is still reported as working; what is broken does not hide it.
    assert_eq!(check(&found, "server stub")["outcome"], "ok");

    // An input directory that is gone refuses every run: a failure, named with its fix.
    let inputs = check(&found, "inputs");
    assert_eq!(inputs["outcome"], "fail", "{inputs}");
    assert!(
        inputs["detail"]
            .as_str()
            .unwrap()
            .contains("input 'gone' (/nonexistent/data)"),
        "{inputs}"
    );
    assert!(
        inputs["fix"].as_str().unwrap().contains("[inputs]"),
        "{inputs}"
    );

    // The text form: each failure with its fix under it, and the count.
    let text = doctor(&project, &settings, false);
    assert_eq!(text.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("FAIL  engine")),
        "{stdout}"
    );
    assert!(stdout.contains("fix: start the engine"), "{stdout}");
    assert!(
        stdout.contains("runs cannot work until the 3 failure(s) above are fixed"),
        "{stdout}"
    );
}

#[test]
fn install_registers_the_bridge_with_each_client_in_its_own_format_once() {
    let home = tempfile::TempDir::new().unwrap();
    let path = |p: &str| home.path().join(p);
    let home_dir = home.path().display().to_string();
    let env = [
        ("HOME", home_dir.as_str()),
        ("XDG_CONFIG_HOME", ""),
        ("CODEX_HOME", ""),
    ];
    // Claude Code's file exists, with the user's own settings and a server: both stay.
    std::fs::write(
        path(".claude.json"),
        r#"{"numStartups": 3, "mcpServers": {"github": {"command": "gh-mcp"}}}"#,
    )
    .unwrap();
    for (client, file, key, transport) in [
        ("claude-code", ".claude.json", "mcpServers", Some("stdio")),
        (
            "claude-desktop",
            ".config/Claude/claude_desktop_config.json",
            "mcpServers",
            None,
        ),
        ("cursor", ".cursor/mcp.json", "mcpServers", None),
        (
            "vscode",
            ".config/Code/User/mcp.json",
            "servers",
            Some("stdio"),
        ),
    ] {
        let out = bin(&["install", "--client", client], &env);
        assert!(out.status.success(), "{client}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("registered 'mcp-bridge'"),
            "{client}"
        );
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path(file)).unwrap()).unwrap();
        let entry = &written[key]["mcp-bridge"];
        assert_eq!(entry["command"], env!("CARGO_BIN_EXE_bridge"), "{client}");
        assert_eq!(entry["args"], serde_json::json!(["serve"]), "{client}");
        assert_eq!(
            entry["env"]["MCP_BRIDGE_IMAGE"],
            common::image(),
            "{client}"
        );
        assert_eq!(entry["type"].as_str(), transport, "{client}");
        // Twice is once.
        let again = bin(&["install", "--client", client], &env);
        assert!(text(&again.stdout).contains("nothing changed"), "{client}");
    }
    let claude: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path(".claude.json")).unwrap()).unwrap();
    assert_eq!(claude["numStartups"], 3);
    assert_eq!(claude["mcpServers"]["github"]["command"], "gh-mcp");
    let backups: Vec<_> = std::fs::read_dir(home.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".bak"))
        .collect();
    assert_eq!(backups.len(), 1, "one backup, of the file that existed");

    // Codex: TOML, `[mcp_servers.NAME]`.
    let out = bin(&["install", "--client", "codex", "--name", "python"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let codex: toml::Table =
        toml::from_str(&std::fs::read_to_string(path(".codex/config.toml")).unwrap()).unwrap();
    let entry = &codex["mcp_servers"]["python"];
    assert_eq!(
        entry["command"].as_str(),
        Some(env!("CARGO_BIN_EXE_bridge"))
    );
    assert_eq!(entry["args"][0].as_str(), Some("serve"));

    // --print writes nothing; a malformed file is refused, untouched, naming it.
    let printed = bin(
        &[
            "install", "--client", "cursor", "--name", "other", "--print",
        ],
        &env,
    );
    assert!(text(&printed.stdout).contains("\"other\""));
    assert!(
        !std::fs::read_to_string(path(".cursor/mcp.json"))
            .unwrap()
            .contains("\"other\"")
    );
    std::fs::write(path(".cursor/mcp.json"), "{ not json").unwrap();
    let refused = bin(&["install", "--client", "cursor"], &env);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains(".cursor/mcp.json"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(path(".cursor/mcp.json")).unwrap(),
        "{ not json"
    );
}

#[tokio::test]
#[ignore = "needs a Docker engine, the sandbox image and PyPI: run scripts/test, or cargo test -- --include-ignored"]
async fn a_package_from_pypi_is_baked_into_an_image_that_runs_then_use() {
    let docker = common::engine().await;
    let project = Project::stub();
    let config = project.path("bridge.toml");
    std::fs::write(
        &config,
        "# the user's own\n[limits]\ncall-timeout-ms = 500\n",
    )
    .unwrap();
    let config_path = config.display().to_string();
    let tag = format!("mcp-bridge/test-packages:{}", std::process::id());
    let mut vars = project.vars();
    vars.push(("MCP_BRIDGE_CONFIG".into(), config_path.clone()));
    let bridge_in = |args: &[&str], image: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_bridge"));
        command
            .args(args)
            .current_dir(project.path("."))
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("MCP_BRIDGE_LOG_LEVEL", "warn")
            .env_remove("MCP_BRIDGE_IMAGE");
        if let Some(image) = image {
            command.env("MCP_BRIDGE_IMAGE", image);
        }
        command.output().expect("bridge runs")
    };
    // six: a small pure-Python wheel; PyYAML: a wheel with a C extension, built for the image's glibc.
    let built = bridge_in(
        &[
            "image",
            "build",
            "--with",
            "six==1.16.0",
            "--with",
            "pyyaml==6.0.2",
            "--tag",
            &tag,
        ],
        Some(&common::image()),
    );
    let cleanup = async || common::remove_images(&docker, &[&tag]).await;
    if !built.status.success() {
        cleanup().await;
        panic!("{}\n{}", text(&built.stdout), text(&built.stderr));
    }
    let said = text(&built.stdout);
    assert!(said.contains(&format!("built {tag} (sha256:")), "{said}");
    let recorded = std::fs::read_to_string(&config).unwrap();
    assert!(
        recorded.starts_with("# the user's own\n[limits]\ncall-timeout-ms = 500\n"),
        "{recorded}"
    );
    assert!(
        recorded.contains("[sandbox]") && recorded.contains("image = \"sha256:"),
        "{recorded}"
    );

    // With MCP_BRIDGE_IMAGE unset, runs use the recorded image, and the package imports in the sandbox.
    let run = bridge_in(
        &[
            "run",
            "-c",
            "import six, yaml; print(six.__version__, yaml.__version__, yaml.__with_libyaml__)",
        ],
        None,
    );
    let ls = bridge_in(&["image", "ls", "--json"], None);
    cleanup().await;
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    assert_eq!(text(&run.stdout).trim(), "1.16.0 6.0.2 True");
    let listed: Value = serde_json::from_slice(&ls.stdout).unwrap();
    let running: Vec<&Value> = listed["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|image| image["runs"] == true)
        .collect();
    assert_eq!(running.len(), 1, "{listed:#}");
    assert_eq!(
        running[0]["packages"],
        json!(["PyYAML==6.0.2", "six==1.16.0"])
    );
    assert_eq!(running[0]["base"], common::image());

    // --rebuild is about the base image, which a package build does not touch: refused, saying so.
    let mixed = bin(&["image", "build", "--with", "six", "--rebuild"], &[]);
    assert_eq!(mixed.status.code(), Some(1));
    assert!(
        text(&mixed.stderr).contains("--rebuild remakes the base image"),
        "{}",
        text(&mixed.stderr)
    );
}

#[tokio::test]
#[ignore = "needs a Docker engine, the sandbox image and docker-registry: run scripts/test, or cargo test -- --include-ignored"]
async fn a_pull_draws_a_bar_per_layer_on_a_terminal_and_plain_lines_otherwise() {
    use bollard::query_parameters::{PushImageOptionsBuilder, RemoveImageOptions};
    use futures::StreamExt;

    let docker = common::engine().await;
    let registry_bin = "/usr/bin/docker-registry";
    if !std::path::Path::new(registry_bin).exists() {
        common::missing(registry_bin, "apt-get install docker-registry");
    }
    // A real registry on loopback (the engine allows plain HTTP to 127.0.0.0/8), with one image whose top layer
    // is not on the engine once its local copy is removed.
    let dir = tempfile::TempDir::new().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
        dir.path().join("data").display()
    );
    std::fs::write(dir.path().join("config.yml"), config).unwrap();
    let _registry = tokio::process::Command::new(registry_bin)
        .arg("serve")
        .arg(dir.path().join("config.yml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    common::eventually("the registry answers", || async {
        reqwest::get(format!("http://127.0.0.1:{port}/v2/"))
            .await
            .is_ok()
    })
    .await;

    let name = format!("127.0.0.1:{port}/pull-test");
    let reference = format!("{name}:{}", std::process::id());
    let mut random = vec![0u8; 2 << 20];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").unwrap(),
        &mut random,
    )
    .unwrap();
    let mut context = tar::Builder::new(Vec::new());
    for (path, data) in [
        (
            "Dockerfile",
            format!("FROM {}\nCOPY blob /blob\n", common::image()).into_bytes(),
        ),
        ("blob", random),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        context
            .append_data(&mut header, path, data.as_slice())
            .unwrap();
    }
    mcp_bridge::sandbox::images::build(&docker, &reference, context.into_inner().unwrap(), |_| {})
        .await
        .unwrap();
    let push = PushImageOptionsBuilder::default()
        .tag(&std::process::id().to_string())
        .build();
    let mut pushing = docker.push_image(&name, Some(push), None);
    while let Some(item) = pushing.next().await {
        let info = item.unwrap();
        assert!(info.error_detail.is_none(), "{info:?}");
    }
    let remove = async || {
        let _ = docker
            .remove_image(&reference, None::<RemoveImageOptions>, None)
            .await;
    };
    let bridge = env!("CARGO_BIN_EXE_bridge");

    // Not on the engine but in its registry: doctor warns (runs would pull it) instead of failing.
    remove().await;
    let project = Project::new(json!({}));
    let found = report(&doctor(&project, &[("MCP_BRIDGE_IMAGE", &reference)], true));
    let image = check(&found, "image");
    assert_eq!(image["outcome"], "warn", "{image}");
    assert!(
        image["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("bridge image pull {reference}")),
        "{image}"
    );
    assert_eq!(found["runs_work"], true, "{found:#}");

    // On a terminal (a pseudo-terminal from `script`): bars, redrawn in place.
    let drawn = std::process::Command::new("script")
        .args([
            "-qfec",
            &format!("{bridge} image pull {reference}"),
            "/dev/null",
        ])
        .env("MCP_BRIDGE_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    let screen = text(&drawn.stdout);
    assert!(drawn.status.success(), "{screen}");
    assert!(screen.contains("\x1b["), "redrawn in place: {screen:?}");
    assert!(
        screen.contains("Pull complete") && screen.contains(" MiB/2.00 MiB"),
        "{screen:?}"
    );
    assert!(
        screen.contains("[=============================="),
        "a full bar: {screen:?}"
    );

    // Without one: a plain line per layer status, nothing else.
    remove().await;
    let plain = std::process::Command::new(bridge)
        .args(["image", "pull", &reference])
        .env("MCP_BRIDGE_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    remove().await;
    let lines = text(&plain.stderr);
    assert!(plain.status.success(), "{lines}");
    assert!(!lines.contains('\x1b'), "{lines:?}");
    assert!(
        lines.lines().any(|l| l.ends_with(": Pull complete")),
        "{lines}"
    );
    assert!(
        lines.lines().any(|l| l.ends_with(": Already exists")),
        "{lines}"
    );
    assert!(text(&plain.stdout).starts_with(&format!("pulled {reference} (sha256:")));
}

#[tokio::test]
#[ignore = "needs a Docker engine, root, debootstrap and a Debian mirror: run scripts/test, or cargo test -- --include-ignored"]
async fn the_sandbox_image_is_built_with_no_registry_and_its_runtime_layer_redone_only_when_needed()
{
    let docker = common::engine().await;
    if !std::path::Path::new("/usr/sbin/debootstrap").exists() {
        common::missing("/usr/sbin/debootstrap", "apt-get install debootstrap");
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        common::missing("root (debootstrap needs it)", "run the tests as root");
    }
    let tag = format!("mcp-bridge/test-offline:{}", std::process::id());
    let base = format!("{tag}-base");
    let cleanup = async || common::remove_images(&docker, &[&tag, &base]).await;
    let build = || bin(&["image", "build", "--tag", &tag, "--no-record"], &[]);
    let first = build();
    if !first.status.success() {
        cleanup().await;
        panic!("{}\n{}", text(&first.stdout), text(&first.stderr));
    }
    // With no terminal, each stage is a plain line: debootstrap's stages, the import, the runtime layer.
    let said = text(&first.stderr);
    for stage in [
        "debootstrap bookworm (minbase + python3) from http://deb.debian.org/debian",
        "  Retrieving ",
        "  Extracting ",
        "  Configuring ",
        &format!("importing the root filesystem into the engine as {tag}-base"),
        &format!("iB as {tag}-base"),
        "adding the runtime's bytecode (runtime ",
        "  Step 1/",
    ] {
        assert!(said.contains(stage), "{stage:?} in:\n{said}");
    }
    let stdout = text(&first.stdout);
    assert!(
        stdout.starts_with(&format!("built {tag} (sha256:")),
        "{stdout}"
    );
    assert!(stdout.contains("not recorded (--no-record)"), "{stdout}");

    // Runs in it work, and load the runtime from its bytecode cache: one compiled file per runtime module.
    let run = bin(
        &[
            "run",
            "-c",
            "import os, sys; print(sys.version_info[:2], len(os.listdir('/usr/lib/mcp-bridge/bytecode')))",
        ],
        &[("MCP_BRIDGE_IMAGE", tag.as_str())],
    );
    let modules = mcp_bridge::sandbox::runtime_files().count();
    let again = build();
    cleanup().await;
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    assert_eq!(text(&run.stdout).trim(), format!("(3, 11) {modules}"));

    // Again: the base is there and the runtime layer is this runtime's, so nothing is built.
    assert!(again.status.success(), "{}", text(&again.stderr));
    let said = text(&again.stderr);
    assert!(
        said.contains(&format!("base: {tag}-base is there")),
        "{said}"
    );
    assert!(
        said.contains(&format!("{tag} is up to date (runtime ")),
        "{said}"
    );
    assert!(!said.contains("debootstrap bookworm"), "{said}");
}
