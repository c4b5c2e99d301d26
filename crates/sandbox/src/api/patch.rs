//! `PATCH`: JSON patch, merge patch, strategic merge patch and server-side apply of an object, its
//! `status` or its `scale`, retried internally on concurrent writes as the real server does.
//!
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply
//! https://kubernetes.io/docs/reference/using-api/server-side-apply/

use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde_json::Value;

use super::status::{ApiError, Cause};
use super::{ApiResult, Ctx, fields, scale, strategy, validate, write};
use crate::patch::{
    BUILTIN_PATCH_TYPES, CUSTOM_RESOURCE_PATCH_TYPES, PatchError, PatchType, apply_patch,
};
use crate::ssa::{self, ApplyOptions};
use crate::store::{StoreError, WriteOptions, meta_str, now_timestamp};
use gitops_manifest::merge_keys::Gvk;

/// How often a patch is re-applied when another write got in between its read and its write.
const RETRIES: usize = 5;

fn patch_error(error: &PatchError) -> ApiError {
    let code =
        StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    ApiError {
        code,
        reason: error.reason(),
        message: error.to_string(),
        details: None,
    }
}

/// The patch type of the request, or 415 naming the accepted types.
fn patch_type(ctx: &Ctx<'_>) -> Result<PatchType, ApiError> {
    let content_type = ctx
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    PatchType::from_content_type(content_type).ok_or_else(|| {
        let accepted = if ctx.info.custom {
            CUSTOM_RESOURCE_PATCH_TYPES
        } else {
            BUILTIN_PATCH_TYPES
        };
        ApiError::unsupported_media_type(content_type, accepted)
    })
}

/// PatchOptions as the real server validates them before looking at the object.
fn check_options(ctx: &Ctx<'_>, patch_type: PatchType) -> Result<(), ApiError> {
    let required = |field: &str, message: &str, reason: &str| {
        Err(ApiError::invalid_options(
            "PatchOptions",
            &[Cause {
                reason: reason.to_owned(),
                message: message.to_owned(),
                field: field.to_owned(),
            }],
        ))
    };
    if patch_type == PatchType::Apply
        && ctx
            .query
            .field_manager
            .as_deref()
            .unwrap_or_default()
            .is_empty()
    {
        return required(
            "fieldManager",
            "Required value: is required for apply patch",
            "FieldValueRequired",
        );
    }
    if patch_type != PatchType::Apply && ctx.query.force {
        return required(
            "force",
            "Forbidden: may not be specified for non-apply patch",
            "FieldValueForbidden",
        );
    }
    fields::check_manager(ctx, "PatchOptions")
}

/// `PATCH` of an object or its status.
pub(crate) fn patch(ctx: &Ctx<'_>) -> ApiResult {
    let status = ctx.path.subresource.as_deref() == Some("status");
    if status && !ctx.info.status_subresource {
        return Err(ApiError::unknown_path());
    }
    let patch_type = patch_type(ctx)?;
    check_options(ctx, patch_type)?;
    if patch_type == PatchType::Apply {
        return server_side_apply(ctx, status);
    }
    let gvk = fields::gvk(ctx);
    for _ in 0..RETRIES {
        let live = write::current(ctx)?;
        let patched =
            apply_patch(&live, patch_type, &ctx.body, &gvk).map_err(|e| patch_error(&e))?;
        let explicit_precondition =
            meta_str(&patched, "resourceVersion") != meta_str(&live, "resourceVersion");
        let object = fields::prepare(ctx, patched, Some(&live))?;
        match store_write(ctx, object, status) {
            Err(StoreError::Conflict { .. }) if !explicit_precondition => continue,
            result => return respond(ctx, StatusCode::OK, result),
        }
    }
    Err(ApiError::conflict(
        &ctx.resource(),
        ctx.name(),
        "the object has been modified; please apply your changes to the latest version and try again",
    ))
}

fn store_write(ctx: &Ctx<'_>, object: Value, status: bool) -> Result<Value, StoreError> {
    let opts = WriteOptions {
        dry_run: ctx.query.dry_run,
    };
    if status {
        ctx.store.update_status_with(ctx.info.key(), object, opts)
    } else {
        ctx.store.update_with(ctx.info.key(), object, opts)
    }
}

fn respond(ctx: &Ctx<'_>, code: StatusCode, result: Result<Value, StoreError>) -> ApiResult {
    let object = result.map_err(|e| ApiError::from_store(e, &ctx.info))?;
    write::respond(ctx, code, object)
}

