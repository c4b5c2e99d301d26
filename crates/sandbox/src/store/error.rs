//! The errors of store operations.

use super::{ObjectKey, ResourceKey};

/// A store operation failed; the API layer turns these into `Status` responses.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such object.
    #[error("{resource} \"{}\" not found", .key.name)]
    NotFound {
        /// The resource.
        resource: ResourceKey,
        /// The object asked for.
        key: ObjectKey,
    },
    /// An object of that name exists.
    #[error("{resource} \"{}\" already exists", .key.name)]
    AlreadyExists {
        /// The resource.
        resource: ResourceKey,
        /// The object.
        key: ObjectKey,
    },
    /// A precondition (`resourceVersion`, `uid`) did not hold.
    #[error("Operation cannot be fulfilled on {resource} \"{}\": {message}", .key.name)]
    Conflict {
        /// The resource.
        resource: ResourceKey,
        /// The object.
        key: ObjectKey,
        /// Why, in the real server's words.
        message: String,
    },
    /// The object cannot be stored as given (no name, wrong metadata shape).
    #[error("{resource} \"{}\" is invalid: {message}", .key.name)]
    Invalid {
        /// The resource.
        resource: ResourceKey,
        /// The object.
        key: ObjectKey,
        /// What is wrong.
        message: String,
    },
    /// The resourceVersion asked for is older than the remembered history.
    #[error("too old resource version: {requested} ({oldest})")]
    Gone {
        /// The version asked for.
        requested: u64,
        /// The oldest version a watch can still start from.
        oldest: u64,
    },
}
