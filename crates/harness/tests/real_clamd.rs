//! The clamd server suite against the real clamd 1.4 (the oracle): every case must pass, so
//! the suite's expectations are the real daemon's behaviour. Started through clamd-oracle's
//! `RealClamd` with its generated config (StreamMaxLength 1M, tiny signature DB).

use harness::judge::Status;
use harness::profile::Protocol;
use harness::server::{load, run_case, Target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_server_suite_passes_against_real_clamd() {
    if !clamd_oracle::RealClamd::available() {
        assert!(
            std::env::var("AVC_REQUIRE_CLAMD").as_deref() != Ok("1"),
            "AVC_REQUIRE_CLAMD=1 but clamd is not installed"
        );
        println!("SKIP: real clamd not installed");
        return;
    }
    let env = clamd_oracle::OracleEnv::create().expect("oracle env");
    let profile = clamd_oracle::Profile {
        conf: vec![],
        fresh_per_case: false,
    };
    let clamd = tokio::task::spawn_blocking(move || {
        let c = clamd_oracle::RealClamd::start(&env, "harness", &profile);
        (c, env)
    })
    .await
    .unwrap();
    let (clamd, _env) = (clamd.0.expect("start real clamd"), clamd.1);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cases = load(&root.join("conformance/cases/server"), Protocol::Clamd).unwrap();
    assert!(cases.len() >= 15);
    let target = Target::Tcp(clamd.target().tcp.to_string());
    for c in &cases {
        let r = run_case(c, &target, "server:real-clamd").await;
        assert_eq!(
            r.status,
            Status::Pass,
            "{}: {:?} {}",
            r.id,
            r.failures,
            r.detail
        );
    }
}
