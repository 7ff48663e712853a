//! The build context: `.dockerignore` applied exactly as the docker CLI applies it, and the context
//! streamed to the engine as a tar, never held whole in memory.
//!
//! `.dockerignore` rules (moby's `patternmatcher`): one pattern per line, `#` lines are comments,
//! surrounding white space is trimmed, patterns are cleaned (`./a//b` → `a/b`, a leading `/` dropped);
//! `*` matches within one path component, `?` one character, `[…]` a class, `**` any number of
//! components (including none), `\` escapes; `!` re-includes; the **last** matching pattern wins, and a
//! pattern that matches a parent directory matches everything below it. The Dockerfile and
//! `.dockerignore` itself are always sent (the CLI appends `!` patterns for them).

use crate::error::Diagnostic;
use crate::exit::Code;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One compiled `.dockerignore` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    tokens: Vec<Token>,
    exclusion: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `*`: anything but `/`.
    Star,
    /// `?`: one character but `/`.
    One,
    /// `**/` (or `**` not at the end): nothing, or anything ending in `/`.
    AnyDirs,
    /// `**` at the end: anything.
    Any,
    /// `[…]`: a class (`negated` for `[^…]`).
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
}

/// The patterns of a `.dockerignore` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ignore {
    patterns: Vec<Pattern>,
}

/// A `.dockerignore` line that cannot be compiled.
#[derive(Debug, thiserror::Error)]
#[error("read `{}` line {line}: {reason}", path.display())]
pub(crate) struct IgnoreError {
    path: PathBuf,
    line: usize,
    reason: String,
}

impl Diagnostic for IgnoreError {
    fn exit_code(&self) -> Code {
        Code::Usage
    }
}

/// `filepath.Clean` for slash-separated relative patterns.
fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        ".".to_string()
    } else {
        out.join("/")
    }
}

fn compile(pattern: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                tokens.push(if i >= chars.len() {
                    Token::Any
                } else {
                    Token::AnyDirs
                });
                continue;
            }
            '*' => tokens.push(Token::Star),
            '?' => tokens.push(Token::One),
            '\\' => {
                i += 1;
                let c = *chars.get(i).ok_or("a trailing `\\` escapes nothing")?;
                tokens.push(Token::Char(c));
            }
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('^'));
                if negated {
                    j += 1;
                }
                let mut items = Vec::new();
                let mut closed = false;
                while j < chars.len() {
                    let mut c = chars[j];
                    if c == ']' && !items.is_empty() {
                        closed = true;
                        break;
                    }
                    if c == '\\' {
                        j += 1;
                        c = *chars.get(j).ok_or("unterminated `[` class")?;
                    }
                    if chars.get(j + 1) == Some(&'-') && chars.get(j + 2).is_some_and(|c| *c != ']')
                    {
                        items.push((c, chars[j + 2]));
                        j += 3;
                    } else {
                        items.push((c, c));
                        j += 1;
                    }
                }
                if !closed {
                    return Err("unterminated `[` class".into());
                }
                tokens.push(Token::Class { negated, items });
                i = j;
            }
            c => tokens.push(Token::Char(c)),
        }
        i += 1;
    }
    Ok(tokens)
}

fn matches(tokens: &[Token], s: &[char]) -> bool {
    match tokens.split_first() {
        None => s.is_empty(),
        Some((Token::Char(c), rest)) => s.first() == Some(c) && matches(rest, &s[1..]),
        Some((Token::One, rest)) => s.first().is_some_and(|c| *c != '/') && matches(rest, &s[1..]),
        Some((Token::Class { negated, items }, rest)) => {
            s.first().is_some_and(|c| {
                *c != '/' && items.iter().any(|(lo, hi)| (lo..=hi).contains(&c)) != *negated
            }) && matches(rest, &s[1..])
        }
        Some((Token::Star, rest)) => {
            for k in 0..=s.len() {
                if matches(rest, &s[k..]) {
                    return true;
                }
                if k < s.len() && s[k] == '/' {
                    return false;
                }
            }
            false
        }
        Some((Token::Any, rest)) => (0..=s.len()).any(|k| matches(rest, &s[k..])),
        Some((Token::AnyDirs, rest)) => {
            matches(rest, s) || (0..s.len()).any(|k| s[k] == '/' && matches(rest, &s[k + 1..]))
        }
    }
}

