//! Enrichment applied by every decoder at the end: real client behind trusted proxies,
//! principal, API key identity, `authenticated`, then redaction of every secret
//! ([`crate::secrets`]).

use std::borrow::Cow;
use std::net::IpAddr;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rampart_model::ApiEvent;
use sha2::Sha256;

use crate::secrets::REDACTED;
use crate::util::parse_ip;
use crate::DecodeConfig;

/// What a decoder found that enrichment needs but the event has no field for.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnrichInput<'a> {
    /// The log's remote-user field (`$remote_user`, CLF third field), `-` already removed.
    pub remote_user: Option<&'a str>,
}

/// Keyed identity of an API key or bearer token: hex of the first 16 bytes of
/// HMAC-SHA256(secret, key).
pub fn api_key_id(secret: &[u8], key: &str) -> String {
    hex::encode(api_key_bytes(secret, key))
}

/// The `sub` claim of a JWT, read from its payload without verifying the signature.
pub fn jwt_sub(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let _header = parts.next()?;
    let payload = parts.next()?;
    parts.next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    #[derive(serde::Deserialize)]
    struct Claims {
        sub: Option<serde_json::Value>,
    }
    let c: Claims = serde_json::from_slice(&bytes).ok()?;
    match c.sub? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn basic_user(b64: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let s = String::from_utf8(bytes).ok()?;
    let user = s.split_once(':').map_or(s.as_str(), |(u, _)| u);
    (!user.is_empty()).then(|| user.to_owned())
}

fn trusted(cfg: &DecodeConfig, ip: IpAddr) -> bool {
    cfg.trusted_proxies.iter().any(|n| n.contains(&ip))
}

/// The client named by `X-Forwarded-For` / `Forwarded`, walking right to left and skipping
/// trusted hops; `None` when the headers name no untrusted address.
fn resolve_forwarded(ev: &ApiEvent<'_>, cfg: &DecodeConfig) -> Option<IpAddr> {
    let mut last_seen = None;
    if let Some(xff) = ev.request_header("x-forwarded-for") {
        return walk_forwarded_for(xff, cfg);
    }
    if let Some(fwd) = ev.request_header("forwarded") {
        for elem in fwd.rsplit(',') {
            let Some(v) = elem.split(';').find_map(|p| {
                let (k, v) = p.trim().split_once('=')?;
                k.eq_ignore_ascii_case("for").then_some(v)
            }) else {
                continue;
            };
            let Some(ip) = parse_ip(v.trim_matches('"')) else {
                return last_seen;
            };
            if !trusted(cfg, ip) {
                return Some(ip);
            }
            last_seen = Some(ip);
        }
    }
    last_seen
}

/// The client an `X-Forwarded-For` value names: right to left, the first hop that is not a
/// trusted proxy (or the leftmost parsable hop when all are trusted).
fn walk_forwarded_for(xff: &str, cfg: &DecodeConfig) -> Option<IpAddr> {
    let mut last_seen = None;
    for hop in xff.rsplit(',') {
        let Some(ip) = parse_ip(hop) else {
            return last_seen;
        };
        if !trusted(cfg, ip) {
            return Some(ip);
        }
        last_seen = Some(ip);
    }
    last_seen
}

/// The client of a request a gateway asks about: `real_ip` (the address the gateway saw,
/// nginx's `$remote_addr` as `X-Real-IP`) unless it is a trusted proxy, in which case the
/// `X-Forwarded-For` chain is walked as for logs; `None` when neither names an address.
pub fn gateway_client(
    real_ip: Option<&str>,
    xff: Option<&str>,
    cfg: &DecodeConfig,
) -> Option<IpAddr> {
    match real_ip.and_then(parse_ip) {
        Some(ip) if !trusted(cfg, ip) => Some(ip),
        Some(ip) => xff.and_then(|x| walk_forwarded_for(x, cfg)).or(Some(ip)),
        None => xff.and_then(|x| walk_forwarded_for(x, cfg)),
    }
}

/// The keyed identity of an API key, as its 16 bytes (see [`api_key_id`]).
pub fn api_key_bytes(secret: &[u8], key: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) {
        mac.update(key.as_bytes());
        out.copy_from_slice(&mac.finalize().into_bytes()[..16]);
    }
    out
}

