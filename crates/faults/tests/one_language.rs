//! The vocabulary added so that one fault language covers the harness's scripted servers and
//! fake-vfindd's legacy counters (issue 13): `every`, the verdict point, written replies,
//! `split-every`, `reply` texts, and the legacy aliases of the shorthand.

use std::time::Duration;

use faults::{unescape, Action, Event, Fault, FaultPlan, FaultSet, ForcedReply, Rule, Trigger};

fn scan(request: u64) -> Event<'static> {
    Event::Command {
        name: "SCAN",
        request: Some(request),
        scan: true,
    }
}

fn eagain() -> Option<Action> {
    Some(Action::Reply(ForcedReply::Errno {
        name: "EAGAIN".into(),
        text: None,
    }))
}

/// `every = N` fires on every Nth matching event, counted over all connections, and events
/// that do not match (a PING) are not counted.
#[test]
fn every_fires_on_each_nth_matching_event_over_all_connections() {
    let set =
        FaultSet::new(FaultPlan::new().with(Trigger::command("SCAN").every(2), Fault::Eagain));
    let a = set.connect();
    assert_eq!(a.event(scan(1)), None);
    let ping = Event::Command {
        name: "PING",
        request: Some(2),
        scan: false,
    };
    assert_eq!(a.event(ping), None, "PING is not counted");
    assert_eq!(a.event(scan(3)), eagain(), "2nd SCAN");
    let b = set.connect();
    assert_eq!(b.event(scan(1)), None, "3rd SCAN, on another connection");
    assert_eq!(b.event(scan(2)), eagain(), "4th SCAN");
    assert_eq!(set.stats().rules[0].fired, 2);
}

/// `every` and `times` combine: every 2nd event, at most once.
#[test]
fn every_with_times_fires_once() {
    let set = FaultSet::new(
        FaultPlan::new().rule(Rule::new(Trigger::command("SCAN").every(2), Fault::Eagain).times(1)),
    );
    let c = set.connect();
    let fired: Vec<bool> = (1..=6).map(|i| c.event(scan(i)).is_some()).collect();
    assert_eq!(fired, [false, true, false, false, false, false]);
}

/// The verdict is a protocol point of its own: `verdict` rules fire only there, other
/// rules never do; immediate faults come back as actions, reply faults wait for the reply.
#[test]
fn verdict_rules_fire_only_at_the_verdict() {
    let plan = FaultPlan::new()
        .with(Trigger::verdict(), Fault::Drop { after_bytes: None })
        .with(Trigger::command("PING"), Fault::Reset);
    let set = FaultSet::new(plan);
    let c = set.connect();
    assert_eq!(c.event(scan(1)), None, "not at the command");
    let v = Event::Verdict {
        name: "SCAN",
        request: Some(1),
    };
    assert_eq!(c.event(v), Some(Action::Drop));
    let ping_verdict = Event::Verdict {
        name: "PING",
        request: Some(2),
    };
    // the PING rule is not a verdict rule; the drop rule fires again (no times limit)
    assert_eq!(c.event(ping_verdict), Some(Action::Drop));

    let set = FaultSet::new(FaultPlan::new().with(Trigger::verdict().every(2), Fault::Efault));
    let c = set.connect();
    assert_eq!(c.event(v), None);
    assert_eq!(
        c.event(v),
        Some(Action::Reply(ForcedReply::Errno {
            name: "EFAULT".into(),
            text: None
        }))
    );

    let set = FaultSet::new(FaultPlan::new().with(
        Trigger::verdict(),
        Fault::Truncate {
            keep: None,
            through: None,
        },
    ));
    let c = set.connect();
    assert!(!c.shapes_writes());
    assert_eq!(c.event(v), None);
    assert!(c.shapes_writes(), "truncate waits for the verdict line");
    let p = c.write_plan(b"DONE 0 : \"/f\"\r\n");
    assert_eq!(p.pieces[0].bytes, b"DONE 0 ");
    assert!(p.close_after);
}

/// `replies = N` fires once the Nth reply of a connection was written, and nowhere else.
#[test]
fn replies_trigger_fires_after_the_nth_reply() {
    let set = FaultSet::new(
        FaultPlan::new().with(Trigger::replies(2), Fault::Drop { after_bytes: None }),
    );
    let c = set.connect();
    assert_eq!(c.event(Event::Connect), None);
    assert_eq!(c.event(scan(1)), None);
    assert_eq!(c.event(Event::Reply { n: 1 }), None);
    assert_eq!(c.event(Event::Reply { n: 2 }), Some(Action::Drop));
    assert_eq!(c.event(Event::Reply { n: 3 }), None);
}

/// `split-every` cuts every later reply into pieces of N bytes, `ms` apart.
#[test]
fn split_every_cuts_replies_in_pieces_of_n_bytes() {
    let set = FaultSet::new(
        FaultPlan::new().with(Trigger::always(), Fault::SplitEvery { bytes: 3, ms: 4 }),
    );
    let c = set.connect();
    assert_eq!(c.event(Event::Connect), None);
    assert!(c.shapes_writes());
    let p = c.write_plan(b"READY\r\n");
    let pieces: Vec<&[u8]> = p.pieces.iter().map(|p| p.bytes.as_slice()).collect();
    assert_eq!(pieces, [&b"REA"[..], b"DY\r", b"\n"]);
    assert_eq!(p.pieces[0].delay, Duration::ZERO);
    assert_eq!(p.pieces[1].delay, Duration::from_millis(4));
    assert!(!p.close_after);
}

