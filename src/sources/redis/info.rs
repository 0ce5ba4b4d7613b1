//! Parsing the text of `INFO` (the `# Replication` section above all) into a
//! typed [`ReplicationInfo`], keeping every raw field for the details pane.
//!
//! The parser is strict about shape (a line that is neither a `# Section`
//! header nor `key:value` means the peer is not speaking Redis) but tolerant
//! of fields it does not know, so newer servers keep working, and of values
//! it cannot read: a field that does not parse is that field unknown (and
//! listed in [`ReplicationInfo::unreadable`]), never the instance down.

use std::collections::BTreeMap;

use super::value::truncate;

/// Why an `INFO` answer could not be read. Each says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InfoError {
    #[error("INFO line {line} is not `key:value`: {text:?}")]
    NotAField { line: usize, text: String },
    #[error("INFO has no `role` field (is this a Redis server?)")]
    NoRole,
}

/// What `role:` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationRole {
    Master,
    /// `slave` in `INFO`; `replica` in newer words.
    Replica,
    /// Anything else, kept as written.
    Other(String),
}

impl ReplicationRole {
    fn parse(text: &str) -> ReplicationRole {
        match text {
            "master" => ReplicationRole::Master,
            "slave" | "replica" => ReplicationRole::Replica,
            other => ReplicationRole::Other(other.to_string()),
        }
    }

    /// The server's own word, as `native_role` shows it.
    pub fn native(&self) -> &str {
        match self {
            ReplicationRole::Master => "master",
            ReplicationRole::Replica => "slave",
            ReplicationRole::Other(s) => s,
        }
    }
}

/// One `slaveN:ip=..,port=..,state=..,offset=..,lag=..` line of a master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaLine {
    pub ip: String,
    pub port: u16,
    /// `online`, `wait_bgsave`, `send_bulk`, ...
    pub state: Option<String>,
    pub offset: Option<u64>,
    /// Seconds since the master last heard from this replica.
    pub lag: Option<u64>,
}

/// The replication state of one instance, as its `INFO` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationInfo {
    pub role: ReplicationRole,
    pub connected_slaves: Option<u32>,
    pub slaves: Vec<ReplicaLine>,
    pub master_host: Option<String>,
    pub master_port: Option<u16>,
    /// `up` or `down`, as written.
    pub master_link_status: Option<String>,
    /// -1 when the link has never been up.
    pub master_last_io_seconds_ago: Option<i64>,
    pub master_sync_in_progress: bool,
    /// -1 while a diskless transfer has no known size.
    pub master_sync_total_bytes: Option<i64>,
    pub master_sync_read_bytes: Option<u64>,
    pub slave_repl_offset: Option<u64>,
    pub master_repl_offset: Option<u64>,
    pub master_replid: Option<String>,
    /// From `# Persistence`, when that section was asked for.
    pub loading: bool,
    /// Every field, by lower-cased section name (`replication`, `server`, ...).
    pub sections: BTreeMap<String, BTreeMap<String, String>>,
    /// Fields the console reads whose values it could not (`master_repl_offset`
    /// of `-100`): they count as unknown. Still in `sections` as written.
    pub unreadable: Vec<String>,
}

impl ReplicationInfo {
    pub fn is_master(&self) -> bool {
        self.role == ReplicationRole::Master
    }

    pub fn is_replica(&self) -> bool {
        self.role == ReplicationRole::Replica
    }

    pub fn link_up(&self) -> bool {
        self.master_link_status.as_deref() == Some("up")
    }

    /// The master this replica follows, when it names one.
    pub fn master_address(&self) -> Option<(&str, u16)> {
        Some((self.master_host.as_deref()?, self.master_port?))
    }

    /// A field from any section.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.sections
            .values()
            .find_map(|fields| fields.get(key))
            .map(String::as_str)
    }

    /// Connected replicas: the count the server gives, else its lines.
    pub fn replica_count(&self) -> usize {
        self.connected_slaves
            .map_or(self.slaves.len(), |n| n as usize)
    }
}

