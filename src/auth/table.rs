//! One endpoint with its access rule: what each capability's `table()`
//! lists, and what the guard, the router and the API document are built from.

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, web};
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::{RefOr, schema::Schema};

use super::Access;

/// One endpoint: where it is, who may call it, what serves it, how it is
/// documented.
pub struct ApiRoute {
    pub method: Method,
    pub http_method: HttpMethod,
    pub path: String,
    pub access: Access,
    pub operation: Operation,
    pub schemas: Vec<(String, RefOr<Schema>)>,
    pub(crate) service: actix_web::Route,
}

pub fn route<P, F, Args>(access: Access, handler: F) -> ApiRoute
where
    P: utoipa::Path + utoipa::__dev::SchemaReferences,
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let http_method = P::methods().into_iter().next().unwrap_or(HttpMethod::Get);
    let method = match http_method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Trace => Method::TRACE,
    };
    let mut schemas = Vec::new();
    P::schemas(&mut schemas);
    ApiRoute {
        service: web::method(method.clone()).to(handler),
        method,
        http_method,
        path: P::path(),
        access,
        operation: P::operation(),
        schemas,
    }
}
