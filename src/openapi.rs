//! The OpenAPI document, built from the route table: each operation comes
//! from its handler's `#[utoipa::path]`, gains its access rule (in the
//! description and as `x-access`), the bearer requirement where a token is
//! needed, and every status it can answer beyond its handler's own
//! (`statuses`). Served at `/api-docs/openapi.json`, browsable at `/docs`.

use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Paths};
use utoipa::{Modify, OpenApi};

use crate::auth::Access;
use crate::auth::ApiRoute;
use crate::kernel::error::{ErrorBody, ErrorCode};

mod statuses;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "anjia",
        description = "安家: community life services for residential compounds: residents, merchants and the property company.\n\n\
Conventions: JSON bodies; times are RFC 3339 in UTC; money is integer fen (1 yuan = 100 fen); \
lists are cursor-paginated (`?limit=&cursor=` → `{items, next_cursor}`); \
errors are `{code, message, details?}` with a stable `code` (see the `ErrorCode` schema). \
Community-scoped routes live under `/api/v1/communities/{community_id}/…`; \
a community you have no role in answers 404.",
    ),
    // Types only query parameters name (their routes do not list them).
    components(schemas(ErrorBody, ErrorCode, crate::wechat::views::Scope)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign-in and tokens"),
        (name = "me", description = "The signed-in user"),
        (name = "communities", description = "Communities (小区): the tenants"),
        (name = "staff", description = "Property staff and their roles per community"),
        (name = "couriers", description = "Couriers and their passes, delivery companies"),
        (name = "files", description = "Uploads, signed download links, merchant documents"),
        (name = "merchants", description = "Merchants: applications, verification per community, visits, staff"),
        (name = "privacy", description = "Full personal values for staff who need them, and the access log"),
        (name = "residents", description = "Household claims and verification, members, family invitations"),
        (name = "structure", description = "Buildings, units, households, gates, pickup points, the owner register"),
        (name = "operations", description = "Health, readiness, metrics"),
        (name = "wechat", description = "WeChat callbacks, web OAuth, JS-SDK, the menu, parametric QR codes"),
        (name = "catalog", description = "Categories, merchants' products and services, what residents can buy"),
        (name = "messages", description = "Outbound WeChat messages: the outbox and, in sandbox mode, the sandbox inbox"),
        (name = "disputes", description = "Disputes (售后): residents and merchants negotiate, customer service decide; refunds out of escrow"),
        (name = "fees", description = "Property-fee bills (物业费): issuing, paying by wallet and WeChat Pay, receipts, arrears, reminders"),
        (name = "development", description = "Only in development and test"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Two different types documented under one schema name: a client
/// generated from the document would send or expect the wrong body.
#[derive(Debug, thiserror::Error)]
#[error(
    "two different types are both documented as the schema {0:?}: give one its own name (`#[schema(as = …)]`)"
)]
pub struct DuplicateSchema(pub String);

/// The document for exactly these routes.
pub fn document(routes: &[ApiRoute]) -> Result<Document, DuplicateSchema> {
    let mut doc = ApiDoc::openapi();
    let mut paths = Paths::new();
    let components = doc.components.get_or_insert_with(Default::default);
    for route in routes {
        let mut op = route.operation.clone();
        let rule = route.access.describe();
        op.description = Some(match op.description.take() {
            Some(d) if !d.is_empty() => format!("{d}\n\n{rule}"),
            _ => rule,
        });
        let ext = ExtensionsBuilder::new()
            .add("x-access", route.access.as_json())
            .build();
        match op.extensions.as_mut() {
            Some(existing) => existing.merge(ext),
            None => op.extensions = Some(ext),
        }
        if route.access != Access::Public {
            op.security = Some(vec![SecurityRequirement::new::<_, [&str; 0], &str>(
                "bearer",
                [],
            )]);
        }
        statuses::complete(&mut op, &route.path, route.access);
        paths.add_path_operation(&route.path, vec![route.http_method.clone()], op);
        for (name, schema) in &route.schemas {
            match components.schemas.get(name) {
                Some(known) if known != schema => return Err(DuplicateSchema(name.clone())),
                Some(_) => {}
                None => {
                    components.schemas.insert(name.clone(), schema.clone());
                }
            }
        }
    }
    doc.paths = paths;
    Ok(doc)
}
