//! Hostile requests shared by the tests and the bench (`#[path]`-included there).

use rampart_model::ApiEvent;

/// The hostile requests the bench also times.
pub fn hostile() -> Vec<(&'static str, ApiEvent<'static>)> {
    let body = |ct: &'static str, body: String| ApiEvent {
        method: "POST".into(),
        path: "/api".into(),
        request_headers: vec![("content-type".into(), ct.into())],
        request_body: Some(body.into()),
        ..Default::default()
    };
    vec![
        (
            "json_nested_100k",
            body("application/json", "[".repeat(100_000)),
        ),
        (
            "body_1mb",
            body("text/plain", "x' OR 1=1 -- ".repeat(80_000)),
        ),
        (
            "query_50k_params",
            ApiEvent {
                path: "/".into(),
                query: (0..50_000)
                    .map(|i| format!("p{i}=%27{i}"))
                    .collect::<Vec<_>>()
                    .join("&")
                    .into(),
                ..Default::default()
            },
        ),
        (
            "percent25_100k",
            ApiEvent {
                path: "/".into(),
                query: format!("q={}", "%25".repeat(100_000)).into(),
                ..Default::default()
            },
        ),
        (
            "cookies_10k",
            ApiEvent {
                path: "/".into(),
                request_headers: vec![(
                    "cookie".into(),
                    (0..10_000)
                        .map(|i| format!("c{i}=%3C{i}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                        .into(),
                )],
                ..Default::default()
            },
        ),
        (
            "multipart_unclosed",
            body(
                "multipart/form-data; boundary=zz",
                format!(
                    "--zz\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n{}",
                    "<x>".repeat(30_000)
                ),
            ),
        ),
        (
            "xml_nested_100k",
            body("application/xml", "<a>".repeat(100_000)),
        ),
        ("base64_bomb", body("text/plain", "QUFB".repeat(250_000))),
        ("sql_comment_opens", body("text/plain", "/*".repeat(50_000))),
        (
            "entity_digits",
            body(
                "text/plain",
                format!("{}{}", "&#".repeat(10_000), "1".repeat(100_000)),
            ),
        ),
        (
            "garbage_escapes",
            body(
                "application/x-www-form-urlencoded",
                "a=%ff%fe%u12&b=%u".repeat(20_000),
            ),
        ),
    ]
}
