//! Plan parsing (TOML, JSON, shorthand) and the trigger/fault semantics of `FaultSet`.

use std::time::Duration;

use faults::{
    Action, DelayAt, Event, Fault, FaultPlan, FaultSet, ForcedReply, LimitMode, Rule, SplitAt,
    Trigger,
};
use nix::sys::stat::Mode;

const SCENARIO: &str = r#"
seed = 42

[[rule]]
name = "reset-third-chunk"
when = { command = "INSTREAM", chunk = 3 }
fault = { kind = "reset" }
times = 1

[[rule]]
when = { connection = 2 }
fault = { kind = "infected", name = "Fake.Forced-1" }

[[rule]]
when = { probability = 0.5 }
fault = { kind = "delay", ms = 20, at = "bytes" }

[[rule]]
fault = { kind = "split-reply", at = "random", ms = 1 }

[[rule]]
when = { request = 2, bytes = 100 }
fault = { kind = "stream-limit", mode = "reply-drain" }
"#;

#[test]
fn toml_scenario_parses_every_field() {
    let p = FaultPlan::from_toml(SCENARIO).unwrap();
    assert_eq!(p.seed, Some(42));
    assert_eq!(p.rules.len(), 5);
    assert_eq!(p.rules[0].name.as_deref(), Some("reset-third-chunk"));
    assert_eq!(p.rules[0].when.chunk, Some(3));
    assert_eq!(p.rules[0].fault, Fault::Reset);
    assert_eq!(p.rules[0].times, Some(1));
    assert_eq!(
        p.rules[1].fault,
        Fault::Infected {
            name: "Fake.Forced-1".into()
        }
    );
    assert_eq!(
        p.rules[2].fault,
        Fault::Delay {
            ms: 20,
            at: DelayAt::Bytes
        }
    );
    assert_eq!(
        p.rules[3].fault,
        Fault::SplitReply {
            at: SplitAt::Random,
            ms: 1
        }
    );
    assert_eq!(p.rules[3].when, Trigger::always());
    assert_eq!(
        p.rules[4].fault,
        Fault::StreamLimit {
            mode: LimitMode::ReplyDrain
        }
    );
    // round trips through TOML and JSON
    assert_eq!(FaultPlan::from_toml(&p.to_toml()).unwrap(), p);
    assert_eq!(FaultPlan::from_json(p.to_json().as_bytes()).unwrap(), p);
}

#[test]
fn every_fault_kind_parses_from_toml() {
    let kinds = [
        r#"{ kind = "delay", ms = 5 }"#,
        r#"{ kind = "slow-read", bytes = 2, ms = 3 }"#,
        r#"{ kind = "split-reply" }"#,
        r#"{ kind = "drop", after_bytes = 10 }"#,
        r#"{ kind = "reset" }"#,
        r#"{ kind = "never-reply" }"#,
        r#"{ kind = "stop-reading", after_bytes = 10, hold_ms = 500 }"#,
        r#"{ kind = "refuse" }"#,
        r#"{ kind = "garbage", text = "xx" }"#,
        r#"{ kind = "truncate", keep = 3 }"#,
        r#"{ kind = "truncate", through = ": OK" }"#,
        r#"{ kind = "infected", name = "N" }"#,
        r#"{ kind = "clean" }"#,
        r#"{ kind = "error", text = "boom" }"#,
        r#"{ kind = "errno", name = "EACCES" }"#,
        r#"{ kind = "timeout" }"#,
        r#"{ kind = "stream-limit" }"#,
        r#"{ kind = "eagain" }"#,
        r#"{ kind = "efault" }"#,
        r#"{ kind = "denied" }"#,
    ];
    for k in kinds {
        let p = FaultPlan::from_toml(&format!("[[rule]]\nfault = {k}\n"))
            .unwrap_or_else(|e| panic!("{k}: {e}"));
        let kind = k.split('"').nth(1).unwrap();
        assert_eq!(p.rules[0].fault.kind(), kind);
    }
}

