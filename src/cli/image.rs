//! `bridge image ls` and `bridge image build --with PKG…`: sandbox images with the Python packages people need.
//!
//! A build starts from the image that runs now (or the one that image was built from), asks it which Python it
//! has and where packages go, fetches wheels for exactly that Python and platform with the host's pip (the
//! network is used on the host, while building, and never by the sandbox), and adds them in one layer built with
//! no network, byte-compiled so runs do not compile them again. The new image's id is recorded as
//! `[sandbox] image` in the user's config file, so runs use exactly what was built.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::bridge::Bridge;
use crate::config::{Config, settings};
use crate::response::Status;
use crate::sandbox::engine;
use crate::sandbox::images::{self, BASE_LABEL, PACKAGES_LABEL};

mod base;

/// `bridge image …`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List the sandbox images on the engine, and which one runs.
    Ls {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Pull an image from its registry with a progress bar per layer (default: the image runs use).
    Pull {
        /// The image (`name:tag`, `registry/name:tag`).
        image: Option<String>,
    },
    /// Build the sandbox image (no registry needed), or one with Python packages baked in; record it as the
    /// one runs use.
    #[command(
        after_help = "Examples:\n  bridge image build\n  bridge image build --with pyyaml --with beautifulsoup4\n  \
bridge image build --requirements requirements.txt --tag mcp-bridge/sandbox:data\n\n\
Without packages: a Debian bookworm root filesystem with Python's standard library, made by debootstrap from \
Debian's package mirror (as root; once, --rebuild to redo it), plus the sandbox runtime compiled into it; no \
image registry is needed.\n\
With packages: wheels for the image's own Python and platform (pip on this machine fetches them); a package \
that has no wheel is refused by name. The sandbox itself still runs with no network."
    )]
    Build(BuildArgs),
}

/// `bridge image build`'s arguments.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// A package to bake in, as pip takes it (`pyyaml`, `numpy==2.1.*`); repeatable.
    #[arg(long = "with", value_name = "PKG")]
    packages: Vec<String>,
    /// A requirements file of packages to bake in.
    #[arg(long, value_name = "FILE")]
    requirements: Option<PathBuf>,
    /// The new image's tag (default mcp-bridge/sandbox:custom with packages, mcp-bridge/sandbox:bookworm
    /// without).
    #[arg(long)]
    tag: Option<String>,
    /// Without packages: make the base again with debootstrap even if `<tag>-base` is there.
    #[arg(long)]
    rebuild: bool,
    /// Without packages: the Debian mirror debootstrap fetches packages from.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://deb.debian.org/debian"
    )]
    mirror: String,
    /// Build only; leave the config file (and so the image runs use) as it is.
    #[arg(long)]
    no_record: bool,
}

/// What the probe found in the base image.
#[derive(Debug, Clone, Deserialize)]
struct Interpreter {
    python: String,
    purelib: String,
    on_path: bool,
    machine: String,
    libc: String,
    libc_version: String,
}

impl Interpreter {
    /// What came out of the container is hostile input, and it goes into a Dockerfile and pip's arguments:
    /// each field must look like what it claims to be.
    fn check(&self) -> Result<()> {
        let plain = |text: &str, extra: &str| {
            !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
        };
        let version = |text: &str| {
            text.split('.').count() == 2
                && text
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        };
        if !version(&self.python) {
            bail!(
                "the base image reported an odd Python version {:?}",
                self.python
            );
        }
        if !self.purelib.starts_with('/')
            || !plain(&self.purelib, "/._+-")
            || self.purelib.contains("..")
        {
            bail!(
                "the base image reported an odd package directory {:?}",
                self.purelib
            );
        }
        if !self.on_path {
            bail!("{} is not on the image's sys.path", self.purelib);
        }
        if !plain(&self.machine, "_") {
            bail!("the base image reported an odd machine {:?}", self.machine);
        }
        if !(self.libc.is_empty() || plain(&self.libc, ""))
            || !(self.libc_version.is_empty() || version(&self.libc_version))
        {
            bail!(
                "the base image reported an odd C library {:?} {:?}",
                self.libc,
                self.libc_version
            );
        }
        Ok(())
    }
}

