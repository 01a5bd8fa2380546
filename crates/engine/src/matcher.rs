//! The streaming matcher: whole-file hashes, literal body signatures (one SIMD substring
//! search per literal for a few of them, Aho-Corasick for more, with a carry-over across chunk
//! boundaries), general body signatures (a lazy DFA stepped byte by
//! byte, so its state survives chunk boundaries) and `EOF-n` signatures (a bounded tail window).
//! Every piece is independent of how the input is chunked.

use std::collections::HashMap;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use md5::{Digest, Md5};
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::util::{start, syntax};
use regex_automata::{meta, nfa::thompson, Anchored, Input, MatchKind};
use sha1::Sha1;
use sha2::Sha256;

use crate::eicar::{is_eicar_standard, EICAR_STANDARD_MAX_LEN};
use crate::error::DbError;
use crate::hashdb::HashAlgo;
use crate::ndb::Offset;
use crate::texttype::{self, DataClass, Normalizer, MAX_SCRIPT_NORMALIZE};

/// Whole-file hash signatures are checked against a buffered copy of the data when every one
/// of them names a size up to this bound, so that no hash is computed for other files.
pub(crate) const HASH_BUFFER_MAX: u64 = 1 << 20;

/// A signature as loaded (`sigdb`), before compiling.
#[derive(Debug, Clone)]
pub(crate) enum SigKind {
    Hash {
        algo: HashAlgo,
        digest: Vec<u8>,
        size: Option<u64>,
    },
    EicarStandard,
    Body {
        offset: Offset,
        regex: String,
        literal: Option<Vec<u8>>,
        /// Automaton positions (see `ndb::NdbSig::cost`).
        cost: u64,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Sig {
    pub name: String,
    pub kind: SigKind,
}

/// Compiled matchers; built once per database.
pub(crate) struct Compiled {
    pub hash_index: HashMap<(HashAlgo, Vec<u8>), Vec<usize>>,
    /// Sizes of all hash signatures when all are bounded by [`HASH_BUFFER_MAX`].
    pub hash_sizes: Option<Vec<u64>>,
    pub algos: Vec<HashAlgo>,
    pub eicar_standard: Vec<usize>,
    pub literals: Option<LiteralSet>,
    pub dfa: Option<BodyDfa>,
    pub eof: Vec<EofSig>,
}

/// An immutable, compiled set of signatures. Share it as `Arc<SignatureDb>`.
pub struct SignatureDb {
    pub(crate) sigs: Vec<Sig>,
    pub(crate) compiled: Compiled,
}

impl std::fmt::Debug for SignatureDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureDb")
            .field("signatures", &self.sigs.len())
            .finish()
    }
}

pub(crate) struct LiteralSet {
    search: LiteralSearch,
    sig_of: Vec<usize>,
    max_len: usize,
}

