//! The committed case table and transcripts are consistent (no stale or missing recordings),
//! and the generated clamd.conf behaves as the recorder needs.

use clamd_oracle::{CaseFile, OracleEnv, Profile, TranscriptFile};

#[test]
fn clamd_oracle_every_case_has_a_current_transcript() {
    let file = CaseFile::load(&clamd_oracle::default_cases_path()).expect("cases.toml parses");
    let rec = TranscriptFile::load(&clamd_oracle::default_transcripts_path()).expect("transcripts");
    assert!(
        file.cases.len() >= 300,
        "case table too small: {}",
        file.cases.len()
    );
    let mut stale = Vec::new();
    for case in &file.cases {
        assert!(
            case.rules.iter().any(|r| r.starts_with("CLAMD-")),
            "case {} cites no CLAMD-* rule",
            case.name
        );
        match rec.get(&case.name) {
            Some(t) if t.digest == case.digest() => {}
            _ => stale.push(case.name.clone()),
        }
    }
    assert!(
        stale.is_empty(),
        "re-run `cargo xtask oracle record`: missing/stale {stale:?}"
    );
    assert_eq!(
        rec.transcripts.len(),
        file.cases.len(),
        "transcripts for removed cases"
    );
    let mut names: Vec<&str> = rec.transcripts.iter().map(|t| t.name.as_str()).collect();
    let sorted = names.clone();
    names.sort();
    assert_eq!(names, sorted, "transcripts.json must be sorted by name");
}

#[test]
fn clamd_oracle_transcripts_never_hold_plain_eicar() {
    let text = std::fs::read(clamd_oracle::default_transcripts_path()).expect("transcripts");
    let eicar = clamd_oracle::env::eicar();
    assert_eq!(eicar.len(), 68);
    assert!(
        !text.windows(20).any(|w| w == &eicar[..20]),
        "EICAR text in transcripts.json"
    );
}

#[test]
fn clamd_conf_profile_lines_replace_base_lines() {
    // clamd 1.4.6 keeps the FIRST value of a repeated option (observed: base
    // `CommandReadTimeout 10` followed by `CommandReadTimeout 1` never timed out in 5 s), so the
    // generator must drop the base line.
    let env = OracleEnv::create().expect("env");
    let p = Profile {
        conf: vec!["CommandReadTimeout 1".into()],
        fresh_per_case: false,
    };
    let conf = env.conf_text(&p, 1234, &env.sock_dir.join("x.sock"), false);
    let crt: Vec<&str> = conf
        .lines()
        .filter(|l| l.starts_with("CommandReadTimeout"))
        .collect();
    assert_eq!(crt, ["CommandReadTimeout 1"]);
    assert!(conf.contains("TCPSocket 1234\n") && conf.contains("Foreground yes\n"));
    assert!(!conf.contains("User "), "user=false must not emit User");
}
