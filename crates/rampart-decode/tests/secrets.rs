//! The secrets corpus: every form a credential takes in the supported formats (escaped JSON,
//! `\u` escapes, array-valued and mixed-case headers, each secret header, query keys in
//! request lines and JSON URIs, url-encoded keys, form, JSON and multipart bodies). Each
//! case is decoded, enriched and sanitized (as the pipeline does before storing), the WHOLE
//! event is serialized, and no form of the secret
//! may appear in it (nor in any field), while the identities (API-key id, principal) are
//! still derived from the clear value.
//!
//! Guards issue 8 item 2: redaction used to run on the raw text only.

use base64::Engine as _;
use rampart_decode::{api_key_id, decoder_by_name, DecodeConfig, DEV_API_KEY_SECRET};

/// One case: a line of `format` holding `needles` (secret values, as decoded), the clear
/// key expected to give `api_key_id`, the principal expected, and text the redacted event
/// must still hold (scheme, cookie names).
struct Case {
    name: &'static str,
    format: &'static str,
    line: String,
    needles: &'static [&'static str],
    key: Option<&'static str>,
    principal: Option<&'static str>,
    keep: &'static [&'static str],
}

const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.JwtSigSECRET77";

fn basic(user_pw: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(user_pw)
}

fn rampart(headers: &str, query: &str, body: &str, resp_headers: &str) -> String {
    format!(
        r#"{{"ts":"2026-01-01T00:00:00Z","client_ip":"203.0.113.9","method":"POST","path":"/api/v1/login","query":{query},"status":200,"request":{{"headers":{headers},"body":{body}}},"response":{{"headers":{resp_headers}}}}}"#
    )
}

fn clf(target: &str, referer: &str) -> String {
    format!(
        r#"203.0.113.9 - - [04/Jan/2026:08:00:00 +0000] "GET {target} HTTP/1.1" 200 10 "{referer}" "curl/8""#
    )
}

