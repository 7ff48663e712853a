//! The files a step will write, checked together before it writes anything or calls a service, so a
//! bad path fails the step at the start instead of after a push, a tag or the first of its files.
//!
//! Each step lists its outputs (and the files it reads) in its plan and calls [`OutputPaths::check`].
//! An output must be a regular file or not exist yet — never a directory, a device (`/dev/zero`,
//! `/dev/full`) or a pipe, since outputs are replaced by an atomic rename and compared by reading
//! them; its directory must exist (or be creatable, for outputs whose directories are created) and
//! take a new file; it must not be one of the inputs (writing it would replace what was read) unless
//! its bytes are known and are what that input already holds (re-writing an imageDetail.json with
//! the URI read from it changes nothing); and no two outputs may name the same file. Symbolic links
//! are followed the way [`crate::atomic::write`] follows them, and two names of one file
//! (`./a.json`, `a.json`, a link, a hard link) are one file.

use crate::atomic;
use crate::error::Diagnostic;
use crate::exit::Code;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// Why an output path was refused (exit 2, before anything was written).
#[derive(Debug, thiserror::Error)]
pub enum OutputPathError {
    /// The path is a directory, a device, a pipe or a socket.
    #[error("write `{}` ({flag}): it is {what}, not a regular file", path.display())]
    NotAFile {
        /// The flag that names it.
        flag: String,
        /// The path as given.
        path: PathBuf,
        /// What it is (`a directory`, `a character device`).
        what: &'static str,
    },
    /// The directory the file would go in does not exist (and is not created for this output).
    #[error("write `{}` ({flag}): the directory `{}` does not exist", path.display(), dir.display())]
    NoDirectory {
        /// The flag that names it.
        flag: String,
        /// The path as given.
        path: PathBuf,
        /// The missing directory.
        dir: PathBuf,
    },
    /// A component of the path that has to be a directory is something else.
    #[error("write `{}` ({flag}): `{}` is not a directory", path.display(), dir.display())]
    NotADirectory {
        /// The flag that names it.
        flag: String,
        /// The path as given.
        path: PathBuf,
        /// The component that is not a directory.
        dir: PathBuf,
    },
    /// No file can be created in the directory (permissions, a read-only file system).
    #[error("write `{}` ({flag}): no file can be created in `{}`", path.display(), dir.display())]
    NotWritable {
        /// The flag that names it.
        flag: String,
        /// The path as given.
        path: PathBuf,
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The output is one of the files the step reads.
    #[error(
        "write `{}` ({flag}): it is also the input `{}` ({input_flag}), which writing would change",
        path.display(),
        input.display()
    )]
    IsInput {
        /// The flag that names the output.
        flag: String,
        /// The output as given.
        path: PathBuf,
        /// The flag that names the input.
        input_flag: String,
        /// The input as given.
        input: PathBuf,
    },
    /// Two outputs name the same file.
    #[error("write `{}` ({flag}): {other_flag} names the same file (`{}`)", path.display(), other.display())]
    Twice {
        /// The flag that names it second.
        flag: String,
        /// The path as given there.
        path: PathBuf,
        /// The flag that names it first.
        other_flag: String,
        /// The path as given there.
        other: PathBuf,
    },
    /// The path could not be looked at (permissions, a loop of links).
    #[error("write `{}` ({flag})", path.display())]
    Inspect {
        /// The flag that names it.
        flag: String,
        /// The path as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl Diagnostic for OutputPathError {
    fn exit_code(&self) -> Code {
        Code::Usage
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            OutputPathError::NotAFile { .. } => {
                "name a file path: outputs are regular files, replaced atomically (where a flag takes `-`, that is stdout)".into()
            }
            OutputPathError::NoDirectory { dir, .. } => format!(
                "create `{}` first, or name a file in an existing directory",
                dir.display()
            ),
            OutputPathError::NotADirectory { dir, .. } => format!(
                "`{}` is not a directory; name a path inside a directory",
                dir.display()
            ),
            OutputPathError::NotWritable { dir, .. } => format!(
                "check that `{}` is writable (permissions, a read-only file system)",
                dir.display()
            ),
            OutputPathError::IsInput { .. } => {
                "write the output to another path: a step never changes a file it reads".into()
            }
            OutputPathError::Twice { .. } => "give each output its own path".into(),
            OutputPathError::Inspect { .. } => {
                "check the path and the permissions of its directories".into()
            }
        })
    }
}

