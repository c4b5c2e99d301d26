//! The apply engine: per ring, lock → approval → snapshot → ordered server-side apply →
//! health gate → (diagnosis, rollback) → soak → revision record.

pub mod cancel;
pub mod cause;
pub mod diagnose;
pub mod diagnosis;
pub mod event;
pub mod gate;
pub mod gate_watch;
pub mod release;
pub mod ring;
pub mod snapshot;
pub mod view;

#[cfg(test)]
mod tests;
