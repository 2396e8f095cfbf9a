//! `bridge plugin new`: writes a plugin project (Rust, JavaScript or Python; a policy, an encoder or a discovery
//! source) that builds with one command into a component `bridge plugin check` accepts.
//!
//! The templates are the files under `plugins/templates/<lang>/`, embedded at build time, so the binary alone can
//! scaffold: a project never refers to the bridge's source tree. Each project gets the WIT it is built against
//! (`wit/plugin.wit`, API 0.2.0) and its language's helpers: the JavaScript helper module and the declarations
//! generated from the WIT (`plugins/sdk-js`), the Python helper module (`plugins/sdk-python`), or the Rust SDK
//! crate vendored under `vendor/` (it is not on crates.io).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

/// The arguments of `bridge plugin new`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  bridge plugin new --lang rust deny-deletes\n  \
bridge plugin new --lang js --kind encoder plain-text --dir ~/src\n  \
bridge plugin new --lang python --kind discovery my-servers\n\n\
Writes NAME/ (in --dir, else the current directory) and prints how to build, check and install it."
)]
pub struct NewArgs {
    /// The language of the project.
    #[arg(long, value_enum)]
    lang: Lang,
    /// What the plugin is.
    #[arg(long, value_enum, default_value_t = PluginKind::Policy)]
    kind: PluginKind,
    /// The plugin's name (lower-case letters, digits and dashes, e.g. `deny-deletes`): its directory, its
    /// package and the name the bridge config file refers to it by.
    name: String,
    /// Where to create the project directory NAME/ (default: the current directory).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The languages a project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Rust, with the vendored plugin SDK (`cargo build --release --target wasm32-wasip2`).
    Rust,
    /// JavaScript, built with componentize-qjs (`npm install && npm run build`).
    #[value(alias = "javascript")]
    Js,
    /// Python, built with componentize-py (`./build.sh`).
    #[value(alias = "py")]
    Python,
}

/// The plugin kinds, one WIT world each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PluginKind {
    /// Decides runs and tool calls, and sees tool results.
    Policy,
    /// Renders a run's result as the text the model reads.
    Encoder,
    /// Finds MCP servers in config files.
    Discovery,
}

impl PluginKind {
    fn as_str(self) -> &'static str {
        match self {
            PluginKind::Policy => "policy",
            PluginKind::Encoder => "encoder",
            PluginKind::Discovery => "discovery",
        }
    }

    fn world(self) -> String {
        format!("{}-plugin", self.as_str())
    }

    /// The plugin's one-line description (its metadata). Plain text without quotes or backslashes, since it is
    /// substituted into JSON, JavaScript, Python and TOML strings.
    fn description(self) -> &'static str {
        match self {
            PluginKind::Policy => {
                "Denies tools whose name contains delete and asks before tools whose name contains write"
            }
            PluginKind::Encoder => "Renders the result of a run as plain text",
            PluginKind::Discovery => "Reads MCP servers from the project's mcp-servers.json",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One file of a project: where it goes, its contents, and whether it is a script to run.
struct Template {
    path: &'static str,
    contents: &'static str,
    executable: bool,
    /// Whether `{{name}}`-style placeholders are replaced in it (not in vendored or generated files).
    substitute: bool,
}

/// A template file from `plugins/templates/`, with placeholders; `executable` for a script.
macro_rules! template {
    ($to:literal, $from:literal) => {
        template!(@ $to, $from, false)
    };
    ($to:literal, $from:literal, executable) => {
        template!(@ $to, $from, true)
    };
    (@ $to:literal, $from:literal, $executable:literal) => {
        Template {
            path: $to,
            contents: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/plugins/templates/",
                $from
            )),
            executable: $executable,
            substitute: true,
        }
    };
}

/// A file of the repository copied as it is (helpers, generated declarations, the WIT, the SDK).
macro_rules! verbatim {
    ($to:literal, $from:literal) => {
        Template {
            path: $to,
            contents: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $from)),
            executable: false,
            substitute: false,
        }
    };
}

mod rust;

/// The plugin API every project is built against.
const WIT: Template = verbatim!("wit/plugin.wit", "wit/since_v0.2.0/plugin.wit");

