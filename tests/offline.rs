//! The repository stands on its own: a clone with nothing beside it has every file its tests,
//! benchmarks and scripts read.

use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn no_tracked_file_reads_outside_the_repository() {
    let out = Command::new("git")
        .args(["-C", ROOT, "ls-files", "-z"])
        .output()
        .expect("git runs (the tests run from a git checkout)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect();
    assert!(
        files.iter().any(|f| f == "tests/fixtures/SOURCES.md"),
        "the fixtures and their provenance are tracked"
    );
    // A sibling directory of the checkout that some tests once read their fixtures from.
    let outside = ["..", "shared"].join("/");
    let mut offenders = Vec::new();
    for file in &files {
        let Ok(bytes) = std::fs::read(format!("{ROOT}/{file}")) else {
            continue; // deleted in the work tree
        };
        if String::from_utf8_lossy(&bytes).contains(&outside) {
            offenders.push(file.clone());
        }
    }
    assert!(
        offenders.is_empty(),
        "these tracked files mention {outside}, which a clone does not have: {offenders:?}"
    );
}
