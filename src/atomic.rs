//! Atomic file writing: every file the toolkit writes (docker `config.json`, deploy artifacts, reports)
//! goes through [`write`], so a reader sees the old file or the new one, never a torn one, and a failure
//! leaves the old file as it was.

use crate::error::Diagnostic;
use crate::exit::Code;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The directory does not exist or is not writable.
    #[error("create a temporary file in `{}`", dir.display())]
    Create {
        /// The directory of the target file.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing or syncing the temporary file failed (disk full, quota).
    #[error("write `{}`", path.display())]
    Write {
        /// The target file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The final rename failed.
    #[error("replace `{}`", path.display())]
    Replace {
        /// The target file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Diagnostic for WriteError {
    fn exit_code(&self) -> Code {
        Code::Usage
    }

    fn help(&self) -> Option<String> {
        let dir = match self {
            WriteError::Create { dir, .. } => dir.clone(),
            WriteError::Write { path, .. } | WriteError::Replace { path, .. } => {
                parent_dir(path).to_path_buf()
            }
        };
        Some(format!(
            "check that `{}` exists, is writable and has free space",
            dir.display()
        ))
    }
}

/// [`write`], creating `path`'s missing parent directories first (for output files whose directory
/// the user names on the command line: `-o out/taskdef.json`).
pub fn write_creating_dirs(path: &Path, contents: &[u8], mode: u32) -> Result<(), WriteError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|source| WriteError::Create {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    write(path, contents, mode)
}

/// Writes `contents` to `path` atomically with permission bits `mode` (e.g. `0o600` for secrets).
///
/// The bytes go to a temporary file in the same directory (so the rename cannot cross file systems),
/// which is synced, given `mode`, and renamed over `path`; the directory is then synced. If `path` is a
/// symbolic link, the file it points to is replaced and the link is kept. Secrets are safe throughout:
/// the temporary file is created with mode 0600.
pub fn write(path: &Path, contents: &[u8], mode: u32) -> Result<(), WriteError> {
    let target = resolve_symlink(path);
    let dir = parent_dir(&target);
    let file_name = target
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|source| WriteError::Create {
            dir: dir.to_path_buf(),
            source,
        })?;
    let write_err = |source| WriteError::Write {
        path: target.clone(),
        source,
    };
    tmp.write_all(contents).map_err(write_err)?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(&target).map_err(|e| WriteError::Replace {
        path: target.clone(),
        source: e.error,
    })?;
    // Make the rename itself durable. Not every file system supports syncing a directory; the data
    // is already in place, so a failure here is not reported.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Follows a chain of symbolic links at `path` (bounded), so the link survives the rename.
pub(crate) fn resolve_symlink(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::read_link(&current) {
            Ok(target) => current = parent_dir(&current).join(target),
            Err(_) => break,
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn writes_with_the_requested_mode_and_replaces_existing_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs::write(&path, "old").unwrap();
        write(&path, b"{\"auths\":{}}\n", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"auths\":{}}\n");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        write(&path, b"x", 0o644).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["config.json"]);
    }

    #[test]
    fn a_symlink_is_kept_and_its_target_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write(&link, b"new", 0o600).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent").join("out.json");
        let err = write(&path, b"x", 0o644).unwrap_err();
        assert!(err.to_string().contains("absent"), "{err}");
        assert_eq!(err.exit_code(), Code::Usage);
        assert!(!path.exists());
    }

    #[test]
    fn concurrent_writers_never_leave_a_torn_file() {
        // Each writer writes 256 KiB of its own byte; a torn file would mix bytes or be short.
        const SIZE: usize = 256 * 1024;
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join("artifact.json"));
        write(&path, &vec![b'0'; SIZE], 0o644).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (path, stop) = (Arc::clone(&path), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut reads = 0u32;
                while !stop.load(Ordering::Relaxed) || reads == 0 {
                    let data = fs::read(&*path).unwrap();
                    assert_eq!(data.len(), SIZE, "short read: a torn file");
                    assert!(
                        data.iter().all(|b| *b == data[0]),
                        "mixed content: a torn file"
                    );
                    reads += 1;
                }
                reads
            })
        };
        let writers: Vec<_> = (0..4u8)
            .map(|i| {
                let path = Arc::clone(&path);
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        write(&path, &vec![b'a' + i; SIZE], 0o644).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
        let last = fs::read(&*path).unwrap();
        assert!((b'a'..b'e').contains(&last[0]));
        let leftovers = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "temporary files left behind");
    }
}