const JS_COMMON: &[Template] = &[
    template!("package.json", "js/common/package.json"),
    template!("package-lock.json", "js/common/package-lock.json"),
    template!("build.mjs", "js/common/build.mjs"),
    template!("jsconfig.json", "js/common/jsconfig.json"),
    template!("README.md", "js/common/README.md"),
    template!(".gitignore", "js/common/gitignore"),
    verbatim!(
        "lib/mcp-bridge-plugin.js",
        "plugins/sdk-js/mcp-bridge-plugin.js"
    ),
    verbatim!(
        "types/policy-plugin.d.ts",
        "plugins/sdk-js/types/policy-plugin.d.ts"
    ),
    verbatim!(
        "types/encoder-plugin.d.ts",
        "plugins/sdk-js/types/encoder-plugin.d.ts"
    ),
    verbatim!(
        "types/discovery-plugin.d.ts",
        "plugins/sdk-js/types/discovery-plugin.d.ts"
    ),
    verbatim!(
        "types/interfaces/mcp-bridge-plugin-types.d.ts",
        "plugins/sdk-js/types/interfaces/mcp-bridge-plugin-types.d.ts"
    ),
    verbatim!(
        "types/interfaces/mcp-bridge-plugin-log.d.ts",
        "plugins/sdk-js/types/interfaces/mcp-bridge-plugin-log.d.ts"
    ),
    verbatim!(
        "types/interfaces/mcp-bridge-plugin-plugin.d.ts",
        "plugins/sdk-js/types/interfaces/mcp-bridge-plugin-plugin.d.ts"
    ),
    verbatim!(
        "types/interfaces/mcp-bridge-plugin-policy.d.ts",
        "plugins/sdk-js/types/interfaces/mcp-bridge-plugin-policy.d.ts"
    ),
    verbatim!(
        "types/interfaces/mcp-bridge-plugin-encoder.d.ts",
        "plugins/sdk-js/types/interfaces/mcp-bridge-plugin-encoder.d.ts"
    ),
    verbatim!(
        "types/interfaces/mcp-bridge-plugin-discovery.d.ts",
        "plugins/sdk-js/types/interfaces/mcp-bridge-plugin-discovery.d.ts"
    ),
];

const PYTHON_COMMON: &[Template] = &[
    template!("build.sh", "python/common/build.sh", executable),
    template!("README.md", "python/common/README.md"),
    template!(".gitignore", "python/common/gitignore"),
    verbatim!(
        "mcp_bridge_plugin.py",
        "plugins/sdk-python/mcp_bridge_plugin.py"
    ),
];

/// What `bridge plugin new` made.
pub struct Scaffolded {
    /// The project directory.
    pub dir: PathBuf,
    /// The one command that builds it, run in `dir`.
    pub build: &'static str,
    /// The component the build writes, relative to `dir`.
    pub component: String,
}

