//! `ssrf`: URL-like values in the query or request body that point at internal, loopback,
//! link-local or cloud-metadata addresses, or use `file:`, `gopher:`, `dict:` and similar
//! schemes.

use std::net::{Ipv4Addr, Ipv6Addr};

use memchr::memmem;
use rampart_detect::{Detector, EventCtx};
use rampart_model::{AlertDraft, AttackStage, Severity, Timestamp};

use crate::common::{
    build_alert, clip, decode_lower_into, has_escape, ip_text, reason, AlertSpec, Cooldown,
};
use rampart_detect::registry::Resources;

/// Configuration of `ssrf`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SsrfConfig {
    /// Scan the request body sample too.
    pub scan_body: bool,
    /// Bytes of body scanned at most.
    pub max_body_bytes: usize,
    /// Cooldown per IP, seconds.
    pub cooldown_secs: i64,
    /// Most cooldown entries.
    pub max_entries: usize,
}

impl Default for SsrfConfig {
    fn default() -> Self {
        SsrfConfig {
            scan_body: true,
            max_body_bytes: 8 * 1024,
            cooldown_secs: 600,
            max_entries: 50_000,
        }
    }
}

/// Why a URL is an SSRF target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A scheme that reads files or talks raw protocols.
    Scheme(&'static str),
    /// A cloud metadata endpoint.
    Metadata,
    /// Loopback, private, link-local or otherwise internal address.
    Internal,
}

const DANGEROUS_SCHEMES: &[&str] = &[
    "file", "gopher", "dict", "ldap", "jar", "netdoc", "tftp", "sftp", "expect", "phar",
];

/// Parse a dotted IPv4 address allowing decimal, octal (`0177`) and hex (`0x7f`) parts and the
/// single-number forms (`2130706433`, `0x7f000001`).
pub fn parse_loose_ipv4(host: &str) -> Option<Ipv4Addr> {
    fn num(s: &str) -> Option<u64> {
        if s.is_empty() {
            return None;
        }
        if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            u64::from_str_radix(h, 16).ok()
        } else if s.len() > 1 && s.starts_with('0') {
            u64::from_str_radix(&s[1..], 8).ok()
        } else {
            s.parse().ok()
        }
    }
    let parts: Vec<&str> = host.split('.').collect();
    let vals: Option<Vec<u64>> = parts.iter().map(|p| num(p)).collect();
    let vals = vals?;
    let v = match vals.as_slice() {
        [a] => *a,
        [a, b] if *a < 256 => (a << 24) | b,
        [a, b, c] if *a < 256 && *b < 256 => (a << 24) | (b << 16) | c,
        [a, b, c, d] if [a, b, c, d].iter().all(|x| **x < 256) => {
            (a << 24) | (b << 16) | (c << 8) | d
        }
        _ => return None,
    };
    u32::try_from(v).ok().map(Ipv4Addr::from)
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.octets()[0] == 0
        || (ip.octets()[0] == 100 && (64..128).contains(&ip.octets()[1]))
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    let s = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
}

/// Judge one URL (lower-case, decoded): `scheme://authority/...`.
pub fn judge_url(url: &str) -> Option<Target> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme
        .rsplit(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or(scheme);
    if let Some(s) = DANGEROUS_SCHEMES.iter().find(|s| **s == scheme) {
        return Some(Target::Scheme(s));
    }
    if scheme != "http" && scheme != "https" && scheme != "ftp" && !scheme.is_empty() {
        return None;
    }
    let end = rest
        .find(['/', '?', '#', '&', '"', '\'', ' ', '\\', '\n'])
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        return None;
    }
    if matches!(
        host,
        "169.254.169.254"
            | "metadata.google.internal"
            | "metadata"
            | "100.100.100.200"
            | "instance-data"
            | "fd00:ec2::254"
    ) {
        return Some(Target::Metadata);
    }
    if host == "localhost"
        || host.ends_with(".localhost")
        || host.ends_with(".internal")
        || host.ends_with(".local")
    {
        return Some(Target::Internal);
    }
    if let Ok(v6) = host.parse::<Ipv6Addr>() {
        return internal_v6(v6).then_some(Target::Internal);
    }
    if host
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b'x')
    {
        if let Some(v4) = parse_loose_ipv4(host) {
            if v4 == Ipv4Addr::new(169, 254, 169, 254) {
                return Some(Target::Metadata);
            }
            return internal_v4(v4).then_some(Target::Internal);
        }
    }
    None
}

