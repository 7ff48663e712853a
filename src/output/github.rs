//! GitHub Actions: workflow commands (`::add-mask::`, `::error::`, `::warning::`) and the files the
//! runner reads after a step (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`).

use crate::environment::Environment;
use crate::reference::Digest;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;

/// The runner's files for this step, when running in GitHub Actions.
#[derive(Debug, Clone)]
pub struct Files {
    output: Option<PathBuf>,
    summary: Option<PathBuf>,
}

impl Files {
    /// `Some` when `GITHUB_ACTIONS=true`.
    pub fn from_env(env: &Environment) -> Option<Files> {
        if !env.flag("GITHUB_ACTIONS") {
            return None;
        }
        Some(Files {
            output: env.var("GITHUB_OUTPUT").map(PathBuf::from),
            summary: env.var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        })
    }

    /// Appends step outputs to `$GITHUB_OUTPUT` (all in one write).
    pub fn append_outputs(&self, outputs: &[(String, String)]) -> Result<(), (PathBuf, io::Error)> {
        let Some(path) = &self.output else {
            return Ok(());
        };
        let text: String = outputs.iter().map(|(k, v)| output_entry(k, v)).collect();
        append(path, &text)
    }

    /// Appends Markdown to `$GITHUB_STEP_SUMMARY`, followed by a blank line.
    pub fn append_summary(&self, markdown: &str) -> Result<(), (PathBuf, io::Error)> {
        let Some(path) = &self.summary else {
            return Ok(());
        };
        append(path, &format!("{}\n\n", markdown.trim_end()))
    }
}

fn append(path: &PathBuf, text: &str) -> Result<(), (PathBuf, io::Error)> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| (path.clone(), e))
}

/// One `$GITHUB_OUTPUT` entry: `name=value\n`, or for a value with a line break the delimiter form
/// `name<<DELIM\nvalue\nDELIM\n`, with a delimiter that does not occur in the value.
pub fn output_entry(name: &str, value: &str) -> String {
    if !value.contains(['\n', '\r']) {
        return format!("{name}={value}\n");
    }
    let mut seed = value.to_string();
    loop {
        let delimiter = format!(
            "ghadelimiter_{}",
            &Digest::sha256_of(seed.as_bytes()).hex()[..32]
        );
        if !value.contains(&delimiter) && !name.contains(&delimiter) {
            return format!("{name}<<{delimiter}\n{value}\n{delimiter}\n");
        }
        seed.push('\0');
    }
}

/// A workflow command line: `::name key=value,…::message`, escaped as the runner expects.
pub fn command(name: &str, properties: &[(&str, &str)], message: &str) -> String {
    let props: Vec<String> = properties
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    let sep = if props.is_empty() { "" } else { " " };
    format!("::{name}{sep}{}::{}", props.join(","), escape_data(message))
}

/// Escapes a command's message: `%`, CR and LF.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property: as [`escape_data`], plus `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Parses a `$GITHUB_OUTPUT` file the way the runner does (both entry forms).
#[cfg(test)]
pub(crate) fn parse_output_file(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delimiter {
                    break;
                }
                value.push(l);
            }
            out.push((name.to_string(), value.join("\n")));
        } else if let Some((name, value)) = line.split_once('=') {
            out.push((name.to_string(), value.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_values_use_the_plain_form() {
        assert_eq!(
            output_entry("registry", "123.dkr.ecr"),
            "registry=123.dkr.ecr\n"
        );
    }

    #[test]
    fn multi_line_values_round_trip_through_the_delimiter_form() {
        let values = [
            "a\nb",
            "line one\r\nline two",
            "ends with newline\n",
            "\n",
            "contains ghadelimiter_ and = and <<\nsecond",
        ];
        for value in values {
            let entry = output_entry("value", value);
            assert!(entry.starts_with("value<<ghadelimiter_"), "{entry}");
            let delimiter = entry.lines().next().unwrap().split_once("<<").unwrap().1;
            assert!(!value.contains(delimiter));
            let parsed = parse_output_file(&format!("{entry}other=x\n"));
            assert_eq!(parsed[0].1, value.replace("\r\n", "\n"), "{value:?}");
            assert_eq!(parsed[1], ("other".into(), "x".into()));
        }
    }

    #[test]
    fn a_value_containing_its_own_delimiter_gets_another() {
        let first = output_entry("v", "a\nb");
        let delimiter = first
            .lines()
            .next()
            .unwrap()
            .split_once("<<")
            .unwrap()
            .1
            .to_string();
        let hostile = format!("a\nb\n{delimiter}\nevil=1");
        let entry = output_entry("v", &hostile);
        let used = entry.lines().next().unwrap().split_once("<<").unwrap().1;
        assert_ne!(used, delimiter);
        assert_eq!(parse_output_file(&entry), [("v".to_string(), hostile)]);
    }

    #[test]
    fn commands_are_escaped() {
        assert_eq!(command("add-mask", &[], "p%w\nx"), "::add-mask::p%25w%0Ax");
        assert_eq!(
            command("error", &[("file", "a,b:c"), ("line", "3")], "bad"),
            "::error file=a%2Cb%3Ac,line=3::bad"
        );
    }

    #[test]
    fn files_are_appended_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, "earlier=1\n").unwrap();
        let env = Environment::new(
            [
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_OUTPUT", path.to_str().unwrap()),
            ],
            "/",
        );
        let files = Files::from_env(&env).unwrap();
        files.append_outputs(&[("a".into(), "1".into())]).unwrap();
        files.append_summary("ignored: no summary path").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier=1\na=1\n");
        assert!(Files::from_env(&Environment::new([("GITHUB_OUTPUT", "x")], "/")).is_none());
    }
}
