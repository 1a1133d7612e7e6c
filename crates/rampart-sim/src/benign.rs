//! The benign population and its traffic: daily rhythms, own objects, mostly-successful
//! logins, browser and SDK clients, per-endpoint size and latency profiles.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rampart_model::{ApiEvent, Timestamp};

use crate::api::{ApiSpec, Audience, Auth, BodyShape, EndpointSpec, IdSpace, QueryShape};
use crate::bodies;
use crate::rng::Rng;

/// Relative activity per local hour of day (0 = midnight).
pub(crate) const HOURLY: [f64; 24] = [
    0.15, 0.09, 0.06, 0.05, 0.05, 0.08, 0.2, 0.45, 0.75, 0.95, 1.0, 1.0, 0.95, 1.0, 1.0, 0.95, 0.9,
    0.9, 1.0, 1.1, 1.1, 0.9, 0.6, 0.3,
];
/// Activity factor on Saturdays and Sundays.
const WEEKEND: f64 = 0.65;
const HOUR_MS: i64 = 3_600_000;

/// Browser user agents.
pub(crate) const BROWSER_UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
];
/// SDK user agents (clients authenticating with an API key).
pub(crate) const SDK_UAS: &[&str] = &[
    "ShopSDK-Android/5.4.2 okhttp/4.12.0",
    "ShopSDK-iOS/5.4.0 CFNetwork/1490.0.4 Darwin/23.2.0",
    "shop-python/3.2.1",
    "shop-node/4.1.0 node/20.11.1",
];
const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "kim",
    "liam", "mia", "noah", "olga", "pablo", "quinn", "rosa", "sven", "tara", "umar", "vera", "wei",
    "yuki", "zoe", "amir", "bea", "chen", "dana", "emil",
];
/// Benign address blocks (first two octets); none overlaps a documentation range.
const V4_BLOCKS: &[(u8, u8)] = &[
    (81, 2),
    (92, 40),
    (73, 15),
    (24, 5),
    (86, 12),
    (101, 33),
    (177, 8),
    (49, 36),
    (62, 210),
    (145, 53),
    (188, 114),
    (37, 120),
];
/// Time-zone offsets in hours and their weights.
const TZS: &[(i32, f64)] = &[
    (0, 0.2),
    (1, 0.25),
    (2, 0.1),
    (-5, 0.18),
    (-8, 0.08),
    (5, 0.05),
    (8, 0.08),
    (9, 0.06),
];

