//! How clamd 1.4.6 types a part that no parser opens (`cli_texttype` over the first 1024
//! bytes, after the fixed-offset magic of its built-in file-type table), and the normalised
//! copy of a text part (`textnorm.c`) that `cli_scanscript` matches again: under all-match
//! (CLAMD-SCAN-9) these decide how often a name repeats ([`crate::AllMatches`]).

/// Bytes clamd types a part from (`CL_FILE_MBUFF_SIZE`).
pub(crate) const TYPE_BYTES: usize = 1024;

/// clamd's `MaxScriptNormalize` default: larger text is not normalised (`cli_scanscript`).
pub(crate) const MAX_SCRIPT_NORMALIZE: u64 = 5 << 20;

/// How clamd 1.4.6 types a part that is not opened as a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataClass {
    /// `CL_TYPE_TEXT_*`: raw scan, then the normalised text (`cli_scanscript`).
    Text,
    /// `CL_TYPE_BINARY_DATA`: raw scan, then a second raw scan (`CL_TYPE_OTHER` target),
    /// hashes included.
    Binary,
    /// A type from the file-type table (executables, images, archives, mail): one raw scan.
    Other,
}

/// clamd's type of the first (up to 1024) bytes of a part.
pub(crate) fn classify(head: &[u8]) -> DataClass {
    let head = &head[..head.len().min(TYPE_BYTES)];
    if MAGIC
        .iter()
        .any(|(at, m)| head.get(*at..at + m.len()) == Some(*m))
    {
        return DataClass::Other;
    }
    if is_text(head) || is_utf16(head) {
        DataClass::Text
    } else {
        DataClass::Binary
    }
}

/// `textdet.c`'s "never in text" bytes: NUL to ACK, VT, SO to SUB, FS to US and DEL.
fn never_in_text(b: u8) -> bool {
    matches!(b, 0x00..=0x06 | 0x0b | 0x0e..=0x1a | 0x1c..=0x1f | 0x7f)
}

/// ASCII, ISO-8859 or extended ASCII text (`td_isascii`; its UTF-8 test can only pass where
/// this one does, so it adds nothing).
fn is_text(head: &[u8]) -> bool {
    !head.iter().any(|b| never_in_text(*b))
}

/// `td_isutf16`: 16-bit units after the first two bytes, big-endian unless a byte-order
/// mark says otherwise; without a mark every unit below 128 must be a text character, with
/// one fewer than half the length may not be.
fn is_utf16(head: &[u8]) -> bool {
    if head.len() < 2 {
        return false;
    }
    let (le, bom) = match head[..2] {
        [0xff, 0xfe] => (true, true),
        [0xfe, 0xff] => (false, true),
        _ => (false, false),
    };
    let mut bad = 0usize;
    for pair in head[2..].chunks_exact(2) {
        let c = if le {
            u16::from_le_bytes([pair[0], pair[1]])
        } else {
            u16::from_be_bytes([pair[0], pair[1]])
        };
        if c == 0xfffe {
            return false;
        }
        // text characters below 128: BEL to CR except VT, ESC, and 0x20..0x7e
        if c < 128 && never_in_text(c as u8) {
            if !bom {
                return false;
            }
            bad += 1;
        }
    }
    !(bom && bad >= head.len() / 2)
}

/// `text_normalize_buffer`: control and high bytes dropped, runs of whitespace (HT to CR,
/// space) become one space, upper case becomes lower case.
#[derive(Debug, Default)]
pub(crate) struct Normalizer {
    space_written: bool,
}

impl Normalizer {
    pub(crate) fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        for &b in data {
            match b {
                0x09..=0x0d | b' ' => {
                    if !self.space_written {
                        out.push(b' ');
                    }
                    self.space_written = true;
                }
                0x21..=0x7f => {
                    self.space_written = false;
                    out.push(b.to_ascii_lowercase());
                }
                _ => {}
            }
        }
    }
}