/// A reference safe to write into a Dockerfile (`FROM`, a label): an image name, tag, digest or id.
fn check_reference(reference: &str) -> Result<()> {
    let fine = !reference.is_empty()
        && reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/:@-".contains(c));
    if !fine {
        bail!("{reference:?} is not an image reference this command can build from");
    }
    Ok(())
}

const PROBE: &str = include_str!("image_probe.py");
/// The tag of the sandbox image built without packages (what `scripts/build-offline-image.sh` builds too).
const DEFAULT_TAG: &str = "mcp-bridge/sandbox:bookworm";
/// The tag of an image built with packages.
const PACKAGES_TAG: &str = "mcp-bridge/sandbox:custom";

/// Runs `bridge image` subcommands.
pub async fn image(config: Config, command: ImageCommand) -> Result<ExitCode> {
    match command {
        ImageCommand::Ls { json } => list(&config, json).await,
        ImageCommand::Pull { image } => pull(&config, image.as_deref()).await,
        ImageCommand::Build(args) => build(config, args).await,
    }
}

async fn docker(config: &Config) -> Result<bollard::Docker> {
    let endpoint = engine::connect(config.runtime, Duration::from_secs(600))?;
    Ok(engine::negotiate(&endpoint).await?)
}

async fn list(config: &Config, json: bool) -> Result<ExitCode> {
    let docker = docker(config).await?;
    let running = docker
        .inspect_image(&config.image)
        .await
        .ok()
        .and_then(|image| image.id);
    let entries = images::list(&docker, running.as_deref().unwrap_or(&config.image))
        .await
        .map_err(|e| anyhow!(e))?;
    if json {
        let rows: Vec<Value> = entries
            .iter()
            .map(|entry| {
                let mut row = serde_json::to_value(entry).unwrap_or_default();
                row["runs"] = json!(Some(&entry.id) == running.as_ref());
                row
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"configured": config.image, "images": rows}))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("runs use: {}", config.image);
    if running.is_none() {
        println!("  (not on the engine: `bridge doctor` says how to get it)");
    }
    for entry in &entries {
        let mark = if Some(&entry.id) == running.as_ref() {
            "*"
        } else {
            " "
        };
        let id = entry.id.strip_prefix("sha256:").unwrap_or(&entry.id);
        let names = if entry.tags.is_empty() {
            "<untagged>".to_string()
        } else {
            entry.tags.join(", ")
        };
        println!(
            "{mark} {}  {:>5} MB  {names}",
            id.get(..12).unwrap_or(id),
            entry.size / 1_000_000
        );
        if !entry.packages.is_empty() {
            println!("    packages: {}", entry.packages.join(" "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn pull(config: &Config, image: Option<&str>) -> Result<ExitCode> {
    let image = image.unwrap_or(&config.image);
    let docker = docker(config).await?;
    let pulled = images::pull(&docker, image)
        .await
        .map_err(|e| anyhow!("pulling {image}: {e}"))?;
    println!("pulled {image} ({})", pulled.id.unwrap_or_default());
    if image != config.image {
        println!(
            "runs use {} (MCP_BRIDGE_IMAGE={image} runs this one)",
            config.image
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn build(config: Config, args: BuildArgs) -> Result<ExitCode> {
    let docker = docker(&config).await?;
    if args.packages.is_empty() && args.requirements.is_none() {
        let tag = args.tag.as_deref().unwrap_or(DEFAULT_TAG);
        check_reference(tag)?;
        let id = base::build(&docker, tag, args.rebuild, &args.mirror).await?;
        println!("built {tag} ({id})");
        return finish(&config, &args, &id, tag, &[]);
    }
    if args.rebuild {
        bail!(
            "--rebuild remakes the base image, which a build with packages does not touch: leave it out"
        );
    }
    let tag = args.tag.as_deref().unwrap_or(PACKAGES_TAG);
    // Building on a built image again starts from its base, so packages never pile up across builds.
    let current = docker
        .inspect_image(&config.image)
        .await
        .with_context(|| format!("the image runs use, {}, is not on the engine", config.image))?;
    let base = current
        .config
        .and_then(|c| c.labels)
        .and_then(|labels| labels.get(BASE_LABEL).cloned())
        .unwrap_or_else(|| config.image.clone());
    check_reference(&base)?;
    check_reference(tag)?;
    eprintln!("base image: {base}");

    let interpreter = probe(&config, &base).await?;
    eprintln!(
        "its Python: {} ({} {}, {}), packages go to {}",
        interpreter.python,
        interpreter.libc,
        interpreter.libc_version,
        interpreter.machine,
        interpreter.purelib
    );
    interpreter.check()?;

    let staging = tempfile::TempDir::new().context("making a staging directory")?;
    let packages_dir = staging.path().join("packages");
    fetch_wheels(&interpreter, &args, &packages_dir)?;
    let installed = installed_packages(&packages_dir)?;
    // Names and versions from the wheels go into a label: the characters of PEP 440 and package names only.
    if let Some(odd) = installed.iter().find(|p| {
        !p.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._=+!-".contains(c))
    }) {
        bail!("pip installed a package with an odd name: {odd:?}");
    }
    eprintln!("packages: {}", installed.join(" "));

    let dockerfile = format!(
        "FROM {base}\nCOPY packages/ {purelib}/\nRUN [\"python3\", \"-m\", \"compileall\", \"-q\", \"{purelib}\"]\n\
         LABEL {BASE_LABEL}=\"{base}\" {PACKAGES_LABEL}=\"{packages}\"\n",
        purelib = interpreter.purelib,
        packages = installed.join(" "),
    );
    let context = context_tar(&packages_dir, &dockerfile)?;
    let id = build_showing_steps(&docker, tag, context).await?;
    println!("built {tag} ({id})");
    finish(&config, &args, &id, tag, &installed)
}

/// Records what was built as the image runs use, unless `--no-record`.
fn finish(
    config: &Config,
    args: &BuildArgs,
    id: &str,
    tag: &str,
    installed: &[String],
) -> Result<ExitCode> {
    if args.no_record {
        println!("not recorded (--no-record): MCP_BRIDGE_IMAGE={id} runs it");
        return Ok(ExitCode::SUCCESS);
    }
    let file = config
        .config_file
        .clone()
        .unwrap_or_else(|| settings::user_file(&config.config_home));
    record(&file, id, tag, installed)?;
    println!(
        "recorded in {} as [sandbox] image: runs use it from now on",
        file.display()
    );
    if std::env::var_os("MCP_BRIDGE_IMAGE").is_some() {
        println!("note: MCP_BRIDGE_IMAGE is set here and wins over the config file");
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks `base` for its Python through a normal run (the same sandbox as any code).
async fn probe(config: &Config, base: &str) -> Result<Interpreter> {
    let mut config = config.clone();
    config.image = base.to_string();
    config.pool_size = 0;
    let bridge = Bridge::new(config).context("preparing a run in the base image")?;
    let mut arguments = Map::new();
    arguments.insert("code".into(), Value::String(PROBE.into()));
    let response = bridge
        .run_python(&arguments, &CancellationToken::new())
        .await
        .map_err(|e| anyhow!("{e}"));
    bridge.shutdown().await;
    let payload = response?.payload;
    if payload.status != Status::Success {
        bail!(
            "asking the base image for its Python failed: {}",
            payload.error.unwrap_or(payload.summary)
        );
    }
    let line = payload.stdout.last().cloned().unwrap_or_default();
    serde_json::from_str(&line).with_context(|| format!("the base image's answer: {line}"))
}

/// Wheels for the image's Python and platform, unpacked into `target` by the host's pip.
fn fetch_wheels(interpreter: &Interpreter, args: &BuildArgs, target: &Path) -> Result<()> {
    let mut pip = Command::new("python3");
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
    ])
    .args(["--only-binary=:all:", "--implementation", "cp"])
    .args(["--python-version", &interpreter.python])
    .arg("--target")
    .arg(target);
    for platform in platforms(interpreter)? {
        pip.args(["--platform", &platform]);
    }
    if let Some(file) = &args.requirements {
        pip.arg("--requirement").arg(file);
    }
    pip.args(&args.packages);
    pip.stdin(Stdio::null()).stdout(Stdio::inherit());
    eprintln!("fetching wheels with the host's pip (network on this machine only)");
    let status = pip.status().context(
        "running python3 -m pip on this machine (install it: apt-get install python3-pip)",
    )?;
    if !status.success() {
        bail!(
            "pip could not get wheels for Python {} on {} ({status}); a package without a wheel for it cannot \
             be baked in",
            interpreter.python,
            interpreter.machine
        );
    }
    Ok(())
}

/// The wheel platform tags the image's C library runs: every manylinux glibc level up to its own (pip does not
/// widen a `manylinux_2_N` it is given), and the legacy aliases of the same levels.
fn platforms(interpreter: &Interpreter) -> Result<Vec<String>> {
    let glibc_minor = (interpreter.libc == "glibc")
        .then(|| interpreter.libc_version.strip_prefix("2."))
        .flatten()
        .and_then(|minor| minor.parse::<u32>().ok());
    let Some(newest) = glibc_minor else {
        bail!(
            "the base image's C library is {:?} {:?}; `bridge image build` bakes wheels for glibc-based images \
             (Debian, Ubuntu, python:*-slim)",
            interpreter.libc,
            interpreter.libc_version
        );
    };
    let arch = &interpreter.machine;
    let mut tags: Vec<String> = (5..=newest)
        .rev()
        .map(|minor| format!("manylinux_2_{minor}_{arch}"))
        .collect();
    for (alias, minor) in [
        ("manylinux2014", 17),
        ("manylinux2010", 12),
        ("manylinux1", 5),
    ] {
        if newest >= minor {
            tags.push(format!("{alias}_{arch}"));
        }
    }
    Ok(tags)
}

/// `name==version` of every package pip put in `dir`.
fn installed_packages(dir: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".dist-info")
            && let Some((package, version)) = stem.rsplit_once('-')
        {
            found.push(format!("{package}=={version}"));
        }
    }
    found.sort();
    Ok(found)
}

/// The build context: the packages and the Dockerfile, as a tar archive (files 0644, directories 0755, root's).
fn context_tar(packages: &Path, dockerfile: &str) -> Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());
    archive.mode(tar::HeaderMode::Deterministic);
    archive
        .append_dir_all("packages", packages)
        .context("packing the packages")?;
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    archive
        .append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
        .context("packing the Dockerfile")?;
    archive.into_inner().context("finishing the build context")
}

/// Builds `tag` from `context` (no network), its steps on a spinner (plain lines when stderr is not a
/// terminal); returns the image's id.
async fn build_showing_steps(
    docker: &bollard::Docker,
    tag: &str,
    context: Vec<u8>,
) -> Result<String> {
    let bar = progress_bar("building");
    let id = images::build(docker, tag, context, |line| {
        if line.starts_with("Step ") || line.starts_with("Successfully") {
            bar.set_message(line.to_string());
            if bar.is_hidden() {
                eprintln!("  {line}");
            }
        }
    })
    .await
    .map_err(|e| anyhow!(e));
    bar.finish_and_clear();
    id
}

/// A spinner saying `what` is going on (its message set as it goes), hidden when stderr is not a terminal: then
/// the callers print plain lines instead.
fn progress_bar(what: &'static str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_prefix(what);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Writes `[sandbox] image = id` into the user's config file, keeping everything else (a comment says what it is).
fn record(file: &Path, id: &str, tag: &str, packages: &[String]) -> Result<()> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(error).with_context(|| format!("reading {}", file.display())),
    };
    let mut document: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", file.display()))?;
    let sandbox = document
        .entry("sandbox")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_mut()
        .with_context(|| format!("[sandbox] in {} is not a table", file.display()))?;
    sandbox.insert("image", toml_edit::value(id));
    if let Some(mut key) = sandbox.key_mut("image") {
        let with = if packages.is_empty() {
            "(no packages)".to_string()
        } else {
            format!("with {}", packages.join(" "))
        };
        key.leaf_decor_mut()
            .set_prefix(format!("# {tag}, built by `bridge image build` {with}\n"));
    }
    crate::state::replace_file(file, document.to_string().as_bytes()).map_err(|e| anyhow!(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_is_recorded_next_to_what_the_file_already_says() {
        let dir = tempfile::TempDir::new().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "# mine\n[plugins.rules]\nenabled = true\n").unwrap();
        record(
            &file,
            "sha256:abc",
            "mcp-bridge/sandbox:custom",
            &["six==1.16.0".into()],
        )
        .unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("# mine\n[plugins.rules]\nenabled = true\n"),
            "{text}"
        );
        assert!(text.contains("# mcp-bridge/sandbox:custom, built by `bridge image build` with six==1.16.0\nimage = \"sha256:abc\""), "{text}");
        let config = dir.path().to_path_buf();
        assert_eq!(
            settings::user_image(Some(&file), &config).as_deref(),
            Some("sha256:abc")
        );
        // Again: replaced, not repeated.
        record(&file, "sha256:def", "t", &[]).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.matches("image =").count(), 1, "{text}");
        assert_eq!(
            settings::user_image(Some(&file), &config).as_deref(),
            Some("sha256:def")
        );
    }

    #[test]
    fn odd_answers_from_the_base_image_are_refused() {
        let good = Interpreter {
            python: "3.11".into(),
            purelib: "/usr/local/lib/python3.11/dist-packages".into(),
            on_path: true,
            machine: "x86_64".into(),
            libc: "glibc".into(),
            libc_version: "2.36".into(),
        };
        good.check().unwrap();
        let odd = |change: fn(&mut Interpreter)| {
            let mut interpreter = good.clone();
            change(&mut interpreter);
            interpreter.check().unwrap_err().to_string()
        };
        assert!(odd(|i| i.purelib = "/x\nRUN curl evil".into()).contains("package directory"));
        assert!(odd(|i| i.purelib = "relative".into()).contains("package directory"));
        assert!(odd(|i| i.python = "3.11; rm".into()).contains("Python version"));
        assert!(odd(|i| i.machine = "x86 64".into()).contains("machine"));
        assert!(odd(|i| i.on_path = false).contains("sys.path"));
        assert!(check_reference("mcp-bridge/sandbox:bookworm").is_ok());
        assert!(check_reference("sha256:abc").is_ok());
        assert!(check_reference("img\nRUN x").is_err());
    }

    #[test]
    fn wheels_for_every_glibc_up_to_the_images_own() {
        let interpreter = |libc: &str, version: &str| Interpreter {
            python: "3.11".into(),
            purelib: "/x".into(),
            on_path: true,
            machine: "x86_64".into(),
            libc: libc.into(),
            libc_version: version.into(),
        };
        let tags = platforms(&interpreter("glibc", "2.36")).unwrap();
        assert_eq!(
            tags.first().map(String::as_str),
            Some("manylinux_2_36_x86_64")
        );
        for tag in [
            "manylinux_2_17_x86_64",
            "manylinux_2_5_x86_64",
            "manylinux2014_x86_64",
            "manylinux1_x86_64",
        ] {
            assert!(tags.iter().any(|t| t == tag), "{tag} in {tags:?}");
        }
        assert!(!tags.iter().any(|t| t == "manylinux_2_37_x86_64"));
        let musl = platforms(&interpreter("", "")).unwrap_err();
        assert!(musl.to_string().contains("glibc-based images"), "{musl}");
    }

    #[test]
    fn dist_info_directories_name_the_packages() {
        let dir = tempfile::TempDir::new().unwrap();
        for name in [
            "six-1.16.0.dist-info",
            "six.py",
            "PyYAML-6.0.2.dist-info",
            "yaml",
        ] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        assert_eq!(
            installed_packages(dir.path()).unwrap(),
            ["PyYAML==6.0.2", "six==1.16.0"]
        );
    }
}
