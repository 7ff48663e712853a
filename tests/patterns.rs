//! Patterns and references read as docker reads them. distribution/reference's own test tables
//! (tests/fixtures/reference, provenance in tests/fixtures/SOURCES.md) run against
//! `reference::docker` and `ImageRef`; `.dockerignore` lines docker refuses are refused by the real
//! build-push, exit 2 naming the line, before anything is written (moby's patternmatcher tables
//! themselves run as unit tests of `build_context`, which is private to the crate); and arbitrary
//! input never panics.

use crate::common::{Scratch, fixture_text, git, run};
use buildsteps::reference::docker::{Reference, is_domain, is_identifier, split_name};
use buildsteps::reference::{Digest, ImageRef};
use proptest::prelude::*;
use serde_json::Value;

const BUILD_PUSH: &str = env!("CARGO_BIN_EXE_build-push");

fn tables(file: &str) -> Value {
    let doc: Value = serde_json::from_str(&fixture_text(&format!("reference/{file}"))).unwrap();
    assert_eq!(doc["source"]["repo"], "distribution/reference");
    doc["tables"].clone()
}

fn rows<'a>(tables: &'a Value, table: &str) -> &'a [Value] {
    let rows = tables[table]
        .as_array()
        .unwrap_or_else(|| panic!("no table {table}"));
    assert!(!rows.is_empty(), "{table} is empty");
    rows
}

/// A string field; absent is Go's zero value, "".
fn s<'a>(row: &'a Value, field: &str) -> &'a str {
    row[field].as_str().unwrap_or("")
}

/// What a distribution/reference error variable says, as this crate words it.
fn err_fragment(name: &str) -> &'static str {
    match name {
        "ErrNameEmpty" => "empty",
        "ErrNameContainsUppercase" => "must be lowercase",
        "ErrNameTooLong" => "longer than 255",
        "digest.ErrDigestInvalidLength" => "hex digits",
        "digest.ErrDigestUnsupported" => "unsupported digest algorithm",
        // Any reason: the format is wrong somewhere.
        "ErrReferenceInvalidFormat" => "",
        other => panic!("unknown error {other}"),
    }
}

/// Why this crate does not do what an upstream row expects, for the rows whose expectation
/// depends on what the Go test binary links.
fn deviation(input: &str) -> Option<&'static str> {
    (input == format!("validname@sha512:{}", "f".repeat(128))).then_some(
        "sha512 is unsupported only where crypto/sha512 is not linked; docker's binaries link it \
         and accept sha512 digests, as registries do",
    )
}

#[test]
fn reference_test_parse() {
    let t = tables("reference_test.json");
    for row in rows(&t, "TestReferenceParse") {
        let input = s(row, "input");
        let got = Reference::parse(input);
        if let Some(err) = row["err"].as_str() {
            if let Some(why) = deviation(input) {
                assert!(got.is_ok(), "{input}: {why}");
                continue;
            }
            let e = got.expect_err(input);
            assert!(e.reason().contains(err_fragment(err)), "{input}: {e}");
            continue;
        }
        let r = got.unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.to_string(), input);
        assert_eq!(r.name(), s(row, "repository"), "{input}");
        assert_eq!(r.domain(), s(row, "domain"), "{input}");
        assert_eq!(r.tag().unwrap_or(""), s(row, "tag"), "{input}");
        assert_eq!(r.digest().unwrap_or(""), s(row, "digest"), "{input}");
    }
    for row in rows(&t, "TestSerialization") {
        let got = Reference::parse(s(row, "input"));
        if let Some(err) = row["err"].as_str() {
            assert!(got.unwrap_err().reason().contains(err_fragment(err)));
        } else {
            let r = got.unwrap();
            assert_eq!(r.name(), s(row, "name"));
            assert_eq!(r.tag().unwrap_or(""), s(row, "tag"));
            assert_eq!(r.digest().unwrap_or(""), s(row, "digest"));
            assert_eq!(r.to_string(), s(row, "input"));
        }
    }
}

