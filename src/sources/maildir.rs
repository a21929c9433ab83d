//! The Maildir source, the embedded default inbox (`<data_dir>/inbox`).
//!
//! Every file in `new/` is handed to the desk, oldest first; only after the
//! desk returned `Ok` (the database committed) is it renamed into `cur/`
//! with the `:2,S` (seen) flag. When the desk fails (database down) the file
//! stays in `new/` and is tried again on the next pass, so nothing is lost;
//! the desk's Message-ID key makes a second pass over an already recorded
//! message a no-op. `tmp/` belongs to whoever delivers into the folder.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::desk::{Desk, Inbound};

/// How often `new/` is looked at.
const POLL: Duration = Duration::from_secs(1);

/// Watches the Maildir `dir` until `shutdown` is cancelled.
///
/// # Errors
/// The folder cannot be created or read at start.
pub async fn run(desk: Desk, dir: PathBuf, shutdown: CancellationToken) -> anyhow::Result<()> {
    // tmp/ first and new/ last: whoever waits for new/ to deliver finds tmp/ there.
    for sub in ["tmp", "cur", "new"] {
        let path = dir.join(sub);
        tokio::fs::create_dir_all(&path)
            .await
            .with_context(|| format!("Cannot create Maildir folder {}", path.display()))?;
    }
    tracing::info!(dir = %dir.display(), "Watching Maildir");
    loop {
        match process_new(&desk, &dir, &shutdown).await {
            Ok(_) => desk.health().up("maildir", dir.display().to_string()),
            Err(e) => {
                desk.health()
                    .down("maildir", format!("{}: {e:#}", dir.display()));
                tracing::warn!(dir = %dir.display(), "Maildir pass stopped: {e:#}");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// One pass over `new/`: returns how many messages were handed over and moved.
///
/// # Errors
/// `new/` cannot be listed, the desk failed (the rest waits for the next
/// pass), or a processed file cannot be moved.
pub async fn process_new(
    desk: &Desk,
    dir: &Path,
    shutdown: &CancellationToken,
) -> anyhow::Result<usize> {
    let new_dir = dir.join("new");
    let files = list_oldest_first(&new_dir)
        .await
        .with_context(|| format!("Cannot list {}", new_dir.display()))?;
    let mut done = 0;
    // Whole messages are handled in groups (one transaction each, bounded in
    // count and bytes); an oversized one is recorded from its headers alone.
    let mut group: Vec<(PathBuf, String, Vec<u8>)> = Vec::new();
    let mut group_bytes = 0usize;
    for (path, name) in files {
        if shutdown.is_cancelled() {
            break;
        }
        let msg = match read_message(&path, desk.settings()).await {
            Ok(msg) => msg,
            // Someone else (another reader, the operator) took it meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                tracing::warn!(file = %path.display(), "Cannot read mail file, skipping it for now: {e}");
                continue;
            }
        };
        match msg {
            MailFile::Whole(raw) => {
                group_bytes += raw.len();
                group.push((path, name, raw));
                if group.len() >= GROUP || group_bytes >= GROUP_BYTES {
                    done += handle_group(desk, dir, std::mem::take(&mut group)).await?;
                    group_bytes = 0;
                }
            }
            MailFile::Oversized(msg) => {
                done += handle_group(desk, dir, std::mem::take(&mut group)).await?;
                group_bytes = 0;
                let outcome = desk.handle_inbound(*msg).await.with_context(|| {
                    format!("Handling {} failed; it stays in new/", path.display())
                })?;
                tracing::debug!(file = %name, outcome = %outcome.outcome, "Maildir message handled");
                move_to_cur(dir, &path, &name).await?;
                done += 1;
            }
        }
    }
    done += handle_group(desk, dir, group).await?;
    Ok(done)
}

/// Messages handled in one transaction at most (group commit).
const GROUP: usize = 64;
/// Bytes of messages held in memory for one group at most.
const GROUP_BYTES: usize = 32 * 1024 * 1024;

/// Handles a group of whole messages in one transaction, then moves them to `cur/`.
async fn handle_group(
    desk: &Desk,
    dir: &Path,
    group: Vec<(PathBuf, String, Vec<u8>)>,
) -> anyhow::Result<usize> {
    if group.is_empty() {
        return Ok(0);
    }
    // (path, file name) to move afterwards; (raw, extra keys) to handle.
    type Files = Vec<(PathBuf, String)>;
    type Mails = Vec<(Vec<u8>, Vec<String>)>;
    let (files, mails): (Files, Mails) = group
        .into_iter()
        .map(|(path, name, raw)| ((path, name), (raw, Vec::new())))
        .unzip();
    let outcomes = super::handle_emails(desk, mails).await.with_context(|| {
        format!(
            "Handling {} mail file(s) failed; they stay in new/",
            files.len()
        )
    })?;
    for ((path, name), outcome) in files.iter().zip(&outcomes) {
        tracing::debug!(file = %name, outcome = %outcome.outcome, "Maildir message handled");
        move_to_cur(dir, path, name).await?;
    }
    Ok(files.len())
}

async fn move_to_cur(dir: &Path, path: &Path, name: &str) -> anyhow::Result<()> {
    let target = dir.join("cur").join(seen_name(name));
    tokio::fs::rename(path, &target)
        .await
        .with_context(|| format!("Cannot move {} to {}", path.display(), target.display()))
}

/// What was read of one mail file.
enum MailFile {
    /// The whole message.
    Whole(Vec<u8>),
    /// Over the size limit: only its header block was read.
    Oversized(Box<Inbound>),
}

/// Reads one mail file. A file over `limits.max_message_bytes` is never read
/// whole: only its header block is, and the desk records it from that.
async fn read_message(path: &Path, settings: &Settings) -> std::io::Result<MailFile> {
    let size = tokio::fs::metadata(path).await?.len();
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if size > settings.limits.max_message_bytes {
        let mut head = Vec::with_capacity(HEAD_READ);
        tokio::fs::File::open(path)
            .await?
            .take(HEAD_READ as u64)
            .read_to_end(&mut head)
            .await?;
        let head = super::header_block(&head).to_vec();
        tracing::warn!(file = %path.display(), size, "Mail over the size limit: recording its headers only");
        return Ok(MailFile::Oversized(Box::new(
            super::inbound_from_oversized(head, size, Vec::new(), settings),
        )));
    }
    Ok(MailFile::Whole(tokio::fs::read(path).await?))
}

/// How much of an oversized message is read to find its header block.
const HEAD_READ: usize = 256 * 1024;

/// Regular files in `dir` (not dotfiles), oldest modification first, then by name.
async fn list_oldest_first(dir: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut entries = tokio::fs::read_dir(dir).await?;
    let mut files = Vec::new();
    while let Some(entry) = entries.next_entry().await? {
        let Ok(name) = entry.file_name().into_string() else {
            tracing::warn!(file = ?entry.path(), "Skipping a mail file whose name is not UTF-8");
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let Ok(meta) = entry.metadata().await else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        files.push((modified, entry.path(), name));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.2.cmp(&b.2)));
    Ok(files.into_iter().map(|(_, p, n)| (p, n)).collect())
}

/// The `cur/` name of a processed message: its unique part plus the seen flag.
fn seen_name(name: &str) -> String {
    match name.split_once(":2,") {
        Some((base, flags)) if flags.contains('S') => format!("{base}:2,{flags}"),
        Some((base, flags)) => {
            let mut f: Vec<char> = flags.chars().chain(['S']).collect();
            f.sort_unstable();
            format!("{base}:2,{}", f.into_iter().collect::<String>())
        }
        None => format!("{name}:2,S"),
    }
}

#[cfg(test)]
mod tests {
    use super::seen_name;

    #[test]
    fn processed_files_get_the_seen_flag_once() {
        assert_eq!(
            seen_name("1700000000.M1P2.host"),
            "1700000000.M1P2.host:2,S"
        );
        assert_eq!(seen_name("1.host:2,S"), "1.host:2,S");
        assert_eq!(seen_name("1.host:2,F"), "1.host:2,FS");
        assert_eq!(seen_name("1.host:2,"), "1.host:2,S");
    }
}
