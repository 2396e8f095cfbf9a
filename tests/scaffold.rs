//! `bridge plugin new`: for each language, the project it writes builds with its one documented command into a
//! component that `bridge plugin check` accepts (world and plugin API 0.2.0) and that decides as its template says
//! when the host loads it. Rust and JavaScript are tried with every kind; Python (whose builds and first loads
//! take tens of seconds) with the policy. And the plugin guide (`plugins/README.md`): each walkthrough's code,
//! pasted into such a project as the guide says, builds and decides as the guide says, checked with the guide's
//! own `bridge plugin test` cases — so the guide cannot rot.
//!
//! Needs node and npm (JavaScript; `npm ci` in `plugins/sdk-js` for `tsc`, which type-checks the projects), python3 with venv (Python: componentize-py goes into the shared
//! `plugins/examples/.venv`, as `plugins/examples/build-all.sh` makes it) and the wasm32-wasip2 Rust target. A
//! missing tool is a loud SKIPPED locally and a failure under `CI=true`. npm and PyPI are used with pinned versions.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use mcp_bridge::plugins::{
    CallCheck, CallLimits, DiscoveryContext, PluginHost, ResultCheck, ResultVerdict, RunCheck,
    Verdict,
};
use mcp_bridge::response::Payload;
use serde_json::json;
use tempfile::TempDir;

const COMPONENTIZE_PY: &str = "0.25.1";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether `program --version` runs; if not, a failure under CI and a loud skip elsewhere.
fn have(program: &str, what: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(!in_ci(), "CI=true but `{program}` is missing: {what}");
        eprintln!("\n!!!!! SKIPPED: `{program}` is not installed, so {what} is not tested !!!!!\n");
    }
    found
}

fn bridge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args(args)
        .env("MCP_BRIDGE_CACHE_DIR", cache_dir())
        .output()
        .expect("running bridge")
}

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold-plugin-cache")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `bridge plugin new` into a fresh directory; returns it and the project directory.
fn new_project(lang: &str, kind: &str, name: &str) -> (TempDir, PathBuf) {
    let parent = TempDir::new().unwrap();
    let dir = parent.path().display().to_string();
    let output = bridge(&[
        "plugin", "new", "--lang", lang, "--kind", kind, name, "--dir", &dir,
    ]);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "plugin new {lang} {kind}: {stdout}{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("bridge plugin check"), "{stdout}");
    assert!(stdout.contains("mcp-bridge/plugins"), "{stdout}");
    let project = parent.path().join(name);
    assert!(project.join("wit/plugin.wit").is_file());
    (parent, project)
}