#[test]
fn reference_test_names_tags_and_digests() {
    let t = tables("reference_test.json");
    for row in rows(&t, "TestWithNameFailure") {
        let input = s(row, "input");
        let e = Reference::with_name(input).expect_err(input);
        assert!(
            e.reason().contains(err_fragment(s(row, "err"))),
            "{input}: {e}"
        );
    }
    for row in rows(&t, "TestDomainAndPath") {
        let r = Reference::with_name(s(row, "input")).unwrap();
        assert_eq!((r.domain(), r.path()), (s(row, "domain"), s(row, "path")));
    }
    for table in ["TestWithTag", "TestWithDigest"] {
        for row in rows(&t, table) {
            let mut r = Reference::with_name(s(row, "name")).unwrap();
            // Each test adds the other part first.
            let (tag, digest) = (s(row, "tag"), s(row, "digest"));
            if table == "TestWithTag" {
                if !digest.is_empty() {
                    r = r.with_digest(digest).unwrap();
                }
                r = r.with_tag(tag).unwrap();
            } else {
                if !tag.is_empty() {
                    r = r.with_tag(tag).unwrap();
                }
                r = r.with_digest(digest).unwrap();
            }
            assert_eq!(r.to_string(), s(row, "combined"));
        }
    }
    for row in rows(&t, "TestParseNamed") {
        let input = s(row, "input");
        // `ParseNamed`: normalised, and already in the normalised form.
        let r = Reference::parse_normalized(input).unwrap();
        if row["err"].as_str() == Some("ErrNameNotCanonical") {
            assert_ne!(r.to_string(), input);
        } else {
            assert_eq!(r.to_string(), input);
            assert_eq!((r.domain(), r.path()), (s(row, "domain"), s(row, "path")));
        }
    }
}

#[test]
fn normalize_test_valid_and_invalid_names() {
    let t = tables("normalize_test.json");
    for (table, valid) in [
        ("TestValidateReferenceName.validRepoNames", true),
        ("TestValidateReferenceName.invalidRepoNames", false),
        ("TestValidateRemoteName.validRepositoryNames", true),
        ("TestValidateRemoteName.invalidRepositoryNames", false),
    ] {
        for name in rows(&t, table) {
            let name = name.as_str().unwrap();
            let docker = Reference::parse_normalized(name);
            let ours = ImageRef::parse(name);
            assert_eq!(docker.is_ok(), valid, "{name}: {docker:?}");
            assert_eq!(ours.is_ok(), valid, "{name}: {ours:?}");
        }
    }
    // The cases of this issue, by name.
    for name in [
        "[2001:db8:3:4::192.0.2.33]:5000/debian",
        "[fe80::1%eth0]:5000/debian",
    ] {
        assert!(ImageRef::parse(name).is_err(), "{name}");
    }
    let r = ImageRef::parse("LOCALDOMAIN/debian").unwrap();
    assert_eq!((r.registry(), r.repository()), ("LOCALDOMAIN", "debian"));
}

#[test]
fn normalize_test_repository_info() {
    let t = tables("normalize_test.json");
    for row in rows(&t, "TestParseRepositoryInfo") {
        for field in ["FamiliarName", "FullName", "AmbiguousName"] {
            let input = s(row, field);
            if input.is_empty() {
                continue;
            }
            let r = Reference::parse_normalized(input).unwrap();
            assert_eq!(r.to_string(), s(row, "FullName"), "{input}");
            assert_eq!(r.domain(), s(row, "Domain"), "{input}");
            assert_eq!(r.path(), s(row, "RemoteName"), "{input}");
            let ours = ImageRef::parse(input).unwrap();
            assert_eq!(ours.familiar_name(), s(row, "FamiliarName"), "{input}");
            assert_eq!(ours.name(), s(row, "FullName"), "{input}");
            assert_eq!(ours.registry(), s(row, "Domain"), "{input}");
            assert_eq!(ours.repository(), s(row, "RemoteName"), "{input}");
            assert_eq!(ours.tag(), Some("latest"), "{input}");
        }
    }
    for row in rows(&t, "TestNormalizedSplitHostname") {
        let input = s(row, "input");
        let r = Reference::parse_normalized(input).unwrap();
        assert_eq!((r.domain(), r.path()), (s(row, "domain"), s(row, "path")));
        let ours = ImageRef::parse(input).unwrap();
        assert_eq!(
            (ours.registry(), ours.repository()),
            (s(row, "domain"), s(row, "path"))
        );
    }
    for row in rows(&t, "TestParseReferenceWithTagAndDigest (hand-transcribed)") {
        let r = ImageRef::parse(s(row, "input")).unwrap();
        assert_eq!(r.to_string(), s(row, "string"));
        assert!(r.tag().is_some() && r.digest().is_some());
        assert_eq!(r.familiar(), s(row, "familiar"));
    }
    for row in rows(&t, "TestInvalidReferenceComponents (hand-transcribed)") {
        let input = s(row, "input");
        match s(row, "call") {
            "ParseNormalizedNamed" => {
                assert!(Reference::parse_normalized(input).is_err());
                assert!(ImageRef::parse(input).is_err());
            }
            "WithTag" => {
                let r = Reference::parse_normalized(input).unwrap();
                assert!(r.with_tag(s(row, "tag")).is_err());
                assert!(
                    ImageRef::parse(input)
                        .unwrap()
                        .with_tag(s(row, "tag"))
                        .is_err()
                );
            }
            "WithDigest" => {
                let r = Reference::parse_normalized(input).unwrap();
                assert!(r.with_digest(s(row, "digest")).is_err());
                assert!(s(row, "digest").parse::<Digest>().is_err());
            }
            other => panic!("{other}"),
        }
    }
}

