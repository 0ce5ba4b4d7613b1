//! The key table and the `:` command table.
//!
//! Both tables drive matching AND the help screen and footer hints, so what
//! `?` shows is exactly what the keys do. An entry's [`Scope`] decides whether
//! it exists at all in this session: under `--read-only` every mutating entry
//! is gone (not matched, not listed), and lab entries exist only in lab mode.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::actions::Intent;
use crate::app::HeaderInfo;

/// What a key does in the normal mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Quit,
    Suspend,
    Help,
    NextPane,
    PreviousPane,
    Down,
    Up,
    PageDown,
    PageUp,
    Top,
    Bottom,
    Zoom,
    Back,
    Filter,
    /// The members list's next order.
    Sort,
    CommandLine,
    LabKill,
    LabRestart,
    /// The selected member's address (else its name) to the clipboard.
    Copy,
    /// An action on the selection, planned for its platform.
    Act(Intent),
    /// The selected member's object as YAML, in a view.
    Describe,
    /// Its container's or pod's logs, followed, in a view.
    Logs,
    /// An interactive shell in it (asks y/N).
    Shell,
}

/// When an entry exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Always,
    /// Changes something: absent under read-only.
    Mutating,
    /// Changes the local lab: only in lab mode, and never under read-only.
    Lab,
}

impl Scope {
    pub fn available(self, header: &HeaderInfo) -> bool {
        match self {
            Scope::Always => true,
            Scope::Mutating => !header.read_only,
            Scope::Lab => header.lab && !header.read_only,
        }
    }
}

/// One key as the table spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A character typed without Ctrl or Alt (Shift is in the character).
    Char(char),
    Ctrl(char),
    Code(KeyCode),
}

impl Key {
    pub fn matches(self, event: &KeyEvent) -> bool {
        let ctrl_or_alt = event
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match self {
            Key::Char(c) => event.code == KeyCode::Char(c) && !ctrl_or_alt,
            Key::Ctrl(c) => {
                event.code == KeyCode::Char(c) && event.modifiers.contains(KeyModifiers::CONTROL)
            }
            Key::Code(code) => event.code == code,
        }
    }

    /// How help and the footer write the key.
    pub fn label(self) -> String {
        match self {
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("Ctrl-{}", c.to_ascii_uppercase()),
            Key::Code(code) => code_label(code).to_string(),
        }
    }
}

fn code_label(code: KeyCode) -> &'static str {
    match code {
        KeyCode::Tab => "Tab",
        KeyCode::BackTab => "Shift-Tab",
        KeyCode::Up => "↑",
        KeyCode::Down => "↓",
        KeyCode::PageUp => "PgUp",
        KeyCode::PageDown => "PgDn",
        KeyCode::Home => "Home",
        KeyCode::End => "End",
        KeyCode::Enter => "Enter",
        KeyCode::Esc => "Esc",
        _ => "?",
    }
}

/// Quits from every mode, even while typing a filter or in a dialog.
pub const QUIT_ANYWHERE: Key = Key::Ctrl('c');
/// Stops the console as a shell job, in every mode (raw mode delivers
/// Ctrl-Z as a key, not as SIGTSTP).
pub const SUSPEND_ANYWHERE: Key = Key::Ctrl('z');

/// One row of the key table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [Key],
    pub command: Command,
    pub help: &'static str,
    /// Short form for the footer; entries without one are only in help.
    pub hint: Option<&'static str>,
    pub scope: Scope,
}

const fn bind(
    keys: &'static [Key],
    command: Command,
    help: &'static str,
    hint: Option<&'static str>,
    scope: Scope,
) -> Binding {
    Binding {
        keys,
        command,
        help,
        hint,
        scope,
    }
}

use Scope::{Always, Lab, Mutating};