/// Parses `INFO` text (one or several sections, CRLF or LF line ends).
pub fn parse_info(text: &str) -> Result<ReplicationInfo, InfoError> {
    let sections = parse_sections(text)?;
    let all = |key: &str| sections.values().find_map(|f| f.get(key)).cloned();
    let role = all("role").ok_or(InfoError::NoRole)?;
    let mut bad = Vec::new();
    // A macro, not a closure: each field has its own number type.
    macro_rules! num {
        ($field:literal) => {
            number(&all, $field, &mut bad)
        };
    }
    let mut info = ReplicationInfo {
        role: ReplicationRole::parse(role.trim()),
        connected_slaves: num!("connected_slaves"),
        slaves: Vec::new(),
        master_host: all("master_host").filter(|h| !h.is_empty()),
        master_port: num!("master_port"),
        master_link_status: all("master_link_status"),
        master_last_io_seconds_ago: num!("master_last_io_seconds_ago"),
        master_sync_in_progress: number::<u8>(&all, "master_sync_in_progress", &mut bad) == Some(1),
        master_sync_total_bytes: num!("master_sync_total_bytes"),
        master_sync_read_bytes: num!("master_sync_read_bytes"),
        slave_repl_offset: num!("slave_repl_offset"),
        master_repl_offset: num!("master_repl_offset"),
        master_replid: all("master_replid"),
        loading: number::<u8>(&all, "loading", &mut bad) == Some(1),
        sections: BTreeMap::new(),
        unreadable: Vec::new(),
    };
    info.slaves = replica_lines(&sections, &mut bad);
    info.sections = sections;
    info.unreadable = bad;
    Ok(info)
}

fn parse_sections(text: &str) -> Result<BTreeMap<String, BTreeMap<String, String>>, InfoError> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = String::from("default");
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r').trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('#') {
            current = name.trim().to_ascii_lowercase();
            continue;
        }
        match line.split_once(':') {
            Some((key, value)) if !key.is_empty() => {
                sections
                    .entry(current.clone())
                    .or_default()
                    .insert(key.to_string(), value.to_string());
            }
            _ => {
                return Err(InfoError::NotAField {
                    line: index + 1,
                    text: truncate(line, 60),
                });
            }
        }
    }
    Ok(sections)
}

/// A numeric field: None when absent, and None (noted in `bad`) when its
/// value is not a number of that type.
fn number<T: std::str::FromStr>(
    all: &impl Fn(&str) -> Option<String>,
    field: &str,
    bad: &mut Vec<String>,
) -> Option<T> {
    let value = all(field)?;
    let parsed = value.trim().parse().ok();
    if parsed.is_none() {
        bad.push(field.to_string());
    }
    parsed
}

/// The `slaveN` lines in N order (0, 1, ..., 10, not 0, 1, 10).
/// A line that cannot be read is left out (and noted in `bad`).
fn replica_lines(
    sections: &BTreeMap<String, BTreeMap<String, String>>,
    bad: &mut Vec<String>,
) -> Vec<ReplicaLine> {
    let mut numbered: Vec<(u32, ReplicaLine)> = Vec::new();
    for fields in sections.values() {
        for (key, value) in fields {
            let Some(n) = key
                .strip_prefix("slave")
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            match parse_replica_line(value) {
                Some(line) => numbered.push((n, line)),
                None => bad.push(key.clone()),
            }
        }
    }
    numbered.sort_by_key(|(n, _)| *n);
    numbered.into_iter().map(|(_, line)| line).collect()
}

