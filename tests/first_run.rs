//! The first run of the real binary: the shell completions and the man page
//! it prints, and help that says only what applies to each subcommand.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `clusterdeck ARGS`, which must succeed; its stdout.
async fn stdout_of(args: &[&str]) -> String {
    let (code, stdout, stderr) = common::run_clusterdeck(args, &[]).await;
    assert_eq!(code, 0, "{args:?}: {stderr}");
    assert!(!stdout.is_empty(), "{args:?} printed nothing");
    stdout
}

/// Runs `program ARGS` with `input` on stdin: (success, stdout, stderr).
fn pipe(program: &str, args: &[&str], input: &str) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The long flags a help text lists (`--name`, at the start of an option line).
fn listed_flags(help: &str) -> Vec<String> {
    help.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|w| w.trim_end_matches(','))
        .flat_map(|w| match w.strip_prefix('-') {
            Some(rest) if !rest.starts_with('-') => None,
            _ => Some(w),
        })
        .filter(|w| w.starts_with("--"))
        .map(|w| w.split(['=', '[', '<']).next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn completions_for_bash_zsh_and_fish_are_printed_and_bash_parses_them() {
    let bash = stdout_of(&["completions", "bash"]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clusterdeck.bash");
    std::fs::write(&file, &bash).unwrap();
    let parsed = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        parsed.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    // Sourced, it completes the subcommands after `clusterdeck `.
    let script = format!(
        "source {}; COMP_WORDS=(clusterdeck ''); COMP_CWORD=1; COMP_LINE='clusterdeck '; \
         COMP_POINT=12; _clusterdeck clusterdeck '' clusterdeck; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let (ok, words, err) = pipe("bash", &["-c", &script], "");
    assert!(ok, "{err}");
    for sub in [
        "snapshot",
        "watch",
        "heal",
        "lab",
        "completions",
        "man",
        "help",
    ] {
        assert!(
            words.lines().any(|w| w == sub),
            "{sub} not completed: {words}"
        );
    }
    let zsh = stdout_of(&["completions", "zsh"]).await;
    assert!(zsh.starts_with("#compdef clusterdeck"), "{zsh}");
    let fish = stdout_of(&["completions", "fish"]).await;
    assert!(fish.contains("complete -c clusterdeck"), "{fish}");
    assert!(fish.contains("heal"), "{fish}");
}

#[tokio::test]
async fn the_man_page_renders_and_names_every_subcommand() {
    let roff = stdout_of(&["man"]).await;
    assert!(
        roff.starts_with(".ie") || roff.contains(".TH clusterdeck"),
        "{roff}"
    );
    let (ok, page, err) = pipe("man", &["-l", "-"], &roff);
    assert!(ok, "man -l -: {err}");
    assert!(err.trim().is_empty(), "man -l - warned: {err}");
    assert!(page.contains("clusterdeck"), "{page}");
    for sub in [
        "snapshot",
        "watch",
        "heal",
        "lab",
        "completions",
        "man",
        "help",
    ] {
        let named = page.lines().any(|l| {
            l.split_whitespace()
                .any(|w| w.trim_end_matches(['(', '1', ')']) == format!("clusterdeck-{sub}"))
        });
        assert!(named, "{sub} not in the man page:\n{page}");
    }
    // The global flags, and each subcommand's own.
    for flag in [
        "--read-only",
        "--replicas",
        "--snapshots",
        "--timeout",
        "--for",
    ] {
        assert!(page.contains(flag), "{flag} not in the man page:\n{page}");
    }
    assert!(page.contains("LAB OPTIONS"), "{page}");
}

#[tokio::test]
async fn help_help_succeeds_and_help_names_a_subcommand() {
    let help = stdout_of(&["help", "--help"]).await;
    assert!(help.contains("Usage: clusterdeck help"), "{help}");
    let lab = stdout_of(&["help", "lab"]).await;
    assert!(lab.contains("Usage: clusterdeck lab"), "{lab}");
    assert!(!lab.contains('\x1b'), "colour codes into a pipe: {lab:?}");
    let (code, _, stderr) = common::run_clusterdeck(&["help", "nope"], &[]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");
}

#[tokio::test]
async fn lab_and_heal_help_list_only_what_applies() {
    let lab = listed_flags(&stdout_of(&["lab", "--help"]).await);
    for shown in ["--docker", "--replicas", "--keep-faults", "--read-only"] {
        assert!(lab.iter().any(|f| f == shown), "{shown} not in {lab:?}");
    }
    for absent in ["--redis", "--sentinel", "--sim", "--kubeconfig", "--tls-ca"] {
        assert!(!lab.iter().any(|f| f == absent), "{absent} in lab: {lab:?}");
    }
    let heal = listed_flags(&stdout_of(&["heal", "--help"]).await);
    for shown in ["--kube", "--context", "--read-only", "--request-timeout"] {
        assert!(heal.iter().any(|f| f == shown), "{shown} not in {heal:?}");
    }
    for absent in [
        "--redis",
        "--sim",
        "--docker",
        "--interval",
        "--keep-faults",
    ] {
        assert!(
            !heal.iter().any(|f| f == absent),
            "{absent} in heal: {heal:?}"
        );
    }
    // Hidden, not gone: a script that passes them everywhere still works.
    let (code, _, stderr) =
        common::run_clusterdeck(&["heal", "--sim", "3", "--interval", "2s"], &[]).await;
    assert_eq!(code, 0, "{stderr}");
}

#[tokio::test]
async fn watch_help_does_not_contradict_itself() {
    let help = stdout_of(&["watch", "--help"]).await;
    // The --events entry: its line and its description, up to the next flag.
    let events = help
        .split("\n      --events")
        .nth(1)
        .and_then(|rest| rest.split("\n      --").next())
        .unwrap_or_default();
    // It said "(the default); without it, a snapshot per change": both
    // cannot be true, and the second was not.
    assert!(!events.contains("without it"), "{help}");
    assert!(events.contains("unless --snapshots is given"), "{help}");
    assert!(help.contains("until interrupted or --for ends"), "{help}");
}
