//! The Docker labs' image, built on this machine: a static busybox and the
//! host's own binaries (`redis-server`, `etcd`) with the libraries they
//! load, imported as a root filesystem. No registry is needed, so the labs
//! work offline; the image is tagged by what went into it, so it is built
//! once per content.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::CreateImageOptions;
use futures::StreamExt;

use crate::sources::docker::client::{is_not_found, timed};

/// The `--image` that means "build it here" (the default).
pub const LOCAL: &str = "local";

/// The Redis labs' image.
pub const REDIS: Recipe<'static> = Recipe {
    name: "clusterdeck-lab-redis",
    binaries: &["redis-server", "redis-cli"],
    hint: "apt-get install -y redis-server redis-tools",
    changes: &[],
};

/// The etcd lab's image.
pub const ETCD: Recipe<'static> = Recipe {
    name: "clusterdeck-lab-etcd",
    binaries: &["etcd"],
    hint: "apt-get install -y etcd-server",
    changes: &[],
};

/// The busybox applets the labs' commands use.
const APPLETS: [&str; 10] = [
    "sh", "sleep", "echo", "cat", "ls", "kill", "true", "ps", "ip", "hostname",
];

/// What goes into a local image.
#[derive(Debug, Clone, Copy)]
pub struct Recipe<'a> {
    /// The repository name; the tag is a hash of the content.
    pub name: &'a str,
    /// Binaries from the PATH, with the libraries they load.
    pub binaries: &'a [&'a str],
    /// What installs them when one is missing.
    pub hint: &'a str,
    /// Dockerfile instructions besides the PATH (`CMD [...]`, `WORKDIR /data`).
    pub changes: &'a [&'a str],
}

/// The id of an image holding busybox and the recipe's binaries, building
/// it when the engine does not have it yet.
pub async fn local(
    docker: &Docker,
    recipe: &Recipe<'_>,
    timeout: Duration,
) -> Result<String, String> {
    let files = files_of(recipe.binaries, recipe.hint)?;
    let mut tag = tag_of(&files);
    tag.truncate(16);
    let reference = format!("{}:{tag}", recipe.name);
    match timed(timeout, "inspect image", docker.inspect_image(&reference)).await {
        Ok(found) => {
            return found
                .id
                .ok_or_else(|| format!("image {reference} has no id"));
        }
        Err(e) if !is_not_found(&e) => return Err(e.into()),
        Err(_) => {}
    }
    let root = tokio::task::spawn_blocking(move || root_filesystem(&files))
        .await
        .map_err(|e| format!("build the lab image: {e}"))??;
    let mut changes = vec!["ENV PATH=/usr/local/bin:/usr/bin:/bin".to_string()];
    changes.extend(recipe.changes.iter().map(|c| c.to_string()));
    let options = CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(recipe.name.into()),
        tag: Some(tag),
        changes,
        ..Default::default()
    };
    let body = bollard::body_full(root.into());
    let mut steps = docker.create_image(Some(options), Some(body), None);
    while let Some(step) = steps.next().await {
        step.map_err(|e| format!("import the lab image: {e}"))?;
    }
    let found = timed(timeout, "inspect image", docker.inspect_image(&reference)).await?;
    found
        .id
        .ok_or_else(|| format!("image {reference} has no id"))
}

/// The binaries, the libraries they load, and a static busybox.
fn files_of(binaries: &[&str], hint: &str) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for binary in binaries {
        let path = which(binary)
            .ok_or_else(|| format!("{binary} is not on the PATH; install it: {hint}"))?;
        files.extend(shared_libraries(&path));
        files.push(path);
    }
    files.sort();
    files.dedup();
    files.push(busybox()?);
    Ok(files)
}

fn which(binary: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(binary))
        .find(|p| p.is_file())
}

/// A statically linked busybox: the image has no libc of its own for it.
fn busybox() -> Result<PathBuf, String> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .map(PathBuf::from)
        .into_iter()
        .find(|p| p.is_file() && shared_libraries(p).is_empty())
        .ok_or_else(|| {
            "no static busybox here; install it: apt-get install -y busybox-static".into()
        })
}

/// The libraries `ldd` says a binary loads, and the loader.
fn shared_libraries(binary: &Path) -> Vec<PathBuf> {
    let Ok(out) = std::process::Command::new("ldd").arg(binary).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let path = line
                .split("=>")
                .nth(1)
                .unwrap_or(line)
                .split_whitespace()
                .next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// A tag that changes when any file does (path, size, modification time).
fn tag_of(files: &[PathBuf]) -> String {
    // (The recipe's instructions are not in it: a recipe keeps its name.)
    let mut hasher = DefaultHasher::new();
    for file in files {
        file.hash(&mut hasher);
        if let Ok(meta) = std::fs::metadata(file) {
            meta.len().hash(&mut hasher);
            meta.modified().ok().hash(&mut hasher);
        }
    }
    format!("{:016x}", hasher.finish())
}

/// The image's root filesystem as a tar: the files at their host paths
/// (busybox as /bin/busybox with its applets), /tmp, /data, /etc/passwd.
fn root_filesystem(files: &[PathBuf]) -> Result<Vec<u8>, String> {
    let error = |e: std::io::Error| format!("build the lab image: {e}");
    let mut tar = tar::Builder::new(Vec::new());
    for dir in ["bin", "tmp", "data", "usr/bin", "etc"] {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(if dir == "tmp" { 0o1777 } else { 0o755 });
        header.set_size(0);
        tar.append_data(&mut header, dir, std::io::empty())
            .map_err(error)?;
    }
    for file in files {
        let inside = if file.ends_with("busybox") {
            PathBuf::from("bin/busybox")
        } else {
            file.strip_prefix("/").unwrap_or(file).to_path_buf()
        };
        tar.append_path_with_name(file, inside).map_err(error)?;
    }
    for applet in APPLETS {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        header.set_mode(0o777);
        tar.append_link(&mut header, format!("bin/{applet}"), "busybox")
            .map_err(error)?;
    }
    let passwd = b"root:x:0:0:root:/:/bin/sh\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(passwd.len() as u64);
    header.set_mode(0o644);
    tar.append_data(&mut header, "etc/passwd", &passwd[..])
        .map_err(error)?;
    tar.into_inner().map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_names_what_installs_it() {
        let error = files_of(&["no-such-binary-here"], "apt-get install -y x").unwrap_err();
        assert!(error.contains("no-such-binary-here") && error.contains("apt-get install -y x"));
    }

    #[test]
    fn the_root_filesystem_holds_the_files_and_busybox_applets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("busybox");
        std::fs::write(&file, b"#!/bin/sh\n").unwrap();
        let tar = root_filesystem(&[file]).unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        for wanted in ["bin/busybox", "bin/sh", "tmp", "etc/passwd"] {
            assert!(
                names.iter().any(|n| n.trim_end_matches('/') == wanted),
                "{wanted}: {names:?}"
            );
        }
    }
}
