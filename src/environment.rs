//! All process state a step may consult — environment variables, the working directory, whether the
//! streams are terminals — captured once by [`crate::cli`] and passed down. Library code never calls
//! `std::env` itself, so every resolution rule is unit-testable with a hand-made [`Environment`].

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// A snapshot of the process environment.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
    cwd: PathBuf,
    stderr_is_terminal: bool,
    current_exe: Option<PathBuf>,
}

impl Environment {
    /// Captures the running process's state. Only [`crate::cli`] calls this.
    pub fn from_process() -> Self {
        Environment {
            // Variables whose name or value is not UTF-8 are not ours to read.
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            stderr_is_terminal: std::io::stderr().is_terminal(),
            current_exe: std::env::current_exe().ok(),
        }
    }

    /// An environment with the given variables and working directory (tests, embedding).
    pub fn new<K, V>(vars: impl IntoIterator<Item = (K, V)>, cwd: impl Into<PathBuf>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        Environment {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            cwd: cwd.into(),
            stderr_is_terminal: false,
            current_exe: None,
        }
    }

    /// The value of a variable; an empty value counts as unset, as CI systems export empty variables.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Every variable, by name (for handing the environment on to a child process).
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether a variable is set to `true` (case-insensitive) or `1`.
    pub fn flag(&self, name: &str) -> bool {
        self.var(name)
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
    }

    /// The working directory at start.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// Resolves a path given by the user against the working directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.cwd.join(path)
    }

    /// Whether stderr is a terminal (progress bars are drawn only then).
    pub fn stderr_is_terminal(&self) -> bool {
        self.stderr_is_terminal
    }

    /// The running executable's path, if known.
    pub fn current_exe(&self) -> Option<&Path> {
        self.current_exe.as_deref()
    }

    /// Which CI system runs us, if any.
    pub fn ci(&self) -> Ci {
        if self.flag("GITHUB_ACTIONS") {
            Ci::GithubActions
        } else if self.var("CODEBUILD_BUILD_ID").is_some() {
            Ci::CodeBuild
        } else if self.flag("GITLAB_CI") {
            Ci::Gitlab
        } else if self.flag("CI") {
            Ci::Other
        } else {
            Ci::None
        }
    }
}

/// The CI system a step runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    /// `GITHUB_ACTIONS=true`.
    GithubActions,
    /// `CODEBUILD_BUILD_ID` is set.
    CodeBuild,
    /// `GITLAB_CI=true`.
    Gitlab,
    /// `CI=true` but none of the above.
    Other,
    /// A person's shell.
    None,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_unset() {
        let env = Environment::new([("A", ""), ("B", "x")], "/");
        assert_eq!(env.var("A"), None);
        assert_eq!(env.var("B"), Some("x"));
        assert_eq!(env.var("C"), None);
    }

    #[test]
    fn ci_detection_prefers_github_then_codebuild() {
        let gh = Environment::new(
            [("GITHUB_ACTIONS", "true"), ("CODEBUILD_BUILD_ID", "p:1")],
            "/",
        );
        assert_eq!(gh.ci(), Ci::GithubActions);
        let cb = Environment::new([("CODEBUILD_BUILD_ID", "p:1"), ("CI", "true")], "/");
        assert_eq!(cb.ci(), Ci::CodeBuild);
        assert_eq!(
            Environment::new([("GITLAB_CI", "true")], "/").ci(),
            Ci::Gitlab
        );
        assert_eq!(Environment::new([("CI", "1")], "/").ci(), Ci::Other);
        assert_eq!(
            Environment::new([("GITHUB_ACTIONS", "false")], "/").ci(),
            Ci::None
        );
    }

    #[test]
    fn relative_paths_resolve_against_the_captured_cwd() {
        let env = Environment::new(Vec::<(String, String)>::new(), "/src/app");
        assert_eq!(
            env.resolve(Path::new("Dockerfile")),
            Path::new("/src/app/Dockerfile")
        );
        assert_eq!(env.resolve(Path::new("/abs")), Path::new("/abs"));
    }
}
