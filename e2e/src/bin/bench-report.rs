//! Turns the result files of the real-node tests into the generated section of
//! BENCHMARKS.md, and those of the scale benchmark (`scale/*.json`) into its scale section.
//!
//! Usage: bench-report --results DIR [--update FILE]
//!   --results  directory of `<test>.json` records (READYROLL_BENCH_DIR of the test run);
//!              the scale section is rewritten only when DIR/scale holds records
//!   --update   replace the generated section of FILE (between its markers) in place;
//!              without it the section is printed on stdout
use std::{path::PathBuf, process::ExitCode};

use readyroll_e2e::bench::{self, BenchRecord, ScaleRecord};

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
    let scale = ScaleRecord::read_all(&results).map_err(|e| e.to_string())?;
    if records.is_empty() && scale.is_empty() {
        return Err(format!(
            "{} holds no results; run the node tier first (make test-node) or make bench-scale",
            results.display()
        ));
    }
    let generated = (!records.is_empty()).then(|| bench::render(&records));
    let generated_scale = (!scale.is_empty()).then(|| bench::render_scale(&scale));
    let Some(path) = update else {
        print!("{}", generated.unwrap_or_default());
        print!("{}", generated_scale.unwrap_or_default());
        return Ok(());
    };
    let mut document =
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(generated) = generated {
        document =
            bench::replace_generated(&document, &generated, &path).map_err(|e| e.to_string())?;
    }
    if let Some(generated) = generated_scale {
        document = bench::replace_scale(&document, &generated, &path).map_err(|e| e.to_string())?;
    }
    std::fs::write(&path, document).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "bench-report: updated {} from {} node record(s) and {} scale record(s) in {}",
        path.display(),
        records.len(),
        scale.len(),
        results.display()
    );
    Ok(())
}