/// How the literals are found: each pattern index is an index into `LiteralSet::sig_of`.
enum LiteralSearch {
    /// Up to [`FEW_LITERALS`]: one `memmem` search each. On data without matches its SIMD
    /// prefilter (two bytes at two offsets) rarely stops, where Aho-Corasick's prefilter for a
    /// few patterns stops on every rare byte, about every hundredth byte of random data
    /// (issue 17: that bounded SVSP REQUEST/PORT).
    Substrings(Vec<memchr::memmem::Finder<'static>>),
    Automaton(AhoCorasick),
}

/// Most literals searched one by one (each is one pass over the data).
const FEW_LITERALS: usize = 8;

pub(crate) struct BodyDfa {
    dfa: DFA,
    sig_of: Vec<usize>,
}

pub(crate) struct EofSig {
    sig: usize,
    distance: u64,
    re: meta::Regex,
}

fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

/// Most automaton positions (see `ndb::NdbSig::cost`) all non-literal body signatures of one
/// database may need together; checked before anything is compiled, so that loading stays linear
/// and memory bounded (measured: about 140 bytes of peak memory and 0.4 µs per position,
/// so at most about 150 MiB and half a second).
pub const MAX_DB_POSITIONS: u64 = 1 << 20;

/// Backstop for the NFA builders, in bytes: compilation stops here even if the position
/// count underestimates a pattern.
const NFA_SIZE_LIMIT: usize = 256 << 20;

/// Literal sets larger than this (in bytes) use Aho-Corasick's contiguous NFA: its DFA
/// (the default for up to 100 patterns) costs up to 1 KiB per pattern byte to build.
const AC_DFA_MAX_BYTES: usize = 4096;

pub(crate) fn compile(sigs: &[Sig]) -> Result<Compiled, DbError> {
    let mut c = Compiled {
        hash_index: Default::default(),
        hash_sizes: Some(Vec::new()),
        algos: Vec::new(),
        eicar_standard: Vec::new(),
        literals: None,
        dfa: None,
        eof: Vec::new(),
    };
    let mut literals: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut dfa_patterns: Vec<(usize, String)> = Vec::new();
    // Plain literals go to Aho-Corasick (a few bytes per pattern byte, linear in the file);
    // everything else is unrolled into an automaton and counts against the budget.
    let total_cost = sigs
        .iter()
        .map(|s| match &s.kind {
            SigKind::Body {
                offset: Offset::Any,
                literal: Some(_),
                ..
            } => 0,
            SigKind::Body { cost, .. } => *cost,
            _ => 0,
        })
        .fold(0u64, u64::saturating_add);
    if total_cost > MAX_DB_POSITIONS {
        return Err(DbError::Compile(format!(
            "the body signatures expand to {total_cost} automaton positions together \
             (gaps and offsets count with their size); the fake supports at most \
             {MAX_DB_POSITIONS}"
        )));
    }
    for (i, sig) in sigs.iter().enumerate() {
        match &sig.kind {
            SigKind::Hash { algo, digest, size } => {
                c.hash_index
                    .entry((*algo, digest.clone()))
                    .or_default()
                    .push(i);
                if !c.algos.contains(algo) {
                    c.algos.push(*algo);
                }
                match (size, c.hash_sizes.as_mut()) {
                    (Some(s), Some(sizes)) if *s <= HASH_BUFFER_MAX => sizes.push(*s),
                    _ => c.hash_sizes = None,
                }
            }
            SigKind::EicarStandard => c.eicar_standard.push(i),
            SigKind::Body {
                offset,
                regex,
                literal,
                ..
            } => {
                if regex.is_empty() {
                    return Err(DbError::Compile(format!(
                        "signature `{}` has an empty body",
                        sig.name
                    )));
                }
                match (offset, literal) {
                    (Offset::Any, Some(lit)) => literals.push((i, lit.clone())),
                    (Offset::Any, None) => dfa_patterns.push((i, format!("(?:{regex})"))),
                    (Offset::Absolute { start, window }, _) => dfa_patterns.push((
                        i,
                        format!("\\A(?s-u:.){{{},{}}}(?:{regex})", start, start + window),
                    )),
                    (Offset::FromEof(distance), _) => {
                        let re = meta::Regex::builder()
                            .configure(meta::Config::new().nfa_size_limit(Some(NFA_SIZE_LIMIT)))
                            .syntax(syntax_config())
                            .build(&format!("(?:{regex})"))
                            .map_err(|e| DbError::Compile(format!("{}: {e}", sig.name)))?;
                        c.eof.push(EofSig {
                            sig: i,
                            distance: *distance,
                            re,
                        });
                    }
                }
            }
        }
    }
    if let Some(sizes) = c.hash_sizes.as_mut() {
        sizes.sort_unstable();
        sizes.dedup();
    }
    if !literals.is_empty() {
        let bytes: usize = literals.iter().map(|(_, l)| l.len()).sum();
        let search = if literals.len() <= FEW_LITERALS {
            LiteralSearch::Substrings(
                literals
                    .iter()
                    .map(|(_, l)| memchr::memmem::Finder::new(l).into_owned())
                    .collect(),
            )
        } else {
            LiteralSearch::Automaton(
                AhoCorasick::builder()
                    .kind((bytes > AC_DFA_MAX_BYTES).then_some(AhoCorasickKind::ContiguousNFA))
                    .build(literals.iter().map(|(_, l)| l))
                    .map_err(|e| DbError::Compile(e.to_string()))?,
            )
        };
        c.literals = Some(LiteralSet {
            search,
            max_len: literals.iter().map(|(_, l)| l.len()).max().unwrap_or(1),
            sig_of: literals.iter().map(|(i, _)| *i).collect(),
        });
    }
    if !dfa_patterns.is_empty() {
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::All)
                    .cache_capacity(8 << 20)
                    // Many patterns need more than 8 MiB; the position budget bounds it.
                    .skip_cache_capacity_check(true)
                    .minimum_cache_clear_count(None),
            )
            .syntax(syntax_config())
            .thompson(
                thompson::Config::new()
                    .utf8(false)
                    .nfa_size_limit(Some(NFA_SIZE_LIMIT)),
            )
            .build_many(
                &dfa_patterns
                    .iter()
                    .map(|(_, p)| p.as_str())
                    .collect::<Vec<_>>(),
            )
            .map_err(|e| DbError::Compile(e.to_string()))?;
        c.dfa = Some(BodyDfa {
            dfa,
            sig_of: dfa_patterns.iter().map(|(i, _)| *i).collect(),
        });
    }
    Ok(c)
}

