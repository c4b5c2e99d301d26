//! What every write goes through before the store: `managedFields` for non-apply writes, the
//! field manager's name, and the stored-size limit.
//!
//! https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management

use std::sync::Arc;

use http::header::USER_AGENT;
use serde_json::Value;

use super::status::{ApiError, Cause, MAX_OBJECT_BYTES};
use super::{Ctx, secret};
use crate::defaults;
use crate::ssa::{self, Scope, SsaError};
use crate::store::now_timestamp;
use gitops_manifest::merge_keys::Gvk;
use gitops_manifest::schema::{self, FieldValidation, IssueKind, Rejection};

/// The kind of the request's resource, for the schema tables.
pub(crate) fn gvk(ctx: &Ctx<'_>) -> Gvk {
    Gvk::new(&ctx.info.group, &ctx.info.version, &ctx.info.kind)
}

/// The scope of a write: the main resource or the `status` subresource.
pub(crate) fn scope(ctx: &Ctx<'_>) -> Scope {
    if ctx.path.subresource.as_deref() == Some("status") {
        Scope::Status
    } else {
        Scope::Main
    }
}

/// The field manager of a write: `fieldManager`, or else the client's user agent up to the first
/// `/` (`kubectl`, `kube-rs`), as the real server names updaters that give none.
/// https://kubernetes.io/docs/reference/using-api/server-side-apply/#managers
pub(crate) fn manager(ctx: &Ctx<'_>) -> String {
    if let Some(manager) = ctx.query.field_manager.as_deref().filter(|m| !m.is_empty()) {
        return manager.to_owned();
    }
    ctx.headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|m| !m.is_empty())
        .unwrap_or("unknown")
        .to_owned()
}

/// A field manager name must be at most 128 printable characters (422 otherwise).
pub(crate) fn check_manager(ctx: &Ctx<'_>, options_kind: &str) -> Result<(), ApiError> {
    let Some(manager) = ctx.query.field_manager.as_deref() else {
        return Ok(());
    };
    let problem = if manager.chars().count() > 128 {
        Some("Too long: may not be more than 128 bytes")
    } else if manager.chars().any(char::is_control) {
        Some("Invalid value: must only contain printable characters")
    } else {
        None
    };
    match problem {
        Some(message) => Err(ApiError::invalid_options(
            options_kind,
            &[Cause {
                reason: "FieldValueInvalid".to_owned(),
                message: message.to_owned(),
                field: "fieldManager".to_owned(),
            }],
        )),
        None => Ok(()),
    }
}

/// An SSA/ownership error as the API server reports it.
pub(crate) fn ssa_error(ctx: &Ctx<'_>, error: &SsaError) -> ApiError {
    match error {
        SsaError::Conflicts(_) => {
            let causes: Vec<Cause> = error
                .causes()
                .into_iter()
                .map(|(reason, message, field)| Cause {
                    reason: reason.to_owned(),
                    message,
                    field,
                })
                .collect();
            ApiError::conflict_with_causes(&ctx.info, ctx.name(), error.to_string(), &causes)
        }
        SsaError::MissingListKey { path, .. } => ApiError::invalid(
            &ctx.info,
            ctx.name(),
            &[Cause {
                reason: "FieldValueInvalid".to_owned(),
                message: error.to_string(),
                field: path.clone(),
            }],
        ),
        SsaError::NotAnObject | SsaError::InvalidManagedFields(_) => {
            ApiError::bad_request(error.to_string())
        }
    }
}

/// Records a non-apply write (`Update` entry of the manager) in `managedFields`.
pub(crate) fn record(ctx: &Ctx<'_>, old: Option<&Value>, new: Value) -> Result<Value, ApiError> {
    ssa::record_update(
        old,
        &new,
        &gvk(ctx),
        &manager(ctx),
        &now_timestamp(),
        scope(ctx),
    )
    .map_err(|e| ssa_error(ctx, &e))
}

/// The field validation mode of a write; the server's default is `Warn`.
/// https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
fn validation_mode(ctx: &Ctx<'_>, options_kind: &str) -> Result<FieldValidation, ApiError> {
    match ctx.query.field_validation.as_deref() {
        None | Some("") => Ok(FieldValidation::Warn),
        Some(value) => FieldValidation::parse(value).ok_or_else(|| {
            ApiError::invalid_options(
                options_kind,
                &[Cause {
                    reason: "FieldValueNotSupported".to_owned(),
                    message: format!("Unsupported value: \"{value}\": supported values: \"Ignore\", \"Strict\", \"Warn\""),
                    field: "fieldValidation".to_owned(),
                }],
            )
        }),
    }
}

fn cause_reason(kind: IssueKind) -> &'static str {
    match kind {
        IssueKind::Required => "FieldValueRequired",
        IssueKind::UnknownField => "FieldValueNotFound",
        IssueKind::WrongType | IssueKind::Invalid => "FieldValueInvalid",
    }
}

fn rejection(ctx: &Ctx<'_>, object: &Value, rejection: Rejection) -> ApiError {
    let name = crate::store::meta_str(object, "name").unwrap_or(ctx.name());
    match rejection {
        // The real decoder names the kind it could not decode into.
        Rejection::BadRequest { message, .. } => ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {message}",
            kind = ctx.info.kind,
            version = ctx.info.version
        )),
        Rejection::Invalid(issues) => {
            let causes: Vec<Cause> = issues
                .iter()
                .map(|i| Cause {
                    reason: cause_reason(i.kind).to_owned(),
                    message: i.message.clone(),
                    field: i.path.clone(),
                })
                .collect();
            ApiError::invalid(&ctx.info, name, &causes)
        }
    }
}

