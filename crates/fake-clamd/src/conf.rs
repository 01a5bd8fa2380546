//! clamd.conf parsing with clamd 1.4's syntax, option table and error messages
//! (CLAMD-CONF-1/2; checked against the real clamd 1.4.6 where the spec was silent:
//! option names are matched case-insensitively, deprecated names are accepted, a line of
//! at most 2 bytes is ignored, a name without value is "Missing argument").

use std::collections::BTreeMap;
use std::fmt;

/// Value type of a directive (CLAMD-CONF-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `yes|no|true|false|1|0`, case-insensitive.
    Bool,
    /// `^[0-9]+$`.
    Number,
    /// `^[0-9]+[KMG]?$`, case-insensitive suffix, binary multiples.
    Size,
    /// Anything.
    Str,
    /// One of fixed words, case-insensitive.
    Enum(&'static [&'static str]),
}

/// Directives that may repeat (all values are kept).
const MULTIPLE: &[&str] = &[
    "TCPAddr",
    "ExcludePath",
    "ExcludePUA",
    "IncludePUA",
    "OnAccessIncludePath",
    "OnAccessExcludePath",
    "OnAccessExcludeUname",
    "OnAccessExcludeUID",
    "OnAccessMountPath",
];

/// Every directive clamd 1.4.6 accepts in clamd.conf (from clamd.conf(5) plus the deprecated
/// names the real daemon still accepts), with its value type.
pub const DIRECTIVES: &[(&str, Kind)] = &[
    ("AlertBrokenExecutables", Kind::Bool),
    ("AlertBrokenMedia", Kind::Bool),
    ("AlertEncrypted", Kind::Bool),
    ("AlertEncryptedArchive", Kind::Bool),
    ("AlertEncryptedDoc", Kind::Bool),
    ("AlertExceedsMax", Kind::Bool),
    ("AlertOLE2Macros", Kind::Bool),
    ("AlertPartitionIntersection", Kind::Bool),
    ("AlertPhishingCloak", Kind::Bool),
    ("AlertPhishingSSLMismatch", Kind::Bool),
    ("AlgorithmicDetection", Kind::Bool),
    ("AllowAllMatchScan", Kind::Bool),
    ("AllowSupplementaryGroups", Kind::Str),
    ("ArchiveBlockEncrypted", Kind::Bool),
    ("ArchiveBlockMax", Kind::Str),
    ("ArchiveLimitMemoryUsage", Kind::Str),
    ("ArchiveMaxCompressionRatio", Kind::Str),
    ("ArchiveMaxFiles", Kind::Str),
    ("ArchiveMaxRecursion", Kind::Str),
    ("ArchiveMaxScanSize", Kind::Str),
    ("BlockMax", Kind::Bool),
    ("Bytecode", Kind::Bool),
    (
        "BytecodeMode",
        Kind::Enum(&["Auto", "ForceJIT", "ForceInterpreter", "Test"]),
    ),
    ("BytecodeSecurity", Kind::Enum(&["TrustSigned", "Paranoid"])),
    ("BytecodeTimeout", Kind::Number),
    ("BytecodeUnsigned", Kind::Bool),
    ("CacheSize", Kind::Number),
    ("CommandReadTimeout", Kind::Number),
    ("ConcurrentDatabaseReload", Kind::Bool),
    ("CrossFilesystems", Kind::Bool),
    ("DatabaseDirectory", Kind::Str),
    ("Debug", Kind::Bool),
    ("DetectBrokenExecutables", Kind::Str),
    ("DetectPUA", Kind::Bool),
    ("DevACDepth", Kind::Number),
    ("DevACOnly", Kind::Bool),
    ("DevLiblog", Kind::Bool),
    ("DevPerformance", Kind::Bool),
    ("DisableCache", Kind::Bool),
    ("DisableCertCheck", Kind::Bool),
    ("ExcludePUA", Kind::Str),
    ("ExcludePath", Kind::Str),
    ("ExitOnOOM", Kind::Bool),
    ("ExtendedDetectionInfo", Kind::Bool),
    ("FailIfCvdOlderThan", Kind::Number),
    ("FixStaleSocket", Kind::Bool),
    ("FollowDirectorySymlinks", Kind::Bool),
    ("FollowFileSymlinks", Kind::Bool),
    ("ForceToDisk", Kind::Bool),
    ("Foreground", Kind::Bool),
    ("GenerateMetadataJson", Kind::Bool),
    ("HeuristicAlerts", Kind::Bool),
    ("HeuristicScanPrecedence", Kind::Bool),
    ("IdleTimeout", Kind::Number),
    ("IncludePUA", Kind::Str),
    ("LeaveTemporaryFiles", Kind::Bool),
    ("LocalSocket", Kind::Str),
    ("LocalSocketGroup", Kind::Str),
    ("LocalSocketMode", Kind::Str),
    ("LogClean", Kind::Bool),
    ("LogFacility", Kind::Str),
    ("LogFile", Kind::Str),
    ("LogFileMaxSize", Kind::Size),
    ("LogFileUnlock", Kind::Bool),
    ("LogRotate", Kind::Bool),
    ("LogSyslog", Kind::Bool),
    ("LogTime", Kind::Bool),
    ("LogVerbose", Kind::Bool),
    ("MailFollowURLs", Kind::Str),
    ("MailMaxRecursion", Kind::Str),
    ("MaxConnectionQueueLength", Kind::Number),
    ("MaxDirectoryRecursion", Kind::Number),
    ("MaxEmbeddedPE", Kind::Size),
    ("MaxFileSize", Kind::Size),
    ("MaxFiles", Kind::Number),
    ("MaxHTMLNoTags", Kind::Size),
    ("MaxHTMLNormalize", Kind::Size),
    ("MaxIconsPE", Kind::Number),
    ("MaxPartitions", Kind::Number),
    ("MaxQueue", Kind::Number),
    ("MaxRecHWP3", Kind::Number),
    ("MaxRecursion", Kind::Number),
    ("MaxScanSize", Kind::Size),
    ("MaxScanTime", Kind::Number),
    ("MaxScriptNormalize", Kind::Size),
    ("MaxThreads", Kind::Number),
    ("MaxZipTypeRcg", Kind::Size),
    ("OLE2BlockMacros", Kind::Bool),
    ("OfficialDatabaseOnly", Kind::Bool),
    ("OnAccessCurlTimeout", Kind::Number),
    ("OnAccessDenyOnError", Kind::Bool),
    ("OnAccessDisableDDD", Kind::Bool),
    ("OnAccessExcludePath", Kind::Str),
    ("OnAccessExcludeRootUID", Kind::Bool),
    ("OnAccessExcludeUID", Kind::Number),
    ("OnAccessExcludeUname", Kind::Str),
    ("OnAccessExtraScanning", Kind::Bool),
    ("OnAccessIncludePath", Kind::Str),
    ("OnAccessMaxFileSize", Kind::Size),
    ("OnAccessMaxThreads", Kind::Number),
    ("OnAccessMountPath", Kind::Str),
    ("OnAccessPrevention", Kind::Bool),
    ("OnAccessRetryAttempts", Kind::Number),
    ("PCREMatchLimit", Kind::Number),
    ("PCREMaxFileSize", Kind::Size),
    ("PCRERecMatchLimit", Kind::Number),
    ("PartitionIntersection", Kind::Bool),
    ("PhishingAlwaysBlockCloak", Kind::Bool),
    ("PhishingAlwaysBlockSSLMismatch", Kind::Bool),
    ("PhishingScanURLs", Kind::Bool),
    ("PhishingSignatures", Kind::Bool),
    ("PidFile", Kind::Str),
    ("PreludeAnalyzerName", Kind::Str),
    ("PreludeEnable", Kind::Bool),
    ("ReadTimeout", Kind::Number),
    ("ScanArchive", Kind::Bool),
    ("ScanELF", Kind::Bool),
    ("ScanHTML", Kind::Bool),
    ("ScanHWP3", Kind::Bool),
    ("ScanImage", Kind::Bool),
    ("ScanImageFuzzyHash", Kind::Bool),
    ("ScanMail", Kind::Bool),
    ("ScanOLE2", Kind::Bool),
    ("ScanOnAccess", Kind::Str),
    ("ScanOneNote", Kind::Bool),
    ("ScanPDF", Kind::Bool),
    ("ScanPE", Kind::Bool),
    ("ScanPartialMessages", Kind::Bool),
    ("ScanSWF", Kind::Bool),
    ("ScanXMLDOCS", Kind::Bool),
    ("SelfCheck", Kind::Number),
    ("SendBufTimeout", Kind::Number),
    ("StreamMaxLength", Kind::Size),
    ("StreamMaxPort", Kind::Number),
    ("StreamMinPort", Kind::Number),
    ("StructuredCCOnly", Kind::Bool),
    ("StructuredDataDetection", Kind::Bool),
    ("StructuredMinCreditCardCount", Kind::Number),
    ("StructuredMinSSNCount", Kind::Number),
    ("StructuredSSNFormatNormal", Kind::Bool),
    ("StructuredSSNFormatStripped", Kind::Bool),
    ("TCPAddr", Kind::Str),
    ("TCPSocket", Kind::Number),
    ("TemporaryDirectory", Kind::Str),
    ("User", Kind::Str),
    ("VirusEvent", Kind::Str),
];

