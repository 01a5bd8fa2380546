//! The EICAR anti-virus test file, built at run time.
//!
//! The 68 bytes are stored XOR-0x5A and hex-encoded so that no file of this repository holds
//! the plain string (on-access scanners on developers' machines would quarantine it).

/// Each byte of the EICAR file XOR [`KEY`], hex-encoded.
const ENCODED: &str = "026f157b0a7f1a1b0a016e060a00026f6e720a04736d1919736d277e1f13191b08770\
90e1b141e1b081e771b140e130c13080f09770e1f090e771c13161f7b7e12711270";
const KEY: u8 = 0x5A;

/// MD5 of the 68-byte EICAR file (CLAMD-DET-1).
pub const EICAR_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";
/// SHA-1 of the 68-byte EICAR file (SVSP-SCAN-FILESHA1-1).
pub const EICAR_SHA1: &str = "3395856ce81f2b7382dee72602f798b642f14140";
/// Length of the EICAR file.
pub const EICAR_LEN: usize = 68;
/// The EICAR standard allows trailing whitespace up to this total file length.
pub const EICAR_STANDARD_MAX_LEN: usize = 128;

/// The 68-byte EICAR test file.
pub fn eicar() -> Vec<u8> {
    let bytes = hex::decode(ENCODED).expect("the embedded EICAR encoding is valid hex");
    bytes.into_iter().map(|b| b ^ KEY).collect()
}

/// How the built-in EICAR signature matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EicarMode {
    /// Whole-file hash, as ClamAV's official `Win.Test.EICAR_HDB-1`: exactly the 68 bytes
    /// (CLAMD-DET-1, CLAMD-DET-3: EICAR plus a newline is clean).
    #[default]
    Exact,
    /// The EICAR standard: the 68 bytes at offset 0, optionally followed by whitespace
    /// (space, tab, CR, LF, Ctrl-Z) up to 128 bytes in total.
    Standard,
    /// The 68 bytes anywhere in the data (what mail-gateway tests often expect).
    Anywhere,
}

impl std::str::FromStr for EicarMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "exact" | "hash" => Ok(Self::Exact),
            "standard" => Ok(Self::Standard),
            "anywhere" => Ok(Self::Anywhere),
            other => Err(format!(
                "unknown EICAR mode `{other}` (expected exact, standard or anywhere)"
            )),
        }
    }
}

/// True when `data` is an EICAR file as the EICAR standard defines it.
pub(crate) fn is_eicar_standard(data: &[u8]) -> bool {
    if data.len() < EICAR_LEN || data.len() > EICAR_STANDARD_MAX_LEN {
        return false;
    }
    data[..EICAR_LEN] == eicar()[..]
        && data[EICAR_LEN..]
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x1a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};

    #[test]
    fn decodes_to_the_published_file() {
        let e = eicar();
        assert_eq!(e.len(), EICAR_LEN);
        assert_eq!(hex::encode(Md5::digest(&e)), EICAR_MD5);
        assert_eq!(hex::encode(sha1::Sha1::digest(&e)), EICAR_SHA1);
    }

    #[test]
    fn standard_allows_only_trailing_whitespace_up_to_128() {
        let mut e = eicar();
        assert!(is_eicar_standard(&e));
        e.extend_from_slice(b"\r\n\x1a \t");
        assert!(is_eicar_standard(&e));
        e.push(b'x');
        assert!(!is_eicar_standard(&e));
        let mut long = eicar();
        long.resize(EICAR_STANDARD_MAX_LEN + 1, b' ');
        assert!(!is_eicar_standard(&long));
    }
}