/// One benign user.
#[derive(Debug, Clone)]
pub(crate) struct User {
    /// Numeric id (`/users/{id}`), from 1.
    pub id: u32,
    /// Principal name (JWT `sub`, Basic user).
    pub name: String,
    /// Home and mobile address.
    pub ips: [IpAddr; 2],
    /// Local time-zone offset, hours.
    pub tz: i32,
    /// Relative activity.
    pub weight: f64,
    /// User agent.
    pub ua: &'static str,
    /// Credential header (`authorization` or `x-api-key`) and value.
    pub cred: (&'static str, String),
    /// `Basic ...` header for the login endpoint.
    pub basic: String,
    /// Has the admin role.
    pub admin: bool,
    /// Old SDK still calling deprecated endpoints.
    pub legacy: bool,
    /// Browser client (else SDK).
    pub browser: bool,
}

impl User {
    /// Ids of the orders (and payments) this user owns.
    pub(crate) fn own_object(&self, rng: &mut Rng) -> u64 {
        u64::from(self.id) * 10 + rng.range(1, 8)
    }
}

fn b64url_random(rng: &mut Rng, bytes: usize, out: &mut String) {
    let raw: Vec<u8> = (0..bytes).map(|_| rng.next_u64() as u8).collect();
    URL_SAFE_NO_PAD.encode_string(raw, out);
}

/// A JWT-shaped bearer token for `sub`, issued at `iat` (seconds).
pub(crate) fn jwt(rng: &mut Rng, sub: &str, iat: i64, scope: &str) -> String {
    let mut t = String::from("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.");
    let payload = format!(
        "{{\"sub\":\"{sub}\",\"iss\":\"https://auth.shop.example\",\"aud\":\"shop-api\",\"iat\":{iat},\"exp\":{},\"scope\":\"{scope}\"}}",
        iat + 30 * 86_400
    );
    URL_SAFE_NO_PAD.encode_string(payload, &mut t);
    t.push('.');
    b64url_random(rng, 32, &mut t);
    t
}

/// `Basic base64(user:password)`.
pub(crate) fn basic(user: &str, password: &str) -> String {
    let mut s = String::from("Basic ");
    STANDARD.encode_string(format!("{user}:{password}"), &mut s);
    s
}

fn benign_ip(rng: &mut Rng, v6: bool) -> IpAddr {
    if v6 {
        // 2a02:: and 2600:: look like residential ISP space; documentation space is 2001:db8::.
        let hi = if rng.chance(0.5) { 0x2a02 } else { 0x2600 };
        IpAddr::V6(Ipv6Addr::new(
            hi,
            rng.below(0xffff) as u16,
            rng.below(0xffff) as u16,
            0,
            0,
            0,
            0,
            rng.range(1, 0xfffe) as u16,
        ))
    } else {
        let (a, b) = *rng.pick(V4_BLOCKS);
        IpAddr::V4(Ipv4Addr::new(
            a,
            b,
            rng.below(256) as u8,
            rng.range(1, 254) as u8,
        ))
    }
}

/// Build the population.
pub(crate) fn population(seed: u64, n: u32, start: Timestamp) -> Vec<User> {
    let mut rng = Rng::new(seed, 0x5eed_0001);
    let tz_cum: Vec<f64> = TZS
        .iter()
        .scan(0.0, |acc, &(_, w)| {
            *acc += w;
            Some(*acc)
        })
        .collect();
    (1..=n.max(1))
        .map(|id| {
            let name = format!("{}.{}", FIRST[(id as usize - 1) % FIRST.len()], id);
            let browser = rng.chance(0.75);
            let ua = if browser {
                *rng.pick(BROWSER_UAS)
            } else {
                *rng.pick(SDK_UAS)
            };
            let admin = id % 50 == 7;
            let cred = if browser {
                let scope = if admin {
                    "read write admin"
                } else {
                    "read write"
                };
                let iat = start.secs() - rng.range(0, 20 * 86_400) as i64;
                (
                    "authorization",
                    format!("Bearer {}", jwt(&mut rng, &name, iat, scope)),
                )
            } else {
                let mut k = String::from("sk_live_");
                for _ in 0..24 {
                    k.push(*rng.pick(b"abcdefghijklmnopqrstuvwxyz0123456789") as char);
                }
                ("x-api-key", k)
            };
            let password = format!("pw-{:08x}", rng.next_u64() as u32);
            let v6 = rng.chance(0.1);
            let ips = [benign_ip(&mut rng, v6), benign_ip(&mut rng, false)];
            User {
                id,
                basic: basic(&name, &password),
                name,
                ips,
                tz: TZS[rng.weighted(&tz_cum)].0,
                weight: rng.lognormal(1.0, 0.8),
                ua,
                cred,
                admin,
                legacy: !browser && rng.chance(0.3),
                browser,
            }
        })
        .collect()
}

fn cumulative(ws: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    ws.map(|w| {
        acc += w;
        acc
    })
    .collect()
}

/// Generator of the benign stream: exactly `n` events, in time order, with a rate that
/// follows the population's daily rhythm.
pub(crate) struct Benign {
    rng: Rng,
    api: ApiSpec,
    /// Per UTC hour of day: cumulative user weights.
    by_hour: Vec<Vec<f64>>,
    /// Cumulative endpoint weights: everyone, admins, legacy clients.
    ep_cum: [Vec<f64>; 3],
    /// Per hour slot of the timeline: cumulative expected events (unnormalized).
    slots: Vec<f64>,
    start: i64,
    duration: i64,
    cursor: usize,
    k: u64,
    n: u64,
    bodies: bool,
}

impl Benign {
    pub(crate) fn new(
        seed: u64,
        users: &[User],
        api: ApiSpec,
        start: Timestamp,
        duration: i64,
        n: u64,
        bodies: bool,
    ) -> Self {
        let by_hour: Vec<Vec<f64>> = (0..24)
            .map(|h: i32| {
                cumulative(
                    users
                        .iter()
                        .map(|u| u.weight * HOURLY[(h + u.tz).rem_euclid(24) as usize]),
                )
            })
            .collect();
        let hour_total: Vec<f64> = by_hour
            .iter()
            .map(|c| c.last().copied().unwrap_or(0.0))
            .collect();
        let duration = duration.max(1);
        let n_slots = (duration + HOUR_MS - 1) / HOUR_MS;
        let slots = cumulative((0..n_slots).map(|i| {
            let t0 = start.millis() + i * HOUR_MS;
            let len = (duration - i * HOUR_MS).min(HOUR_MS);
            let mid = t0 + len / 2;
            let hod = mid.rem_euclid(86_400_000) / HOUR_MS;
            let weekday = (mid.div_euclid(86_400_000) + 3).rem_euclid(7); // 0 = Monday
            let wk = if weekday >= 5 { WEEKEND } else { 1.0 };
            hour_total[hod as usize] * wk * len as f64 / HOUR_MS as f64
        }));
        let aud = |a: &[Audience]| {
            cumulative(api.endpoints.iter().map(|e| {
                if a.contains(&e.audience) {
                    f64::from(e.weight)
                } else {
                    0.0
                }
            }))
        };
        let ep_cum = [
            aud(&[Audience::Everyone]),
            aud(&[Audience::Everyone, Audience::Admins]),
            aud(&[Audience::Everyone, Audience::Legacy]),
        ];
        Benign {
            rng: Rng::new(seed, 0xbe9_1a11),
            api,
            by_hour,
            ep_cum,
            slots,
            start: start.millis(),
            duration,
            cursor: 0,
            k: 0,
            n,
            bodies,
        }
    }

