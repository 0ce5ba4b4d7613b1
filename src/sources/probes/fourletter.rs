//! ZooKeeper's four-letter words (`srvr`, `mntr`, `conf`) turned into JSON
//! so the definition's jq expressions read them like any reply: `key: value`,
//! `key=value` and `key<TAB>value` lines become fields; `conf`'s
//! `server.N=host:quorum:election[:role][;[client host:]client port]` lines
//! become `servers`; `srvr`'s hexadecimal `Zxid` is also given as `zxid`,
//! `epoch` (its high 32 bits) and `counter` (its low 32 bits).

use serde_json::{Map, Value, json};

/// The text a server sends when it has no quorum.
const NOT_SERVING: &str = "not currently serving requests";
/// The text a server sends for a word `4lw.commands.whitelist` leaves out.
const NOT_WHITELISTED: &str = "is not in the whitelist";

/// One reply as JSON. `host` is the server asked, for `conf` lines whose
/// client address is a wildcard.
pub fn to_json(word: &str, text: &str, host: &str) -> Value {
    if text.contains(NOT_SERVING) {
        return json!({"serving": false, "text": text.trim()});
    }
    if text.contains(NOT_WHITELISTED) {
        return json!({"whitelisted": false, "text": text.trim()});
    }
    let mut fields = Map::new();
    let mut servers = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(server) = line
            .strip_prefix("server.")
            .and_then(|rest| server(rest, host))
        {
            servers.push(server);
            continue;
        }
        if let Some((key, value)) = split(line) {
            fields.insert(key.to_string(), Value::String(value.to_string()));
        }
    }
    if word == "conf" || !servers.is_empty() {
        fields.insert("servers".into(), Value::Array(servers));
    }
    if let Some(zxid) = fields.get("Zxid").and_then(Value::as_str).and_then(hex) {
        fields.insert("zxid".into(), json!(zxid));
        fields.insert("epoch".into(), json!(zxid >> 32));
        fields.insert("counter".into(), json!(zxid & 0xffff_ffff));
    }
    fields.insert("serving".into(), Value::Bool(true));
    Value::Object(fields)
}

fn split(line: &str) -> Option<(&str, &str)> {
    let at = line.find(['\t', '=', ':'])?;
    let (key, rest) = line.split_at(at);
    Some((key.trim(), rest[1..].trim()))
}

fn hex(text: &str) -> Option<u64> {
    u64::from_str_radix(text.trim().trim_start_matches("0x"), 16).ok()
}

/// `1=127.0.0.1:2888:3888:participant;0.0.0.0:2181` (the client part only
/// from ZooKeeper 3.5 on).
fn server(rest: &str, host: &str) -> Option<Value> {
    let (id, spec) = rest.split_once('=')?;
    let (quorum, client) = match spec.split_once(';') {
        Some((quorum, client)) => (quorum, Some(client)),
        None => (spec, None),
    };
    let mut parts = quorum.split(':');
    let server_host = parts.next()?.to_string();
    let role = parts.nth(2).unwrap_or("participant").to_string();
    let (client_host, client_port) = match client {
        Some(client) => match client.rsplit_once(':') {
            Some((h, p)) => (Some(h.to_string()), p.parse::<u16>().ok()),
            None => (None, client.parse::<u16>().ok()),
        },
        None => (None, None),
    };
    let wildcard = |h: &str| h == "0.0.0.0" || h == "::" || h == "[::]";
    let client_host = client_host.filter(|h| !wildcard(h)).unwrap_or_else(|| {
        if wildcard(&server_host) {
            host.to_string()
        } else {
            server_host.clone()
        }
    });
    Some(json!({
        "id": id.trim(),
        "host": client_host,
        "client_port": client_port,
        "role": role,
    }))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn srvr_gives_mode_and_the_epoch_of_the_zxid() {
        let text = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.1/3\nZxid: 0x200000005\nMode: follower\nNode count: 5\n";
        let value = to_json("srvr", text, "127.0.0.1");
        assert_eq!(value["Mode"], "follower");
        assert_eq!(value["epoch"], 2);
        assert_eq!(value["counter"], 5);
        assert_eq!(value["Zookeeper version"], "3.8.0");
    }

    #[test]
    fn conf_lists_the_ensemble_with_client_ports() {
        let text = "clientPort=2181\nserverId=2\nserver.1=127.0.0.1:2888:3888:participant;0.0.0.0:21811\nserver.2=127.0.0.1:2889:3889:participant;127.0.0.1:21812\nserver.3=10.0.0.3:2890:3890:observer;21813\nversion=100000000\n";
        let value = to_json("conf", text, "127.0.0.1");
        assert_eq!(value["serverId"], "2");
        let servers = value["servers"].as_array().unwrap();
        assert_eq!(servers.len(), 3);
        assert_eq!(servers[0]["host"], "127.0.0.1");
        assert_eq!(servers[0]["client_port"], 21811);
        assert_eq!(servers[2]["host"], "10.0.0.3");
        assert_eq!(servers[2]["role"], "observer");
    }

    #[test]
    fn a_server_without_quorum_says_so() {
        let value = to_json(
            "srvr",
            "This ZooKeeper instance is not currently serving requests\n",
            "h",
        );
        assert_eq!(value["serving"], false);
    }

    proptest! {
        #[test]
        fn any_text_gives_an_object(text in ".{0,400}") {
            let value = to_json("conf", &text, "127.0.0.1");
            prop_assert!(value.is_object());
        }
    }
}
