//! A wrapper for secrets (ECR passwords, registry auth) that cannot leak through `Debug` or `Display`:
//! both print `<redacted>`. Reading the value takes an explicit [`Secret::expose`].

use std::fmt;

/// A secret string.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself. Every call site is a place where the secret leaves our hands: keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Values to hide from log lines, longest first (a value that contains another is hidden whole);
/// values under three characters are left out, as they would hide ordinary text. Shown as a count.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Masks(Vec<String>);

impl Masks {
    /// The masks for `values`.
    pub fn new(values: impl IntoIterator<Item = String>) -> Masks {
        let mut masks: Vec<String> = values.into_iter().filter(|v| v.len() >= 3).collect();
        masks.sort_by_key(|m| std::cmp::Reverse(m.len()));
        Masks(masks)
    }

    /// The values, longest first.
    pub fn values(&self) -> &[String] {
        &self.0
    }

    /// `text` with every value replaced by `***`.
    pub fn apply(&self, text: &str) -> String {
        mask_all(&self.0, text)
    }
}

impl fmt::Debug for Masks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Masks(<{} redacted>)", self.0.len())
    }
}

/// `text` with every one of `masks` (longest first) replaced by `***`.
pub fn mask_all(masks: &[String], text: &str) -> String {
    masks.iter().fold(text.to_string(), |t, m| {
        if t.contains(m.as_str()) {
            t.replace(m.as_str(), "***")
        } else {
            t
        }
    })
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(
            format!("{s} {s:?} {s:#?}"),
            "<redacted> Secret(<redacted>) Secret(<redacted>)"
        );
        assert_eq!(s.expose(), "hunter2");
    }
}