/// A config error, displayed exactly as clamd prints it (two lines for file errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfError {
    /// The file cannot be read.
    Open { file: String },
    /// Not a regular file, or larger than [`MAX_CONF_BYTES`] (hardening item 5: `-c /dev/zero`
    /// must not read forever; clamd itself hangs on it).
    NotAConfigFile { file: String, why: String },
    /// `Example` line.
    Example { file: String },
    /// Name without value.
    MissingArgument { file: String, line: usize },
    /// Unknown name.
    UnknownOption {
        file: String,
        line: usize,
        name: String,
    },
    /// Value fails its type's pattern.
    IncorrectFormat { file: String, name: String },
    /// `"` without closing quote.
    MissingQuote {
        file: String,
        line: usize,
        name: String,
    },
}

impl ConfError {
    /// The config file named in the last line.
    fn file(&self) -> &str {
        match self {
            ConfError::Open { file }
            | ConfError::NotAConfigFile { file, .. }
            | ConfError::Example { file }
            | ConfError::MissingArgument { file, .. }
            | ConfError::UnknownOption { file, .. }
            | ConfError::IncorrectFormat { file, .. }
            | ConfError::MissingQuote { file, .. } => file,
        }
    }

    /// What is wrong, clamd's first line (none when it cannot open the file).
    fn what(&self) -> Option<String> {
        let what = match self {
            ConfError::Open { .. } => return None,
            ConfError::NotAConfigFile { file, why } => format!("{file}: {why}"),
            ConfError::Example { file } => format!("Please edit the example config file {file}"),
            ConfError::MissingArgument { file, line } => {
                format!("Missing argument for option at {file}:{line}")
            }
            ConfError::UnknownOption { file, line, name } => {
                format!("Parse error at {file}:{line}: Unknown option {name}")
            }
            ConfError::IncorrectFormat { name, .. } => {
                format!("Incorrect argument format for option {name}")
            }
            ConfError::MissingQuote { file, line, name } => {
                format!("Missing closing parenthesis in option {name} at {file}:{line}")
            }
        };
        Some(what)
    }
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(what) = self.what() {
            writeln!(f, "ERROR: {what}")?;
        }
        write!(f, "ERROR: Can't open/parse the config file {}", self.file())
    }
}

