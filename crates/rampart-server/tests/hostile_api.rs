//! The hostile-input suite for the REST API: a table of malformed, oversized and hostile
//! requests, each of which must get a 4xx answer with the JSON error shape and change nothing,
//! then a seeded mutation pass over valid requests (byte flips, truncations, type swaps, deep
//! nesting) that must never produce a 5xx, a non-JSON error or a stuck server.
//!
//! Transport-level attacks (slow clients, raw request lines) are in `hostile_http.rs`; intake
//! of hostile values (timestamps, idempotency) in `hostile_intake.rs`.

mod common;

use common::*;
use rampart_model::Role;
use rampart_store::EventQuery;
use serde_json::Value;

/// One hostile request: method, path and query, raw body, and the status expected.
struct Case {
    method: &'static str,
    path: String,
    body: Vec<u8>,
    status: u16,
}

fn case(
    method: &'static str,
    path: impl Into<String>,
    body: impl Into<Vec<u8>>,
    status: u16,
) -> Case {
    Case {
        method,
        path: path.into(),
        body: body.into(),
        status,
    }
}

fn nested(depth: usize) -> Vec<u8> {
    let mut v = "[".repeat(depth).into_bytes();
    v.extend("]".repeat(depth).into_bytes());
    v
}

const EV: &str = r#"{"ts":"2026-01-01T00:00:00Z","client_ip":"203.0.113.9","method":"GET","path":"/api/v1/users/42","status":200}"#;

fn alert_json(first: &str, last: &str) -> String {
    format!(
        r#"{{"detector":"x","title":"t","description":"d","severity":"High","first_seen":{first},"last_seen":{last},"entities":[{{"kind":"ip","value":"203.0.113.9","role":"attacker"}}]}}"#
    )
}

