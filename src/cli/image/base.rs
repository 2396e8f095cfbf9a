//! `bridge image build` without packages: the sandbox image built with no image registry at all, as
//! `scripts/build-offline-image.sh` does, with progress on the way.
//!
//! 1. **The base** (`<tag>-base`): a Debian bookworm root filesystem with the full `python3` standard library,
//!    made by `debootstrap` from Debian's package mirror (packages, not images) and imported into the engine.
//!    Made once; `--rebuild` makes it again.
//! 2. **The runtime layer** (`<tag>`): the sandbox runtime this binary carries, compiled into the image's bytecode
//!    cache (`scripts/runtime_bytecode.py`), so containers load the runtime rather than compile it. Built with no
//!    network; rebuilt only when the runtime differs from the one the image has (its `org.mcp-bridge.runtime`
//!    label).

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, Result, anyhow, bail};
use bollard::Docker;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::sandbox::images;

/// The Debian release the base is made from.
const SUITE: &str = "bookworm";
/// The label carrying which runtime an image's bytecode cache was compiled from.
const RUNTIME_LABEL: &str = "org.mcp-bridge.runtime";
/// The label naming the base the runtime layer was put on. Not [`images::BASE_LABEL`]: a package build starts
/// from the image that label names, and must keep the runtime layer.
const RUNTIME_BASE_LABEL: &str = "org.mcp-bridge.runtime-base";
/// Compiles the runtime into the image's bytecode cache, run inside the build with the image's own python3.
const RUNTIME_BYTECODE: &str = include_str!("../../../scripts/runtime_bytecode.py");
/// What the base needs besides its files, as `docker import --change` gives it.
const BASE_CHANGES: [&str; 3] = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    "CMD [\"python3\"]",
];
/// Directories of the root filesystem the sandbox never needs, emptied before the import.
const TRIMMED: [&str; 5] = [
    "var/cache/apt",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/locale",
];

/// Builds `tag` (and `<tag>-base` when it is missing or `rebuild`), drawing progress on a terminal and plain
/// lines otherwise; returns the image's id.
pub(super) async fn build(
    docker: &Docker,
    tag: &str,
    rebuild: bool,
    mirror: &str,
) -> Result<String> {
    let base = format!("{tag}-base");
    super::check_reference(&base)?;
    let have_base = docker.inspect_image(&base).await.is_ok();
    let made = !have_base || rebuild;
    if made {
        make_base(docker, &base, mirror).await?;
    } else {
        eprintln!("base: {base} is there (--rebuild makes it again with debootstrap)");
    }
    add_runtime_layer(docker, &base, tag, made).await
}

/// debootstrap into a scratch directory, trim it, and import it as `base`.
async fn make_base(docker: &Docker, base: &str, mirror: &str) -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "building the base image runs debootstrap, which needs root: run this as root, or get an image from \
             a registry instead (`bridge image pull python:3.12-slim`)"
        );
    }
    let scratch = tempfile::TempDir::new().context("making a scratch directory")?;
    let rootfs = scratch.path().join("rootfs");
    debootstrap(&rootfs, mirror).await?;
    for dir in TRIMMED {
        let path = rootfs.join(dir);
        if path.is_dir() {
            std::fs::remove_dir_all(&path)
                .and_then(|()| std::fs::create_dir(&path))
                .with_context(|| format!("emptying {}", path.display()))?;
        }
    }
    import(docker, &rootfs, base).await
}

/// `debootstrap --variant=minbase --include=python3`: minbase keeps the image small; python3 brings the whole
/// standard library. Its progress lines become the spinner's message (or plain lines, one per stage).
async fn debootstrap(rootfs: &Path, mirror: &str) -> Result<()> {
    eprintln!("debootstrap {SUITE} (minbase + python3) from {mirror}");
    let mut child = tokio::process::Command::new("debootstrap")
        .args(["--variant=minbase", "--include=python3", SUITE])
        .arg(rootfs)
        .arg(mirror)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => {
                anyhow!("debootstrap is not installed: apt-get install -y debootstrap")
            }
            _ => anyhow!("starting debootstrap: {error}"),
        })?;
    let stdout = child.stdout.take().context("debootstrap's output")?;
    let stderr = child.stderr.take().context("debootstrap's errors")?;
    // Its errors are kept for the message when it fails (the last lines say why).
    let errors = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut kept = std::collections::VecDeque::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if kept.len() == 20 {
                kept.pop_front();
            }
            kept.push_back(line);
        }
        kept.into_iter().collect::<Vec<_>>().join("\n")
    });
    let bar = super::progress_bar("debootstrap");
    let mut stage = String::new();
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines
        .next_line()
        .await
        .context("reading debootstrap's output")?
    {
        let Some(message) = line.strip_prefix("I: ") else {
            continue;
        };
        bar.set_message(message.to_string());
        let this_stage = message.split_whitespace().next().unwrap_or_default();
        if bar.is_hidden() && this_stage != stage {
            eprintln!("  {message}");
        }
        stage = this_stage.to_string();
    }
    let status = child.wait().await.context("waiting for debootstrap")?;
    bar.finish_and_clear();
    let errors = errors.await.unwrap_or_default();
    if !status.success() {
        bail!(
            "debootstrap failed ({status}); is {mirror} reachable from this machine?\n{}",
            errors.trim()
        );
    }
    Ok(())
}

