//! `get`, `create` and `update` (PUT) of an object or its `status`.
//!
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#api-verbs

use http::StatusCode;
use serde_json::Value;

use super::status::ApiError;
use super::{ApiResult, Ctx, json_response, list, strategy, table, validate};
use crate::store::WriteOptions;

/// The stored object as the client sees it (its version, or a Table row).
pub(crate) fn respond(ctx: &Ctx<'_>, code: StatusCode, object: Value) -> ApiResult {
    let object = list::for_version(&ctx.info, object);
    if table::wants_table(ctx.headers) {
        let metadata = serde_json::json!({"resourceVersion": object.pointer("/metadata/resourceVersion").cloned().unwrap_or_default()});
        return Ok(json_response(
            code,
            &table::table(&ctx.info, std::slice::from_ref(&object), metadata),
        ));
    }
    Ok(json_response(code, &object))
}

/// The stored object, or 404.
pub(crate) fn current(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    ctx.store
        .get(ctx.info.key(), ctx.namespace(), ctx.name())
        .ok_or_else(|| {
            ApiError::not_found(
                &crate::store::ResourceKey::new(ctx.info.group.clone(), ctx.info.plural.clone()),
                ctx.name(),
            )
        })
}

/// `GET` of one object (or its status).
pub(crate) fn get(ctx: &Ctx<'_>) -> ApiResult {
    if ctx.path.subresource.as_deref() == Some("status") && !ctx.info.status_subresource {
        return Err(ApiError::unknown_path());
    }
    respond(ctx, StatusCode::OK, current(ctx)?)
}

/// The object of an `events.k8s.io` write, in the core shape it is stored in.
fn to_storage(ctx: &Ctx<'_>, object: Value) -> Value {
    if ctx.info.group == "events.k8s.io" {
        super::events::to_core(&object)
    } else {
        object
    }
}

fn write_options(ctx: &Ctx<'_>) -> WriteOptions {
    WriteOptions {
        dry_run: ctx.query.dry_run,
    }
}

/// `POST` to a collection.
pub(crate) fn create(ctx: &Ctx<'_>) -> ApiResult {
    let mut object = validate::decode_object(ctx)?;
    validate::check_type(&ctx.info, &mut object)?;
    validate::check_namespace(ctx, &mut object)?;
    validate::check_name(&ctx.info, &object)?;
    validate::namespace_accepts_creates(ctx)?;
    strategy::prepare_for_create(&ctx.info, &mut object);
    let object = super::fields::prepare(ctx, object, None)?;
    let created = ctx
        .store
        .create_with(ctx.info.key(), to_storage(ctx, object), write_options(ctx))
        .map_err(|e| ApiError::from_store(e, &ctx.info))?;
    respond(ctx, StatusCode::CREATED, created)
}

/// `PUT` of an object or its status.
pub(crate) fn update(ctx: &Ctx<'_>) -> ApiResult {
    let status = ctx.path.subresource.as_deref() == Some("status");
    if status && !ctx.info.status_subresource {
        return Err(ApiError::unknown_path());
    }
    let mut object = validate::decode_object(ctx)?;
    validate::check_type(&ctx.info, &mut object)?;
    validate::check_namespace(ctx, &mut object)?;
    validate::check_name_matches(ctx, &object)?;
    let old = current(ctx)?;
    let object = super::fields::prepare(ctx, object, Some(&old))?;
    store_update(ctx, object, status)
}

/// Writes an updated object (main resource or status), honouring dry run.
pub(crate) fn store_update(ctx: &Ctx<'_>, object: Value, status: bool) -> ApiResult {
    let object = to_storage(ctx, object);
    let result = if status {
        ctx.store
            .update_status_with(ctx.info.key(), object, write_options(ctx))
    } else {
        ctx.store
            .update_with(ctx.info.key(), object, write_options(ctx))
    };
    let updated = result.map_err(|e| ApiError::from_store(e, &ctx.info))?;
    respond(ctx, StatusCode::OK, updated)
}