impl std::error::Error for ConfError {}

/// Largest clamd.conf read (a distribution's commented example is about 30 KiB).
pub const MAX_CONF_BYTES: u64 = 1 << 20;

/// A parsed clamd.conf: canonical directive name -> values (in file order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClamdConf {
    values: BTreeMap<&'static str, Vec<String>>,
}

fn lookup(name: &str) -> Option<(&'static str, Kind)> {
    DIRECTIVES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(n, k)| (n, k))
}

/// Parse a bool value (CLAMD-CONF-2).
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// Parse a number value (CLAMD-CONF-2); overlong numbers saturate.
pub fn parse_number(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(v.parse::<u64>().unwrap_or(u64::MAX))
}

/// Parse a size value (CLAMD-CONF-2): `1M` = 1048576.
pub fn parse_size(v: &str) -> Option<u64> {
    let (digits, mult) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 1u64 << 10),
        b'm' | b'M' => (&v[..v.len() - 1], 1u64 << 20),
        b'g' | b'G' => (&v[..v.len() - 1], 1u64 << 30),
        _ => (v, 1),
    };
    parse_number(digits).map(|n| n.saturating_mul(mult))
}

fn valid(kind: Kind, v: &str) -> bool {
    match kind {
        Kind::Bool => parse_bool(v).is_some(),
        Kind::Number => parse_number(v).is_some(),
        Kind::Size => parse_size(v).is_some(),
        Kind::Str => true,
        Kind::Enum(words) => words.iter().any(|w| w.eq_ignore_ascii_case(v)),
    }
}

