//! The error contract shared by every step and adapter.
//!
//! Each module has its own `thiserror` enum whose variants carry the values a person needs (path, field,
//! host, digest…). Every such enum implements [`Diagnostic`], which says which documented exit code the
//! error maps to and, where there is one, the fix (`help:` line). Messages are lowercase fragments that
//! read well after "failed to": the edge ([`crate::cli`]) prints `error: failed to <message>`, then the
//! `caused by:` chain, then `help:`.

use crate::exit::Code;
use std::fmt;

/// An error that knows its exit code and, optionally, how to fix it.
pub trait Diagnostic: std::error::Error + Send + Sync + 'static {
    /// The documented exit code for this error.
    fn exit_code(&self) -> Code;

    /// A one-line fix for the user, printed as `help: …`.
    fn help(&self) -> Option<String> {
        None
    }
}

/// The error a step returns: any [`Diagnostic`], boxed.
pub struct Error(Box<dyn Diagnostic>);

impl Error {
    /// The exit code the process will end with.
    pub fn exit_code(&self) -> Code {
        self.0.exit_code()
    }

    /// The fix, if the error knows one.
    pub fn help(&self) -> Option<String> {
        self.0.help()
    }

    /// The error and its causes, outermost first, as display strings.
    pub fn chain(&self) -> Vec<String> {
        let mut out = vec![self.0.to_string()];
        let mut next = std::error::Error::source(&*self.0);
        while let Some(cause) = next {
            let text = cause.to_string();
            // Some libraries repeat their source's message in their own; print each text once.
            if out.last() != Some(&text) {
                out.push(text);
            }
            next = cause.source();
        }
        out
    }
}

impl<E: Diagnostic> From<E> for Error {
    fn from(err: E) -> Self {
        Error(Box::new(err))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// An error and its sources as one line of their messages (`dispatch failure: io error: …`), each
/// message once — for library errors whose `Display` leaves the detail to their sources.
pub fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = cause.source();
    }
    parts.join(": ")
}

/// A concurrent task of ours panicked or was cancelled: a bug.
#[derive(Debug, thiserror::Error)]
#[error("finish a concurrent task: {0}")]
pub struct TaskFailed(pub String);

impl Diagnostic for TaskFailed {
    fn exit_code(&self) -> Code {
        Code::Internal
    }
}

/// The result type of steps.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("read `{path}`")]
    struct ReadFailed {
        path: String,
        #[source]
        source: std::io::Error,
    }

    impl Diagnostic for ReadFailed {
        fn exit_code(&self) -> Code {
            Code::Usage
        }
        fn help(&self) -> Option<String> {
            Some("check the path".into())
        }
    }

    #[test]
    fn chain_lists_the_error_then_its_causes() {
        let err: Error = ReadFailed {
            path: "taskdef.json".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        }
        .into();
        assert_eq!(err.chain(), ["read `taskdef.json`", "no such file"]);
        assert_eq!(err.exit_code(), Code::Usage);
        assert_eq!(err.help().as_deref(), Some("check the path"));
    }
}