/// A path a flag names: as given, and resolved against the working directory.
#[derive(Debug)]
struct Named {
    flag: String,
    given: PathBuf,
    full: PathBuf,
    cwd: PathBuf,
}

impl Named {
    /// A directory on this path's way, for a message: relative to the working directory when the
    /// path was given relative (`out` rather than `/home/ci/src/out`).
    fn shown(&self, dir: &Path) -> PathBuf {
        match dir.strip_prefix(&self.cwd) {
            Ok(rel) if self.given.is_relative() && !rel.as_os_str().is_empty() => rel.to_path_buf(),
            Ok(_) if self.given.is_relative() => PathBuf::from("."),
            _ => dir.to_path_buf(),
        }
    }
}

/// An output: its path, whether its missing directories are created, and its bytes when known.
#[derive(Debug)]
struct Planned {
    named: Named,
    creates_dirs: bool,
    bytes: Option<Vec<u8>>,
}

/// A step's outputs and inputs, checked together by [`OutputPaths::check`].
#[derive(Debug)]
pub struct OutputPaths {
    cwd: PathBuf,
    inputs: Vec<Named>,
    outputs: Vec<Planned>,
    comparing: bool,
}

impl OutputPaths {
    /// No paths yet; relative paths are resolved against `cwd` (the step's working directory).
    pub fn new(cwd: &Path) -> OutputPaths {
        OutputPaths {
            cwd: cwd.to_path_buf(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            comparing: false,
        }
    }

    fn named(&self, flag: &str, path: &Path) -> Named {
        Named {
            flag: flag.to_string(),
            given: path.to_path_buf(),
            full: self.cwd.join(path),
            cwd: self.cwd.clone(),
        }
    }

    /// A file the step reads, named by `flag` (leave out stdin's `-`).
    pub fn input(&mut self, flag: &str, path: &Path) -> &mut OutputPaths {
        let named = self.named(flag, path);
        self.inputs.push(named);
        self
    }

    fn planned(&mut self, flag: &str, path: &Path, creates_dirs: bool, bytes: Option<&[u8]>) {
        let named = self.named(flag, path);
        self.outputs.push(Planned {
            named,
            creates_dirs,
            bytes: bytes.map(<[u8]>::to_vec),
        });
    }

    /// A file the step writes with [`atomic::write`]: its directory must exist (leave out stdout's
    /// `-`).
    pub fn output(&mut self, flag: &str, path: &Path) -> &mut OutputPaths {
        self.planned(flag, path, false, None);
        self
    }

    /// A file the step writes with [`atomic::write_creating_dirs`]: its missing directories are
    /// created, so the nearest one that exists must take them.
    pub fn output_creating_dirs(&mut self, flag: &str, path: &Path) -> &mut OutputPaths {
        self.planned(flag, path, true, None);
        self
    }

    /// [`OutputPaths::output_creating_dirs`] for a file whose bytes are computed already: it may be
    /// an input that holds exactly those bytes, since writing it then changes nothing.
    pub fn output_creating_dirs_holding(
        &mut self,
        flag: &str,
        path: &Path,
        bytes: &[u8],
    ) -> &mut OutputPaths {
        self.planned(flag, path, true, Some(bytes));
        self
    }

    /// The outputs are only compared with the disk, not written (`--check`): only what would make
    /// that comparison wrong or unbounded is refused — an output that exists and is no regular file,
    /// one named twice. (An output that is an input is compared like any other: nothing is written.)
    pub fn comparing(&mut self, comparing: bool) -> &mut OutputPaths {
        self.comparing = comparing;
        self
    }

    /// Checks every output, in the order they were added; the first problem is the error.
    pub fn check(&self) -> Result<(), OutputPathError> {
        let inputs: Vec<(&Named, Identity)> = self
            .inputs
            .iter()
            .map(|n| (n, Identity::of(&n.full)))
            .collect();
        let mut seen: Vec<(&Named, Identity)> = Vec::new();
        for planned in &self.outputs {
            let out = &planned.named;
            let target = atomic::resolve_symlink(&out.full);
            self.inspect(out, &target, planned.creates_dirs)?;
            let id = Identity::of(&target);
            // `target` is a regular file or nothing here, so reading it is bounded.
            let unchanged = || {
                planned
                    .bytes
                    .as_ref()
                    .is_some_and(|bytes| fs::read(&target).is_ok_and(|old| old == *bytes))
            };
            if let Some((input, _)) = inputs.iter().find(|(_, i)| i.same(&id))
                && !self.comparing
                && !unchanged()
            {
                return Err(OutputPathError::IsInput {
                    flag: out.flag.clone(),
                    path: out.given.clone(),
                    input_flag: input.flag.clone(),
                    input: input.given.clone(),
                });
            }
            if let Some((other, _)) = seen.iter().find(|(_, i)| i.same(&id)) {
                return Err(OutputPathError::Twice {
                    flag: out.flag.clone(),
                    path: out.given.clone(),
                    other_flag: other.flag.clone(),
                    other: other.given.clone(),
                });
            }
            seen.push((out, id));
        }
        Ok(())
    }

    /// What is at `target` (the output with its links followed) and whether a file can go there.
    fn inspect(
        &self,
        out: &Named,
        target: &Path,
        creates_dirs: bool,
    ) -> Result<(), OutputPathError> {
        let inspect_error = |source| OutputPathError::Inspect {
            flag: out.flag.clone(),
            path: out.given.clone(),
            source,
        };
        match fs::metadata(target) {
            Ok(meta) if meta.is_file() => {
                if self.comparing {
                    return Ok(());
                }
                writable(out, parent_dir(target))
            }
            Ok(meta) => Err(OutputPathError::NotAFile {
                flag: out.flag.clone(),
                path: out.given.clone(),
                what: kind(&meta),
            }),
            // Nothing there: a comparison finds it changed; a write needs its directory.
            Err(_) if self.comparing => Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                let dir = parent_dir(target);
                let existing = existing_dir(out, dir)?;
                if existing != dir && !creates_dirs {
                    return Err(OutputPathError::NoDirectory {
                        flag: out.flag.clone(),
                        path: out.given.clone(),
                        dir: out.shown(dir),
                    });
                }
                writable(out, existing)
            }
            Err(e) => Err(inspect_error(e)),
        }
    }
}