/// Who a gateway request's credential headers name, computed only when asked (`want_key`,
/// `want_principal`), the same way enrichment does for logged events: the keyed identity of
/// the bearer token or API-key header, and the principal of a JWT `sub`, Basic user name or
/// the configured principal header.
pub fn gateway_credentials<'h>(
    headers: impl Iterator<Item = (&'h str, &'h str)>,
    cfg: &DecodeConfig,
    want_key: bool,
    want_principal: bool,
) -> (Option<[u8; 16]>, Option<Cow<'h, str>>) {
    let mut key = None;
    let mut principal: Option<Cow<'h, str>> = None;
    let mut header_principal = None;
    if !want_key && !want_principal {
        return (None, None);
    }
    for (k, v) in headers {
        let v = v.trim();
        if v.is_empty() || v == "-" {
            continue;
        }
        if k.eq_ignore_ascii_case("authorization") {
            let (scheme, cred) = v.split_once(' ').unwrap_or(("", v));
            let cred = cred.trim();
            if cred.is_empty() {
                continue;
            }
            if scheme.eq_ignore_ascii_case("basic") {
                if want_principal && principal.is_none() {
                    principal = basic_user(cred).map(Cow::Owned);
                }
            } else {
                if want_principal && principal.is_none() {
                    principal = jwt_sub(cred).map(Cow::Owned);
                }
                if want_key {
                    key = Some(api_key_bytes(&cfg.api_key_secret, cred));
                }
            }
        } else if want_key
            && key.is_none()
            && cfg
                .api_key_headers
                .iter()
                .any(|h| k.eq_ignore_ascii_case(h))
        {
            key = Some(api_key_bytes(&cfg.api_key_secret, v));
        } else if want_principal
            && cfg
                .principal_header
                .as_deref()
                .is_some_and(|h| k.eq_ignore_ascii_case(h))
        {
            header_principal = Some(Cow::Borrowed(v));
        }
    }
    (key, principal.or(header_principal))
}

