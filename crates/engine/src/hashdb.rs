//! ClamAV `.hdb` / `.hsb` hash signatures (CLAMD-DET-4): `hash:size:name[:min-fl[:max-fl]]`.

/// Hash algorithm of a hash signature, chosen by digest length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgo {
    Md5,
    Sha1,
    Sha256,
}

/// A parsed hash signature line.
#[derive(Debug, Clone)]
pub struct HashSig {
    pub name: String,
    pub algo: HashAlgo,
    pub digest: Vec<u8>,
    /// `None` for `*` (any size).
    pub size: Option<u64>,
}

/// Parse one line of a `.hdb` (MD5 only) or `.hsb` (MD5, SHA-1 or SHA-256) file.
pub fn parse_line(line: &str, sha_allowed: bool) -> Result<HashSig, String> {
    let fields: Vec<&str> = line.split(':').collect();
    if fields.len() < 3 || fields.len() > 5 {
        return Err(format!(
            "expected hash:size:name[:min-flevel[:max-flevel]], got {} fields",
            fields.len()
        ));
    }
    let digest = hex::decode(fields[0]).map_err(|_| format!("bad hash `{}`", fields[0]))?;
    let algo = match (digest.len(), sha_allowed) {
        (16, _) => HashAlgo::Md5,
        (20, true) => HashAlgo::Sha1,
        (32, true) => HashAlgo::Sha256,
        (_, false) => return Err(format!("`{}` is not an MD5 hash", fields[0])),
        _ => {
            return Err(format!(
                "`{}` is not an MD5, SHA-1 or SHA-256 hash",
                fields[0]
            ))
        }
    };
    let name = fields[2];
    if name.is_empty() {
        return Err("empty signature name".into());
    }
    let min_flevel = match fields.get(3) {
        Some(f) if !f.is_empty() => Some(
            f.parse::<u32>()
                .map_err(|_| format!("bad functionality level `{f}`"))?,
        ),
        _ => None,
    };
    if let Some(f) = fields.get(4).filter(|f| !f.is_empty()) {
        f.parse::<u32>()
            .map_err(|_| format!("bad functionality level `{f}`"))?;
    }
    let size = if fields[1] == "*" {
        // ClamAV accepts a wildcard size only for engines that know it (flevel 73+).
        if min_flevel.unwrap_or(0) < 73 {
            return Err("size `*` requires a minimum functionality level of 73 or more".into());
        }
        None
    } else {
        Some(
            fields[1]
                .parse::<u64>()
                .map_err(|_| format!("bad size `{}`", fields[1]))?,
        )
    };
    Ok(HashSig {
        name: name.to_string(),
        algo,
        digest,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_eicar_hdb_line() {
        let s = parse_line(
            "44d88612fea8a8f36de82e1278abb02f:68:Win.Test.EICAR_HDB-1",
            false,
        )
        .unwrap();
        assert_eq!(s.algo, HashAlgo::Md5);
        assert_eq!(s.size, Some(68));
    }

    #[test]
    fn sha_lengths_only_in_hsb_and_star_needs_flevel() {
        let sha1 = "3395856ce81f2b7382dee72602f798b642f14140:68:X";
        assert!(parse_line(sha1, false).is_err());
        assert_eq!(parse_line(sha1, true).unwrap().algo, HashAlgo::Sha1);
        assert!(parse_line("44d88612fea8a8f36de82e1278abb02f:*:X", true).is_err());
        assert_eq!(
            parse_line("44d88612fea8a8f36de82e1278abb02f:*:X:73", true)
                .unwrap()
                .size,
            None
        );
        assert!(parse_line("44d8:68:X", true).is_err());
        assert!(parse_line("44d88612fea8a8f36de82e1278abb02f:6x:X", true).is_err());
    }
}