/// Checks an output directory a step fills (created, with its parents, when missing): what is there
/// must be a directory, or the nearest ancestor that exists must be one that takes new entries.
/// `path` is resolved against `cwd`; `flag` names it in the error.
pub fn check_directory(flag: &str, path: &Path, cwd: &Path) -> Result<(), OutputPathError> {
    let named = OutputPaths::new(cwd).named(flag, path);
    let full = atomic::resolve_symlink(&named.full);
    let existing = existing_dir(&named, &full)?;
    writable(&named, existing)
}

/// The nearest of `dir` and its ancestors that exists; an error if that is not a directory.
fn existing_dir<'a>(out: &Named, dir: &'a Path) -> Result<&'a Path, OutputPathError> {
    for ancestor in dir.ancestors() {
        match fs::metadata(ancestor) {
            Ok(meta) if meta.is_dir() => return Ok(ancestor),
            Ok(_) => {
                return Err(OutputPathError::NotADirectory {
                    flag: out.flag.clone(),
                    path: out.given.clone(),
                    dir: out.shown(ancestor),
                });
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) => {}
            Err(source) => {
                return Err(OutputPathError::Inspect {
                    flag: out.flag.clone(),
                    path: out.given.clone(),
                    source,
                });
            }
        }
    }
    // Not even `/` exists.
    Err(OutputPathError::NoDirectory {
        flag: out.flag.clone(),
        path: out.given.clone(),
        dir: out.shown(dir),
    })
}

