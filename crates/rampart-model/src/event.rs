//! The one normalized API event every decoder produces and every detector reads.

use std::borrow::Cow;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// One HTTP API call, normalized from whatever log or record it came from.
///
/// Borrowed from the input line where possible (`'a`): decoders fill it without allocating
/// for the common fields, and detectors read it by reference. Call [`ApiEvent::into_owned`] to
/// keep it beyond the life of the input buffer (evidence, storage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ApiEvent<'a> {
    /// When the request was received (event time, never the wall clock of the processor).
    pub ts: Timestamp,
    /// The real client address, resolved through trusted proxies when forwarding headers say so.
    pub client_ip: Option<IpAddr>,
    /// The address that connected to the gateway (the peer), when it differs from `client_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_ip: Option<IpAddr>,
    /// HTTP method as written in the log (`GET`, `POST`, ...); may be garbage for malformed requests.
    pub method: Cow<'a, str>,
    /// `http` or `https` when known, empty otherwise.
    #[serde(default)]
    pub scheme: Cow<'a, str>,
    /// Host (virtual host or `Host` header), empty when unknown.
    #[serde(default)]
    pub host: Cow<'a, str>,
    /// Path exactly as received (still percent-encoded), without the query string.
    pub path: Cow<'a, str>,
    /// Raw query string without the leading `?` (still percent-encoded), empty when none;
    /// values of secret keys (`access_token=[redacted]`) redacted by the decoder.
    #[serde(default)]
    pub query: Cow<'a, str>,
    /// HTTP protocol version as written (`HTTP/1.1`), empty when unknown.
    #[serde(default)]
    pub protocol: Cow<'a, str>,
    /// Response status; 0 when the gateway logged none.
    pub status: u16,
    /// Request size in bytes, when logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_bytes: Option<u64>,
    /// Response size in bytes, when logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_bytes: Option<u64>,
    /// Time to serve the request, in microseconds, when logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
    /// `User-Agent`, empty when absent or `-`.
    #[serde(default)]
    pub user_agent: Cow<'a, str>,
    /// `Referer`, empty when absent or `-`.
    #[serde(default)]
    pub referer: Cow<'a, str>,
    /// Who the caller is (Basic auth user, JWT `sub`, configured header), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Cow<'a, str>>,
    /// Keyed hash of the API key or bearer token (never the raw secret), when one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    /// Whether the request carried credentials at all (Authorization, API key, cookie, user).
    #[serde(default)]
    pub authenticated: bool,
    /// Backend service or upstream that served the call, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Cow<'a, str>>,
    /// Selected request headers (lower-case names); secret values redacted by the decoder
    /// (`Bearer [redacted]`, `sid=[redacted]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Selected response headers (lower-case names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Request body sample, bounded by [`BODY_SAMPLE_LIMIT`]; secret fields redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<Cow<'a, str>>,
    /// Response body sample, bounded by [`BODY_SAMPLE_LIMIT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<Cow<'a, str>>,
    /// What kind of log record this was: an access-log entry (the common case) or a
    /// diagnostic line that still names a client (auth failure, WAF match, error).
    #[serde(default)]
    pub kind: EventKind,
    /// Free-text message of a diagnostic record (error-log text, WAF rule message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Cow<'a, str>>,
    /// Name of the decoder that produced this event (`combined`, `nginx_json`, ...).
    #[serde(default)]
    pub source_format: Cow<'static, str>,
    /// The raw line or record, kept for evidence: secrets redacted (the decoder re-renders a
    /// JSON record with its secret values replaced), cut at [`crate::limits::MAX_RAW`].
    #[serde(default)]
    pub raw: Cow<'a, str>,
}

/// What kind of log record an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A served (or refused) HTTP request from an access log or request record.
    #[default]
    Access,
    /// A failed authentication reported by the server (`user "x" was not found`, failed login).
    AuthFailure,
    /// A WAF or rate-limit decision about a request (ModSecurity/Coraza match, `limiting requests`).
    Waf,
    /// Any other error-log line that names a client (invalid URI, TLS handshake failure).
    Error,
}

/// Largest body sample kept on an event, in bytes.
pub const BODY_SAMPLE_LIMIT: usize = 64 * 1024;