/// The key table, in the order help lists it.
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    bind(&[Key::Char('?')], Command::Help, "this help", Some("help"), Always),
    bind(&[Key::Char('q'), QUIT_ANYWHERE], Command::Quit, "quit (Ctrl-C anywhere)", Some("quit"), Always),
    bind(&[SUSPEND_ANYWHERE], Command::Suspend, "suspend (fg resumes)", None, Always),
    bind(&[Key::Code(KeyCode::Tab)], Command::NextPane, "next pane", Some("pane"), Always),
    bind(&[Key::Code(KeyCode::BackTab)], Command::PreviousPane, "previous pane", None, Always),
    bind(&[Key::Char('j'), Key::Code(KeyCode::Down)], Command::Down, "down / scroll", None, Always),
    bind(&[Key::Char('k'), Key::Code(KeyCode::Up)], Command::Up, "up / scroll", None, Always),
    bind(&[Key::Code(KeyCode::PageDown), Key::Ctrl('f')], Command::PageDown, "page down", None, Always),
    bind(&[Key::Code(KeyCode::PageUp), Key::Ctrl('b')], Command::PageUp, "page up", None, Always),
    bind(&[Key::Char('g'), Key::Code(KeyCode::Home)], Command::Top, "first", None, Always),
    bind(&[Key::Char('G'), Key::Code(KeyCode::End)], Command::Bottom, "last", None, Always),
    bind(&[Key::Code(KeyCode::Enter)], Command::Zoom, "drill in, zoom; zoomed timeline: go to the event", Some("zoom"), Always),
    bind(&[Key::Code(KeyCode::Esc)], Command::Back, "back: unzoom, else unfilter, else clusters", None, Always),
    bind(&[Key::Char('/')], Command::Filter, "filter members", Some("filter"), Always),
    bind(&[Key::Char('o')], Command::Sort, "order members: name, role, health, lag, where, off", None, Always),
    bind(&[Key::Char(':')], Command::CommandLine, "command line", Some("cmd"), Always),
    bind(&[Key::Char('y')], Command::Copy, "copy the address (or name) to the clipboard", None, Always),
    bind(&[Key::Char('K')], Command::LabKill, "kill selected (y/N)", Some("kill"), Lab),
    bind(&[Key::Char('R')], Command::LabRestart, "restart selected (y/N)", Some("restart"), Lab),
    bind(&[Key::Char('s')], Command::Act(Intent::Scale), "scale replicas (y/N)", Some("scale"), Mutating),
    bind(&[Key::Char('c')], Command::Act(Intent::Cordon), "cordon node (y/N)", None, Mutating),
    bind(&[Key::Char('C')], Command::Act(Intent::Uncordon), "uncordon node (y/N)", None, Mutating),
    bind(&[Key::Char('n')], Command::Act(Intent::Disconnect), "cut off network (y/N)", Some("cut"), Mutating),
    bind(&[Key::Char('N')], Command::Act(Intent::Reconnect), "reconnect it (y/N)", None, Mutating),
    bind(&[Key::Char('x')], Command::Act(Intent::Remove), "remove instance (y/N)", Some("remove"), Mutating),
    bind(&[Key::Char('H')], Command::Act(Intent::HealAll), "heal all faults (y/N)", Some("heal"), Mutating),
    bind(&[Key::Char('F')], Command::Act(Intent::Switchover), "switchover: make it the leader (y/N)", None, Mutating),
    bind(&[Key::Char('d')], Command::Describe, "describe: its container, task or pod as YAML", Some("describe"), Always),
    bind(&[Key::Char('l')], Command::Logs, "logs of its container or pod, followed", Some("logs"), Always),
    bind(&[Key::Char('e')], Command::Shell, "shell in it: docker/kubectl exec, redis-cli, psql (y/N)", Some("shell"), Mutating),
];

/// The entries that exist in this session.
pub fn bindings(header: &HeaderInfo) -> impl Iterator<Item = &'static Binding> + '_ {
    BINDINGS.iter().filter(|b| b.scope.available(header))
}

/// The command a key stands for in this session, if any.
pub fn lookup(event: &KeyEvent, header: &HeaderInfo) -> Option<Command> {
    if event.kind == KeyEventKind::Release {
        return None;
    }
    bindings(header)
        .find(|b| b.keys.iter().any(|k| k.matches(event)))
        .map(|b| b.command)
}

/// What a `:` command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineCommand {
    Quit,
    Help,
    KillMaster,
    Kill,
    Restart,
    Context,
    Namespace,
    /// A switchover to the member named.
    Switchover,
    Describe,
    /// Logs, optionally `since DUR`.
    Logs,
    Shell,
}

/// One row of the command table.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// The first name is the one help shows first; all are accepted.
    pub names: &'static [&'static str],
    pub argument: Option<&'static str>,
    pub command: LineCommand,
    pub help: &'static str,
    pub scope: Scope,
}

const fn command(
    names: &'static [&'static str],
    argument: Option<&'static str>,
    command: LineCommand,
    help: &'static str,
    scope: Scope,
) -> CommandSpec {
    CommandSpec {
        names,
        argument,
        command,
        help,
        scope,
    }
}

