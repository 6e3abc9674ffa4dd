//! Process-wide logging: human-readable text or one JSON object per line.

use std::fmt;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines for a terminal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = LoggingError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(LoggingError::Format(other.to_owned())),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::Json => "json",
        })
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("--log-format: unknown format {0:?} (expected text or json)")]
    Format(String),
    #[error("--log-level: {directive:?} is not a valid level or filter (e.g. info, debug, readyroll=debug,kube=info): {source}")]
    Level {
        directive: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("a global logger is already installed")]
    AlreadyInstalled,
}

/// Parses `level`: a level (`info`) or a filter in `RUST_LOG` syntax
/// (`readyroll=debug,kube=info`).
pub fn parse_filter(level: &str) -> Result<EnvFilter, LoggingError> {
    EnvFilter::builder()
        .parse(level)
        .map_err(|source| LoggingError::Level {
            directive: level.to_owned(),
            source,
        })
}

/// Installs the global logger writing to stderr in `format`, filtered by
/// `level` (see [`parse_filter`]). Call once, first thing in `main`.
pub fn init_logging(format: LogFormat, level: &str) -> Result<(), LoggingError> {
    let filter = parse_filter(level)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    installed.map_err(|_| LoggingError::AlreadyInstalled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_print_back() {
        for format in [LogFormat::Text, LogFormat::Json] {
            assert_eq!(format.to_string().parse::<LogFormat>().ok(), Some(format));
        }
        let err = "yaml".parse::<LogFormat>().expect_err("unknown format");
        assert!(err.to_string().contains("--log-format"), "{err}");
    }

    #[test]
    fn levels_and_filters_parse() {
        for level in ["info", "debug", "readyroll=debug,kube=info", "warn"] {
            assert!(parse_filter(level).is_ok(), "{level}");
        }
    }

    #[test]
    fn a_bad_level_names_the_flag() {
        let err = parse_filter("readyroll=loud").expect_err("bad level");
        let message = err.to_string();
        assert!(message.contains("--log-level"), "{message}");
        assert!(message.contains("readyroll=loud"), "{message}");
    }
}