/// The table. `{id}` in a path is replaced by a seeded incident's id.
fn cases() -> Vec<Case> {
    let long = "x".repeat(20_000);
    let mut c = vec![
        // --- incident list parameters
        case("GET", "/api/v1/incidents?limit=abc", "", 400),
        case("GET", "/api/v1/incidents?limit=0", "", 400),
        case(
            "GET",
            "/api/v1/incidents?limit=100000000000000000000",
            "",
            400,
        ),
        case("GET", "/api/v1/incidents?limit=-1", "", 400),
        case("GET", "/api/v1/incidents?offset=-1", "", 400),
        case("GET", "/api/v1/incidents?offset=1e9", "", 400),
        case("GET", "/api/v1/incidents?sort=bogus", "", 400),
        case(
            "GET",
            "/api/v1/incidents?sort=priority;DROP%20TABLE%20incidents",
            "",
            400,
        ),
        case("GET", "/api/v1/incidents?order=sideways", "", 400),
        case("GET", "/api/v1/incidents?status=Nope", "", 400),
        case("GET", "/api/v1/incidents?status=Active,,Nope", "", 400),
        case("GET", "/api/v1/incidents?severity=Apocalyptic", "", 400),
        case("GET", "/api/v1/incidents?classification=Maybe", "", 400),
        case("GET", "/api/v1/incidents?created_after=yesterday", "", 400),
        case(
            "GET",
            "/api/v1/incidents?created_before=2026-13-45T00:00:00Z",
            "",
            400,
        ),
        case("GET", "/api/v1/incidents?updated_after=%00", "", 400),
        case(
            "GET",
            "/api/v1/incidents?updated_before=99999-01-01T00:00:00Z",
            "",
            400,
        ),
        case("GET", "/api/v1/incidents?unknown=1", "", 400),
        case("GET", "/api/v1/incidents?limit=%FF%FE", "", 400),
        case("GET", "/api/v1/incidents?%ZZ=1", "", 400),
        // --- ids
        case("GET", "/api/v1/incidents/abc", "", 400),
        case("GET", "/api/v1/incidents/1.5", "", 400),
        case("GET", "/api/v1/incidents/99999999999999999999999", "", 400),
        case("GET", "/api/v1/incidents/-1", "", 404),
        case("GET", "/api/v1/incidents/0", "", 404),
        case("GET", "/api/v1/incidents/9223372036854775807", "", 404),
        case("GET", "/api/v1/incidents/%2e%2e%2f", "", 400),
        case("GET", "/api/v1/alerts/abc", "", 400),
        case("GET", "/api/v1/alerts/424242", "", 404),
        case(
            "PATCH",
            "/api/v1/incidents/abc",
            r#"{"status":"Active"}"#,
            400,
        ),
        case(
            "PATCH",
            "/api/v1/incidents/424242",
            r#"{"status":"Active"}"#,
            404,
        ),
        // --- incident patch bodies
        case("PATCH", "/api/v1/incidents/{id}", "", 400),
        case("PATCH", "/api/v1/incidents/{id}", "null", 422),
        case("PATCH", "/api/v1/incidents/{id}", "[]", 422),
        case("PATCH", "/api/v1/incidents/{id}", "{", 400),
        case("PATCH", "/api/v1/incidents/{id}", "{}", 422),
        case("PATCH", "/api/v1/incidents/{id}", "\"status\"", 422),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            r#"{"status":"Bogus"}"#,
            422,
        ),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            r#"{"status":"Redirected"}"#,
            422,
        ),
        case("PATCH", "/api/v1/incidents/{id}", r#"{"status":1}"#, 400),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            r#"{"severity":"Apocalyptic"}"#,
            422,
        ),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            r#"{"severity":null}"#,
            422,
        ),
        case("PATCH", "/api/v1/incidents/{id}", r#"{"title":""}"#, 422),
        case("PATCH", "/api/v1/incidents/{id}", r#"{"title":"   "}"#, 422),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            format!(r#"{{"title":"{long}"}}"#),
            422,
        ),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            r#"{"assigned_to":""}"#,
            422,
        ),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            format!(r#"{{"assigned_to":"{long}"}}"#),
            422,
        ),
        case("PATCH", "/api/v1/incidents/{id}", r#"{"tags":[""]}"#, 422),
        case("PATCH", "/api/v1/incidents/{id}", r#"{"tags":"a"}"#, 422),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            format!(r#"{{"tags":[{}]}}"#, vec!["\"t\""; 100].join(",")),
            422,
        ),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            r#"{"classification":"Perhaps"}"#,
            422,
        ),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            r#"{"determination":"Aliens"}"#,
            422,
        ),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            r#"{"unknown_field":1}"#,
            422,
        ),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            r#"{"status":"Active","status":"Resolved"}"#,
            422,
        ),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            b"{\"title\":\"\xff\xfe\"}".to_vec(),
            400,
        ),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            r#"{"title":"\ud800"}"#,
            400,
        ),
        case("PATCH", "/api/v1/incidents/{id}", nested(100_000), 422),
        case(
            "PATCH",
            "/api/v1/incidents/{id}",
            r#"{"priority":1e999}"#,
            422,
        ),
        // --- comments
        case("POST", "/api/v1/incidents/{id}/comments", "", 400),
        case("POST", "/api/v1/incidents/{id}/comments", "{}", 422),
        case(
            "POST",
            "/api/v1/incidents/{id}/comments",
            r#"{"text":""}"#,
            422,
        ),
        case(
            "POST",
            "/api/v1/incidents/{id}/comments",
            r#"{"text":"  \n "}"#,
            422,
        ),
        case(
            "POST",
            "/api/v1/incidents/{id}/comments",
            r#"{"text":1}"#,
            422,
        ),
        case(
            "POST",
            "/api/v1/incidents/{id}/comments",
            r#"{"text":"x","extra":1}"#,
            422,
        ),
        case(
            "POST",
            "/api/v1/incidents/{id}/comments",
            format!(r#"{{"text":"{long}"}}"#),
            422,
        ),
        case(
            "POST",
            "/api/v1/incidents/424242/comments",
            r#"{"text":"x"}"#,
            404,
        ),
        case(
            "POST",
            "/api/v1/incidents/abc/comments",
            r#"{"text":"x"}"#,
            400,
        ),
        // --- merge
        case("POST", "/api/v1/incidents/{id}/merge", "{}", 422),
        case(
            "POST",
            "/api/v1/incidents/{id}/merge",
            r#"{"into":"a"}"#,
            422,
        ),
        case(
            "POST",
            "/api/v1/incidents/{id}/merge",
            r#"{"into":{id}}"#,
            409,
        ),
        case(
            "POST",
            "/api/v1/incidents/{id}/merge",
            r#"{"into":424242}"#,
            404,
        ),
        case(
            "POST",
            "/api/v1/incidents/{id}/merge",
            r#"{"into":-1}"#,
            404,
        ),
        // --- event push
        case("POST", "/api/v1/events", b"\xff\xfe\xfd".to_vec(), 400),
        case("POST", "/api/v1/events", "not json", 400),
        case("POST", "/api/v1/events", "[1,2,3]", 400),
        case("POST", "/api/v1/events", "{}", 400),
        case(
            "POST",
            "/api/v1/events",
            format!("{EV}\n{{\"ts\":1}}\n"),
            400,
        ),
        case(
            "POST",
            "/api/v1/events",
            r#"{"ts":"2026-01-01T00:00:00Z","client_ip":"999.1.1.1","method":"GET","path":"/","status":200}"#,
            400,
        ),
        case(
            "POST",
            "/api/v1/events",
            r#"{"ts":"10000-01-01T00:00:00Z","client_ip":"203.0.113.9","method":"GET","path":"/","status":200}"#,
            400,
        ),
        case(
            "POST",
            "/api/v1/events",
            r#"{"ts":253402300800000,"client_ip":"203.0.113.9","method":"GET","path":"/","status":200}"#,
            400,
        ),
        case(
            "POST",
            "/api/v1/events",
            r#"{"ts":-9223372036854775808,"client_ip":"203.0.113.9","method":"GET","path":"/","status":200}"#,
            400,
        ),
        case("POST", "/api/v1/events", nested(100_000), 400),
        // --- alert push
        case("POST", "/api/v1/alerts", "", 400),
        case("POST", "/api/v1/alerts", "1", 422),
        case("POST", "/api/v1/alerts", "[1]", 422),
        case("POST", "/api/v1/alerts", "\"alert\"", 422),
        case("POST", "/api/v1/alerts", "{}", 422),
        case("POST", "/api/v1/alerts", "[{}]", 422),
        case("POST", "/api/v1/alerts", alert_json("2", "1"), 422),
        case(
            "POST",
            "/api/v1/alerts",
            alert_json("253402300800000", "253402300800000"),
            422,
        ),
        case(
            "POST",
            "/api/v1/alerts",
            alert_json("9223372036854775807", "9223372036854775807"),
            422,
        ),
        case(
            "POST",
            "/api/v1/alerts",
            alert_json("-9223372036854775808", "0"),
            422,
        ),
        case("POST", "/api/v1/alerts", alert_json("1e30", "1e30"), 422),
        case("POST", "/api/v1/alerts", r#"{"class_uid":2004}"#, 422),
        case(
            "POST",
            "/api/v1/alerts",
            r#"{"class_uid":2004,"time":253402300800000,"finding_info":{"title":"x","uid":"1"},"severity_id":4}"#,
            422,
        ),
        case(
            "POST",
            "/api/v1/alerts",
            r#"{"class_uid":2004,"time":"soon","finding_info":{"title":"x","uid":"1"},"severity_id":4}"#,
            422,
        ),
        case("POST", "/api/v1/alerts", r#"{"class_uid":"2004"}"#, 422),
        case("POST", "/api/v1/alerts", nested(100_000), 400),
        // --- lists
        case("GET", "/api/v1/alerts?limit=0", "", 400),
        case("GET", "/api/v1/alerts?limit=x", "", 400),
        case("GET", "/api/v1/alerts?severity=Bad", "", 400),
        case("GET", "/api/v1/alerts?status=Bad", "", 400),
        case("GET", "/api/v1/alerts?incident_id=abc", "", 400),
        case("GET", "/api/v1/alerts?bogus=1", "", 400),
        case("GET", "/api/v1/audit?limit=0", "", 400),
        case("GET", "/api/v1/audit?limit=100000", "", 400),
        case("GET", "/api/v1/audit?bogus=1", "", 400),
        case("GET", "/api/v1/inventory/endpoints?bogus=1", "", 400),
        // --- tokens
        case("POST", "/api/v1/tokens", "{}", 422),
        case(
            "POST",
            "/api/v1/tokens",
            r#"{"name":"","role":"viewer"}"#,
            422,
        ),
        case(
            "POST",
            "/api/v1/tokens",
            r#"{"name":"a/b","role":"viewer"}"#,
            422,
        ),
        case(
            "POST",
            "/api/v1/tokens",
            r#"{"name":"ok","role":"god"}"#,
            422,
        ),
        case(
            "POST",
            "/api/v1/tokens",
            format!(r#"{{"name":"{long}","role":"viewer"}}"#),
            422,
        ),
        case(
            "POST",
            "/api/v1/tokens",
            r#"{"name":"x\u0000y","role":"viewer"}"#,
            422,
        ),
        case("DELETE", "/api/v1/tokens/nonexistent", "", 404),
        // --- Defender view (OData)
        case("GET", "/api/incidents?$filter=garbage", "", 400),
        case("GET", "/api/incidents?$filter=status%20eq", "", 400),
        case(
            "GET",
            "/api/incidents?$filter=status%20eq%20'Nope'",
            "",
            400,
        ),
        case(
            "GET",
            "/api/incidents?$filter=nosuchfield%20eq%20'x'",
            "",
            400,
        ),
        case(
            "GET",
            format!(
                "/api/incidents?$filter={}status%20eq%20'Active'{}",
                "(".repeat(1000),
                ")".repeat(1000)
            ),
            "",
            400,
        ),
        case(
            "GET",
            format!(
                "/api/incidents?$filter={}status%20eq%20'Active'{}",
                "(".repeat(5000),
                ")".repeat(5000)
            ),
            "",
            414,
        ),
        case("GET", "/api/incidents?$top=-1", "", 400),
        case("GET", "/api/incidents?$top=abc", "", 400),
        case("GET", "/api/incidents?$skip=x", "", 400),
        case("GET", "/api/incidents?$orderby=bogus", "", 400),
        case("GET", "/api/incidents/abc", "", 400),
        case("GET", "/api/incidents/424242", "", 404),
        case("PATCH", "/api/incidents/{id}", "{", 400),
        case("PATCH", "/api/incidents/{id}", r#"{"status":"Bogus"}"#, 422),
        // --- routes
        case("GET", "/api/v1/nope", "", 404),
        case("GET", "/api/v2/incidents", "", 404),
    ];
    // Deep and wide query strings: within the URI limit (8 KiB) they are parsed, over it 414.
    for (reps, status) in [(500, 400), (2000, 414)] {
        c.push(case(
            "GET",
            format!("/api/v1/incidents?{}", "status=Nope&".repeat(reps)),
            "",
            status,
        ));
    }
    for (reps, status) in [(2000, 200), (3000, 414)] {
        c.push(case(
            "GET",
            format!("/api/v1/incidents?q={}", "%25".repeat(reps)),
            "",
            status,
        ));
    }
    c
}

async fn send_raw(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Vec<u8>,
    token: &str,
) -> reqwest::Response {
    app.client
        .request(method.parse().expect("method"), app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request")
}

/// A 4xx error answer must carry the house shape; returns the parsed body.
async fn assert_json_error(r: reqwest::Response, what: &str) -> Value {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = r.text().await.expect("body");
    assert!(
        ct.starts_with("application/json"),
        "{what}: {status} content-type {ct:?}: {text}"
    );
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: {status} not json ({e}): {text}"));
    assert!(
        v["error"]["code"].is_string() && v["error"]["message"].is_string(),
        "{what}: {v}"
    );
    v
}

#[tokio::test]
async fn every_hostile_request_gets_a_json_4xx_and_changes_nothing() {
    let app = spawn_app().await;
    let incidents = app.seed_ten().await;
    let id = incidents[0].id.to_string();
    let before_incident = app.get_json(&format!("/api/v1/incidents/{id}")).await;
    let before_events = app
        .store
        .list_events(&EventQuery::default())
        .await
        .unwrap()
        .len();
    let before_tokens = app.store.list_tokens().await.unwrap().len();
    let mut failures = Vec::new();
    for c in cases() {
        let path = c.path.replace("{id}", &id);
        let body = String::from_utf8_lossy(&c.body)
            .replace("{id}", &id)
            .into_bytes();
        let body = if std::str::from_utf8(&c.body).is_ok() {
            body
        } else {
            c.body.clone()
        };
        let what = format!("{} {}", c.method, truncate(&path));
        let r = send_raw(&app, c.method, &path, body, &app.admin).await;
        let status = r.status().as_u16();
        if status != c.status {
            let text = r.text().await.unwrap_or_default();
            failures.push(format!(
                "{what} {:?}: expected {}, got {status}: {}",
                truncate(&String::from_utf8_lossy(&c.body)),
                c.status,
                truncate(&text)
            ));
            continue;
        }
        if status >= 400 {
            assert_json_error(r, &what).await;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases().len(),
        failures.join("\n")
    );
    // Nothing changed: the seeded incident, the stored events and the tokens are as before.
    assert_eq!(
        app.get_json(&format!("/api/v1/incidents/{id}")).await,
        before_incident
    );
    assert_eq!(
        app.store
            .list_events(&EventQuery::default())
            .await
            .unwrap()
            .len(),
        before_events
    );
    assert_eq!(app.store.list_tokens().await.unwrap().len(), before_tokens);
    // And the queue still answers.
    let list = app.get_json("/api/v1/incidents").await;
    assert_eq!(list["total"], 10);
}

fn truncate(s: &str) -> String {
    if s.len() > 120 {
        let mut end = 120;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} bytes)", &s[..end], s.len())
    } else {
        s.to_string()
    }
}

/// A small deterministic generator (xorshift), so failures reproduce from the seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SPLICES: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"-1",
    b"1e999",
    b"9223372036854775808",
    b"\xff",
    b"\x00",
    b"\n",
    b"\r\n",
    b"'",
    b"%00",
    b"${jndi:x}",
    b"<script>",
    b"\xe2\x80\xae",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v.truncate(i);
            }
            2 => {
                let i = rng.below(v.len() + 1);
                let s = SPLICES[rng.below(SPLICES.len())];
                v.splice(i..i, s.iter().copied());
            }
            3 if !v.is_empty() => {
                let i = rng.below(v.len());
                let j = (i + rng.below(16)).min(v.len());
                v.drain(i..j);
            }
            4 => {
                let depth = 1 + rng.below(300);
                let i = rng.below(v.len() + 1);
                v.splice(i..i, std::iter::repeat_n(b'[', depth));
            }
            _ => {
                let i = rng.below(v.len() + 1);
                let n = rng.below(5000);
                v.splice(i..i, std::iter::repeat_n(b'a', n));
            }
        }
    }
    v
}

