//! The bench command works end to end on tiny sizes (issue 9): every measurement runs and the
//! table is written. Figures are not asserted here (benchmarks never run as timed tests).

use assert_cmd::Command;

#[test]
fn quick_in_process_run_writes_the_table() {
    let out = tempfile::tempdir().unwrap();
    let assert = Command::cargo_bin("avc-bench")
        .unwrap()
        .args(["--quick", "--in-process", "--skip-real", "--out"])
        .arg(out.path())
        .timeout(std::time::Duration::from_secs(240))
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("| metric |"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("bench.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    for metric in [
        "startup to first PONG",
        "INSTREAM",
        "PING pipelined",
        "idle connections",
        "SCAN/REQUEST",
        "signature DB load",
    ] {
        let row = rows
            .iter()
            .find(|r| r["metric"].as_str().unwrap().contains(metric))
            .unwrap_or_else(|| panic!("no row for {metric}: {stdout}"));
        assert!(row["fake"].as_f64().unwrap() > 0.0, "{metric}: {row}");
    }
    assert!(out.path().join("bench.md").is_file());
}
