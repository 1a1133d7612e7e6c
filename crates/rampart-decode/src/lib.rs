//! Log decoders: one access-log line or request record (`&'a str`) into
//! [`rampart_model::ApiEvent<'a>`], borrowing from the line wherever possible, then
//! [`enrich`]ment (real client, principal, API key identity), [`secrets`] redaction and the
//! field caps of [`rampart_model::limits`].
//!
//! Pure: no I/O, no clock. Every format is a [`Decoder`] listed once in [`DECODERS`].

pub mod enrich;
pub mod formats;
pub mod secrets;
mod util;

use std::borrow::Cow;

use rampart_model::ApiEvent;

pub use enrich::{api_key_bytes, api_key_id, gateway_client, gateway_credentials, EnrichInput};

/// Development HMAC key for [`DecodeConfig::api_key_secret`]; replace it in production.
pub const DEV_API_KEY_SECRET: &[u8] = b"rampart-dev-api-key-secret";

/// How decoders resolve clients and credentials.
#[derive(Debug, Clone)]
pub struct DecodeConfig {
    /// Peers whose `X-Forwarded-For` / `Forwarded` headers are believed. Default: none.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Request header naming the caller (e.g. `x-user-id`). Default: none.
    pub principal_header: Option<String>,
    /// Request headers that carry an API key. Default: `["x-api-key"]`.
    pub api_key_headers: Vec<String>,
    /// HMAC-SHA256 key used to derive `api_key_id`. Default: [`DEV_API_KEY_SECRET`].
    pub api_key_secret: Vec<u8>,
    /// Largest body sample kept. Default: [`rampart_model::BODY_SAMPLE_LIMIT`].
    pub body_sample_limit: usize,
    /// Headers, query keys and body fields whose values are redacted. Default: the lists in
    /// [`secrets`] (build it with the `api_key_headers` among its headers).
    pub secrets: secrets::SecretsConfig,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            trusted_proxies: Vec::new(),
            principal_header: None,
            api_key_headers: vec!["x-api-key".to_owned()],
            api_key_secret: DEV_API_KEY_SECRET.to_vec(),
            body_sample_limit: rampart_model::BODY_SAMPLE_LIMIT,
            secrets: secrets::SecretsConfig::default(),
        }
    }
}

/// Why a line could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The line is empty or only whitespace.
    #[error("empty line")]
    Empty,
    /// No registered decoder recognizes the line.
    #[error("unknown log format")]
    UnknownFormat,
    /// The decoder recognized its format but a field is missing or invalid.
    #[error("malformed {format} line: {reason}")]
    Malformed {
        /// Decoder name.
        format: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// A JSON record did not parse.
    #[error("invalid json in {format} record: {message}")]
    Json {
        /// Decoder name.
        format: &'static str,
        /// serde_json's message.
        message: String,
    },
}

/// One log format.
pub trait Decoder: Send + Sync {
    /// Stable name, also written to `ApiEvent::source_format` (`combined`, `nginx_json`, ...).
    fn name(&self) -> &'static str;
    /// Cheap check: could this line be in my format? False positives are allowed.
    fn sniff(&self, line: &str) -> bool;
    /// Decode one line.
    fn decode<'a>(&self, line: &'a str, cfg: &DecodeConfig) -> Result<ApiEvent<'a>, DecodeError>;
}

use formats::{clf, diag, json, mapped, text};

/// Every decoder, in sniff order: the most specific formats first.
pub const DECODERS: &[&dyn Decoder] = &[
    &json::RampartJson,
    &json::NginxJson,
    &json::CaddyJson,
    &json::TraefikJson,
    &mapped::ENVOY_JSON,
    &mapped::KONG,
    &mapped::AWS_APIGW,
    &mapped::AZURE_APIM,
    &mapped::OCSF,
    &clf::Combined,
    &clf::Common,
    &clf::NpmProxy,
    &clf::NpmCatch,
    &text::HaproxyHttp,
    &text::AwsAlb,
    &text::CloudFront,
    &text::Zoraxy,
    &text::IisXml,
    &text::IisW3c,
    &text::Envoy,
    &diag::NginxError,
    &diag::ApacheError,
    &diag::LitespeedError,
];

/// Look a decoder up by its [`Decoder::name`].
pub fn decoder_by_name(name: &str) -> Option<&'static dyn Decoder> {
    DECODERS.iter().copied().find(|d| d.name() == name)
}