#[tokio::test]
async fn mutated_requests_never_get_a_5xx() {
    let app = spawn_app().await;
    let incidents = app.seed_ten().await;
    let id = incidents[1].id;
    let other = incidents[2].id;
    let tier = app.token(Role::Tier2).await;
    let seeds: Vec<(&str, String, Vec<u8>)> = vec![
        ("PATCH", format!("/api/v1/incidents/{id}"), br#"{"status":"InProgress","assigned_to":"alice","tags":["a"],"severity":"High","title":"t"}"#.to_vec()),
        ("POST", format!("/api/v1/incidents/{id}/comments"), br#"{"text":"looking into it"}"#.to_vec()),
        ("POST", format!("/api/v1/incidents/{id}/merge"), format!(r#"{{"into":{other}}}"#).into_bytes()),
        ("POST", "/api/v1/events".into(), format!("{EV}\n{EV}\n").into_bytes()),
        ("POST", "/api/v1/alerts".into(), alert_json("1700000000000", "1700000001000").into_bytes()),
        ("PATCH", format!("/api/incidents/{id}"), br#"{"status":"Active","assignedTo":"bob","classification":"TruePositive"}"#.to_vec()),
    ];
    let queries = [
        "/api/v1/incidents?status=Active&severity=High,Critical&sort=priority&limit=10&q=x",
        "/api/incidents?$filter=status eq 'Active' and severity eq 'High'&$top=5&$skip=1",
        "/api/v1/alerts?severity=High&limit=5",
    ];
    let iterations: usize = std::env::var("RAMPART_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..iterations {
        let (method, path, body) = if i % 4 == 3 {
            let q = queries[rng.below(queries.len())].as_bytes();
            let m = mutate(&mut rng, q);
            // A URL must stay a URL: percent-encode what a client could not send raw.
            let p: String = m
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() && b != b'#' && b != b'%' {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            (
                "GET",
                if p.starts_with('/') {
                    p
                } else {
                    format!("/{p}")
                },
                Vec::new(),
            )
        } else {
            let (m, p, b) = &seeds[rng.below(seeds.len())];
            (*m, p.clone(), mutate(&mut rng, b))
        };
        let token = if i % 2 == 0 { &app.admin } else { &tier };
        let r = app
            .client
            .request(method.parse().unwrap(), app.url(&path))
            .bearer_auth(token)
            .body(body.clone())
            .send()
            .await;
        let r = match r {
            Ok(r) => r,
            // reqwest refuses some URLs itself; that is not the server's answer.
            Err(e) if e.is_builder() => continue,
            Err(e) => panic!("{method} {path}: transport error {e}"),
        };
        let status = r.status().as_u16();
        *by_status.entry(status).or_default() += 1;
        assert!(
            status < 500,
            "{method} {} with body {:?} -> {status}: {}",
            truncate(&path),
            truncate(&String::from_utf8_lossy(&body)),
            r.text().await.unwrap_or_default()
        );
        if status >= 400 {
            assert_json_error(r, &format!("{method} {}", truncate(&path))).await;
        }
    }
    eprintln!("mutated requests by status: {by_status:?}");
    assert!(
        by_status.keys().any(|s| *s >= 400),
        "the mutations produced no errors at all"
    );
    // The store still reads: every list and detail answers.
    for p in [
        "/api/v1/incidents",
        "/api/v1/alerts",
        "/api/v1/audit",
        "/api/incidents",
        "/api/v1/inventory/endpoints",
    ] {
        app.get_json(p).await;
    }
    for inc in &incidents {
        let r = app
            .get(&format!("/api/v1/incidents/{}", inc.id), &app.admin)
            .await;
        assert_eq!(r.status(), 200);
    }
}