/// Apply enrichment to a decoded event. Cheap when the event carries no headers.
pub fn enrich<'a>(ev: &mut ApiEvent<'a>, input: EnrichInput<'a>, cfg: &DecodeConfig) {
    // Real client behind trusted proxies.
    if let Some(peer) = ev.peer_ip.or(ev.client_ip) {
        if !cfg.trusted_proxies.is_empty() && trusted(cfg, peer) && !ev.request_headers.is_empty() {
            if let Some(real) = resolve_forwarded(ev, cfg) {
                ev.client_ip = Some(real);
                ev.peer_ip = Some(peer);
            }
        }
    }
    if ev.peer_ip.is_some() && ev.peer_ip == ev.client_ip {
        ev.peer_ip = None;
    }

    // Credentials: identities from the clear values first, then every secret is redacted.
    if !ev.request_headers.is_empty() {
        let mut principal: Option<String> = None;
        let mut header_principal: Option<Cow<'a, str>> = None;
        let mut key_id: Option<String> = None;
        let mut auth = false;
        for (k, v) in &ev.request_headers {
            let v = v.trim();
            if v.is_empty() || v == "-" {
                continue;
            }
            if k.eq_ignore_ascii_case("authorization") {
                auth = true;
                let (scheme, cred) = v.split_once(' ').unwrap_or(("", v));
                let cred = cred.trim();
                // an already redacted record (a re-pushed event) names nobody: no identity
                if cred == REDACTED || cred.is_empty() {
                    continue;
                }
                if scheme.eq_ignore_ascii_case("basic") {
                    if principal.is_none() {
                        principal = basic_user(cred);
                    }
                } else {
                    if principal.is_none() {
                        principal = jwt_sub(cred);
                    }
                    key_id = Some(api_key_id(&cfg.api_key_secret, cred));
                }
            } else if cfg
                .api_key_headers
                .iter()
                .any(|h| k.eq_ignore_ascii_case(h))
            {
                auth = true;
                if key_id.is_none() && v != REDACTED {
                    key_id = Some(api_key_id(&cfg.api_key_secret, v));
                }
            } else if k.eq_ignore_ascii_case("cookie") {
                auth = true;
            }
        }
        if let Some(h) = cfg.principal_header.as_deref() {
            if let Some(v) = ev.request_header(h).filter(|v| !v.is_empty() && *v != "-") {
                header_principal = Some(Cow::Owned(v.to_owned()));
            }
        }
        if ev.principal.is_none() {
            ev.principal = principal.map(Cow::Owned).or(header_principal);
        }
        if key_id.is_some() {
            ev.api_key_id = key_id;
        }
        ev.authenticated |= auth;
    }
    if let Some(u) = input.remote_user.filter(|u| !u.is_empty() && *u != "-") {
        ev.authenticated = true;
        if ev.principal.is_none() {
            ev.principal = Some(Cow::Borrowed(u));
        }
    }
    if ev.principal.is_some() {
        ev.authenticated = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> DecodeConfig {
        DecodeConfig {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap_or_else(|_| unreachable!())],
            principal_header: Some("x-user-id".into()),
            ..DecodeConfig::default()
        }
    }

    fn ev_with<'a>(peer: &str, headers: &[(&'a str, &'a str)], raw: &'a str) -> ApiEvent<'a> {
        ApiEvent {
            client_ip: peer.parse().ok(),
            request_headers: headers
                .iter()
                .map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v)))
                .collect(),
            raw: Cow::Borrowed(raw),
            ..ApiEvent::default()
        }
    }

    /// (peer, headers) -> (client, peer)
    fn check_client(peer: &str, headers: &[(&str, &str)], client: &str, want_peer: Option<&str>) {
        let mut ev = ev_with(peer, headers, "");
        enrich(&mut ev, EnrichInput::default(), &cfg());
        assert_eq!(
            ev.client_ip.map(|i| i.to_string()).as_deref(),
            Some(client),
            "{headers:?}"
        );
        assert_eq!(
            ev.peer_ip.map(|i| i.to_string()).as_deref(),
            want_peer,
            "{headers:?}"
        );
    }

    #[test]
    fn forwarded_resolution() {
        check_client(
            "10.0.0.1",
            &[("x-forwarded-for", "203.0.113.9")],
            "203.0.113.9",
            Some("10.0.0.1"),
        );
        check_client(
            "10.0.0.1",
            &[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.7")],
            "203.0.113.9",
            Some("10.0.0.1"),
        );
        // untrusted peer: headers are attacker-controlled and ignored
        check_client(
            "198.51.100.1",
            &[("x-forwarded-for", "203.0.113.9")],
            "198.51.100.1",
            None,
        );
        check_client(
            "10.0.0.1",
            &[(
                "forwarded",
                "for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\"",
            )],
            "2001:db8::1",
            Some("10.0.0.1"),
        );
        check_client(
            "10.0.0.1",
            &[("x-forwarded-for", "garbage")],
            "10.0.0.1",
            None,
        );
    }

    #[test]
    fn credentials() {
        // identities come from the clear values; the secrets go at sanitize (as stored)
        let enrich = |ev: &mut ApiEvent<'_>, input, cfg: &DecodeConfig| {
            super::enrich(ev, input, cfg);
            crate::sanitize(ev, cfg);
        };
        // Basic alice:secret
        let mut ev = ev_with(
            "1.2.3.4",
            &[("authorization", "Basic YWxpY2U6c2VjcmV0")],
            "x YWxpY2U6c2VjcmV0 y",
        );
        enrich(&mut ev, EnrichInput::default(), &cfg());
        assert_eq!(ev.principal.as_deref(), Some("alice"));
        assert!(ev.authenticated);
        assert_eq!(ev.request_header("authorization"), Some("Basic [redacted]"));
        assert_eq!(ev.raw, "x [redacted] y");

        // JWT with sub=bob
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.sig";
        let hdr = format!("Bearer {jwt}");
        let mut ev = ev_with("1.2.3.4", &[("authorization", hdr.as_str())], "");
        enrich(&mut ev, EnrichInput::default(), &cfg());
        assert_eq!(ev.principal.as_deref(), Some("bob"));
        assert_eq!(ev.api_key_id.as_deref().map(str::len), Some(32));

        let mut ev = ev_with(
            "1.2.3.4",
            &[("x-api-key", "k-123456"), ("x-user-id", "carol")],
            "key=k-123456",
        );
        enrich(&mut ev, EnrichInput::default(), &cfg());
        assert_eq!(
            ev.api_key_id,
            Some(api_key_id(&cfg().api_key_secret, "k-123456"))
        );
        assert_eq!(ev.principal.as_deref(), Some("carol"));
        assert_eq!(ev.raw, "key=[redacted]");
        assert_eq!(ev.request_header("x-api-key"), Some("[redacted]"));

        let mut ev = ev_with("1.2.3.4", &[("cookie", "session=abc")], "");
        enrich(&mut ev, EnrichInput::default(), &cfg());
        assert!(ev.authenticated);
        assert_eq!(ev.principal, None);

        let mut ev = ev_with("1.2.3.4", &[], "");
        enrich(
            &mut ev,
            EnrichInput {
                remote_user: Some("dave"),
            },
            &cfg(),
        );
        assert_eq!(ev.principal.as_deref(), Some("dave"));
        assert!(ev.authenticated);

        let mut ev = ev_with("1.2.3.4", &[], "");
        enrich(&mut ev, EnrichInput::default(), &cfg());
        assert!(!ev.authenticated);
    }

    #[test]
    fn key_id_is_stable_and_keyed() {
        assert_eq!(api_key_id(b"a", "k"), api_key_id(b"a", "k"));
        assert_ne!(api_key_id(b"a", "k"), api_key_id(b"b", "k"));
    }
}