/// An `application/apply-patch+yaml` body as a JSON value. kubectl and gitops send JSON, and a
/// JSON document is a YAML document with the same value, so a body that parses as JSON is read
/// with the JSON parser (what the real server's YAML-to-JSON conversion yields for it, at a
/// fraction of the YAML parser's cost); anything else, or JSON that does not parse, goes
/// through the YAML reader and its errors.
/// https://kubernetes.io/docs/reference/using-api/server-side-apply/#apply-and-update ("Whether
/// you are submitting JSON data or YAML data, use `application/apply-patch+yaml` ... All JSON
/// documents are valid YAML")
fn decode_apply_body(body: &[u8]) -> Result<Value, ApiError> {
    let json_like = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if json_like
        && body.len() <= gitops_manifest::yaml::MAX_INPUT_BYTES
        && let Ok(value) = serde_json::from_slice::<Value>(body)
    {
        return Ok(value);
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    gitops_manifest::yaml::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

/// The applied configuration (YAML or JSON), checked against the request as the real server
/// does, and whether field validation accepted it as sent ([`fields::check_applied`]).
fn applied_configuration(ctx: &Ctx<'_>) -> Result<(Value, bool), ApiError> {
    let mut config = decode_apply_body(&ctx.body)?;
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "the applied configuration is not an object",
        ));
    }
    validate::check_type(&ctx.info, &mut config)?;
    validate::check_namespace(ctx, &mut config)?;
    validate::check_name_matches(ctx, &config)?;
    // Decoded (unknown and mistyped fields) before the merge, whose conflicts come after.
    let accepted = fields::check_applied(ctx, &config)?;
    Ok((config, accepted))
}

/// `PATCH` with `application/apply-patch+yaml`: creates the object if it does not exist.
fn server_side_apply(ctx: &Ctx<'_>, status: bool) -> ApiResult {
    let (config, accepted) = applied_configuration(ctx)?;
    // A create from such a configuration needs no second decoding (`fields::Known::Accepted`).
    let created_known = if accepted
        && config
            .as_object()
            .is_some_and(|map| map.values().all(|value| !value.is_null()))
    {
        fields::Known::Accepted
    } else {
        fields::Known::Nothing
    };
    let gvk = Gvk::new(&ctx.info.group, &ctx.info.version, &ctx.info.kind);
    let manager = fields::manager(ctx);
    let time = now_timestamp();
    let options = ApplyOptions {
        manager: &manager,
        force: ctx.query.force,
        time: &time,
        scope: fields::scope(ctx),
    };
    let precondition = meta_str(&config, "resourceVersion")
        .filter(|rv| !rv.is_empty())
        .map(str::to_owned);
    for _ in 0..RETRIES {
        // Read shared: the merge copies what it keeps, the live object itself is not copied.
        let Some(live) = ctx
            .store
            .get_shared(ctx.info.key(), ctx.namespace(), ctx.name())
        else {
            if status {
                return Err(write::current(ctx)
                    .err()
                    .unwrap_or_else(ApiError::unknown_path));
            }
            // An apply to a missing object creates it.
            validate::check_name(&ctx.info, &config)?;
            validate::namespace_accepts_creates(ctx)?;
            let mut created = ssa::apply(None, &config, &gvk, &options)
                .map_err(|e| fields::ssa_error(ctx, &e))?;
            strategy::prepare_for_create(&ctx.info, &mut created);
            let created = fields::finish_applied(ctx, created, created_known)?;
            match ctx.store.create_with(
                ctx.info.key(),
                created,
                WriteOptions {
                    dry_run: ctx.query.dry_run,
                },
            ) {
                Err(StoreError::AlreadyExists { .. }) => continue,
                result => return respond(ctx, StatusCode::CREATED, result),
            }
        };
        if let Some(rv) = &precondition
            && Some(rv.as_str()) != meta_str(&live, "resourceVersion")
        {
            return Err(ApiError::conflict(
                &ctx.resource(),
                ctx.name(),
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let mut merged = ssa::apply(Some(&*live), &config, &gvk, &options)
            .map_err(|e| fields::ssa_error(ctx, &e))?;
        if let Some(meta) = merged.get_mut("metadata").and_then(Value::as_object_mut)
            && let Some(rv) = live.pointer("/metadata/resourceVersion")
        {
            meta.insert("resourceVersion".to_owned(), rv.clone());
        }
        // A no-op apply: the merged object is the stored version.
        let known = if merged == *live {
            fields::Known::Stored(&live)
        } else {
            fields::Known::Nothing
        };
        let merged = fields::finish_applied(ctx, merged, known)?;
        match store_write(ctx, merged, status) {
            Err(StoreError::Conflict { .. }) => continue,
            result => return respond(ctx, StatusCode::OK, result),
        }
    }
    Err(ApiError::conflict(
        &ctx.resource(),
        ctx.name(),
        "the object has been modified; please apply your changes to the latest version and try again",
    ))
}

/// `PATCH .../scale`: the patch applies to the Scale, whose replicas then go to the object.
pub(crate) fn patch_scale(ctx: &Ctx<'_>) -> ApiResult {
    let paths = ctx.info.scale.clone().ok_or_else(ApiError::unknown_path)?;
    let patch_type = patch_type(ctx)?;
    check_options(ctx, patch_type)?;
    let live = scale::scale_of(&paths, &write::current(ctx)?);
    let gvk = Gvk::new("autoscaling", "v1", "Scale");
    let patched = match patch_type {
        PatchType::Apply => {
            let config = applied_configuration_of_scale(ctx)?;
            let mut merged = live.clone();
            json_patch::merge(&mut merged, &config);
            merged
        }
        other => apply_patch(&live, other, &ctx.body, &gvk).map_err(|e| patch_error(&e))?,
    };
    scale::write_scale(ctx, &patched)
}

fn applied_configuration_of_scale(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    decode_apply_body(&ctx.body)
}
