//! Small JSON request and response bodies for the `rampart` format.

use crate::api::{BodyShape, ResponseShape};
use crate::benign::User;
use crate::rng::Rng;

/// A benign request body, `None` for shapes without one.
pub(crate) fn request(rng: &mut Rng, shape: BodyShape, user: &User) -> Option<String> {
    Some(match shape {
        BodyShape::None => return None,
        BodyShape::Profile => format!("{{\"display_name\":\"{}\"}}", user.name),
        BodyShape::Order => format!(
            "{{\"items\":[{{\"product_id\":{},\"qty\":{}}}],\"shipping\":\"standard\"}}",
            rng.range(1, 5000),
            rng.range(1, 3)
        ),
        BodyShape::Payment => format!(
            "{{\"order_id\":{},\"amount\":{}.{:02},\"currency\":\"EUR\",\"method\":\"card_token\"}}",
            user.own_object(rng),
            rng.range(5, 400),
            rng.below(100)
        ),
        BodyShape::CartItem => format!("{{\"qty\":{}}}", rng.range(1, 4)),
        BodyShape::Refresh => "{\"refresh_token\":\"rt_redacted\"}".to_string(),
    })
}

/// A benign response body.
pub(crate) fn response(rng: &mut Rng, shape: ResponseShape, user: &User, id: u64) -> String {
    match shape {
        ResponseShape::Empty => String::new(),
        ResponseShape::Product => format!(
            "{{\"id\":{id},\"name\":\"Product {id}\",\"price\":{}.99,\"stock\":{}}}",
            rng.range(3, 300),
            rng.below(500)
        ),
        ResponseShape::ProductList => format!(
            "{{\"items\":[{{\"id\":{},\"name\":\"Product\",\"price\":19.99}}],\"page\":1,\"total\":{}}}",
            rng.range(1, 5000),
            rng.range(20, 5000)
        ),
        ResponseShape::User => format!(
            "{{\"id\":{},\"username\":\"{}\",\"display_name\":\"{}\",\"created_at\":\"2024-03-01T10:00:00Z\"}}",
            user.id, user.name, user.name
        ),
        ResponseShape::UserList => "{\"items\":[{\"id\":1,\"username\":\"alice.1\"}],\"page\":1}".to_string(),
        ResponseShape::Order => format!(
            "{{\"id\":{id},\"user_id\":{},\"status\":\"shipped\",\"total\":{}.50}}",
            user.id,
            rng.range(5, 400)
        ),
        ResponseShape::OrderList => format!(
            "{{\"items\":[{{\"id\":{},\"status\":\"open\"}}],\"page\":1}}",
            user.own_object(rng)
        ),
        ResponseShape::Payment => format!(
            "{{\"id\":{},\"status\":\"captured\",\"card_last4\":\"{:04}\"}}",
            user.own_object(rng),
            rng.below(10_000)
        ),
        ResponseShape::Token => {
            "{\"access_token\":\"<redacted>\",\"token_type\":\"Bearer\",\"expires_in\":3600}"
                .to_string()
        }
        ResponseShape::Metrics => "{\"orders_today\":1234,\"revenue\":56789.5}".to_string(),
    }
}

/// A problem+json error body.
pub(crate) fn error(status: u16) -> String {
    let title = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    };
    format!("{{\"type\":\"about:blank\",\"title\":\"{title}\",\"status\":{status}}}")
}
