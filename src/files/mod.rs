//! Uploaded files: images and documents, their type sniffed from the content
//! and checked against the claimed type, with size and pixel limits; the
//! bytes kept in a storage backend (a folder, or an S3-compatible store);
//! downloads through short-lived signed links, handed out only to those the
//! file's attachment allows.

pub mod routes;
pub mod service;
pub mod storage;
pub mod views;