#[test]
fn normalize_test_any_reference_and_docker_ref() {
    let t = tables("normalize_test.json");
    for row in rows(&t, "TestParseAnyReference") {
        let input = s(row, "Reference");
        let want = s(row, "Equivalent");
        // `ParseAnyReference`: an image ID, a digest, or a name.
        let got = if is_identifier(input) {
            format!("sha256:{input}")
                .parse::<Digest>()
                .unwrap()
                .to_string()
        } else if let Ok(d) = input.parse::<Digest>() {
            d.to_string()
        } else {
            let r = Reference::parse_normalized(input).unwrap();
            assert_eq!(r, Reference::parse(want).unwrap(), "{input}");
            let ours = ImageRef::parse(input).unwrap();
            assert_eq!(ours.name(), Reference::parse(want).unwrap().name());
            r.to_string()
        };
        assert_eq!(got, want, "{input}");
        if row["Expected"].is_object() {
            assert_eq!(row["Expected"]["call"], "digestReference");
            assert_eq!(row["Expected"]["args"][0], want);
        }
    }
    for row in rows(&t, "TestParseDockerRef") {
        let input = s(row, "input");
        // `ParseDockerRef`: a digest wins over a tag; a bare name gets `latest`.
        let ours = ImageRef::parse(input).unwrap();
        let ours = match ours.digest() {
            Some(d) => ours.with_digest(d.clone()),
            None => ours,
        };
        assert_eq!(ours.to_string(), s(row, "expected"), "{}", s(row, "name"));
        assert!(Reference::parse(s(row, "expected")).is_ok());
    }
}

#[test]
fn regexp_test_tables() {
    let t = tables("regexp_test.json");
    for row in rows(&t, "TestDomainRegexp") {
        let input = s(row, "input");
        assert_eq!(is_domain(input), row["match"] == true, "{input}");
    }
    for row in rows(&t, "TestFullNameRegexp") {
        let input = s(row, "input");
        let got = split_name(input);
        assert_eq!(got.is_some(), row["match"] == true, "{input}");
        if let (Some((domain, path)), Some(subs)) = (got, row["subs"].as_array()) {
            assert_eq!([domain, path].as_slice(), subs.as_slice(), "{input}");
        }
    }
    for row in rows(&t, "TestReferenceRegexp") {
        let input = s(row, "input");
        let got = Reference::parse(input);
        assert_eq!(got.is_ok(), row["match"] == true, "{input}: {got:?}");
        if let (Ok(r), Some(subs)) = (got, row["subs"].as_array()) {
            let parts = [
                r.name(),
                r.tag().unwrap_or("").into(),
                r.digest().unwrap_or("").into(),
            ];
            assert_eq!(parts.as_slice(), subs.as_slice(), "{input}");
        }
    }
    for row in rows(&t, "TestIdentifierRegexp") {
        let input = s(row, "input");
        assert_eq!(is_identifier(input), row["match"] == true, "{input}");
    }
}

/// A context with a Dockerfile and the given `.dockerignore`, in a git checkout.
fn context(dockerignore: &str) -> Scratch {
    let sb = Scratch::offline();
    sb.write("app/Dockerfile", "FROM scratch\nCOPY . /\n");
    sb.write("app/.dockerignore", dockerignore);
    sb.write("app/myfile", "x\n");
    sb.write("app/dir/xfile", "x\n");
    let app = sb.path("app");
    git(&app, &["init", "-q"]);
    git(&app, &["add", "-A"]);
    git(&app, &["commit", "-q", "-m", "init"]);
    sb
}