/// `bridge plugin new`.
pub fn new(args: NewArgs) -> Result<ExitCode> {
    let parent = match args.dir {
        Some(dir) => dir,
        None => std::env::current_dir().context("finding the working directory")?,
    };
    let made = scaffold(args.lang, args.kind, &args.name, &parent)?;
    let dir = made.dir.display();
    let component = &made.component;
    println!("Created {} plugin '{}' in {dir}", args.kind, args.name);
    println!("\nNext steps:");
    println!("  cd {dir}");
    println!("  {}", made.build);
    println!("  bridge plugin check {component}");
    println!(
        "  mkdir -p ~/.config/mcp-bridge/plugins && cp {component} ~/.config/mcp-bridge/plugins/"
    );
    println!(
        "\n(or into a project's ./.mcp-bridge/plugins/, which loads once you `bridge trust` the project)"
    );
    if args.lang == Lang::Rust {
        println!("The Rust build needs the WASI target once: rustup target add wasm32-wasip2");
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the project `parent/name/`; refuses a name the bridge would not accept and a directory that exists
/// with something in it.
pub fn scaffold(lang: Lang, kind: PluginKind, name: &str, parent: &Path) -> Result<Scaffolded> {
    check_name(name)?;
    let dir = parent.join(name);
    refuse_non_empty(&dir)?;
    let file = name.replace('-', "_");
    let world = kind.world();
    let values = [
        ("{{name}}", name),
        ("{{file}}", file.as_str()),
        ("{{world}}", world.as_str()),
        ("{{kind}}", kind.as_str()),
        ("{{description}}", kind.description()),
    ];
    let (common, own, build, component): (&[&[Template]], Template, _, _) = match lang {
        Lang::Js => (
            &[JS_COMMON],
            js_plugin(kind),
            "npm install && npm run build",
            format!("dist/{file}.wasm"),
        ),
        Lang::Python => (
            &[PYTHON_COMMON],
            python_app(kind),
            "./build.sh",
            format!("dist/{file}.wasm"),
        ),
        Lang::Rust => (
            &[rust::COMMON, rust::SDK],
            rust::lib(kind),
            "cargo build --release --target wasm32-wasip2",
            format!("target/wasm32-wasip2/release/{file}.wasm"),
        ),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for template in common.iter().copied().flatten().chain([&own, &WIT]) {
        let contents = if template.substitute {
            substitute(template.contents, &values)
        } else {
            template.contents.to_string()
        };
        write_file(&dir, template, &contents)?;
    }
    Ok(Scaffolded {
        dir,
        build,
        component,
    })
}

fn js_plugin(kind: PluginKind) -> Template {
    match kind {
        PluginKind::Policy => template!("plugin.js", "js/policy/plugin.js"),
        PluginKind::Encoder => template!("plugin.js", "js/encoder/plugin.js"),
        PluginKind::Discovery => template!("plugin.js", "js/discovery/plugin.js"),
    }
}

fn python_app(kind: PluginKind) -> Template {
    match kind {
        PluginKind::Policy => template!("app.py", "python/policy/app.py"),
        PluginKind::Encoder => template!("app.py", "python/encoder/app.py"),
        PluginKind::Discovery => template!("app.py", "python/discovery/app.py"),
    }
}

/// A plugin name as the WIT asks for it (lower-case with dashes); it also has to be a directory, an npm and a
/// Cargo package name, so nothing else is let through.
fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!(
            "invalid plugin name '{name}': use lower-case letters, digits and single dashes, starting with a \
             letter (at most 64 characters), e.g. deny-deletes"
        );
    }
    Ok(())
}

fn refuse_non_empty(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if !dir.is_dir() {
        bail!("{} exists and is not a directory", dir.display());
    }
    let mut entries =
        std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    if entries.next().is_some() {
        bail!(
            "{} already exists and is not empty; choose another name or --dir (nothing was written)",
            dir.display()
        );
    }
    Ok(())
}

fn substitute(text: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(text.to_string(), |text, (key, value)| {
        text.replace(key, value)
    })
}

fn write_file(dir: &Path, template: &Template, contents: &str) -> Result<()> {
    let path = dir.join(template.path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if template.executable {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o755);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["a", "deny-deletes", "p2", "my-plugin-3"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Deny",
            "-a",
            "a-",
            "a--b",
            "a_b",
            "1a",
            "a/b",
            "..",
            &"a".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_placeholder_is_replaced() {
        for lang in [Lang::Rust, Lang::Js, Lang::Python] {
            for kind in [
                PluginKind::Policy,
                PluginKind::Encoder,
                PluginKind::Discovery,
            ] {
                let dir = tempfile::tempdir().expect("tempdir");
                let made = scaffold(lang, kind, "my-plugin", dir.path()).expect("scaffold");
                for entry in walk(&made.dir) {
                    let text = std::fs::read_to_string(&entry).expect("read");
                    assert!(
                        !has_placeholder(&text),
                        "{} keeps a placeholder",
                        entry.display()
                    );
                }
            }
        }
    }

    #[test]
    fn a_non_empty_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("taken")).expect("mkdir");
        std::fs::write(dir.path().join("taken/file"), "x").expect("write");
        let error = scaffold(Lang::Js, PluginKind::Policy, "taken", dir.path())
            .err()
            .expect("refused");
        assert!(error.to_string().contains("not empty"), "{error}");
        assert_eq!(
            std::fs::read_dir(dir.path().join("taken"))
                .expect("ls")
                .count(),
            1
        );
        // An empty one is fine.
        std::fs::create_dir(dir.path().join("empty")).expect("mkdir");
        scaffold(Lang::Js, PluginKind::Policy, "empty", dir.path()).expect("scaffold");
    }

    /// `{{word}}`, which only a template placeholder looks like.
    fn has_placeholder(text: &str) -> bool {
        text.split("{{").skip(1).any(|rest| {
            rest.split_once("}}").is_some_and(|(word, _)| {
                !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            })
        })
    }

    pub(super) fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
        files
    }
}
