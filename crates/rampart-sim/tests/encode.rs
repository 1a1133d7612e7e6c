//! Each encoder on a fixed event, expected lines written out.

use std::borrow::Cow;

use rampart_model::{ApiEvent, Timestamp};
use rampart_sim::{encode, OutputFormat};

fn fixed() -> ApiEvent<'static> {
    ApiEvent {
        ts: Timestamp(1_767_225_600_123),
        client_ip: "203.0.113.9".parse().ok(),
        method: "GET".into(),
        scheme: "https".into(),
        host: "api.example.com".into(),
        path: "/api/v1/users/42".into(),
        query: "expand=true".into(),
        protocol: "HTTP/1.1".into(),
        status: 200,
        request_bytes: Some(312),
        response_bytes: Some(5120),
        latency_us: Some(12_500),
        user_agent: "curl/8 \"x\"".into(),
        principal: Some("alice".into()),
        authenticated: true,
        service: Some("users".into()),
        request_headers: vec![(Cow::Borrowed("authorization"), Cow::Borrowed("Bearer abc"))],
        response_headers: vec![(
            Cow::Borrowed("content-type"),
            Cow::Borrowed("application/json"),
        )],
        response_body: Some("{\"id\":42}".into()),
        ..Default::default()
    }
}

fn check(ev: &ApiEvent<'_>, fmt: OutputFormat, expected: &str) {
    let mut out = String::new();
    encode(ev, fmt, &mut out);
    assert_eq!(out, expected, "format {}", fmt.name());
    assert!(!out.contains('\n'), "one line");
    if fmt != OutputFormat::Combined && fmt != OutputFormat::Common && fmt != OutputFormat::AwsAlb {
        let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert!(v.is_object());
    }
}

#[test]
fn combined_fixed_event() {
    check(
        &fixed(),
        OutputFormat::Combined,
        r##"203.0.113.9 - - [01/Jan/2026:00:00:00 +0000] "GET /api/v1/users/42?expand=true HTTP/1.1" 200 5120 "-" "curl/8 \x22x\x22""##,
    );
}

#[test]
fn common_fixed_event() {
    check(
        &fixed(),
        OutputFormat::Common,
        r##"203.0.113.9 - - [01/Jan/2026:00:00:00 +0000] "GET /api/v1/users/42?expand=true HTTP/1.1" 200 5120"##,
    );
}

#[test]
fn nginx_json_fixed_event() {
    check(
        &fixed(),
        OutputFormat::NginxJson,
        r##"{"time":"2026-01-01T00:00:00+00:00","remote_addr":"203.0.113.9","x_forwarded_for":"","remote_user":"","request_method":"GET","scheme":"https","host":"api.example.com","request_uri":"/api/v1/users/42?expand=true","server_protocol":"HTTP/1.1","status":200,"request_length":312,"body_bytes_sent":5120,"request_time":0.012,"upstream_addr":"10.0.2.99:8080","http_user_agent":"curl/8 \"x\"","http_referer":"","http_authorization":"Bearer abc","http_x_api_key":""}"##,
    );
}

#[test]
fn rampart_fixed_event() {
    check(
        &fixed(),
        OutputFormat::Rampart,
        r##"{"ts":"2026-01-01T00:00:00.123Z","client_ip":"203.0.113.9","method":"GET","scheme":"https","host":"api.example.com","path":"/api/v1/users/42","query":"expand=true","protocol":"HTTP/1.1","status":200,"request_bytes":312,"response_bytes":5120,"latency_ms":12.500,"service":"users","principal":"alice","request":{"headers":{"user-agent":"curl/8 \"x\"","authorization":"Bearer abc"}},"response":{"headers":{"content-type":"application/json"},"body":"{\"id\":42}"}}"##,
    );
}

#[test]
fn envoy_json_fixed_event() {
    check(
        &fixed(),
        OutputFormat::EnvoyJson,
        r##"{"start_time":"2026-01-01T00:00:00.123Z","method":"GET","path":"/api/v1/users/42?expand=true","protocol":"HTTP/1.1","response_code":200,"response_flags":"-","bytes_received":312,"bytes_sent":5120,"duration":12,"x_forwarded_for":"","user_agent":"curl/8 \"x\"","request_id":"1fb85d26-c702-f275-8932-c232f817f01a","authority":"api.example.com","upstream_host":"10.0.2.99:8080","downstream_remote_address":"203.0.113.9:51583","authorization":"Bearer abc","x_api_key":""}"##,
    );
}