/// Every file under the scratch directory, with its bytes (what must not change).
fn snapshot(sb: &Scratch) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut dirs = vec![sb.path("")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// `.dockerignore` lines docker refuses: build-push fails on them before it writes or sends
/// anything. Each row: the file, the line named, a fragment of the reason.
const BAD_DOCKERIGNORE: &[(&str, usize, &str)] = &[
    ("node_modules\n!\n", 2, "a lone `!`"),
    ("# comment\n\n   !   \n", 3, "a lone `!`"),
    ("!/\n", 1, "a lone `!`"),
    ("[]a]\n", 1, "start with `]`"),
    ("ok\n[-]\n", 2, "`-`"),
    ("[x-]\n", 1, "has no end"),
    ("[a-b-c]\n", 1, "`-`"),
    ("[abc\n", 1, "unterminated `[` class"),
    ("[^\n", 1, "unterminated `[` class"),
    ("a[\n", 1, "unterminated `[` class"),
    ("logs/\\\n", 1, "a trailing `\\` escapes nothing"),
    ("[z-a]\n", 1, "invalid character class range: `z-a`"),
    ("[Local-Only]/\n", 1, "invalid character class range"),
    ("file\\q\n", 1, "invalid escape sequence: `\\q`"),
    ("a\\x4\n", 1, "invalid escape sequence"),
    (
        "[[:nope:]]\n",
        1,
        "invalid character class range: `[:nope:]`",
    ),
    ("\\p{Greek}\n", 1, "Unicode classes are not supported"),
];

#[test]
fn dockerignore_lines_docker_refuses_are_exit_2_naming_the_line() {
    for (text, line, fragment) in BAD_DOCKERIGNORE {
        let sb = context(text);
        let before = snapshot(&sb);
        let out = run(
            BUILD_PUSH,
            &[
                &sb.p("app"),
                "-r",
                "registry.example.com/team/app",
                "--image-detail",
                &sb.p("imageDetail.json"),
                "--print-equivalent",
            ],
            &sb.env,
            None,
        );
        assert_eq!(out.code, 2, "{text:?}\n{}", out.stderr);
        let want = format!(
            "failed to read `{}` line {line}: ",
            sb.p("app/.dockerignore")
        );
        assert!(out.stderr.contains(&want), "{text:?}\n{}", out.stderr);
        assert!(out.stderr.contains(fragment), "{text:?}\n{}", out.stderr);
        assert!(out.stderr.contains("help: "), "{}", out.stderr);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
        assert_eq!(snapshot(&sb), before, "{text:?} changed a file");
    }
}

#[test]
fn dockerignore_lines_docker_accepts_still_build_the_plan() {
    for text in [
        "  #x\n",
        "**file\n",
        "a[^x]b\nfile\\d\n*^b\n",
        "[[:alpha:]]\n",
        "\u{feff}# BOM\n",
    ] {
        let sb = context(text);
        let out = run(
            BUILD_PUSH,
            &[
                &sb.p("app"),
                "-r",
                "registry.example.com/team/app",
                "--print-equivalent",
            ],
            &sb.env,
            None,
        );
        assert_eq!(out.code, 0, "{text:?}\n{}", out.stderr);
        assert!(
            out.stdout.starts_with("DOCKER_BUILDKIT=1 docker build "),
            "{}",
            out.stdout
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// No input panics the parsers, and what `ImageRef` accepts docker accepts too, with the same
    /// registry and path.
    #[test]
    fn references_never_panic_and_agree_with_docker(
        input in prop_oneof![
            "[a-zA-Z0-9._:/@\\[\\]%+-]{0,40}",
            "(([a-z0-9]{1,4}|LOCAL|\\[::1\\])([.:-][a-z0-9_]{1,4}){0,3}/){0,3}[a-z0-9_.-]{1,6}(:[A-Za-z0-9_.-]{1,5})?(@sha256:[0-9a-f]{64})?",
            any::<String>(),
        ]
    ) {
        let docker = Reference::parse_normalized(&input);
        let _ = Reference::parse(&input);
        let _ = split_name(&input);
        let _ = is_domain(&input);
        if let Ok(ours) = ImageRef::parse(&input) {
            let docker = docker.unwrap_or_else(|e| panic!("{input}: ours accepts, docker: {e}"));
            prop_assert_eq!(ours.registry(), docker.domain());
            prop_assert_eq!(ours.repository(), docker.path());
            prop_assert_eq!(ImageRef::parse(&ours.to_string()).unwrap(), ours);
        }
    }
}

#[test]
fn the_registry_docker_assumes() {
    use buildsteps::reference::docker::split_docker_domain;
    for (name, domain, rest) in [
        ("LOCALDOMAIN/debian", "LOCALDOMAIN", "debian"),
        ("localhost/app", "localhost", "app"),
        ("index.docker.io/app", "docker.io", "library/app"),
        ("team/app:1", "docker.io", "team/app:1"),
        ("nginx", "docker.io", "library/nginx"),
        ("registry:5000/app", "registry:5000", "app"),
    ] {
        assert_eq!(
            split_docker_domain(name),
            (domain, rest.to_string()),
            "{name}"
        );
    }
}