/// A compiled glob over slash-separated paths: `*` and `?` stay within a path segment, `**` spans
/// directories, `[a-z]` classes, `\\` escapes (the `.dockerignore` dialect, also used for buildspec
/// artifact patterns).
#[derive(Debug, Clone)]
pub(crate) struct Glob(Vec<Token>);

impl Glob {
    /// Compiles a pattern.
    pub(crate) fn new(pattern: &str) -> Result<Glob, String> {
        compile(pattern).map(Glob)
    }

    /// Whether `path` (slash-separated) matches the whole pattern.
    pub(crate) fn matches(&self, path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        matches(&self.0, &chars)
    }
}

impl Ignore {
    /// Parses `.dockerignore` text (`path` is for errors).
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Ignore, IgnoreError> {
        let mut patterns = Vec::new();
        for (n, raw) in text.trim_start_matches('\u{feff}').lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exclusion, rest) = match line.strip_prefix('!') {
                Some(r) => (true, r.trim()),
                None => (false, line),
            };
            if rest.is_empty() {
                continue;
            }
            let cleaned = clean(rest.trim_start_matches('/'));
            let tokens = compile(&cleaned).map_err(|reason| IgnoreError {
                path: path.to_path_buf(),
                line: n + 1,
                reason,
            })?;
            patterns.push(Pattern { tokens, exclusion });
        }
        Ok(Ignore { patterns })
    }

    /// Adds `!name`: the file is sent whatever else says.
    pub(crate) fn keep(&mut self, name: &str) {
        let tokens = name.chars().map(Token::Char).collect();
        self.patterns.push(Pattern {
            tokens,
            exclusion: true,
        });
    }

    /// Whether the relative, slash-separated `path` is excluded (moby's `MatchesOrParentMatches`).
    pub(crate) fn excluded(&self, path: &str) -> bool {
        let file: Vec<char> = path.chars().collect();
        let parents: Vec<usize> = file
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == '/')
            .map(|(i, _)| i)
            .collect();
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let hit = matches(&p.tokens, &file)
                || parents.iter().any(|&end| matches(&p.tokens, &file[..end]));
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// Whether any `!` pattern exists (then an excluded directory must still be walked).
    pub(crate) fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }
}

