//! The build context: `.dockerignore` applied exactly as the docker CLI's classic builder applies it,
//! and the context streamed to the engine as a tar, never held whole in memory.
//!
//! `.dockerignore` is read as moby's `ignorefile.ReadAll` reads it and matched as its
//! `patternmatcher` matches, walked as the CLI's `archive.TarWithOptions` walks:
//!
//! - One pattern per line. A line whose first character is `#` is a comment; an indented `  #x` is
//!   the pattern `#x`. White space around a pattern, and after a leading `!`, is trimmed; a UTF-8 BOM
//!   on the first line is dropped. Patterns are cleaned like Go's `filepath.Clean` (`./a//b/` →
//!   `a/b`) and one leading `/` is dropped.
//! - `*` matches within one path component, `?` one character but `/`, `[…]` a class, `\` escapes,
//!   `**` any number of components (including none). A pattern that starts with `**` matches every
//!   path ending with the rest (`**file` matches `myfile` and `dir/xfile`); one that ends with `**`
//!   every path starting with the rest.
//! - Beyond that a pattern means what moby makes of it: it becomes a Go regular expression, so `\d`
//!   is a digit, `[^x]` a negated class, `[[:alpha:]]` a POSIX class, and a `^` anchors at the start
//!   (`*^b` matches only `b`).
//! - `!` re-includes; the **last** matching pattern wins; a pattern that matches a directory matches
//!   everything below it. An excluded directory is entered only when the text of some `!` pattern
//!   starts with the directory's path (`!build/keep` enters `build`; `!**/keep` does not).
//! - Errors, each naming the line: a lone `!`; a pattern Go's `filepath.Match` refuses (`[abc`,
//!   `[]a]`, `[-]`, `[x-]`, `[a-b-c]`, a trailing `\`); a pattern whose regular expression Go refuses
//!   (`[z-a]`, `\q`; docker fails on those when it first matches a file against them); a line over
//!   64 KiB. `\p` Unicode classes are refused too: matching them as Go does needs Unicode tables
//!   this crate does not carry.
//!
//! The Dockerfile and `.dockerignore` itself are always sent (the CLI appends `!` patterns for them).

use crate::error::Diagnostic;
use crate::exit::Code;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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

/// Whether `tokens` match all of `s`, by dynamic programming over (token, position): time
/// `tokens × s`, whatever the pattern (a backtracking matcher is exponential on `*a*a*a…b`).
fn matches(tokens: &[Token], s: &[char]) -> bool {
    let n = s.len();
    // `next[i]`: whether the tokens after the current one match `s[i..]`.
    let mut next: Vec<bool> = (0..=n).map(|i| i == n).collect();
    let mut row = vec![false; n + 1];
    for token in tokens.iter().rev() {
        // For `**/`: whether some `/` at or after `i` is followed by a match of the rest.
        let mut slash_then_rest = false;
        for i in (0..=n).rev() {
            let c = s.get(i);
            let one = |ok: bool| ok && next[i + 1];
            row[i] = match token {
                Token::Char(want) => one(c == Some(want)),
                Token::One => one(c.is_some_and(|c| *c != '/')),
                Token::Class { negated, items } => one(c.is_some_and(|c| {
                    *c != '/' && items.iter().any(|(lo, hi)| (lo..=hi).contains(&c)) != *negated
                })),
                Token::Star => next[i] || (c.is_some_and(|c| *c != '/') && row[i + 1]),
                Token::Any => next[i] || (c.is_some() && row[i + 1]),
                Token::AnyDirs => {
                    slash_then_rest |= c == Some(&'/') && next[i + 1];
                    next[i] || slash_then_rest
                }
            };
        }
        std::mem::swap(&mut next, &mut row);
    }
    next[0]
}

/// A compiled glob over slash-separated paths: `*` and `?` stay within a path segment, `**` spans
/// directories, `[a-z]` classes, `\\` escapes (buildspec artifact patterns). `.dockerignore` is
/// matched by [`Ignore`], which follows docker to the letter; this dialect is the plain one.
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

/// Whether a pattern (or path segment) has glob syntax.
pub(crate) fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Files under `base` (or `/` for an absolute pattern) matching any of `patterns` (without `..`:
/// callers check), as [`Glob`]s and none of `exclude`: (path as matched — relative to `base`, or
/// absolute — file). The directory `skip` is never entered.
pub(crate) fn matching(
    patterns: &[String],
    exclude: &[String],
    base: &Path,
    skip: Option<&Path>,
) -> Vec<(String, PathBuf)> {
    let exclude: Vec<Glob> = exclude.iter().filter_map(|p| Glob::new(p).ok()).collect();
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for pattern in patterns {
        let (root, rel_pattern, prefix) = match pattern.strip_prefix('/') {
            Some(abs) => (Path::new("/"), abs, "/"),
            None => (base, pattern.trim_start_matches("./"), ""),
        };
        if !is_glob(rel_pattern) {
            let file = root.join(rel_pattern);
            let shown = format!("{prefix}{rel_pattern}");
            if file.is_file() && !found.iter().any(|(p, _)| *p == shown) {
                found.push((shown, file));
            }
            continue;
        }
        let Ok(glob) = Glob::new(rel_pattern) else {
            continue;
        };
        walk(root, rel_pattern, skip, |rel, path| {
            let shown = format!("{prefix}{rel}");
            if glob.matches(rel)
                && !exclude.iter().any(|e| e.matches(rel))
                && !found.iter().any(|(p, _)| *p == shown)
            {
                found.push((shown, path));
            }
        });
    }
    found.sort();
    found
}

/// Calls `visit` with (path relative to `root`, path) for every file and symlink under the literal
/// prefix directory of `rel_pattern` (its segments before the first with glob syntax), never
/// entering `skip`.
fn walk(root: &Path, rel_pattern: &str, skip: Option<&Path>, mut visit: impl FnMut(&str, PathBuf)) {
    let prefix: Vec<&str> = rel_pattern
        .split('/')
        .take_while(|seg| !is_glob(seg))
        .collect();
    let mut stack = vec![root.join(prefix.join("/"))];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                // Never collect the output directory into itself.
                if skip != Some(path.as_path()) {
                    stack.push(path);
                }
            } else if kind.is_file() || kind.is_symlink() {
                let Ok(rel) = path.strip_prefix(root) else {
                    continue;
                };
                let rel = rel.to_string_lossy().into_owned();
                visit(&rel, path);
            }
        }
    }
}