/// A `reply` fault waits for the daemon to take it (`take_reply`), is not a forced verdict,
/// and does not shape writes; raw texts decode their escapes.
#[test]
fn reply_text_is_taken_by_take_reply_only() {
    let set = FaultSet::new(FaultPlan::new().with(
        Trigger::command("SCAN"),
        Fault::Reply {
            text: "\\x01\\x02 what\\r\\n".into(),
            raw: true,
        },
    ));
    let c = set.connect();
    assert_eq!(c.event(scan(1)), None);
    assert!(!c.shapes_writes());
    assert_eq!(c.take_forced(), None);
    let r = c.take_reply().expect("pending reply");
    assert_eq!(r.bytes(), b"\x01\x02 what\r\n");
    assert_eq!(c.take_reply(), None, "taken once");
    // the notation's escapes, strictly: a plan whose raw reply has a bad one does not load
    assert_eq!(unescape("a\\\\b\\x41\\0").unwrap(), b"a\\bA\0");
    let bad = FaultPlan::from_toml(
        "[[rule]]\nfault = { kind = \"reply\", text = \"\\\\x4g\", raw = true }\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("raw reply text") && bad.contains("at byte 0"),
        "{bad}"
    );
}

/// The shorthand: new kinds and conditions, and the legacy vfindd counters as aliases that
/// become exactly the plan written out in full.
#[test]
fn shorthand_new_kinds_conditions_and_legacy_aliases() {
    let p = FaultPlan::from_shorthand(
        "split-every:3/5;reply:UNKNOWN COMMAND@command=SCAN;reply-raw:\\x01@verdict,every=2;drop@replies=4",
    )
    .unwrap();
    assert_eq!(p.rules[0].fault, Fault::SplitEvery { bytes: 3, ms: 5 });
    assert_eq!(
        p.rules[1].fault,
        Fault::Reply {
            text: "UNKNOWN COMMAND".into(),
            raw: false
        }
    );
    assert_eq!(p.rules[1].when, Trigger::command("SCAN"));
    assert_eq!(p.rules[2].when, Trigger::verdict().every(2));
    assert!(matches!(p.rules[2].fault, Fault::Reply { raw: true, .. }));
    assert_eq!(p.rules[3].when, Trigger::replies(4));

    let legacy =
        FaultPlan::from_shorthand("eagain-every:3;efault-every:2;drop-connection-after:5-lines")
            .unwrap();
    let full = FaultPlan::from_shorthand(
        "eagain@command=SCAN,every=3;efault@verdict,every=2;drop@replies=5",
    )
    .unwrap();
    assert_eq!(legacy, full);
    // an alias takes conditions too
    let p = FaultPlan::from_shorthand("eagain-every:2@conn=1").unwrap();
    assert_eq!(p.rules[0].when.connection, Some(1));
    assert_eq!(p.rules[0].when.every, Some(2));
    for bad in [
        "eagain-every:0",
        "eagain-every",
        "drop-connection-after:x-lines",
        "drop@every=0",
        "drop@verdict,chunk=1",
        "drop@replies=0",
        "split-every:0",
        "split-every",
        "reply",
    ] {
        assert!(FaultPlan::from_shorthand(bad).is_err(), "{bad}");
    }
}

/// TOML and JSON carry the new fields; plans without them serialize as before.
#[test]
fn toml_and_json_carry_the_new_fields() {
    let p = FaultPlan::from_toml(
        r#"
[[rule]]
when = { command = "INSTREAM", verdict = true, every = 3 }
fault = { kind = "reply", text = "UNKNOWN COMMAND" }

[[rule]]
when = { replies = 2 }
fault = { kind = "split-every", bytes = 1, ms = 2 }
"#,
    )
    .unwrap();
    assert_eq!(
        p.rules[0].when,
        Trigger::command("INSTREAM").at_verdict().every(3)
    );
    assert_eq!(
        p.rules[0].fault,
        Fault::Reply {
            text: "UNKNOWN COMMAND".into(),
            raw: false
        }
    );
    assert_eq!(FaultPlan::from_json(p.to_json().as_bytes()).unwrap(), p);
    assert_eq!(FaultPlan::from_toml(&p.to_toml()).unwrap(), p);
    let old = FaultPlan::new().with(Trigger::command("SCAN"), Fault::Reset);
    assert_eq!(
        old.to_json(),
        r#"{"rules":[{"when":{"command":"SCAN"},"fault":{"kind":"reset"}}]}"#
    );
    assert!(
        FaultPlan::from_toml("[[rule]]\nwhen = { every = 0 }\nfault = { kind = \"reset\" }")
            .is_err()
    );
}

/// `merge` combines a scenario file with `--fault` flags: rules appended, a given seed wins.
#[test]
fn merge_appends_rules_and_takes_a_given_seed() {
    let mut a = FaultPlan::new()
        .seed(1)
        .with(Trigger::always(), Fault::Reset);
    a.merge(FaultPlan::from_shorthand("drop@conn=2").unwrap());
    assert_eq!((a.seed, a.rules.len()), (Some(1), 2));
    a.merge(FaultPlan::from_shorthand("drop@seed=9").unwrap());
    assert_eq!((a.seed, a.rules.len()), (Some(9), 3));
}
