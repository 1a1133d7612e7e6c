//! Caps on every stored string field of an [`ApiEvent`], so that one hostile line (a 50 MB
//! request line, thousands of headers) cannot become a huge event, evidence or template.
//!
//! A field over its cap is cut on a char boundary and ends with [`TRUNCATED_MARK`] (the
//! mark is counted in the cap); headers past [`MAX_HEADERS`] are dropped and one last pair
//! (`TRUNCATED_MARK`, number dropped) says so.

use std::borrow::Cow;

use crate::event::{ApiEvent, BODY_SAMPLE_LIMIT};

/// Appended to a field that was cut.
pub const TRUNCATED_MARK: &str = "[truncated]";

/// Largest `raw` line kept as evidence, in bytes.
pub const MAX_RAW: usize = 32 * 1024;
/// Largest path.
pub const MAX_PATH: usize = 4 * 1024;
/// Largest query string.
pub const MAX_QUERY: usize = 8 * 1024;
/// Largest host.
pub const MAX_HOST: usize = 512;
/// Largest method (garbage in malformed requests).
pub const MAX_METHOD: usize = 32;
/// Largest scheme and protocol.
pub const MAX_SCHEME: usize = 32;
/// Largest user agent.
pub const MAX_USER_AGENT: usize = 2 * 1024;
/// Largest referer.
pub const MAX_REFERER: usize = 4 * 1024;
/// Largest principal and service name.
pub const MAX_NAME: usize = 256;
/// Largest diagnostic message.
pub const MAX_MESSAGE: usize = 4 * 1024;
/// Largest header name.
pub const MAX_HEADER_NAME: usize = 128;
/// Largest header value.
pub const MAX_HEADER_VALUE: usize = 2 * 1024;
/// Most headers kept per direction (request, response), the truncation pair included.
pub const MAX_HEADERS: usize = 32;

/// An upper bound of the JSON size of a capped event (`serde_json::to_string`): every
/// capped string at most 6 times its length once escaped (`\u0000`), plus the fixed fields.
pub const MAX_EVENT_JSON: usize = 6
    * (MAX_RAW
        + MAX_PATH
        + MAX_QUERY
        + MAX_HOST
        + MAX_METHOD
        + 2 * MAX_SCHEME
        + MAX_USER_AGENT
        + MAX_REFERER
        + 2 * MAX_NAME
        + MAX_MESSAGE
        + 2 * MAX_HEADERS * (MAX_HEADER_NAME + MAX_HEADER_VALUE)
        + 2 * BODY_SAMPLE_LIMIT)
    + 64 * 1024;

/// Cut `c` to at most `max` bytes (mark included) on a char boundary; whether it was cut.
///
/// Inlined: every decoded event checks a dozen fields, and almost none needs a cut.
#[inline]
pub fn cap_str(c: &mut Cow<'_, str>, max: usize) -> bool {
    if c.len() <= max {
        return false;
    }
    cut_str(c, max);
    true
}

/// The cut of [`cap_str`], out of line.
#[cold]
#[inline(never)]
fn cut_str(c: &mut Cow<'_, str>, max: usize) {
    let mut keep = max.saturating_sub(TRUNCATED_MARK.len());
    while !c.is_char_boundary(keep) {
        keep -= 1;
    }
    let mut s = String::with_capacity(keep + TRUNCATED_MARK.len());
    s.push_str(&c[..keep]);
    if max >= TRUNCATED_MARK.len() {
        s.push_str(TRUNCATED_MARK);
    }
    *c = Cow::Owned(s);
}

fn cap_headers(hs: &mut Vec<(Cow<'_, str>, Cow<'_, str>)>) -> bool {
    let mut cut = false;
    if hs.len() > MAX_HEADERS {
        let dropped = hs.len() - (MAX_HEADERS - 1);
        hs.truncate(MAX_HEADERS - 1);
        hs.push((
            Cow::Borrowed(TRUNCATED_MARK),
            Cow::Owned(dropped.to_string()),
        ));
        cut = true;
    }
    for (k, v) in hs.iter_mut() {
        cut |= cap_str(k, MAX_HEADER_NAME);
        cut |= cap_str(v, MAX_HEADER_VALUE);
    }
    cut
}

