//! The command line itself: version and help a newcomer can follow.

mod common;

use common::readyroll;

#[test]
fn version_names_the_crate_version_and_commit() {
    let run = readyroll(&["version"]);
    assert!(run.success);
    let line = run.stdout.trim_end();
    let prefix = concat!("readyroll ", env!("CARGO_PKG_VERSION"), " (commit ");
    assert!(line.starts_with(prefix) && line.ends_with(')'), "{line}");
    let commit = &line[prefix.len()..line.len() - 1];
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit}"
    );
    let run = readyroll(&["--version"]);
    assert_eq!(run.stdout, format!("{line}\n"));
}

#[test]
fn help_shows_commands_and_examples() {
    let run = readyroll(&["--help"]);
    assert!(run.success);
    for text in [
        "crd",
        "convert",
        "version",
        "Examples:",
        "readyroll crd | kubectl apply -f -",
    ] {
        assert!(
            run.stdout.contains(text),
            "--help lacks {text:?}:\n{}",
            run.stdout
        );
    }
    let run = readyroll(&["convert", "--help"]);
    for text in [
        "--image <IMAGE>",
        "--namespace <NAMESPACE>",
        "--env <PROFILE>",
        "Examples:",
    ] {
        assert!(
            run.stdout.contains(text),
            "convert --help lacks {text:?}:\n{}",
            run.stdout
        );
    }
}

#[test]
fn a_missing_subcommand_is_a_usage_error() {
    let run = readyroll(&[]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("Usage: readyroll <COMMAND>"),
        "{}",
        run.stderr
    );
}
