//! Sandbox images on the engine: listing them, pulling one (with a progress bar per layer), and building one
//! from a context (`bridge image`).

use std::io::IsTerminal;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, ListImagesOptionsBuilder};
use futures::StreamExt;
use serde::Serialize;

/// Labels the bridge puts on images it builds.
pub const BASE_LABEL: &str = "org.mcp-bridge.base";
/// The Python packages baked into an image, `name==version` separated by spaces.
pub const PACKAGES_LABEL: &str = "org.mcp-bridge.packages";

/// One image, as `bridge image ls` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ImageEntry {
    /// `sha256:…`.
    pub id: String,
    /// Its `repo:tag` names.
    pub tags: Vec<String>,
    /// Size in bytes.
    pub size: i64,
    /// Seconds since the epoch.
    pub created: i64,
    /// The image it was built from, when the bridge built it.
    pub base: Option<String>,
    /// The packages baked in, when the bridge built it.
    pub packages: Vec<String>,
}

/// The images that are sandbox images: tagged `mcp-bridge/…`, built by the bridge, or `also` (the configured
/// image, whatever its name).
pub async fn list(docker: &Docker, also: &str) -> Result<Vec<ImageEntry>, String> {
    let options = ListImagesOptionsBuilder::default().all(false).build();
    let summaries = docker
        .list_images(Some(options))
        .await
        .map_err(|e| format!("listing the engine's images: {e}"))?;
    let mut entries: Vec<ImageEntry> = summaries
        .into_iter()
        .filter(|image| {
            image.id == also
                || image.labels.contains_key(BASE_LABEL)
                || image
                    .repo_tags
                    .iter()
                    .any(|tag| tag == also || tag.starts_with("mcp-bridge/"))
        })
        .map(|image| ImageEntry {
            base: image.labels.get(BASE_LABEL).cloned(),
            packages: image
                .labels
                .get(PACKAGES_LABEL)
                .map(|list| list.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
            id: image.id,
            tags: image.repo_tags,
            size: image.size,
            created: image.created,
        })
        .collect();
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.created));
    Ok(entries)
}

/// Builds `tag` from `context` (a tar archive with a Dockerfile) with no network, calling `on_line` with each
/// line of the build's output; returns the new image's id.
pub async fn build(
    docker: &Docker,
    tag: &str,
    context: Vec<u8>,
    mut on_line: impl FnMut(&str),
) -> Result<String, String> {
    let options = BuildImageOptionsBuilder::default()
        .t(tag)
        .networkmode("none")
        .rm(true)
        .forcerm(true)
        .build();
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| format!("building {tag}: {e}"))?;
        if let Some(detail) = info.error_detail.and_then(|d| d.message) {
            return Err(format!("building {tag}: {detail}"));
        }
        if let Some(text) = info.stream {
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                on_line(line);
            }
        }
    }
    let inspected = docker
        .inspect_image(tag)
        .await
        .map_err(|e| format!("the build of {tag} ended, but the image is not there: {e}"))?;
    inspected
        .id
        .ok_or_else(|| format!("the engine gave {tag} no id"))
}

/// Pulls `image`, drawing one progress bar per layer on a terminal (like `docker pull`) and plain lines
/// otherwise (each layer's status when it changes). Returns the pulled image's inspection.
pub async fn pull(docker: &Docker, image: &str) -> Result<bollard::models::ImageInspect, String> {
    let (name, tag) = split_reference(image);
    let options = bollard::query_parameters::CreateImageOptionsBuilder::default()
        .from_image(name)
        .tag(tag)
        .build();
    let mut display = PullDisplay::new(image, std::io::stderr().is_terminal());
    let mut stream = docker.create_image(Some(options), None, None);
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| e.to_string())?;
        if let Some(detail) = info.error_detail.and_then(|d| d.message) {
            display.finish();
            return Err(detail);
        }
        display.event(
            info.id.as_deref(),
            info.status.as_deref().unwrap_or_default(),
            info.progress_detail
                .and_then(|p| Some((p.current?, p.total?))),
        );
    }
    display.finish();
    // A pull stream can end without an error item and still leave no image (e.g. a proxy cut it short).
    docker
        .inspect_image(image)
        .await
        .map_err(|e| format!("pull finished but the image is still missing: {e}"))
}

/// `repo/name:tag` → (`repo/name`, `tag`); no tag means `latest`. A `:` inside a registry host is not a tag.
pub fn split_reference(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

/// How a pull looks: a bar per layer on a terminal, or a line per layer status change.
struct PullDisplay {
    image: String,
    bars: Option<indicatif::MultiProgress>,
    layers: std::collections::HashMap<String, (indicatif::ProgressBar, String)>,
}

impl PullDisplay {
    fn new(image: &str, terminal: bool) -> Self {
        PullDisplay {
            image: image.to_string(),
            bars: terminal.then(|| {
                indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr())
            }),
            layers: std::collections::HashMap::new(),
        }
    }

    /// One item of the engine's pull stream: a layer's status (with bytes done and total while it moves) or,
    /// without a layer id, the image's.
    fn event(&mut self, layer: Option<&str>, status: &str, bytes: Option<(i64, i64)>) {
        // Lines about the whole image ("Pulling from …", "Digest: …") carry the tag or nothing as their id.
        let whole_image = ["Pulling from", "Digest:", "Status:"]
            .iter()
            .any(|prefix| status.starts_with(prefix));
        let Some(layer) = layer.filter(|id| !id.is_empty() && !whole_image) else {
            if !status.is_empty() {
                self.line(&format!("{}: {status}", self.image));
            }
            return;
        };
        let entry = self.layers.entry(layer.to_string()).or_insert_with(|| {
            let bar = match &self.bars {
                Some(bars) => bars.add(indicatif::ProgressBar::new(0)),
                None => indicatif::ProgressBar::hidden(),
            };
            // Status only, until the layer has a size to show.
            bar.set_style(
                indicatif::ProgressStyle::with_template("{prefix}: {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.set_prefix(layer.to_string());
            (bar, String::new())
        });
        let (bar, last) = entry;
        if let Some((current, total)) = bytes.filter(|(_, total)| *total > 0) {
            if bar.length() == Some(0) {
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{prefix}: {msg:<18} [{bar:30}] {bytes}/{total_bytes}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
            }
            bar.set_length(total as u64);
            bar.set_position(current.max(0) as u64);
        }
        bar.set_message(status.to_string());
        if status != last {
            *last = status.to_string();
            if self.bars.is_none() {
                eprintln!("{layer}: {status}");
            }
        }
        if status == "Pull complete" || status == "Already exists" {
            bar.finish();
        }
    }

    fn line(&self, text: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    fn finish(&mut self) {
        for (bar, _) in self.layers.values() {
            bar.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_name_and_tag() {
        assert_eq!(split_reference("python:3.12-slim"), ("python", "3.12-slim"));
        assert_eq!(split_reference("python"), ("python", "latest"));
        assert_eq!(
            split_reference("registry:5000/team/py"),
            ("registry:5000/team/py", "latest")
        );
        assert_eq!(
            split_reference("registry:5000/py:3"),
            ("registry:5000/py", "3")
        );
    }
}