/// A context that could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ContextError {
    /// The directory is missing or unreadable.
    #[error("read the build context `{}`", path.display())]
    Read {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// `.dockerignore` is invalid.
    #[error(transparent)]
    Ignore(#[from] IgnoreError),
    /// The engine stopped reading.
    #[error("send the build context")]
    Send(#[source] io::Error),
}

impl Diagnostic for ContextError {
    fn exit_code(&self) -> Code {
        match self {
            ContextError::Send(_) => Code::Remote,
            _ => Code::Usage,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            ContextError::Read { .. } => {
                Some("check the context directory exists and is readable".into())
            }
            _ => None,
        }
    }
}

/// What goes into the context tar: relative paths, in walk order.
#[derive(Debug, Clone)]
pub(crate) struct BuildContext {
    root: PathBuf,
    entries: Vec<String>,
    /// Total bytes of regular files.
    pub(crate) bytes: u64,
}

impl BuildContext {
    /// Walks `root`, applying `.dockerignore` (plus keeping `dockerfile`, relative to `root`).
    pub(crate) fn scan(
        root: &Path,
        dockerfile: Option<&str>,
    ) -> Result<BuildContext, ContextError> {
        let read_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ContextError::Read { path, source }
        };
        let meta = fs::metadata(root).map_err(read_err(root))?;
        if !meta.is_dir() {
            return Err(ContextError::Read {
                path: root.to_path_buf(),
                source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        let ignore_path = root.join(".dockerignore");
        let mut ignore = match fs::read_to_string(&ignore_path) {
            Ok(text) => Ignore::parse(&ignore_path, &text)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ignore::default(),
            Err(e) => return Err(read_err(&ignore_path)(e)),
        };
        ignore.keep(".dockerignore");
        if let Some(df) = dockerfile {
            ignore.keep(&clean(df));
        }
        let mut ctx = BuildContext {
            root: root.to_path_buf(),
            entries: Vec::new(),
            bytes: 0,
        };
        let walk_excluded = ignore.has_exceptions();
        let mut stack = vec![String::new()];
        while let Some(dir) = stack.pop() {
            let abs = if dir.is_empty() {
                root.to_path_buf()
            } else {
                root.join(&dir)
            };
            let mut names: Vec<(String, fs::FileType, u64)> = fs::read_dir(&abs)
                .map_err(read_err(&abs))?
                .map(|e| {
                    let e = e.map_err(read_err(&abs))?;
                    let meta = fs::symlink_metadata(e.path()).map_err(read_err(&e.path()))?;
                    Ok((
                        e.file_name().to_string_lossy().into_owned(),
                        meta.file_type(),
                        meta.len(),
                    ))
                })
                .collect::<Result<_, ContextError>>()?;
            names.sort_by(|a, b| a.0.cmp(&b.0));
            let mut subdirs = Vec::new();
            for (name, ty, len) in names {
                let rel = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                let excluded = ignore.excluded(&rel);
                if ty.is_dir() {
                    if !excluded {
                        ctx.entries.push(rel.clone());
                        subdirs.push(rel);
                    } else if walk_excluded {
                        subdirs.push(rel);
                    }
                } else if !excluded {
                    if ty.is_file() {
                        ctx.bytes += len;
                        // Unreadable files fail the scan, not the build half-way through.
                        fs::File::open(root.join(&rel)).map_err(read_err(&root.join(&rel)))?;
                    }
                    ctx.entries.push(rel);
                }
            }
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(ctx)
    }

    /// Writes the tar to `out` (a pipe to the engine), with a Dockerfile from outside the context
    /// added under `.buildsteps.Dockerfile` when there is one. Owners are normalised to root, as the
    /// CLI does.
    pub(crate) fn write_tar_with<W: Write>(
        &self,
        out: W,
        outside_dockerfile: Option<&Path>,
    ) -> Result<(), ContextError> {
        let mut tar = tar::Builder::new(out);
        if let Some(path) = outside_dockerfile {
            let bytes = fs::read(path).map_err(|source| ContextError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, ".buildsteps.Dockerfile", &bytes[..])
                .map_err(ContextError::Send)?;
        }
        tar.follow_symlinks(false);
        tar.mode(tar::HeaderMode::Deterministic);
        for rel in &self.entries {
            let abs = self.root.join(rel);
            let meta = fs::symlink_metadata(&abs).map_err(|source| ContextError::Read {
                path: abs.clone(),
                source,
            })?;
            let mut header = tar::Header::new_gnu();
            header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
            header.set_uid(0);
            header.set_gid(0);
            header.set_username("").ok();
            header.set_groupname("").ok();
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&abs).map_err(|source| ContextError::Read {
                    path: abs.clone(),
                    source,
                })?;
                tar.append_link(&mut header, rel, &target)
                    .map_err(ContextError::Send)?;
            } else if meta.is_dir() {
                tar.append_data(&mut header, format!("{rel}/"), io::empty())
                    .map_err(ContextError::Send)?;
            } else if meta.is_file() {
                let file = fs::File::open(&abs).map_err(|source| ContextError::Read {
                    path: abs.clone(),
                    source,
                })?;
                tar.append_data(&mut header, rel, file)
                    .map_err(ContextError::Send)?;
            }
        }
        tar.into_inner()
            .map_err(ContextError::Send)?
            .flush()
            .map_err(ContextError::Send)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> Ignore {
        Ignore::parse(Path::new(".dockerignore"), text).unwrap()
    }

    #[test]
    fn patterns_match_like_moby() {
        let cases: &[(&str, &str, bool)] = &[
            ("*.md", "README.md", true),
            ("*.md", "docs/README.md", false),
            ("**/*.md", "docs/README.md", true),
            ("**/*.md", "README.md", true),
            ("docs", "docs/a/b.txt", true),
            ("docs/*", "docs/a", true),
            ("docs/*", "docs/a/b", true),
            ("d?cs", "docs", true),
            ("d?cs", "d/cs", false),
            ("[a-c]at", "bat", true),
            ("[^a-c]at", "bat", false),
            ("[^a-c]at", "rat", true),
            ("**", "anything/at/all", true),
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/y/b", true),
            ("a/**", "a/x/y", true),
            ("./target//debug", "target/debug/x", true),
            ("/node_modules", "node_modules/x/y.js", true),
            ("\\*.txt", "*.txt", true),
            ("\\*.txt", "a.txt", false),
            (".git", ".gitignore", false),
            ("*", "a/b", true),
        ];
        for (pattern, path, want) in cases {
            assert_eq!(ignore(pattern).excluded(path), *want, "{pattern} vs {path}");
        }
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        let ig = ignore("# comment\n*.log\n!keep.log\n  \nbuild\n!build/dist\nbuild/dist/tmp\n");
        assert!(ig.excluded("a.log"));
        assert!(!ig.excluded("keep.log"));
        assert!(ig.excluded("build/x"));
        assert!(!ig.excluded("build/dist/app"));
        assert!(ig.excluded("build/dist/tmp/x"));
        assert!(!ig.excluded("src/main.rs"));
        let ig = ignore("!keep.log\n*.log\n");
        assert!(
            ig.excluded("keep.log"),
            "an earlier exception loses to a later exclusion"
        );
        assert!(ig.has_exceptions());
    }

    #[test]
    fn bad_patterns_name_the_line() {
        let err = Ignore::parse(Path::new("ctx/.dockerignore"), "ok\n[abc\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "read `ctx/.dockerignore` line 2: unterminated `[` class"
        );
    }

    #[test]
    fn the_walk_applies_the_rules_and_always_keeps_the_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "Dockerfile",
            "app.sh",
            "notes.md",
            "secret.env",
            "build/out.bin",
            "build/keep/me.txt",
            "docs/a.md",
        ] {
            let p = root.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, f).unwrap();
        }
        fs::write(
            root.join(".dockerignore"),
            "*.md\n**/*.md\nsecret.env\nbuild\n!build/keep\nDockerfile\n",
        )
        .unwrap();
        let ctx = BuildContext::scan(root, Some("Dockerfile")).unwrap();
        let mut got: Vec<&str> = ctx.entries.iter().map(String::as_str).collect();
        got.sort_unstable();
        assert_eq!(
            got,
            [
                ".dockerignore",
                "Dockerfile",
                "app.sh",
                "build/keep",
                "build/keep/me.txt",
                "docs"
            ]
        );
        let mut buf = Vec::new();
        ctx.write_tar_with(&mut buf, None).unwrap();
        let mut archive = tar::Archive::new(&buf[..]);
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                assert_eq!(e.header().uid().unwrap(), 0);
                e.path().unwrap().display().to_string()
            })
            .collect();
        assert!(
            names.contains(&"build/keep/me.txt".to_string()),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains("secret")), "{names:?}");
    }

    #[test]
    fn a_missing_context_is_named() {
        let err = BuildContext::scan(Path::new("/definitely/not/here"), None).unwrap_err();
        assert!(err.to_string().contains("/definitely/not/here"));
        assert_eq!(err.exit_code(), Code::Usage);
    }
}
