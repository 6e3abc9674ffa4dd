//! Records the git commit the binary is built from (`readyroll version`).
//! Builds without git, or outside a checkout (a source tarball, a container
//! build context without `.git`), say "unknown" unless READYROLL_GIT_COMMIT
//! is set.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=READYROLL_GIT_COMMIT");
    let commit = std::env::var("READYROLL_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=READYROLL_GIT_COMMIT={commit}");
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

fn git_commit() -> Option<String> {
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    // Rebuild when HEAD moves: watch HEAD, the branch it points to, and
    // packed-refs (where git may keep that branch).
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        // --path-format needs git 2.31; older ones answer relative to here.
        let path = git(&["rev-parse", "--path-format=absolute", "--git-path", &name])
            .or_else(|| git(&["rev-parse", "--git-path", &name]));
        if let Some(path) = path {
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    Some(commit)
}
