//! JSON formats described by a field table (dotted paths, first match wins) instead of code:
//! Envoy JSON, Kong `http-log`, AWS API Gateway access logs, Azure API Management
//! `GatewayLogs`, OCSF HTTP Activity (4002) and API Activity (6003).
//!
//! These parse into `serde_json::Value`, so their strings are owned: they are not the hot
//! formats. Add a format by adding a `MappedJson` constant and one registry line.

use std::borrow::Cow;

use rampart_model::ApiEvent;
use serde_json::Value;

use crate::util::{any_time, epoch_guess, parse_ip, set_request_line_owned, set_target_owned};
use crate::{finish, malformed, DecodeConfig, DecodeError, Decoder, EnrichInput};

/// Unit of a latency field.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    /// Seconds (float).
    Secs,
    /// Milliseconds.
    Millis,
    /// Microseconds.
    Micros,
}

/// A JSON format described by where each event field lives.
#[derive(Debug)]
pub struct MappedJson {
    /// Decoder name.
    pub name: &'static str,
    /// Keys (`"key"` substrings) that must all appear in the line for `sniff`.
    pub sniff_keys: &'static [&'static str],
    /// Event time (RFC 3339, CLF time, or epoch number).
    pub ts: &'static [&'static str],
    /// Client address (may carry a port). The last X-Forwarded-For hop is used when empty.
    pub client: &'static [&'static str],
    /// X-Forwarded-For value.
    pub xff: &'static [&'static str],
    /// HTTP method.
    pub method: &'static [&'static str],
    /// Full request line (`GET /x HTTP/1.1`), used when `method` is absent.
    pub request_line: &'static [&'static str],
    /// Path, possibly with `?query`, or an absolute URL.
    pub path: &'static [&'static str],
    /// Query string when separate.
    pub query: &'static [&'static str],
    /// Host.
    pub host: &'static [&'static str],
    /// Scheme.
    pub scheme: &'static [&'static str],
    /// Protocol.
    pub protocol: &'static [&'static str],
    /// Response status.
    pub status: &'static [&'static str],
    /// Request size.
    pub request_bytes: &'static [&'static str],
    /// Response size.
    pub response_bytes: &'static [&'static str],
    /// Latency and its unit.
    pub latency: (&'static [&'static str], Unit),
    /// User agent.
    pub user_agent: &'static [&'static str],
    /// Referer.
    pub referer: &'static [&'static str],
    /// Service / backend.
    pub service: &'static [&'static str],
    /// Principal.
    pub principal: &'static [&'static str],
    /// Request headers: an object (`{"name": "v" | ["v"]}`) or an OCSF list of `{name, value}`.
    pub request_headers: &'static [&'static str],
}

const E: &[&str] = &[];

/// Envoy JSON access log with the keys of the default format.
pub const ENVOY_JSON: MappedJson = MappedJson {
    name: "envoy_json",
    sniff_keys: &["\"response_code\"", "\"start_time\""],
    ts: &["start_time"],
    client: &[
        "downstream_remote_address",
        "downstream_direct_remote_address",
    ],
    xff: &["x_forwarded_for"],
    method: &["method"],
    request_line: E,
    path: &["path"],
    query: E,
    host: &["authority"],
    scheme: E,
    protocol: &["protocol"],
    status: &["response_code"],
    request_bytes: &["bytes_received"],
    response_bytes: &["bytes_sent"],
    latency: (&["duration"], Unit::Millis),
    user_agent: &["user_agent"],
    referer: &["referer"],
    service: &["upstream_cluster", "upstream_host"],
    principal: E,
    request_headers: E,
};

/// Kong `http-log` plugin payload.
pub const KONG: MappedJson = MappedJson {
    name: "kong",
    sniff_keys: &["\"latencies\"", "\"client_ip\""],
    ts: &["started_at"],
    client: &["client_ip"],
    xff: E,
    method: &["request.method"],
    request_line: E,
    path: &["request.uri", "request.url"],
    query: E,
    host: &["request.headers.host"],
    scheme: E,
    protocol: E,
    status: &["response.status"],
    request_bytes: &["request.size"],
    response_bytes: &["response.size"],
    latency: (&["latencies.request"], Unit::Millis),
    user_agent: &["request.headers.user-agent"],
    referer: &["request.headers.referer"],
    service: &["service.name", "service.host"],
    principal: &[
        "consumer.username",
        "consumer.custom_id",
        "authenticated_entity.id",
    ],
    request_headers: &["request.headers"],
};