fn cases() -> Vec<Case> {
    let b64 = basic("alice:BasicPwSECRET1");
    vec![
        Case {
            name: "escaped slash in a bearer token",
            format: "rampart",
            line: rampart(r#"{"authorization":"Bearer SlashSECRET\/x"}"#, r#""""#, "null", "{}"),
            needles: &["SlashSECRET/x", "SlashSECRET"],
            key: Some("SlashSECRET/x"),
            principal: None,
            keep: &["Bearer [redacted]"],
        },
        Case {
            name: "unicode escape in a bearer token",
            format: "rampart",
            line: rampart(r#"{"authorization":"Bearer \u0053ECRETuni2"}"#, r#""""#, "null", "{}"),
            needles: &["SECRETuni2", "ECRETuni2"],
            key: Some("SECRETuni2"),
            principal: None,
            keep: &["Bearer [redacted]"],
        },
        Case {
            name: "array-valued authorization",
            format: "rampart",
            line: rampart(
                r#"{"authorization":["Bearer ArrSECRETa1","Bearer ArrSECRETb2"]}"#,
                r#""""#,
                "null",
                "{}",
            ),
            needles: &["ArrSECRETa1", "ArrSECRETb2"],
            key: None,
            principal: None,
            keep: &[],
        },
        Case {
            name: "mixed-case header name, JWT principal",
            format: "rampart",
            line: rampart(&format!(r#"{{"AuThOrIzAtIoN":"Bearer {JWT}"}}"#), r#""""#, "null", "{}"),
            needles: &[JWT, "JwtSigSECRET77"],
            key: Some(JWT),
            principal: Some("bob"),
            keep: &["Bearer [redacted]"],
        },
        Case {
            name: "basic auth",
            format: "rampart",
            line: rampart(&format!(r#"{{"authorization":"Basic {b64}"}}"#), r#""""#, "null", "{}"),
            needles: &["BasicPwSECRET1"],
            key: None,
            principal: Some("alice"),
            keep: &["Basic [redacted]"],
        },
        Case {
            name: "every secret header",
            format: "rampart",
            line: rampart(
                r#"{"proxy-authorization":"Basic UHJveHlTRUNSRVQ=","Cookie":"sid=CookieSECRET3; theme=CookieSECRET4","x-api-key":"ApiKeySECRET5","X-Auth-Token":"AuthTokSECRET6","x-amz-security-token":"AmzSECRET7","ocp-apim-subscription-key":"ApimSECRET8"}"#,
                r#""""#,
                "null",
                r#"{"Set-Cookie":["sid=SetCookieSECRET9; Path=/; HttpOnly","csrf=SetCookieSECRET10; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure"]}"#,
            ),
            needles: &[
                "UHJveHlTRUNSRVQ=",
                "CookieSECRET3",
                "CookieSECRET4",
                "ApiKeySECRET5",
                "AuthTokSECRET6",
                "AmzSECRET7",
                "ApimSECRET8",
                "SetCookieSECRET9",
                "SetCookieSECRET10",
            ],
            key: Some("ApiKeySECRET5"),
            principal: None,
            keep: &["sid=[redacted]", "theme=[redacted]", "Path=/", "HttpOnly"],
        },
        Case {
            name: "query keys in a record",
            format: "rampart",
            line: rampart(
                "{}",
                r#""access_token=QrySECRET11&x=1&API_KEY=QrySECRET12&access%5Ftoken=QrySECRET13&X-Amz-Signature=QrySECRET14""#,
                "null",
                "{}",
            ),
            needles: &["QrySECRET11", "QrySECRET12", "QrySECRET13", "QrySECRET14"],
            key: None,
            principal: None,
            keep: &["x=1"],
        },
        Case {
            name: "form body",
            format: "rampart",
            line: rampart(
                "{}",
                r#""""#,
                r#""username=bob&password=FormSECRET15&user%5Bpassword%5D=FormSECRET16""#,
                "{}",
            ),
            needles: &["FormSECRET15", "FormSECRET16"],
            key: None,
            principal: None,
            keep: &["username=bob"],
        },
        Case {
            name: "nested JSON body",
            format: "rampart",
            line: rampart(
                "{}",
                r#""""#,
                r#""{\"username\":\"bob\",\"password\":\"JsonSECRET17\",\"oauth\":{\"client_secret\":\"JsonSECRET18\",\"tokens\":[{\"refresh_token\":\"JsonSECRET19\"}]},\"token\":{\"value\":\"JsonSECRET20\"},\"p\\u0061ssword\":\"JsonSECRET21\"}""#,
                "{}",
            ),
            needles: &["JsonSECRET17", "JsonSECRET18", "JsonSECRET19", "JsonSECRET20", "JsonSECRET21"],
            key: None,
            principal: None,
            keep: &["bob"],
        },
        Case {
            name: "truncated JSON body",
            format: "rampart",
            line: rampart("{}", r#""""#, r#""{\"user\":\"bob\",\"password\":\"TruncSECRET22""#, "{}"),
            needles: &["TruncSECRET22"],
            key: None,
            principal: None,
            keep: &[],
        },
        Case {
            name: "multipart body",
            format: "rampart",
            line: rampart(
                "{}",
                r#""""#,
                r#""--b\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nbob\r\n--b\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nMultiSECRET23\r\n--b--""#,
                "{}",
            ),
            needles: &["MultiSECRET23"],
            key: None,
            principal: None,
            keep: &["bob"],
        },
        Case {
            name: "query keys in a combined request line and referer",
            format: "combined",
            line: clf(
                "/cb?access_token=ClfSECRET24&x=1&ACCESS_TOKEN=ClfSECRET25&access%5Ftoken=ClfSECRET26&client_secret=ClfSECRET27",
                "https://app.example/?token=ClfSECRET28",
            ),
            needles: &["ClfSECRET24", "ClfSECRET25", "ClfSECRET26", "ClfSECRET27", "ClfSECRET28"],
            key: None,
            principal: None,
            keep: &["x=1", "/cb"],
        },
        Case {
            name: "custom format with a trailing authorization field",
            format: "combined",
            line: format!(
                r#"{} "Bearer TrailSECRET58abc""#,
                clf("/a", "-")
            ),
            needles: &["TrailSECRET58abc"],
            key: None,
            principal: None,
            keep: &[],
        },
        Case {
            name: "common log request line",
            format: "common",
            line: r#"203.0.113.9 - - [04/Jan/2026:08:00:00 +0000] "GET /a?password=CommonSECRET29 HTTP/1.1" 200 10"#.into(),
            needles: &["CommonSECRET29"],
            key: None,
            principal: None,
            keep: &[],
        },
        Case {
            name: "nginx json headers and request_uri",
            format: "nginx_json",
            line: r#"{"time":"2026-01-01T00:00:00+00:00","remote_addr":"203.0.113.9","request_method":"GET","request_uri":"/x?api_key=NgxSECRET30&ok=1","status":200,"http_authorization":"Bearer NgxSECRET31\/z","http_x_api_key":"","http_cookie":"sid=NgxSECRET32","http_x_auth_token":"NgxSECRET33"}"#.into(),
            needles: &["NgxSECRET30", "NgxSECRET31", "NgxSECRET32", "NgxSECRET33"],
            key: Some("NgxSECRET31/z"),
            principal: None,
            keep: &["ok=1"],
        },
        Case {
            name: "traefik json",
            format: "traefik_json",
            line: r#"{"ClientHost":"203.0.113.9","DownstreamStatus":200,"RequestHost":"h","RequestMethod":"GET","RequestPath":"/x?token=TrfSECRET34","RequestProtocol":"HTTP/1.1","StartUTC":"2026-01-01T00:00:00Z","request_Authorization":"Bearer TrfSECRET35","request_Cookie":"a=TrfSECRET36"}"#.into(),
            needles: &["TrfSECRET34", "TrfSECRET35", "TrfSECRET36"],
            key: Some("TrfSECRET35"),
            principal: None,
            keep: &[],
        },
        Case {
            name: "caddy json array headers",
            format: "caddy",
            line: r#"{"level":"info","ts":1693840791.75,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"203.0.113.9","proto":"HTTP/1.1","method":"GET","host":"h","uri":"/a?b=1\u0026access_token=CadSECRET37","headers":{"Authorization":["Bearer CadSECRET38"],"Cookie":["s=CadSECRET39"]}},"status":200,"resp_headers":{"Set-Cookie":["s=CadSECRET40; Path=/"]}}"#.into(),
            needles: &["CadSECRET37", "CadSECRET38", "CadSECRET39", "CadSECRET40"],
            key: Some("CadSECRET38"),
            principal: None,
            keep: &["b=1"],
        },
        Case {
            name: "kong http-log",
            format: "kong",
            line: r#"{"request":{"method":"GET","uri":"/o?apikey=KongSECRET41","querystring":{"apikey":"KongSECRET41"},"headers":{"host":"h","authorization":"Bearer KongSECRET42","x-api-key":"KongSECRET43"}},"response":{"status":200,"headers":{"set-cookie":"k=KongSECRET44"}},"latencies":{"request":1},"client_ip":"203.0.113.9","started_at":1704103200000}"#.into(),
            needles: &["KongSECRET41", "KongSECRET42", "KongSECRET43", "KongSECRET44"],
            key: Some("KongSECRET42"),
            principal: None,
            keep: &[],
        },
        Case {
            name: "ocsf header list",
            format: "ocsf",
            line: r#"{"class_uid":4002,"time":1704103200000,"src_endpoint":{"ip":"203.0.113.9"},"http_request":{"http_method":"GET","url":{"path":"/v1/u","query_string":"sig=OcsfSECRET45"},"http_headers":[{"name":"Authorization","value":"Bearer OcsfSECRET46"},{"name":"X-Api-Key","value":"OcsfSECRET47"}]},"http_response":{"code":200}}"#.into(),
            needles: &["OcsfSECRET45", "OcsfSECRET46", "OcsfSECRET47"],
            key: Some("OcsfSECRET46"),
            principal: None,
            keep: &[],
        },
        Case {
            name: "envoy json path",
            format: "envoy_json",
            line: r#"{"start_time":"2024-01-01T10:00:00.000Z","method":"GET","path":"/api/x?refresh_token=EnvSECRET48","response_code":200,"x_forwarded_for":"203.0.113.9"}"#.into(),
            needles: &["EnvSECRET48"],
            key: None,
            principal: None,
            keep: &[],
        },
        Case {
            name: "azure apim url",
            format: "azure_apim",
            line: r#"{"time":"2024-02-01T12:00:00.5Z","callerIpAddress":"203.0.113.9","properties":{"method":"GET","url":"https://c.azure-api.net/e?subscription-key=ApimSECRET49","responseCode":200,"requestHeaders":{"Ocp-Apim-Subscription-Key":"ApimSECRET50"}}}"#.into(),
            needles: &["ApimSECRET49", "ApimSECRET50"],
            key: None,
            principal: None,
            keep: &[],
        },
        Case {
            name: "aws alb request line",
            format: "aws_alb",
            line: r#"https 2023-04-26T12:23:00.186641Z app/x/490d 203.0.113.9:44740 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/cb?id_token=AlbSECRET51 HTTP/1.1" "curl/7.46.0" ECDHE TLSv1.2 arn:x "Root=1" "www.example.com" "arn:y" 1 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-""#.into(),
            needles: &["AlbSECRET51"],
            key: None,
            principal: None,
            keep: &[],
        },
        Case {
            name: "cloudfront query field",
            format: "cloudfront",
            line: "2024-03-12\t15:22:28\tCDG50-P2\t703\t203.0.113.9\tGET\td.cloudfront.net\t/t\t200\t-\tcurl/7.81.0\tx=1&Signature=CfSECRET52\t-\tHit\t375W==\th.example\thttps\t62\t0.113\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tHit\tHTTP/2.0\t-\t-\t51754\t0.113\tHit\ttext/plain\t20\t-\t-".into(),
            needles: &["CfSECRET52"],
            key: None,
            principal: None,
            keep: &["x=1"],
        },
        Case {
            name: "iis w3c query field",
            format: "iis_w3c",
            line: "2024-05-01 10:00:00 10.0.0.5 GET /owa/auth.owa password=IisSECRET53&a=1 443 bob 203.0.113.9 Mozilla/5.0+(X11) - 401 1 0 15".into(),
            needles: &["IisSECRET53"],
            key: None,
            principal: Some("bob"),
            keep: &["a=1"],
        },
        Case {
            name: "iis xml escaped query and cookie",
            format: "iis_xml",
            line: r#"<Event xmlns="x"> <System> <Provider Name="Microsoft-Windows-IIS-Logging" /> </System> <EventData> <Data Name="date">2022-10-01</Data> <Data Name="time">11:25:51</Data> <Data Name="c-ip">203.0.113.9</Data> <Data Name="cs-username">-</Data> <Data Name="s-sitename">W3SVC1</Data> <Data Name="cs-method">GET</Data> <Data Name="cs-uri-stem">/a</Data> <Data Name="cs-uri-query">a=1&amp;token=XmlSECRET54</Data> <Data Name="sc-status">200</Data> <Data Name="sc-bytes">134</Data> <Data Name="time-taken">49</Data> <Data Name="csUser-Agent">Mozilla/5.0+(X11)</Data> <Data Name="csCookie">ASP.NET_SessionId=XmlSECRET55</Data> <Data Name="CustomFields" /> </EventData> </Event>"#.into(),
            needles: &["XmlSECRET54", "XmlSECRET55"],
            key: None,
            principal: None,
            keep: &[],
        },
        Case {
            name: "haproxy request line",
            format: "haproxy",
            line: r#"203.0.113.9:14853 [14/Jan/2015:12:48:57.127] https-in~ be/node 170/0/0/3/173 200 739 - - --NN 0/0/0/0/0 0/0 "GET /x?secret=HapSECRET56 HTTP/1.1""#.into(),
            needles: &["HapSECRET56"],
            key: None,
            principal: None,
            keep: &[],
        },
        Case {
            name: "nginx error log request",
            format: "nginx_error",
            line: r#"2021/09/30 09:23:53 [error] 1#1: *17 open() "/x" failed, client: 203.0.113.9, server: _, request: "GET /x?access_token=ErrSECRET57 HTTP/1.1", host: "localhost""#.into(),
            needles: &["ErrSECRET57"],
            key: None,
            principal: None,
            keep: &[],
        },
    ]
}

/// Every spelling of a needle that may leak: as is, JSON-escaped (`\/`, `\"`), with `\/`,
/// percent-encoded and percent-decoded.
fn variants(n: &str) -> Vec<String> {
    let json = serde_json::to_string(n).unwrap_or_default();
    let pct: String = n
        .bytes()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                (c as char).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect();
    let mut v = vec![
        n.to_owned(),
        json[1..json.len() - 1].to_owned(),
        n.replace('/', "\\/"),
        pct,
        n.replace("%5F", "_").replace("%5f", "_"),
    ];
    v.sort();
    v.dedup();
    v
}

fn check(c: &Case) {
    let d = decoder_by_name(c.format).unwrap_or_else(|| panic!("no decoder {}", c.format));
    let cfg = DecodeConfig::default();
    let mut ev = d
        .decode(&c.line, &cfg)
        .unwrap_or_else(|e| panic!("{}: {e}\nline: {}", c.name, c.line));
    // Decoding leaves the secrets for detection to see; sanitizing removes them before the
    // store does.
    let clear = serde_json::to_string(&ev).unwrap_or_default();
    rampart_decode::sanitize(&mut ev, &cfg);
    let json = serde_json::to_string(&ev).unwrap_or_default();
    assert_ne!(
        json, clear,
        "{}: decoding left nothing for sanitize to redact",
        c.name
    );
    // the fields one by one too: a field's own escaping cannot hide a secret
    let mut fields = vec![json.clone(), ev.raw.to_string(), ev.query.to_string()];
    fields.extend(ev.request_body.as_deref().map(str::to_owned));
    fields.extend(
        ev.request_headers
            .iter()
            .chain(&ev.response_headers)
            .map(|(k, v)| format!("{k}: {v}")),
    );
    for n in c.needles {
        for v in variants(n) {
            for f in &fields {
                assert!(
                    !f.contains(&v),
                    "{}: secret {v:?} left in\n{f}\nline: {}",
                    c.name,
                    c.line
                );
            }
        }
    }
    for k in c.keep {
        assert!(json.contains(k), "{}: {k:?} should stay in\n{json}", c.name);
    }
    if let Some(key) = c.key {
        assert_eq!(
            ev.api_key_id.as_deref(),
            Some(api_key_id(DEV_API_KEY_SECRET, key).as_str()),
            "{}: api_key_id from the clear key",
            c.name
        );
    }
    assert_eq!(
        ev.principal.as_deref(),
        c.principal,
        "{}: principal",
        c.name
    );
    if c.key.is_some() || c.principal.is_some() {
        assert!(ev.authenticated, "{}", c.name);
    }
}

#[test]
fn no_form_of_a_secret_survives_decoding() {
    let cases = cases();
    let mut failures = Vec::new();
    for c in &cases {
        if let Err(e) = std::panic::catch_unwind(|| check(c)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(msg);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases leak:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// A record already redacted (pushed again) must not give every such event the identity of
/// the string `[redacted]`.
#[test]
fn a_redacted_credential_is_no_identity() {
    let d = decoder_by_name("rampart").unwrap_or_else(|| unreachable!());
    let line = rampart(
        r#"{"authorization":"Bearer [redacted]","x-api-key":"[redacted]"}"#,
        r#""""#,
        "null",
        "{}",
    );
    let ev = d
        .decode(&line, &DecodeConfig::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ev.api_key_id, None);
    assert!(ev.authenticated);
}

/// A clean line stays borrowed from the input: redaction costs nothing on it.
#[test]
fn clean_lines_are_not_copied() {
    let d = decoder_by_name("combined").unwrap_or_else(|| unreachable!());
    let line = clf(
        "/api/v1/orders?limit=20&offset=40",
        "https://app.example/?q=shoes",
    );
    let mut ev = d
        .decode(&line, &DecodeConfig::default())
        .unwrap_or_else(|e| panic!("{e}"));
    rampart_decode::sanitize(&mut ev, &DecodeConfig::default());
    assert!(matches!(ev.raw, std::borrow::Cow::Borrowed(_)));
    assert!(matches!(ev.query, std::borrow::Cow::Borrowed(_)));
    assert_eq!(ev.raw, line);
}