#[test]
fn traefik_json_fixed_event() {
    check(
        &fixed(),
        OutputFormat::Traefik,
        r##"{"ClientAddr":"203.0.113.9:51583","ClientHost":"203.0.113.9","ClientUsername":"-","DownstreamContentSize":5120,"DownstreamStatus":200,"Duration":12500000,"OriginStatus":200,"RequestContentSize":312,"RequestHost":"api.example.com","RequestMethod":"GET","RequestPath":"/api/v1/users/42?expand=true","RequestProtocol":"HTTP/1.1","RequestScheme":"https","ServiceName":"users","StartUTC":"2026-01-01T00:00:00.123000000Z","request_User-Agent":"curl/8 \"x\"","request_Referer":"","request_Authorization":"Bearer abc","request_X-Api-Key":"","level":"info","msg":"","time":"2026-01-01T00:00:00Z"}"##,
    );
}

#[test]
fn caddy_fixed_event() {
    check(
        &fixed(),
        OutputFormat::Caddy,
        r##"{"level":"info","ts":1767225600.123,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"203.0.113.9","remote_port":"51583","client_ip":"203.0.113.9","proto":"HTTP/1.1","method":"GET","host":"api.example.com","uri":"/api/v1/users/42?expand=true","headers":{"User-Agent":["curl/8 \"x\""],"Authorization":["Bearer abc"]}},"bytes_read":312,"user_id":"","duration":0.012500,"size":5120,"status":200,"resp_headers":{"content-type":["application/json"]}}"##,
    );
}

#[test]
fn aws_alb_fixed_event() {
    check(
        &fixed(),
        OutputFormat::AwsAlb,
        r##"https 2026-01-01T00:00:00.123000Z app/rampart-demo/50dc6c495c0c9188 203.0.113.9:51583 10.0.2.99:8080 0.000 0.012 0.000 200 200 312 5120 "GET https://api.example.com:443/api/v1/users/42?expand=true HTTP/1.1" "curl/8 \"x\"" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/users/73e2d6bc24d8a067 "Root=1-6955b900-96cf6e7c488c85212ad3dcc6" "api.example.com" "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 0 2026-01-01T00:00:00.123000Z "forward" "-" "-" "10.0.2.99:8080" "200" "-" "-""##,
    );
}

#[test]
fn names_round_trip_and_unknown_is_an_error() {
    for &f in OutputFormat::ALL {
        assert_eq!(OutputFormat::from_name(f.name()).ok(), Some(f));
    }
    let err = OutputFormat::from_name("syslog").map(|f| f.name());
    assert_eq!(
        err.map_err(|e| e.to_string()),
        Err("unknown output format \"syslog\"".to_string())
    );
}

#[test]
fn basic_auth_user_is_logged_as_remote_user_and_ipv6_is_bracketed() {
    let ev = ApiEvent {
        client_ip: "2001:db8:bad::1".parse().ok(),
        method: "POST".into(),
        path: "/api/v1/auth/login".into(),
        query: "".into(),
        protocol: "HTTP/1.1".into(),
        status: 401,
        response_bytes: Some(108),
        user_agent: "Hydra".into(),
        principal: Some("bob".into()),
        request_headers: vec![(
            Cow::Borrowed("authorization"),
            Cow::Borrowed("Basic Ym9iOnB3"),
        )],
        ts: Timestamp(1_767_225_600_123),
        ..Default::default()
    };
    check(
        &ev,
        OutputFormat::Combined,
        r#"2001:db8:bad::1 - bob [01/Jan/2026:00:00:00 +0000] "POST /api/v1/auth/login HTTP/1.1" 401 108 "-" "Hydra""#,
    );
    let mut s = String::new();
    encode(&ev, OutputFormat::EnvoyJson, &mut s);
    assert!(
        s.contains("\"downstream_remote_address\":\"[2001:db8:bad::1]:"),
        "{s}"
    );
}