impl ClamdConf {
    /// Parse clamd.conf text; `file` names it in error messages.
    pub fn parse(text: &str, file: &str) -> Result<ClamdConf, ConfError> {
        let mut conf = ClamdConf::default();
        for (idx, raw) in text.split_inclusive('\n').enumerate() {
            let lineno = idx + 1;
            // CLAMD-CONF-1: lines of <= 2 bytes (newline included) and comments are ignored
            if raw.len() <= 2 {
                continue;
            }
            let line = raw.trim_end_matches(['\n', '\r']);
            let line = line.trim_start_matches([' ', '\t']);
            if line.starts_with('#') {
                continue;
            }
            if line.starts_with("Example") {
                return Err(ConfError::Example {
                    file: file.to_string(),
                });
            }
            let (name, rest) = match line.find([' ', '\t']) {
                Some(i) => (&line[..i], line[i..].trim_start_matches([' ', '\t'])),
                None => (line, ""),
            };
            let mut value = rest.trim_end_matches([' ', '\t']).to_string();
            if value.is_empty() {
                return Err(ConfError::MissingArgument {
                    file: file.to_string(),
                    line: lineno,
                });
            }
            let Some((canon, kind)) = lookup(name) else {
                return Err(ConfError::UnknownOption {
                    file: file.to_string(),
                    line: lineno,
                    name: name.to_string(),
                });
            };
            if let Some(q) = value.strip_prefix('"') {
                match q.rfind('"') {
                    Some(end) => value = q[..end].to_string(),
                    None => {
                        return Err(ConfError::MissingQuote {
                            file: file.to_string(),
                            line: lineno,
                            name: canon.to_string(),
                        })
                    }
                }
            }
            if !valid(kind, &value) {
                return Err(ConfError::IncorrectFormat {
                    file: file.to_string(),
                    name: canon.to_string(),
                });
            }
            let slot = conf.values.entry(canon).or_default();
            if !MULTIPLE.contains(&canon) {
                slot.clear();
            }
            slot.push(value);
        }
        Ok(conf)
    }

    /// Read and parse a file: a regular file of at most [`MAX_CONF_BYTES`].
    pub fn load(path: &std::path::Path) -> Result<ClamdConf, ConfError> {
        use std::io::Read;
        let file = path.display().to_string();
        let open = || ConfError::Open { file: file.clone() };
        let not_conf = |why: String| ConfError::NotAConfigFile {
            file: file.clone(),
            why,
        };
        // checked before opening: opening a FIFO with no writer would block
        let meta = std::fs::metadata(path).map_err(|_| open())?;
        if meta.is_dir() {
            return Err(open());
        }
        if !meta.is_file() {
            return Err(not_conf("not a regular file".into()));
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_CONF_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|_| open())?;
        if bytes.len() as u64 > MAX_CONF_BYTES {
            return Err(not_conf(format!(
                "larger than {} KiB, not a clamd.conf",
                MAX_CONF_BYTES >> 10
            )));
        }
        ClamdConf::parse(&String::from_utf8_lossy(&bytes), &file)
    }

