//! Authorization, enforced in one place.
//!
//! Every route in `crate::routes` declares an [`Access`] rule. The [`guard`]
//! middleware wraps every route's resource (so it runs after routing, on the
//! route actually matched) and enforces the rule before any handler runs: it checks the bearer token, loads the caller, and for
//! community routes (`/api/v1/communities/{community_id}/…`) resolves the
//! caller's roles in that community. A route without a rule is refused.
//!
//! Tenant isolation: a caller with no role in a community gets `404` for
//! everything under it, exactly as if it did not exist. Services still filter
//! every query by the community id the guard resolved.

use std::collections::HashMap;
use std::future::{Ready, ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, web};
use std::sync::Arc;

use entity::{
    CommunityId, DeliveryCompanyId, HouseholdId, MerchantId, MerchantRole, StaffRole, community,
    delivery_company, household_member, merchant,
};

use super::Principal;
use sea_orm::EntityTrait;

use crate::kernel::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    /// Any signed-in user.
    SignedIn,
    /// Operator admins only.
    OperatorAdmin,
    /// Staff holding one of these roles in the community named by the path's
    /// `{community_id}`; operator admins too.
    Staff(&'static [StaffRole]),
    /// Verified residents of the path's community (a membership of one of
    /// its households, a tenant's not lapsed), staff holding one of these
    /// roles there, and operator admins. Which household a resident may act
    /// on is the service's check.
    Residents(&'static [StaffRole]),
    /// Any signed-in user, for a community that exists: how outsiders ask
    /// to join (household claims).
    Visitors,
    /// Staff of the merchant named by the path's `{merchant_id}` holding one
    /// of these roles; operator admins too. Anyone else gets 404.
    Merchant(&'static [MerchantRole]),
    /// Staff of the delivery company named by the path's `{company_id}`;
    /// operator admins too. Anyone else gets 404.
    Company,
}

/// Any member of a merchant's staff.
pub const MERCHANT_ANY: &[MerchantRole] = &[MerchantRole::Owner, MerchantRole::Staff];
/// The merchant's owners.
pub const MERCHANT_OWNER: &[MerchantRole] = &[MerchantRole::Owner];
/// Staff whose duties may need a full personal value (each kind of subject
/// narrows this further; see `privacy::service`).
pub const PII_READERS: &[StaffRole] = &[
    StaffRole::Manager,
    StaffRole::BuildingManager,
    StaffRole::CustomerService,
    StaffRole::GateGuard,
];
/// Staff who deal with couriers: the manager and gate guards.
pub const COURIER_STAFF: &[StaffRole] = &[StaffRole::Manager, StaffRole::GateGuard];
/// Staff who look after merchants: the manager, building managers,
/// customer service.
pub const MERCHANT_REVIEWERS: &[StaffRole] = &[
    StaffRole::Manager,
    StaffRole::BuildingManager,
    StaffRole::CustomerService,
];

/// Staff who see every order of the community: the manager, finance and
/// customer service.
pub const ORDER_STAFF: &[StaffRole] = &[
    StaffRole::Manager,
    StaffRole::Finance,
    StaffRole::CustomerService,
];
/// Staff who decide merchants' payouts: the manager and finance.
pub const FINANCE: &[StaffRole] = &[StaffRole::Manager, StaffRole::Finance];
/// Staff who mediate disputes (物业调解): the manager and customer service.
pub const DISPUTE_STAFF: &[StaffRole] = &[StaffRole::Manager, StaffRole::CustomerService];
/// Staff who run pickup points: verify codes, see what is uncollected,
/// tidy the message board.
pub const PICKUP_STAFF: &[StaffRole] = &[
    StaffRole::Manager,
    StaffRole::BuildingManager,
    StaffRole::GateGuard,
    StaffRole::CustomerService,
];
/// Residents only (staff act through their own routes).
pub const RESIDENTS_ONLY: &[StaffRole] = &[];

/// Every staff duty.
pub const ANY_STAFF: &[StaffRole] = &StaffRole::ALL;
/// The community's manager alone.
pub const MANAGER: &[StaffRole] = &[StaffRole::Manager];
/// Those who look after residents: the manager and building managers.
pub const BUILDING_STAFF: &[StaffRole] = &[StaffRole::Manager, StaffRole::BuildingManager];

/// The path prefix of community-scoped routes.
pub const COMMUNITY_PREFIX: &str = "/api/v1/communities/{community_id}";

impl Access {
    /// A sentence for the API document.
    pub fn describe(&self) -> String {
        match self {
            Access::Public => "Access: public (no token).".to_owned(),
            Access::SignedIn => "Access: any signed-in user.".to_owned(),
            Access::OperatorAdmin => "Access: operator admins.".to_owned(),
            Access::Staff(roles) => format!(
                "Access: staff of this community with role {}, and operator admins.",
                role_list(roles)
            ),
            Access::Residents(roles) => format!(
                "Access: verified residents of this community, its staff with role {}, and operator admins.",
                role_list(roles)
            ),
            Access::Visitors => "Access: any signed-in user (the community must exist).".to_owned(),
            Access::Company => {
                "Access: the delivery company's staff, and operator admins.".to_owned()
            }
            Access::Merchant(roles) => format!(
                "Access: the merchant's {}, and operator admins.",
                roles
                    .iter()
                    .map(|r| match r {
                        MerchantRole::Owner => "owners",
                        MerchantRole::Staff => "staff",
                    })
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        }
    }

    /// The rule as data, for the `x-access` extension of the API document.
    pub fn as_json(&self) -> serde_json::Value {
        match self {
            Access::Public => serde_json::json!({ "kind": "public" }),
            Access::SignedIn => serde_json::json!({ "kind": "signed_in" }),
            Access::OperatorAdmin => serde_json::json!({ "kind": "operator_admin" }),
            Access::Staff(roles) => serde_json::json!({
                "kind": "staff",
                "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            }),
            Access::Residents(roles) => serde_json::json!({
                "kind": "residents",
                "staff_roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            }),
            Access::Visitors => serde_json::json!({ "kind": "visitors" }),
            Access::Merchant(roles) => serde_json::json!({
                "kind": "merchant",
                "roles": roles,
            }),
            Access::Company => serde_json::json!({ "kind": "company" }),
        }
    }
}

fn role_list(roles: &[StaffRole]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The rule of every route, by path pattern and method.
#[derive(Debug, Default)]
pub struct AccessTable {
    rules: HashMap<String, HashMap<Method, Access>>,
}

impl AccessTable {
    pub fn insert(&mut self, method: Method, path: &str, access: Access) {
        self.rules
            .entry(path.to_owned())
            .or_default()
            .insert(method, access);
    }

    /// `None` for a path with no rules at all; `Some(None)` for a path whose
    /// rules do not cover `method`.
    fn rules(&self, path: &str) -> Option<&HashMap<Method, Access>> {
        self.rules.get(path)
    }
}

/// The path pattern of the route a request matched (such as
/// `/api/v1/communities/{community_id}`), left in its extensions by the
/// guard, which each resource is registered with. Read it from there: asking
/// actix (`match_pattern`) walks every route again.
#[derive(Clone, Debug)]
pub struct MatchedRoute(pub Arc<str>);

/// The merchant a merchant route addresses, and the caller's role there.
#[derive(Clone, Debug)]
pub struct MerchantScope {
    pub merchant: merchant::Model,
    /// `None` for an operator admin who is not on the staff.
    pub role: Option<MerchantRole>,
}

impl FromRequest for MerchantScope {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        from_extensions(req)
    }
}

/// The delivery company a company route addresses.
#[derive(Clone, Debug)]
pub struct CompanyScope {
    pub company: delivery_company::Model,
}

impl FromRequest for CompanyScope {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        from_extensions(req)
    }
}

/// The signed-in user making this request.
#[derive(Clone, Debug)]
pub struct Caller(pub Arc<Principal>);

impl std::ops::Deref for Caller {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

/// The community a community-scoped request addresses, and the caller's
/// standing there. Only the guard creates one, after checking the rule.
#[derive(Clone, Debug)]
pub struct CommunityScope {
    pub community: community::Model,
    /// The caller's staff roles in this community.
    pub roles: Vec<StaffRole>,
    /// The caller's memberships of this community's households that grant
    /// something now.
    pub memberships: Vec<household_member::Model>,
    /// Admitted as an operator admin.
    pub operator_admin: bool,
}

impl CommunityScope {
    pub fn id(&self) -> CommunityId {
        self.community.id
    }

    /// Whether the caller holds `role` here (operator admins hold them all).
    pub fn has_role(&self, role: StaffRole) -> bool {
        self.operator_admin || self.roles.contains(&role)
    }

    /// Whether the caller holds any of `roles` here.
    pub fn has_any_role(&self, roles: &[StaffRole]) -> bool {
        self.operator_admin || self.roles.iter().any(|r| roles.contains(r))
    }

    /// The caller's membership of `household`, if any.
    pub fn membership(&self, household: HouseholdId) -> Option<&household_member::Model> {
        self.memberships
            .iter()
            .find(|m| m.household_id == household)
    }
}

fn from_extensions<T: Clone + 'static>(req: &HttpRequest) -> Ready<Result<T, Error>> {
    ready(req.extensions().get::<T>().cloned().ok_or_else(|| {
        // A handler asked for something its route's rule does not provide:
        // a programming error in the route table, never the caller's fault.
        ApiError::internal(anyhow::anyhow!(
            "{} not set by the access guard for {}",
            std::any::type_name::<T>(),
            req.match_pattern().unwrap_or_default()
        ))
        .into()
    }))
}

impl FromRequest for Caller {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        from_extensions(req)
    }
}

impl FromRequest for CommunityScope {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        from_extensions(req)
    }
}

/// The middleware that enforces each route's [`Access`] rule; `pattern` is
/// the path of the resource it wraps. A refusal is answered here; the
/// handler never runs.
pub async fn guard(
    pattern: Arc<str>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    tracing::Span::current().record("route", &*pattern);
    req.extensions_mut()
        .insert(MatchedRoute(Arc::clone(&pattern)));
    match admit(&req, &pattern).await {
        Ok(()) => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
        Err(refusal) => Ok(req.error_response(refusal).map_into_right_body()),
    }
}

/// Checks the rule of the route `req` matched (`pattern`); on success
/// leaves the [`Caller`] (and the route's scope) in the request's extensions.
async fn admit(req: &ServiceRequest, pattern: &str) -> Result<(), ApiError> {
    let table = req
        .app_data::<web::Data<AccessTable>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("access table missing")))?;
    let access = match table.rules(pattern).map(|r| r.get(req.method())) {
        Some(Some(access)) => *access,
        Some(None) => {
            return Err(ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("{} is not allowed on this path", req.method()),
            ));
        }
        None => {
            tracing::error!(route = %pattern, method = %req.method(), "route has no access rule; refused");
            return Err(ApiError::forbidden());
        }
    };
    if access == Access::Public {
        return Ok(());
    }

    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("app state missing")))?;
    let caller = authenticate(req, &state).await?;
    match access {
        Access::Public | Access::SignedIn => {}
        Access::OperatorAdmin => {
            if !caller.is_operator_admin {
                return Err(ApiError::forbidden());
            }
        }
        Access::Company => {
            let company_id: DeliveryCompanyId = req
                .match_info()
                .get("company_id")
                .and_then(|s| s.parse().ok())
                .ok_or_else(ApiError::not_found)?;
            if !caller.is_operator_admin && !caller.companies.contains(&company_id) {
                return Err(ApiError::not_found());
            }
            let company = delivery_company::Entity::find_by_id(company_id)
                .one(&state.db)
                .await?
                .ok_or_else(ApiError::not_found)?;
            req.extensions_mut().insert(CompanyScope { company });
        }
        Access::Merchant(allowed) => {
            let merchant_id: MerchantId = req
                .match_info()
                .get("merchant_id")
                .and_then(|s| s.parse().ok())
                .ok_or_else(ApiError::not_found)?;
            let role = caller
                .merchant_roles
                .iter()
                .find(|(m, _)| *m == merchant_id)
                .map(|(_, r)| *r);
            match role {
                Some(r) if allowed.contains(&r) => {}
                Some(_) => return Err(ApiError::forbidden()),
                None if caller.is_operator_admin => {}
                None => return Err(ApiError::not_found()),
            }
            let merchant = merchant::Entity::find_by_id(merchant_id)
                .one(&state.db)
                .await?
                .ok_or_else(ApiError::not_found)?;
            req.extensions_mut()
                .insert(MerchantScope { merchant, role });
        }
        Access::Staff(_) | Access::Residents(_) | Access::Visitors => {
            let scope = community_scope(req, pattern, &state, &caller, access).await?;
            req.extensions_mut().insert(scope);
        }
    }
    req.extensions_mut().insert(caller);
    Ok(())
}