/// The `:` command table, in the order help lists it.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command(&["q", "quit"], None, LineCommand::Quit, "quit", Always),
    command(&["help"], None, LineCommand::Help, "show this help", Always),
    command(&["ctx"], Some("NAME"), LineCommand::Context, "Kubernetes context", Always),
    command(&["ns"], Some("NAME"), LineCommand::Namespace, "Kubernetes namespace", Always),
    command(&["kill-master"], None, LineCommand::KillMaster, "kill leader (y/N)", Lab),
    command(&["kill"], None, LineCommand::Kill, "kill selected (y/N)", Lab),
    command(&["restart"], None, LineCommand::Restart, "restart selected (y/N)", Lab),
    command(&["switchover"], Some("NAME"), LineCommand::Switchover, "make NAME the leader (y/N)", Mutating),
    command(&["describe"], None, LineCommand::Describe, "describe the selected member", Always),
    command(&["logs"], Some("[since DUR]"), LineCommand::Logs, "its logs (since 10m, 1h, all)", Always),
    command(&["shell"], None, LineCommand::Shell, "a shell in it (y/N)", Mutating),
];

/// The commands that exist in this session.
pub fn commands(header: &HeaderInfo) -> impl Iterator<Item = &'static CommandSpec> + '_ {
    COMMANDS.iter().filter(|c| c.scope.available(header))
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCommand {
    pub command: LineCommand,
    pub argument: Option<String>,
}

/// Parses what was typed after `:`; the error is the message to show.
pub fn parse_command(line: &str, header: &HeaderInfo) -> Result<Option<ParsedCommand>, String> {
    let mut words = line.split_whitespace();
    let Some(name) = words.next() else {
        return Ok(None);
    };
    // The rest of the line: `:logs since 10m` takes two words.
    let rest: Vec<&str> = words.collect();
    let argument = (!rest.is_empty()).then(|| rest.join(" "));
    let named = |spec: &&CommandSpec| spec.names.contains(&name);
    let Some(spec) = commands(header).find(named) else {
        return Err(unavailable(name, header));
    };
    match (spec.argument, &argument) {
        (Some(wanted), None) if !wanted.starts_with('[') => Err(format!("usage: :{name} {wanted}")),
        (None, Some(_)) => Err(format!("usage: :{name} (takes no argument)")),
        _ => Ok(Some(ParsedCommand {
            command: spec.command,
            argument,
        })),
    }
}

/// Why the lab's process keys are not there outside a process lab.
const ONLY_PROCESS_LAB: &str = "works only on the processes of `clusterdeck lab` (not on \
     containers or pods: n cuts one off, x removes it)";

/// Says why a command is not there: unknown, or not in this session.
fn unavailable(name: &str, header: &HeaderInfo) -> String {
    let hidden = COMMANDS.iter().find(|spec| spec.names.contains(&name));
    match hidden.map(|spec| spec.scope) {
        Some(Scope::Lab | Scope::Mutating) if header.read_only => {
            format!(":{name} is not available: the console is read-only")
        }
        Some(Scope::Lab) => format!(":{name} {ONLY_PROCESS_LAB}"),
        _ => format!("unknown command: {name} (? lists the commands)"),
    }
}

/// Why a key does nothing in this session, so that no key is silently
/// ignored: read-only, not a process lab, or no such key.
pub fn why_not(event: &KeyEvent, header: &HeaderInfo) -> Option<String> {
    if event.kind == KeyEventKind::Release {
        return None;
    }
    let hidden = BINDINGS
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(event)));
    let name = key_name(event);
    match hidden {
        Some(b) if header.read_only && b.scope != Scope::Always => Some(format!(
            "{name} ({}) is off: the console is read-only",
            b.help.trim_end_matches(" (y/N)")
        )),
        Some(b) if b.scope == Scope::Lab => Some(format!(
            "{name} ({}) {ONLY_PROCESS_LAB}",
            b.help.trim_end_matches(" (y/N)")
        )),
        Some(_) => None,
        None => match event.code {
            KeyCode::Char(c) if !c.is_control() => {
                Some(format!("no key {name} here (? lists the keys)"))
            }
            _ => None,
        },
    }
}

