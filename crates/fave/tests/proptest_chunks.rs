//! Proptest over input sizes, chunk sizes and write patterns: the INSTREAM bytes on the wire,
//! decoded by clamd-proto's own server-side `InstreamDecoder`, are exactly the input, in chunks
//! of at most `chunk_size` (CLAMD-INSTREAM-1, CLAMD-CLIENT-2); the local limit is exact.

mod common;

use clamd_proto::{InstreamDecoder, InstreamEvent};
use common::*;
use fave::{Client, FaveError, LimitOrigin, Verdict};
use proptest::prelude::*;

/// Decode a whole client transcript: `zIDSESSION\0zINSTREAM\0<chunks>\0\0\0\0zEND\0`.
fn decode_transcript(seen: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let rest = seen
        .strip_prefix(b"zIDSESSION\0zINSTREAM\0")
        .expect("session + INSTREAM prefix");
    let mut dec = InstreamDecoder::new(u64::MAX);
    let mut data = Vec::new();
    let mut off = 0;
    loop {
        let (used, ev) = dec.decode(&rest[off..]);
        off += used;
        match ev {
            InstreamEvent::Data(d) => data.extend_from_slice(d),
            InstreamEvent::End => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    (data, rest[off..].to_vec())
}

fn run_case(
    input: Vec<u8>,
    chunk: usize,
    splits: Vec<usize>,
    limit: Option<u64>,
) -> (Verdict, Vec<usize>, Vec<u8>) {
    let (addr, h) = serve(Listener::tcp(), |p| {
        p.read_command().unwrap();
        p.read_command().unwrap();
        let (d, sizes) = p.read_stream().unwrap();
        p.send(b"1: stream: OK\0");
        let _ = p.read_command();
        (d, sizes)
    });
    let mut cfg = clamd_cfg(addr);
    cfg.chunk_size = chunk;
    cfg.stream_max_length = limit;
    let mut c = Client::new(cfg).unwrap();
    let mut s = c.open("p");
    let mut off = 0;
    let mut i = 0;
    let mut refused = false;
    while off < input.len() {
        let n = splits
            .get(i)
            .copied()
            .unwrap_or(input.len())
            .clamp(1, input.len() - off);
        i += 1;
        if s.write(&input[off..off + n]).is_err() {
            refused = true;
            break;
        }
        off += n;
    }
    let v = s.close().verdict;
    assert!(
        !(refused && v.is_clean()),
        "a refused stream must never be clean"
    );
    c.close();
    let ((data, sizes), seen) = h.join().unwrap();
    let (decoded, tail) = decode_transcript(&seen);
    assert_eq!(decoded, data, "both decoders agree");
    assert_eq!(tail, b"zEND\0");
    (v, sizes, decoded)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]

    /// CLAMD-CLIENT-2.
    #[test]
    fn clamd_client_2_framing_any_sizes(
        len in 0usize..200_000,
        chunk in 1usize..70_000,
        splits in proptest::collection::vec(1usize..50_000, 0..20),
        seed in any::<u64>(),
    ) {
        let input = clean_bytes(len, seed);
        let (v, sizes, decoded) = run_case(input.clone(), chunk, splits, None);
        prop_assert_eq!(v, Verdict::Clean);
        prop_assert_eq!(&decoded, &input);
        prop_assert!(sizes.iter().all(|&s| s >= 1 && s <= chunk));
        // coalesced: every chunk but the last is full
        if let Some((_, init)) = sizes.split_last() {
            prop_assert!(init.iter().all(|&s| s == chunk));
        }
        prop_assert_eq!(sizes.len(), len.div_ceil(chunk));
    }

    /// CLAMD-INSTREAM-4 mirrored locally: exactly the limit passes, anything above is refused
    /// with a local too-large error and never more than the limit goes on the wire.
    #[test]
    fn clamd_instream_4_local_limit_exact(
        len in 1usize..20_000,
        delta in -3i64..4,
        chunk in 1usize..5_000,
        splits in proptest::collection::vec(1usize..3_000, 0..10),
    ) {
        let limit = (len as i64 + delta).max(0) as u64;
        let input = clean_bytes(len, 1);
        let (v, _, decoded) = run_case(input, chunk, splits, Some(limit));
        prop_assert!(decoded.len() as u64 <= limit);
        if (len as u64) <= limit {
            prop_assert_eq!(v, Verdict::Clean);
            prop_assert_eq!(decoded.len(), len);
        } else {
            let too_large = matches!(v, Verdict::Error(FaveError::TooLarge { origin: LimitOrigin::Local, .. }));
            prop_assert!(too_large, "{:?}", v);
        }
    }
}
