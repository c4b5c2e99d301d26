//! `list`: label and field selectors, `limit`/`continue` pagination, the `<Kind>List` body.
//!
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks

use std::borrow::Borrow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde::ser::{Serialize, SerializeMap as _, Serializer};
use serde_json::{Value, json};

use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::{ApiResult, Ctx, json_response, json_response_of, table};
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

/// The request's `labelSelector` and `fieldSelector` (empty ones select everything).
fn selectors(ctx: &Ctx<'_>) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(ctx.query.label_selector.as_deref().unwrap_or_default())?;
    let fields = FieldSelector::parse(
        ctx.query.field_selector.as_deref().unwrap_or_default(),
        &ctx.info.group,
        &ctx.info.plural,
    )?;
    Ok((labels, fields))
}

/// The objects a list or deletecollection request selects.
pub(crate) fn selected(ctx: &Ctx<'_>) -> Result<(Vec<Value>, u64), ApiError> {
    let (labels, fields) = selectors(ctx)?;
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

/// The page a list request asks for (`continue`, `limit`) cut from the selected items, and the
/// list's `metadata`.
fn page<T: Borrow<Value>>(
    ctx: &Ctx<'_>,
    items: &mut Vec<T>,
    current_rv: u64,
) -> Result<Value, ApiError> {
    let mut rv = current_rv;
    if let Some(token) = &ctx.query.continue_token {
        let (token_rv, after) = decode_continue(token)?;
        rv = token_rv;
        items.retain(|o| {
            let o = o.borrow();
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
            let last = last.borrow();
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
    Ok(metadata)
}

/// A built-in kind's list item written straight from the stored object: [`list_item`] of it,
/// without a copy (the keys it drops are skipped as the map is written).
struct SharedItem<'a>(&'a Value);

impl Serialize for SharedItem<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Value::Object(map) = self.0 else {
            return self.0.serialize(serializer);
        };
        let kept = |k: &String| k != "apiVersion" && k != "kind";
        let mut out = serializer.serialize_map(Some(map.keys().filter(|k| kept(k)).count()))?;
        for (k, v) in map.iter().filter(|(k, _)| kept(k)) {
            out.serialize_entry(k, v)?;
        }
        out.end()
    }
}

/// The list body of shared items, its fields in the order a `json!` map of them would have.
struct SharedList<'a> {
    kind: String,
    api_version: String,
    metadata: Value,
    items: &'a [Arc<Value>],
}

impl Serialize for SharedList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let order = json!({"kind": 0, "apiVersion": 0, "metadata": 0, "items": 0});
        let mut out = serializer.serialize_map(Some(4))?;
        for key in order.as_object().into_iter().flat_map(|m| m.keys()) {
            match key.as_str() {
                "kind" => out.serialize_entry(key, &self.kind)?,
                "apiVersion" => out.serialize_entry(key, &self.api_version)?,
                "metadata" => out.serialize_entry(key, &self.metadata)?,
                _ => out.serialize_entry(
                    key,
                    &self.items.iter().map(|o| SharedItem(o)).collect::<Vec<_>>(),
                )?,
            }
        }
        out.end()
    }
}

/// `GET` on a collection.
pub(crate) fn list(ctx: &Ctx<'_>) -> ApiResult {
    // A built-in kind's objects are written from the store's shared versions, uncopied: their
    // version changes nothing (`for_version` only touches custom resources and events.k8s.io).
    if !ctx.info.custom && ctx.info.group != "events.k8s.io" && !table::wants_table(ctx.headers) {
        let (labels, fields) = selectors(ctx)?;
        let (mut items, current_rv) =
            ctx.store
                .list_matching_shared(ctx.info.key(), ctx.namespace(), |o| {
                    labels.matches(o) && fields.matches(o)
                });
        let metadata = page(ctx, &mut items, current_rv)?;
        return Ok(json_response_of(
            StatusCode::OK,
            &SharedList {
                kind: format!("{}List", ctx.info.kind),
                api_version: ctx.info.api_version(),
                metadata,
                items: &items,
            },
        ));
    }
    let (mut items, current_rv) = selected(ctx)?;
    let metadata = page(ctx, &mut items, current_rv)?;
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

    #[test]
    fn a_shared_list_is_written_as_the_copied_list_body() {
        let items: Vec<Arc<Value>> = vec![
            Arc::new(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "a", "namespace": "n"}, "data": {"k": "v\"q"}})),
            Arc::new(
                json!({"metadata": {"name": "b"}, "kind": "ConfigMap", "zeta": [1, 2.5, null]}),
            ),
        ];
        let metadata = json!({"resourceVersion": "7", "continue": "x"});
        let copied = json!({
            "kind": "ConfigMapList",
            "apiVersion": "v1",
            "metadata": metadata.clone(),
            "items": items.iter().map(|o| {
                let mut o = Value::clone(o);
                if let Some(map) = o.as_object_mut() {
                    map.remove("apiVersion");
                    map.remove("kind");
                }
                o
            }).collect::<Vec<_>>(),
        });
        let shared = SharedList {
            kind: "ConfigMapList".into(),
            api_version: "v1".into(),
            metadata,
            items: &items,
        };
        assert_eq!(
            serde_json::to_string(&shared).unwrap(),
            serde_json::to_string(&copied).unwrap()
        );
    }
}
