//! Pickup points at work (取货点): slots, pickup codes and verification,
//! collectors (代取), reminders and the message board.

pub mod routes;
pub mod service;
pub mod views;
