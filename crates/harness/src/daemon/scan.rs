//! The scripted servers' tiny scanner: EICAR (whole file, or anywhere) and zip members,
//! recursively, bounded.

use std::io::{Cursor, Read};

use crate::input::eicar;

/// Detection name the scripted clamd reports (ClamAV's hash-signature name).
pub const CLAMD_EICAR_NAME: &str = "Win.Test.EICAR_HDB-1";
/// Detection name the scripted SVSP server reports (svsp.md SVSP-DET-1).
pub const SVSP_EICAR_NAME: &str = "CVDL DOS/EICAR.Test";

/// One scanned part: its member chain below the root and whether it holds EICAR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub chain: Vec<String>,
    pub infected: bool,
}

/// Scans `data`; returns the parts in depth-first order (root first).
pub fn scan(data: &[u8], anywhere: bool) -> Vec<Part> {
    let mut out = Vec::new();
    walk(data, anywhere, Vec::new(), 0, &mut out);
    out
}

/// Whether any part is infected.
pub fn infected(data: &[u8], anywhere: bool) -> bool {
    scan(data, anywhere).iter().any(|p| p.infected)
}

fn walk(data: &[u8], anywhere: bool, chain: Vec<String>, depth: u32, out: &mut Vec<Part>) {
    let e = eicar();
    let hit = if anywhere {
        data.windows(e.len()).any(|w| w == e.as_slice())
    } else {
        data == e.as_slice()
    };
    out.push(Part {
        chain: chain.clone(),
        infected: hit,
    });
    if depth >= 8 || !data.starts_with(b"PK\x03\x04") {
        return;
    }
    let Ok(mut archive) = zip::ZipArchive::new(Cursor::new(data)) else {
        return;
    };
    for i in 0..archive.len().min(1000) {
        let Ok(mut f) = archive.by_index(i) else {
            continue;
        };
        if f.is_dir() {
            continue;
        }
        let name = f.name().to_string();
        let mut buf = Vec::new();
        if (&mut f).take(64 << 20).read_to_end(&mut buf).is_err() {
            continue;
        }
        let mut c = chain.clone();
        c.push(name);
        walk(&buf, anywhere, c, depth + 1, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::InputSpec;

    #[test]
    fn finds_eicar_in_nested_zip() {
        let z = InputSpec::ZipEicar { depth: 3 }.generate().unwrap();
        assert!(infected(&z, false));
        let parts = scan(&z, false);
        assert_eq!(parts.last().unwrap().chain.len(), 3);
        assert!(!infected(&InputSpec::ZipClean.generate().unwrap(), false));
    }

    #[test]
    fn exact_vs_anywhere() {
        let d = InputSpec::EicarAt {
            offset: 10,
            size: 200,
            seed: 1,
        }
        .generate()
        .unwrap();
        assert!(!infected(&d, false));
        assert!(infected(&d, true));
    }
}