    /// Set a directive programmatically (same validation rules).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfError> {
        let text = format!("{name} {value}\n");
        let one = ClamdConf::parse(&text, "<override>")?;
        for (k, v) in one.values {
            let slot = self.values.entry(k).or_default();
            if !MULTIPLE.contains(&k) {
                slot.clear();
            }
            slot.extend(v);
        }
        Ok(())
    }

    /// Last value of a directive.
    pub fn get(&self, name: &str) -> Option<&str> {
        let (canon, _) = lookup(name)?;
        self.values
            .get(canon)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// All values of a directive.
    pub fn get_all(&self, name: &str) -> &[String] {
        lookup(name)
            .and_then(|(canon, _)| self.values.get(canon))
            .map_or(&[], Vec::as_slice)
    }

    /// Bool value (validated at parse time).
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(parse_bool)
    }

    /// Number value.
    pub fn number(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(parse_number)
    }

    /// Size value in bytes.
    pub fn size(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(parse_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        ClamdConf::parse(text, "/x/c.conf").unwrap_err().to_string()
    }

    /// CLAMD-CONF-1.
    #[test]
    fn clamd_conf_1_syntax() {
        let c = ClamdConf::parse(
            "# comment\n\n  TCPSocket 0 \t\nA\nlocalsocket\t/tmp/s\nTCPAddr 127.0.0.1\nTCPAddr ::1\nLogFile \"/tmp/a b\" x\"\n",
            "f",
        )
        .unwrap();
        assert_eq!(c.number("TCPSocket"), Some(0));
        assert_eq!(c.get("LocalSocket"), Some("/tmp/s"));
        assert_eq!(c.get_all("TCPAddr"), ["127.0.0.1", "::1"]);
        assert_eq!(c.get("LogFile"), Some("/tmp/a b\" x"));
    }

    /// CLAMD-CONF-1.
    #[test]
    fn clamd_conf_1_errors_match_clamd() {
        assert_eq!(
            err("Foo bar\n"),
            "ERROR: Parse error at /x/c.conf:1: Unknown option Foo\nERROR: Can't open/parse the config file /x/c.conf"
        );
        assert_eq!(
            err("  Example\n"),
            "ERROR: Please edit the example config file /x/c.conf\nERROR: Can't open/parse the config file /x/c.conf"
        );
        assert_eq!(
            err("\n\nFoo\n"),
            "ERROR: Missing argument for option at /x/c.conf:3\nERROR: Can't open/parse the config file /x/c.conf"
        );
        assert_eq!(
            err("foreground maybe\n"),
            "ERROR: Incorrect argument format for option Foreground\nERROR: Can't open/parse the config file /x/c.conf"
        );
        assert!(err("LogFile \"abc\n")
            .starts_with("ERROR: Missing closing parenthesis in option LogFile at /x/c.conf:1\n"));
        assert!(
            err("Foreground yes # c\n").contains("Incorrect argument format for option Foreground")
        );
    }

    /// CLAMD-CONF-2.
    #[test]
    fn clamd_conf_2_types() {
        assert_eq!(parse_size("1M"), Some(1048576));
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("10X"), None);
        assert_eq!(parse_number("+3"), None);
        assert_eq!(parse_number("-3"), None);
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("on"), None);
        assert!(
            err("MaxScanTime 10K\n").contains("Incorrect argument format for option MaxScanTime")
        );
        assert!(ClamdConf::parse("BytecodeMode auto\n", "f").is_ok());
        assert!(ClamdConf::parse("BytecodeMode 1\n", "f").is_err());
    }

    /// CLAMD-CONF-3.
    #[test]
    fn clamd_conf_3_debian_config_accepted() {
        // the directives of Debian's generated clamd.conf, including deprecated names
        let text = "LocalSocket /var/run/clamav/clamd.ctl\nFixStaleSocket true\nLocalSocketGroup clamav\nLocalSocketMode 666\nUser clamav\nScanMail true\nArchiveBlockEncrypted false\nAlgorithmicDetection true\nPreludeEnable no\nPreludeAnalyzerName ClamAV\nPhishingAlwaysBlockSSLMismatch false\nPhishingAlwaysBlockCloak false\nPartitionIntersection false\nOLE2BlockMacros false\nForceToDisk false\nDisableCache false\nStreamMaxLength 25M\nBytecodeSecurity TrustSigned\nOnAccessMaxFileSize 5M\n";
        let c = ClamdConf::parse(text, "f").unwrap();
        assert_eq!(c.size("StreamMaxLength"), Some(25 << 20));
    }

    #[test]
    fn every_directive_of_the_man_page_is_known() {
        for (name, _) in DIRECTIVES {
            assert!(lookup(name).is_some());
        }
        assert!(DIRECTIVES.len() >= 140);
    }
}