#[test]
fn bad_plans_are_rejected_with_a_message() {
    for (text, want) in [
        ("[[rule]]\nfault = { kind = \"nope\" }\n", "unknown variant"),
        (
            "[[rule]]\nfault = { kind = \"reset\", x = 1 }\n",
            "unknown field",
        ),
        (
            "[[rule]]\nwhen = { probability = 1.5 }\nfault = { kind = \"reset\" }\n",
            "probability",
        ),
        (
            "[[rule]]\nwhen = { chunk = 0 }\nfault = { kind = \"reset\" }\n",
            "count from 1",
        ),
        (
            "[[rule]]\nfault = { kind = \"reset\" }\ntimes = 0\n",
            "times",
        ),
        (
            "[[rule]]\nwhen = { colour = 1 }\nfault = { kind = \"reset\" }\n",
            "unknown field",
        ),
    ] {
        let e = FaultPlan::from_toml(text).unwrap_err().to_string();
        assert!(e.contains(want), "{text:?}: {e}");
    }
    assert!(FaultPlan::from_json(b"{\"rules\": 3}").is_err());
}

#[test]
fn shorthand_parses_kinds_and_conditions() {
    let p = FaultPlan::from_shorthand(
        "reset@command=INSTREAM,chunk=2,times=1; delay:200@conn=3; slow-read:4/10; infected:X@p=0.25,seed=9",
    )
    .unwrap();
    assert_eq!(p.seed, Some(9));
    assert_eq!(p.rules.len(), 4);
    assert_eq!(p.rules[0].when.command.as_deref(), Some("INSTREAM"));
    assert_eq!(p.rules[0].times, Some(1));
    assert_eq!(p.rules[1].when.connection, Some(3));
    assert_eq!(p.rules[2].fault, Fault::SlowRead { bytes: 4, ms: 10 });
    assert_eq!(p.rules[3].when.probability, Some(0.25));
    assert!(FaultPlan::from_shorthand("explode").is_err());
    assert!(FaultPlan::from_shorthand("reset@when=later").is_err());
}

fn cmd(name: &str) -> Event<'_> {
    Event::Command {
        name,
        request: None,
        scan: name == "INSTREAM",
    }
}

#[test]
fn trigger_always_fires_at_first_possible_point() {
    let set = FaultSet::new(FaultPlan::new().with(Trigger::always(), Fault::Reset));
    let c = set.connect();
    assert_eq!(c.event(Event::Connect), None, "reset waits for a command");
    assert_eq!(c.event(cmd("PING")), Some(Action::Reset));
    let refuse = FaultSet::new(FaultPlan::new().with(Trigger::always(), Fault::Refuse));
    assert_eq!(refuse.connect().event(Event::Connect), Some(Action::Refuse));
}

#[test]
fn trigger_nth_connection() {
    let set = FaultSet::new(FaultPlan::new().with(Trigger::connection(2), Fault::Refuse));
    let got: Vec<_> = (0..3)
        .map(|_| set.connect().event(Event::Connect))
        .collect();
    assert_eq!(got, vec![None, Some(Action::Refuse), None]);
    // a new plan counts connections from the next one
    set.replace(FaultPlan::new().with(Trigger::connection(1), Fault::Refuse));
    assert_eq!(set.connect().event(Event::Connect), Some(Action::Refuse));
}