/// Runs a project's one build command (`sh -c`, as documented) and returns the component it printed or wrote.
fn build(project: &Path, command: &str, envs: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", command]).current_dir(project);
    for (key, value) in envs {
        cmd.env(key, value);
    }
    // The outer cargo's settings are not the project's.
    for key in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
        cmd.env_remove(key);
    }
    let output = cmd.output().expect("running the build command");
    assert!(
        output.status.success(),
        "`{command}` in {} failed:\n{}{}",
        project.display(),
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

/// `bridge plugin check` accepts the component as the kind asked for, built against API 0.2.0.
fn check(component: &Path, kind: &str, name: &str) {
    assert!(component.is_file(), "{} was not built", component.display());
    let output = bridge(&["plugin", "check", &component.display().to_string()]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(
        stdout.contains(&format!("world:       {kind}-plugin\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("name:        {name}\n")),
        "{stdout}"
    );
    assert!(stdout.contains("plugin API:  0.2.0\n"), "{stdout}");
    assert!(stdout.contains("configure:   ok\n"), "{stdout}");

    // The templates take no settings, and say so.
    let output = bridge(&[
        "plugin",
        "check",
        &component.display().to_string(),
        "--config",
        r#"{"colour": "red"}"#,
    ]);
    let stdout = text(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("colour"), "{stdout}");
}

fn load(component: &Path) -> PluginHost {
    let host = PluginHost::single(component, "{}", CallLimits::default()).unwrap();
    let report = &host.reports()[0];
    assert_eq!(report.status, "loaded", "{report:?}");
    host
}

fn call(tool: &str) -> CallCheck {
    CallCheck {
        run_id: "r-scaffold".into(),
        server: "files".into(),
        tool: tool.into(),
        arguments: r#"{"path": "/tmp/x"}"#.into(),
        ..CallCheck::default()
    }
}

/// The policy template: `delete` denied, `write` asked, the rest allowed, results untouched.
fn policy_decides(component: &Path, name: &str) {
    let host = load(component);
    match host.check_call(&call("delete_file")) {
        Verdict::Deny { plugin, reason } => {
            assert_eq!(plugin, name);
            assert!(reason.contains("delete_file on files"), "{reason}");
        }
        other => panic!("{name}: delete_file should be denied, got {other:?}"),
    }
    assert!(
        matches!(host.check_call(&call("write_file")), Verdict::Ask { .. }),
        "{name}: write_file should ask"
    );
    assert_eq!(
        host.check_call(&call("read_file")),
        Verdict::Allow,
        "{name}"
    );
    let run = RunCheck {
        run_id: "r".into(),
        code: "print(1)".into(),
        timeout_seconds: 5,
        ..RunCheck::default()
    };
    assert_eq!(host.check_run(&run), Verdict::Allow, "{name}");
    let result = ResultCheck {
        call: call("read_file"),
        result: json!({"content": [{"type": "text", "text": "token=abc"}]}).to_string(),
    };
    assert_eq!(host.check_result(&result), ResultVerdict::Allow, "{name}");
}

/// The encoder template: plain text with the summary and each stream.
fn encoder_renders(component: &Path, name: &str) {
    let host = load(component);
    let payload: Payload = serde_json::from_value(json!({
        "status": "error", "summary": "Sandbox error", "exitCode": 1,
        "stdout": ["hello"], "stderr": ["Traceback", "ValueError: boom"], "error": "exited with code 1"
    }))
    .unwrap();
    let (text, mime) = host.encode(name, &payload).unwrap();
    assert_eq!(mime, "text/plain", "{name}");
    assert_eq!(
        text,
        "error: Sandbox error\nexit code: 1\n\nstdout:\nhello\n\nstderr:\nTraceback\nValueError: boom\n\n\
         error: exited with code 1",
        "{name}"
    );
}

/// The discovery template: the project's `mcp-servers.json`, stdio and HTTP entries.
fn discovery_reads(component: &Path, name: &str) {
    let host = load(component);
    let home = TempDir::new().unwrap();
    let project = home.path().join("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("mcp-servers.json"),
        json!({"mcpServers": {
            "files": {"command": "npx", "args": ["-y", "files-server"], "env": {"ROOT": "/srv"}},
            "web": {"url": "http://127.0.0.1:9/mcp", "type": "http", "disabled": true},
        }})
        .to_string(),
    )
    .unwrap();
    let found = host.discover(&DiscoveryContext {
        home: home.path().to_path_buf(),
        cwd: project.clone(),
        env: Box::new(|_| None),
    });
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    assert!(found[0].project, "{name}");
    let mut entries = found[0].entries.clone().unwrap();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(entries.len(), 2, "{name}: {entries:?}");
    let (files, web) = (&entries[0], &entries[1]);
    assert_eq!(files.name, "files");
    assert_eq!(files.command.as_deref(), Some("npx"), "{name}");
    assert_eq!(files.args, ["-y", "files-server"], "{name}");
    assert_eq!(
        files.env,
        [("ROOT".to_string(), "/srv".to_string())],
        "{name}"
    );
    assert_eq!(files.url, None, "{name}");
    assert!(!files.disabled, "{name}");
    assert_eq!(web.url.as_deref(), Some("http://127.0.0.1:9/mcp"), "{name}");
    assert_eq!(web.transport.as_deref(), Some("http"), "{name}");
    assert_eq!(web.command, None, "{name}");
    assert!(web.disabled, "{name}");
}

fn works_as_its_kind(kind: &str, component: &Path, name: &str) {
    check(component, kind, name);
    match kind {
        "policy" => policy_decides(component, name),
        "encoder" => encoder_renders(component, name),
        "discovery" => discovery_reads(component, name),
        _ => unreachable!("{kind}"),
    }
}

const KINDS: [&str; 3] = ["policy", "encoder", "discovery"];

#[test]
fn javascript_projects_build_with_npm_and_work() {
    if !(have("node", "the JavaScript scaffold") && have("npm", "the JavaScript scaffold")) {
        return;
    }
    for kind in KINDS {
        let name = format!("scaffold-js-{kind}");
        let (_parent, project) = new_project("js", kind, &name);
        type_check(&project);
        let output = build(
            &project,
            "npm install --no-audit --no-fund && npm run build",
            &[],
        );
        let component = project.join(format!("dist/{}.wasm", name.replace('-', "_")));
        assert!(
            text(&output.stdout).contains(&component.display().to_string()),
            "the build prints the component's path"
        );
        works_as_its_kind(kind, &component, &name);
    }
}

#[test]
fn python_policy_project_builds_with_build_sh_and_works() {
    if !have("python3", "the Python scaffold") {
        return;
    }
    let tool = componentize_py();
    let name = "scaffold-python-policy";
    let (_parent, project) = new_project("python", "policy", name);
    build(&project, "./build.sh", &[("COMPONENTIZE_PY", &tool)]);
    let component = project.join("dist/scaffold_python_policy.wasm");
    works_as_its_kind("policy", &component, name);
}

#[test]
fn rust_projects_build_with_cargo_and_work() {
    // The bridge's own build needs the wasm32-wasip2 target, so it is there.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold-rust");
    for kind in KINDS {
        let name = format!("scaffold-rust-{kind}");
        let (_parent, project) = new_project("rust", kind, &name);
        assert!(
            project
                .join("vendor/mcp-bridge/plugins/sdk/Cargo.toml")
                .is_file()
        );
        // The projects share one target directory so the SDK's dependencies compile once.
        build(
            &project,
            "cargo build --release --target wasm32-wasip2",
            &[("CARGO_TARGET_DIR", &target)],
        );
        let component = target.join(format!(
            "wasm32-wasip2/release/{}.wasm",
            name.replace('-', "_")
        ));
        works_as_its_kind(kind, &component, &name);
    }
}

#[test]
fn plugin_new_refuses_a_taken_directory_and_a_bad_name() {
    let parent = TempDir::new().unwrap();
    let dir = parent.path().display().to_string();
    std::fs::create_dir(parent.path().join("taken")).unwrap();
    std::fs::write(parent.path().join("taken/notes.txt"), "mine").unwrap();
    let output = bridge(&["plugin", "new", "--lang", "js", "taken", "--dir", &dir]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("already exists and is not empty"),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(parent.path().join("taken"))
        .unwrap()
        .collect();
    assert_eq!(left.len(), 1, "nothing was written");

    let output = bridge(&["plugin", "new", "--lang", "rust", "Bad_Name", "--dir", &dir]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("invalid plugin name 'Bad_Name'"),
        "{}",
        text(&output.stderr)
    );
    let output = bridge(&["plugin", "new", "--lang", "cobol", "x", "--dir", &dir]);
    assert!(!output.status.success());
}

/// The JavaScript project type-checks against the declarations generated from the WIT (`tsc` with `checkJs`,
/// from `plugins/sdk-js`'s pinned dev dependencies: `npm ci` there).
fn type_check(project: &Path) {
    let tsc = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/sdk-js/node_modules/.bin/tsc");
    if !tsc.is_file() {
        assert!(
            !in_ci(),
            "CI=true but {} is missing: run `npm ci` in plugins/sdk-js",
            tsc.display()
        );
        eprintln!(
            "\n!!!!! SKIPPED: type-checking the JavaScript templates (npm ci in plugins/sdk-js) !!!!!\n"
        );
        return;
    }
    let output = Command::new(&tsc)
        .args(["-p", "jsconfig.json"])
        .current_dir(project)
        .output()
        .expect("running tsc");
    assert!(
        output.status.success(),
        "tsc -p jsconfig.json in {}:\n{}",
        project.display(),
        text(&output.stdout)
    );
}

/// componentize-py at the pinned version, from the `.venv` the examples share (made here when missing).
fn componentize_py() -> PathBuf {
    static MAKING: Mutex<()> = Mutex::new(());
    let _guard = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/examples/.venv");
    let tool = venv.join("bin/componentize-py");
    let wanted = format!("componentize-py {COMPONENTIZE_PY}");
    let current = || {
        Command::new(&tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| text(&o.stdout).trim() == wanted)
    };
    if !current() {
        let status = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .unwrap();
        assert!(status.success(), "python3 -m venv {}", venv.display());
        let status = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("componentize-py=={COMPONENTIZE_PY}"))
            .status()
            .unwrap();
        assert!(status.success(), "pip install componentize-py");
    }
    tool
}

/// The code block of `plugins/README.md` under `heading` whose first line is `first_line`, as pasted (that
/// line included). Fails the test when the guide no longer has it.
fn guide_snippet(heading: &str, first_line: &str) -> String {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/README.md"))
            .unwrap();
    let section = guide
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("plugins/README.md has no section {heading:?}"));
    section
        .split("```")
        .skip(1)
        .step_by(2)
        .filter_map(|block| block.split_once('\n').map(|(_, body)| body))
        .find(|body| body.starts_with(first_line))
        .unwrap_or_else(|| panic!("{heading}: no code block starting {first_line:?}"))
        .to_string()
}

/// `bridge plugin test` of `component` with the guide's `cases.toml`: every case passes.
fn passes_the_guides_cases(component: &Path) {
    let dir = TempDir::new().unwrap();
    let cases = dir.path().join("cases.toml");
    let snippet = guide_snippet("Testing a policy's decisions", "# cases.toml");
    std::fs::write(&cases, snippet).unwrap();
    let output = bridge(&[
        "plugin",
        "test",
        &component.display().to_string(),
        &cases.display().to_string(),
    ]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.ends_with("ok: 4 passed, 0 failed\n"), "{stdout}");
}

#[test]
fn the_guides_rust_walkthrough_builds_as_pasted_and_decides_as_it_says() {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold-rust");
    let heading = "Walkthrough: Rust";
    let (_parent, project) = new_project("rust", "policy", "deny-destructive");
    std::fs::write(
        project.join("src/lib.rs"),
        guide_snippet(heading, "// src/lib.rs"),
    )
    .unwrap();
    std::fs::write(
        project.join("Cargo.toml"),
        guide_snippet(heading, "# Cargo.toml"),
    )
    .unwrap();
    build(
        &project,
        "cargo build --target wasm32-wasip2 --release",
        &[("CARGO_TARGET_DIR", &target)],
    );
    let component = target.join("wasm32-wasip2/release/deny_destructive.wasm");
    check(&component, "policy", "deny-destructive");
    let host = load(&component);
    match host.check_call(&call("delete_file")) {
        Verdict::Deny { reason, .. } => assert_eq!(reason, "delete_file on files is destructive"),
        other => panic!("a delete_ tool: {other:?}"),
    }
    let destructive = CallCheck {
        annotations: mcp_bridge::plugins::ToolAnnotations {
            destructive: Some(true),
            ..Default::default()
        },
        ..call("merge")
    };
    match host.check_call(&destructive) {
        Verdict::Deny { reason, .. } => assert_eq!(reason, "merge on files is destructive"),
        other => panic!("a destructive tool: {other:?}"),
    }
    assert_eq!(host.check_call(&call("read_file")), Verdict::Allow);
    let run = |code: &str| RunCheck {
        code: code.into(),
        ..RunCheck::default()
    };
    assert_eq!(host.check_run(&run("print(1)")), Verdict::Allow);
    assert!(matches!(
        host.check_run(&run("import os\nos.system('ls')")),
        Verdict::Deny { .. }
    ));
}

#[test]
fn the_guides_javascript_walkthrough_builds_as_pasted_and_passes_its_cases() {
    if !(have("node", "the JavaScript guide") && have("npm", "the JavaScript guide")) {
        return;
    }
    let heading = "Walkthrough: JavaScript";
    let (_parent, project) = new_project("js", "policy", "deny-deletes");
    std::fs::write(
        project.join("plugin.js"),
        guide_snippet(heading, "// plugin.js"),
    )
    .unwrap();
    std::fs::write(
        project.join("build.mjs"),
        guide_snippet(heading, "// build.mjs"),
    )
    .unwrap();
    type_check(&project);
    build(
        &project,
        "npm install --no-audit --no-fund && node build.mjs",
        &[],
    );
    let component = project.join("dist/deny_deletes.wasm");
    check(&component, "policy", "deny-deletes");
    passes_the_guides_cases(&component);
}

#[test]
fn the_guides_python_walkthrough_builds_as_pasted_and_passes_its_cases() {
    if !have("python3", "the Python guide") {
        return;
    }
    let tool = componentize_py();
    let (_parent, project) = new_project("python", "policy", "deny-deletes");
    std::fs::write(
        project.join("app.py"),
        guide_snippet("Walkthrough: Python", "# app.py"),
    )
    .unwrap();
    build(&project, "./build.sh", &[("COMPONENTIZE_PY", &tool)]);
    let component = project.join("dist/deny_deletes.wasm");
    check(&component, "policy", "deny-deletes");
    passes_the_guides_cases(&component);
}