impl ApiEvent<'_> {
    /// Apply the caps of this module (bodies to `body_limit`, at most
    /// [`BODY_SAMPLE_LIMIT`]); returns whether any field was cut. Costs one length check per
    /// field when nothing is over.
    pub fn cap_fields(&mut self, body_limit: usize) -> bool {
        let cut = cap_str(&mut self.raw, MAX_RAW);
        self.cap_fields_but_raw(body_limit) | cut
    }

    /// [`ApiEvent::cap_fields`] for every field but `raw`: decoders cap the decoded fields at
    /// once (detection then works on bounded values) and leave `raw` whole (it is at most one
    /// line, itself bounded by the reader) until secrets have been redacted from it, since a
    /// cut through a JSON record would hide its secrets from redaction.
    pub fn cap_fields_but_raw(&mut self, body_limit: usize) -> bool {
        let body_limit = body_limit.min(BODY_SAMPLE_LIMIT);
        let mut cut = cap_str(&mut self.path, MAX_PATH);
        cut |= cap_str(&mut self.query, MAX_QUERY);
        cut |= cap_str(&mut self.host, MAX_HOST);
        cut |= cap_str(&mut self.method, MAX_METHOD);
        cut |= cap_str(&mut self.scheme, MAX_SCHEME);
        cut |= cap_str(&mut self.protocol, MAX_SCHEME);
        cut |= cap_str(&mut self.user_agent, MAX_USER_AGENT);
        cut |= cap_str(&mut self.referer, MAX_REFERER);
        for f in [self.principal.as_mut(), self.service.as_mut()]
            .into_iter()
            .flatten()
        {
            cut |= cap_str(f, MAX_NAME);
        }
        if let Some(m) = self.message.as_mut() {
            cut |= cap_str(m, MAX_MESSAGE);
        }
        for b in [self.request_body.as_mut(), self.response_body.as_mut()]
            .into_iter()
            .flatten()
        {
            cut |= cap_str(b, body_limit);
        }
        if !self.request_headers.is_empty() {
            cut |= cap_headers(&mut self.request_headers);
        }
        if !self.response_headers.is_empty() {
            cut |= cap_headers(&mut self.response_headers);
        }
        if let Some(k) = self.api_key_id.as_mut() {
            if k.len() > MAX_NAME {
                let mut c = Cow::Borrowed(k.as_str());
                cap_str(&mut c, MAX_NAME);
                *k = c.into_owned();
                cut = true;
            }
        }
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_str_cuts_on_char_boundaries_and_marks() {
        for (input, max, want) in [
            ("short", 10, "short"),
            ("exactly10!", 10, "exactly10!"),
            ("abcdefghijklmnopqrstuvwxyz", 15, "abcd[truncated]"),
            ("ééééééééééééé", 15, "éé[truncated]"),
            ("abcdef", 3, ""),
        ] {
            let mut c = Cow::Borrowed(input);
            cap_str(&mut c, max);
            assert_eq!(c, want, "{input:?} capped at {max}");
            assert!(c.len() <= max, "{input:?}");
        }
    }

    #[test]
    fn cap_fields_bounds_every_string_and_header_count() {
        let big = "x".repeat(1 << 20);
        let mut ev = ApiEvent {
            raw: Cow::Borrowed(&big),
            path: Cow::Borrowed(&big),
            query: Cow::Borrowed(&big),
            host: Cow::Borrowed(&big),
            method: Cow::Borrowed(&big),
            user_agent: Cow::Borrowed(&big),
            referer: Cow::Borrowed(&big),
            principal: Some(Cow::Borrowed(&big)),
            service: Some(Cow::Borrowed(&big)),
            message: Some(Cow::Borrowed(&big)),
            request_body: Some(Cow::Borrowed(&big)),
            request_headers: (0..1000)
                .map(|_| (Cow::Borrowed(big.as_str()), Cow::Borrowed(big.as_str())))
                .collect(),
            ..ApiEvent::default()
        };
        assert!(ev.cap_fields(BODY_SAMPLE_LIMIT));
        assert_eq!(ev.request_headers.len(), MAX_HEADERS);
        assert_eq!(
            ev.request_headers
                .last()
                .map(|(k, v)| (k.as_ref(), v.as_ref())),
            Some((TRUNCATED_MARK, "969"))
        );
        assert!(ev.path.ends_with(TRUNCATED_MARK) && ev.path.len() == MAX_PATH);
        assert_eq!(ev.raw.len(), MAX_RAW);
        let json = serde_json::to_string(&ev).unwrap_or_default();
        assert!(json.len() <= MAX_EVENT_JSON, "{} bytes", json.len());
        assert!(
            !ev.cap_fields(BODY_SAMPLE_LIMIT),
            "capping twice changes nothing"
        );
    }
}