/// Streams `rootfs` as a tar into the engine (`docker import`), tagged `base`.
async fn import(docker: &Docker, rootfs: &Path, base: &str) -> Result<()> {
    eprintln!("importing the root filesystem into the engine as {base}");
    let mut tar = tokio::process::Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .args(["--numeric-owner", "-c", "."])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting tar (apt-get install -y tar)")?;
    let stdout = tar.stdout.take().context("tar's output")?;
    let bar = super::progress_bar("importing");
    let counter = bar.clone();
    let body = tokio_util::io::ReaderStream::new(stdout).inspect_ok(move |chunk| {
        counter.inc(chunk.len() as u64);
        counter.set_message(format!("{}", indicatif::HumanBytes(counter.position())));
    });
    let (name, tag) = images::split_reference(base);
    let options = bollard::query_parameters::CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(name)
        .tag(tag)
        .changes(BASE_CHANGES.iter().map(|c| c.to_string()).collect())
        .build();
    let mut stream = docker.create_image(Some(options), Some(bollard::body_try_stream(body)), None);
    let mut failure = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                    failure = Some(detail);
                }
            }
            Err(error) => failure = Some(error.to_string()),
        }
    }
    let imported = bar.position();
    bar.finish_and_clear();
    let status = tar.wait().await.context("waiting for tar")?;
    if let Some(failure) = failure {
        bail!("importing {base}: {failure}");
    }
    if !status.success() {
        bail!("tar of the root filesystem failed ({status})");
    }
    eprintln!("imported {} as {base}", indicatif::HumanBytes(imported));
    Ok(())
}

/// The runtime's sources and the compiler script, hashed: the label that says which runtime an image has.
fn runtime_hash() -> String {
    let mut hasher = Sha256::new();
    for (file, source) in crate::sandbox::runtime_files() {
        hasher.update(file.as_bytes());
        hasher.update([0]);
        hasher.update(source.as_bytes());
        hasher.update([0]);
    }
    hasher.update(RUNTIME_BYTECODE.as_bytes());
    let digest = hasher.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// `tag`: `base` with the runtime compiled into its bytecode cache, built with no network; kept as it is when
/// it already has this runtime on this base (and the base was not just made again).
async fn add_runtime_layer(
    docker: &Docker,
    base: &str,
    tag: &str,
    new_base: bool,
) -> Result<String> {
    let hash = runtime_hash();
    if let (Ok(current), false) = (docker.inspect_image(tag).await, new_base) {
        let labels = current.config.as_ref().and_then(|c| c.labels.as_ref());
        let label = |name: &str| labels.and_then(|l| l.get(name)).map(String::as_str);
        if label(RUNTIME_LABEL) == Some(hash.as_str()) && label(RUNTIME_BASE_LABEL) == Some(base) {
            eprintln!("{tag} is up to date (runtime {hash})");
            return current.id.context("the engine gave the image no id");
        }
    }
    let dockerfile = format!(
        "FROM {base}\nCOPY runtime /tmp/mcp-bridge-runtime\nCOPY runtime_bytecode.py /tmp/\n\
         RUN [\"python3\", \"-I\", \"-B\", \"/tmp/runtime_bytecode.py\", \"/tmp/mcp-bridge-runtime\", \
         \"/usr/lib/mcp-bridge/bytecode\"]\n\
         RUN [\"rm\", \"-rf\", \"/tmp/mcp-bridge-runtime\", \"/tmp/runtime_bytecode.py\"]\n\
         LABEL {RUNTIME_LABEL}=\"{hash}\" {RUNTIME_BASE_LABEL}=\"{base}\"\n"
    );
    let mut archive = tar::Builder::new(Vec::new());
    let mut add = |path: &str, text: &str| {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        archive.append_data(&mut header, path, text.as_bytes())
    };
    add("Dockerfile", &dockerfile).context("packing the Dockerfile")?;
    add("runtime_bytecode.py", RUNTIME_BYTECODE).context("packing the compiler")?;
    for (file, source) in crate::sandbox::runtime_files() {
        add(&format!("runtime/{file}"), source).with_context(|| format!("packing {file}"))?;
    }
    let context = archive
        .into_inner()
        .context("finishing the build context")?;
    eprintln!("adding the runtime's bytecode (runtime {hash}) on {base}");
    super::build_showing_steps(docker, tag, context).await
}
