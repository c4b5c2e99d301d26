//! Kubernetes objects as data: the one YAML reader/writer, object ids, strategic merge.

pub mod yaml;

pub use yaml::YamlError;
