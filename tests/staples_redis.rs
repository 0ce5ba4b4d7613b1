//! `e` on a member known only through Redis: a real `redis-server` with a
//! password, the console in a pseudo-terminal, and `redis-cli` opened on
//! it with the password in `REDISCLI_AUTH` (never in argv or on screen).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pty::PtyConsole;

const WAIT: Duration = Duration::from_secs(30);
const INSTALL: &str = "apt-get install -y redis-server redis-tools";

/// A `redis-server` with a password, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn redis(password: &str) -> Redis {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--port", &port.to_string(), "--requirepass", password])
        .args(["--dir", dir.path().to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start redis-server ({e}): {INSTALL}"));
    let end = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < end, "redis-server on {port} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Redis {
        child,
        port,
        _dir: dir,
    }
}

#[test]
fn e_opens_redis_cli_with_the_password_in_its_environment() {
    let password = format!("pw-{:08x}", fastrand::u32(..));
    let server = redis(&password);
    let state = tempfile::tempdir().unwrap();
    let url = format!("redis://:{password}@127.0.0.1:{}", server.port);
    let mut c = PtyConsole::spawn(
        &["--redis", &url, "--interval", "300ms"],
        150,
        40,
        &[
            ("CLUSTERDECK_STATE_DIR", state.path().to_str().unwrap()),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ],
    );
    c.wait_for("the Redis member", WAIT, |s| s.contains("master"));
    c.send("\t");
    c.send("e");
    let confirm = c.wait_for_text("y/N", WAIT);
    assert!(
        confirm.contains("REDISCLI_AUTH=…") && confirm.contains("redis-cli -h 127.0.0.1"),
        "{confirm}"
    );
    assert!(!confirm.contains(&password), "{confirm}");
    c.send("y");
    c.wait_for("redis-cli's prompt", WAIT, |s| {
        s.contains(&format!("127.0.0.1:{}>", server.port))
    });
    let key = format!("shell-{:06x}", fastrand::u32(..0xff_ffff));
    c.send(&format!("SET {key} from-the-shell\r"));
    c.wait_for("the server's answer", WAIT, |s| s.contains("OK"));
    c.send("quit\r");
    c.wait_for("the console back", WAIT, |s| {
        s.contains("Clusters") && s.contains("ended (exit code 0)")
    });
    // The key was set through the authenticated session.
    let out = Command::new("redis-cli")
        .args(["-p", &server.port.to_string(), "GET", &key])
        .env("REDISCLI_AUTH", &password)
        .output()
        .unwrap_or_else(|e| panic!("cannot run redis-cli ({e}): {INSTALL}"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "from-the-shell"
    );
    c.send("q");
    assert!(c.wait_exit(WAIT).success());
}
