//! The built-in transformers, each a pure function over the objects of a build.

pub mod images;
pub mod kyaml_merge;
pub mod labels;
pub mod name_reference;
pub mod namespace;
pub mod patch;
pub mod prefix_suffix;
pub mod replacements;
pub mod replicas;