/// Whether a file can be created in `dir`: a temporary file is created there and removed, the first
/// thing [`atomic::write`] does.
fn writable(out: &Named, dir: &Path) -> Result<(), OutputPathError> {
    tempfile::Builder::new()
        .prefix(".buildsteps-check.")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|source| OutputPathError::NotWritable {
            flag: out.flag.clone(),
            path: out.given.clone(),
            dir: out.shown(dir),
            source,
        })
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("/"),
    }
}

/// What a path that is no regular file is, for the message.
fn kind(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_socket() {
        "a socket"
    } else {
        "something else"
    }
}

/// Which file a path names: its canonical path (for a file that does not exist yet, its nearest
/// existing directory's canonical path and the rest of the path as written), and the device and
/// inode when it exists (hard links).
#[derive(Debug)]
struct Identity {
    path: PathBuf,
    inode: Option<(u64, u64)>,
}

impl Identity {
    fn of(path: &Path) -> Identity {
        let inode = fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
        let path = fs::canonicalize(path).unwrap_or_else(|_| {
            path.ancestors()
                .skip(1)
                .find_map(|a| {
                    let real = fs::canonicalize(a).ok()?;
                    Some(normalise(&real, path.strip_prefix(a).ok()?))
                })
                .unwrap_or_else(|| normalise(Path::new("/"), path))
        });
        Identity { path, inode }
    }

    fn same(&self, other: &Identity) -> bool {
        self.path == other.path || (self.inode.is_some() && self.inode == other.inode)
    }
}