fn own(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

impl<'a> ApiEvent<'a> {
    /// Detach the event from the input buffer.
    pub fn into_owned(self) -> ApiEvent<'static> {
        ApiEvent {
            ts: self.ts,
            client_ip: self.client_ip,
            peer_ip: self.peer_ip,
            method: own(self.method),
            scheme: own(self.scheme),
            host: own(self.host),
            path: own(self.path),
            query: own(self.query),
            protocol: own(self.protocol),
            status: self.status,
            request_bytes: self.request_bytes,
            response_bytes: self.response_bytes,
            latency_us: self.latency_us,
            user_agent: own(self.user_agent),
            referer: own(self.referer),
            principal: self.principal.map(own),
            api_key_id: self.api_key_id,
            authenticated: self.authenticated,
            service: self.service.map(own),
            request_headers: self
                .request_headers
                .into_iter()
                .map(|(k, v)| (own(k), own(v)))
                .collect(),
            response_headers: self
                .response_headers
                .into_iter()
                .map(|(k, v)| (own(k), own(v)))
                .collect(),
            request_body: self.request_body.map(own),
            response_body: self.response_body.map(own),
            kind: self.kind,
            message: self.message.map(own),
            source_format: self.source_format,
            raw: own(self.raw),
        }
    }

    /// Iterate over `name=value` query parameters (raw, still percent-encoded); empty pieces
    /// (`a&&b`) are skipped, a piece without `=` is a name with an empty value.
    pub fn query_params(&self) -> QueryParams<'_> {
        QueryParams { rest: &self.query }
    }

    /// A request header by lower-case name.
    pub fn request_header(&self, name: &str) -> Option<&str> {
        self.request_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// A response header by lower-case name.
    pub fn response_header(&self, name: &str) -> Option<&str> {
        self.response_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// Status class: 2 for 2xx, 4 for 4xx; 0 when no status was logged.
    pub fn status_class(&self) -> u16 {
        self.status / 100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_split() {
        let ev = ApiEvent {
            query: "a=1&b&c=x=y&".into(),
            ..Default::default()
        };
        let got: Vec<_> = ev.query_params().collect();
        assert_eq!(got, vec![("a", "1"), ("b", ""), ("c", "x=y")]);
    }

    #[test]
    fn into_owned_keeps_fields() {
        let line = String::from("GET /x");
        let ev = ApiEvent {
            method: Cow::Borrowed(&line[..3]),
            path: Cow::Borrowed(&line[4..]),
            status: 200,
            ..Default::default()
        };
        let owned = ev.clone().into_owned();
        drop(line);
        assert_eq!(owned.method, "GET");
        assert_eq!(owned.path, "/x");
        assert_eq!(owned.status_class(), 2);
    }
}

/// The `name=value` pairs of a query string: see [`ApiEvent::query_params`]. Splits on bytes
/// (`&` and `=` are ASCII, so every split is on a char boundary): several detectors walk the
/// query of every event, and `str::split(char)` sets up a searcher per call that costs more
/// than a short query.
#[derive(Debug, Clone)]
pub struct QueryParams<'q> {
    rest: &'q str,
}

impl<'q> Iterator for QueryParams<'q> {
    type Item = (&'q str, &'q str);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let b = self.rest.as_bytes();
            let end = b.iter().position(|&c| c == b'&').unwrap_or(b.len());
            let kv = &self.rest[..end];
            self.rest = if end < b.len() {
                &self.rest[end + 1..]
            } else {
                ""
            };
            if kv.is_empty() {
                continue;
            }
            return Some(match kv.as_bytes().iter().position(|&c| c == b'=') {
                Some(i) => (&kv[..i], &kv[i + 1..]),
                None => (kv, ""),
            });
        }
    }
}

#[cfg(test)]
mod query_tests {
    use super::ApiEvent;

    #[test]
    fn query_params_match_split_semantics() {
        for q in [
            "",
            "a=1",
            "a=1&b=2",
            "&a=1&&b=&c",
            "a=1&",
            "x==y&=v&k",
            "caf\u{e9}=\u{fc}ber&n=%20",
        ] {
            let ev = ApiEvent {
                query: q.into(),
                ..Default::default()
            };
            let expected: Vec<(&str, &str)> = q
                .split('&')
                .filter(|s| !s.is_empty())
                .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
                .collect();
            let got: Vec<(&str, &str)> = ev.query_params().collect();
            assert_eq!(got, expected, "query {q:?}");
        }
    }
}
