//! The crate stays pure: its sources do no I/O, read no clock (the caller passes `now`), start
//! no threads, use no `unsafe` and write no SQL.

#[test]
fn sources_do_no_io_read_no_clock_and_know_no_sql() {
    const FORBIDDEN: &[&str] = &[
        "std::fs",
        "std::net",
        "std::io",
        "std::time",
        "std::thread",
        "std::env",
        "std::process",
        "Instant",
        "SystemTime",
        "Timestamp::now",
        "unsafe",
        "sqlx",
        "tokio",
        "SELECT ",
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("reading src") {
        let path = entry.expect("reading src entry").path();
        let text = std::fs::read_to_string(&path).expect("reading a source file");
        files += 1;
        for word in FORBIDDEN {
            assert!(!text.contains(word), "{} mentions {word}", path.display());
        }
    }
    assert!(files >= 6);
}
