//! `readyroll-shim install DEST`: the init container copies the shim into the
//! volume the app container shares, so the app image needs no copy of it.

use std::fmt;
use std::fs::{self, File, Permissions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The running executable, even when its path is not visible (other mount
/// namespace, deleted file).
const SELF_EXE: &str = "/proc/self/exe";

#[derive(Debug)]
pub struct InstallError {
    action: String,
    path: PathBuf,
    source: io::Error,
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.action,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for InstallError {}

fn failed(action: impl Into<String>, path: &Path) -> impl FnOnce(io::Error) -> InstallError + '_ {
    let action = action.into();
    move |source| InstallError {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Copies the running executable from `source` to `dest` with mode 0755.
/// The copy is written beside `dest` and renamed over it, so a reader never
/// sees a half-written binary.
pub fn install_from(source: &Path, dest: &Path) -> Result<(), InstallError> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = dest
        .file_name()
        .ok_or_else(|| failed("install to", dest)(io::Error::other("DEST has no file name")))?;
    fs::create_dir_all(parent).map_err(failed("create directory", parent))?;

    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = parent.join(temp_name);

    let result = write_copy(source, &temp).and_then(|()| {
        fs::rename(&temp, dest).map_err(failed("rename into place", dest))?;
        // Make the rename itself durable.
        File::open(parent)
            .and_then(|dir| dir.sync_all())
            .map_err(failed("sync directory", parent))
    });
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn write_copy(source: &Path, temp: &Path) -> Result<(), InstallError> {
    fs::copy(source, temp).map_err(failed(format!("copy {} to", source.display()), temp))?;
    fs::set_permissions(temp, Permissions::from_mode(0o755)).map_err(failed("chmod", temp))?;
    File::open(temp)
        .and_then(|f| f.sync_all())
        .map_err(failed("sync", temp))
}

pub fn install(dest: &Path) -> Result<(), InstallError> {
    install_from(Path::new(SELF_EXE), dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("readyroll-shim-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn copies_with_mode_0755_into_a_new_directory_and_replaces_old_files() {
        let dir = scratch_dir("install");
        let source = std::env::temp_dir().join(format!("shim-src-{}", std::process::id()));
        fs::write(&source, b"binary v2").expect("write source");
        let dest = dir.join("bin/readyroll-shim");

        install_from(&source, &dest).expect("first install");
        fs::write(&dest, b"binary v1").expect("overwrite");
        install_from(&source, &dest).expect("second install");

        assert_eq!(fs::read(&dest).expect("read dest"), b"binary v2");
        let mode = fs::metadata(&dest).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        let leftovers: Vec<_> = fs::read_dir(dir.join("bin"))
            .expect("ls")
            .flatten()
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
        fs::remove_dir_all(&dir).expect("cleanup");
        fs::remove_file(&source).expect("cleanup");
    }

    #[test]
    fn errors_name_the_path() {
        let dir = scratch_dir("install-err");
        let missing = dir.join("no-such-source");
        let err = install_from(&missing, &dir.join("dest")).expect_err("must fail");
        let text = err.to_string();
        assert!(text.contains("no-such-source to"), "{text}");
        assert!(text.contains(".dest.tmp-"), "{text}");
        let leftovers: Vec<_> = fs::read_dir(&dir).expect("ls").flatten().collect();
        assert!(leftovers.is_empty(), "temporary file removed after failure");
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}
