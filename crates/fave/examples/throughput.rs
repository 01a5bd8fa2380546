//! Throughput of a stream through the in-process fake clamd (IDSESSION + INSTREAM via the
//! `fave` client) compared with a raw loopback TCP copy of the same size, in the same run.
//!
//! `cargo run --release -p fave --example throughput -- [MiB] [chunk-KiB]` (default 1024 MiB, 64 KiB)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use fave::{Address, Client, ClientConfig, Protocol, Verdict};

fn raw_copy(total: u64, buf: &[u8]) -> Duration {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let rx = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut b = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        loop {
            match s.read(&mut b) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k as u64,
            }
        }
        n
    });
    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr).expect("connect");
    let _ = s.set_nodelay(true);
    let mut sent = 0u64;
    while sent < total {
        let k = (total - sent).min(buf.len() as u64) as usize;
        s.write_all(&buf[..k]).expect("write");
        sent += k as u64;
    }
    drop(s);
    let got = rx.join().expect("join");
    assert_eq!(got, total);
    t0.elapsed()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mib: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1024);
    let chunk_kib: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(64);
    let total = mib << 20;
    let chunk = chunk_kib << 10;
    // clean, non-trivial data (no signature hits)
    let buf: Vec<u8> = (0..chunk)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();

    let raw = raw_copy(total, &buf);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let fake = rt
        .block_on(
            fake_clamd::FakeClamd::builder()
                .stream_max_length(u64::MAX / 2)
                .record(false)
                .start(),
        )
        .expect("fake clamd");
    let a = fake.addr().expect("tcp");
    let mut cfg = ClientConfig::new(
        Protocol::Clamd,
        Address::Tcp {
            host: a.ip().to_string(),
            port: a.port(),
        },
    );
    cfg.chunk_size = chunk;
    cfg.timeouts.scan = Duration::from_secs(3600);
    let mut client = Client::new(cfg).expect("client");
    let t0 = Instant::now();
    let mut scan = client.open("throughput");
    let mut sent = 0u64;
    while sent < total {
        let k = (total - sent).min(buf.len() as u64) as usize;
        scan.write(&buf[..k]).expect("write");
        sent += k as u64;
    }
    let report = scan.close();
    let fave_t = t0.elapsed();
    assert_eq!(report.verdict, Verdict::Clean, "{:?}", report.verdict);
    client.close();
    drop(fake);

    let mbps = |d: Duration| total as f64 / d.as_secs_f64() / 1e6;
    println!("bytes={total} chunk={chunk}");
    println!(
        "raw loopback copy : {:>8.3} s {:>9.1} MB/s",
        raw.as_secs_f64(),
        mbps(raw)
    );
    println!(
        "fave -> fake clamd: {:>8.3} s {:>9.1} MB/s (chunks={} round_trips={})",
        fave_t.as_secs_f64(),
        mbps(fave_t),
        report.stats.chunks,
        report.stats.round_trips
    );
    println!(
        "ratio fake/raw    : {:.2}x slower",
        fave_t.as_secs_f64() / raw.as_secs_f64()
    );
}
