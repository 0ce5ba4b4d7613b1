//! The timeline kept across runs: the console appends every event it
//! records to a file in the state directory, one JSON object a line (the
//! shape `watch --events` prints), and a later console watching the same
//! sources reads the last of them back and shows them as history, so the
//! operator sees what happened before they opened it. One file per set of
//! sources (a hash of their targets), bounded in size; a line that does not
//! parse is skipped; writing never stops the console (a failure is logged
//! once and the history is not kept further).

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::model::{Event, Timeline};

/// The most read back, and the size the file is cut back to.
pub const MAX_BYTES: u64 = 1 << 20;
/// The most events shown from earlier runs.
pub const SHOWN: usize = 500;

/// One set of sources' timeline file.
#[derive(Debug)]
pub struct History {
    path: PathBuf,
    /// This run's events already written.
    written: u64,
    /// False after a write failed: the history is not kept further.
    working: bool,
}

impl History {
    /// The file for these source targets, in `dir`.
    pub fn for_sources<'a>(dir: &Path, targets: impl Iterator<Item = &'a str>) -> History {
        let mut targets: Vec<&str> = targets.collect();
        targets.sort_unstable();
        History {
            path: dir.join(format!("timeline-{:016x}.jsonl", fnv(&targets.join("\n")))),
            written: 0,
            working: true,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last [`SHOWN`] events of earlier runs, oldest first.
    pub fn load(&self) -> Vec<Event> {
        let Ok(text) = read_tail(&self.path, MAX_BYTES) else {
            return Vec::new();
        };
        let mut events: Vec<Event> = text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        let skip = events.len().saturating_sub(SHOWN);
        events.drain(..skip);
        events
    }

    /// Appends the timeline's events not written yet; cuts the file back
    /// when it outgrew [`MAX_BYTES`].
    pub fn save(&mut self, timeline: &Timeline) {
        if !self.working || timeline.pushed() == self.written {
            return;
        }
        let mut text = String::new();
        for event in timeline.pushed_since(self.written) {
            if let Ok(line) = serde_json::to_string(event) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        self.written = timeline.pushed();
        if let Err(e) = self.append(&text) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot keep the timeline; not trying again");
            self.working = false;
        }
    }

    fn append(&self, text: &str) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::File::options()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)?;
        file.write_all(text.as_bytes())?;
        if file.metadata()?.len() > 2 * MAX_BYTES {
            let tail = read_tail(&self.path, MAX_BYTES)?;
            let temporary = self.path.with_extension("jsonl.new");
            std::fs::write(&temporary, tail)?;
            std::fs::rename(&temporary, &self.path)?;
        }
        Ok(())
    }
}

/// The last `limit` bytes of a regular file, from its first whole line.
fn read_tail(path: &Path, limit: u64) -> std::io::Result<String> {
    let mut file = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let start = meta.len().saturating_sub(limit);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(match (start > 0, text.find('\n')) {
        (true, Some(newline)) => text[newline + 1..].to_string(),
        _ => text,
    })
}

/// FNV-1a: a stable name for a set of targets (std's hasher is seeded per
/// process, so the name would change between runs).
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventKind;

    fn event(n: i64) -> Event {
        let at = time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(n);
        Event::new(at, EventKind::MemberAdded).member(&format!("10.0.0.{n}:6379"))
    }

    #[test]
    fn events_written_by_one_run_are_read_back_by_the_next_as_history() {
        let dir = tempfile::tempdir().unwrap();
        let targets = ["redis://10.0.0.1:6379", "sentinel://x"];
        let mut history = History::for_sources(dir.path(), targets.into_iter());
        let mut timeline = Timeline::default();
        for n in 0..3 {
            timeline.push(event(n));
        }
        history.save(&timeline);
        timeline.push(event(3));
        history.save(&timeline);
        history.save(&timeline);
        let same = History::for_sources(dir.path(), targets.into_iter().rev());
        assert_eq!(
            same.path(),
            history.path(),
            "the order of the sources does not matter"
        );
        let loaded = same.load();
        assert_eq!(loaded.len(), 4, "each event once: {loaded:#?}");
        let mut next = Timeline::default();
        next.push(event(9));
        next.prepend_history(loaded);
        let members: Vec<_> = next
            .events()
            .map(|e| (e.member.clone().unwrap(), e.history))
            .collect();
        assert_eq!(members[0], ("10.0.0.0:6379".into(), true));
        assert_eq!(members[4], ("10.0.0.9:6379".into(), false));
        let other = History::for_sources(dir.path(), ["redis://10.9.9.9:6379"].into_iter());
        assert!(
            other.load().is_empty(),
            "another set of sources has its own"
        );
    }

    #[test]
    fn garbage_lines_are_skipped_and_the_file_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut history = History::for_sources(dir.path(), ["a"].into_iter());
        std::fs::write(history.path(), "not json\n\u{1b}[2J{\n").unwrap();
        let mut timeline = Timeline::with_capacity(100_000);
        for n in 0..30_000 {
            timeline.push(event(n % 250));
            if n % 1000 == 0 {
                history.save(&timeline);
            }
        }
        history.save(&timeline);
        let size = std::fs::metadata(history.path()).unwrap().len();
        assert!(size <= 2 * MAX_BYTES + 64 * 1024, "{size} bytes");
        let loaded = history.load();
        assert_eq!(loaded.len(), SHOWN);
        assert_eq!(
            loaded.last().unwrap().member.as_deref(),
            Some("10.0.0.249:6379")
        );
    }

    #[test]
    fn a_state_directory_that_cannot_be_written_is_given_up_quietly() {
        let mut history = History::for_sources(Path::new("/proc/no-such-dir"), ["a"].into_iter());
        let mut timeline = Timeline::default();
        timeline.push(event(1));
        history.save(&timeline);
        assert!(!history.working);
        assert!(history.load().is_empty());
    }
}
