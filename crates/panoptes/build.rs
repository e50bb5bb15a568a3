//! Records the git revision, branch and commit date the binary is built from, for
//! `/api/v1/status/buildinfo` and `panoptes_build_info`. Outside a git checkout (a source
//! tarball) they read "unknown".

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).env("TZ", "UTC").output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    let revision = git(&["rev-parse", "HEAD"]);
    let branch = git(&["rev-parse", "--abbrev-ref", "HEAD"]);
    // Prometheus' buildDate format, from the commit so that rebuilds of one commit agree.
    let date = git(&["log", "-1", "--format=%cd", "--date=format-local:%Y%m%d-%H:%M:%S"]);
    for (name, value) in
        [("PANOPTES_REVISION", &revision), ("PANOPTES_BRANCH", &branch), ("PANOPTES_BUILD_DATE", &date)]
    {
        println!("cargo:rustc-env={name}={}", value.as_deref().unwrap_or("unknown"));
    }
    // Rebuild when HEAD moves: the worktree's HEAD, and the branch it names (loose or packed).
    let mut watched: Vec<PathBuf> = Vec::new();
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        watched.push(PathBuf::from(&git_dir).join("HEAD"));
    }
    if let Some(common) = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]) {
        let common = PathBuf::from(common);
        if let Some(branch) = &branch {
            watched.push(common.join("refs/heads").join(branch));
        }
        watched.push(common.join("packed-refs"));
    }
    for path in watched.iter().filter(|path| path.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-changed=build.rs");
}
