//! PM2's `NODE_APP_INSTANCE` (and `instance_var`, `increment_var`) for a pod.
//!
//! The operator gives every pod of an App a distinct index in a pod
//! annotation and exposes it through a downward-API volume; the shim reads
//! the file before it starts the app. The kubelet may write the file a moment
//! after the container starts, or the annotation may not be there yet (the
//! file is then empty), so the shim waits for it, bounded by the listen
//! timeout, and starts without it after a warning rather than not at all.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cli::InstanceConfig;

const POLL_EVERY: Duration = Duration::from_millis(50);

/// The index in `file`: a non-negative integer, surrounding space ignored.
pub fn read_index(file: &Path) -> Result<u64, String> {
    let text =
        fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("{} is empty", file.display()));
    }
    text.parse()
        .map_err(|_| format!("{} holds `{text}`, not an instance index", file.display()))
}

/// Polls [`read_index`] until it succeeds or `budget` has passed; the
/// error is the last reason. `pause` waits between two reads (the shim
/// answers probes meanwhile).
pub fn wait_for_index(
    file: &Path,
    budget: Duration,
    mut pause: impl FnMut(Duration),
) -> Result<u64, String> {
    let give_up = Instant::now() + budget;
    loop {
        match read_index(file) {
            Ok(index) => return Ok(index),
            Err(e) if Instant::now() >= give_up => return Err(e),
            Err(_) => pause(POLL_EVERY.min(give_up.saturating_duration_since(Instant::now()))),
        }
    }
}

/// The variables to set: `instance_var` = index, and `increment_var` =
/// its value in the environment (`current`, read as a number, else 0) plus
/// the index — PM2 gives the first instance the base value and each next
/// one the previous value + 1.
pub fn variables(
    config: &InstanceConfig,
    index: u64,
    current: Option<&str>,
) -> Vec<(String, String)> {
    let mut vars = vec![(config.var.clone(), index.to_string())];
    if let Some(var) = &config.increment_var {
        let base = current
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(0);
        let value = base.saturating_add(i64::try_from(index).unwrap_or(i64::MAX));
        vars.push((var.clone(), value.to_string()));
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn config(increment: Option<&str>) -> InstanceConfig {
        InstanceConfig {
            file: PathBuf::from("/unused"),
            var: "NODE_APP_INSTANCE".into(),
            increment_var: increment.map(str::to_string),
        }
    }

    #[test]
    fn index_and_increment_var_follow_pm2() {
        assert_eq!(
            variables(&config(None), 2, None),
            [("NODE_APP_INSTANCE".to_string(), "2".to_string())]
        );
        let vars = variables(&config(Some("PORT")), 2, Some("3000"));
        assert_eq!(vars[1], ("PORT".to_string(), "3002".to_string()));
        // PM2: Number(env[var]) || 0.
        assert_eq!(variables(&config(Some("PORT")), 1, None)[1].1, "1");
        assert_eq!(variables(&config(Some("PORT")), 1, Some("abc"))[1].1, "1");
    }

    #[test]
    fn the_file_is_read_trimmed_and_checked() {
        let dir = std::env::temp_dir().join(format!("readyroll-instance-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("mkdir");
        let file = dir.join("instance");
        assert!(read_index(&file).is_err(), "absent");
        fs::write(&file, "").expect("write");
        assert!(read_index(&file).expect_err("empty").contains("is empty"));
        fs::write(&file, "x1").expect("write");
        assert!(read_index(&file).is_err());
        fs::write(&file, " 3\n").expect("write");
        assert_eq!(read_index(&file), Ok(3));
        let started = Instant::now();
        fs::write(&file, "").expect("write");
        assert!(wait_for_index(&file, Duration::from_millis(120), std::thread::sleep).is_err());
        assert!(started.elapsed() >= Duration::from_millis(120));
    }
}
