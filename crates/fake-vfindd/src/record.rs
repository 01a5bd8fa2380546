//! What the server saw and sent, per connection: the shared bounded recorder of
//! `faults::record`, with SVSP command lines (SVSP has no typed command form).

use faults::record::CommandLine;

/// The recorder of one server.
pub(crate) type Recorder = faults::record::Recorder<CommandLine>;

/// Everything one connection did (`transport` is `tcp from <peer>`, `note` is `denied` for a
/// refused connection).
pub type Transcript = faults::record::Transcript<CommandLine>;

/// A command line as recorded: the keyword as `name`, the line as framed (terminator
/// removed) as `line`.
pub(crate) fn command_line(conn: u64, line: &[u8]) -> CommandLine {
    CommandLine {
        conn,
        name: command_name(line),
        line: line.to_vec(),
        session: None,
        framing: None,
    }
}

/// The keyword of a command line: an SVSP id (digits) skipped, up to `/` or blank, upper
/// case (`SCAN`, `ENABLE`, `QUIT`), as fault triggers name it.
pub fn command_name(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_ascii_whitespace();
    let mut w = words.next().unwrap_or("");
    if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) {
        w = words.next().unwrap_or("");
    }
    w.split('/').next().unwrap_or("").to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SVSP-ID-1: the keyword is found after an id, before `/FILE`.
    #[test]
    fn command_names_skip_ids_and_options() {
        assert_eq!(command_name(b"12 SCAN/FILE /x"), "SCAN");
        assert_eq!(command_name(b"enable"), "ENABLE");
        assert_eq!(command_name(b""), "");
    }
}