/// The decoding half of field validation on a server-side apply's configuration, before it is
/// merged into the live object. The real server decodes the applied configuration first, so an
/// unknown field (with `Strict`) or a wrongly typed one is a 400 BadRequest naming the field,
/// even when the merge would also have found a conflict with another manager (409).
/// https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation ("Strict: This
/// will fail the request with a BadRequest error if any unknown fields would be dropped")
/// https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts
///
/// Returns whether the configuration was accepted as sent: it decoded with no unknown field,
/// no wrong type and no validation issue, under `Strict` or `Warn` (under `Ignore` unknown
/// fields are dropped without a word, so "as sent" is not known).
pub(crate) fn check_applied(ctx: &Ctx<'_>, config: &Value) -> Result<bool, ApiError> {
    let mode = validation_mode(ctx, "PatchOptions")?;
    match schema::check_write(config, mode) {
        Err(bad @ Rejection::BadRequest { .. }) => Err(rejection(ctx, config, bad)),
        Ok(warnings) => Ok(warnings.is_empty() && mode != FieldValidation::Ignore),
        // Warnings and validation (422) are about the merged object: `finish` reports them.
        Err(Rejection::Invalid(_)) => Ok(false),
    }
}

/// The last steps before the store, as the real server decodes a write: field validation
/// (`Strict` rejects unknown fields, `Warn` drops them with a `Warning` header, `Ignore` drops
/// them), a Secret's `stringData` merged into `data`, API defaulting, and the size etcd accepts.
/// https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
pub(crate) fn finish(ctx: &Ctx<'_>, object: Value) -> Result<Value, ApiError> {
    finish_checked(ctx, object, Known::Nothing, false)
}

/// What field validation already knows of the result of a server-side apply.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Known<'a> {
    /// Nothing: it is decoded and validated.
    Nothing,
    /// It equals this stored version (a no-op apply): the verdict remembered for the version is
    /// reused when it accepted it unchanged before.
    Stored(&'a Arc<Value>),
    /// It is a new object made from an applied configuration that [`check_applied`] accepted
    /// as sent and that sets no top-level field to `null`: the object is that configuration
    /// plus fields the server sets (`uid`, `creationTimestamp`, `generation`, the initial
    /// `status`) and without the `status` it sent, so its verdict is the configuration's.
    /// The real server decodes an applied configuration once; it never decodes the object it
    /// makes from it again.
    /// https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
    Accepted,
}

/// [`finish`] of the result of a server-side apply.
///
/// Its `managedFields` are the server's own, read from the stored object or made by the apply:
/// the real server builds them in typed form and never decodes them from a request, so field
/// validation checks the object without them (their `fieldsV1` is often as large as the rest
/// of the object).
/// https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management
pub(crate) fn finish_applied(
    ctx: &Ctx<'_>,
    object: Value,
    known: Known<'_>,
) -> Result<Value, ApiError> {
    finish_checked(ctx, object, known, true)
}

fn finish_checked(
    ctx: &Ctx<'_>,
    mut object: Value,
    known: Known<'_>,
    applied: bool,
) -> Result<Value, ApiError> {
    let mode = validation_mode(ctx, "PatchOptions")?;
    let tag = mode as u8;
    let stored = match known {
        Known::Stored(version) => Some(version),
        Known::Nothing | Known::Accepted => None,
    };
    let remembered = match known {
        Known::Stored(version) => ctx.store.checked_warnings(version, tag),
        Known::Accepted => Some(Vec::new()),
        Known::Nothing => None,
    };
    let managed_fields = match object.get_mut("metadata") {
        Some(Value::Object(meta)) if applied => meta.remove("managedFields"),
        _ => None,
    };
    // One typed round trip decides the warnings and what `Warn`/`Ignore` drop.
    let mut object = match remembered {
        Some(warnings) => {
            ctx.warn(warnings);
            object
        }
        None => match schema::check_and_prune(&object, mode) {
            Ok((warnings, pruned)) => {
                if let (Some(version), None) = (stored, &pruned) {
                    ctx.store.remember_checked(version, tag, warnings.clone());
                }
                ctx.warn(warnings);
                pruned.unwrap_or(object)
            }
            Err(e) => return Err(rejection(ctx, &object, e)),
        },
    };
    if let (Some(list), Some(Value::Object(meta))) = (managed_fields, object.get_mut("metadata")) {
        meta.insert("managedFields".to_owned(), list);
    }
    secret::merge_string_data(&ctx.info, &mut object);
    defaults::apply_defaults(&mut object, &gvk(ctx));
    // Data and annotation size limits (422), then etcd's request limit, which a dry run
    // never meets (500 with etcd's message): api/limits.rs.
    super::limits::check(ctx, &object)?;
    if !ctx.query.dry_run && serialized_len(&object) > MAX_OBJECT_BYTES {
        return Err(ApiError::object_too_large());
    }
    Ok(object)
}

/// The length of an object's JSON text, counted as it is written (no buffer for the text).
fn serialized_len(object: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a `Value` to a writer that never fails cannot fail.
    let _ = serde_json::to_writer(&mut counter, object);
    counter.0
}

/// Prepares a non-apply write for the store: `old` is the stored object of an update.
pub(crate) fn prepare(
    ctx: &Ctx<'_>,
    object: Value,
    old: Option<&Value>,
) -> Result<Value, ApiError> {
    check_manager(
        ctx,
        if old.is_some() {
            "UpdateOptions"
        } else {
            "CreateOptions"
        },
    )?;
    let recorded = record(ctx, old, object)?;
    finish(ctx, recorded)
}
