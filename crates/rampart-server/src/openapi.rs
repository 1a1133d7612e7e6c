//! The OpenAPI 3.1 document, generated from [`crate::ROUTES`].

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::{AppState, ROUTES};

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let item = paths
            .entry(r.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        let mut params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                json!({"name": name, "in": "path", "required": true,
                    "schema": {"type": if name == "id" || name.ends_with("_id") { "integer" } else { "string" }}})
            })
            .collect();
        let mut responses = json!({
            "200": {"description": "success", "content": {"application/json": {}}},
            "400": error_response("invalid input"),
        });
        if r.path == "/api/v1/incidents/{id}/report" {
            params.push(json!({"name": "format", "in": "query", "required": false,
                "schema": {"type": "string", "enum": ["html", "md", "pdf"], "default": "html"}}));
            responses["200"] = json!({"description": "the report, as a download (Content-Disposition: attachment)",
                "content": {"text/html": {}, "text/markdown": {}, "application/pdf": {}}});
            responses["404"] = error_response("no such incident");
        }
        if let Some(p) = r.permission {
            responses["401"] = error_response("missing, unknown or revoked token");
            responses["403"] =
                error_response(&format!("the token's role lacks the permission {p}"));
            responses["429"] = error_response(
                "too many failed authentications from this address (see Retry-After)",
            );
        }
        let mut op = json!({
            "summary": r.summary,
            "operationId": format!("{}_{}", r.method, r.path.trim_start_matches('/').replace(['/', '{', '}', '.'], "_")),
            "parameters": params,
            "responses": responses,
        });
        if let Some(p) = r.permission {
            let roles: Vec<&str> = p.roles().map(|r| r.as_str()).collect();
            op["security"] = json!([{"bearer": []}]);
            op["description"] = json!(format!(
                "Needs the permission `{p}` (roles: {}).",
                roles.join(", ")
            ));
            op["x-rampart-permission"] = json!(p.as_str());
        }
        if matches!(r.method, "post" | "patch") {
            let ct = if r.path == "/api/v1/events" {
                "application/x-ndjson"
            } else {
                "application/json"
            };
            op["requestBody"] = json!({"required": true, "content": {ct: {}}});
        }
        if let Value::Object(m) = item {
            // `any` (Envoy sends the original method) is listed under each method
            let methods: &[&str] = if r.method == "any" {
                &["get", "post", "put", "patch", "delete"]
            } else {
                std::slice::from_ref(&r.method)
            };
            for method in methods {
                m.insert((*method).to_string(), op.clone());
            }
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Rampart API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {
                "type": "object", "required": ["error"],
                "properties": {"error": {"type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}
            }}
        }
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn handler(State(_): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(document()))
}