/// A key as a person names it: `K`, `Ctrl-x`, `F5`.
fn key_name(event: &KeyEvent) -> String {
    match event.code {
        KeyCode::Char(c) if event.modifiers.contains(KeyModifiers::CONTROL) => format!("Ctrl-{c}"),
        KeyCode::Char(c) => c.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn header(read_only: bool, lab: bool) -> HeaderInfo {
        HeaderInfo {
            interval: Duration::from_secs(1),
            read_only,
            simulated: false,
            lab,
            notice: None,
        }
    }

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn every_entry_has_keys_and_help() {
        for b in BINDINGS {
            assert!(!b.keys.is_empty() && !b.help.is_empty(), "{:?}", b.command);
        }
        for c in COMMANDS {
            assert!(!c.names.is_empty() && !c.help.is_empty(), "{:?}", c.command);
        }
    }

    #[test]
    fn no_key_is_bound_twice() {
        let keys: Vec<Key> = BINDINGS
            .iter()
            .flat_map(|b| b.keys.iter().copied())
            .collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(!keys[i + 1..].contains(k), "{k:?} bound twice");
        }
    }

    #[test]
    fn shifted_letters_and_control_keys_match() {
        let lab = header(false, true);
        let shift_k = key(KeyCode::Char('K'), KeyModifiers::SHIFT);
        assert_eq!(lookup(&shift_k, &lab), Some(Command::LabKill));
        let ctrl_c = key(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(lookup(&ctrl_c, &lab), Some(Command::Quit));
        let ctrl_k = key(KeyCode::Char('k'), KeyModifiers::CONTROL);
        assert_eq!(lookup(&ctrl_k, &lab), None);
        let back_tab = key(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(lookup(&back_tab, &lab), Some(Command::PreviousPane));
    }

    #[test]
    fn lab_keys_exist_only_in_lab_mode_and_never_read_only() {
        let k = key(KeyCode::Char('K'), KeyModifiers::SHIFT);
        assert_eq!(lookup(&k, &header(false, false)), None);
        assert_eq!(lookup(&k, &header(true, true)), None);
        assert!(bindings(&header(true, true)).all(|b| b.scope == Scope::Always));
    }

    #[test]
    fn commands_parse_with_their_arguments() {
        let h = header(false, true);
        let parsed = parse_command("ctx prod", &h)
            .expect("parses")
            .expect("a command");
        assert_eq!(parsed.command, LineCommand::Context);
        assert_eq!(parsed.argument.as_deref(), Some("prod"));
        assert_eq!(parse_command("  ", &h), Ok(None));
        assert_eq!(parse_command("ctx", &h), Err("usage: :ctx NAME".into()));
        let unknown = parse_command("foo", &h).expect_err("unknown");
        assert!(unknown.starts_with("unknown command: foo"));
    }

    #[test]
    fn lab_commands_explain_why_they_are_missing() {
        let read_only = parse_command("kill-master", &header(true, true)).expect_err("absent");
        assert!(read_only.contains("read-only"), "{read_only}");
        let not_lab = parse_command("kill", &header(false, false)).expect_err("absent");
        assert!(
            not_lab.contains("processes of `clusterdeck lab`"),
            "{not_lab}"
        );
    }

    #[test]
    fn a_key_that_does_nothing_here_says_why() {
        let k = key(KeyCode::Char('K'), KeyModifiers::SHIFT);
        let read_only = why_not(&k, &header(true, true)).unwrap();
        assert!(read_only.contains("K (kill selected) is off") && read_only.contains("read-only"));
        let not_lab = why_not(&k, &header(false, false)).unwrap();
        assert!(
            not_lab.contains("processes of `clusterdeck lab`"),
            "{not_lab}"
        );
        let n = key(KeyCode::Char('n'), KeyModifiers::NONE);
        assert!(
            why_not(&n, &header(true, false))
                .unwrap()
                .contains("cut off network")
        );
        let z = key(KeyCode::Char('z'), KeyModifiers::NONE);
        assert!(
            why_not(&z, &header(false, false))
                .unwrap()
                .contains("no key z here")
        );
        assert_eq!(why_not(&n, &header(false, false)), None, "n is there");
    }

    #[test]
    fn switchover_is_a_key_and_a_command_that_read_only_leaves_out() {
        let f = key(KeyCode::Char('F'), KeyModifiers::SHIFT);
        assert_eq!(
            lookup(&f, &header(false, false)),
            Some(Command::Act(Intent::Switchover))
        );
        assert_eq!(lookup(&f, &header(true, false)), None);
        assert_eq!(
            why_not(&f, &header(true, false)).as_deref(),
            Some("F (switchover: make it the leader) is off: the console is read-only")
        );
        let parsed = parse_command("switchover m1", &header(false, false)).unwrap();
        assert_eq!(
            parsed,
            Some(ParsedCommand {
                command: LineCommand::Switchover,
                argument: Some("m1".into())
            })
        );
        assert_eq!(
            parse_command("switchover", &header(false, false)),
            Err("usage: :switchover NAME".into())
        );
        assert_eq!(
            parse_command("switchover m1", &header(true, false)),
            Err(":switchover is not available: the console is read-only".into())
        );
        assert!(commands(&header(true, false)).all(|c| c.command != LineCommand::Switchover));
    }
}
