//! The binary's own documentation: shell completion scripts and the man
//! page, generated from the same clap definitions the parser uses
//! ([`crate::cli::command`]), so that they cannot drift from the flags.

use std::io::Write;
use std::process::ExitCode;

use clap_complete::Shell;

use crate::cli::Command;
use crate::terminal::say;

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut cmd = crate::cli::command();
    let mut out = Vec::new();
    // Into memory first: the generator panics on a failed write (a closed
    // pipe), and nothing here may panic.
    clap_complete::generate(shell, &mut cmd, "clusterdeck", &mut out);
    out
}

/// The man page, in roff.
pub fn man() -> Vec<u8> {
    let mut out = Vec::new();
    let page = clap_mangen::Man::new(crate::cli::command());
    // Writing into a Vec cannot fail.
    let _ = page.render(&mut out);
    out
}

/// `help [COMMAND]`: the long help of the program or of one subcommand.
fn help(name: Option<&str>) -> Result<Vec<u8>, String> {
    let mut cmd = crate::cli::command();
    cmd.build();
    let target = match name {
        None => &mut cmd,
        Some(name) => cmd.find_subcommand_mut(name).ok_or_else(|| {
            format!(
                "help {}: no such subcommand; `clusterdeck help` lists them",
                name.escape_debug()
            )
        })?,
    };
    // Plain text (Display drops the styles): it may go into a pipe.
    Ok(target.render_long_help().to_string().into_bytes())
}

/// `completions`, `man` and `help`: printed before anything else starts (no log
/// file, no config, no source); `None` for every other mode.
pub fn run(command: Option<&Command>) -> Option<ExitCode> {
    let text = match command? {
        Command::Completions { shell } => completions(*shell),
        Command::Man => man(),
        Command::Help { command } => match help(command.as_deref()) {
            Ok(text) => text,
            Err(e) => {
                say(format_args!("clusterdeck: {e}"));
                return Some(ExitCode::from(crate::run::EXIT_USAGE));
            }
        },
        _ => return None,
    };
    let mut stdout = std::io::stdout().lock();
    Some(
        match stdout.write_all(&text).and_then(|()| stdout.flush()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                say(format_args!("clusterdeck: cannot write to stdout: {e}"));
                ExitCode::FAILURE
            }
        },
    )
}
