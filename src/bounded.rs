//! Reading what the console did not write itself, with a bound: a file
//! (the config, the ledger) must be a regular file of at most a given size,
//! so `/dev/zero` or a FIFO named by mistake is an error at once instead of
//! a process that reads without end or blocks forever.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest config file read: far beyond any hand-written config.
pub const CONFIG_BYTES: u64 = 1024 * 1024;

/// The largest kubeconfig read (generated ones with many clusters and
/// embedded certificates run to hundreds of kilobytes).
pub const KUBECONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// Why a bounded read failed; the text says what and which bound.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("is {0}, not a regular file")]
    NotAFile(&'static str),
    #[error("is larger than {limit} bytes, the most that is read")]
    TooLarge { limit: u64 },
    #[error("is not UTF-8 text")]
    NotText,
}

/// Reads a regular file of at most `limit` bytes as text.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotText)
}

/// Checks that a file another library will read (a kubeconfig) is a
/// regular file of at most `limit` bytes, without reading it.
pub fn check_file(path: &Path, limit: u64) -> Result<(), ReadError> {
    let size = open_regular(path)?.metadata()?.len();
    if size > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(())
}

/// Opens `path` for reading if it is a regular file.
fn open_regular(path: &Path) -> Result<File, ReadError> {
    // O_NONBLOCK: opening a FIFO with no writer must not block; it is
    // refused below as not a regular file.
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "something else"
    };
    Err(ReadError::NotAFile(what))
}

/// The deepest nesting of YAML/JSON flow collections (`[`, `{`) in `text`,
/// outside quoted strings: a parser recursing 100,000 levels deep takes
/// seconds, so the caller refuses such text before parsing it.
pub fn flow_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' | '{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_large_files_are_refused_at_once() {
        let e = read_text(Path::new("/dev/zero"), 10).unwrap_err();
        assert_eq!(e.to_string(), "is a device, not a regular file");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) on a path in our own temporary folder.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_text(&fifo, 10).unwrap_err();
        assert_eq!(e.to_string(), "is a FIFO, not a regular file");
        let big = dir.path().join("big");
        std::fs::write(&big, "x".repeat(11)).unwrap();
        let e = read_text(&big, 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "is larger than 10 bytes, the most that is read"
        );
        assert_eq!(
            check_file(&big, 10).unwrap_err().to_string(),
            "is larger than 10 bytes, the most that is read"
        );
        std::fs::write(&big, "x".repeat(10)).unwrap();
        assert_eq!(read_text(&big, 10).unwrap().len(), 10);
        check_file(&big, 10).unwrap();
        assert!(check_file(Path::new("/dev/zero"), 10).is_err());
    }

    #[test]
    fn nesting_is_counted_outside_quotes() {
        assert_eq!(flow_depth("a: [1, {b: [2]}]"), 3);
        assert_eq!(flow_depth("a: \"[[[[\"\nb: '{{'"), 0);
        assert_eq!(flow_depth(&"[".repeat(100_000)), 100_000);
    }
}
