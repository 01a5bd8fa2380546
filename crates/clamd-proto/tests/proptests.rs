//! Property tests: decoding does not depend on how the bytes were split.

use clamd_proto::client::{self, parse_reply, ReplyBody, ReplySplitter, Subject};
use clamd_proto::reply::{self, ReplyCtx};
use clamd_proto::{Command, CommandDecoder, Framing, InstreamDecoder, InstreamEvent};
use proptest::prelude::*;

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![Just(Framing::Z), Just(Framing::N)]
}

fn command() -> impl Strategy<Value = Command> {
    let path = proptest::collection::vec(
        any::<u8>().prop_filter("no nul/nl", |b| *b != 0 && *b != b'\n' && *b != b'\r'),
        0..40,
    );
    prop_oneof![
        Just(Command::Ping),
        Just(Command::Version),
        Just(Command::VersionCommands),
        Just(Command::Stats),
        Just(Command::End),
        path.clone().prop_map(Command::Scan),
        path.clone().prop_map(Command::ContScan),
        path.prop_map(Command::AllMatchScan),
    ]
}

/// Split `bytes` at the given cut points (sorted, deduplicated, in range).
fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    let mut last = 0;
    for c in cuts {
        out.push(&bytes[last..c]);
        last = c;
    }
    out.push(&bytes[last..]);
    out
}

proptest! {
    /// CLAMD-FRAME-8, CLAMD-SESSION-9: z/n commands decode the same however the bytes are split.
    #[test]
    fn clamd_frame_8_decoding_independent_of_splits(
        cmds in proptest::collection::vec((framing(), command()), 1..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut wire = Vec::new();
        for (f, c) in &cmds {
            wire.extend(client::encode_command(*f, c).unwrap());
        }
        let mut dec = CommandDecoder::new();
        let mut got = Vec::new();
        for piece in split(&wire, &cuts) {
            dec.feed(piece).unwrap();
            while let Some(r) = dec.next_request() {
                got.push((r.framing, r.command));
            }
        }
        prop_assert_eq!(got, cmds);
        prop_assert!(dec.buffered().is_empty());
    }

    /// CLAMD-INSTREAM-4.
    ///
    /// CLAMD-INSTREAM-1/4: payload and verdict independent of chunking and split points;
    /// the limit is exact.
    #[test]
    fn clamd_instream_4_independent_of_chunking(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        chunk in 1usize..64,
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
        slack in -3i64..3,
    ) {
        let limit = (data.len() as i64 + slack).max(0) as u64;
        let wire = client::encode_chunks(&data, chunk);
        let mut dec = InstreamDecoder::new(limit);
        let mut got = Vec::new();
        let mut outcome = None;
        'outer: for piece in split(&wire, &cuts) {
            let mut input = piece;
            loop {
                let (used, ev) = dec.decode(input);
                input = &input[used..];
                match ev {
                    InstreamEvent::Data(d) => got.extend_from_slice(d),
                    InstreamEvent::NeedMore => break,
                    InstreamEvent::End => { outcome = Some(true); break 'outer; }
                    InstreamEvent::LimitExceeded { .. } => { outcome = Some(false); break 'outer; }
                }
            }
        }
        if (data.len() as u64) <= limit {
            prop_assert_eq!(outcome, Some(true));
            prop_assert_eq!(got, data);
        } else {
            prop_assert_eq!(outcome, Some(false));
            prop_assert!((got.len() as u64) <= limit);
        }
    }

    /// Client round trip: the server-side reply encoder and the client splitter/parser agree.
    #[test]
    fn client_reply_round_trip(
        f in framing(),
        id in proptest::option::of(1u64..100000),
        path in "/[a-z :. ]{0,30}",
        name in "[A-Za-z.][A-Za-z0-9._-]{0,30}",
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let ctx = ReplyCtx { session_id: id, term: f.terminator() };
        let mut wire = reply::found(ctx, reply::Subject::Path(path.as_bytes()), &name);
        wire.extend(reply::ok(ctx, reply::Subject::Stream));
        wire.extend(reply::pong(ctx));
        let mut sp = ReplySplitter::new(f);
        let mut recs = Vec::new();
        for piece in split(&wire, &cuts) {
            sp.push(piece);
            while let Some(r) = sp.next_record().unwrap() {
                recs.push(parse_reply(&r, id.is_some()));
            }
        }
        sp.finish().unwrap();
        prop_assert_eq!(recs.len(), 3);
        prop_assert_eq!(recs[0].session_id, id);
        prop_assert_eq!(&recs[0].subject, &Some(Subject::Path(path.as_bytes().to_vec())));
        prop_assert_eq!(&recs[0].body, &ReplyBody::Found(name));
        prop_assert_eq!(&recs[1].subject, &Some(Subject::Stream));
        prop_assert_eq!(&recs[1].body, &ReplyBody::Ok);
        prop_assert_eq!(&recs[2].body, &ReplyBody::Pong);
    }

    /// Hostile input never panics the decoders and never grows the buffer past its capacity.
    #[test]
    fn hostile_bytes_bounded(reads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..5000), 0..6)) {
        let mut dec = CommandDecoder::new();
        for r in &reads {
            let n = r.len().min(dec.free_space().max(1));
            if dec.feed(&r[..n]).is_err() { break; }
            while dec.next_request().is_some() {}
            prop_assert!(dec.buffered().len() <= dec.capacity());
        }
        let mut ins = InstreamDecoder::new(1000);
        for r in &reads {
            let mut input = &r[..];
            loop {
                let (used, ev) = ins.decode(input);
                input = &input[used..];
                if !matches!(ev, InstreamEvent::Data(_)) { break; }
            }
        }
    }
}
