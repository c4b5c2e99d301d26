//! `list`: label and field selectors, `limit`/`continue` pagination, the `<Kind>List` body.
//!
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde_json::{Value, json};

use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::{ApiResult, Ctx, json_response, table};
use crate::store::{ObjectKey, ResourceInfo, meta_str};

/// The object as served in the requested version: custom resources take the version asked for
/// (CRD conversion strategy `None`), `events.k8s.io` events are converted from core events.
/// https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/#webhook-conversion
pub(crate) fn for_version(info: &ResourceInfo, mut object: Value) -> Value {
    if info.custom
        && let Some(map) = object.as_object_mut()
    {
        map.insert("apiVersion".to_owned(), json!(info.api_version()));
    }
    if info.group == "events.k8s.io" {
        return super::events::to_events_v1(&object);
    }
    object
}

/// The continue token: the resourceVersion of the first page and where the next page starts,
/// base64 JSON as the real server's.
fn encode_continue(rv: u64, after: &ObjectKey) -> String {
    let start = format!("{}/{}\u{0}", after.namespace, after.name);
    STANDARD.encode(json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start}).to_string())
}

fn decode_continue(token: &str) -> Result<(u64, ObjectKey), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token}"));
    let bytes = STANDARD.decode(token).map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let rv = value.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
    let start = value.get("start").and_then(Value::as_str).ok_or_else(bad)?;
    let start = start.trim_end_matches('\u{0}');
    let (namespace, name) = start.split_once('/').ok_or_else(bad)?;
    Ok((
        rv,
        ObjectKey {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        },
    ))
}

/// The objects a list or deletecollection request selects.
pub(crate) fn selected(ctx: &Ctx<'_>) -> Result<(Vec<Value>, u64), ApiError> {
    let labels = LabelSelector::parse(ctx.query.label_selector.as_deref().unwrap_or_default())?;
    let fields = FieldSelector::parse(
        ctx.query.field_selector.as_deref().unwrap_or_default(),
        &ctx.info.group,
        &ctx.info.plural,
    )?;
    if ctx.info.group == "events.k8s.io" {
        // Selected by the fields of the converted object.
        let (items, rv) = ctx.store.list(ctx.info.key(), ctx.namespace());
        let items = items
            .into_iter()
            .map(|o| for_version(&ctx.info, o))
            .filter(|o| labels.matches(o) && fields.matches(o))
            .collect();
        return Ok((items, rv));
    }
    // Otherwise the version only changes `apiVersion`, which no selector reads: select first,
    // then copy only what is selected.
    let (items, rv) = ctx
        .store
        .list_matching(ctx.info.key(), ctx.namespace(), |o| {
            labels.matches(o) && fields.matches(o)
        });
    let items = items
        .into_iter()
        .map(|o| for_version(&ctx.info, o))
        .collect();
    Ok((items, rv))
}

/// Strips `apiVersion`/`kind` from list items of built-in kinds, as the real server's typed lists
/// do; custom resources keep them.
fn list_item(info: &ResourceInfo, mut object: Value) -> Value {
    if !info.custom
        && let Some(map) = object.as_object_mut()
    {
        map.remove("apiVersion");
        map.remove("kind");
    }
    object
}

/// `GET` on a collection.
pub(crate) fn list(ctx: &Ctx<'_>) -> ApiResult {
    let (mut items, current_rv) = selected(ctx)?;
    let mut rv = current_rv;
    if let Some(token) = &ctx.query.continue_token {
        let (token_rv, after) = decode_continue(token)?;
        rv = token_rv;
        items.retain(|o| {
            ObjectKey::new(
                meta_str(o, "namespace"),
                meta_str(o, "name").unwrap_or_default(),
            ) > after
        });
    }
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if ctx.query.limit > 0 && items.len() > ctx.query.limit {
        let remaining = items.len() - ctx.query.limit;
        items.truncate(ctx.query.limit);
        if let Some(last) = items.last() {
            let key = ObjectKey::new(
                meta_str(last, "namespace"),
                meta_str(last, "name").unwrap_or_default(),
            );
            metadata["continue"] = json!(encode_continue(rv, &key));
        }
        // The count is only exact without selectors, so the real server only gives it then.
        if ctx.query.label_selector.is_none() && ctx.query.field_selector.is_none() {
            metadata["remainingItemCount"] = json!(remaining);
        }
    }
    if table::wants_table(ctx.headers) {
        return Ok(json_response(
            StatusCode::OK,
            &table::table(&ctx.info, &items, metadata),
        ));
    }
    let items: Vec<Value> = items.into_iter().map(|o| list_item(&ctx.info, o)).collect();
    let body = json!({
        "kind": format!("{}List", ctx.info.kind),
        "apiVersion": ctx.info.api_version(),
        "metadata": metadata,
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_token_round_trips() {
        let key = ObjectKey {
            namespace: "default".into(),
            name: "web-1".into(),
        };
        let token = encode_continue(42, &key);
        assert_eq!(decode_continue(&token).ok(), Some((42, key)));
        assert!(decode_continue("not-base64!").is_err());
    }
}
