//! libpq's password file (`PGPASSFILE`, else `~/.pgpass`), read the way
//! libpq reads it, so an operator's existing file works for the PostgreSQL
//! probe: `host:port:database:user:password` lines, `*` matching anything
//! in the first four fields, `\:` and `\\` escapes, `#` comments, and a
//! file group or others may read is ignored (libpq warns and ignores it
//! too; here the warning travels with the connection error, if any).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The most read of the file: far beyond any real one.
const MOST: u64 = 1024 * 1024;

/// What a connection is for; each field is compared with a line's.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    pub host: &'a str,
    pub port: u16,
    pub database: &'a str,
    pub user: &'a str,
}

/// The password file libpq would read: `$PGPASSFILE`, else `$HOME/.pgpass`.
pub fn path() -> Option<PathBuf> {
    match std::env::var_os("PGPASSFILE") {
        Some(file) if !file.is_empty() => Some(PathBuf::from(file)),
        _ => dirs::home_dir().map(|home| home.join(".pgpass")),
    }
}

/// The password of the first line matching `wanted` in the file at
/// `path`; Ok(None) when there is no file or no such line. An error says
/// why the file was not used (never what it holds).
pub fn password(path: &Path, wanted: Wanted<'_>) -> Result<Option<String>, String> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{}: ignored, as libpq ignores it: group or others may read it (chmod 0600 it)",
            path.display()
        ));
    }
    let text =
        crate::bounded::read_text(path, MOST).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(lookup(&text, wanted))
}

/// The password of the first line of `text` matching `wanted`.
pub fn lookup(text: &str, wanted: Wanted<'_>) -> Option<String> {
    let port = wanted.port.to_string();
    let want = [wanted.host, port.as_str(), wanted.database, wanted.user];
    text.lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let fields = split(line)?;
            let matches = fields[..4]
                .iter()
                .zip(want)
                .all(|((field, star), want)| *star || field == want);
            matches.then(|| fields[4].0.clone())
        })
}

/// A line's five fields unescaped, each with whether it was a bare `*`;
/// None when it has fewer than five. As in libpq, the password ends at
/// its first unescaped colon, and a lone backslash at the end stays.
fn split(line: &str) -> Option<Vec<(String, bool)>> {
    let mut fields = Vec::with_capacity(5);
    let mut field = String::new();
    let mut raw = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some() => {
                let next = chars.next()?;
                field.push(next);
                raw.push('\\');
                raw.push(next);
            }
            ':' => {
                let star = raw == "*";
                fields.push((std::mem::take(&mut field), star));
                raw.clear();
                if fields.len() == 5 {
                    break;
                }
            }
            other => {
                field.push(other);
                raw.push(other);
            }
        }
    }
    match fields.len() {
        4 => fields.push((field, false)),
        5 => {}
        _ => return None,
    }
    Some(fields)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use proptest::prelude::*;

    use super::*;

    fn at(host: &str, port: u16, database: &str, user: &str) -> Wanted<'static> {
        Wanted {
            host: Box::leak(host.to_string().into_boxed_str()),
            port,
            database: Box::leak(database.to_string().into_boxed_str()),
            user: Box::leak(user.to_string().into_boxed_str()),
        }
    }

    #[test]
    fn the_first_matching_line_wins_and_a_star_matches_anything() {
        let text = "# comment\n\
                    10.0.0.1:5432:*:postgres:first\n\
                    127.0.0.1:5433:postgres:postgres:second\n\
                    *:*:*:postgres:fallback\n\
                    *:*:*:*:any-user\n";
        let find = |w| lookup(text, w);
        assert_eq!(
            find(at("127.0.0.1", 5433, "postgres", "postgres")).as_deref(),
            Some("second")
        );
        assert_eq!(
            find(at("10.0.0.1", 5432, "app", "postgres")).as_deref(),
            Some("first")
        );
        assert_eq!(
            find(at("127.0.0.1", 5434, "postgres", "postgres")).as_deref(),
            Some("fallback")
        );
        assert_eq!(
            find(at("h", 1, "d", "monitor")).as_deref(),
            Some("any-user")
        );
    }

    #[test]
    fn escapes_are_read_as_libpq_reads_them() {
        // A host with a colon (IPv6) must be written with `\:`; the
        // password ends at its first unescaped colon, escapes undone.
        let text = "\\:\\:1:5432:db:u\\:ser:pa\\:ss\\\\word:ignored\r\n";
        assert_eq!(
            lookup(text, at("::1", 5432, "db", "u:ser")).as_deref(),
            Some("pa:ss\\word")
        );
        assert_eq!(
            lookup("h:1:d:u:ends\\\n", at("h", 1, "d", "u")).as_deref(),
            Some("ends\\"),
            "a lone backslash at the end stays"
        );
        // `\*` is a literal star, not a wildcard.
        let text = "\\*:5432:db:u:literal\n";
        assert_eq!(lookup(text, at("h", 5432, "db", "u")), None);
        assert_eq!(
            lookup(text, at("*", 5432, "db", "u")).as_deref(),
            Some("literal")
        );
    }

    #[test]
    fn short_and_comment_lines_match_nothing() {
        assert_eq!(
            lookup("h:5432:db:u\n#h:5432:db:u:pw\n", at("h", 5432, "db", "u")),
            None
        );
        assert_eq!(lookup("", at("h", 5432, "db", "u")), None);
        assert_eq!(
            lookup("h:5432:db:u:\n", at("h", 5432, "db", "u")).as_deref(),
            Some(""),
            "an empty password is a password"
        );
    }

    #[test]
    fn a_file_others_may_read_is_refused_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        let mut handle = std::fs::File::create(&file).unwrap();
        writeln!(handle, "*:*:*:*:sekrit-Pw").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let wanted = at("h", 1, "d", "u");
        let error = password(&file, wanted).unwrap_err();
        assert!(
            error.contains("chmod 0600") && !error.contains("sekrit"),
            "{error}"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            password(&file, wanted).unwrap().as_deref(),
            Some("sekrit-Pw")
        );
        assert_eq!(password(&dir.path().join("none"), wanted).unwrap(), None);
    }

    proptest! {
        #[test]
        fn any_text_is_read_without_panicking(text in "(?s).{0,300}") {
            let _ = lookup(&text, at("h", 5432, "d", "u"));
        }
    }
}
