//! Bytes shown as text in traces, transcripts and reports.

/// Printable ASCII as is; `\0 \n \r \t \\` escaped; every other byte as `\xHH`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            0 => out.push_str("\\0"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_controls_and_high_bytes() {
        assert_eq!(
            super::escape(b"zINSTREAM\0\x01\n\r\t\\\xff ok"),
            "zINSTREAM\\0\\x01\\n\\r\\t\\\\\\xff ok"
        );
    }
}