#[test]
fn trigger_command_chunk_bytes_request() {
    let set = FaultSet::new(
        FaultPlan::new()
            .rule(Rule::new(
                Trigger {
                    command: Some("instream".into()),
                    chunk: Some(2),
                    ..Trigger::default()
                },
                Fault::Drop { after_bytes: None },
            ))
            .rule(Rule::new(Trigger::request(3), Fault::Timeout))
            .rule(Rule::new(
                Trigger::bytes(50),
                Fault::Errno {
                    name: "EIO".into(),
                    text: None,
                },
            )),
    );
    let c = set.connect();
    assert_eq!(c.event(cmd("PING")), None);
    assert_eq!(c.event(cmd("INSTREAM")), None);
    assert_eq!(c.event(Event::Chunk { n: 1 }), None);
    assert_eq!(c.event(Event::Chunk { n: 2 }), Some(Action::Drop));
    let c = set.connect();
    let req = |k| Event::Command {
        name: "PING",
        request: Some(k),
        scan: false,
    };
    assert_eq!(c.event(req(2)), None);
    assert_eq!(c.event(req(3)), Some(Action::Timeout));
    let c = set.connect();
    c.bytes_in(49);
    assert_eq!(c.event(cmd("PING")), None);
    assert_eq!(c.take_forced(), None);
    c.bytes_in(1);
    c.event(cmd("PING"));
    assert!(matches!(
        c.take_forced(),
        Some(ForcedReply::Errno { name, .. }) if name == "EIO"
    ));
    c.event(cmd("PING"));
    assert_eq!(
        c.take_forced(),
        None,
        "a byte trigger fires once per connection"
    );
}

#[test]
fn trigger_probability_replays_with_the_same_seed() {
    let run = |seed| {
        let set = FaultSet::new(
            FaultPlan::new()
                .seed(seed)
                .with(Trigger::probability(0.5), Fault::Reset),
        );
        (0..64)
            .map(|_| set.connect().event(cmd("PING")).is_some())
            .collect::<Vec<_>>()
    };
    let a = run(1234);
    assert_eq!(a, run(1234));
    assert_ne!(a, run(4321));
    let hits = a.iter().filter(|x| **x).count();
    assert!((16..=48).contains(&hits), "{hits}");
    // an unseeded plan gets a seed that is reported
    let set = FaultSet::new(FaultPlan::new().with(Trigger::probability(0.5), Fault::Reset));
    assert_eq!(set.plan().seed, Some(set.seed()));
}

#[test]
fn times_limits_firing_and_stats_count() {
    let set = FaultSet::new(
        FaultPlan::new().rule(
            Rule::new(Trigger::always(), Fault::Reset)
                .named("r")
                .times(2),
        ),
    );
    let fired = (0..5)
        .filter(|_| set.connect().event(cmd("PING")).is_some())
        .count();
    assert_eq!(fired, 2);
    let st = set.stats();
    assert_eq!(st.rules[0].name, "r");
    assert_eq!(st.rules[0].fired, 2);
    assert_eq!(st.faults_fired, 2);
    assert_eq!(st.connections, 5);
    assert_eq!(st.commands, 5);
    assert!(st.per_connection.iter().all(|c| !c.open));
    set.reset();
    let st = set.stats();
    assert_eq!((st.connections, st.faults_fired, st.rules.len()), (0, 0, 0));
}

#[test]
fn verdicts_only_on_scan_commands_and_taken_once() {
    let set = FaultSet::new(
        FaultPlan::new().with(Trigger::always(), Fault::Infected { name: "V".into() }),
    );
    let c = set.connect();
    c.event(cmd("PING"));
    assert_eq!(c.take_forced(), None);
    c.event(cmd("INSTREAM"));
    assert_eq!(c.take_forced(), Some(ForcedReply::Infected("V".into())));
    assert_eq!(c.take_forced(), None);
}

