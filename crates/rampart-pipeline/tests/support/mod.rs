//! Helpers shared by the detection-quality tests.

use std::borrow::Cow;

use rampart_model::ApiEvent;

/// A common browser's user agent: what an attacker who hides its tool sends.
pub const BROWSER_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                              (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

/// Give a decoded event the user agent `ua`: on `user_agent`, on any `user-agent` request
/// header, and in the raw line (which Sigma keyword rules search), so nothing of the original
/// user agent is left for a detector to key on.
pub fn replace_user_agent(ev: &mut ApiEvent<'_>, ua: &'static str) {
    if !ev.user_agent.is_empty() && ev.raw.contains(ev.user_agent.as_ref()) {
        ev.raw = Cow::Owned(ev.raw.replace(ev.user_agent.as_ref(), ua));
    }
    ev.user_agent = Cow::Borrowed(ua);
    for (k, v) in &mut ev.request_headers {
        if k.eq_ignore_ascii_case("user-agent") {
            *v = Cow::Borrowed(ua);
        }
    }
}
