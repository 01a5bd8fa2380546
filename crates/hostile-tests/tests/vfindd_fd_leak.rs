//! File-descriptor leak check for fake vfindd data channels (own test binary: the fd
//! count of the process must not be disturbed by other tests running in parallel).

mod common;

use std::time::{Duration, Instant};

use common::Ctl;
use fake_vfindd::FakeVfindd;
use tokio::io::AsyncWriteExt;
use tokio::time::sleep;

async fn server() -> FakeVfindd {
    FakeVfindd::builder()
        .data_timeout(Duration::from_millis(300))
        .start()
        .await
        .expect("start fake vfindd")
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// SVSP-ERR-EAGAIN-1 / SVSP-SCAN-REQUEST-2: 40 REQUESTs whose data channels never
/// connect, pipelined on one connection: at most --max-queue (32) become requests, the
/// rest get `EAGAIN Server busy`; every request ends in ENOENT after --data-timeout, and
/// no data listener (file descriptor) is leaked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_err_eagain_1_pipelined_requests_never_connected_no_leak() {
    let srv = server().await;
    let mut c = Ctl::connect(srv.addr()).await;
    let fds_before = open_fds();
    let mut cmds = Vec::new();
    for i in 1..=40 {
        cmds.extend_from_slice(format!("{i} SCAN/REQUEST r{i}\r\n").as_bytes());
    }
    c.s.write_all(&cmds).await.expect("send");
    let mut terminal = std::collections::BTreeMap::new();
    let t = Instant::now();
    while terminal.len() < 40 && t.elapsed() < Duration::from_secs(10) {
        let Some(l) = c.line().await else { break };
        let l = String::from_utf8_lossy(&l).into_owned();
        let (id, rest) = l.split_once(' ').unwrap_or(("", ""));
        if rest.starts_with("ENOENT No connection to port ") || rest == "EAGAIN Server busy" {
            let id: u32 = id.parse().expect("numeric id");
            assert!(
                terminal.insert(id, rest.to_string()).is_none(),
                "two terminal lines for {id}"
            );
        }
    }
    assert_eq!(terminal.len(), 40, "{terminal:?}");
    let busy = terminal
        .values()
        .filter(|v| v.starts_with("EAGAIN"))
        .count();
    assert!(
        busy >= 8,
        "{busy} EAGAIN with 40 requests and --max-queue 32"
    );
    // the data listeners are closed again
    sleep(Duration::from_millis(200)).await;
    let fds_after = open_fds();
    assert!(
        fds_after <= fds_before + 2,
        "fds before {fds_before}, after {fds_after}"
    );
}