/// Most matches one scanner records for all-match (hardening: a part made of one signature
/// repeated cannot grow memory without bound; clamd would list them all).
pub const MAX_OCCURRENCES: usize = 10_000;

/// The all-match account of one part's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllMatches {
    pub class: DataClass,
    /// One raw scan (`cli_scan_fmap`): every body match, overlapping ones included, by end
    /// offset then DB order; then the whole-file (hash) matches.
    pub raw: Vec<Detection>,
    /// Every body match in the normalised text (empty unless [`DataClass::Text`]).
    pub normalized: Vec<Detection>,
}

impl AllMatches {
    /// The names clamd reports for the part's own bytes, in its order: the raw scan, then the
    /// second pass its type gets.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let second: &[Detection] = match self.class {
            DataClass::Text => &self.normalized,
            DataClass::Binary => &self.raw,
            DataClass::Other => &[],
        };
        self.raw.iter().chain(second).map(|d| d.name.as_str())
    }
}

/// One signature that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub name: String,
    /// For body signatures: the offset just past the first match (SVSP `end at <n>`).
    pub end_offset: Option<u64>,
}

/// The outcome of scanning one byte stream (no archive expansion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanResult {
    /// Matches in clamd 1.4.6's order (CLAMD-DET-6): body signatures by lowest match end,
    /// ties in DB order, then whole-file (hash) signatures in DB order: clamd stops at the
    /// first body match before it looks the file's hash up (measured: a file matching both
    /// an `.ndb` and an `.hdb` signature is named by the `.ndb` one; the spec's [F] note
    /// said hash first). Each signature at most once.
    pub detections: Vec<Detection>,
    pub size: u64,
    /// SHA-1 of the data, unless disabled with [`ScanOptions::sha1`].
    pub sha1: Option<[u8; 20]>,
    /// Every match, for clamd's all-match mode ([`StreamScanner::with_all_matches`]).
    pub all: Option<Box<AllMatches>>,
}

impl ScanResult {
    pub fn is_clean(&self) -> bool {
        self.detections.is_empty()
    }
    pub fn first(&self) -> Option<&Detection> {
        self.detections.first()
    }
    /// Lower-case hex SHA-1, when it was computed.
    pub fn sha1_hex(&self) -> Option<String> {
        self.sha1.map(hex::encode)
    }
}

/// Per-scan options.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    /// Compute the SHA-1 of the data (SVSP FILE-SHA1). Costs throughput; on by default.
    pub sha1: bool,
    /// clamd's second pass over text: a part that its first bytes type as text (up to
    /// clamd's `MaxScriptNormalize`) is also scanned as normalised text (lower case,
    /// controls and high bytes dropped, UTF-16 read as text), and body signatures found
    /// only there are reported after the raw ones (CLAMD-DET-6, measured on clamd 1.4.6).
    /// Off by default: SVSP detection is byte-exact (SVSP-DET-3).
    pub normalized_text: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            sha1: true,
            normalized_text: false,
        }
    }
}

impl ScanOptions {
    /// Neither SHA-1 nor a text pass: the bare match (a normalised text's own scan).
    fn raw_only() -> Self {
        Self {
            sha1: false,
            normalized_text: false,
        }
    }
}

#[derive(Default)]
struct Hashers {
    md5: Option<Md5>,
    sha1: Option<Sha1>,
    sha256: Option<Sha256>,
}

impl Hashers {
    fn update(&mut self, data: &[u8]) {
        if let Some(h) = self.md5.as_mut() {
            h.update(data);
        }
        if let Some(h) = self.sha1.as_mut() {
            h.update(data);
        }
        if let Some(h) = self.sha256.as_mut() {
            h.update(data);
        }
    }
}