/// Per-line format detection that remembers the last format that worked (fast path) and
/// falls back to sniffing the registry in order.
#[derive(Default)]
pub struct AutoDecoder {
    last: Option<&'static dyn Decoder>,
}

impl AutoDecoder {
    /// A decoder with no remembered format.
    pub fn new() -> Self {
        AutoDecoder { last: None }
    }

    /// The format of the last line decoded, if any.
    pub fn current(&self) -> Option<&'static str> {
        self.last.map(|d| d.name())
    }

    /// Decode one line of any registered format.
    pub fn decode<'a>(
        &mut self,
        line: &'a str,
        cfg: &DecodeConfig,
    ) -> Result<ApiEvent<'a>, DecodeError> {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            return Err(DecodeError::Empty);
        }
        if let Some(d) = self.last {
            if d.sniff(line) {
                // Hand the decoder's result on as it is (not `Ok(ev) => Ok(ev)`): the event,
                // several hundred bytes, is then written once, straight into our return slot.
                let r = d.decode(line, cfg);
                if r.is_ok() {
                    return r;
                }
            }
        }
        let mut first_err = None;
        for &d in DECODERS {
            if self.last.is_some_and(|l| l.name() == d.name()) || !d.sniff(line) {
                continue;
            }
            match d.decode(line, cfg) {
                Ok(ev) => {
                    self.last = Some(d);
                    return Ok(ev);
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or(DecodeError::UnknownFormat))
    }
}

/// Per-file detection: the decoder that decodes the most sample lines (registry order breaks
/// ties), or `None` when no decoder decodes any.
pub fn detect_format(sample_lines: &[&str]) -> Option<&'static dyn Decoder> {
    let cfg = DecodeConfig::default();
    let mut best: Option<(&'static dyn Decoder, usize)> = None;
    for &d in DECODERS {
        let n = sample_lines
            .iter()
            .filter(|l| !l.trim().is_empty() && d.sniff(l) && d.decode(l, &cfg).is_ok())
            .count();
        if n > 0 && best.is_none_or(|(_, b)| n > b) {
            best = Some((d, n));
        }
    }
    best.map(|(d, _)| d)
}

/// Common end of every decoder: name, raw line, enrichment (with redaction), field caps.
pub(crate) fn finish<'a>(
    mut ev: ApiEvent<'a>,
    name: &'static str,
    line: &'a str,
    input: EnrichInput<'a>,
    cfg: &DecodeConfig,
) -> ApiEvent<'a> {
    finish_in_place(&mut ev, name, line, input, cfg);
    ev
}

/// [`finish`] on an event in place (for hot decoders: no move of the event in and out).
#[inline]
pub(crate) fn finish_in_place<'a>(
    ev: &mut ApiEvent<'a>,
    name: &'static str,
    line: &'a str,
    input: EnrichInput<'a>,
    cfg: &DecodeConfig,
) {
    ev.source_format = Cow::Borrowed(name);
    ev.raw = Cow::Borrowed(line);
    enrich::enrich(ev, input, cfg);
    // `raw` stays whole until [`sanitize`]: a cut through a JSON record would hide its
    // secrets from redaction.
    ev.cap_fields_but_raw(cfg.body_sample_limit);
}

/// Make an event fit to store: redact its secrets ([`secrets::redact`], on the decoded values,
/// re-rendering `raw` from them) and cap every field, `raw` included
/// ([`ApiEvent::cap_fields`](rampart_model::ApiEvent::cap_fields)).
///
/// Decoders derive the identities (API-key id, principal) from the clear values and leave the
/// secrets in place, so that detection sees what the client sent (an injection in a password
/// field or a serialized object in a cookie); the pipeline calls this on every event, and on
/// the evidence of every alert, after detection and before anything is stored.
pub fn sanitize(ev: &mut ApiEvent<'_>, cfg: &DecodeConfig) {
    secrets::redact(ev, cfg);
    ev.cap_fields(cfg.body_sample_limit);
}

/// Longest alert title kept (bytes).
pub const MAX_ALERT_TITLE: usize = 1024;
/// Longest alert description kept (bytes).
pub const MAX_ALERT_DESCRIPTION: usize = 16 * 1024;