#[test]
fn write_plans_split_delay_garbage_truncate() {
    let set = FaultSet::new(FaultPlan::new().with(
        Trigger::always(),
        Fault::SplitReply {
            at: SplitAt::Byte,
            ms: 3,
        },
    ));
    let c = set.connect();
    c.event(Event::Connect);
    let w = c.write_plan(b"PONG\n");
    assert_eq!(w.pieces.len(), 5);
    assert_eq!(w.pieces[1].delay, Duration::from_millis(3));
    assert!(!w.close_after);
    let set = FaultSet::new(
        FaultPlan::new()
            .seed(5)
            .with(
                Trigger::command("PING"),
                Fault::Delay {
                    ms: 7,
                    at: DelayAt::Reply,
                },
            )
            .with(
                Trigger::command("VERSION"),
                Fault::Garbage {
                    text: None,
                    len: 10,
                },
            )
            .with(
                Trigger::command("STATS"),
                Fault::Truncate {
                    keep: None,
                    through: None,
                },
            ),
    );
    let c = set.connect();
    c.event(cmd("PING"));
    let w = c.write_plan(b"PONG\n");
    assert_eq!(
        w.pieces,
        vec![faults::Piece {
            delay: Duration::from_millis(7),
            bytes: b"PONG\n".to_vec()
        }]
    );
    c.event(cmd("VERSION"));
    let w = c.write_plan(b"ClamAV\n");
    assert_eq!(w.pieces[0].bytes.len(), 10);
    assert!(w.close_after);
    c.event(cmd("STATS"));
    let w = c.write_plan(b"0123456789");
    assert_eq!(w.pieces[0].bytes, b"01234");
}

/// CLAMD-CLIENT-3: `truncate` with `through` cuts a verdict right after its `OK` whatever
/// precedes it (`stream`, a path, a session's `<id>: `), so one case cuts every scan path's
/// `OK.Name FOUND` to look like a clean verdict without its terminator; a reply without the
/// text falls back to `keep`, then to half.
#[test]
fn clamd_client_3_truncate_through_cuts_after_the_text_on_every_scan_path() {
    let plan = FaultPlan::from_toml(
        "[[rule]]\nwhen = { verdict = true }\nfault = { kind = \"truncate\", through = \": OK\", keep = 3 }\n",
    )
    .unwrap();
    for (reply, kept) in [
        (&b"stream: OK.Cut FOUND\0"[..], &b"stream: OK"[..]),
        (b"/tmp/x y/f: OK.Cut FOUND\n", b"/tmp/x y/f: OK"),
        (b"1: fd[9]: OK.Cut FOUND\0", b"1: fd[9]: OK"),
        (b"PONG\0", b"PON"),
    ] {
        let c = FaultSet::new(plan.clone()).connect();
        c.event(Event::Verdict {
            name: "SCAN",
            request: None,
        });
        let w = c.write_plan(reply);
        assert_eq!(
            w.pieces[0].bytes,
            kept,
            "{}",
            String::from_utf8_lossy(reply)
        );
        assert!(w.close_after);
    }
    let half = FaultPlan::from_shorthand("truncate-through:: OK@verdict").unwrap();
    let c = FaultSet::new(half).connect();
    c.event(Event::Verdict {
        name: "INSTREAM",
        request: None,
    });
    assert_eq!(
        c.write_plan(b"stream: Eicar FOUND\0").pieces[0].bytes,
        b"stream: Ei"
    );
}

#[test]
fn slow_read_and_drop_after_bytes() {
    let set = FaultSet::new(
        FaultPlan::new()
            .with(Trigger::always(), Fault::SlowRead { bytes: 2, ms: 4 })
            .with(
                Trigger::command("INSTREAM"),
                Fault::Drop {
                    after_bytes: Some(10),
                },
            ),
    );
    let c = set.connect();
    assert_eq!(c.read_plan(), faults::ReadPlan::default());
    c.event(Event::Connect);
    assert_eq!(c.read_plan().max, Some(2));
    assert_eq!(c.read_plan().delay, Duration::from_millis(4));
    c.bytes_in(12);
    c.event(cmd("INSTREAM"));
    assert_eq!(c.bytes_in(9), None);
    assert_eq!(c.bytes_in(1), Some(Action::Drop));
}

