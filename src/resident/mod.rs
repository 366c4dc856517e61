//! Residents (居民): household claims and their verification, memberships
//! (owner 业主, family 家庭成员, tenant 租户), and owners' invitations of
//! family members. Seed 001's 社区居民管理.

pub mod routes;
pub mod service;
pub mod views;
