//! Property tests: quoting round trip (SVSP-NAME-2/3), framing split independence
//! (SVSP-FRAME-1), parser robustness (SVSP-FRAME-7), formatter/parser agreement.

use proptest::prelude::*;
use svsp_proto::*;

fn frames_for(chunks: &[&[u8]], max: usize) -> Vec<Frame> {
    let mut f = LineFramer::new(max);
    let mut out = Vec::new();
    for c in chunks {
        f.push(c);
        while let Some(fr) = f.next_frame() {
            out.push(fr);
        }
    }
    out
}

proptest! {
    /// SVSP-NAME-2.
    #[test]
    fn svsp_name_2_quote_unquote_round_trip(name in proptest::collection::vec(any::<u8>(), 0..64)) {
        let q = quote(&name);
        // Never breaks line framing.
        prop_assert!(!q.contains(&b'\n'));
        let (back, rest) = unquote(&q).unwrap();
        prop_assert_eq!(back, name);
        prop_assert!(rest.is_empty());
    }

    /// SVSP-NAME-3.
    #[test]
    fn svsp_name_3_chain_round_trip(chain in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..16), 1..5)) {
        let q = quote_chain(&chain);
        let (back, rest) = unquote_chain(&q).unwrap();
        prop_assert_eq!(back, chain);
        prop_assert!(rest.is_empty());
    }

    /// SVSP-FRAME-1.
    #[test]
    fn svsp_frame_1_framing_is_split_independent(
        data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'a'), any::<u8>()], 0..300),
        cuts in proptest::collection::vec(0usize..300, 0..10),
    ) {
        let whole = frames_for(&[&data], 16);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut prev = 0;
        for c in cuts { chunks.push(&data[prev..c]); prev = c; }
        chunks.push(&data[prev..]);
        prop_assert_eq!(&frames_for(&chunks, 16), &whole);
        // And one byte at a time.
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        prop_assert_eq!(&frames_for(&bytes, 16), &whole);
    }

    /// SVSP-FRAME-7.
    #[test]
    fn svsp_frame_7_random_lines_give_wellformed_replies(line in proptest::collection::vec(any::<u8>(), 0..200)) {
        let line: Vec<u8> = line.into_iter().filter(|b| *b != b'\n').collect();
        let cfg = ParseConfig { enable_future: true, ..Default::default() };
        match parse_line(&line, &cfg) {
            Parsed::Blank | Parsed::Command { .. } => {}
            Parsed::Error { id, error } => {
                let wire = Response::with_id(id.clone(), error.body()).to_wire();
                prop_assert!(wire.ends_with(b"\r\n"));
                prop_assert_eq!(wire.iter().filter(|b| **b == b'\n').count(), 1);
                let parsed = parse_response(&wire).unwrap().unwrap();
                prop_assert_eq!(parsed.id, id);
                let is_err = matches!(parsed.body, Body::Error { .. });
                prop_assert!(is_err);
            }
        }
    }

    #[test]
    fn formatter_and_parser_agree(
        id in proptest::option::of(1u32..999_999_999),
        // No leading/trailing space and no ':' so " : " cannot occur: no rejects needed.
        virus in "[A-Za-z0-9/.]([A-Za-z0-9/. ]{0,18}[A-Za-z0-9/.])?",
        chain in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 1..4),
        msg in proptest::collection::vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 0..20),
        count in proptest::option::of(0u64..100),
        lf in any::<bool>(),
    ) {
        let id = id.map(|n| Id::from_number(n).unwrap());
        let fmt = FormatOptions { eol: if lf { Eol::Lf } else { Eol::Crlf }, lowercase_keywords: false };
        let mut msg: Vec<u8> = msg.into_iter().skip_while(|b| *b == b' ' || *b == b'\t').collect();
        // With LF line ends a message ending in CR cannot be told from a CRLF terminator
        // (SVSP-FRAME-1 removes a CR directly before LF), so such a message has no exact
        // wire form; the formatter cannot be asked to round-trip it.
        if lf {
            while msg.last() == Some(&b'\r') {
                msg.pop();
            }
        }
        let bodies = vec![
            Body::Scanning(chain.clone()),
            Body::Infected { virus: virus.into_bytes(), name: chain.clone(), message: msg.clone() },
            Body::Done { count, target: chain[0].clone(), sha1: None },
            Body::Done { count: Some(1), target: chain[0].clone(), sha1: Some("3395856ce81f2b7382dee72602f798b642f14140".into()) },
            Body::Queued, Body::Ok, Body::Send(Some(1)), Body::Send(None),
        ];
        for b in bodies {
            let r = Response::with_id(id.clone(), b);
            let wire = r.encode(fmt);
            let back = parse_response(&wire).unwrap().unwrap();
            prop_assert_eq!(back, r);
        }
    }
}
