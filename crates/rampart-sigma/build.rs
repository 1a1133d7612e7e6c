//! Embeds the SigmaHQ web rules under `rules/` in the crate: writes
//! `$OUT_DIR/builtin_rules.rs`, a table of `(relative path, include_str!(file))` in sorted
//! path order, read by `rampart_sigma::builtin`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let rules = root.join("rules");
    println!("cargo:rerun-if-changed=rules");
    let mut files = Vec::new();
    collect(&rules, &mut files);
    files.sort();
    let mut out = String::from("/// Embedded rule files: (path under `rules/`, YAML text).\n");
    out.push_str("pub(crate) static BUILTIN_RULES: &[(&str, &str)] = &[\n");
    for f in &files {
        let rel = f
            .strip_prefix(&rules)
            .expect("under rules/")
            .to_str()
            .expect("utf-8 rule path")
            .replace('\\', "/");
        let abs = f.to_str().expect("utf-8 rule path");
        writeln!(out, "    ({rel:?}, include_str!({abs:?})),").expect("write to string");
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("builtin_rules.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("writing {}: {e}", dest.display()));
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let p = entry
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .path();
        if p.is_dir() {
            collect(&p, files);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yml") | Some("yaml")
        ) {
            files.push(p);
        }
    }
}
