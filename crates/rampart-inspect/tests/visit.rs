//! What `Inspector::visit` reports for hand-built requests: (location, name, decoded).

use std::borrow::Cow;

use base64::Engine as _;
use rampart_inspect::{BodyKind, Flow, InspectConfig, Inspector, Location, Stats};
use rampart_model::ApiEvent;

type Seen = Vec<(Location, String, String)>;

fn collect(ev: &ApiEvent<'_>) -> (Seen, Stats) {
    let mut inspector = Inspector::new(InspectConfig::default());
    let mut seen = Vec::new();
    let stats = inspector.visit(ev, &mut |v| {
        seen.push((v.location, v.name.to_owned(), v.decoded.to_owned()));
        Flow::Continue
    });
    (seen, stats)
}

#[track_caller]
fn check(ev: &ApiEvent<'_>, expected: &[(Location, &str, &str)]) -> Stats {
    let (seen, stats) = collect(ev);
    let want: Seen = expected
        .iter()
        .map(|&(l, n, d)| (l, n.to_owned(), d.to_owned()))
        .collect();
    assert_eq!(seen, want);
    stats
}

fn headers(h: &[(&'static str, &'static str)]) -> Vec<(Cow<'static, str>, Cow<'static, str>)> {
    h.iter().map(|&(k, v)| (k.into(), v.into())).collect()
}

