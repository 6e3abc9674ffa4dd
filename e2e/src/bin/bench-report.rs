//! Turns the result files of the real-node tests into the generated section of
//! BENCHMARKS.md.
//!
//! Usage: bench-report --results DIR [--update FILE]
//!   --results  directory of `<test>.json` records (READYROLL_BENCH_DIR of the test run)
//!   --update   replace the generated section of FILE (between its markers) in place;
//!              without it the section is printed on stdout
use std::{path::PathBuf, process::ExitCode};

use readyroll_e2e::bench::{self, BenchRecord};

const USAGE: &str = "usage: bench-report --results DIR [--update FILE]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench-report: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut results: Option<PathBuf> = None;
    let mut update: Option<PathBuf> = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))
        };
        match arg.to_str() {
            Some("--results") => results = Some(value("--results")?),
            Some("--update") => update = Some(value("--update")?),
            _ => return Err(format!("unexpected argument {arg:?}; {USAGE}")),
        }
    }
    let results = results.ok_or_else(|| format!("--results is required; {USAGE}"))?;
    let records = BenchRecord::read_all(&results).map_err(|e| e.to_string())?;
    if records.is_empty() {
        return Err(format!(
            "{} holds no results; run the node tier first (make test-node)",
            results.display()
        ));
    }
    let generated = bench::render(&records);
    let Some(path) = update else {
        print!("{generated}");
        return Ok(());
    };
    let document =
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let updated =
        bench::replace_generated(&document, &generated, &path).map_err(|e| e.to_string())?;
    std::fs::write(&path, updated).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "bench-report: updated {} from {} record(s) in {}",
        path.display(),
        records.len(),
        results.display()
    );
    Ok(())
}
