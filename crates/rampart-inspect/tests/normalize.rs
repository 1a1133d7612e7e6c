//! The normaliser, case by case: (raw, plus_is_space, decoded, folded).

use rampart_inspect::normalize_into;

#[rustfmt::skip]
const CASES: &[(&str, bool, &str, &str)] = &[
    // plain values are unchanged
    ("hello",                         false, "hello",                         "hello"),
    ("/api/v1/users/42",              false, "/api/v1/users/42",              "/api/v1/users/42"),
    ("",                              false, "",                              ""),
    // percent, repeated until stable (at most three rounds)
    ("%27",                           false, "'",                             "'"),
    ("%2527",                         false, "'",                             "'"),
    ("%252527",                       false, "'",                             "'"),
    ("%25252527",                     false, "%27",                           "%27"),
    ("%u0027",                        false, "'",                             "'"),
    ("%U003Cb%u003E",                 false, "<b>",                           "<b>"),
    ("%uD83D%uDE00",                  false, "\u{1f600}",                     "\u{1f600}"),
    ("%u12",                          false, "%u12",                          "%u12"),
    ("%ff%fe",                        false, "\u{fffd}\u{fffd}",              "\u{fffd}\u{fffd}"),
    ("..%c0%af..%c0%ae",              false, "../...",                        "../..."),
    ("100%",                          false, "100%",                          "100%"),
    ("%zz%4",                         false, "%zz%4",                         "%zz%4"),
    // `+` is a space only in query and form, and only the first round
    ("a+b",                           true,  "a b",                           "a b"),
    ("a+b",                           false, "a+b",                           "a+b"),
    ("a%2Bb",                         true,  "a+b",                           "a+b"),
    ("1+UNION+SELECT",                true,  "1 UNION SELECT",                "1 union select"),
    // HTML entities
    ("&#39;",                         false, "'",                             "'"),
    ("&#x27",                         false, "'",                             "'"),
    ("&#X3C;&#x3c",                   false, "<<",                            "<<"),
    ("&#60&#62",                      false, "<>",                            "<>"),
    ("&lt;script&gt;",                false, "<script>",                      "<script>"),
    ("&LT;b&GT;",                     false, "<b>",                           "<b>"),
    ("&amp;lt;",                      false, "<",                             "<"),
    ("&quot;&apos;",                  false, "\"'",                           "\"'"),
    ("javascript&colon;alert&lpar;1&rpar;&semi;", false, "javascript:alert(1);", "javascript:alert(1);"),
    ("a&Tab;b&NewLine;c",             false, "a\tb\nc",                       "a b c"),
    ("x&sol;y&equals;z",              false, "x/y=z",                         "x/y=z"),
    ("a&nbsp;b",                      false, "a\u{a0}b",                      "a b"),
    ("R&D &copy; &apos",              false, "R&D &copy; &apos",              "r&d &copy; &apos"),
    ("&#0;&#1114112;",                false, "\u{fffd}",                      "\u{fffd}"),
    // JS escapes: \u and \x with hex only; other backslashes (Windows paths) stay
    ("\\u003cscript\\u003e",          false, "<script>",                      "<script>"),
    ("\\x3cimg\\x3E",                 false, "<img>",                         "<img>"),
    ("\\u{3c}svg",                    false, "<svg",                          "<svg"),
    ("C:\\new\\temp\\x",              false, "C:\\new\\temp\\x",              "c:\\new\\temp\\x"),
    ("C:\\Windows\\xfiles",           false, "C:\\Windows\\xfiles",           "c:\\windows\\xfiles"),
    // layered: percent over entity over JS
    ("%26lt%3Bscript%26gt%3B",        false, "<script>",                      "<script>"),
    ("%5Cu0027",                      false, "'",                             "'"),
    // SQL comments, versioned comments, whitespace, case
    ("1 UNION/**/SELECT 2",           false, "1 UNION/**/SELECT 2",           "1 union select 2"),
    ("1/*!50000UNION*/SELECT 2",      false, "1/*!50000UNION*/SELECT 2",      "1 union select 2"),
    ("/*!UNION*/",                    false, "/*!UNION*/",                    "union"),
    ("a/*x",                          false, "a/*x",                          "a/*x"),
    ("  SeLeCt\t\t*\r\nFROM\x0b\x0cusers  ", false, "  SeLeCt\t\t*\r\nFROM\x0b\x0cusers  ", "select * from users"),
    ("UNION%0aSELECT",                false, "UNION\nSELECT",                 "union select"),
    ("Caf\u{e9} \u{c9}T\u{c9}",       false, "Caf\u{e9} \u{c9}T\u{c9}",       "caf\u{e9} \u{c9}t\u{c9}"),
    // NUL bytes removed
    ("ab%00cd",                       false, "abcd",                          "abcd"),
    ("a\0b",                          false, "ab",                            "ab"),
    ("\\u0000x&#0;",                  false, "x",                             "x"),
];

#[test]
fn normaliser_table() {
    let (mut decoded, mut folded) = (String::new(), String::new());
    for &(raw, plus, want_decoded, want_folded) in CASES {
        let changed = normalize_into(raw, plus, &mut decoded, &mut folded);
        assert_eq!(decoded, want_decoded, "decoded of {raw:?} (plus {plus})");
        assert_eq!(folded, want_folded, "folded of {raw:?} (plus {plus})");
        assert_eq!(
            changed,
            decoded != raw || folded != raw,
            "changed of {raw:?}"
        );
    }
}

#[test]
fn plain_values_report_no_change() {
    let (mut decoded, mut folded) = (String::new(), String::new());
    for raw in ["hello", "abc-123_x.y", "/api/v1"] {
        assert!(
            !normalize_into(raw, true, &mut decoded, &mut folded),
            "{raw}"
        );
    }
}

#[test]
fn repeated_percent_stops_after_three_rounds() {
    let raw = "%25".repeat(100_000);
    let (mut decoded, mut folded) = (String::new(), String::new());
    normalize_into(&raw, false, &mut decoded, &mut folded);
    // each round turns `%25%25` into `%%`... only pairs whose tail is hex decode further
    assert!(decoded.len() <= raw.len());
    assert!(decoded.starts_with('%'));
}