/// Scans one byte stream fed in chunks of any size.
pub struct StreamScanner {
    db: Arc<SignatureDb>,
    size: u64,
    head: Vec<u8>,
    head_cap: usize,
    /// Incremental digests for hash signatures (only when they cannot use `head`).
    sig_hashers: Hashers,
    sha1: Option<Sha1>,
    carry: Vec<u8>,
    dfa: Option<(Cache, LazyStateID)>,
    tail: Vec<u8>,
    tail_cap: usize,
    first_end: Vec<Option<u64>>,
    all: Option<Box<AllMatchState>>,
    text: Option<Box<TextPass>>,
}

/// What all-match mode keeps beyond the first end of each signature.
struct AllMatchState {
    /// Every body match as (end, signature), up to [`MAX_OCCURRENCES`].
    ends: Vec<(u64, usize)>,
}

/// clamd's typing of a part and its pass over the normalised text.
struct TextPass {
    /// The first bytes, to type the part.
    head: Vec<u8>,
    /// The normalised text and its own scanner (`None` once the data is past clamd's
    /// `MaxScriptNormalize` or cannot be text).
    normalized: Option<(Normalizer, Box<StreamScanner>)>,
    buf: Vec<u8>,
}

impl TextPass {
    fn new(scanner: StreamScanner) -> Box<Self> {
        Box::new(TextPass {
            head: Vec::new(),
            normalized: Some((Normalizer::default(), Box::new(scanner))),
            buf: Vec::new(),
        })
    }
}