fn parse_replica_line(value: &str) -> Option<ReplicaLine> {
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for part in value.split(',') {
        let (k, v) = part.split_once('=')?;
        fields.insert(k.trim(), v.trim());
    }
    let ip = fields.get("ip").filter(|ip| !ip.is_empty())?.to_string();
    let port = fields.get("port")?.parse().ok()?;
    Some(ReplicaLine {
        ip,
        port,
        state: fields.get("state").map(|s| s.to_string()),
        offset: fields.get("offset").and_then(|o| o.parse().ok()),
        lag: fields.get("lag").and_then(|l| l.parse().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Captured from redis-server 7.0.15: a master with one replica syncing.
    const MASTER: &str = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
        slave0:ip=127.0.0.1,port=7302,state=online,offset=1234,lag=0\r\n\
        slave1:ip=127.0.0.1,port=7303,state=wait_bgsave,offset=0,lag=1\r\n\
        master_failover_state:no-failover\r\n\
        master_replid:1679c4ed8df2a546c77a37eee465672abe46d649\r\n\
        master_replid2:0000000000000000000000000000000000000000\r\n\
        master_repl_offset:1234\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:1\r\n\
        repl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:1\r\nrepl_backlog_histlen:0\r\n";

    /// Captured from redis-server 7.0.15: a replica still handshaking.
    const REPLICA: &str = "# Replication\nrole:slave\nmaster_host:127.0.0.1\nmaster_port:7301\n\
        master_link_status:down\nmaster_last_io_seconds_ago:-1\nmaster_sync_in_progress:0\n\
        slave_read_repl_offset:1\nslave_repl_offset:1\nmaster_link_down_since_seconds:-1\n\
        slave_priority:100\nslave_read_only:1\nreplica_announced:1\nconnected_slaves:0\n\
        master_failover_state:no-failover\n\
        master_replid:652726b89ad0dcb937f67fe15f9a7224858065cd\n\
        master_replid2:0000000000000000000000000000000000000000\nmaster_repl_offset:0\n\
        second_repl_offset:-1\nrepl_backlog_active:0\nrepl_backlog_size:1048576\n\
        repl_backlog_first_byte_offset:0\nrepl_backlog_histlen:0\n\
        # Persistence\nloading:0\nasync_loading:0\n";

    #[test]
    fn master_with_replicas() {
        let info = parse_info(MASTER).unwrap();
        assert!(info.is_master());
        assert_eq!(info.replica_count(), 2);
        assert_eq!(info.slaves.len(), 2);
        assert_eq!(info.slaves[0].port, 7302);
        assert_eq!(info.slaves[0].offset, Some(1234));
        assert_eq!(info.slaves[1].state.as_deref(), Some("wait_bgsave"));
        assert_eq!(info.slaves[1].lag, Some(1));
        assert_eq!(info.master_repl_offset, Some(1234));
        assert_eq!(info.field("repl_backlog_size"), Some("1048576"));
        assert!(info.sections["replication"].contains_key("master_replid2"));
    }

    #[test]
    fn replica_with_link_down() {
        let info = parse_info(REPLICA).unwrap();
        assert!(info.is_replica());
        assert_eq!(info.master_address(), Some(("127.0.0.1", 7301)));
        assert!(!info.link_up());
        assert_eq!(info.master_last_io_seconds_ago, Some(-1));
        assert_eq!(info.slave_repl_offset, Some(1));
        assert!(!info.loading);
        assert_eq!(info.sections["persistence"]["async_loading"], "0");
    }

    #[test]
    fn sync_in_progress() {
        let text = "role:slave\nmaster_host:h\nmaster_port:1\nmaster_sync_in_progress:1\n\
            master_sync_total_bytes:-1\nmaster_sync_read_bytes:4096\nloading:1\n";
        let info = parse_info(text).unwrap();
        assert!(info.master_sync_in_progress);
        assert_eq!(info.master_sync_total_bytes, Some(-1));
        assert_eq!(info.master_sync_read_bytes, Some(4096));
        assert!(info.loading);
    }

    #[test]
    fn many_replicas_keep_numeric_order() {
        let mut text = String::from("role:master\n");
        for n in 0..12 {
            text.push_str(&format!(
                "slave{n}:ip=10.0.0.{n},port={},state=online\n",
                7000 + n
            ));
        }
        let info = parse_info(&text).unwrap();
        let ports: Vec<u16> = info.slaves.iter().map(|s| s.port).collect();
        assert_eq!(ports, (7000..7012).collect::<Vec<u16>>());
    }

    #[test]
    fn malformed_inputs_say_what() {
        let e = parse_info("HTTP/1.1 400 Bad Request\r\n").unwrap_err();
        assert!(matches!(e, InfoError::NotAField { line: 1, .. }), "{e}");
        assert_eq!(parse_info("").unwrap_err(), InfoError::NoRole);
    }

    #[test]
    fn a_value_that_does_not_parse_is_that_field_unknown() {
        let info = parse_info(
            "role:master\nconnected_slaves:many\nmaster_repl_offset:-100\n\
             slave0:ip=1.2.3.4,port=x\nslave1:ip=1.2.3.5,port=7001\n",
        )
        .unwrap();
        assert!(info.is_master());
        assert_eq!(
            (info.connected_slaves, info.master_repl_offset),
            (None, None)
        );
        assert_eq!(info.slaves.len(), 1, "the readable replica line stays");
        assert_eq!(info.replica_count(), 1);
        assert_eq!(
            info.unreadable,
            ["connected_slaves", "master_repl_offset", "slave0"]
        );
        assert_eq!(
            info.field("master_repl_offset"),
            Some("-100"),
            "kept as written"
        );
        let info = parse_info("role:slave\nmaster_host:h\nmaster_port:70000\n").unwrap();
        assert_eq!((info.master_port, info.master_address()), (None, None));
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC*") {
            let _ = parse_info(&text);
        }

        /// Any value in any numeric field: still parsed, the role still known.
        #[test]
        fn a_bad_number_never_loses_the_role(
            field in "(connected_slaves|master_port|master_last_io_seconds_ago|\
                master_sync_in_progress|master_sync_total_bytes|master_sync_read_bytes|\
                slave_repl_offset|master_repl_offset|loading)",
            value in "[-+a-z0-9.]{0,24}",
        ) {
            let info = parse_info(&format!("role:slave\n{field}:{value}\n"));
            prop_assert!(info.as_ref().is_ok_and(|i| i.is_replica()), "{info:?}");
        }

        #[test]
        fn never_panics_on_info_like_text(
            lines in proptest::collection::vec(
                "(#|role|slave[0-9]{1,2}|master_port|loading)?[:=,a-z0-9 \r-]{0,30}", 0..20)
        ) {
            let _ = parse_info(&lines.join("\n"));
        }
    }
}
