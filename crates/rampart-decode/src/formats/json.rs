//! JSON formats decoded with serde_json into borrowed structs: Rampart's own NDJSON record,
//! nginx JSON (`log_format rampart_json`), Caddy (access and Coraza WAF lines), Traefik.

use std::borrow::Cow;
use std::fmt;

use rampart_model::{ApiEvent, EventKind};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::util::{
    any_time, epoch_guess, epoch_secs_f64, parse_ip, set_request_line, set_request_line_owned,
    set_target, set_target_owned,
};
use crate::{finish, malformed, DecodeConfig, DecodeError, Decoder, EnrichInput};

/// Rampart's own NDJSON request record (schema: `schema/rampart-event.schema.json`).
pub struct RampartJson;
/// nginx `log_format rampart_json escape=json` (see README), and variants with
/// `time_local`, `request`, `msec`.
pub struct NginxJson;
/// Caddy's JSON access log (`http.log.access`) and Coraza WAF lines (`http.handlers.waf`).
pub struct CaddyJson;
/// Traefik's JSON access log.
pub struct TraefikJson;

/// A number that may be written as a JSON number or a string (`"-"` and `""` mean absent).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Num(pub Option<f64>);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or numeric string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(Some(v as f64)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(Some(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                Ok(Num(v.trim().parse().ok()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Num, E> {
                Ok(Num(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Num, E> {
                Ok(Num(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl Num {
    fn u64(self) -> Option<u64> {
        self.0
            .filter(|v| *v >= 0.0 && v.is_finite())
            .map(|v| v as u64)
    }
    fn u16(self) -> u16 {
        self.0
            .filter(|v| (0.0..65536.0).contains(v))
            .map_or(0, |v| v as u16)
    }
}

/// A string borrowed from the input when it has no escapes.
#[derive(Debug, Default, Clone)]
pub(crate) struct S<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for S<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = S<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<S<'a>, E> {
                Ok(S(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<S<'a>, E> {
                Ok(S(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<S<'a>, E> {
                Ok(S(Cow::Owned(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<S<'a>, E> {
                Ok(S(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<S<'a>, E> {
                Ok(S(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<S<'a>, E> {
                Ok(S(Cow::Owned(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<S<'a>, E> {
                Ok(S(Cow::Owned(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<S<'a>, E> {
                Ok(S(Cow::Borrowed("")))
            }
            fn visit_none<E: de::Error>(self) -> Result<S<'a>, E> {
                Ok(S(Cow::Borrowed("")))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<S<'a>, A::Error> {
                // header value arrays (Caddy): join with ", "
                let mut first: Option<Cow<'a, str>> = None;
                while let Some(S(v)) = seq.next_element::<S<'a>>()? {
                    first = Some(match first {
                        None => v,
                        Some(f) => Cow::Owned(format!("{f}, {v}")),
                    });
                }
                Ok(S(first.unwrap_or(Cow::Borrowed(""))))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A JSON object of headers (`{"Name": "v"}` or `{"Name": ["v1", "v2"]}`) as lower-case pairs.
#[derive(Debug, Default)]
pub(crate) struct Headers<'a>(pub Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Headers<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Headers<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of headers")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Headers<'a>, E> {
                Ok(Headers::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers<'a>, A::Error> {
                let mut out = Vec::new();
                while let Some((S(k), S(v))) = map.next_entry::<S<'a>, S<'a>>()? {
                    let k = if k.bytes().any(|c| c.is_ascii_uppercase()) {
                        Cow::Owned(k.to_ascii_lowercase())
                    } else {
                        k
                    };
                    out.push((k, v));
                }
                Ok(Headers(out))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

fn json_err(format: &'static str, e: serde_json::Error) -> DecodeError {
    DecodeError::Json {
        format,
        message: e.to_string(),
    }
}

fn opt(s: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    s.filter(|v| !v.is_empty() && v != "-")
}

fn undash(s: Cow<'_, str>) -> Cow<'_, str> {
    if s == "-" {
        Cow::Borrowed("")
    } else {
        s
    }
}

fn target<'a>(ev: &mut ApiEvent<'a>, t: Cow<'a, str>) {
    match t {
        Cow::Borrowed(b) => set_target(ev, b),
        Cow::Owned(o) => set_target_owned(ev, &o),
    }
}

fn request_line<'a>(ev: &mut ApiEvent<'a>, t: Cow<'a, str>) {
    match t {
        Cow::Borrowed(b) => set_request_line(ev, b),
        Cow::Owned(o) => set_request_line_owned(ev, &o),
    }
}

fn truncate(s: Cow<'_, str>, limit: usize) -> Cow<'_, str> {
    if s.len() <= limit {
        return s;
    }
    let mut end = limit;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(&b[..end]),
        Cow::Owned(mut o) => {
            o.truncate(end);
            Cow::Owned(o)
        }
    }
}

fn ip_of(s: &Option<Cow<'_, str>>) -> Option<std::net::IpAddr> {
    s.as_deref().and_then(parse_ip)
}

// ---------------------------------------------------------------------------------------
// rampart

#[derive(Deserialize)]
struct Part<'a> {
    #[serde(borrow, default)]
    headers: Headers<'a>,
    #[serde(borrow, default)]
    body: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RampartRec<'a> {
    #[serde(borrow)]
    ts: S<'a>,
    #[serde(borrow, default)]
    client_ip: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    peer_ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow, default)]
    scheme: Cow<'a, str>,
    #[serde(borrow, default)]
    host: Cow<'a, str>,
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(borrow, default)]
    query: Cow<'a, str>,
    #[serde(borrow, default)]
    protocol: Cow<'a, str>,
    status: Num,
    #[serde(default)]
    request_bytes: Num,
    #[serde(default)]
    response_bytes: Num,
    #[serde(default)]
    latency_ms: Num,
    #[serde(borrow, default)]
    service: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    principal: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    request: Option<Part<'a>>,
    #[serde(borrow, default)]
    response: Option<Part<'a>>,
}

impl Decoder for RampartJson {
    fn name(&self) -> &'static str {
        "rampart"
    }
    fn sniff(&self, line: &str) -> bool {
        let b = line.as_bytes();
        b.first() == Some(&b'{')
            && crate::util::find(b, b"\"ts\"").is_some()
            && crate::util::find(b, b"\"path\"").is_some()
            && crate::util::find(b, b"\"logger\"").is_none()
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "rampart";
        let r: RampartRec<'a> = serde_json::from_str(line).map_err(|e| json_err(N, e))?;
        let ts = any_time(&r.ts.0).ok_or(malformed(N, "invalid ts"))?;
        let client = ip_of(&r.client_ip);
        let peer = ip_of(&r.peer_ip);
        if client.is_none() && peer.is_none() {
            return Err(malformed(N, "no client_ip or peer_ip"));
        }
        let mut ev = ApiEvent {
            ts,
            client_ip: client.or(peer),
            peer_ip: peer.filter(|_| client.is_some()),
            method: r.method,
            scheme: r.scheme,
            host: r.host,
            protocol: r.protocol,
            status: r.status.u16(),
            request_bytes: r.request_bytes.u64(),
            response_bytes: r.response_bytes.u64(),
            latency_us: r
                .latency_ms
                .0
                .filter(|v| *v >= 0.0)
                .map(|ms| (ms * 1000.0).round() as u64),
            service: opt(r.service),
            principal: opt(r.principal),
            ..ApiEvent::default()
        };
        if r.query.is_empty() && r.path.contains('?') {
            target(&mut ev, r.path);
        } else {
            ev.path = r.path;
            ev.query = r.query;
        }
        if let Some(req) = r.request {
            ev.request_headers = req.headers.0;
            ev.request_body = req.body.map(|b| truncate(b, cfg.body_sample_limit));
            if let Some(ua) = ev.request_headers.iter().find(|(k, _)| k == "user-agent") {
                ev.user_agent = ua.1.clone();
            }
            if let Some(rf) = ev.request_headers.iter().find(|(k, _)| k == "referer") {
                ev.referer = rf.1.clone();
            }
        }
        if let Some(resp) = r.response {
            ev.response_headers = resp.headers.0;
            ev.response_body = resp.body.map(|b| truncate(b, cfg.body_sample_limit));
        }
        Ok(finish(ev, N, line, EnrichInput::default(), cfg))
    }
}

// ---------------------------------------------------------------------------------------
// nginx JSON

#[derive(Deserialize, Default)]
#[serde(default)]
struct NginxRec<'a> {
    #[serde(
        borrow,
        alias = "time_iso8601",
        alias = "time_local",
        alias = "timestamp",
        alias = "@timestamp"
    )]
    time: Option<Cow<'a, str>>,
    msec: Num,
    #[serde(borrow)]
    remote_addr: Option<Cow<'a, str>>,
    #[serde(borrow, alias = "http_x_forwarded_for")]
    x_forwarded_for: Option<Cow<'a, str>>,
    #[serde(borrow)]
    remote_user: Option<Cow<'a, str>>,
    #[serde(borrow, alias = "method")]
    request_method: Cow<'a, str>,
    #[serde(borrow)]
    scheme: Cow<'a, str>,
    #[serde(borrow, alias = "http_host", alias = "server_name")]
    host: Cow<'a, str>,
    #[serde(borrow, alias = "uri")]
    request_uri: Option<Cow<'a, str>>,
    #[serde(borrow)]
    request: Option<Cow<'a, str>>,
    #[serde(borrow, alias = "protocol")]
    server_protocol: Cow<'a, str>,
    status: Num,
    request_length: Num,
    #[serde(alias = "bytes_sent")]
    body_bytes_sent: Num,
    request_time: Num,
    #[serde(borrow)]
    upstream_addr: Option<Cow<'a, str>>,
    #[serde(borrow, alias = "user_agent")]
    http_user_agent: Cow<'a, str>,
    #[serde(borrow, alias = "referer")]
    http_referer: Cow<'a, str>,
    #[serde(borrow)]
    http_authorization: Option<Cow<'a, str>>,
    #[serde(borrow)]
    http_x_api_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    http_cookie: Option<Cow<'a, str>>,
}

impl Decoder for NginxJson {
    fn name(&self) -> &'static str {
        "nginx_json"
    }
    fn sniff(&self, line: &str) -> bool {
        let b = line.as_bytes();
        b.first() == Some(&b'{') && crate::util::find(b, b"\"remote_addr\"").is_some()
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "nginx_json";
        let r: NginxRec<'a> = serde_json::from_str(line).map_err(|e| json_err(N, e))?;
        let ts = match (&r.time, r.msec.0) {
            (_, Some(ms)) => epoch_secs_f64(ms),
            (Some(t), None) => any_time(t).ok_or(malformed(N, "invalid time"))?,
            (None, None) => return Err(malformed(N, "no time")),
        };
        let mut ev = ApiEvent {
            ts,
            client_ip: Some(ip_of(&r.remote_addr).ok_or(malformed(N, "no remote_addr"))?),
            scheme: r.scheme,
            host: r.host,
            status: r.status.u16(),
            request_bytes: r.request_length.u64(),
            response_bytes: r.body_bytes_sent.u64(),
            latency_us: r
                .request_time
                .0
                .filter(|v| *v >= 0.0)
                .map(|s| (s * 1e6).round() as u64),
            service: opt(r.upstream_addr),
            user_agent: undash(r.http_user_agent),
            referer: undash(r.http_referer),
            ..ApiEvent::default()
        };
        match (r.request_uri, r.request) {
            (Some(uri), _) => {
                ev.method = r.request_method;
                ev.protocol = r.server_protocol;
                target(&mut ev, uri);
            }
            (None, Some(req)) => request_line(&mut ev, req),
            (None, None) => return Err(malformed(N, "no request_uri or request")),
        }
        for (k, v) in [
            ("x-forwarded-for", r.x_forwarded_for),
            ("authorization", r.http_authorization),
            ("x-api-key", r.http_x_api_key),
            ("cookie", r.http_cookie),
        ] {
            if let Some(v) = opt(v) {
                ev.request_headers.push((Cow::Borrowed(k), v));
            }
        }
        let user = match opt(r.remote_user) {
            Some(Cow::Borrowed(u)) => Some(u),
            Some(Cow::Owned(u)) => {
                ev.principal = Some(Cow::Owned(u));
                None
            }
            None => None,
        };
        Ok(finish(ev, N, line, EnrichInput { remote_user: user }, cfg))
    }
}

// ---------------------------------------------------------------------------------------
// Caddy

#[derive(Deserialize, Default)]
#[serde(default)]
struct CaddyReq<'a> {
    #[serde(borrow)]
    remote_ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    client_ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    proto: Cow<'a, str>,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow)]
    host: Cow<'a, str>,
    #[serde(borrow)]
    uri: Cow<'a, str>,
    #[serde(borrow)]
    headers: Headers<'a>,
    tls: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CaddyRec<'a> {
    ts: Num,
    #[serde(borrow)]
    logger: Cow<'a, str>,
    #[serde(borrow)]
    msg: Cow<'a, str>,
    #[serde(borrow)]
    request: Option<CaddyReq<'a>>,
    duration: Num,
    size: Num,
    bytes_read: Num,
    status: Num,
    #[serde(borrow)]
    user_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    resp_headers: Headers<'a>,
}

/// `[key "value"]` in a ModSecurity/Coraza message.
fn modsec_field<'m>(msg: &'m str, key: &str) -> Option<&'m str> {
    let pat = format!("[{key} \"");
    let s = msg.find(&pat)? + pat.len();
    let e = msg[s..].find("\"]")? + s;
    Some(&msg[s..e])
}

impl Decoder for CaddyJson {
    fn name(&self) -> &'static str {
        "caddy"
    }
    fn sniff(&self, line: &str) -> bool {
        let b = line.as_bytes();
        b.first() == Some(&b'{') && crate::util::find(b, b"\"logger\":\"http.").is_some()
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "caddy";
        let r: CaddyRec<'a> = serde_json::from_str(line).map_err(|e| json_err(N, e))?;
        let ts = r.ts.0.map(epoch_guess).ok_or(malformed(N, "no ts"))?;
        if r.msg.contains("Coraza:") || r.msg.contains("ModSecurity:") {
            let msg = &*r.msg;
            let mut ev = ApiEvent {
                ts,
                kind: EventKind::Waf,
                client_ip: Some(
                    modsec_field(msg, "client")
                        .and_then(parse_ip)
                        .ok_or(malformed(N, "no client in waf message"))?,
                ),
                ..ApiEvent::default()
            };
            if let Some(uri) = modsec_field(msg, "uri") {
                set_target_owned(&mut ev, uri);
            }
            let id = modsec_field(msg, "id").unwrap_or("");
            let text = modsec_field(msg, "msg").unwrap_or("");
            ev.message = Some(Cow::Owned(format!("{id}: {text}")));
            return Ok(finish(ev, N, line, EnrichInput::default(), cfg));
        }
        let req = r.request.ok_or(malformed(N, "no request object"))?;
        let peer = ip_of(&req.remote_ip);
        let client = ip_of(&req.client_ip).or(peer);
        let mut ev = ApiEvent {
            ts,
            client_ip: Some(client.ok_or(malformed(N, "no client address"))?),
            peer_ip: peer,
            method: req.method,
            host: req.host,
            protocol: req.proto,
            scheme: Cow::Borrowed(if req.tls.is_some() { "https" } else { "" }),
            status: r.status.u16(),
            response_bytes: r.size.u64(),
            request_bytes: r.bytes_read.u64(),
            latency_us: r
                .duration
                .0
                .filter(|v| *v >= 0.0)
                .map(|s| (s * 1e6).round() as u64),
            request_headers: req.headers.0,
            response_headers: r.resp_headers.0,
            ..ApiEvent::default()
        };
        target(&mut ev, req.uri);
        if let Some(ua) = ev.request_headers.iter().find(|(k, _)| k == "user-agent") {
            ev.user_agent = ua.1.clone();
        }
        if let Some(rf) = ev.request_headers.iter().find(|(k, _)| k == "referer") {
            ev.referer = rf.1.clone();
        }
        if let Some(u) = opt(r.user_id) {
            ev.principal = Some(u);
        }
        let _ = (&r.logger, &r.msg);
        Ok(finish(ev, N, line, EnrichInput::default(), cfg))
    }
}

// ---------------------------------------------------------------------------------------
// Traefik

#[derive(Deserialize, Default)]
#[serde(default)]
struct TraefikRec<'a> {
    #[serde(rename = "ClientHost", borrow)]
    client_host: Option<Cow<'a, str>>,
    #[serde(rename = "ClientAddr", borrow)]
    client_addr: Option<Cow<'a, str>>,
    #[serde(rename = "ClientUsername", borrow)]
    client_username: Option<Cow<'a, str>>,
    #[serde(rename = "DownstreamStatus")]
    downstream_status: Num,
    #[serde(rename = "DownstreamContentSize")]
    downstream_size: Num,
    #[serde(rename = "RequestContentSize")]
    request_size: Num,
    #[serde(rename = "Duration")]
    duration_ns: Num,
    #[serde(rename = "RequestHost", borrow)]
    host: Cow<'a, str>,
    #[serde(rename = "RequestMethod", borrow)]
    method: Cow<'a, str>,
    #[serde(rename = "RequestPath", borrow)]
    path: Cow<'a, str>,
    #[serde(rename = "RequestProtocol", borrow)]
    protocol: Cow<'a, str>,
    #[serde(rename = "RequestScheme", borrow)]
    scheme: Cow<'a, str>,
    #[serde(rename = "ServiceName", borrow)]
    service: Option<Cow<'a, str>>,
    #[serde(rename = "StartUTC", borrow)]
    start_utc: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(rename = "request_User-Agent", borrow)]
    user_agent: Cow<'a, str>,
    #[serde(rename = "request_Referer", borrow)]
    referer: Cow<'a, str>,
    #[serde(rename = "request_X-Forwarded-For", borrow)]
    xff: Option<Cow<'a, str>>,
    #[serde(rename = "request_Authorization", borrow)]
    authorization: Option<Cow<'a, str>>,
    #[serde(rename = "request_X-Api-Key", borrow)]
    api_key: Option<Cow<'a, str>>,
    #[serde(rename = "request_Cookie", borrow)]
    cookie: Option<Cow<'a, str>>,
}

impl Decoder for TraefikJson {
    fn name(&self) -> &'static str {
        "traefik_json"
    }
    fn sniff(&self, line: &str) -> bool {
        let b = line.as_bytes();
        b.first() == Some(&b'{') && crate::util::find(b, b"\"RequestMethod\"").is_some()
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        const N: &str = "traefik_json";
        let r: TraefikRec<'a> = serde_json::from_str(line).map_err(|e| json_err(N, e))?;
        let ts = r
            .start_utc
            .as_deref()
            .or(r.time.as_deref())
            .and_then(any_time)
            .ok_or(malformed(N, "no time"))?;
        // ClientHost may be a forwarded list ("192.168.1.100,10.0.0.50") when Traefik trusts
        // forwarding headers: its last hop is the client Traefik resolved.
        let peer = ip_of(&r.client_addr);
        let client = r
            .client_host
            .as_deref()
            .and_then(|h| h.rsplit(',').find_map(parse_ip))
            .or(peer);
        let mut ev = ApiEvent {
            ts,
            client_ip: Some(client.ok_or(malformed(N, "no client address"))?),
            peer_ip: peer,
            method: r.method,
            host: r.host,
            protocol: r.protocol,
            scheme: r.scheme,
            status: r.downstream_status.u16(),
            response_bytes: r.downstream_size.u64(),
            request_bytes: r.request_size.u64(),
            latency_us: r
                .duration_ns
                .0
                .filter(|v| *v >= 0.0)
                .map(|ns| (ns / 1000.0).round() as u64),
            service: opt(r.service),
            user_agent: undash(r.user_agent),
            referer: undash(r.referer),
            ..ApiEvent::default()
        };
        target(&mut ev, r.path);
        for (k, v) in [
            ("x-forwarded-for", r.xff),
            ("authorization", r.authorization),
            ("x-api-key", r.api_key),
            ("cookie", r.cookie),
        ] {
            if let Some(v) = opt(v) {
                ev.request_headers.push((Cow::Borrowed(k), v));
            }
        }
        if let Some(u) = opt(r.client_username) {
            ev.principal = Some(u);
        }
        Ok(finish(ev, N, line, EnrichInput::default(), cfg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoder_by_name;

    fn check(format: &str, line: &str, expected: &str) {
        let d = decoder_by_name(format).unwrap_or_else(|| panic!("no decoder {format}"));
        assert!(d.sniff(line), "{format} does not sniff {line}");
        let got = match d.decode(line, &DecodeConfig::default()) {
            // as stored: after the pipeline's sanitize
            Ok(mut ev) => {
                crate::sanitize(&mut ev, &DecodeConfig::default());
                crate::formats::render(&ev)
            }
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expected, "\nline: {line}");
    }

    #[test]
    fn rampart_cases() {
        check("rampart", r#"{"ts":"2026-01-01T00:00:00.123Z","client_ip":"203.0.113.9","peer_ip":"10.0.0.1","method":"GET","scheme":"https","host":"api.example.com","path":"/api/v1/users/42","query":"expand=true","protocol":"HTTP/1.1","status":200,"request_bytes":312,"response_bytes":5120,"latency_ms":12.5,"service":"users","principal":"alice","request":{"headers":{"user-agent":"curl/8","authorization":"Bearer abc.def"},"body":"x"},"response":{"headers":{"content-type":"application/json"},"body":"{}"}}"#,
            "2026-01-01T00:00:00.123Z 203.0.113.9 peer=10.0.0.1 GET https://api.example.com /api/v1/users/42 ?expand=true HTTP/1.1 200 ua=curl/8 bytes=5120 req_bytes=312 latency_us=12500 service=users principal=alice auth key");
        check(
            "rampart",
            r#"{"ts":1767225600000,"peer_ip":"198.51.100.1","method":"POST","path":"/login?next=/","status":401}"#,
            "2026-01-01T00:00:00.000Z 198.51.100.1 POST /login ?next=/ 401",
        );
        check(
            "rampart",
            r#"{"ts":"2026-01-01T00:00:00Z","method":"GET","path":"/","status":200}"#,
            "error: malformed rampart line: no client_ip or peer_ip",
        );
        check(
            "rampart",
            r#"{"ts":"2026-01-01T00:00:00Z","client_ip":"1.2.3.4","path":"/","status":200}"#,
            "error: invalid json in rampart record: missing field `method` at line 1 column 75",
        );
    }

    #[test]
    fn nginx_json_cases() {
        check("nginx_json", r#"{"time":"2020-01-04T08:41:43+00:00","remote_addr":"192.168.1.1","x_forwarded_for":"","remote_user":"","request_method":"GET","scheme":"https","host":"api.example.com","request_uri":"/v1/items?id=3","server_protocol":"HTTP/1.1","status":200,"request_length":120,"body_bytes_sent":512,"request_time":0.004,"upstream_addr":"10.0.0.5:8080","http_user_agent":"curl/8.0","http_referer":"","http_authorization":"","http_x_api_key":"secret-key-1"}"#,
            "2020-01-04T08:41:43.000Z 192.168.1.1 GET https://api.example.com /v1/items ?id=3 HTTP/1.1 200 ua=curl/8.0 bytes=512 req_bytes=120 latency_us=4000 service=10.0.0.5:8080 auth key");
        check(
            "nginx_json",
            r#"{"time_local":"04/Jan/2020:08:41:43 +0100","remote_addr":"::1","request":"POST /login HTTP/1.1","status":"401","body_bytes_sent":"0","http_user_agent":"-","remote_user":"bob"}"#,
            "2020-01-04T07:41:43.000Z ::1 POST /login HTTP/1.1 401 bytes=0 principal=bob auth",
        );
        check(
            "nginx_json",
            r#"{"msec":"1578127303.250","remote_addr":"1.2.3.4","request_method":"GET","request_uri":"/","status":200}"#,
            "2020-01-04T08:41:43.250Z 1.2.3.4 GET / 200",
        );
    }

    #[test]
    fn caddy_cases() {
        check("caddy", r#"{"level":"info","ts":1693840791.7564995,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"172.17.0.1","remote_port":"44790","client_ip":"127.0.0.1","proto":"HTTP/1.0","method":"GET","host":"127.0.0.1:8080","uri":"/a?b=1\u0026c=2","headers":{"User-Agent":["curl/7.74.0"],"Accept":["*/*"]}},"bytes_read":0,"user_id":"","duration":0.000002701,"size":0,"status":0,"resp_headers":{"Server":["Caddy"]}}"#,
            "2023-09-04T15:19:51.756Z 127.0.0.1 peer=172.17.0.1 GET host=127.0.0.1:8080 /a ?b=1&c=2 HTTP/1.0 0 ua=curl/7.74.0 bytes=0 req_bytes=0 latency_us=3");
        check(
            "caddy",
            r#"{"level":"warn","ts":1700758468.384019,"logger":"http.handlers.waf","msg":"[client \"192.168.1.1\"] Coraza: Warning. X [id \"942431\"] [msg \"Restricted SQL\"] [uri \"/notifications/hub?access_token=x\"] [unique_id \"a\"]"}"#,
            r#"2023-11-23T16:54:28.384Z 192.168.1.1  /notifications/hub ?access_token=[redacted] 0 kind=Waf msg="942431: Restricted SQL""#,
        );
    }

    #[test]
    fn traefik_json_cases() {
        check("traefik_json", r#"{"ClientAddr":"172.17.0.1:39496","ClientHost":"172.17.0.1","ClientUsername":"-","DownstreamContentSize":357,"DownstreamStatus":200,"Duration":357313,"RequestHost":"test.docker.localhost","RequestMethod":"GET","RequestPath":"/594VAEoi.save?x=1","RequestProtocol":"HTTP/1.1","RequestScheme":"http","ServiceName":"test@docker","StartUTC":"2021-12-08T14:02:43.587782192Z","request_User-Agent":"Nikto","time":"2021-12-08T14:02:43Z"}"#,
            "2021-12-08T14:02:43.587Z 172.17.0.1 GET http://test.docker.localhost /594VAEoi.save ?x=1 HTTP/1.1 200 ua=Nikto bytes=357 latency_us=357 service=test@docker");
    }
}