    /// Time of the next event, or `None` when all `n` were drawn.
    fn next_ts(&mut self) -> Option<i64> {
        if self.k >= self.n {
            return None;
        }
        let total = self.slots.last().copied().unwrap_or(0.0);
        let u = (self.k as f64 + self.rng.f64()) * total / self.n as f64;
        self.k += 1;
        while self.cursor + 1 < self.slots.len() && self.slots[self.cursor] <= u {
            self.cursor += 1;
        }
        let before = if self.cursor == 0 {
            0.0
        } else {
            self.slots[self.cursor - 1]
        };
        let width = self.slots[self.cursor] - before;
        let frac = if width > 0.0 {
            ((u - before) / width).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let slot_start = self.cursor as i64 * HOUR_MS;
        let len = (self.duration - slot_start).min(HOUR_MS);
        Some(self.start + slot_start + (frac * len as f64) as i64)
    }

    /// The next benign event.
    pub(crate) fn next_event(&mut self, users: &[User]) -> Option<ApiEvent<'static>> {
        let ts = self.next_ts()?;
        let hod = ts.rem_euclid(86_400_000) / HOUR_MS;
        let rng = &mut self.rng;
        let user = &users[rng.weighted(&self.by_hour[hod as usize])];
        let table = if user.admin {
            &self.ep_cum[1]
        } else if user.legacy {
            &self.ep_cum[2]
        } else {
            &self.ep_cum[0]
        };
        let ep = &self.api.endpoints[rng.weighted(table)];
        Some(benign_call(rng, user, ep, self.api.host, ts, self.bodies))
    }
}

const SEARCH_WORDS: &[&str] = &[
    "shoes",
    "laptop",
    "usb-c+cable",
    "coffee",
    "headphones",
    "desk+lamp",
    "backpack",
    "tent",
    "phone+case",
    "yoga+mat",
    "kettle",
    "monitor",
];
const ORDER_STATUS: &[&str] = &["open", "shipped", "delivered", "cancelled"];

/// Status of a benign call.
fn benign_status(rng: &mut Rng, ep: &EndpointSpec, foreign_object: bool) -> u16 {
    if foreign_object {
        return if rng.chance(0.5) { 404 } else { 403 };
    }
    if ep.auth == Auth::Basic && rng.chance(0.05) {
        return 401;
    }
    let x = rng.f64();
    if x < 0.002 {
        return *rng.pick(&[500, 502, 503, 504]);
    }
    if x < 0.032 {
        return match ep.method {
            "GET" => *rng.pick(&[404, 404, 401, 429]),
            _ => *rng.pick(&[400, 409, 422, 401]),
        };
    }
    match (ep.method, ep.auth) {
        ("POST", Auth::Basic) => 200,
        ("POST", _) if ep.template.ends_with("/refresh") => 200,
        ("POST", _) => 201,
        ("PUT", _) if ep.body == BodyShape::CartItem => 204,
        _ => 200,
    }
}

/// Render `{id}` in a template.
pub(crate) fn render(template: &str, id: u64) -> String {
    let mut s = String::with_capacity(template.len() + 8);
    match template.split_once("{id}") {
        Some((a, b)) => {
            s.push_str(a);
            crate::text::push_u64(&mut s, id);
            s.push_str(b);
        }
        None => s.push_str(template),
    }
    s
}

fn benign_call(
    rng: &mut Rng,
    user: &User,
    ep: &EndpointSpec,
    host: &'static str,
    ts: i64,
    bodies: bool,
) -> ApiEvent<'static> {
    let mut foreign = false;
    let id = match ep.ids {
        IdSpace::None => 0,
        IdSpace::SelfUser => u64::from(user.id),
        IdSpace::Own => {
            if rng.chance(0.01) {
                foreign = true;
                rng.range(10, 10 * 10_000)
            } else {
                user.own_object(rng)
            }
        }
        // Popular items more often: a skewed draw.
        IdSpace::Public(n) => 1 + (f64::from(n) * rng.f64() * rng.f64()) as u64,
    };
    let path = if ep.ids == IdSpace::None {
        Cow::Borrowed(ep.template)
    } else {
        Cow::Owned(render(ep.template, id))
    };
    let query: Cow<'static, str> = match ep.query {
        QueryShape::None => Cow::Borrowed(""),
        QueryShape::Paging => {
            let mut q = String::from("page=");
            crate::text::push_u64(&mut q, 1 + (rng.exp1() * 1.5) as u64);
            q.push_str(if rng.chance(0.8) {
                "&limit=20"
            } else {
                "&limit=50"
            });
            Cow::Owned(q)
        }
        QueryShape::Search => Cow::Owned(format!("q={}", rng.pick(SEARCH_WORDS))),
        QueryShape::StatusFilter => {
            if rng.chance(0.5) {
                Cow::Owned(format!("status={}", rng.pick(ORDER_STATUS)))
            } else {
                Cow::Borrowed("")
            }
        }
        QueryShape::Expand => Cow::Borrowed(if rng.chance(0.3) { "expand=items" } else { "" }),
    };
    let status = benign_status(rng, ep, foreign);
    let mut headers = Vec::new();
    let authed = match ep.auth {
        Auth::None => false,
        Auth::Optional => user.browser && rng.chance(0.7),
        Auth::Required => true,
        Auth::Basic => {
            headers.push((
                Cow::Borrowed("authorization"),
                Cow::Owned(user.basic.clone()),
            ));
            true
        }
    };
    if authed && ep.auth != Auth::Basic {
        headers.push((Cow::Borrowed(user.cred.0), Cow::Owned(user.cred.1.clone())));
    }
    let ip = if rng.chance(0.85) {
        user.ips[0]
    } else {
        user.ips[1]
    };
    let ok = status < 300;
    let resp_bytes = if status == 204 {
        0
    } else if ok {
        rng.lognormal(f64::from(ep.resp_bytes), 0.35) as u64
    } else {
        rng.range(40, 220)
    };
    let req_body = if bodies {
        bodies::request(rng, ep.body, user)
    } else {
        None
    };
    let req_bytes = rng.range(180, 520)
        + match ep.body {
            BodyShape::None => 0,
            _ => req_body
                .as_ref()
                .map_or(rng.range(40, 400), |b| b.len() as u64),
        };
    let mut latency_ms = rng.lognormal(ep.latency_ms, 0.5);
    if status >= 500 {
        latency_ms *= 8.0;
    }
    let referer = if user.browser && rng.chance(0.6) {
        Cow::Borrowed("https://shop.example/")
    } else {
        Cow::Borrowed("")
    };
    let mut ev = ApiEvent {
        ts: Timestamp(ts),
        client_ip: Some(ip),
        method: Cow::Borrowed(ep.method),
        scheme: Cow::Borrowed("https"),
        host: Cow::Borrowed(host),
        path,
        query,
        protocol: Cow::Borrowed(if user.browser { "HTTP/2.0" } else { "HTTP/1.1" }),
        status,
        request_bytes: Some(req_bytes),
        response_bytes: Some(resp_bytes),
        latency_us: Some((latency_ms * 1000.0) as u64),
        user_agent: Cow::Borrowed(user.ua),
        referer,
        principal: authed.then(|| Cow::Owned(user.name.clone())),
        authenticated: authed,
        service: Some(Cow::Borrowed(ep.service)),
        request_headers: headers,
        source_format: Cow::Borrowed("sim"),
        ..Default::default()
    };
    if bodies {
        ev.request_body = req_body.map(Cow::Owned);
        ev.response_headers = vec![(
            Cow::Borrowed("content-type"),
            Cow::Borrowed("application/json"),
        )];
        ev.response_body = Some(Cow::Owned(if ok {
            bodies::response(rng, ep.response, user, id)
        } else {
            bodies::error(status)
        }));
    }
    ev
}
