//! Property tests over the readers of hostile input: thousands of generated documents, buildspecs
//! and scan reports — random text, and text built from the syntax that breaks parsers (anchors and
//! aliases, merge keys, deep brackets, byte-order marks, tabs, duplicate keys, the fields each
//! reader looks for). None may panic; each either reads the input or gives an error with a message.
//! (Image references and `.dockerignore` have theirs in `patterns` and `build_context`, durations in
//! `time`; memory and stack bounds on the worst inputs are in `hostile`.)

use buildsteps::buildspec;
use buildsteps::document::{self, Syntax};
use buildsteps::scan::reports;
use proptest::prelude::*;

/// Text made of pieces of YAML and JSON syntax, and of `words`.
fn syntax_soup(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    let pieces: Vec<&'static str> = vec![
        "{",
        "}",
        "[",
        "]",
        ":",
        ": ",
        ",",
        "- ",
        "\n",
        "  ",
        "    ",
        "\t",
        "&a ",
        "*a",
        "&b ",
        "*b",
        "<<: ",
        "\"",
        "'",
        "#",
        "? ",
        "|\n",
        ">-\n",
        "--- \n",
        "...\n",
        "!!str ",
        "!!map ",
        "1",
        "-1",
        "1e999",
        "NaN",
        "null",
        "true",
        "x",
        "\u{feff}",
        "\\u0000",
        "\\",
        "%YAML 1.2\n",
    ];
    let all: Vec<&'static str> = pieces.into_iter().chain(words.iter().copied()).collect();
    prop::collection::vec(prop::sample::select(all), 0..80).prop_map(|v| v.concat())
}

const BUILDSPEC_WORDS: &[&str] = &[
    "version: 0.2\n",
    "phases:\n",
    "build:\n",
    "commands:\n",
    "finally:\n",
    "env:\n",
    "variables:\n",
    "parameter-store:\n",
    "secrets-manager:\n",
    "exported-variables:\n",
    "artifacts:\n",
    "files:\n",
    "base-directory: ",
    "secondary-artifacts:\n",
    "reports:\n",
    "on-failure: ",
    "shell: ",
    "discard-paths: ",
    "../",
    "/tmp/",
    "**/*",
    "[",
    "on-failure: CONTINUE",
];

const REPORT_WORDS: &[&str] = &[
    "\"Results\"",
    "\"Vulnerabilities\"",
    "\"VulnerabilityID\"",
    "\"Severity\"",
    "\"matches\"",
    "\"vulnerability\"",
    "\"id\"",
    "\"severity\"",
    "\"imageScanFindings\"",
    "\"findings\"",
    "\"enhancedFindings\"",
    "\"findingSeverityCounts\"",
    "\"CRITICAL\"",
    "\"HIGH\"",
    "\"nextToken\"",
    "\"NextToken\"",
    "\"imageScanStatus\"",
    "\"status\"",
    "\"COMPLETE\"",
    "\"IN_PROGRESS\"",
    "\"SchemaVersion\"",
    "2",
    "\"CVSS\"",
    "\"V3Score\"",
    "9.8",
    "\"artifact\"",
    "\"name\"",
    "\"version\"",
    "\"FixedVersion\"",
    "\"packageVulnerabilityDetails\"",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn documents_never_panic(
        text in prop_oneof![syntax_soup(&["a", "b", "key", "\"k\"", "[[[[", "{{{{"]), any::<String>()]
    ) {
        for syntax in [Syntax::Json, Syntax::Yaml] {
            if let Err(e) = document::parse(&text, syntax) {
                prop_assert!(!e.message.is_empty());
            }
        }
        let _ = document::parse_with_positions(&text);
    }

    #[test]
    fn buildspecs_never_panic(text in prop_oneof![syntax_soup(BUILDSPEC_WORDS), any::<String>()]) {
        if let Err(e) = buildspec::parse(&text) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn scan_reports_never_panic(text in prop_oneof![syntax_soup(REPORT_WORDS), any::<String>()]) {
        if let Err(e) = reports::parse(&text) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