/// Go's `path.Clean` (`filepath.Clean` on Unix): the shortest equivalent path, by lexical rules only.
fn go_clean(path: &str) -> String {
    let p = path.as_bytes();
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p[0] == b'/';
    let n = p.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push(b'/');
        (r, dotdot) = (1, 1);
    }
    while r < n {
        if p[r] == b'/' || (p[r] == b'.' && (r + 1 == n || p[r + 1] == b'/')) {
            // An empty or `.` element.
            r += 1;
        } else if p[r] == b'.' && p.get(r + 1) == Some(&b'.') && (r + 2 == n || p[r + 2] == b'/') {
            r += 2;
            if out.len() > dotdot {
                // Back to the last `/` (dropped too), not past a `..` already written.
                let mut w = out.len() - 1;
                while w > dotdot && out[w] != b'/' {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if rooted && out.len() != 1 || !rooted && !out.is_empty() {
                out.push(b'/');
            }
            while r < n && p[r] != b'/' {
                out.push(p[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        return ".".into();
    }
    // Only ASCII `/` and `.` were removed, at character boundaries.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Whether Go's `filepath.Match` accepts `pattern` (it checks the whole pattern, whatever the name):
/// the reason when it does not.
fn go_match_syntax(pattern: &str) -> Result<(), String> {
    let mut rest = pattern.as_bytes();
    while !rest.is_empty() {
        // scanChunk: leading stars, then up to the next `*` outside a class.
        while rest.first() == Some(&b'*') {
            rest = &rest[1..];
        }
        let mut in_range = false;
        let mut i = 0;
        while i < rest.len() {
            match rest[i] {
                b'\\' if i + 1 < rest.len() => i += 1,
                b'[' => in_range = true,
                b']' => in_range = false,
                b'*' if !in_range => break,
                _ => {}
            }
            i += 1;
        }
        let (chunk, after) = rest.split_at(i);
        go_chunk_syntax(chunk)?;
        rest = after;
    }
    Ok(())
}

/// `matchChunk`'s syntax checks for one chunk.
fn go_chunk_syntax(mut chunk: &[u8]) -> Result<(), String> {
    while let Some(&c) = chunk.first() {
        match c {
            b'[' => {
                chunk = &chunk[1..];
                if chunk.first() == Some(&b'^') {
                    chunk = &chunk[1..];
                }
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    chunk = go_class_char(chunk, ranges == 0, false)?;
                    if chunk.first() == Some(&b'-') {
                        chunk = go_class_char(&chunk[1..], false, true)?;
                    }
                    ranges += 1;
                }
            }
            b'\\' => {
                chunk = &chunk[1..];
                if chunk.is_empty() {
                    return Err("a trailing `\\` escapes nothing".into());
                }
                chunk = &chunk[1..];
            }
            _ => chunk = &chunk[1..],
        }
    }
    Ok(())
}

/// `getEsc`: one class character (escaped or not), which must be followed by more of the class.
fn go_class_char(chunk: &[u8], first: bool, range_end: bool) -> Result<&[u8], String> {
    match chunk.first() {
        None => return Err("unterminated `[` class".into()),
        Some(b'-') if range_end => {
            return Err("a range in a `[` class ends with `-` (escape it as `\\-`)".into());
        }
        Some(b'-') => {
            return Err(
                "a `-` in a `[` class that is not between two characters must be escaped as `\\-`"
                    .into(),
            );
        }
        Some(b']') if range_end => {
            return Err("a range in a `[` class has no end (escape a literal `-` as `\\-`)".into());
        }
        Some(b']') if first => {
            return Err(
                "a `[` class cannot be empty or start with `]` (escape it as `\\]`)".into(),
            );
        }
        Some(b']') => {
            return Err("a `]` in a `[` class must be escaped as `\\]`".into());
        }
        _ => {}
    }
    let mut rest = chunk;
    if rest[0] == b'\\' {
        rest = &rest[1..];
        if rest.is_empty() {
            return Err("unterminated `[` class".into());
        }
    }
    // One UTF-8 character (the text is valid UTF-8, so its length is in its first byte).
    let len = match rest[0] {
        b if b < 0x80 => 1,
        b if b >= 0xf0 => 4,
        b if b >= 0xe0 => 3,
        _ => 2,
    };
    let rest = rest.get(len..).unwrap_or_default();
    if rest.is_empty() {
        return Err("unterminated `[` class".into());
    }
    Ok(rest)
}

/// How a pattern is matched (moby's `matchType`).
#[derive(Debug, Clone)]
enum Matcher {
    /// The path equals the pattern.
    Exact(String),
    /// The path starts with these bytes (the pattern without its trailing `**`).
    Prefix(Vec<u8>),
    /// The path ends with these bytes (the pattern without its leading `**`), or is them without
    /// their leading `/`.
    Suffix(Vec<u8>),
    /// The Go regular expression moby builds from the pattern.
    Regexp(goregex::Regex),
}

/// moby's `Pattern.compile`: the match type and, for a regular expression, its text.
fn moby_compile(pattern: &str) -> (MatchType, String) {
    let mut re = String::from("^");
    let mut kind = MatchType::Exact;
    let mut chars = pattern.chars().peekable();
    // text/scanner drops a byte order mark at the start of its input.
    if chars.peek() == Some(&'\u{feff}') {
        chars.next();
    }
    let mut i = 0;
    while let Some(ch) = chars.next() {
        match ch {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                if chars.peek().is_none() {
                    if kind == MatchType::Exact {
                        kind = MatchType::Prefix;
                    } else {
                        re.push_str(".*");
                        kind = MatchType::Regexp;
                    }
                } else {
                    re.push_str("(.*/)?");
                    kind = MatchType::Regexp;
                }
                if i == 0 {
                    kind = MatchType::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                kind = MatchType::Regexp;
            }
            '?' => {
                re.push_str("[^/]");
                kind = MatchType::Regexp;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => {
                re.push('\\');
                if let Some(next) = chars.next() {
                    re.push(next);
                    kind = MatchType::Regexp;
                }
            }
            '[' | ']' => {
                re.push(ch);
                kind = MatchType::Regexp;
            }
            _ => re.push(ch),
        }
        i += 1;
    }
    if kind == MatchType::Regexp {
        re.push('$');
    }
    (kind, re)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchType {
    Exact,
    Prefix,
    Suffix,
    Regexp,
}

/// One compiled `.dockerignore` pattern.
#[derive(Debug, Clone)]
struct Pattern {
    /// The pattern after cleaning, without its `!` (moby's `Pattern.String()`).
    text: String,
    matcher: Matcher,
    exclusion: bool,
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.matcher {
            Matcher::Exact(p) => path == p,
            Matcher::Prefix(p) => path.as_bytes().starts_with(p),
            Matcher::Suffix(s) => {
                path.as_bytes().ends_with(s)
                    || (s.first() == Some(&b'/') && path.as_bytes() == &s[1..])
            }
            Matcher::Regexp(re) => re.is_match(path),
        }
    }
}

/// The patterns of a `.dockerignore` file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ignore {
    patterns: Vec<Pattern>,
}

/// Which patterns matched a directory (moby's `MatchInfo`), handed to its entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParentMatches(Vec<bool>);

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

    fn help(&self) -> Option<String> {
        Some(format!(
            "fix or remove line {} of {}; escape a literal `[`, `]`, `*`, `?`, `\\` or leading `!` \
             with `\\` (docker reads .dockerignore the same way and fails on it too)",
            self.line,
            self.path.display()
        ))
    }
}

/// The longest line Go's `bufio.Scanner` (which docker reads `.dockerignore` with) accepts.
const MAX_LINE: usize = 64 * 1024 - 1;

/// moby's `ignorefile.ReadAll`: the patterns, each with its line number; or the number of a line
/// too long to read.
fn read_all(text: &str) -> Result<Vec<(usize, String)>, usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut segments: Vec<&str> = text.split('\n').collect();
    if segments.last() == Some(&"") {
        segments.pop();
    }
    for (n, raw) in segments.into_iter().enumerate() {
        if raw.len() > MAX_LINE {
            return Err(n + 1);
        }
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.starts_with('#') {
            continue;
        }
        let mut pattern = raw.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = go_clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        if invert {
            cleaned.insert(0, '!');
        }
        out.push((n + 1, cleaned));
    }
    Ok(out)
}

/// moby's `patternmatcher.New` for one pattern: `None` for a blank one.
fn new_pattern(raw: &str) -> Result<Option<Pattern>, String> {
    let p = raw.trim();
    if p.is_empty() {
        return Ok(None);
    }
    let mut p = go_clean(p);
    let exclusion = p.starts_with('!');
    if exclusion {
        if p.len() == 1 {
            return Err("a lone `!` excludes nothing (docker: illegal exclusion pattern)".into());
        }
        p.remove(0);
    }
    go_match_syntax(&p)?;
    let (kind, re) = moby_compile(&p);
    let matcher = match kind {
        MatchType::Exact => Matcher::Exact(p.clone()),
        MatchType::Prefix => Matcher::Prefix(p.as_bytes()[..p.len() - 2].to_vec()),
        MatchType::Suffix => Matcher::Suffix(p.as_bytes()[2..].to_vec()),
        MatchType::Regexp => Matcher::Regexp(goregex::Regex::new(&re).map_err(|e| {
            format!("docker turns `{p}` into the regular expression `{re}`, which Go refuses: {e}")
        })?),
    };
    Ok(Some(Pattern {
        text: p,
        matcher,
        exclusion,
    }))
}

impl Ignore {
    /// Parses `.dockerignore` text (`path` is for errors).
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Ignore, IgnoreError> {
        let err = |line: usize, reason: String| IgnoreError {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let lines = read_all(text).map_err(|line| {
            err(
                line,
                format!(
                    "the line is longer than {MAX_LINE} bytes (docker: bufio.Scanner: token too long)"
                ),
            )
        })?;
        Ignore::from_patterns(lines.iter().map(|(n, p)| (*n, p.as_str())))
            .map_err(|(n, r)| err(n, r))
    }

    /// Compiles patterns as moby's `patternmatcher.New` does, each with the line it came from.
    fn from_patterns<'a>(
        patterns: impl IntoIterator<Item = (usize, &'a str)>,
    ) -> Result<Ignore, (usize, String)> {
        let mut out = Vec::new();
        for (line, raw) in patterns {
            if let Some(p) = new_pattern(raw).map_err(|reason| (line, reason))? {
                out.push(p);
            }
        }
        Ok(Ignore { patterns: out })
    }

    /// Adds `!name`: the file is sent whatever else says (`name` matched literally).
    pub(crate) fn keep(&mut self, name: &str) {
        self.patterns.push(Pattern {
            text: name.to_string(),
            matcher: Matcher::Exact(name.to_string()),
            exclusion: true,
        });
    }

    /// Whether any `!` pattern exists.
    #[cfg(test)]
    fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// moby's `MatchesUsingParentResults`: whether `path` (relative, slash-separated) is excluded,
    /// given what its directory matched (`None` at the top, or without that information: then its
    /// parents are matched here); also what `path` matched, for its own entries.
    pub(crate) fn matches(
        &self,
        path: &str,
        parent: Option<&ParentMatches>,
    ) -> (bool, ParentMatches) {
        let parent = parent.map(|p| p.0.as_slice()).filter(|p| !p.is_empty());
        let above = if parent.is_none() {
            parents(path)
        } else {
            Vec::new()
        };
        let mut matched = false;
        let mut info = vec![false; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            let mut hit = parent.is_some_and(|m| m.get(i) == Some(&true));
            if !hit {
                // An inclusion cannot change an excluded path, nor an exception an included one.
                if p.exclusion != matched {
                    continue;
                }
                hit = p.matches(path) || above.iter().any(|dir| p.matches(dir));
            }
            info[i] = hit;
            if hit {
                matched = !p.exclusion;
            }
        }
        (matched, ParentMatches(info))
    }

    /// Whether an excluded directory must still be entered: some `!` pattern's text starts with
    /// its path (the CLI's walk skips it otherwise).
    pub(crate) fn enter_excluded(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .any(|p| p.exclusion && format!("{}/", p.text).starts_with(&dir_slash))
    }

    /// Whether the walk leaves `path` out of the context: it is excluded, or one of its directories
    /// is excluded and not entered (the walk in [`BuildContext::scan`], for one path).
    #[cfg(test)]
    fn excluded(&self, path: &str) -> bool {
        let mut info: Option<ParentMatches> = None;
        for dir in parents(path) {
            let (excluded, matched) = self.matches(&dir, info.as_ref());
            if excluded && !self.enter_excluded(&dir) {
                return true;
            }
            info = Some(matched);
        }
        self.matches(path, info.as_ref()).0
    }
}

/// The directories above `path`, outermost first (`a/b/c` → `a`, `a/b`): moby's
/// `strings.Split(filepath.Dir(path), "/")`, joined back one component at a time.
fn parents(path: &str) -> Vec<String> {
    let Some(last) = path.rfind('/') else {
        return Vec::new();
    };
    let dir = go_clean(&path[..=last]);
    if dir == "." {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for part in dir.split('/') {
        out.push(match out.last() {
            Some(prev) => format!("{prev}/{part}"),
            None => part.to_string(),
        });
    }
    out
}

/// Go's `regexp` as far as moby's patterns reach it: `regexp.Compile` (the `syntax.Perl` flags:
/// `^`/`$` at the ends of the text, `.` not matching a newline, negated classes matching it) and
/// `MatchString` (true when any part of the text matches). Errors carry Go's messages.
mod goregex {
    use std::fmt;

    /// A compiled regular expression.
    #[derive(Debug, Clone)]
    pub(super) struct Regex {
        prog: Vec<Inst>,
    }

    /// Why Go refuses an expression.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) struct Error(String);

    impl fmt::Display for Error {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    fn err<T>(code: &str, expr: &[char]) -> Result<T, Error> {
        Err(Error(format!(
            "{code}: `{}`",
            expr.iter().collect::<String>()
        )))
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Assert {
        BeginText,
        EndText,
        WordBoundary,
        NotWordBoundary,
    }

    /// A set of characters: the union of its items, negated or not.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Set {
        items: Vec<Item>,
        negated: bool,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Item {
        Range(u32, u32),
        Group(&'static [(u32, u32)], bool),
    }

    impl Set {
        fn one(c: u32) -> Set {
            Set {
                items: vec![Item::Range(c, c)],
                negated: false,
            }
        }

        fn contains(&self, c: u32) -> bool {
            let hit = self.items.iter().any(|i| match i {
                Item::Range(lo, hi) => (*lo..=*hi).contains(&c),
                Item::Group(ranges, negated) => {
                    ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
                }
            });
            hit != self.negated
        }
    }

    #[derive(Debug, Clone)]
    enum Node {
        Set(Set),
        Assert(Assert),
        Concat(Vec<Node>),
        Star(Box<Node>),
        Plus(Box<Node>),
        Quest(Box<Node>),
    }

    #[derive(Debug, Clone)]
    enum Inst {
        Char(Set),
        Assert(Assert),
        Split(usize, usize),
        Jmp(usize),
        Match,
    }

    const DIGIT: &[(u32, u32)] = &[(0x30, 0x39)];
    const SPACE: &[(u32, u32)] = &[(0x09, 0x0a), (0x0c, 0x0d), (0x20, 0x20)];
    const WORD: &[(u32, u32)] = &[(0x30, 0x39), (0x41, 0x5a), (0x5f, 0x5f), (0x61, 0x7a)];
    const POSIX: &[(&str, &[(u32, u32)])] = &[
        ("alnum", &[(0x30, 0x39), (0x41, 0x5a), (0x61, 0x7a)]),
        ("alpha", &[(0x41, 0x5a), (0x61, 0x7a)]),
        ("ascii", &[(0x00, 0x7f)]),
        ("blank", &[(0x09, 0x09), (0x20, 0x20)]),
        ("cntrl", &[(0x00, 0x1f), (0x7f, 0x7f)]),
        ("digit", &[(0x30, 0x39)]),
        ("graph", &[(0x21, 0x7e)]),
        ("lower", &[(0x61, 0x7a)]),
        ("print", &[(0x20, 0x7e)]),
        (
            "punct",
            &[(0x21, 0x2f), (0x3a, 0x40), (0x5b, 0x60), (0x7b, 0x7e)],
        ),
        ("space", &[(0x09, 0x0d), (0x20, 0x20)]),
        ("upper", &[(0x41, 0x5a)]),
        ("word", WORD),
        ("xdigit", &[(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)]),
    ];

    /// `\d \D \s \S \w \W` at `t[i..]`.
    fn perl_class(t: &[char], i: usize) -> Option<Item> {
        if t.get(i) != Some(&'\\') {
            return None;
        }
        let (ranges, negated) = match t.get(i + 1)? {
            'd' => (DIGIT, false),
            'D' => (DIGIT, true),
            's' => (SPACE, false),
            'S' => (SPACE, true),
            'w' => (WORD, false),
            'W' => (WORD, true),
            _ => return None,
        };
        Some(Item::Group(ranges, negated))
    }

    fn unhex(c: char) -> Option<u32> {
        c.to_digit(16)
    }

    struct Parser {
        t: Vec<char>,
        i: usize,
    }

    impl Parser {
        /// Go's `parseEscape` at `\`: one character.
        fn escape(&mut self) -> Result<u32, Error> {
            let start = self.i;
            let Some(&c) = self.t.get(self.i + 1) else {
                return Err(Error("trailing backslash at end of expression: ``".into()));
            };
            self.i += 2;
            let invalid = |p: &Parser| err("invalid escape sequence", &p.t[start..p.i]);
            let octal = |c: Option<&char>| c.is_some_and(|c| ('0'..='7').contains(c));
            match c {
                c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok(u32::from(c)),
                '1'..='7' if !octal(self.t.get(self.i)) => invalid(self),
                '0'..='7' => {
                    let mut r = u32::from(c) - 0x30;
                    for _ in 1..3 {
                        if !octal(self.t.get(self.i)) {
                            break;
                        }
                        r = r * 8 + (u32::from(self.t[self.i]) - 0x30);
                        self.i += 1;
                    }
                    Ok(r)
                }
                'x' => {
                    let Some(&c) = self.t.get(self.i) else {
                        return invalid(self);
                    };
                    self.i += 1;
                    if c == '{' {
                        let mut r: u32 = 0;
                        let mut digits = 0;
                        loop {
                            let Some(&c) = self.t.get(self.i) else {
                                return invalid(self);
                            };
                            self.i += 1;
                            if c == '}' {
                                break;
                            }
                            let Some(v) = unhex(c) else {
                                return invalid(self);
                            };
                            r = r * 16 + v;
                            if r > 0x0010_ffff {
                                return invalid(self);
                            }
                            digits += 1;
                        }
                        return if digits == 0 { invalid(self) } else { Ok(r) };
                    }
                    let x = unhex(c);
                    let y = self.t.get(self.i).and_then(|c| unhex(*c));
                    if self.i < self.t.len() {
                        self.i += 1;
                    }
                    match (x, y) {
                        (Some(x), Some(y)) => Ok(x * 16 + y),
                        _ => invalid(self),
                    }
                }
                'a' => Ok(7),
                'f' => Ok(12),
                'n' => Ok(10),
                'r' => Ok(13),
                't' => Ok(9),
                'v' => Ok(11),
                _ => invalid(self),
            }
        }

        /// Go's `parseClassChar`.
        fn class_char(&mut self, class_start: usize) -> Result<u32, Error> {
            match self.t.get(self.i) {
                None => err("missing closing ]", &self.t[class_start..]),
                Some('\\') => self.escape(),
                Some(&c) => {
                    self.i += 1;
                    Ok(u32::from(c))
                }
            }
        }

        fn unicode_class(&self) -> Result<(), Error> {
            if self.t.get(self.i) == Some(&'\\')
                && matches!(self.t.get(self.i + 1), Some('p' | 'P'))
            {
                return Err(Error(
                    "`\\p` and `\\P` Unicode classes are not supported here".into(),
                ));
            }
            Ok(())
        }

        /// Go's `parseClass`, at `[`.
        fn class(&mut self) -> Result<Set, Error> {
            let start = self.i;
            self.i += 1;
            let mut set = Set {
                items: Vec::new(),
                negated: false,
            };
            if self.t.get(self.i) == Some(&'^') {
                set.negated = true;
                self.i += 1;
            }
            let mut first = true;
            while self.t.get(self.i) != Some(&']') || first {
                first = false;
                // POSIX [:alnum:] and the like.
                if self.t.len() - self.i > 2 && self.t[self.i] == '[' && self.t[self.i + 1] == ':' {
                    let rest = &self.t[self.i + 2..];
                    if let Some(k) = rest.windows(2).position(|w| w == [':', ']']) {
                        let name = &self.t[self.i..self.i + 2 + k + 2];
                        let inner: String = rest[..k].iter().collect();
                        let (negated, key) = match inner.strip_prefix('^') {
                            Some(k) => (true, k),
                            None => (false, inner.as_str()),
                        };
                        let Some((_, ranges)) = POSIX.iter().find(|(n, _)| *n == key) else {
                            return err("invalid character class range", name);
                        };
                        set.items.push(Item::Group(ranges, negated));
                        self.i += 2 + k + 2;
                        continue;
                    }
                }
                self.unicode_class()?;
                if let Some(item) = perl_class(&self.t, self.i) {
                    set.items.push(item);
                    self.i += 2;
                    continue;
                }
                let range_start = self.i;
                let lo = self.class_char(start)?;
                let mut hi = lo;
                if self.t.len() - self.i >= 2 && self.t[self.i] == '-' && self.t[self.i + 1] != ']'
                {
                    self.i += 1;
                    hi = self.class_char(start)?;
                    if hi < lo {
                        return err(
                            "invalid character class range",
                            &self.t[range_start..self.i],
                        );
                    }
                }
                set.items.push(Item::Range(lo, hi));
            }
            self.i += 1;
            Ok(set)
        }

        /// An escape outside a class: an assertion, `\Q…\E` literals, a Perl class or one character.
        fn escape_outside(&mut self, out: &mut Groups) -> Result<(), Error> {
            let at = self.i;
            let assert = match self.t.get(self.i + 1) {
                Some('A') => Some(Assert::BeginText),
                Some('z') => Some(Assert::EndText),
                Some('b') => Some(Assert::WordBoundary),
                Some('B') => Some(Assert::NotWordBoundary),
                Some('C') => return err("invalid escape sequence", &self.t[at..at + 2]),
                _ => None,
            };
            if let Some(a) = assert {
                out.push(Node::Assert(a));
                self.i += 2;
            } else if self.t.get(self.i + 1) == Some(&'Q') {
                // Everything up to \E (or the end) is literal.
                let rest = &self.t[self.i + 2..];
                let end = rest.windows(2).position(|w| w == ['\\', 'E']);
                let lit = &rest[..end.unwrap_or(rest.len())];
                for c in lit {
                    out.push(Node::Set(Set::one(u32::from(*c))));
                }
                self.i += 2 + lit.len() + if end.is_some() { 2 } else { 0 };
            } else {
                self.unicode_class()?;
                if let Some(item) = perl_class(&self.t, self.i) {
                    self.i += 2;
                    out.push(Node::Set(Set {
                        items: vec![item],
                        negated: false,
                    }));
                } else {
                    let c = self.escape()?;
                    out.push(Node::Set(Set::one(c)));
                }
            }
            Ok(())
        }

        /// A repetition operator at `self.i`, applied to the last node.
        fn repeat(&mut self, out: &mut Groups, last_repeat: Option<usize>) -> Result<(), Error> {
            let at = self.i;
            let op = self.t[at];
            let mut after = at + 1;
            if self.t.get(after) == Some(&'?') {
                after += 1; // non-greedy: it matches the same texts
            }
            if let Some(prev) = last_repeat {
                return err("invalid nested repetition operator", &self.t[prev..after]);
            }
            let Some(sub) = out.pop() else {
                return err(
                    "missing argument to repetition operator",
                    &self.t[at..after],
                );
            };
            out.push(match op {
                '*' => Node::Star(Box::new(sub)),
                '+' => Node::Plus(Box::new(sub)),
                _ => Node::Quest(Box::new(sub)),
            });
            self.i = after;
            Ok(())
        }

        fn parse(&mut self) -> Result<Node, Error> {
            let mut out = Groups(vec![Vec::new()]);
            let mut last_repeat: Option<usize> = None;
            while self.i < self.t.len() {
                let at = self.i;
                let mut repeat = None;
                match self.t[self.i] {
                    '(' => {
                        if self.t.get(self.i + 1) == Some(&'?') {
                            return Err(Error("`(?` groups are not supported here".into()));
                        }
                        out.0.push(Vec::new());
                        self.i += 1;
                    }
                    ')' => {
                        if out.0.len() == 1 {
                            return err("unexpected )", &self.t[..]);
                        }
                        let group = out.0.pop().unwrap_or_default();
                        out.push(Node::Concat(group));
                        self.i += 1;
                    }
                    '|' => return Err(Error("`|` is not supported here".into())),
                    '{' => return Err(Error("`{` repetitions are not supported here".into())),
                    '^' => {
                        out.push(Node::Assert(Assert::BeginText));
                        self.i += 1;
                    }
                    '$' => {
                        out.push(Node::Assert(Assert::EndText));
                        self.i += 1;
                    }
                    '.' => {
                        out.push(Node::Set(Set {
                            items: vec![Item::Range(0x0a, 0x0a)],
                            negated: true,
                        }));
                        self.i += 1;
                    }
                    '[' => {
                        let set = self.class()?;
                        out.push(Node::Set(set));
                    }
                    '*' | '+' | '?' => {
                        self.repeat(&mut out, last_repeat)?;
                        repeat = Some(at);
                    }
                    '\\' => self.escape_outside(&mut out)?,
                    c => {
                        out.push(Node::Set(Set::one(u32::from(c))));
                        self.i += 1;
                    }
                }
                last_repeat = repeat;
            }
            if out.0.len() > 1 {
                return err("missing closing )", &self.t[..]);
            }
            Ok(Node::Concat(out.0.pop().unwrap_or_default()))
        }
    }

    /// The open groups, innermost last; each is its concatenation so far.
    struct Groups(Vec<Vec<Node>>);

    impl Groups {
        fn push(&mut self, node: Node) {
            if let Some(top) = self.0.last_mut() {
                top.push(node);
            }
        }

        fn pop(&mut self) -> Option<Node> {
            self.0.last_mut().and_then(Vec::pop)
        }
    }

    fn emit(node: &Node, prog: &mut Vec<Inst>) {
        match node {
            Node::Set(s) => prog.push(Inst::Char(s.clone())),
            Node::Assert(a) => prog.push(Inst::Assert(*a)),
            Node::Concat(nodes) => nodes.iter().for_each(|n| emit(n, prog)),
            Node::Star(sub) => {
                let split = prog.len();
                prog.push(Inst::Split(0, 0));
                emit(sub, prog);
                prog.push(Inst::Jmp(split));
                prog[split] = Inst::Split(split + 1, prog.len());
            }
            Node::Plus(sub) => {
                let start = prog.len();
                emit(sub, prog);
                prog.push(Inst::Split(start, prog.len() + 1));
            }
            Node::Quest(sub) => {
                let split = prog.len();
                prog.push(Inst::Split(0, 0));
                emit(sub, prog);
                prog[split] = Inst::Split(split + 1, prog.len());
            }
        }
    }

    fn is_word(c: Option<&u32>) -> bool {
        c.is_some_and(|c| char::from_u32(*c).is_some_and(|c| c.is_ascii_alphanumeric() || c == '_'))
    }

    impl Regex {
        /// Compiles `expr` as `regexp.Compile` does.
        pub(super) fn new(expr: &str) -> Result<Regex, Error> {
            let mut p = Parser {
                t: expr.chars().collect(),
                i: 0,
            };
            let node = p.parse()?;
            let mut prog = Vec::new();
            emit(&node, &mut prog);
            prog.push(Inst::Match);
            Ok(Regex { prog })
        }

        /// Whether any part of `text` matches (`MatchString`): a Pike VM, linear in the text.
        pub(super) fn is_match(&self, text: &str) -> bool {
            let text: Vec<u32> = text.chars().map(u32::from).collect();
            let mut seen = vec![usize::MAX; self.prog.len()];
            let mut current: Vec<usize> = Vec::new();
            let mut next: Vec<usize> = Vec::new();
            for pos in 0..=text.len() {
                // A match may start anywhere.
                if self.add(&mut current, &mut seen, 0, pos, &text) {
                    return true;
                }
                let Some(&c) = text.get(pos) else {
                    break;
                };
                next.clear();
                for &pc in &current {
                    if let Inst::Char(set) = &self.prog[pc]
                        && set.contains(c)
                        && self.add(&mut next, &mut seen, pc + 1, pos + 1, &text)
                    {
                        return true;
                    }
                }
                std::mem::swap(&mut current, &mut next);
            }
            false
        }

        /// Adds `pc` and what it reaches without reading (at `pos`) to `list`; true on a match.
        fn add(
            &self,
            list: &mut Vec<usize>,
            seen: &mut [usize],
            pc: usize,
            pos: usize,
            text: &[u32],
        ) -> bool {
            let mut todo = vec![pc];
            while let Some(pc) = todo.pop() {
                if seen[pc] == pos {
                    continue;
                }
                seen[pc] = pos;
                match &self.prog[pc] {
                    Inst::Match => return true,
                    Inst::Char(_) => list.push(pc),
                    Inst::Jmp(to) => todo.push(*to),
                    Inst::Split(a, b) => {
                        todo.push(*b);
                        todo.push(*a);
                    }
                    Inst::Assert(a) => {
                        let before = pos.checked_sub(1).and_then(|i| text.get(i));
                        let holds = match a {
                            Assert::BeginText => pos == 0,
                            Assert::EndText => pos == text.len(),
                            Assert::WordBoundary => is_word(before) != is_word(text.get(pos)),
                            Assert::NotWordBoundary => is_word(before) == is_word(text.get(pos)),
                        };
                        if holds {
                            todo.push(pc + 1);
                        }
                    }
                }
            }
            false
        }
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
            ContextError::Ignore(e) => e.help(),
            ContextError::Send(_) => None,
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
        let mut ignore =
            match crate::input::read_to_string(&ignore_path, crate::input::DOCUMENT_LIMIT) {
                Ok(text) => Ignore::parse(&ignore_path, &text)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ignore::default(),
                Err(e) => return Err(read_err(&ignore_path)(e)),
            };
        ignore.keep(".dockerignore");
        if let Some(df) = dockerfile {
            ignore.keep(&go_clean(df));
        }
        let mut ctx = BuildContext {
            root: root.to_path_buf(),
            entries: Vec::new(),
            bytes: 0,
        };
        // Each directory to read, with what it matched (its entries' parent results).
        let mut stack: Vec<(String, Option<ParentMatches>)> = vec![(String::new(), None)];
        while let Some((dir, parent)) = stack.pop() {
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
                let (excluded, matched) = ignore.matches(&rel, parent.as_ref());
                if ty.is_dir() {
                    if !excluded {
                        ctx.entries.push(rel.clone());
                        subdirs.push((rel, Some(matched)));
                    } else if ignore.enter_excluded(&rel) {
                        subdirs.push((rel, Some(matched)));
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
    fn the_walk_enters_an_excluded_directory_only_for_an_exception_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in ["Dockerfile", "build/keep", "out/keep", "src/keep"] {
            let p = root.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, f).unwrap();
        }
        fs::write(
            root.join(".dockerignore"),
            "build\nout\nsrc\n!**/keep\n!out/keep\n",
        )
        .unwrap();
        let ctx = BuildContext::scan(root, Some("Dockerfile")).unwrap();
        let mut got: Vec<&str> = ctx.entries.iter().map(String::as_str).collect();
        got.sort_unstable();
        assert_eq!(got, [".dockerignore", "Dockerfile", "out/keep"]);
    }

    #[test]
    fn a_missing_context_is_named() {
        let err = BuildContext::scan(Path::new("/definitely/not/here"), None).unwrap_err();
        assert!(err.to_string().contains("/definitely/not/here"));
        assert_eq!(err.exit_code(), Code::Usage);
    }

    /// moby's patternmatcher and ignorefile test tables (tests/fixtures/dockerignore, provenance in
    /// tests/fixtures/SOURCES.md).
    mod upstream {
        use super::super::*;
        use serde_json::Value;

        fn fixture(name: &str) -> Value {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/dockerignore")
                .join(name);
            let text = fs::read_to_string(&path).unwrap();
            serde_json::from_str(&text).unwrap()
        }

        fn rows<'a>(doc: &'a Value, table: &str) -> &'a [Value] {
            let rows = doc["tables"][table].as_array().unwrap();
            assert!(!rows.is_empty(), "{table} is empty");
            rows
        }

        fn s(v: &Value) -> &str {
            v.as_str().unwrap()
        }

        fn strings(v: &Value) -> Vec<&str> {
            v.as_array().unwrap().iter().map(s).collect()
        }

        /// `patternmatcher.New(patterns)`.
        fn new(patterns: &[&str]) -> Result<Ignore, String> {
            Ignore::from_patterns(patterns.iter().map(|p| (1, *p))).map_err(|(_, r)| r)
        }

        /// `MatchesOrParentMatches` (and `MatchesUsingParentResults` without context).
        fn or_parent(ig: &Ignore, text: &str) -> bool {
            ig.matches(text, None).0
        }

        /// `MatchesUsingParentResults`, each parent directory matched first, as a walk does.
        fn using_parents(ig: &Ignore, text: &str) -> bool {
            let mut info: Option<ParentMatches> = None;
            for dir in parents(text) {
                info = Some(ig.matches(&dir, info.as_ref()).1);
            }
            ig.matches(text, info.as_ref()).0
        }

        /// The deprecated `Matches(file, patterns)`: only the parent as deep as the pattern is
        /// tried, and `.` is never matched.
        fn deprecated_matches(file: &str, patterns: &[&str]) -> Result<bool, String> {
            let ig = new(patterns)?;
            let file = go_clean(file);
            if file == "." {
                return Ok(false);
            }
            let above = parents(&file);
            let mut matched = false;
            for p in &ig.patterns {
                if p.exclusion != matched {
                    continue;
                }
                let depth = p.text.split('/').count();
                let hit = p.matches(&file)
                    || (!above.is_empty() && depth <= above.len() && p.matches(&above[depth - 1]));
                if hit {
                    matched = !p.exclusion;
                }
            }
            Ok(matched)
        }

        #[test]
        fn test_matches_tables() {
            let doc = fixture("patternmatcher_test.json");
            let mut n = 0;
            for table in ["TestMatches.tests", "TestMatches.tests (not windows)"] {
                for row in rows(&doc, table) {
                    let (pattern, text) = (s(&row["pattern"]), s(&row["text"]));
                    let want = row["pass"].as_bool().unwrap();
                    let ig = new(&[pattern]).unwrap_or_else(|e| panic!("{pattern}: {e}"));
                    assert_eq!(or_parent(&ig, text), want, "{pattern:?} vs {text:?}");
                    assert_eq!(using_parents(&ig, text), want, "{pattern:?} vs {text:?}");
                    n += 1;
                }
            }
            for row in rows(&doc, "TestMatches.multiPatternTests") {
                let patterns = strings(&row["patterns"]);
                let text = s(&row["text"]);
                let want = row["pass"].as_bool().unwrap();
                let ig = new(&patterns).unwrap();
                assert_eq!(or_parent(&ig, text), want, "{patterns:?} vs {text:?}");
                assert_eq!(using_parents(&ig, text), want, "{patterns:?} vs {text:?}");
                n += 1;
            }
            assert_eq!(n, 72);
        }

        #[test]
        fn match_tests_from_go_filepath() {
            let doc = fixture("patternmatcher_test.json");
            let table = rows(&doc, "matchTests");
            for row in table {
                let (pattern, name) = (s(&row["pattern"]), s(&row["s"]));
                let want = row["match"].as_bool().unwrap();
                let got = deprecated_matches(name, &[pattern]);
                if row["err"].is_null() {
                    assert_eq!(got, Ok(want), "{pattern:?} vs {name:?}");
                } else {
                    assert_eq!(s(&row["err"]), "filepath.ErrBadPattern");
                    assert!(got.is_err(), "{pattern:?} should be refused, got {got:?}");
                    assert!(!want);
                }
            }
            assert_eq!(table.len(), 54);
        }

        #[test]
        fn compile_tests() {
            let doc = fixture("patternmatcher_test.json");
            let table = rows(&doc, "compileTests");
            for row in table {
                let pattern = go_clean(s(&row["pattern"]));
                let (kind, re) = moby_compile(&pattern);
                let want = match s(&row["matchType"]) {
                    "exactMatch" => MatchType::Exact,
                    "prefixMatch" => MatchType::Prefix,
                    "suffixMatch" => MatchType::Suffix,
                    "regexpMatch" => MatchType::Regexp,
                    other => panic!("{other}"),
                };
                assert_eq!(kind, want, "{pattern}");
                if kind == MatchType::Regexp {
                    assert_eq!(re, s(&row["compiledRegexp"]), "{pattern}");
                    goregex::Regex::new(&re).unwrap();
                }
            }
            assert_eq!(table.len(), 21);
        }

        #[test]
        fn single_case_functions() {
            let doc = fixture("patternmatcher_test.json");
            for row in rows(&doc, "single-case functions (hand-transcribed)") {
                let test = s(&row["test"]);
                let patterns = strings(&row["patterns"]);
                let want_err = row["err"].as_bool().unwrap();
                match s(&row["call"]) {
                    "Matches" => {
                        let got = deprecated_matches(s(&row["file"]), &patterns);
                        if want_err {
                            assert!(got.is_err(), "{test}: {got:?}");
                        } else {
                            assert_eq!(got, Ok(row["match"].as_bool().unwrap()), "{test}");
                        }
                    }
                    "New" => match new(&patterns) {
                        Err(e) => assert!(want_err, "{test}: {e}"),
                        Ok(ig) => {
                            assert!(!want_err, "{test}: accepted");
                            if let Some(count) = row["count"].as_u64() {
                                assert_eq!(ig.patterns.len() as u64, count, "{test}");
                            }
                            if let Some(ex) = row["exclusions"].as_bool() {
                                assert_eq!(ig.has_exceptions(), ex, "{test}");
                            }
                        }
                    },
                    // moby refuses this one when it first matches; this crate when it reads it.
                    "MatchesOrParentMatches" => {
                        assert!(want_err);
                        assert!(new(&patterns).is_err(), "{test}");
                    }
                    other => panic!("{test}: {other}"),
                }
            }
        }

        #[test]
        fn read_all_table() {
            let doc = fixture("ignorefile_test.json");
            for row in rows(&doc, "TestReadAll (hand-transcribed)") {
                let content = row["content"].as_str().unwrap_or("");
                let got: Vec<String> = read_all(content)
                    .unwrap()
                    .into_iter()
                    .map(|(_, p)| p)
                    .collect();
                assert_eq!(got, strings(&row["expected"]), "{content:?}");
            }
            // The `!` lines it keeps are what New then refuses, naming the line.
            let content = s(&rows(&doc, "TestReadAll (hand-transcribed)")[1]["content"]);
            let err = Ignore::parse(Path::new(".dockerignore"), content).unwrap_err();
            assert_eq!(err.line, 8, "{err}");
            assert!(err.to_string().contains("a lone `!`"), "{err}");
        }
    }

    #[test]
    fn docker_reads_what_the_old_reader_did_not() {
        let parse = |text: &str| Ignore::parse(Path::new("ctx/.dockerignore"), text);
        // Errors, naming the line.
        for (text, line, reason) in [
            ("a\n!\n", 2, "a lone `!`"),
            ("a\n  !  \n", 2, "a lone `!`"),
            ("!/\n", 1, "a lone `!`"),
            ("[]a]\n", 1, "start with `]`"),
            ("ok\n# c\n[-]\n", 3, "`-`"),
            ("[x-]", 1, "has no end"),
            ("[a-b-c]", 1, "`-`"),
            ("[z-a]", 1, "invalid character class range: `z-a`"),
            ("x/[Local-Only]/", 1, "invalid character class range: `l-O`"),
            ("file\\q", 1, "invalid escape sequence: `\\q`"),
            ("a\\", 1, "a trailing `\\` escapes nothing"),
            ("[[:nope:]]", 1, "invalid character class range: `[:nope:]`"),
            ("\\pL", 1, "Unicode classes are not supported"),
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err}");
            assert!(err.reason.contains(reason), "{text:?}: {err}");
            assert!(
                err.to_string()
                    .starts_with(&format!("read `ctx/.dockerignore` line {line}: ")),
                "{err}"
            );
            assert_eq!(err.exit_code(), Code::Usage);
            assert!(err.help().unwrap().contains(&format!("line {line}")));
        }
        let long = format!("ok\n{}\n", "a".repeat(MAX_LINE + 1));
        assert_eq!(parse(&long).unwrap_err().line, 2);
        assert!(parse(&format!("{}\n", "a".repeat(MAX_LINE))).is_ok());

        let cases: &[(&str, &str, bool)] = &[
            // `**` first: a suffix match.
            ("**file", "myfile", true),
            ("**file", "dir/xfile", true),
            ("**file", "file.txt", false),
            // An indented `#` is a pattern.
            ("  #x", "#x", true),
            ("# x", "# x", false),
            // Go regular expressions.
            ("a[^x]b", "azb", true),
            ("a[^x]b", "axb", false),
            ("a[^x]b", "a/b", true),
            ("file\\d", "file1", true),
            ("file\\d", "filed", false),
            ("*^b", "b", true),
            ("*^b", "ab", false),
            ("*^b", "a^b", false),
            ("[[:digit:]]x", "7x", true),
            ("[[:digit:]]x", "[x", false),
            ("a\\Qb*", "ab[^/]*$", true),
            ("a\\Qb*", "abc", false),
            ("\\x41", "A", true),
            // A directory is entered only when a `!` pattern names a path in it.
            ("build\n!**/keep", "build/keep", true),
            ("build\n!build/keep", "build/keep", false),
            ("build\n!*/keep", "build/keep", true),
            // A directory's results carry to its entries (MatchesUsingParentResults): `!d` was not
            // tried on `d`, where nothing was excluded yet, so it does not apply to `d/f`.
            ("d/*\n!d", "d/f", true),
            ("d\n!d", "d/f", false),
            // Each line's own BOM is not a BOM.
            ("\u{feff}a", "a", true),
            ("x\n\u{feff}a", "a", false),
        ];
        for (text, path, want) in cases {
            assert_eq!(
                parse(text).unwrap().excluded(path),
                *want,
                "{text:?} vs {path}"
            );
        }
    }

    #[test]
    fn go_clean_is_go() {
        for (input, want) in [
            ("", "."),
            ("./a//b/", "a/b"),
            ("a/../..", ".."),
            ("/..", "/"),
            ("/a/../../b", "/b"),
            ("a/./b/../c", "a/c"),
            ("!/", "!"),
            ("../../x", "../../x"),
            ("//", "/"),
        ] {
            assert_eq!(go_clean(input), want, "{input:?}");
        }
    }

    #[test]
    fn go_regexp_semantics() {
        let m = |re: &str, s: &str| goregex::Regex::new(re).unwrap().is_match(s);
        assert!(m("^a.c$", "abc"));
        assert!(!m("^a.c$", "a\nc"), "`.` does not match a newline");
        assert!(m("^a[^x]c$", "a\nc"), "a negated class does");
        assert!(m("b", "abc"), "MatchString searches");
        assert!(m("^(.*/)?x$", "a/b/x") && m("^(.*/)?x$", "x") && !m("^(.*/)?x$", "ax"));
        assert!(m("^\\bab\\b$", "ab") && !m("a\\Bb", "a b"));
        assert!(m("^\\101\\x42\\x{43}$", "ABC"));
        assert!(m("^[\\d\\-]+$", "1-2") && !m("^[\\D]$", "1"));
        assert!(m("^[[:^alpha:]]$", "1") && !m("^[[:^alpha:]]$", "a"));
        assert!(m("^[]a]$", "]"), "`]` first in a class is literal");
        assert!(m("^a\\z", "a") && !m("^a\\z", "ab"));
        for (re, want) in [
            ("a[", "missing closing ]: `[`"),
            ("\\8", "invalid escape sequence: `\\8`"),
            ("\\C", "invalid escape sequence: `\\C`"),
            ("*a", "missing argument to repetition operator: `*`"),
            ("a**", "invalid nested repetition operator: `**`"),
            ("(a", "missing closing )"),
            ("a)", "unexpected )"),
            ("\\", "trailing backslash"),
        ] {
            let e = goregex::Regex::new(re).unwrap_err().to_string();
            assert!(e.starts_with(want), "{re}: {e}");
        }
    }

    #[test]
    fn globs_keep_their_own_dialect() {
        // Buildspec artifact patterns are not .dockerignore patterns.
        let g = |p: &str, s: &str| Glob::new(p).unwrap().matches(s);
        assert!(!g("**file", "dir/xfile"));
        assert!(g("a[^x]b", "azb") && !g("a[^x]b", "a/b"));
        assert!(g("file\\d", "filed"));
        assert!(Glob::new("[abc").is_err());
    }

    #[test]
    fn globs_match_in_time_linear_in_pattern_times_path() {
        // A backtracking matcher tries about 2^30 splits here before it says no.
        let pattern = format!("{}b", "*a".repeat(30));
        let path = "a".repeat(200);
        assert!(!Glob::new(&pattern).unwrap().matches(&path));
        assert!(Glob::new(&pattern).unwrap().matches(&format!("{path}b")));
        let dirs = format!("{}x", "**/a".repeat(20));
        assert!(!Glob::new(&dirs).unwrap().matches(&"a/".repeat(100)));
        let g = |p: &str, s: &str| Glob::new(p).unwrap().matches(s);
        assert!(g("**/*.txt", "a/b/c.txt") && g("**/*.txt", "c.txt") && !g("*.txt", "a/c.txt"));
        assert!(g("a/**", "a/b/c") && g("a?c", "abc") && !g("a?c", "a/c"));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn any_text() -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop_oneof![
                    3 => prop::sample::select(vec![
                        "*", "**", "?", "[", "]", "^", "-", "!", "\\", "/", "#", " ", "\n", "\r",
                        ".", "..", "a", "b", "[:alpha:]", "\\Q", "\\E", "\\x4", "{", "}", "(", ")",
                        "$", "|", "+", "\u{feff}", "é",
                    ])
                    .prop_map(str::to_string),
                    1 => any::<char>().prop_map(|c| c.to_string()),
                ],
                0..40,
            )
            .prop_map(|parts| parts.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn reading_and_matching_never_panic(text in any_text(), path in any_text()) {
                if let Ok(ig) = Ignore::parse(Path::new(".dockerignore"), &text) {
                    let path = path.replace('\n', "/");
                    let _ = ig.excluded(&path);
                    let _ = ig.matches(&path, None);
                    let _ = ig.enter_excluded(&path);
                }
            }

            #[test]
            fn every_generated_expression_is_handled(pattern in any_text()) {
                if go_match_syntax(&pattern).is_ok() {
                    let (_, re) = moby_compile(&pattern);
                    if let Ok(re) = goregex::Regex::new(&re) {
                        let _ = re.is_match(&pattern);
                    }
                }
            }
        }
    }

    #[test]
    fn artifact_patterns() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["a.txt", "sub/b.txt", "sub/deep/c.json", "skip/d.txt"] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, f).unwrap();
        }
        let names = |pats: &[&str], ex: &[&str]| -> Vec<String> {
            let pats: Vec<String> = pats.iter().map(ToString::to_string).collect();
            let ex: Vec<String> = ex.iter().map(ToString::to_string).collect();
            matching(&pats, &ex, dir.path(), None)
                .into_iter()
                .map(|(r, _)| r)
                .collect()
        };
        assert_eq!(
            names(&["**/*"], &["skip/**"]),
            ["a.txt", "sub/b.txt", "sub/deep/c.json"]
        );
        assert_eq!(
            names(&["sub/**/*.json", "a.txt"], &[]),
            ["a.txt", "sub/deep/c.json"]
        );
        assert_eq!(names(&["*.txt"], &[]), ["a.txt"]);
        assert_eq!(names(&["missing.txt"], &[]), Vec::<String>::new());
        let skip = dir.path().join("skip");
        let walked = |pattern: &str| {
            let mut rels = Vec::new();
            walk(dir.path(), pattern, Some(&skip), |rel, _| {
                rels.push(rel.to_string());
            });
            rels.sort();
            rels
        };
        assert_eq!(walked("**/*"), ["a.txt", "sub/b.txt", "sub/deep/c.json"]);
        assert_eq!(walked("sub/deep/*.json"), ["sub/deep/c.json"]);
    }
}
