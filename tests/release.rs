//! What `bin/release` leaves in `dist/` (bin/test runs it before the tests): binaries that run on
//! glibc 2.17 (Amazon Linux 2, every CodeBuild standard image), with completions and man pages.

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
use buildsteps::steps::BINARIES as BINS;

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
    for (b, command) in BINS.into_iter().zip(buildsteps::steps::commands()) {
        // Every long flag of the binary's top level, as each format spells it.
        let flags: Vec<String> = command
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_string))
            .collect();
        assert!(flags.len() > 2, "{b} has flags beyond --help/--version");
        let read = |file: &str| std::fs::read_to_string(dist(file)).unwrap();

        let page = read(&format!("man/man1/{b}.1"));
        assert!(
            page.contains(&format!(".TH {b} 1")),
            "{b}.1 is a section-1 page named {b}"
        );
        let bash = read(&format!("completions/{b}.bash"));
        assert!(
            bash.lines()
                .any(|l| l.trim_start().starts_with("complete -F") && l.trim_end().ends_with(b)),
            "{b}.bash registers a completion for {b}"
        );
        let zsh = read(&format!("completions/_{b}"));
        assert!(zsh.starts_with(&format!("#compdef {b}\n")), "_{b}");
        let fish = read(&format!("completions/{b}.fish"));
        for flag in &flags {
            let man = format!("\\-\\-{}", flag.replace('-', "\\-"));
            assert!(page.contains(&man), "{b}.1 documents --{flag}");
            assert!(
                bash.contains(&format!("--{flag}")),
                "{b}.bash completes --{flag}"
            );
            assert!(
                zsh.contains(&format!("'--{flag}[")) || zsh.contains(&format!("--{flag}=[")),
                "_{b} completes --{flag}"
            );
            assert!(
                fish.contains(&format!("complete -c {b} ")) && fish.contains(&format!("-l {flag}")),
                "{b}.fish completes --{flag}"
            );
        }
    }
}