/// `base` joined with `rest`, `.` and `..` resolved as written (the components of `rest` do not exist
/// yet, so none is a link).
fn normalise(base: &Path, rest: &Path) -> PathBuf {
    let mut out = base.to_path_buf();
    for c in rest.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn regular_files_and_new_files_in_existing_directories_pass() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("old.json"), "x").unwrap();
        fs::create_dir(dir.path().join("out")).unwrap();
        OutputPaths::new(dir.path())
            .input("TASKDEF", Path::new("in.json"))
            .output("--output", Path::new("old.json"))
            .output("--sarif", Path::new("out/new.sarif"))
            .output_creating_dirs("--junit", Path::new("reports/deep/junit.xml"))
            .check()
            .unwrap();
        // The check leaves nothing behind.
        assert_eq!(names(dir.path()), ["old.json", "out"]);
        assert!(names(&dir.path().join("out")).is_empty());
    }

    #[test]
    fn directories_devices_and_missing_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("adir")).unwrap();
        fs::write(dir.path().join("afile"), "x").unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.json")).unwrap();
        let check = |path: &str, creates_dirs: bool| {
            let mut paths = OutputPaths::new(dir.path());
            if creates_dirs {
                paths.output_creating_dirs("-o", Path::new(path));
            } else {
                paths.output("-o", Path::new(path));
            }
            paths.check().unwrap_err().to_string()
        };
        for (path, creates_dirs, message) in [
            ("adir", false, "it is a directory, not a regular file"),
            ("adir/", true, "it is a directory"),
            ("", false, "it is a directory"),
            ("/dev/zero", false, "it is a character device"),
            ("/dev/full", true, "it is a character device"),
            ("zero.json", false, "it is a character device"),
            (
                "missing/x.json",
                false,
                "the directory `missing` does not exist",
            ),
            (
                "x/../missing/x.json",
                false,
                "the directory `x/../missing` does not exist",
            ),
            ("afile/x.json", false, "`afile` is not a directory"),
            ("afile/deeper/x.json", true, "`afile` is not a directory"),
        ] {
            let e = check(path, creates_dirs);
            assert!(e.contains(message), "{path}: {e}");
            assert!(e.starts_with(&format!("write `{path}` (-o)")), "{e}");
        }
        let e = OutputPaths::new(dir.path())
            .output("-o", Path::new("/dev/full"))
            .check()
            .unwrap_err();
        assert_eq!(e.exit_code(), Code::Usage);
        assert!(e.help().unwrap().contains("regular files"));
    }

    #[test]
    fn an_output_that_is_an_input_or_another_output_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("in.json"), "{}").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("in.json", dir.path().join("link.json")).unwrap();
        fs::hard_link(dir.path().join("in.json"), dir.path().join("hard.json")).unwrap();
        for output in [
            "in.json",
            "./in.json",
            "sub/../in.json",
            "link.json",
            "hard.json",
        ] {
            let e = OutputPaths::new(dir.path())
                .input("--report", Path::new("in.json"))
                .output("--sarif", Path::new(output))
                .check()
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "write `{output}` (--sarif): it is also the input `in.json` (--report), which writing would change"
                )
            );
        }
        let e = OutputPaths::new(dir.path())
            .output_creating_dirs("--junit", Path::new("new/r.xml"))
            .output_creating_dirs("--markdown", Path::new("new/./x/../r.xml"))
            .check()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "write `new/./x/../r.xml` (--markdown): --junit names the same file (`new/r.xml`)"
        );
        let absolute = dir.path().join("out.json");
        let e = OutputPaths::new(dir.path())
            .output("--output", Path::new("out.json"))
            .output("--imagedefinitions", &absolute)
            .check()
            .unwrap_err();
        assert!(matches!(e, OutputPathError::Twice { .. }), "{e}");
    }

    #[test]
    fn an_input_may_be_written_with_the_bytes_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("imageDetail.json"),
            "{\"ImageURI\": \"x\"}\n",
        )
        .unwrap();
        let check = |bytes: &[u8]| {
            OutputPaths::new(dir.path())
                .input("--image", Path::new("imageDetail.json"))
                .output_creating_dirs_holding(
                    "--image-detail-dir",
                    Path::new("./imageDetail.json"),
                    bytes,
                )
                .check()
        };
        check(b"{\"ImageURI\": \"x\"}\n").unwrap();
        let e = check(b"{\"ImageURI\": \"y\"}\n").unwrap_err();
        assert!(e.to_string().contains("which writing would change"), "{e}");
    }

    #[test]
    fn comparing_refuses_only_what_is_no_file_or_named_twice() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("in.json"), "{}").unwrap();
        OutputPaths::new(dir.path())
            .comparing(true)
            .input("TASKDEF", Path::new("in.json"))
            .output("--output", Path::new("missing/dir/x.json"))
            .output("--imagedefinitions", Path::new("in.json"))
            .check()
            .unwrap();
        for (output, message) in [
            ("/dev/zero", "character device"),
            ("x.json", "names the same file"),
        ] {
            let e = OutputPaths::new(dir.path())
                .comparing(true)
                .output("--output", Path::new("x.json"))
                .output("--imagedefinitions", Path::new(output))
                .check()
                .unwrap_err();
            assert!(e.to_string().contains(message), "{e}");
        }
    }

    #[test]
    fn a_directory_that_takes_no_file_is_refused() {
        // /proc takes no new file, not even from root.
        let e = OutputPaths::new(Path::new("/"))
            .output("--image-detail", Path::new("/proc/x.json"))
            .check()
            .unwrap_err();
        assert!(
            e.to_string().starts_with(
                "write `/proc/x.json` (--image-detail): no file can be created in `/proc`"
            ),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let locked = dir.path().join("locked");
        fs::create_dir(&locked).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
        // Root writes there anyway, and so would the step.
        let root = tempfile::tempfile_in(&locked).is_ok();
        let result = OutputPaths::new(dir.path())
            .output("--image-detail", Path::new("locked/imageDetail.json"))
            .check();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(result.is_ok(), root, "{result:?}");
    }
}