/// [`sanitize`] for an alert: its evidence events, and secrets or over-long text in its title,
/// description and entity values (an alert pushed by another tool can carry anything).
pub fn sanitize_alert(a: &mut rampart_model::AlertDraft, cfg: &DecodeConfig) {
    for ev in &mut a.evidence {
        sanitize(ev, cfg);
    }
    for (text, max) in [
        (&mut a.title, MAX_ALERT_TITLE),
        (&mut a.description, MAX_ALERT_DESCRIPTION),
    ] {
        if let Some(r) = secrets::redact_text(text, &cfg.secrets) {
            *text = r;
        }
        let mut c = std::borrow::Cow::Borrowed(text.as_str());
        if rampart_model::limits::cap_str(&mut c, max) {
            *text = c.into_owned();
        }
    }
    for e in &mut a.entities {
        if let Some(r) = secrets::redact_text(&e.value, &cfg.secrets) {
            e.value = r;
        }
    }
}

/// Shorthand for a [`DecodeError::Malformed`].
pub(crate) fn malformed(format: &'static str, reason: &'static str) -> DecodeError {
    DecodeError::Malformed { format, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode `lines` in order with one AutoDecoder; expect each line's format (or error).
    fn check(lines: &[&str], expected: &[&str]) {
        let mut auto = AutoDecoder::new();
        let cfg = DecodeConfig::default();
        let got: Vec<String> = lines
            .iter()
            .map(|l| match auto.decode(l, &cfg) {
                Ok(ev) => ev.source_format.into_owned(),
                Err(e) => format!("error: {e}"),
            })
            .collect();
        assert_eq!(got, expected);
    }

    const COMBINED: &str =
        r#"1.2.3.4 - - [04/Jan/2020:08:41:43 +0000] "GET / HTTP/1.1" 200 1 "-" "ua""#;
    const COMMON: &str = r#"1.2.3.4 - - [04/Jan/2020:08:41:43 +0000] "GET / HTTP/1.1" 200 1"#;
    const NGINX_ERR: &str = r#"2021/09/30 09:23:53 [error] 1#1: *17 user "foo" was not found in "/x", client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", host: "localhost""#;
    const RAMPART: &str =
        r#"{"ts":1,"client_ip":"1.2.3.4","method":"GET","path":"/","status":200}"#;

    #[test]
    fn auto_switches_formats_per_line() {
        check(
            &[
                COMBINED,
                COMMON,
                COMBINED,
                NGINX_ERR,
                RAMPART,
                "",
                "garbage line",
            ],
            &[
                "combined",
                "common",
                "combined",
                "nginx_error",
                "rampart",
                "error: empty line",
                "error: unknown log format",
            ],
        );
    }

    #[test]
    fn auto_reports_decoder_error_when_sniffed() {
        check(
            &[r#"{"remote_addr":"1.2.3.4"}"#],
            &["error: malformed nginx_json line: no time"],
        );
    }

    #[test]
    fn detect_format_picks_majority() {
        assert_eq!(
            detect_format(&[COMBINED, COMBINED, NGINX_ERR]).map(|d| d.name()),
            Some("combined")
        );
        assert_eq!(detect_format(&[RAMPART]).map(|d| d.name()), Some("rampart"));
        assert_eq!(detect_format(&["nope"]).map(|d| d.name()), None);
    }

    #[test]
    fn sanitize_redacts_and_caps_an_event_built_elsewhere() {
        let mut ev = ApiEvent {
            path: "/x".repeat(1 << 16).into(),
            query: "access_token=abc123".into(),
            request_headers: vec![("authorization".into(), "Bearer abc123".into())],
            raw: r#"{"h":{"authorization":["Bearer abc123"]}}"#.into(),
            ..ApiEvent::default()
        };
        sanitize(&mut ev, &DecodeConfig::default());
        let json = serde_json::to_string(&ev).unwrap_or_default();
        assert!(!json.contains("abc123"), "{json}");
        assert_eq!(ev.path.len(), rampart_model::limits::MAX_PATH);
    }

    #[test]
    fn registry_names_are_unique_and_resolvable() {
        for d in DECODERS {
            assert_eq!(decoder_by_name(d.name()).map(|x| x.name()), Some(d.name()));
            assert_eq!(
                DECODERS.iter().filter(|x| x.name() == d.name()).count(),
                1,
                "{}",
                d.name()
            );
        }
        assert!(decoder_by_name("nope").is_none());
    }
}