/// AWS API Gateway access log in JSON (`$context` variables).
pub const AWS_APIGW: MappedJson = MappedJson {
    name: "aws_apigw",
    sniff_keys: &["\"requestId\"", "\"httpMethod\""],
    ts: &["requestTimeEpoch", "requestTime"],
    client: &["ip", "sourceIp", "identity.sourceIp"],
    xff: E,
    method: &["httpMethod"],
    request_line: E,
    path: &["path", "resourcePath", "routeKey"],
    query: E,
    host: &["domainName"],
    scheme: E,
    protocol: &["protocol"],
    status: &["status"],
    request_bytes: E,
    response_bytes: &["responseLength"],
    latency: (&["responseLatency", "integrationLatency"], Unit::Millis),
    user_agent: &["userAgent", "identity.userAgent"],
    referer: E,
    service: &["apiId", "stage"],
    principal: &[
        "user",
        "caller",
        "authorizer.principalId",
        "authorizer.claims.sub",
    ],
    request_headers: E,
};

/// Azure API Management `GatewayLogs` (diagnostic-setting JSON or the Log Analytics columns).
pub const AZURE_APIM: MappedJson = MappedJson {
    name: "azure_apim",
    sniff_keys: &["allerIpAddress\""],
    ts: &["time", "TimeGenerated"],
    client: &["callerIpAddress", "CallerIpAddress"],
    xff: E,
    method: &["properties.method", "Method"],
    request_line: E,
    path: &["properties.url", "Url"],
    query: E,
    host: E,
    scheme: E,
    protocol: &["properties.clientProtocol", "ClientProtocol"],
    status: &["properties.responseCode", "ResponseCode"],
    request_bytes: &["properties.requestSize", "RequestSize"],
    response_bytes: &["properties.responseSize", "ResponseSize"],
    latency: (&["durationMs", "TotalTime"], Unit::Millis),
    user_agent: &["properties.userAgent"],
    referer: E,
    service: &["properties.apiId", "ApiId"],
    principal: &["properties.userId", "UserId"],
    request_headers: &["properties.requestHeaders"],
};

/// OCSF HTTP Activity (class_uid 4002) and API Activity (6003).
pub const OCSF: MappedJson = MappedJson {
    name: "ocsf",
    sniff_keys: &["\"class_uid\""],
    ts: &["time"],
    client: &["src_endpoint.ip"],
    xff: E,
    method: &["http_request.http_method", "api.operation"],
    request_line: E,
    path: &["http_request.url.path", "http_request.url.url_string"],
    query: &["http_request.url.query_string"],
    host: &["http_request.url.hostname"],
    scheme: &["http_request.url.scheme"],
    protocol: &["http_request.version"],
    status: &["http_response.code", "api.response.code"],
    request_bytes: &["http_request.length"],
    response_bytes: &["http_response.length"],
    latency: (&["duration"], Unit::Millis),
    user_agent: &["http_request.user_agent"],
    referer: &["http_request.referrer"],
    service: &["api.service.name", "dst_endpoint.svc_name"],
    principal: &["actor.user.name", "actor.user.uid"],
    request_headers: &["http_request.http_headers"],
};

fn get<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    for k in path.split('.') {
        cur = cur.get(k)?;
    }
    (!cur.is_null()).then_some(cur)
}

fn first<'v>(v: &'v Value, paths: &[&str]) -> Option<&'v Value> {
    paths.iter().find_map(|p| get(v, p))
}

fn text(v: &Value, paths: &[&str]) -> Option<String> {
    let s = match first(v, paths)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => a.first()?.as_str()?.to_owned(),
        _ => return None,
    };
    (!s.is_empty() && s != "-").then_some(s)
}

