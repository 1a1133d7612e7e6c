//! Hostile and random input: never a panic, every cap holds.

use std::borrow::Cow;

use rampart_inspect::{
    normalize_into, BodyKind, Flow, InspectConfig, Inspector, Location, Stats, MAX_NAME_BYTES,
};
use rampart_model::ApiEvent;

mod support;
use support::hostile;

/// Deterministic xorshift64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Text made of pieces that exercise every decoder, plus random bytes.
    fn text(&mut self, max_pieces: usize) -> String {
        const PIECES: &[&str] = &[
            "%",
            "%2",
            "%25",
            "%u",
            "%uD83D",
            "%c0%af",
            "%ff",
            "%00",
            "&#",
            "&#x",
            "&lt",
            "&amp;",
            ";",
            "\\u",
            "\\u{",
            "\\x",
            "\\",
            "\"",
            "'",
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            "<",
            ">",
            "</",
            "/>",
            "<!",
            "<![CDATA[",
            "]]>",
            "<!--",
            "-->",
            "<?",
            "?>",
            "/*",
            "*/",
            "/*!",
            "--b",
            "\r\n",
            "\n",
            "=",
            "&",
            "+",
            " ",
            "a",
            "query",
            "name=\"",
            "filename=",
            "Content-Type: application/json",
            "\u{e9}",
            "\u{1f600}",
            "QUFB",
            "rO0AB",
            "gASV",
        ];
        let n = self.below(max_pieces + 1);
        let mut s = String::new();
        for _ in 0..n {
            if self.below(8) == 0 {
                let bytes: Vec<u8> = (0..self.below(6)).map(|_| self.next() as u8).collect();
                s.push_str(&String::from_utf8_lossy(&bytes));
            } else {
                s.push_str(PIECES[self.below(PIECES.len())]);
            }
        }
        s
    }
}

/// Visit and check the invariants every value must meet.
fn visit_checked(inspector: &mut Inspector, ev: &ApiEvent<'_>) -> Stats {
    let cfg = inspector.config().clone();
    let mut seen = 0u32;
    let stats = inspector.visit(ev, &mut |v| {
        seen += 1;
        assert!(
            v.raw.len() <= cfg.max_value_bytes,
            "raw of {} bytes",
            v.raw.len()
        );
        assert!(
            v.name.len() <= MAX_NAME_BYTES,
            "name of {} bytes",
            v.name.len()
        );
        assert!(!v.decoded.contains('\0'));
        assert!(!v.folded.starts_with(' ') && !v.folded.ends_with(' '));
        assert_eq!(v.base64.is_some(), v.base64_bytes.is_some());
        Flow::Continue
    });
    assert!(seen <= stats.values);
    assert!(stats.values as usize <= cfg.max_values);
    stats
}

const CONTENT_TYPES: &[&str] = &[
    "",
    "application/json",
    "text/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=b",
    "multipart/form-data",
    "application/graphql",
    "text/plain",
];

#[test]
fn random_requests_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut inspector = Inspector::new(InspectConfig {
        max_value_bytes: 64,
        max_values: 200,
        max_depth: 4,
        ..Default::default()
    });
    for _ in 0..3_000 {
        let ct = CONTENT_TYPES[rng.below(CONTENT_TYPES.len())];
        let ev = ApiEvent {
            path: rng.text(12).into(),
            query: rng.text(12).into(),
            user_agent: rng.text(4).into(),
            request_headers: vec![
                ("content-type".into(), ct.into()),
                ("cookie".into(), rng.text(10).into()),
                (Cow::Owned(rng.text(2)), Cow::Owned(rng.text(6))),
            ],
            request_body: Some(rng.text(60).into()),
            ..Default::default()
        };
        visit_checked(&mut inspector, &ev);
    }
}

#[test]
fn random_text_through_the_normaliser() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut d, mut f) = (String::new(), String::new());
    for _ in 0..20_000 {
        let s = rng.text(20);
        normalize_into(&s, rng.below(2) == 0, &mut d, &mut f);
        assert!(!d.contains('\0') && !f.contains('\0'));
        assert!(d.len() <= s.len() * 3 + 3, "{s:?} -> {d:?}");
    }
}

#[test]
fn hostile_requests_stay_bounded() {
    let mut inspector = Inspector::new(InspectConfig::default());
    for (name, ev) in hostile() {
        let stats = visit_checked(&mut inspector, &ev);
        match name {
            "json_nested_100k" => {
                assert!(stats.malformed_body && stats.truncated, "{name}: {stats:?}");
                assert_eq!(stats.body_kind, BodyKind::Json);
            }
            "body_1mb" | "base64_bomb" => {
                assert!(stats.truncated, "{name}");
                // path, segment, content type, then the first 64 KiB (max_body_bytes) in one
                // chunk of max_value_bytes (64 KiB)
                assert_eq!(stats.values, 4, "{name}");
            }
            "query_50k_params" | "cookies_10k" | "garbage_escapes" => {
                assert!(stats.truncated, "{name}");
                assert_eq!(stats.values, 1024, "{name}");
            }
            "percent25_100k" | "xml_nested_100k" | "sql_comment_opens" | "entity_digits" => {
                assert!(stats.truncated, "{name}")
            }
            "multipart_unclosed" => assert!(stats.malformed_body && stats.truncated, "{name}"),
            _ => unreachable!(),
        }
    }
}

#[test]
fn body_cut_at_a_char_boundary() {
    let mut inspector = Inspector::new(InspectConfig {
        max_body_bytes: 5,
        ..Default::default()
    });
    let ev = ApiEvent {
        path: "/".into(),
        request_body: Some("\u{e9}\u{e9}\u{e9}".into()),
        ..Default::default()
    };
    let mut raw = String::new();
    let stats = inspector.visit(&ev, &mut |v| {
        if v.location == Location::RawBody {
            raw = v.raw.to_owned();
        }
        Flow::Continue
    });
    assert_eq!(raw, "\u{e9}\u{e9}");
    assert!(stats.truncated);
}

#[test]
fn deep_json_within_the_limit_is_walked() {
    let mut inspector = Inspector::new(InspectConfig::default());
    let doc = format!("{}\"<x>\"{}", "[".repeat(32), "]".repeat(32));
    let ev = ApiEvent {
        path: "/".into(),
        request_headers: vec![("content-type".into(), "application/json".into())],
        request_body: Some(doc.into()),
        ..Default::default()
    };
    let mut json = 0;
    let stats = inspector.visit(&ev, &mut |v| {
        json += usize::from(v.location == Location::JsonValue);
        Flow::Continue
    });
    assert_eq!(json, 1);
    assert!(!stats.malformed_body);
}
