//! Runs the real `clusterdeck` binary in a pseudo-terminal, sends keys, and
//! reads the screen through a terminal emulator (vt100).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

/// The console running in a pseudo-terminal.
pub struct PtyConsole {
    /// None once [`PtyConsole::close_terminal`] closed it.
    master: Option<Box<dyn MasterPty + Send>>,
    writer: Option<Box<dyn Write + Send>>,
    child: Box<dyn Child + Send + Sync>,
    parser: Arc<Mutex<vt100::Parser>>,
    reader: Option<thread::JoinHandle<()>>,
    /// Tells the reader to close its copy of the master and stop.
    stop: Arc<AtomicBool>,
}

/// Reads the console's output into the emulator from a copy of the master's
/// fd, looking every 50 ms whether to stop, so that closing the terminal
/// can close every copy of the master.
fn spawn_reader(
    master_fd: i32,
    sink: Arc<Mutex<vt100::Parser>>,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    // CLOEXEC: a process another test starts meanwhile must not inherit a
    // copy of the master, or closing the terminal would not close it.
    // SAFETY: a copy of an fd we own; it is closed by this thread.
    let fd = unsafe { libc::fcntl(master_fd, libc::F_DUPFD_CLOEXEC, 0) };
    assert!(fd >= 0, "dup of the pty master failed");
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while !stop.load(Ordering::Relaxed) {
            let mut poll = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, a bounded timeout.
            let ready = unsafe { libc::poll(&mut poll, 1, 50) };
            if ready <= 0 {
                continue;
            }
            // SAFETY: reads into our own buffer, at most its length.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            sink.lock().unwrap().process(&buf[..n as usize]);
        }
        // SAFETY: the fd dup'ed above, closed once.
        unsafe { libc::close(fd) };
    })
}

impl PtyConsole {
    /// Starts `clusterdeck ARGS` in a `cols`x`rows` terminal with its own state dir.
    pub fn spawn(args: &[&str], cols: u16, rows: u16, envs: &[(&str, &str)]) -> PtyConsole {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("cannot open a pseudo-terminal");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_clusterdeck"));
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = pty
            .slave
            .spawn_command(cmd)
            .expect("cannot start clusterdeck");
        // Without dropping our copy of the slave, the reader never sees EOF.
        drop(pty.slave);
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZeroU16::new(rows.max(1)).unwrap(),
            std::num::NonZeroU16::new(cols.max(1)).unwrap(),
            0,
        )));
        let master_fd = pty.master.as_raw_fd().expect("the pty master's fd");
        let stop = Arc::new(AtomicBool::new(false));
        let reader = spawn_reader(master_fd, Arc::clone(&parser), Arc::clone(&stop));
        let writer = pty.master.take_writer().expect("pty writer");
        PtyConsole {
            master: Some(pty.master),
            writer: Some(writer),
            child,
            parser,
            reader: Some(reader),
            stop,
        }
    }

    /// The screen's text now.
    pub fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits until the screen satisfies `cond`, or panics with the screen.
    pub fn wait_for(&self, what: &str, deadline: Duration, cond: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + deadline;
        loop {
            let screen = self.screen();
            if cond(&screen) {
                return screen;
            }
            if Instant::now() > end {
                panic!("timed out after {deadline:?} waiting for {what}; screen:\n{screen}");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the screen contains `text`.
    pub fn wait_for_text(&self, text: &str, deadline: Duration) -> String {
        self.wait_for(&format!("{text:?}"), deadline, |s| s.contains(text))
    }

    /// Types keys (raw bytes: "j", "\r", "\x1b" ...).
    pub fn send(&mut self, keys: &str) {
        let writer = self.writer.as_mut().expect("the terminal is open");
        writer.write_all(keys.as_bytes()).expect("write to pty");
        writer.flush().expect("flush pty");
    }

    /// Focuses the members pane and moves down until the details pane
    /// names `name` as the selected member.
    pub fn select_member(&mut self, name: &str) {
        let deadline = Duration::from_secs(60);
        self.send("\t");
        self.wait_for("the members pane focused", deadline, |sc| {
            selected(sc).is_some()
        });
        for _ in 0..10 {
            let now = selected(&self.screen());
            if now.as_deref() == Some(name) {
                return;
            }
            self.send("j");
            self.wait_for("the selection to move", deadline, |sc| selected(sc) != now);
        }
        panic!("cannot select {name}; screen:\n{}", self.screen());
    }

    /// Closes the pseudo-terminal's master side, as a closed tmux pane or a
    /// dropped SSH session does: the console gets SIGHUP, and every write
    /// to its terminal fails from then on.
    pub fn close_terminal(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.writer = None;
        self.master = None;
    }

    pub fn pid(&self) -> i32 {
        self.child.process_id().expect("child pid") as i32
    }

    /// Sends a signal to the console.
    pub fn signal(&self, signal: i32) {
        unsafe {
            libc::kill(self.pid(), signal);
        }
    }

    /// Waits for the console to exit and for its last output to be read.
    pub fn wait_exit(&mut self, deadline: Duration) -> portable_pty::ExitStatus {
        let end = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return status;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!(
                    "clusterdeck did not exit within {deadline:?}; screen:\n{}",
                    self.screen()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Feeds output to the emulator as if another program wrote it to the
    /// terminal (one run from the shell while the console is stopped).
    pub fn emulate_output(&self, bytes: &[u8]) {
        self.parser.lock().unwrap().process(bytes);
    }

    /// True when the console asked the terminal for mouse events.
    pub fn mouse_captured(&self) -> bool {
        self.parser.lock().unwrap().screen().mouse_protocol_mode() != vt100::MouseProtocolMode::None
    }

    /// A left click at a cell (0-based), as xterm sends it in SGR mode.
    pub fn click(&mut self, column: u16, row: u16) {
        self.send(&format!(
            "\x1b[<0;{};{}M\x1b[<0;{};{}m",
            column + 1,
            row + 1,
            column + 1,
            row + 1
        ));
    }

    /// True when the emulator is on the alternate screen.
    pub fn on_alternate_screen(&self) -> bool {
        self.parser.lock().unwrap().screen().alternate_screen()
    }

    /// True when the terminal is in canonical mode with echo: raw mode is off.
    pub fn is_cooked(&self) -> bool {
        let master = self.master.as_ref().expect("the terminal is open");
        let termios = master.get_termios().expect("termios of the pty");
        use nix::sys::termios::LocalFlags;
        termios
            .local_flags
            .contains(LocalFlags::ICANON | LocalFlags::ECHO)
    }
}

impl Drop for PtyConsole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The selected member, as the details pane names it (`name  <member>`).
pub fn selected(screen: &str) -> Option<String> {
    screen.lines().find_map(|l| {
        let rest = l.trim_start_matches('│').strip_prefix("name ")?;
        rest.split_whitespace().next().map(str::to_string)
    })
}