fn post(path: &'static str, ct: &'static str, body: &'static str) -> ApiEvent<'static> {
    ApiEvent {
        method: "POST".into(),
        path: path.into(),
        request_headers: headers(&[("content-type", ct)]),
        request_body: Some(body.into()),
        ..Default::default()
    }
}

use Location::*;

#[test]
fn query_values_are_decoded_and_plain_ones_skipped() {
    let ev = ApiEvent {
        path: "/search".into(),
        query: "q=1%27%20OR%201=1--&page=2&a%5B%5D=x+y".into(),
        ..Default::default()
    };
    let stats = check(
        &ev,
        &[
            (Path, "", "/search"),
            (QueryValue, "q", "1' OR 1=1--"),
            (QueryName, "a%5B%5D", "a[]"),
            (QueryValue, "a%5B%5D", "x y"),
        ],
    );
    // path, segment, 3 names, 3 values
    assert_eq!(stats.values, 8);
    assert_eq!(stats.body_kind, BodyKind::None);
    assert!(!stats.truncated);
}

#[test]
fn path_segments_that_are_not_plain() {
    let ev = ApiEvent {
        path: "/files/..%2f..%2fetc%2fpasswd/view".into(),
        ..Default::default()
    };
    check(
        &ev,
        &[
            (Path, "", "/files/../../etc/passwd/view"),
            (PathSegment, "", "../../etc/passwd"),
        ],
    );
}

#[test]
fn cookies_one_by_one_and_not_the_header() {
    let ev = ApiEvent {
        path: "/".into(),
        request_headers: headers(&[("Cookie", "sid=abc123; pref=%3Cscript%3E;theme=dark; junk")]),
        ..Default::default()
    };
    check(&ev, &[(Path, "", "/"), (Cookie, "pref", "<script>")]);
}

#[test]
fn headers_unusual_kept_noisy_skipped_user_agent_once() {
    let ev = ApiEvent {
        path: "/".into(),
        user_agent: "curl/8.0".into(),
        referer: "https://example.com/?q=%3Csvg%3E".into(),
        host: "api.example.com".into(),
        request_headers: headers(&[
            ("x-api-version", "${jndi:ldap://x}"),
            ("accept-encoding", "gzip, deflate, br"),
            ("sec-fetch-mode", "navigate"),
            ("sec-ch-ua", "\"Chromium\";v=\"124\""),
            ("User-Agent", "curl/8.0"),
            ("host", "api.example.com:8443"),
        ]),
        ..Default::default()
    };
    check(
        &ev,
        &[
            (Path, "", "/"),
            (HeaderValue, "x-api-version", "${jndi:ldap://x}"),
            (HeaderValue, "User-Agent", "curl/8.0"),
            (HeaderValue, "host", "api.example.com:8443"),
            (HeaderValue, "referer", "https://example.com/?q=<svg>"),
        ],
    );
}

#[test]
fn urlencoded_form() {
    let ev = post(
        "/login",
        "application/x-www-form-urlencoded; charset=utf-8",
        "user=admin&pass=x%27+or+%271%27%3D%271&next=%2Fhome%3Fa%3D1",
    );
    let stats = check(
        &ev,
        &[
            (Path, "", "/login"),
            (
                HeaderValue,
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            (FormValue, "pass", "x' or '1'='1"),
            (FormValue, "next", "/home?a=1"),
        ],
    );
    assert_eq!(stats.body_kind, BodyKind::Form);
}

/// `cmd=127.0.0.1 && ls /etc` sent unencoded: the pair after `&&` has no `=` and is
/// visited as a value (its name is itself).
#[test]
fn form_pair_without_equals_is_a_value_too() {
    let ev = post(
        "/clam.php",
        "application/x-www-form-urlencoded",
        "cmd=127.0.0.1+&& ls /etc",
    );
    check(
        &ev,
        &[
            (Path, "", "/clam.php"),
            (
                HeaderValue,
                "content-type",
                "application/x-www-form-urlencoded",
            ),
            (FormValue, "cmd", "127.0.0.1 "),
            (FormName, " ls /etc", " ls /etc"),
            (FormValue, " ls /etc", " ls /etc"),
        ],
    );
}

#[test]
fn form_sniffed_without_content_type() {
    let ev = ApiEvent {
        path: "/login".into(),
        request_body: Some("a=1&b=%3Cx%3E".into()),
        ..Default::default()
    };
    let stats = check(&ev, &[(Path, "", "/login"), (FormValue, "b", "<x>")]);
    assert_eq!(stats.body_kind, BodyKind::Form);
}

#[test]
fn json_under_a_form_content_type_is_sniffed() {
    let ev = post(
        "/x",
        "application/x-www-form-urlencoded",
        r#"{"id":"1 or 1=1"}"#,
    );
    let stats = check(
        &ev,
        &[
            (Path, "", "/x"),
            (
                HeaderValue,
                "content-type",
                "application/x-www-form-urlencoded",
            ),
            (JsonValue, "id", "1 or 1=1"),
        ],
    );
    assert_eq!(stats.body_kind, BodyKind::Json);
}

const MULTIPART: &str = "--XyZ\r\n\
Content-Disposition: form-data; name=\"title\"\r\n\r\n\
hello world\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"../../shell.php\"\r\n\
Content-Type: application/octet-stream\r\n\r\n\
<?php system($_GET['c']); ?>\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"meta\"\r\n\
Content-Type: application/json\r\n\r\n\
{\"tag\":\"<b>x</b>\"}\r\n\
--XyZ--\r\n";

#[test]
fn multipart_names_filenames_and_nested_json() {
    let ev = post(
        "/upload",
        "multipart/form-data; boundary=\"XyZ\"",
        MULTIPART,
    );
    let stats = check(
        &ev,
        &[
            (Path, "", "/upload"),
            (
                HeaderValue,
                "content-type",
                "multipart/form-data; boundary=\"XyZ\"",
            ),
            (MultipartValue, "title", "hello world"),
            (MultipartFilename, "file", "../../shell.php"),
            (MultipartValue, "file", "<?php system($_GET['c']); ?>"),
            (JsonValue, "meta.tag", "<b>x</b>"),
        ],
    );
    assert_eq!(stats.body_kind, BodyKind::Multipart);
    assert!(!stats.malformed_body);
}

#[test]
fn multipart_without_closing_boundary_keeps_the_last_part() {
    let ev = post(
        "/upload",
        "multipart/form-data; boundary=b",
        "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n' OR 1=1 -- and the rest",
    );
    let stats = check(
        &ev,
        &[
            (Path, "", "/upload"),
            (
                HeaderValue,
                "content-type",
                "multipart/form-data; boundary=b",
            ),
            (MultipartValue, "x", "' OR 1=1 -- and the rest"),
        ],
    );
    assert!(stats.malformed_body);
}

#[test]
fn nested_json_key_paths() {
    let ev = post(
        "/api/users",
        "application/json",
        r#"{"a":{"b":[1,{"c":"x'--"},{"c":"<img src=x>"}],"d e":"f\u0020g"},"$ne":1,"user":{"roles":["admin' OR 1=1"],"ok":true}}"#,
    );
    let stats = check(
        &ev,
        &[
            (Path, "", "/api/users"),
            (HeaderValue, "content-type", "application/json"),
            (JsonValue, "a.b[1].c", "x'--"),
            (JsonValue, "a.b[2].c", "<img src=x>"),
            (JsonKey, "a", "d e"),
            (JsonValue, "a.d e", "f g"),
            (JsonKey, "", "$ne"),
            (JsonValue, "user.roles[0]", "admin' OR 1=1"),
        ],
    );
    assert_eq!(stats.body_kind, BodyKind::Json);
}

#[test]
fn json_sniffed_and_escapes_undone() {
    let ev = ApiEvent {
        path: "/x".into(),
        request_headers: headers(&[("content-type", "text/plain")]),
        request_body: Some(r#"  [{"q":"\"<\/script>\\n"}]"#.into()),
        ..Default::default()
    };
    let stats = check(
        &ev,
        &[
            (Path, "", "/x"),
            (HeaderValue, "content-type", "text/plain"),
            (JsonValue, "[0].q", "\"</script>\\n"),
        ],
    );
    assert_eq!(stats.body_kind, BodyKind::Json);
}

#[test]
fn invalid_json_falls_back_to_raw_body() {
    let ev = post("/x", "application/json", "{\"a\": 'union select' }");
    let stats = check(
        &ev,
        &[
            (Path, "", "/x"),
            (HeaderValue, "content-type", "application/json"),
            (RawBody, "", "{\"a\": 'union select' }"),
        ],
    );
    assert!(stats.malformed_body);
    assert_eq!(stats.body_kind, BodyKind::Json);
}

const SOAP: &str = r#"<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <getUser id='1 OR 1=1'><name>&xxe;</name><!-- note --><q><![CDATA[<script>alert(1)</script>]]></q><n>a &lt; b</n><empty/></getUser>
  </soap:Body>
</soap:Envelope>"#;

#[test]
fn xml_soap_attributes_text_cdata_and_doctype() {
    let ev = post("/ws", "text/xml; charset=utf-8", SOAP);
    let stats = check(
        &ev,
        &[
            (Path, "", "/ws"), (HeaderValue, "content-type", "text/xml; charset=utf-8"),
            (
                Xml,
                "doctype",
                "<?xml version=\"1.0\"?>\n<!DOCTYPE foo [ <!ENTITY xxe SYSTEM \"file:///etc/passwd\"> ]>",
            ),
            (Xml, "xmlns:soap", "http://schemas.xmlsoap.org/soap/envelope/"),
            (Xml, "id", "1 OR 1=1"),
            (Xml, "name", "&xxe;"),
            (Xml, "q", "<script>alert(1)</script>"),
            (Xml, "n", "a < b"),
        ],
    );
    assert_eq!(stats.body_kind, BodyKind::Xml);
    assert!(!stats.malformed_body);
}

#[test]
fn graphql_post_json() {
    let ev = post(
        "/graphql",
        "application/json",
        r#"{"query":"{ user(id: \"1\") { name } }","variables":{"id":"1' OR '1'='1"}}"#,
    );
    let stats = check(
        &ev,
        &[
            (Path, "", "/graphql"),
            (HeaderValue, "content-type", "application/json"),
            (JsonValue, "query", "{ user(id: \"1\") { name } }"),
            (GraphQl, "query", "{ user(id: \"1\") { name } }"),
            (JsonValue, "variables.id", "1' OR '1'='1"),
        ],
    );
    assert_eq!(stats.body_kind, BodyKind::GraphQl);
}

#[test]
fn graphql_get_query_param() {
    let ev = ApiEvent {
        path: "/api/GraphQL".into(),
        query: "query=%7B__schema%7Btypes%7Bname%7D%7D%7D".into(),
        ..Default::default()
    };
    check(
        &ev,
        &[
            (Path, "", "/api/GraphQL"),
            (QueryValue, "query", "{__schema{types{name}}}"),
            (GraphQl, "query", "{__schema{types{name}}}"),
        ],
    );
}

#[test]
fn graphql_document_body() {
    let ev = post(
        "/gql",
        "application/graphql",
        "query { users { id password } }",
    );
    let stats = check(
        &ev,
        &[
            (Path, "", "/gql"),
            (HeaderValue, "content-type", "application/graphql"),
            (GraphQl, "query", "query { users { id password } }"),
        ],
    );
    assert_eq!(stats.body_kind, BodyKind::GraphQl);
}

fn base64_of_cookie(value: String) -> (Option<String>, Option<Vec<u8>>) {
    let ev = ApiEvent {
        path: "/".into(),
        request_headers: vec![("cookie".into(), format!("session={value}").into())],
        ..Default::default()
    };
    let mut inspector = Inspector::new(InspectConfig::default());
    let mut got = (None, None);
    inspector.visit(&ev, &mut |v| {
        if v.location == Cookie {
            got = (
                v.base64.map(str::to_owned),
                v.base64_bytes.map(<[u8]>::to_vec),
            );
        }
        Flow::Continue
    });
    got
}

#[test]
fn base64_cookie_python_pickle() {
    let pickle = b"\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.";
    let b64 = base64::engine::general_purpose::STANDARD.encode(pickle);
    assert!(b64.starts_with("gASV"));
    let (text, bytes) = base64_of_cookie(b64);
    let bytes = bytes.expect("pickle bytes offered");
    assert_eq!(bytes[0], 0x80);
    assert_eq!(bytes, pickle);
    assert!(text.expect("text offered").contains("system"));
}

#[test]
fn base64_cookie_java_serialized() {
    let java = b"\xac\xed\x00\x05sr\x00\x11java.util.HashMap\x05\x07\xda\xc1\xc3\x16`\xd1\x03\x00\x02F\x00\nloadFactorI\x00\tthresholdxp";
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(java);
    assert!(b64.starts_with("rO0AB"));
    let (_, bytes) = base64_of_cookie(b64);
    assert!(bytes
        .expect("java bytes offered")
        .starts_with(b"\xac\xed\x00\x05"));
}

#[test]
fn base64_text_and_non_base64() {
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode("<script>alert(document.cookie)</script>??>");
    assert!(url.contains('_') || url.contains('-'));
    let (text, _) = base64_of_cookie(url);
    assert_eq!(
        text.as_deref(),
        Some("<script>alert(document.cookie)</script>??>")
    );
    // a hex session id is valid base64 but decodes to noise
    let (text, bytes) =
        base64_of_cookie("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into());
    assert_eq!((text, bytes), (None, None));
}

#[test]
fn callback_stop_ends_the_walk() {
    let ev = ApiEvent {
        path: "/a'".into(),
        query: "x=%27&y=%27".into(),
        ..Default::default()
    };
    let mut inspector = Inspector::new(InspectConfig::default());
    let mut n = 0;
    inspector.visit(&ev, &mut |_| {
        n += 1;
        Flow::Stop
    });
    assert_eq!(n, 1);
}

#[test]
fn config_defaults_and_serde() {
    let cfg: InspectConfig = serde_json::from_str(r#"{"max_values": 10}"#).unwrap();
    assert_eq!(cfg.max_values, 10);
    assert_eq!(cfg.max_body_bytes, 64 * 1024);
    assert!(cfg.validate().is_ok());
    assert!(serde_json::from_str::<InspectConfig>(r#"{"max_valuez": 10}"#).is_err());
    let bad = InspectConfig {
        max_depth: 0,
        ..Default::default()
    };
    assert_eq!(
        bad.validate().unwrap_err().to_string(),
        "max_depth must be between 1 and 127, got 0"
    );
}

#[test]
fn location_names() {
    assert_eq!(QueryValue.as_str(), "query");
    assert_eq!(RawBody.as_str(), "body");
    assert!(JsonKey.is_name() && JsonKey.is_body());
    assert!(!HeaderValue.is_body() && !Cookie.is_name());
}

fn collect_with(cfg: InspectConfig, ev: &ApiEvent<'_>) -> (Seen, Stats) {
    let mut inspector = Inspector::new(cfg);
    let mut seen = Vec::new();
    let stats = inspector.visit(ev, &mut |v| {
        seen.push((v.location, v.name.to_owned(), v.raw.to_owned()));
        Flow::Continue
    });
    (seen, stats)
}

#[test]
fn xml_deeper_than_max_depth_is_named_by_the_deepest_tracked_element() {
    let cfg = InspectConfig {
        max_depth: 2,
        ..Default::default()
    };
    let ev = post(
        "/ws",
        "application/xml",
        "<a><b><c>x' or 1=1</c></b><d>y z</d></a>",
    );
    let (seen, stats) = collect_with(cfg, &ev);
    assert_eq!(
        seen[2..],
        [
            (Xml, "b".to_owned(), "x' or 1=1".to_owned()),
            (Xml, "d".to_owned(), "y z".to_owned()),
        ]
    );
    assert!(stats.truncated && !stats.malformed_body);
}

#[test]
fn max_values_stops_the_walk() {
    let cfg = InspectConfig {
        max_values: 3,
        ..Default::default()
    };
    let ev = ApiEvent {
        path: "/p".into(),
        query: "a=%27&b=%27&c=%27".into(),
        ..Default::default()
    };
    let (seen, stats) = collect_with(cfg, &ev);
    // path, segment (plain), name `a` (plain): the third value ends it
    assert_eq!(seen, [(Path, String::new(), "/p".to_owned())]);
    assert_eq!(stats.values, 3);
    assert!(stats.truncated);
}

#[test]
fn long_values_are_cut_and_long_bodies_chunked() {
    let cfg = InspectConfig {
        max_value_bytes: 1000,
        ..Default::default()
    };
    let ev = ApiEvent {
        path: "/".into(),
        query: format!("q={}", "\u{e9}".repeat(600)).into(),
        request_body: Some(format!("{}<script>{}", "a ".repeat(497), "b ".repeat(900)).into()),
        ..Default::default()
    };
    let (seen, stats) = collect_with(cfg, &ev);
    assert!(stats.truncated);
    let q = &seen.iter().find(|v| v.0 == QueryValue).unwrap().2;
    assert_eq!(q.len(), 1000);
    let chunks: Vec<&String> = seen
        .iter()
        .filter(|v| v.0 == RawBody)
        .map(|v| &v.2)
        .collect();
    assert_eq!(chunks.len(), 4);
    // the payload straddles the first cut at byte 1000 and is whole in the second chunk
    assert!(!chunks[0].contains("<script>") && chunks[1].contains("<script>"));
}
