//! Views of a plan (text, JSON, markdown, CI logging commands, progress): they print, never decide.

pub mod ci;
pub mod diff;
pub mod json;
pub mod markdown;
pub mod progress;
pub mod text;