/// A scanner is a byte sink: `io::copy` a reader into it (each write is one
/// [`StreamScanner::update`]).
impl std::io::Write for StreamScanner {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.update(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl StreamScanner {
    pub fn new(db: Arc<SignatureDb>) -> Self {
        Self::with_options(db, ScanOptions::default())
    }

    pub fn with_options(db: Arc<SignatureDb>, opts: ScanOptions) -> Self {
        let c = &db.compiled;
        let mut head_cap = 0usize;
        let mut sig_hashers = Hashers::default();
        match &c.hash_sizes {
            Some(sizes) => head_cap = sizes.last().copied().unwrap_or(0) as usize,
            None => {
                for algo in &c.algos {
                    match algo {
                        HashAlgo::Md5 => sig_hashers.md5 = Some(Md5::new()),
                        HashAlgo::Sha1 => sig_hashers.sha1 = Some(Sha1::new()),
                        HashAlgo::Sha256 => sig_hashers.sha256 = Some(Sha256::new()),
                    }
                }
            }
        }
        if !c.eicar_standard.is_empty() {
            head_cap = head_cap.max(EICAR_STANDARD_MAX_LEN + 1);
        }
        let dfa = c.dfa.as_ref().map(|b| {
            let mut cache = b.dfa.create_cache();
            let sid = b
                .dfa
                .start_state(&mut cache, &start::Config::new().anchored(Anchored::No))
                .expect("a lazy DFA without quit bytes always has a start state");
            (cache, sid)
        });
        let tail_cap = c.eof.iter().map(|e| e.distance as usize).max().unwrap_or(0);
        let sigs = db.sigs.len();
        Self {
            size: 0,
            head: Vec::with_capacity(head_cap.min(4096)),
            head_cap,
            sig_hashers,
            sha1: opts.sha1.then(Sha1::new),
            carry: Vec::new(),
            dfa,
            tail: Vec::new(),
            tail_cap,
            first_end: vec![None; sigs],
            all: None,
            text: None,
            db,
        }
        .with_text_pass(opts.normalized_text)
    }

    /// The scanner of a part's normalised text (body matches only, no pass of its own).
    fn normalized_scanner(&self) -> Self {
        Self::with_options(Arc::clone(&self.db), ScanOptions::raw_only())
    }

    fn with_text_pass(mut self, on: bool) -> Self {
        if on {
            self.text = Some(TextPass::new(self.normalized_scanner()));
        }
        self
    }

    /// clamd's all-match mode: record every body match (overlapping ones included), type the
    /// data and scan its normalised text too, for [`ScanResult::all`] (CLAMD-SCAN-9).
    pub fn with_all_matches(mut self) -> Self {
        self.text = Some(TextPass::new(self.normalized_scanner().counting()));
        self.counting()
    }

    /// Every body match recorded (the normalised scan records its own this way).
    fn counting(mut self) -> Self {
        self.all = Some(Box::new(AllMatchState { ends: Vec::new() }));
        self
    }

    /// Bytes fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Feed the next chunk.
    pub fn update(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.head.len() < self.head_cap {
            let take = (self.head_cap - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
        }
        self.sig_hashers.update(data);
        if let Some(h) = self.sha1.as_mut() {
            h.update(data);
        }
        self.feed_text(data);
        self.scan_literals(data);
        self.step_dfa(data);
        self.keep_tail(data);
        self.size += data.len() as u64;
    }

    fn feed_text(&mut self, data: &[u8]) {
        let size = self.size;
        let Some(text) = self.text.as_mut() else {
            return;
        };
        // typed once, when the first bytes are all in (not again on every later chunk)
        let mut just_typed = false;
        if text.head.len() < texttype::TYPE_BYTES {
            let take = (texttype::TYPE_BYTES - text.head.len()).min(data.len());
            text.head.extend_from_slice(&data[..take]);
            just_typed = text.head.len() >= texttype::TYPE_BYTES;
        }
        // clamd normalises only text up to MaxScriptNormalize; a part that is not text by its
        // first bytes needs no normalised scan
        let too_big = size + data.len() as u64 > MAX_SCRIPT_NORMALIZE;
        let typed_other = just_typed && texttype::classify(&text.head) != DataClass::Text;
        if too_big || typed_other {
            text.normalized = None;
        }
        if let Some((norm, scanner)) = text.normalized.as_mut() {
            text.buf.clear();
            norm.push(data, &mut text.buf);
            scanner.update(&text.buf);
        }
    }

    /// A body match of `sig` ending at `end`; `new` is false for one seen before (found
    /// again in the bytes carried over a chunk boundary).
    fn record(
        first_end: &mut [Option<u64>],
        all: &mut Option<Box<AllMatchState>>,
        sig: usize,
        end: u64,
        new: bool,
    ) {
        let slot = &mut first_end[sig];
        if slot.is_none_or(|e| end < e) {
            *slot = Some(end);
        }
        if let Some(all) = all.as_mut().filter(|_| new) {
            if all.ends.len() < MAX_OCCURRENCES {
                all.ends.push((end, sig));
            }
        }
    }

    fn scan_literals(&mut self, data: &[u8]) {
        let Some(lits) = self.db.compiled.literals.as_ref() else {
            return;
        };
        let keep = lits.max_len - 1;
        // Matches that straddle the previous chunk and this one.
        let carried = self.carry.len();
        let joint = (!self.carry.is_empty()).then(|| {
            let mut joint = self.carry.clone();
            joint.extend_from_slice(&data[..keep.min(data.len())]);
            (joint, self.size - self.carry.len() as u64)
        });
        match &lits.search {
            LiteralSearch::Automaton(ac) => {
                if let Some((joint, base)) = &joint {
                    for m in ac.find_overlapping_iter(joint) {
                        Self::record(
                            &mut self.first_end,
                            &mut self.all,
                            lits.sig_of[m.pattern().as_usize()],
                            base + m.end() as u64,
                            m.start() < carried && m.end() > carried,
                        );
                    }
                }
                for m in ac.find_overlapping_iter(data) {
                    Self::record(
                        &mut self.first_end,
                        &mut self.all,
                        lits.sig_of[m.pattern().as_usize()],
                        self.size + m.end() as u64,
                        true,
                    );
                }
            }
            LiteralSearch::Substrings(finders) => {
                for (k, finder) in finders.iter().enumerate() {
                    let sig = lits.sig_of[k];
                    if self.all.is_some() {
                        let ends = all_ends(finder, joint.as_ref(), carried, data, self.size);
                        for end in ends {
                            Self::record(&mut self.first_end, &mut self.all, sig, end, true);
                        }
                        continue;
                    }
                    // Only the first end of each signature counts: one found in an earlier
                    // chunk ends before anything in this one.
                    if self.first_end[sig].is_some_and(|e| e <= self.size) {
                        continue;
                    }
                    let len = finder.needle().len() as u64;
                    // A literal's leftmost match is its earliest end; the joint buffer holds
                    // every match that ends in the first `keep` bytes of `data`.
                    let end = joint
                        .as_ref()
                        .and_then(|(j, base)| finder.find(j).map(|p| base + p as u64 + len))
                        .or_else(|| finder.find(data).map(|p| self.size + p as u64 + len));
                    if let Some(end) = end {
                        Self::record(&mut self.first_end, &mut self.all, sig, end, true);
                    }
                }
            }
        }
        if keep > 0 {
            if data.len() >= keep {
                self.carry.clear();
                self.carry.extend_from_slice(&data[data.len() - keep..]);
            } else {
                self.carry.extend_from_slice(data);
                let excess = self.carry.len().saturating_sub(keep);
                self.carry.drain(..excess);
            }
        }
    }

    fn step_dfa(&mut self, data: &[u8]) {
        let (Some(body), Some((cache, sid))) = (self.db.compiled.dfa.as_ref(), self.dfa.as_mut())
        else {
            return;
        };
        let mut state = *sid;
        if state.is_dead() {
            return;
        }
        for (i, &b) in data.iter().enumerate() {
            // Never fails: the cache is cleared instead of giving up (see `compile`).
            state = match body.dfa.next_state(cache, state, b) {
                Ok(s) => s,
                Err(_) => break,
            };
            if state.is_tagged() {
                if state.is_match() {
                    // Matches are reported one byte late: they end before byte `i`.
                    let end = self.size + i as u64;
                    let (first_end, all) = (&mut self.first_end, &mut self.all);
                    Self::record_dfa_matches(body, cache, state, end, first_end, all);
                } else if state.is_dead() {
                    break;
                }
            }
        }
        *sid = state;
    }

    /// Every signature that the DFA's match `state` ends, as ending at `end`.
    fn record_dfa_matches(
        body: &BodyDfa,
        cache: &mut Cache,
        state: LazyStateID,
        end: u64,
        first_end: &mut [Option<u64>],
        all: &mut Option<Box<AllMatchState>>,
    ) {
        for k in 0..body.dfa.match_len(cache, state) {
            let pid = body.dfa.match_pattern(cache, state, k).as_usize();
            Self::record(first_end, all, body.sig_of[pid], end, true);
        }
    }

    fn keep_tail(&mut self, data: &[u8]) {
        if self.tail_cap == 0 {
            return;
        }
        if data.len() >= self.tail_cap {
            self.tail.clear();
            self.tail
                .extend_from_slice(&data[data.len() - self.tail_cap..]);
        } else {
            self.tail.extend_from_slice(data);
            if self.tail.len() > 2 * self.tail_cap {
                let excess = self.tail.len() - self.tail_cap;
                self.tail.drain(..excess);
            }
        }
    }

    /// End of data: the verdict.
    pub fn finish(mut self) -> ScanResult {
        let size = self.size;
        if let (Some(body), Some((cache, sid))) = (self.db.compiled.dfa.as_ref(), self.dfa.as_mut())
        {
            if !sid.is_dead() {
                if let Ok(eoi) = body.dfa.next_eoi_state(cache, *sid) {
                    if eoi.is_match() {
                        let (first_end, all) = (&mut self.first_end, &mut self.all);
                        Self::record_dfa_matches(body, cache, eoi, size, first_end, all);
                    }
                }
            }
        }
        let db = Arc::clone(&self.db);
        let c = &db.compiled;
        for eof in &c.eof {
            if size < eof.distance {
                continue;
            }
            let window_start = self.tail.len() - eof.distance as usize;
            let window = &self.tail[window_start..];
            if let Some(m) = eof.re.search(&Input::new(window).anchored(Anchored::Yes)) {
                let end = size - eof.distance + m.end() as u64;
                Self::record(&mut self.first_end, &mut self.all, eof.sig, end, true);
            }
        }
        let mut whole_file: Vec<usize> = Vec::new();
        self.match_hashes(&mut whole_file);
        if size as usize <= EICAR_STANDARD_MAX_LEN && is_eicar_standard(&self.head) {
            whole_file.extend(&c.eicar_standard);
        }
        whole_file.sort_unstable();
        whole_file.dedup();
        let mut body: Vec<(u64, usize)> = self
            .first_end
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.map(|e| (e, i)))
            .collect();
        body.sort_unstable();
        // the part's clamd type, and its scan as normalised text when it is text
        let (class, mut normalized) = match self.text.take() {
            Some(text) => {
                let class = texttype::classify(&text.head);
                let scan = match (class, text.normalized) {
                    (DataClass::Text, Some((_, scanner))) => Some(scanner.finish()),
                    _ => None,
                };
                (class, scan)
            }
            None => (DataClass::Other, None),
        };
        let all = self.all.take().map(|all| {
            let named = |(end, i): (u64, usize)| Detection {
                name: db.sigs[i].name.clone(),
                end_offset: Some(end),
            };
            let mut ends = all.ends;
            ends.sort_unstable();
            let whole = whole_file.iter().map(|&i| Detection {
                name: db.sigs[i].name.clone(),
                end_offset: None,
            });
            let normalized = normalized
                .as_mut()
                .and_then(|n| n.all.take())
                .map(|n| n.raw)
                .unwrap_or_default();
            Box::new(AllMatches {
                class,
                raw: ends.into_iter().map(named).chain(whole).collect(),
                normalized,
            })
        });
        let mut detections: Vec<Detection> = body
            .into_iter()
            .map(|(end, i)| Detection {
                name: db.sigs[i].name.clone(),
                end_offset: Some(end),
            })
            .chain(whole_file.into_iter().map(|i| Detection {
                name: db.sigs[i].name.clone(),
                end_offset: None,
            }))
            .collect();
        // clamd's second pass over text: what only the normalised text matches comes after
        // (offsets there are the normalised text's)
        for d in normalized.map(|n| n.detections).unwrap_or_default() {
            if !detections.iter().any(|k| k.name == d.name) {
                detections.push(d);
            }
        }
        ScanResult {
            detections,
            size,
            sha1: self.sha1.take().map(|h| h.finalize().into()),
            all,
        }
    }

    fn match_hashes(&mut self, out: &mut Vec<usize>) {
        let c = &self.db.compiled;
        if c.hash_index.is_empty() {
            return;
        }
        let digests: Vec<(HashAlgo, Vec<u8>)> = match &c.hash_sizes {
            Some(sizes) => {
                if !sizes.contains(&self.size) || self.head.len() as u64 != self.size {
                    return;
                }
                c.algos
                    .iter()
                    .map(|a| (*a, digest_of(*a, &self.head)))
                    .collect()
            }
            None => {
                let h = std::mem::take(&mut self.sig_hashers);
                let mut v = Vec::new();
                if let Some(x) = h.md5 {
                    v.push((HashAlgo::Md5, x.finalize().to_vec()));
                }
                if let Some(x) = h.sha1 {
                    v.push((HashAlgo::Sha1, x.finalize().to_vec()));
                }
                if let Some(x) = h.sha256 {
                    v.push((HashAlgo::Sha256, x.finalize().to_vec()));
                }
                v
            }
        };
        for key in digests {
            if let Some(idx) = c.hash_index.get(&key) {
                for &i in idx {
                    if let SigKind::Hash { size, .. } = &self.db.sigs[i].kind {
                        if size.is_none_or(|s| s == self.size) {
                            out.push(i);
                        }
                    }
                }
            }
        }
    }
}

/// Every end of a literal's matches in this chunk, overlapping ones included: those in the
/// joint buffer that start in the carried bytes, then those in `data`.
fn all_ends(
    finder: &memchr::memmem::Finder<'_>,
    joint: Option<&(Vec<u8>, u64)>,
    carried: usize,
    data: &[u8],
    size: u64,
) -> Vec<u64> {
    let len = finder.needle().len();
    let mut ends = Vec::new();
    let mut each = |hay: &[u8], base: u64, keep: &dyn Fn(usize) -> bool| {
        let mut from = 0;
        while let Some(p) = hay.get(from..).and_then(|h| finder.find(h)) {
            let start = from + p;
            if keep(start) && ends.len() < MAX_OCCURRENCES {
                ends.push(base + (start + len) as u64);
            }
            from = start + 1;
        }
    };
    if let Some((j, base)) = joint {
        each(j, *base, &|start| start < carried && start + len > carried);
    }
    each(data, size, &|_| true);
    ends
}

fn digest_of(algo: HashAlgo, data: &[u8]) -> Vec<u8> {
    match algo {
        HashAlgo::Md5 => Md5::digest(data).to_vec(),
        HashAlgo::Sha1 => Sha1::digest(data).to_vec(),
        HashAlgo::Sha256 => Sha256::digest(data).to_vec(),
    }
}

/// Scan a byte slice in one go.
pub fn scan_bytes(db: &Arc<SignatureDb>, data: &[u8]) -> ScanResult {
    let mut s = StreamScanner::new(Arc::clone(db));
    s.update(data);
    s.finish()
}
