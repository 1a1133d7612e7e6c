//! The simulated API: endpoints, their authentication, id spaces, payload shapes and the
//! size and latency profiles benign traffic draws from.

/// Who calls an endpoint in benign traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every user.
    Everyone,
    /// Only users with the admin role.
    Admins,
    /// Only clients on an old SDK that still call deprecated endpoints.
    Legacy,
}

/// Authentication an endpoint requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Public; benign clients send no credentials.
    None,
    /// Public, but logged-in clients send their credentials anyway.
    Optional,
    /// Credentials required (401 without).
    Required,
    /// HTTP Basic with user name and password (the login endpoint).
    Basic,
}

/// What fills the `{id}` of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSpace {
    /// The template has no `{id}`.
    None,
    /// The caller's own user id.
    SelfUser,
    /// One of the caller's own objects (orders, payments).
    Own,
    /// Any id in `1..=n` (public catalogue).
    Public(u32),
}

/// Query-string shape of benign calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryShape {
    /// No query string.
    None,
    /// `page=N&limit=M`.
    Paging,
    /// `q=<word>`.
    Search,
    /// `status=<open|shipped|...>`.
    StatusFilter,
    /// Sometimes `expand=items`.
    Expand,
}

/// Request body shape (emitted only with bodies on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyShape {
    /// No body.
    None,
    /// `{"display_name":..}` profile update.
    Profile,
    /// `{"items":[{"product_id":..,"qty":..}]}`.
    Order,
    /// `{"order_id":..,"amount":..,"currency":..}`.
    Payment,
    /// `{"product_id":..,"qty":..}`.
    CartItem,
    /// `{"refresh_token":..}`.
    Refresh,
}

/// Response body shape (emitted only with bodies on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseShape {
    /// Empty body.
    Empty,
    /// One product.
    Product,
    /// A page of products.
    ProductList,
    /// One user (the caller).
    User,
    /// A page of users (admin).
    UserList,
    /// One order.
    Order,
    /// A page of orders.
    OrderList,
    /// One payment.
    Payment,
    /// An access token.
    Token,
    /// Service metrics (admin).
    Metrics,
}

/// One endpoint of the simulated API.
#[derive(Debug, Clone)]
pub struct EndpointSpec {
    /// HTTP method.
    pub method: &'static str,
    /// Path template; `{id}` is replaced from `ids`.
    pub template: &'static str,
    /// Backend service that serves it.
    pub service: &'static str,
    /// Authentication it requires.
    pub auth: Auth,
    /// What fills `{id}`.
    pub ids: IdSpace,
    /// Query-string shape.
    pub query: QueryShape,
    /// Request body shape.
    pub body: BodyShape,
    /// Response body shape.
    pub response: ResponseShape,
    /// Relative popularity among benign calls of its audience.
    pub weight: u32,
    /// Who calls it.
    pub audience: Audience,
    /// Deprecated (kept for old clients).
    pub deprecated: bool,
    /// Median response size in bytes.
    pub resp_bytes: u32,
    /// Median latency in milliseconds.
    pub latency_ms: f64,
}

/// The simulated API.
#[derive(Debug, Clone)]
pub struct ApiSpec {
    /// Host name clients call.
    pub host: &'static str,
    /// Endpoints.
    pub endpoints: Vec<EndpointSpec>,
}

impl Default for ApiSpec {
    fn default() -> Self {
        ApiSpec::shop()
    }
}

/// Number of products in the default catalogue.
pub const PRODUCTS: u32 = 5_000;

#[allow(clippy::too_many_arguments)]
const fn ep(
    method: &'static str,
    template: &'static str,
    service: &'static str,
    auth: Auth,
    ids: IdSpace,
    query: QueryShape,
    body: BodyShape,
    response: ResponseShape,
    weight: u32,
    audience: Audience,
    resp_bytes: u32,
    latency_ms: f64,
) -> EndpointSpec {
    EndpointSpec {
        method,
        template,
        service,
        auth,
        ids,
        query,
        body,
        response,
        weight,
        audience,
        deprecated: matches!(audience, Audience::Legacy),
        resp_bytes,
        latency_ms,
    }
}

impl ApiSpec {
    /// A realistic shop API: users, orders, products, cart, payments, login, admin, and
    /// deprecated `v1` endpoints still called by old SDK clients next to `v2`.
    #[rustfmt::skip]
    pub fn shop() -> Self {
        use Audience::*;
        use Auth::*;
        use BodyShape as B;
        use IdSpace as I;
        use QueryShape as Q;
        use ResponseShape as R;
        let p = I::Public(PRODUCTS);
        ApiSpec {
            host: "api.shop.example",
            endpoints: vec![
                ep("GET", "/api/v2/products", "catalog", Optional, I::None, Q::Paging, B::None, R::ProductList, 20, Everyone, 6_200, 18.0),
                ep("GET", "/api/v2/products/{id}", "catalog", Optional, p, Q::None, B::None, R::Product, 25, Everyone, 1_400, 9.0),
                ep("GET", "/api/v2/products/search", "catalog", Optional, I::None, Q::Search, B::None, R::ProductList, 10, Everyone, 4_800, 35.0),
                ep("GET", "/api/v2/users/{id}", "users", Required, I::SelfUser, Q::Expand, B::None, R::User, 8, Everyone, 820, 11.0),
                ep("PATCH", "/api/v2/users/{id}", "users", Required, I::SelfUser, Q::None, B::Profile, R::User, 1, Everyone, 820, 24.0),
                ep("GET", "/api/v2/orders", "orders", Required, I::None, Q::StatusFilter, B::None, R::OrderList, 8, Everyone, 3_100, 28.0),
                ep("GET", "/api/v2/orders/{id}", "orders", Required, I::Own, Q::Expand, B::None, R::Order, 10, Everyone, 1_900, 14.0),
                ep("POST", "/api/v2/orders", "orders", Required, I::None, Q::None, B::Order, R::Order, 3, Everyone, 1_900, 60.0),
                ep("GET", "/api/v2/cart", "orders", Required, I::None, Q::None, B::None, R::OrderList, 4, Everyone, 1_200, 8.0),
                ep("PUT", "/api/v2/cart/items/{id}", "orders", Required, p, Q::None, B::CartItem, R::Empty, 3, Everyone, 0, 12.0),
                ep("POST", "/api/v2/payments", "payments", Required, I::None, Q::None, B::Payment, R::Payment, 2, Everyone, 540, 240.0),
                ep("GET", "/api/v2/payments/{id}", "payments", Required, I::Own, Q::None, B::None, R::Payment, 1, Everyone, 540, 20.0),
                ep("POST", "/api/v1/auth/login", "auth", Basic, I::None, Q::None, B::None, R::Token, 3, Everyone, 980, 85.0),
                ep("POST", "/api/v1/auth/refresh", "auth", Required, I::None, Q::None, B::Refresh, R::Token, 2, Everyone, 980, 15.0),
                ep("GET", "/api/v2/admin/users", "admin", Required, I::None, Q::Paging, B::None, R::UserList, 10, Admins, 9_500, 45.0),
                ep("GET", "/api/v2/admin/metrics", "admin", Required, I::None, Q::None, B::None, R::Metrics, 6, Admins, 2_400, 30.0),
                ep("GET", "/api/v1/products/{id}", "catalog", Optional, p, Q::None, B::None, R::Product, 3, Legacy, 1_300, 12.0),
                ep("GET", "/api/v1/orders/{id}", "orders", Required, I::Own, Q::None, B::None, R::Order, 2, Legacy, 1_700, 19.0),
            ],
        }
    }
}
