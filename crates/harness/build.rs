//! Compiles the shipped conformance data into the harness: client and server cases, client
//! profiles, the wrapper scripts some of them run and the test-client scripts. They are read
//! from the very files of the repository's `conformance/` directory (through the
//! `builtin-data` link, which `cargo package` follows), so the built-in data cannot differ
//! from them, and an installed `avc-conformance` runs from any directory. No file here holds
//! EICAR: inputs are generated at run time.

use std::fmt::Write as _;
use std::path::PathBuf;

/// Directories under `conformance/` and the file extensions compiled in from each.
const DIRS: &[(&str, &[&str])] = &[
    ("cases/client", &["toml"]),
    ("cases/server", &["toml"]),
    ("clients", &["toml"]),
    ("clients/wrappers", &["py", "pl", "sh", "lua"]),
    ("test-clients", &["py"]),
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let base = manifest.join("builtin-data");
    let mut table = String::from("&[\n");
    for (sub, exts) in DIRS {
        let dir = base.join(sub);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| exts.iter().any(|e| x == *e)))
            .collect();
        files.sort();
        for path in files {
            println!("cargo:rerun-if-changed={}", path.display());
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_else(|| panic!("{}: file name is not UTF-8", path.display()));
            let abs = path
                .canonicalize()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let _ = writeln!(
                table,
                "    ({:?}, include_str!({:?})),",
                format!("{sub}/{name}"),
                abs.display().to_string()
            );
        }
    }
    table.push_str("]\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out.join("builtin_files.rs"), table).expect("writing the built-in table");
    std::fs::write(
        out.join("spec_files.rs"),
        spec_table(&manifest.join("spec-data")),
    )
    .expect("writing the spec table");
}

/// The specifications (`*.md` of `dir`, the `spec-data` link to `../shared/spec` beside
/// the repository, which `cargo package` follows) as a table of `(name, text)`, for the
/// HTML report's rule texts: compiled in, so a built binary shows the same texts on every
/// machine. A checkout without the specs builds with none (rule IDs only).
fn spec_table(dir: &std::path::Path) -> String {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file() && p.extension().is_some_and(|x| x == "md"));
    files.sort();
    let mut table = String::from("&[\n");
    for path in files {
        println!("cargo:rerun-if-changed={}", path.display());
        let (Some(name), Ok(abs)) = (
            path.file_name().and_then(|n| n.to_str()),
            path.canonicalize(),
        ) else {
            continue;
        };
        let _ = writeln!(
            table,
            "    ({name:?}, include_str!({:?})),",
            abs.display().to_string()
        );
    }
    table.push_str("]\n");
    table
}
