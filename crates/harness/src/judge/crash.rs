//! Recognizing a client that crashed: an uncaught exception or a panic leaves a trace in its
//! output whose one telling line (the exception, the panic message) is what a client author
//! needs to read first.

/// A crash found in a client's output: which runtime reported it and its telling line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// "Python traceback", "stack trace", "panic", ...
    pub what: &'static str,
    /// The exception or panic line (trimmed).
    pub line: String,
}

/// The crash in `stderr` (else `stdout`), if either holds a traceback, stack trace or panic.
pub fn find(stderr: &str, stdout: &str) -> Option<Crash> {
    in_text(stderr).or_else(|| in_text(stdout))
}

fn in_text(text: &str) -> Option<Crash> {
    let lines: Vec<&str> = text.lines().collect();
    python(&lines)
        .or_else(|| rust_panic(&lines))
        .or_else(|| java(&lines))
        .or_else(|| go_panic(&lines))
        .or_else(|| js(&lines))
}

/// Python prints the exception last, after the frames, as the one unindented line after
/// the last `Traceback (most recent call last):`.
fn python(lines: &[&str]) -> Option<Crash> {
    let start = lines
        .iter()
        .rposition(|l| l.trim_end() == "Traceback (most recent call last):")?;
    let line = lines[start + 1..]
        .iter()
        .find(|l| !l.is_empty() && !l.starts_with(char::is_whitespace))
        .map_or("(no exception line)", |l| l.trim());
    Some(Crash {
        what: "Python traceback",
        line: line.into(),
    })
}

/// `thread 'main' panicked at src/x.rs:1:2:` with the message on the next line (Rust 1.73+)
/// or after the location on the same line (older).
fn rust_panic(lines: &[&str]) -> Option<Crash> {
    let i = lines.iter().position(|l| l.contains("' panicked at "))?;
    let head = lines[i].trim();
    let line = match lines.get(i + 1) {
        Some(next) if head.ends_with(':') && !next.trim().is_empty() => {
            format!("{head} {}", next.trim())
        }
        _ => head.to_string(),
    };
    Some(Crash {
        what: "panic",
        line,
    })
}

fn java(lines: &[&str]) -> Option<Crash> {
    let l = lines
        .iter()
        .find(|l| l.starts_with("Exception in thread "))?;
    Some(Crash {
        what: "Java exception",
        line: l.trim().into(),
    })
}

fn go_panic(lines: &[&str]) -> Option<Crash> {
    let l = lines.iter().find(|l| l.starts_with("panic: "))?;
    Some(Crash {
        what: "panic",
        line: l.trim().into(),
    })
}

/// Node (and other JS runtimes) print the error first, then frames `    at f (file:1:2)`;
/// an uncaught error may be preceded by the source line and a caret.
fn js(lines: &[&str]) -> Option<Crash> {
    if !lines.iter().any(|l| l.trim_start().starts_with("at ")) {
        return None;
    }
    let l = lines.iter().find(|l| {
        let t = l.trim_start();
        let name = t.split([':', ' ', '[']).next().unwrap_or("");
        (name.ends_with("Error") || name.ends_with("Exception") || name == "Uncaught")
            && t.len() > name.len()
    })?;
    Some(Crash {
        what: "stack trace",
        line: l.trim().into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_traceback_names_its_exception_line() {
        let err = "Traceback (most recent call last):\n  File \"x.py\", line 3, in <module>\n    connect()\n  File \"x.py\", line 2, in connect\nConnectionRefusedError: [Errno 111] Connection refused\n";
        let c = find(err, "").unwrap();
        assert_eq!(c.what, "Python traceback");
        assert_eq!(
            c.line,
            "ConnectionRefusedError: [Errno 111] Connection refused"
        );
        // chained: the last traceback's exception
        let chained = format!("{err}\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"x.py\", line 9\nclamd.ConnectionError: Error 111 connecting\n");
        assert_eq!(
            find(&chained, "").unwrap().line,
            "clamd.ConnectionError: Error 111 connecting"
        );
    }

    #[test]
    fn node_stack_trace_names_its_error_line() {
        let err = "/app/scan.js:4\n    throw e;\n    ^\n\nError: connect ECONNREFUSED 127.0.0.1:3310\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)\n";
        let c = find(err, "").unwrap();
        assert_eq!(c.what, "stack trace");
        assert_eq!(c.line, "Error: connect ECONNREFUSED 127.0.0.1:3310");
        let module = "node:internal/modules/cjs/loader:1145\n  throw err;\n  ^\n\nError: Cannot find module 'clamav.js'\nRequire stack:\n- /app/scan.js\n    at Module._resolveFilename (node:internal/modules/cjs/loader:1142:15)\n";
        assert_eq!(
            find(module, "").unwrap().line,
            "Error: Cannot find module 'clamav.js'"
        );
    }

    #[test]
    fn panics_and_java_exceptions_are_crashes() {
        let rust = "thread 'main' panicked at src/main.rs:2:5:\nconnection refused\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            find(rust, "").unwrap().line,
            "thread 'main' panicked at src/main.rs:2:5: connection refused"
        );
        assert_eq!(
            find("panic: dial tcp: refused\n\ngoroutine 1 [running]:\n", "")
                .unwrap()
                .what,
            "panic"
        );
        let java = "Exception in thread \"main\" java.net.ConnectException: Connection refused\n\tat x.y(Z.java:1)\n";
        assert_eq!(find(java, "").unwrap().what, "Java exception");
    }

    /// An error the client reports itself (no trace) is not a crash.
    #[test]
    fn an_ordinary_error_message_is_not_a_crash() {
        assert_eq!(
            find(
                "ERROR: Could not connect to clamd on 127.0.0.1: Connection refused\n",
                ""
            ),
            None
        );
        assert_eq!(find("", ""), None);
        assert_eq!(find("Error: 2 files at risk\n", ""), None);
    }
}
