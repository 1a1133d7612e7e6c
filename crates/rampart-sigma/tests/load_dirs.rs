//! Loading rules from several directories (`[detect] sigma = [dir1, dir2]`).

use std::path::Path;

fn rule(dir: &Path, file: &str, id: &str, title: &str, needle: &str) {
    std::fs::write(
        dir.join(file),
        format!(
            "title: {title}\nid: {id}\nlogsource:\n  category: webserver\n\
             detection:\n  sel:\n    cs-uri-query|contains: '{needle}'\n  condition: sel\nlevel: high\n"
        ),
    )
    .expect("write rule");
}

const A1: &str = "00000000-0000-0000-0000-00000000000a";
const A2: &str = "00000000-0000-0000-0000-00000000000b";
const B1: &str = "00000000-0000-0000-0000-00000000000c";

/// Regression: with several directories configured only the last one's rules were used.
/// Every directory's rules load, in configuration order; a rule id already loaded (from an
/// earlier directory or file) is refused with the path that has it, so the first one wins.
#[test]
fn several_dirs_load_as_one_set_first_id_wins() {
    let a = tempfile::tempdir().expect("temp dir");
    let b = tempfile::tempdir().expect("temp dir");
    rule(a.path(), "one.yml", A1, "a one", "aaa");
    rule(a.path(), "two.yml", A2, "a two", "bbb");
    rule(b.path(), "one.yml", B1, "b one", "ccc");
    rule(b.path(), "dup.yml", A1, "b duplicate of a one", "ddd");

    let dirs = [a.path().to_path_buf(), b.path().to_path_buf()];
    let (set, report) = rampart_sigma::load_dirs(&dirs).expect("load");
    let mut titles: Vec<&str> = set.rules().iter().map(|r| r.title.as_str()).collect();
    titles.sort();
    assert_eq!(titles, ["a one", "a two", "b one"], "{report:?}");
    assert_eq!(report.refused.len(), 1, "{report:?}");
    let (what, why) = &report.refused[0];
    assert_eq!(what, A1);
    assert!(
        why.contains("duplicate rule id") && why.contains("one.yml"),
        "{why}"
    );

    // One directory is the same as `load_dir`.
    let (one, _) = rampart_sigma::load_dirs(&dirs[..1]).expect("load one");
    let (same, _) = rampart_sigma::load_dir(a.path()).expect("load_dir");
    assert_eq!(one.rules(), same.rules());

    // A missing directory fails the whole load, naming it.
    let missing = a.path().join("nope");
    let err = rampart_sigma::load_dirs(&[a.path().to_path_buf(), missing.clone()])
        .expect_err("missing dir");
    assert!(err.to_string().contains("nope"), "{err}");
}