/// Find the first SSRF target among the URLs in decoded, lower-case text.
pub fn scan_text(text: &str) -> Option<(Target, String)> {
    for i in memmem::find_iter(text.as_bytes(), b"://") {
        let start = text[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            .map_or(0, |p| p + 1);
        let end = text[i..]
            .find(['&', '"', '\'', ' ', '\n', '<', '>'])
            .map_or(text.len(), |p| i + p);
        let url = &text[start..end];
        if let Some(t) = judge_url(url) {
            return Some((t, clip(url, 200).to_string()));
        }
    }
    None
}

/// The `ssrf` detector.
pub struct Ssrf {
    cfg: SsrfConfig,
    buf: Vec<u8>,
    buf2: Vec<u8>,
    cooldown: Cooldown,
}

impl Ssrf {
    /// A detector with this configuration.
    pub fn new(cfg: SsrfConfig) -> Self {
        Ssrf {
            cooldown: Cooldown::secs(cfg.cooldown_secs, cfg.max_entries),
            cfg,
            buf: Vec::new(),
            buf2: Vec::new(),
        }
    }
}

/// Whether the bytes may hold a URL: `://`, or an encoded `:` (`%3a`) before `/` or `%2f`.
fn maybe_url(b: &[u8]) -> bool {
    memchr::memchr2_iter(b':', b'%', b).any(|i| {
        let r = &b[i..];
        if r[0] == b':' {
            r.starts_with(b"://")
        } else {
            r.len() >= 4 && r[1] == b'3' && (r[2] | 0x20) == b'a' && (r[3] == b'/' || r[3] == b'%')
        }
    })
}

impl Detector for Ssrf {
    fn id(&self) -> &'static str {
        "ssrf"
    }

    fn observe(&mut self, cx: &EventCtx<'_>, out: &mut Vec<AlertDraft>) {
        let ev = cx.ev;
        let q = ev.query.as_bytes();
        let body = match (&ev.request_body, self.cfg.scan_body) {
            (Some(b), true) => &b.as_bytes()[..b.len().min(self.cfg.max_body_bytes)],
            _ => &[][..],
        };
        let in_query = maybe_url(q);
        let in_body = !body.is_empty() && maybe_url(body);
        if !in_query && !in_body {
            return;
        }
        self.buf.clear();
        if in_query {
            decode_lower_into(q, true, &mut self.buf);
            self.buf.push(b'\n');
        }
        if in_body {
            decode_lower_into(body, false, &mut self.buf);
        }
        let mut text = String::from_utf8_lossy(&self.buf).into_owned();
        if has_escape(&self.buf) {
            self.buf2.clear();
            decode_lower_into(&self.buf, false, &mut self.buf2);
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(&self.buf2));
        }
        let Some((target, url)) = scan_text(&text) else {
            return;
        };
        if !self.cooldown.ready_for(cx.ip, 0, ev.ts.millis()) {
            return;
        }
        let answered = (200..300).contains(&ev.status);
        let (what, severity) = match &target {
            Target::Metadata => (
                "a cloud metadata endpoint (instance credentials)",
                if answered {
                    Severity::Critical
                } else {
                    Severity::High
                },
            ),
            Target::Internal => ("an internal or loopback address", Severity::High),
            Target::Scheme(_) => ("a local-file or raw-protocol URL scheme", Severity::High),
        };
        out.push(build_alert(
            cx,
            AlertSpec {
                detector: "ssrf",
                title: "Server-side request forgery attempt".to_string(),
                description: format!(
                    "{ip} passed the URL {url} to {m} {path}; it points at {what}. The server answered {st}. \
                     If the endpoint fetches URLs, check its outbound connections and restrict them to an allow-list.",
                    ip = ip_text(ev),
                    m = clip(&ev.method, 16),
                    path = clip(&ev.path, 200),
                    st = ev.status,
                ),
                severity,
                mitre: &["T1190"],
                owasp: Some("API7:2023"),
                stage: AttackStage::Exploitation,
                with_user_agent: false,
                reasons: vec![reason("internal_url_parameter", 1.0, None)],
            },
        ));
    }

    fn tick(&mut self, now: Timestamp, _out: &mut Vec<AlertDraft>) {
        self.cooldown.tick(now.millis());
    }

    fn state_bytes(&self) -> usize {
        self.cooldown.approx_bytes() + self.buf.capacity() + self.buf2.capacity()
    }
}

/// Registry constructor.
pub fn build(c: SsrfConfig, _res: &Resources) -> Box<dyn Detector> {
    Box::new(Ssrf::new(c))
}