/// CLAMD-CLIENT-10 / SVSP-CLIENT-19: `stop-reading` at once (the daemon's hold from the plan,
/// else 60 s), or armed by `after_bytes`: reads are capped so none goes past the byte where
/// reading stops, and that byte stops it.
#[test]
fn stop_reading_at_once_or_after_bytes() {
    let p = FaultPlan::from_shorthand(
        "stop-reading@command=INSTREAM; stop-reading:100/250@conn=2; stop-reading:/5@conn=3",
    )
    .unwrap();
    assert_eq!(
        p.rules[1].fault,
        Fault::StopReading {
            after_bytes: Some(100),
            hold_ms: Some(250)
        }
    );
    assert_eq!(
        p.rules[2].fault,
        Fault::StopReading {
            after_bytes: None,
            hold_ms: Some(5)
        }
    );
    assert!(FaultPlan::from_shorthand("stop-reading:x").is_err());
    let set = FaultSet::new(p);
    // connection 1: at the command, with the default hold
    let c = set.connect();
    assert_eq!(
        c.event(Event::Connect),
        None,
        "at once waits for its trigger"
    );
    assert_eq!(
        c.event(cmd("INSTREAM")),
        Some(Action::StopReading(Duration::from_millis(
            faults::STOP_READING_HOLD_MS
        )))
    );
    // connection 2: armed at accept, stops at byte 100 and never reads past it
    let c = set.connect();
    assert_eq!(c.event(Event::Connect), None);
    assert_eq!(c.read_plan().max, Some(100));
    assert_eq!(c.bytes_in(60), None);
    assert_eq!(c.read_plan().max, Some(40));
    assert_eq!(
        c.bytes_in(40),
        Some(Action::StopReading(Duration::from_millis(250)))
    );
    // `after_bytes = 0` is "at once": at accept for a connection trigger
    let set = FaultSet::new(FaultPlan::new().with(
        Trigger::always(),
        Fault::StopReading {
            after_bytes: Some(0),
            hold_ms: Some(7),
        },
    ));
    assert_eq!(
        set.connect().event(Event::Connect),
        Some(Action::StopReading(Duration::from_millis(7)))
    );
}

/// Hardening item 5: `--faults /dev/zero` used to grow to 4 GB in 6 s; now the read
/// stops one byte past 1 MiB and says so.
#[test]
fn dev_zero_fault_plan_gives_the_size_error_quickly() {
    let t0 = std::time::Instant::now();
    let err = FaultPlan::from_toml_file(std::path::Path::new("/dev/zero")).unwrap_err();
    assert_eq!(err.to_string(), "fault plan /dev/zero is larger than 1 MiB");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        t0.elapsed()
    );
}

/// Hardening item 5: a regular file past 1 MiB is refused the same way; one at the
/// bound is read.
#[test]
fn oversized_fault_plan_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.toml");
    let mut text = "# pad\n".repeat((1 << 20) / 6);
    text.push_str(&" ".repeat((1 << 20) - text.len()));
    std::fs::write(&big, &text).unwrap();
    assert!(FaultPlan::from_toml_file(&big).unwrap().rules.is_empty());
    text.push('\n');
    std::fs::write(&big, &text).unwrap();
    let err = FaultPlan::from_toml_file(&big).unwrap_err().to_string();
    assert!(err.ends_with("big.toml is larger than 1 MiB"), "{err}");
}

/// Hardening item 5: a FIFO with no writer is refused at once instead of hanging in
/// open(2).
#[test]
fn fifo_fault_plan_without_writer_does_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("plan.fifo");
    nix::unistd::mkfifo(&fifo, Mode::S_IRUSR | Mode::S_IWUSR).expect("mkfifo");
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(FaultPlan::from_toml_file(&path).map_err(|e| e.to_string()));
    });
    let r = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("returned within 5 s");
    let err = r.unwrap_err();
    assert!(err.contains("is a FIFO"), "{err}");
}
