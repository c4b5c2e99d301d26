//! `delete` and `deletecollection`: DeleteOptions (body or query), propagation, preconditions.
//!
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#api-verbs
//! https://kubernetes.io/docs/concepts/architecture/garbage-collection/#cascading-deletion

use http::StatusCode;
use serde_json::{Value, json};

use super::status::{self, ApiError};
use super::{ApiResult, Ctx, json_response, list, write};
use crate::store::{DeleteOptions, Deletion, Propagation, meta_str};

/// DeleteOptions from the body (if any) and the query (which wins, as on the real server).
fn options(ctx: &Ctx<'_>) -> Result<DeleteOptions, ApiError> {
    let body: Value = if ctx.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&ctx.body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })?
    };
    let policy = ctx.query.propagation_policy.clone().or_else(|| {
        body.get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let orphan = ctx
        .query
        .orphan_dependents
        .or_else(|| body.get("orphanDependents").and_then(Value::as_bool));
    let propagation = match (policy.as_deref(), orphan) {
        (Some("Foreground"), _) => Propagation::Foreground,
        (Some("Orphan"), _) | (None, Some(true)) => Propagation::Orphan,
        (Some("Background") | None, _) => Propagation::Background,
        (Some(other), _) => {
            return Err(ApiError::invalid_delete_options(format!(
                "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    let dry_run = ctx.query.dry_run
        || body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        propagation,
        precondition_uid: body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        precondition_resource_version: body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned),
        dry_run,
    })
}

/// Pods and namespaces answer a deletion with the object; other kinds with a success Status
/// (the real registries' `ReturnDeletedObject`). A deletion still pending returns the object.
fn answer(ctx: &Ctx<'_>, deletion: Deletion) -> ApiResult {
    match deletion {
        Deletion::Pending(object) => write::respond(ctx, StatusCode::OK, object),
        Deletion::Deleted(object)
            if ctx.info.group.is_empty()
                && matches!(ctx.info.plural.as_str(), "pods" | "namespaces") =>
        {
            write::respond(ctx, StatusCode::OK, object)
        }
        Deletion::Deleted(object) => Ok(json_response(
            StatusCode::OK,
            &status::success(
                &ctx.info,
                ctx.name(),
                meta_str(&object, "uid").unwrap_or_default(),
            ),
        )),
    }
}

/// `DELETE` of one object.
pub(crate) fn delete(ctx: &Ctx<'_>) -> ApiResult {
    let opts = options(ctx)?;
    let deletion = ctx
        .store
        .delete_with(ctx.info.key(), ctx.namespace(), ctx.name(), &opts)
        .map_err(|e| ApiError::from_store(e, &ctx.info))?;
    answer(ctx, deletion)
}

/// `DELETE` of a collection: every selected object; answers with the list of them.
pub(crate) fn delete_collection(ctx: &Ctx<'_>) -> ApiResult {
    let opts = options(ctx)?;
    let (items, _) = list::selected(ctx)?;
    let mut deleted = Vec::new();
    for item in items {
        let name = meta_str(&item, "name").unwrap_or_default().to_owned();
        let namespace = meta_str(&item, "namespace").map(str::to_owned);
        match ctx
            .store
            .delete_with(ctx.info.key(), namespace.as_deref(), &name, &opts)
        {
            Ok(Deletion::Deleted(object) | Deletion::Pending(object)) => {
                deleted.push(list::for_version(&ctx.info, object))
            }
            // Gone meanwhile (garbage-collected with an earlier item): nothing left to delete.
            Err(crate::store::StoreError::NotFound { .. }) => {}
            Err(e) => return Err(ApiError::from_store(e, &ctx.info)),
        }
    }
    let body = json!({
        "kind": format!("{}List", ctx.info.kind),
        "apiVersion": ctx.info.api_version(),
        "metadata": {"resourceVersion": ctx.store.resource_version().to_string()},
        "items": deleted,
    });
    Ok(json_response(StatusCode::OK, &body))
}
