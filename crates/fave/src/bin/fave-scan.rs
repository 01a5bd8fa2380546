//! `fave-scan`: scan files (or stdin) through clamd or an SVSP daemon, the way a FAVE provider
//! does. Exit codes as clamdscan: 0 all clean, 1 something infected, 2 any error (errors win).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use fave::config::{parse_seconds, DEFAULT_CLAMD_PORT, DEFAULT_SVSP_PORT};
use fave::{
    Address, Client, ClientConfig, FaveError, Framing, Protocol, Report, SvspSource, TraceEvent,
    Verdict,
};

#[derive(Parser, Debug)]
#[command(
    name = "fave-scan",
    version,
    about = "Scan files through clamd (IDSESSION + INSTREAM) or SVSP, failing closed",
    after_help = "Addresses: host:port, [v6addr]:port, unix:/path or /path (clamd only).\n\
Without --clamd/--svsp the clamd address comes from FL_FAVE_PARAMETER=host:port[:timeout], else\n\
FL_CLAMAV_CONNECTION=host:port, else clamav.daemon:3310 (FLAM's default). Flags override the environment.\n\
Exit status: 0 all clean, 1 at least one infected (and no error), 2 any error."
)]
struct Cli {
    /// clamd address.
    #[arg(long, value_name = "ADDR", conflicts_with = "svsp")]
    clamd: Option<String>,
    /// SVSP (vfindd) address.
    #[arg(long, value_name = "ADDR")]
    svsp: Option<String>,
    /// Bytes per INSTREAM chunk / data-channel write.
    #[arg(long, value_name = "N", default_value_t = fave::config::DEFAULT_CHUNK_SIZE)]
    chunk_size: usize,
    /// Timeout in seconds for connect and for each read/write.
    #[arg(long, value_name = "S")]
    timeout: Option<String>,
    /// Timeout in seconds for one whole scan.
    #[arg(long, value_name = "S")]
    scan_timeout: Option<String>,
    /// The daemon's StreamMaxLength in bytes: larger inputs are refused locally (too-large error).
    #[arg(long, value_name = "BYTES")]
    stream_max_length: Option<u64>,
    /// SVSP FILE/FILE-SHA1: send a request refused with `EAGAIN Server busy` again up to N
    /// times (back-off 50 ms, doubling, within the scan timeout).
    #[arg(long, value_name = "N", default_value_t = fave::config::DEFAULT_BUSY_RETRIES)]
    busy_retries: u32,
    /// SVSP data source.
    #[arg(long, value_enum, default_value_t = SourceArg::Request)]
    svsp_source: SourceArg,
    /// clamd command framing.
    #[arg(long, value_enum, default_value_t = FramingArg::Z)]
    framing: FramingArg,
    /// One JSON object per file on stdout.
    #[arg(long)]
    json: bool,
    /// Statistics per file and totals (stderr; inside the JSON object with --json).
    #[arg(long)]
    stats: bool,
    /// Print the wire exchange on stderr.
    #[arg(long)]
    trace: bool,
    /// clamd: send all FILEs in one session without waiting for each verdict, then END, and
    /// match the replies by number (`-` is not allowed with this flag).
    #[arg(long)]
    pipeline: bool,
    /// Files to scan; `-` is standard input.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SourceArg {
    File,
    FileSha1,
    Request,
    Port,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FramingArg {
    Z,
    N,
}

fn config(cli: &Cli) -> Result<ClientConfig, FaveError> {
    let mut cfg = if let Some(a) = &cli.svsp {
        ClientConfig::new(Protocol::Svsp, Address::parse(a, DEFAULT_SVSP_PORT)?)
    } else if let Some(a) = &cli.clamd {
        ClientConfig::new(Protocol::Clamd, Address::parse(a, DEFAULT_CLAMD_PORT)?)
    } else {
        ClientConfig::from_env()?
    };
    if let Some(t) = &cli.timeout {
        let d = parse_seconds(t).map_err(|e| FaveError::Config(format!("--timeout {t}: {e}")))?;
        cfg.timeouts.connect = d;
        cfg.timeouts.io = d;
    }
    if let Some(t) = &cli.scan_timeout {
        cfg.timeouts.scan =
            parse_seconds(t).map_err(|e| FaveError::Config(format!("--scan-timeout {t}: {e}")))?;
    }
    cfg.chunk_size = cli.chunk_size;
    cfg.busy_retries = cli.busy_retries;
    cfg.stream_max_length = cli.stream_max_length;
    cfg.svsp_source = match cli.svsp_source {
        SourceArg::File => SvspSource::File,
        SourceArg::FileSha1 => SvspSource::FileSha1,
        SourceArg::Request => SvspSource::Request,
        SourceArg::Port => SvspSource::Port,
    };
    cfg.framing = match cli.framing {
        FramingArg::Z => Framing::Z,
        FramingArg::N => Framing::N,
    };
    Ok(cfg)
}

fn result_line(name: &str, v: &Verdict) -> String {
    match v {
        Verdict::Clean => format!("{name}: OK"),
        Verdict::Infected(n) => format!("{name}: {} FOUND", n.join(", ")),
        Verdict::Error(e) => format!("{name}: {e} ERROR"),
    }
}

fn json_line(name: &str, r: &Report, stats: bool) -> String {
    let mut o = serde_json::json!({
        "file": name,
        "verdict": r.verdict.label(),
        "names": match &r.verdict { Verdict::Infected(n) => n.clone(), _ => vec![] },
        "error": r.verdict.error().map(|e| e.to_string()),
        "error_kind": r.verdict.error().map(|e| e.kind()),
    });
    if let Some(s) = &r.sha1 {
        o["sha1"] = serde_json::json!(s);
    }
    if stats {
        o["stats"] = serde_json::to_value(r.stats).unwrap_or_default();
    }
    o.to_string()
}

fn stats_line(name: &str, r: &Report) -> String {
    let s = &r.stats;
    format!(
        "{name}: bytes={} chunks={} round_trips={} connections={} wire_sent={} wire_received={} time={:.6}s",
        s.bytes,
        s.chunks,
        s.round_trips,
        s.connections,
        s.wire.bytes_sent,
        s.wire.bytes_received,
        s.elapsed.as_secs_f64()
    )
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cfg = match config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fave-scan: {e}");
            return ExitCode::from(2);
        }
    };
    let mut client = match Client::new(cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fave-scan: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.trace {
        client = client.with_trace(Arc::new(|ev: &TraceEvent| eprintln!("{ev}")));
    }
    let (mut infected, mut errors) = (0u64, 0u64);
    let (mut tot_bytes, mut tot_time) = (0u64, Duration::ZERO);
    let stdout = std::io::stdout();
    let reports: Vec<(String, Report)> = if cli.pipeline {
        if cli.files.iter().any(|f| f.as_os_str() == "-") {
            eprintln!("fave-scan: --pipeline cannot be used with `-` (stdin)");
            return ExitCode::from(2);
        }
        let names = cli.files.iter().map(|f| f.display().to_string());
        names.zip(client.scan_files_pipelined(&cli.files)).collect()
    } else {
        Vec::new()
    };
    let mut pipelined = reports.into_iter();
    for f in &cli.files {
        let (name, report) = if let Some(r) = pipelined.next() {
            r
        } else if f.as_os_str() == "-" {
            ("stdin".to_string(), client.scan_stdin())
        } else {
            (f.display().to_string(), client.scan_file(f))
        };
        match &report.verdict {
            Verdict::Clean => {}
            Verdict::Infected(_) => infected += 1,
            Verdict::Error(_) => errors += 1,
        }
        tot_bytes += report.stats.bytes;
        tot_time += report.stats.elapsed;
        let line = if cli.json {
            json_line(&name, &report, cli.stats)
        } else {
            result_line(&name, &report.verdict)
        };
        let mut out = stdout.lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        if cli.stats && !cli.json {
            eprintln!("{}", stats_line(&name, &report));
        }
    }
    client.close();
    if cli.stats && !cli.json {
        let mbps = if tot_time.as_secs_f64() > 0.0 {
            tot_bytes as f64 / tot_time.as_secs_f64() / 1e6
        } else {
            0.0
        };
        eprintln!(
            "total: files={} infected={infected} errors={errors} bytes={tot_bytes} time={:.6}s throughput={mbps:.1}MB/s",
            cli.files.len(),
            tot_time.as_secs_f64()
        );
    }
    ExitCode::from(if errors > 0 {
        2
    } else if infected > 0 {
        1
    } else {
        0
    })
}
