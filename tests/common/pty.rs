//! Runs the real `clusterdeck` binary in a pseudo-terminal, sends keys, and
//! reads the screen through a terminal emulator (vt100).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

/// The console running in a pseudo-terminal.
pub struct PtyConsole {
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    parser: Arc<Mutex<vt100::Parser>>,
    reader: Option<thread::JoinHandle<()>>,
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
        let mut reader = pty.master.try_clone_reader().expect("pty reader");
        let sink = Arc::clone(&parser);
        let reader = thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().process(&buf[..n]);
            }
        });
        let writer = pty.master.take_writer().expect("pty writer");
        PtyConsole {
            master: pty.master,
            writer,
            child,
            parser,
            reader: Some(reader),
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
        self.writer
            .write_all(keys.as_bytes())
            .expect("write to pty");
        self.writer.flush().expect("flush pty");
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

    /// True when the emulator is on the alternate screen.
    pub fn on_alternate_screen(&self) -> bool {
        self.parser.lock().unwrap().screen().alternate_screen()
    }

    /// True when the terminal is in canonical mode with echo: raw mode is off.
    pub fn is_cooked(&self) -> bool {
        let termios = self.master.get_termios().expect("termios of the pty");
        use nix::sys::termios::LocalFlags;
        termios
            .local_flags
            .contains(LocalFlags::ICANON | LocalFlags::ECHO)
    }
}

impl Drop for PtyConsole {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