/// The fixed-offset entries of clamd 1.4.6's built-in file-type table (`filetypes_int.h`)
/// that give a type other than text or binary data: a part starting so is scanned once.
const MAGIC: &[(usize, &[u8])] = &[
    (0, b"\x00\x00\x00\x0cjP  \x0d\x0a\x87\x0a"),
    (0, b"\x00\x01\x0d\x0a"),
    (0, b"\x02\x09\x99\x00"),
    (0, b"\x02\x0d\x0d\x0a"),
    (0, b"\x03\x09\x99\x00"),
    (0, b"\x03\xf3\x0d\x0a"),
    (0, b"\x04\x17\x0d\x0a"),
    (0, b"\x04\xf3\x0d\x0a"),
    (0, b"\x09\x0c\x0d\x0a"),
    (0, b"\x0a\xf3\x0d\x0a"),
    (0, b"\x0c\x0d\x0d\x0a"),
    (0, b"\x13\x0c\x0d\x0a"),
    (0, b"\x16\x0d\x0d\x0a"),
    (0, b"\x17\x0d\x0d\x0a"),
    (0, b"\x1d\x0c\x0d\x0a"),
    (0, b"\x1f\x0c\x0d\x0a"),
    (0, b"\x1f\x8b"),
    (0, b" \x0d\x0d\x0a"),
    (0, b"!\x0d\x0d\x0a"),
    (0, b"#@~^"),
    (0, b"%!PS-Adobe-"),
    (0, b"%PDF-"),
    (0, b"'\x0c\x0d\x0a"),
    (0, b"(This file must be converted with BinHex 4.0)"),
    (0, b"*\x0d\x0d\x0a"),
    (0, b"*\xeb\x0d\x0a"),
    (0, b"+\x0d\x0d\x0a"),
    (0, b"+\xeb\x0d\x0a"),
    (0, b",\x0d\x0d\x0a"),
    (0, b"-\x0d\x0d\x0a"),
    (0, b"-\xed\x0d\x0a"),
    (0, b".RMF"),
    (0, b".\xed\x0d\x0a"),
    (0, b"/\x0d\x0d\x0a"),
    (0, b"0\x0d\x0d\x0a"),
    (0, b"070701"),
    (0, b"070702"),
    (0, b"070707"),
    (0, b"1\x0d\x0d\x0a"),
    (0, b"2\x0d\x0d\x0a"),
    (0, b"3\x0d\x0d\x0a"),
    (0, b"7z\xbc\xaf'\x1c"),
    (0, b"7\x7f\x06\x82\x00-\xe2\x18"),
    (0, b"7\x7f\x06\x83\x00-\xe2\x18"),
    (0, b";\x0c\x0d\x0a"),
    (0, b";\xf2\x0d\x0a"),
    (0, b"<\xf2\x0d\x0a"),
    (0, b">\x0d\x0d\x0a"),
    (0, b">From "),
    (0, b"?\x0d\x0d\x0a"),
    (0, b"ALZ\x01"),
    (0, b"BM"),
    (0, b"BZh"),
    (0, b"CWS"),
    (0, b"Date: "),
    (0, b"Delivered-To: "),
    (0, b"Delivery-date: "),
    (0, b"E\x0c\x0d\x0a"),
    (0, b"EGGA"),
    (0, b"Envelope-to: "),
    (0, b"E\xf2\x0d\x0a"),
    (0, b"FWS"),
    (0, b"For: "),
    (0, b"From "),
    (0, b"From: "),
    (0, b"GIF"),
    (0, b"HWP Document File V3.00 \x1a\x01\x02\x03\x04\x05"),
    (0, b"Hi. This is the qmail-send"),
    (0, b"ID3"),
    (0, b"II*\x00"),
    (0, b"ITSF"),
    (
        0,
        b"L\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00F",
    ),
    (0, b"MM"),
    (0, b"MSCF\x00\x00\x00\x00"),
    (0, b"MZ"),
    (0, b"Message-ID: "),
    (0, b"Message-Id: "),
    (0, b"O\x0c\x0d\x0a"),
    (0, b"OggS"),
    (0, b"P\x01\x0d\x0a"),
    (0, b"PK\x03\x04"),
    (0, b"PK00PK\x03\x04"),
    (0, b"RIFF"),
    (0, b"RIFX"),
    (0, b"Rar!"),
    (0, b"Received-SPF: "),
    (0, b"Received: "),
    (0, b"Return-Path: "),
    (0, b"Return-path: "),
    (0, b"SIP-HIT (SIP/H"),
    (0, b"SQLite format 3\x00"),
    (0, b"SYMC\x01\x00"),
    (0, b"SZDD"),
    (0, b"Subject: "),
    (0, b"To: "),
    (0, b"X\x0c\x0d\x0a"),
    (0, b"X-Apparently-To: "),
    (0, b"X-EVS"),
    (0, b"X-Envelope-From: "),
    (0, b"X-Original-To: "),
    (0, b"X-Real-To: "),
    (0, b"X-Sieve: "),
    (0, b"X-Symantec-"),
    (0, b"X-UIDL: "),
    (0, b"Y\xf2\x0d\x0a"),
    (0, b"ZWS"),
    (0, b"[aliases]"),
    (0, b"`\xea"),
    (0, b"b\x0c\x0d\x0a"),
    (0, b"begin "),
    (0, b"c\xf2\x0d\x0a"),
    (0, b"l\x0c\x0d\x0a"),
    (0, b"m\xf2\x0d\x0a"),
    (0, b"n\xf2\x0d\x0a"),
    (0, b"q\xc7"),
    (0, b"v\x0c\x0d\x0a"),
    (0, b"v:\x0aReceived: "),
    (0, b"v:\x0d\x0aReceived: "),
    (0, b"w\xf2\x0d\x0a"),
    (0, b"xar!"),
    (0, b"x\x9f>\x22"),
    (0, b"{\x0a  \x22Magic\x22:\x22CLAMJSONv0\x22"),
    (0, b"{\x5crt"),
    (0, b"\x7fELF"),
    (0, b"\x80\x0c\x0d\x0a"),
    (0, b"\x81\xf2\x0d\x0a"),
    (0, b"\x87\xc6\x0d\x0a"),
    (0, b"\x88\xc6\x0d\x0a"),
    (0, b"\x89.\x0d\x0a"),
    (0, b"\x89PNG"),
    (0, b"\x8a\x0c\x0d\x0a"),
    (0, b"\x8b\xf2\x0d\x0a"),
    (0, b"\x8c\xf2\x0d\x0a"),
    (0, b"\x94\x0c\x0d\x0a"),
    (0, b"\x95\xf2\x0d\x0a"),
    (0, b"\x99N\x0d\x0a"),
    (0, b"\x9e\x0c\x0d\x0a"),
    (0, b"\x9f\xf2\x0d\x0a"),
    (0, b"\xa9\xf2\x0d\x0a"),
    (0, b"\xb2\x0c\x0d\x0a"),
    (0, b"\xb3\xf2\x0d\x0a"),
    (0, b"\xb4\xf2\x0d\x0a"),
    (0, b"\xb6\xb9\xac\xae\xfe\xff\xff\xff"),
    (0, b"\xb8\x0b\x0d\x0a"),
    (0, b"\xbc\x0c\x0d\x0a"),
    (0, b"\xc2\x0b\x0d\x0a"),
    (0, b"\xc6\x0c\x0d\x0a"),
    (0, b"\xc7q"),
    (0, b"\xc7\xf2\x0d\x0a"),
    (0, b"\xcc\x0b\x0d\x0a"),
    (0, b"\xce\xfa\xed\xfe"),
    (0, b"\xcf\xfa\xed\xfe"),
    (0, b"\xd0\x0c\x0d\x0a"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
    (0, b"\xd1\xf2\x0d\x0a"),
    (0, b"\xd2\xf2\x0d\x0a"),
    (0, b"\xd6\x0b\x0d\x0a"),
    (0, b"\xd9\xd5\x05\xf9 \xa1c\xd7"),
    (0, b"\xda\x0c\x0d\x0a"),
    (0, b"\xdb\xf2\x0d\x0a"),
    (0, b"\xe0\x0b\x0d\x0a"),
    (0, b"\xe4\x0c\x0d\x0a"),
    (0, b"\xe4R\x5c{\x8c\xd8\xa7M\xae\xb1Sx\xd0)\x96\xd3"),
    (0, b"\xe5\xf2\x0d\x0a"),
    (0, b"\xea\x0b\x0d\x0a"),
    (0, b"\xee\x0c\x0d\x0a"),
    (0, b"\xef\xf2\x0d\x0a"),
    (0, b"\xf0\x0d\x0d\x0a"),
    (0, b"\xf4\x0b\x0d\x0a"),
    (0, b"\xf5\x0b\x0d\x0a"),
    (0, b"\xf8\x0c\x0d\x0a"),
    (0, b"\xf9\xf2\x0d\x0a"),
    (0, b"\xfc\xc4\x0d\x0a"),
    (0, b"\xfd7zXZ\x00"),
    (0, b"\xfd\xc4\x0d\x0a"),
    (0, b"\xfe\xed\xfa\xce"),
    (0, b"\xfe\xed\xfa\xcf"),
    (0, b"\xff\x0b\x0d\x0a"),
    (0, b"\xff\xd8\xff"),
    (0, b"\xff\xfb\x90"),
    (4, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
    (257, b"ustar"),
    (512, b"EFI PART"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_binaries_and_typed_parts() {
        assert_eq!(classify(b"hello\r\n\tworld"), DataClass::Text);
        assert_eq!(classify("h\u{e9}llo".as_bytes()), DataClass::Text);
        assert_eq!(classify(b"\x00\x01\x02\xff\x00\x01"), DataClass::Binary);
        assert_eq!(classify(b"MZ\x00\x00\x00"), DataClass::Other);
        assert_eq!(classify(b"From: a@b\n"), DataClass::Other);
        // a byte past the first 1024 does not change the type
        let mut late = vec![b'a'; TYPE_BYTES];
        late.push(0);
        assert_eq!(classify(&late), DataClass::Text);
    }

    #[test]
    fn normalising_drops_lowers_and_folds_space() {
        let mut n = Normalizer::default();
        let mut out = Vec::new();
        n.push(b"AbC \t\r\n", &mut out);
        n.push(b" x\x00\xe9Y", &mut out);
        assert_eq!(out, b"abc xy");
    }
}
