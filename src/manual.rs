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

/// The man page, in roff: the program's page, then one OPTIONS section per
/// subcommand with the flags of its own (`lab --replicas`, ...), so that
/// one page holds every flag.
pub fn man() -> Vec<u8> {
    let mut cmd = crate::cli::command();
    cmd.build();
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = clap_mangen::Man::new(cmd.clone()).render(&mut out);
    for sub in cmd.get_subcommands() {
        // Its own flags only: the global ones (and help) are on the page already.
        let theirs = |a: &clap::Arg| a.is_global_set() || a.get_id().as_str() == "help";
        if sub.get_arguments().all(|a| theirs(a) || a.is_hide_set()) {
            continue;
        }
        let name = sub.get_name();
        let own = sub
            .clone()
            .mut_args(|a| if theirs(&a) { a.hide(true) } else { a });
        let page = clap_mangen::Man::new(own);
        let mut section = Vec::new();
        let _ = page.render_options_section(&mut section);
        // Its heading is plain OPTIONS, the program's own: name it.
        let body = String::from_utf8_lossy(&section);
        // (after the string definitions the page's start already made).
        let body = body.split_once(".SH OPTIONS\n").map_or(&*body, |(_, b)| b);
        out.extend_from_slice(format!(".SH \"{} OPTIONS\"\n", name.to_uppercase()).as_bytes());
        out.extend_from_slice(body.as_bytes());
    }
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
