//! The apply engine: per ring, lock → approval → snapshot → ordered server-side apply →
//! health gate → (diagnosis, rollback) → soak → revision record.

pub mod diagnosis;
pub mod snapshot;
