//! Kubernetes objects as data: the one YAML reader/writer, object ids, strategic merge.

pub mod merge_keys;
pub mod object_ref;
pub mod schema;
pub mod strategic_merge;
pub mod yaml;

pub use object_ref::{ObjectRef, ObjectRefError};

pub use yaml::YamlError;
