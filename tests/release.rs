//! What `bin/release` leaves in `dist/` (bin/test runs it before the tests): binaries that run on
//! glibc 2.17 (Amazon Linux 2, every CodeBuild standard image), with completions and man pages.

#![allow(clippy::unwrap_used)]

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BINS: [&str; 6] = [
    "ecr-login",
    "build-push",
    "tag-commit",
    "render-taskdef",
    "scan-gate",
    "run-buildspec",
];

fn dist(path: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(ROOT).join("dist").join(path);
    assert!(
        p.exists(),
        "{} is missing: run bin/release (bin/test does)",
        p.display()
    );
    p
}

#[test]
fn release_binaries_need_at_most_glibc_2_17_and_run() {
    let bins: Vec<String> = BINS
        .iter()
        .map(|b| dist(&format!("bin/{b}")).display().to_string())
        .collect();
    let check = std::process::Command::new(format!("{ROOT}/bin/check-glibc"))
        .arg("2.17")
        .args(&bins)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert_eq!(
        report
            .lines()
            .filter(|l| l.contains("(ok; floor 2.17)"))
            .count(),
        BINS.len(),
        "{report}"
    );
    for bin in &bins {
        let out = std::process::Command::new(bin)
            .arg("--version")
            .output()
            .unwrap();
        assert!(out.status.success(), "{bin} --version");
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with(bin.rsplit('/').next().unwrap()),
            "{bin}"
        );
    }
    // The check can fail: a host build links against this machine's newer glibc.
    let host = std::process::Command::new(format!("{ROOT}/bin/check-glibc"))
        .arg("2.0")
        .arg(&bins[0])
        .output()
        .unwrap();
    assert!(
        !host.status.success(),
        "a floor below what the binary needs is reported"
    );
}

#[test]
fn completions_and_man_pages_for_every_binary() {
    for b in BINS {
        let page = std::fs::read_to_string(dist(&format!("man/man1/{b}.1"))).unwrap();
        assert!(page.contains(".TH") && page.contains(b), "{b}.1");
        for f in [b.to_string(), format!("_{b}"), format!("{b}.fish")] {
            let file = if f == b {
                format!("completions/{b}.bash")
            } else {
                format!("completions/{f}")
            };
            let text = std::fs::read_to_string(dist(&file)).unwrap();
            assert!(
                text.contains("--help") || text.contains("-l help") || text.contains("help"),
                "{file}"
            );
        }
    }
}
