//! The fake clamd (crate `fake-clamd`) as an oracle [`Launcher`]: started in-process on an
//! ephemeral port from the same generated clamd.conf the real clamd gets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clamd_oracle::{Launcher, OracleEnv, Profile, RunningServer, Target};

static SEQ: AtomicUsize = AtomicUsize::new(0);

pub struct FakeLauncher {
    pub rt: tokio::runtime::Runtime,
}

impl Default for FakeLauncher {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeLauncher {
    pub fn new() -> FakeLauncher {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        FakeLauncher { rt }
    }
}

struct FakeServer {
    fake: fake_clamd::FakeClamd,
    startup: Duration,
}

impl RunningServer for FakeServer {
    fn target(&self) -> Target {
        Target {
            tcp: self.fake.addr().expect("fake has a TCP listener"),
            unix: self.fake.socket_path().map(|p| p.to_path_buf()),
        }
    }
    fn startup(&self) -> Option<Duration> {
        Some(self.startup)
    }
}

impl Launcher for FakeLauncher {
    fn start(
        &self,
        env: &OracleEnv,
        profile_name: &str,
        profile: &Profile,
    ) -> Result<Box<dyn RunningServer>, clamd_oracle::Error> {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let unix = env.sock_dir.join(format!("fake-{profile_name}-{n}.sock"));
        // Same clamd.conf as the real clamd gets (including `User clamav` when running as
        // root: the in-process fake cannot drop privileges, so it has to emulate that user's
        // access rights to match CLAMD-SCAN-12); TCPSocket replaced by an ephemeral port.
        let conf = env.conf_text(profile, 3310, &unix, true);
        let t0 = Instant::now();
        let fake = self
            .rt
            .block_on(async {
                fake_clamd::FakeClamd::builder()
                    .conf_text(&conf, "oracle.conf")?
                    .tcp_port(0)
                    .start()
                    .await
            })
            .map_err(|e| clamd_oracle::Error::Clamd(format!("fake-clamd: {e}")))?;
        Ok(Box::new(FakeServer {
            fake,
            startup: t0.elapsed(),
        }))
    }
}

/// Whether the real clamd is installed. When it is not, prints a visible SKIP line and
/// returns false, unless `AVC_REQUIRE_CLAMD=1` (CI), where its absence fails the test.
#[allow(dead_code)] // not every test file of this crate needs the real clamd
pub fn real_clamd_or_skip() -> bool {
    use clamd_oracle::RealClamd;
    if RealClamd::available() {
        return true;
    }
    assert!(
        std::env::var("AVC_REQUIRE_CLAMD").as_deref() != Ok("1"),
        "AVC_REQUIRE_CLAMD=1 but {} is missing",
        RealClamd::bin().display()
    );
    println!(
        "SKIP: real clamd not installed at {}",
        RealClamd::bin().display()
    );
    false
}

/// The real clamd and the fake, started from the same clamd.conf lines and DB of `env`
/// (kept running while this lives): what a differential test sends the same bytes to.
#[allow(dead_code)] // not every test file of this crate compares the two
pub struct Pair {
    pub real: Target,
    pub fake: Target,
    _real: Box<dyn RunningServer>,
    _fake: Box<dyn RunningServer>,
    _launcher: FakeLauncher,
}

#[allow(dead_code)]
impl Pair {
    /// Both servers with `conf` added to the generated clamd.conf (`name`: the config's name).
    pub fn start(env: &OracleEnv, name: &str, conf: &[String]) -> Pair {
        use clamd_oracle::RealLauncher;
        let profile = Profile {
            conf: conf.to_vec(),
            fresh_per_case: false,
        };
        let real = RealLauncher
            .start(env, name, &profile)
            .expect("real clamd starts");
        let launcher = FakeLauncher::new();
        let fake = launcher.start(env, name, &profile).expect("fake starts");
        Pair {
            real: real.target(),
            fake: fake.target(),
            _real: real,
            _fake: fake,
            _launcher: launcher,
        }
    }
}

/// Writes `inputs` as files of a new directory `sub` under the corpus directory (readable by
/// the `User` the real clamd drops to: a private temp dir makes every path command an access
/// error on both sides). Each name with its path and bytes.
#[allow(dead_code)]
pub fn write_inputs(
    env: &OracleEnv,
    sub: &str,
    inputs: Vec<(&'static str, Vec<u8>)>,
) -> Vec<(&'static str, std::path::PathBuf, Vec<u8>)> {
    let dir = env.corpus_dir.join(sub);
    std::fs::create_dir(&dir).expect("input dir");
    inputs
        .into_iter()
        .map(|(name, data)| {
            let path = dir.join(name);
            std::fs::write(&path, &data).expect("write input");
            (name, path, data)
        })
        .collect()
}

/// Fails listing `differ` (one entry per input where the fake's reply is not clamd's).
#[allow(dead_code)]
pub fn assert_no_differences(differ: &[String]) {
    assert!(
        differ.is_empty(),
        "the fake differs from clamd:\n{}",
        differ.join("\n")
    );
}
