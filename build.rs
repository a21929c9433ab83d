//! Records the git commit being built as `TOPUP_BUILD_COMMIT` (for the
//! `topup_build_info` metric). Outside a git checkout, or without git, the
//! variable is not set and the binary says `unknown`.

use std::process::Command;

fn main() {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output();
    if let Ok(out) = out
        && out.status.success()
    {
        let commit = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !commit.is_empty() {
            println!("cargo:rustc-env=TOPUP_BUILD_COMMIT={commit}");
        }
    }
    // Rebuild the label when HEAD moves (a worktree's .git is a file; then
    // the label may lag until the next build of this crate, which is harmless).
    for p in [".git/HEAD", ".git/refs/heads"] {
        if std::path::Path::new(p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