async fn authenticate(req: &ServiceRequest, state: &AppState) -> Result<Caller, ApiError> {
    let header = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthenticated,
            "sign in first: send Authorization: Bearer <access token>",
        )
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            let (scheme, token) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidToken,
                "the Authorization header must be `Bearer <token>`",
            )
        })?;
    let user_id = state.tokens.verify(token)?;
    let principal = state
        .principals
        .get(&state.db, user_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidToken, "the access token is not valid"))?;
    if principal.user.status != entity::UserStatus::Active {
        return Err(ApiError::new(
            ErrorCode::AccountDisabled,
            "this account is disabled",
        ));
    }
    Ok(Caller(principal))
}

async fn community_scope(
    req: &ServiceRequest,
    pattern: &str,
    state: &AppState,
    caller: &Caller,
    access: Access,
) -> Result<CommunityScope, ApiError> {
    if !pattern.starts_with(COMMUNITY_PREFIX) {
        return Err(ApiError::internal(anyhow::anyhow!(
            "staff rule on {pattern}, which has no {{community_id}}"
        )));
    }
    let community_id: CommunityId = req
        .match_info()
        .get("community_id")
        .and_then(|s| s.parse().ok())
        .ok_or_else(ApiError::not_found)?;
    let community = state
        .communities
        .get(&state.db, community_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let roles = caller.roles_in(community_id);
    let memberships = caller.memberships_in(community_id);
    let holds = |allowed: &[StaffRole]| roles.iter().any(|r| allowed.contains(r));
    let admitted = caller.is_operator_admin
        || match access {
            Access::Staff(allowed) => holds(allowed),
            Access::Residents(allowed) => holds(allowed) || !memberships.is_empty(),
            Access::Visitors => true,
            Access::Public
            | Access::SignedIn
            | Access::OperatorAdmin
            | Access::Merchant(_)
            | Access::Company => false,
        };
    if !admitted {
        // Outsiders must not learn that the community exists.
        return Err(if roles.is_empty() && memberships.is_empty() {
            ApiError::not_found()
        } else {
            ApiError::forbidden()
        });
    }
    Ok(CommunityScope {
        community: community.as_ref().clone(),
        roles,
        memberships,
        operator_admin: caller.is_operator_admin,
    })
}
