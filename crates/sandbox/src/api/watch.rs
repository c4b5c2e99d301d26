//! `watch`: a stream of `{"type": ..., "object": ...}` lines from a resourceVersion on, filtered by
//! namespace and selectors, with bookmarks and `410 Gone` for versions too old.
//!
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-watch
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#watch-bookmarks

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::body::ResponseBody;
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::{ApiResult, Ctx, list, table};
use crate::store::{EventType, ResourceInfo, StoreError, StoreEvent, meta_str};

/// A watch without `timeoutSeconds` ends after this long, as the real server's minimum request
/// timeout (clients re-establish watches routinely).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// How often a watch that allows bookmarks gets one (the real server sends about one a minute).
const BOOKMARK_EVERY: Duration = Duration::from_secs(30);

/// What a watch delivers and how.
struct Filter {
    info: ResourceInfo,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    table: bool,
}

impl Filter {
    fn selects(&self, object: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| meta_str(object, "namespace") == Some(ns))
            && self.labels.matches(object)
            && self.fields.matches(object)
    }

    fn line(&self, event_type: &str, object: Value) -> Bytes {
        let object = if self.table && event_type != "BOOKMARK" && event_type != "ERROR" {
            let metadata = json!({"resourceVersion": object.pointer("/metadata/resourceVersion").cloned().unwrap_or_default()});
            table::table(&self.info, std::slice::from_ref(&object), metadata)
        } else {
            object
        };
        let mut text = json!({"type": event_type, "object": object}).to_string();
        text.push('\n');
        Bytes::from(text)
    }

    fn bookmark(&self, rv: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_events_end {
            // https://kubernetes.io/docs/reference/using-api/api-concepts/#streaming-lists
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        self.line("BOOKMARK", json!({"kind": self.info.kind, "apiVersion": self.info.api_version(), "metadata": metadata}))
    }
}

/// The event a filtered watcher gets for a change: an object that starts matching the selectors
/// is ADDED, one that stops matching is DELETED (in its last matching state), as the real watch
/// cache does. `None` when the watcher sees neither version.
fn translate(filter: &Filter, event: &StoreEvent) -> Option<Bytes> {
    let object = list::for_version(&filter.info, (*event.object).clone());
    let now = filter.selects(&object);
    let previous = event
        .previous
        .as_ref()
        .map(|p| list::for_version(&filter.info, (**p).clone()));
    let was = previous.as_ref().is_some_and(|p| filter.selects(p));
    match (event.event_type, was, now) {
        (EventType::Deleted, _, true) => Some(filter.line("DELETED", object)),
        (EventType::Added, _, true) => Some(filter.line("ADDED", object)),
        (EventType::Modified, true, true) => Some(filter.line("MODIFIED", object)),
        (EventType::Modified, false, true) => Some(filter.line("ADDED", object)),
        (EventType::Modified, true, false) => {
            let mut last = previous.unwrap_or(object);
            if let Some(meta) = last.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert(
                    "resourceVersion".to_owned(),
                    json!(event.resource_version.to_string()),
                );
            }
            Some(filter.line("DELETED", last))
        }
        _ => None,
    }
}

fn parse_rv(text: Option<&str>) -> Result<Option<u64>, ApiError> {
    match text {
        // "" and "0" both start from the current state ("Get State and Start at Most Recent" and
        // "Start at Any"; the sandbox's "any" is the most recent).
        None | Some("" | "0") => Ok(None),
        Some(rv) => rv
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}"))),
    }
}

/// `GET ...?watch=1`.
pub(crate) fn watch(ctx: &Ctx<'_>) -> ApiResult {
    let filter = Filter {
        info: ctx.info.clone(),
        namespace: ctx.namespace().map(str::to_owned),
        labels: LabelSelector::parse(ctx.query.label_selector.as_deref().unwrap_or_default())?,
        fields: FieldSelector::parse(
            ctx.query.field_selector.as_deref().unwrap_or_default(),
            &ctx.info.group,
            &ctx.info.plural,
        )?,
        table: table::wants_table(ctx.headers),
    };
    let since = parse_rv(ctx.query.resource_version.as_deref())?;
    let initial_events = ctx.query.send_initial_events == Some(true);
    let timeout = ctx
        .query
        .timeout_seconds
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
    let bookmarks = ctx.query.allow_watch_bookmarks;
    let (sender, receiver) = mpsc::channel(256);
    let start = ctx.store.watch(
        Some(ctx.info.key()),
        if initial_events { None } else { since },
    );
    tokio::spawn(async move {
        let subscription = match start {
            Ok(sub) => sub,
            Err(StoreError::Gone { requested, oldest }) => {
                // A watch from a compacted version gets one ERROR event with 410 Expired.
                let status =
                    ApiError::expired(format!("too old resource version: {requested} ({oldest})"))
                        .to_status();
                let _ = sender.send(filter.line("ERROR", status)).await;
                return;
            }
            Err(_) => return,
        };
        stream(
            filter,
            subscription,
            sender,
            timeout,
            bookmarks,
            initial_events,
        )
        .await;
    });
    let mut response = Response::new(ResponseBody::Stream(receiver));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

async fn stream(
    filter: Filter,
    subscription: crate::store::Subscription,
    sender: mpsc::Sender<Bytes>,
    timeout: Duration,
    bookmarks: bool,
    initial_events: bool,
) {
    let mut last_rv = subscription.resource_version;
    for event in &subscription.replay {
        if let Some(line) = translate(&filter, event)
            && sender.send(line).await.is_err()
        {
            return;
        }
    }
    if initial_events && sender.send(filter.bookmark(last_rv, true)).await.is_err() {
        return;
    }
    let mut live = subscription.live;
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
    ticker.tick().await;
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(event) => {
                    if &event.resource != filter.info.key() {
                        continue;
                    }
                    last_rv = event.resource_version;
                    if let Some(line) = translate(&filter, &event)
                        && sender.send(line).await.is_err()
                    {
                        return;
                    }
                }
                // A watcher that fell behind the channel is ended; it resumes from its last
                // resourceVersion out of the history, as after any dropped watch.
                Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return,
            },
            _ = ticker.tick(), if bookmarks => {
                if sender.send(filter.bookmark(last_rv, false)).await.is_err() {
                    return;
                }
            }
            () = &mut deadline => {
                if bookmarks {
                    let _ = sender.send(filter.bookmark(last_rv, false)).await;
                }
                return;
            }
            () = sender.closed() => return,
        }
    }
}