fn num(v: &Value, paths: &[&str]) -> Option<f64> {
    match first(v, paths)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl Decoder for MappedJson {
    fn name(&self) -> &'static str {
        self.name
    }
    fn sniff(&self, line: &str) -> bool {
        line.starts_with('{') && self.sniff_keys.iter().all(|k| line.contains(k))
    }
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError> {
        let n = self.name;
        let v: Value = serde_json::from_str(line).map_err(|e| DecodeError::Json {
            format: n,
            message: e.to_string(),
        })?;
        let ts = match first(&v, self.ts) {
            Some(Value::Number(x)) => x.as_f64().map(epoch_guess),
            Some(Value::String(s)) => any_time(s),
            _ => None,
        }
        .ok_or(malformed(n, "no valid time"))?;
        let mut ev = ApiEvent {
            ts,
            ..ApiEvent::default()
        };
        if let Some(h) = first(&v, self.request_headers) {
            match h {
                Value::Object(m) => {
                    for (k, val) in m {
                        let s = match val {
                            Value::String(s) => s.clone(),
                            Value::Array(a) => a
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(", "),
                            _ => continue,
                        };
                        ev.request_headers
                            .push((Cow::Owned(k.to_ascii_lowercase()), Cow::Owned(s)));
                    }
                }
                Value::Array(a) => {
                    for item in a {
                        if let (Some(k), Some(s)) = (
                            item.get("name").and_then(Value::as_str),
                            item.get("value").and_then(Value::as_str),
                        ) {
                            ev.request_headers.push((
                                Cow::Owned(k.to_ascii_lowercase()),
                                Cow::Owned(s.to_owned()),
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        let xff = text(&v, self.xff);
        ev.client_ip = text(&v, self.client)
            .as_deref()
            .and_then(parse_ip)
            .or_else(|| {
                xff.as_deref()
                    .and_then(|x| x.rsplit(',').next())
                    .and_then(parse_ip)
            });
        if ev.client_ip.is_none() {
            return Err(malformed(n, "no client address"));
        }
        if let Some(x) = xff {
            ev.request_headers
                .push((Cow::Borrowed("x-forwarded-for"), Cow::Owned(x)));
        }
        match (text(&v, self.method), text(&v, self.request_line)) {
            (Some(m), _) => ev.method = Cow::Owned(m),
            (None, Some(rl)) => set_request_line_owned(&mut ev, &rl),
            (None, None) => return Err(malformed(n, "no method")),
        }
        if let Some(p) = text(&v, self.path) {
            set_target_owned(&mut ev, &p);
        } else if ev.path.is_empty() {
            return Err(malformed(n, "no path"));
        }
        if let Some(q) = text(&v, self.query) {
            ev.query = Cow::Owned(q.trim_start_matches('?').to_owned());
        }
        if let Some(h) = text(&v, self.host) {
            ev.host = Cow::Owned(h);
        }
        if let Some(s) = text(&v, self.scheme) {
            ev.scheme = Cow::Owned(s);
        }
        if let Some(p) = text(&v, self.protocol) {
            ev.protocol = Cow::Owned(p);
        }
        ev.status = num(&v, self.status)
            .filter(|s| (0.0..65536.0).contains(s))
            .map_or(0, |s| s as u16);
        ev.request_bytes = num(&v, self.request_bytes)
            .filter(|b| *b >= 0.0)
            .map(|b| b as u64);
        ev.response_bytes = num(&v, self.response_bytes)
            .filter(|b| *b >= 0.0)
            .map(|b| b as u64);
        ev.latency_us =
            num(&v, self.latency.0)
                .filter(|l| *l >= 0.0)
                .map(|l| match self.latency.1 {
                    Unit::Secs => (l * 1e6).round() as u64,
                    Unit::Millis => (l * 1e3).round() as u64,
                    Unit::Micros => l.round() as u64,
                });
        if let Some(s) = text(&v, self.user_agent) {
            ev.user_agent = Cow::Owned(s);
        }
        if let Some(s) = text(&v, self.referer) {
            ev.referer = Cow::Owned(s);
        }
        ev.service = text(&v, self.service).map(Cow::Owned);
        ev.principal = text(&v, self.principal).map(Cow::Owned);
        Ok(finish(ev, n, line, EnrichInput::default(), cfg))
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
            Ok(ev) => crate::formats::render(&ev),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expected, "\nline: {line}");
    }

    #[test]
    fn envoy_json_cases() {
        check("envoy_json", r#"{"start_time":"2024-01-01T10:00:00.000Z","method":"GET","path":"/api/x?y=1","protocol":"HTTP/1.1","response_code":200,"response_flags":"-","bytes_received":0,"bytes_sent":42,"duration":7,"x_forwarded_for":"203.0.113.5","user_agent":"curl/8","authority":"api.local","upstream_host":"10.1.0.2:80"}"#,
            "2024-01-01T10:00:00.000Z 203.0.113.5 GET host=api.local /api/x ?y=1 HTTP/1.1 200 ua=curl/8 bytes=42 req_bytes=0 latency_us=7000 service=10.1.0.2:80");
    }

    #[test]
    fn kong_cases() {
        check("kong", r#"{"request":{"method":"POST","uri":"/orders?x=1","size":120,"headers":{"host":"api.shop","user-agent":"ua/1","x-api-key":"k-abcdef"}},"response":{"status":201,"size":300},"latencies":{"request":15,"kong":2,"proxy":13},"client_ip":"198.51.100.7","started_at":1704103200000,"service":{"name":"orders"},"consumer":{"username":"acme"}}"#,
            "2024-01-01T10:00:00.000Z 198.51.100.7 POST host=api.shop /orders ?x=1 201 ua=ua/1 bytes=300 req_bytes=120 latency_us=15000 service=orders principal=acme auth key");
    }

    #[test]
    fn apigw_cases() {
        check("aws_apigw", r#"{"requestId":"abc","ip":"203.0.113.1","requestTime":"04/Jan/2020:08:41:43 +0000","httpMethod":"GET","resourcePath":"/pets/{id}","path":"/prod/pets/7","status":"404","protocol":"HTTP/1.1","responseLength":"12","responseLatency":"31"}"#,
            "2020-01-04T08:41:43.000Z 203.0.113.1 GET /prod/pets/7 HTTP/1.1 404 bytes=12 latency_us=31000");
    }

    #[test]
    fn apim_cases() {
        check("azure_apim", r#"{"time":"2024-02-01T12:00:00.5Z","operationName":"Microsoft.ApiManagement/GatewayLogs","category":"GatewayLogs","durationMs":40,"callerIpAddress":"192.0.2.10","properties":{"method":"GET","url":"https://contoso.azure-api.net/echo/resource?param1=sample","responseCode":200,"responseSize":150,"backendTime":30,"apiId":"echo-api","clientProtocol":"HTTP/1.1"}}"#,
            "2024-02-01T12:00:00.500Z 192.0.2.10 GET https://contoso.azure-api.net /echo/resource ?param1=sample HTTP/1.1 200 bytes=150 latency_us=40000 service=echo-api");
    }

    #[test]
    fn ocsf_cases() {
        check("ocsf", r#"{"class_uid":4002,"activity_id":1,"time":1704103200000,"src_endpoint":{"ip":"203.0.113.20"},"http_request":{"http_method":"DELETE","url":{"hostname":"api.x","path":"/v1/users/9","query_string":"force=1","scheme":"https"},"user_agent":"ua","version":"HTTP/2","http_headers":[{"name":"Authorization","value":"Basic YWxpY2U6cHc="}]},"http_response":{"code":204},"actor":{"user":{"name":"admin"}}}"#,
            "2024-01-01T10:00:00.000Z 203.0.113.20 DELETE https://api.x /v1/users/9 ?force=1 HTTP/2 204 ua=ua principal=admin auth");
        check(
            "ocsf",
            r#"{"class_uid":6003,"time":1704103200000,"src_endpoint":{"ip":"203.0.113.21"},"api":{"operation":"GetObject","service":{"name":"s3"},"response":{"code":403}},"http_request":{"url":{"path":"/bucket/key"}}}"#,
            "2024-01-01T10:00:00.000Z 203.0.113.21 GetObject /bucket/key 403 service=s3",
        );
    }
}
