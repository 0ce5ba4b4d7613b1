//! The terminal the console draws on: entered once, and restored on every
//! way out (return, error, panic; signals end the loop and come back here),
//! suspended and resumed around a stop (Ctrl-Z, SIGTSTP).
//!
//! Nothing here may fail or panic when the terminal is gone (a closed tmux
//! pane, a dropped SSH session: every write is EIO), because the console's
//! cleanup (healing faults, removing a lab) runs after it.

use std::io::{self, Stdout, stdout};
use std::mem::ManuallyDrop;

use crossterm::{
    cursor,
    event::{DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture},
    execute,
    terminal::{self, EnterAlternateScreen, LeaveAlternateScreen},
};
use ratatui::{Terminal, backend::CrosstermBackend};

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Raw mode and the alternate screen while alive; the normal terminal after.
pub struct TerminalGuard {
    /// Never dropped: ratatui's `Terminal` shows the cursor on drop and
    /// reports a failure with `eprintln!`, which panics when the terminal
    /// is gone. [`restore`] does the same, ignoring errors.
    pub terminal: ManuallyDrop<Tui>,
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen, and installs a panic hook
    /// that restores the terminal before the panic is reported.
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        setup()?;
        let terminal = match Terminal::new(CrosstermBackend::new(stdout())) {
            Ok(t) => t,
            Err(e) => {
                restore();
                return Err(e);
            }
        };
        Ok(TerminalGuard {
            terminal: ManuallyDrop::new(terminal),
        })
    }

    /// Gives the terminal back, stops the process as a shell's job (as vim
    /// and k9s do on Ctrl-Z), and takes the terminal again when the shell
    /// continues it; the next draw repaints everything.
    pub fn suspend(&mut self) -> io::Result<()> {
        self.release();
        // SAFETY: raise(3) on our own process; SIGSTOP cannot be caught, so
        // this returns only once SIGCONT arrives.
        unsafe {
            libc::raise(libc::SIGSTOP);
        }
        self.retake()
    }

    /// Gives the terminal back as a shell has it (cooked mode, the main
    /// screen, no mouse capture, a cursor): for Ctrl-Z, and for a program
    /// run in the console's terminal (`e`). [`TerminalGuard::retake`] undoes it.
    pub fn release(&mut self) {
        restore();
    }

    /// Takes the terminal again after [`TerminalGuard::release`]; the next
    /// draw repaints everything.
    pub fn retake(&mut self) -> io::Result<()> {
        setup()?;
        // Not `Terminal::clear`: it asks the terminal where the cursor is,
        // and the answer goes to the input reader instead (a 2 s wait, then
        // an error). Cleared here; both buffers blank make the next draw
        // paint every cell that is not blank.
        execute!(stdout(), terminal::Clear(terminal::ClearType::All))?;
        self.terminal.current_buffer_mut().reset();
        self.terminal.swap_buffers();
        Ok(())
    }
}

/// Raw mode, the alternate screen, bracketed paste, the mouse (unless
/// `CLUSTERDECK_NO_MOUSE` is set: the terminal's own text selection then
/// works without Shift), no cursor.
fn setup() -> io::Result<()> {
    terminal::enable_raw_mode()?;
    let result = execute!(
        stdout(),
        EnterAlternateScreen,
        EnableBracketedPaste,
        cursor::Hide
    )
    .and_then(|()| match std::env::var_os("CLUSTERDECK_NO_MOUSE") {
        Some(_) => Ok(()),
        None => execute!(stdout(), EnableMouseCapture),
    });
    if let Err(e) = result {
        restore();
        return Err(e);
    }
    Ok(())
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen and raw mode. Safe to call more than once and
/// when the terminal was never entered; errors are ignored because there is
/// nothing better to do with them on the way out.
pub fn restore() {
    let _ = execute!(
        stdout(),
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = terminal::disable_raw_mode();
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Puts `text` on the terminal's clipboard with OSC 52 (xterm, iTerm2,
/// kitty, WezTerm, tmux with `set-clipboard on`; it travels over SSH). The
/// text is base64 inside the sequence, so nothing in it reaches the
/// terminal as a control character; a failed write is ignored.
pub fn copy_to_clipboard(text: &str) {
    use base64::Engine;
    use std::io::Write;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let mut out = stdout();
    let _ = write!(out, "\x1b]52;c;{encoded}\x07");
    let _ = out.flush();
}

/// Writes a line to stderr, ignoring failure: cleanup runs after the terminal
/// may be gone (a dropped SSH session sends SIGHUP and closes it), and
/// `eprintln!` would panic there and cut the cleanup short.
pub fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let line = line.to_string();
    let _ = writeln!(std::io::stderr(), "{}", crate::escape::escape(&line));
}
