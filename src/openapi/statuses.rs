//! Every status an operation can answer, in the document: those its
//! handler names, and those every route of its kind answers before or
//! around the handler (the guard, the extractors, the server), each with the
//! error body and the codes it may carry.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use crate::auth::Access;

/// A refusal's response: the error body, and which codes it carries.
fn refusal(description: &str, codes: &[&str]) -> RefOr<Response> {
    let codes = codes
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    ResponseBuilder::new()
        .description(format!("{description} (`code`: {codes})"))
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// Adds `status` unless the handler documented it already.
fn add(op: &mut Operation, status: u16, response: RefOr<Response>) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert(response);
}

/// Documents the statuses `op` answers besides its handler's own.
pub fn complete(op: &mut Operation, path: &str, access: Access) {
    let has_body = op.request_body.is_some();
    let has_query = op
        .parameters
        .as_ref()
        .is_some_and(|ps| ps.iter().any(|p| p.parameter_in == ParameterIn::Query));
    let mut malformed = Vec::new();
    if has_body {
        malformed.push("invalid_json");
        add(
            op,
            413,
            refusal("The body is too large", &["payload_too_large"]),
        );
        add(
            op,
            415,
            refusal(
                "The body is not of the type this operation takes",
                &["unsupported_media_type", "unsupported_file_type"],
            ),
        );
        add(
            op,
            422,
            refusal(
                "A field is missing, of the wrong type, or breaks a rule",
                &["invalid_body", "validation_failed"],
            ),
        );
    }
    if has_query {
        malformed.push("invalid_query");
    }
    if !malformed.is_empty() {
        add(
            op,
            400,
            refusal("The body or a query parameter is malformed", &malformed),
        );
    }
    if access != Access::Public {
        add(
            op,
            401,
            refusal(
                "No valid bearer token",
                &["unauthenticated", "invalid_token", "token_expired"],
            ),
        );
        let mut forbidden = vec!["account_disabled"];
        if !matches!(access, Access::SignedIn | Access::Visitors) {
            forbidden.push("forbidden");
        }
        if matches!(access, Access::Residents(roles) if roles.is_empty()) {
            forbidden.push("not_a_resident");
        }
        add(
            op,
            403,
            refusal("The caller may not do this here", &forbidden),
        );
    }
    // A path that names something (a community, a merchant, any id) may
    // name nothing the caller can see; a malformed id names nothing.
    if path.contains('{') {
        add(
            op,
            404,
            refusal(
                "No such resource (or not visible to the caller)",
                &["not_found"],
            ),
        );
    }
    add(
        op,
        500,
        refusal(
            "Something failed on our side; it is logged with the request id",
            &["internal"],
        ),
    );
    add(
        op,
        503,
        refusal(
            "A dependency such as the database is unavailable",
            &["service_unavailable"],
        ),
    );
}
