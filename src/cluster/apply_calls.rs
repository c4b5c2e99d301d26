//! Write calls of `gitops apply`: server-side apply for real (forced or not), replace,
//! create and delete, plus the Lease and Secret kinds the lock and the history use. Kept in
//! the `cluster` module because it is the only door to the API.

use gitops_manifest::ObjectRef;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;

use super::Cluster;
use super::error::{ClusterError, describe, one_line};
use super::kinds::Kind;
use super::retry::{is_transient, retry_safe};
use crate::plan::managers::FIELD_MANAGER;

/// How often a conflicting replace (someone wrote in between) is re-read and retried.
const REPLACE_ATTEMPTS: u32 = 5;

/// A built-in kind addressed without discovery (the lock and the history need them before
/// anything else, and they are part of every conformant cluster).
pub fn builtin_kind(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
) -> Kind {
    Kind {
        resource: ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(group, version, kind),
            plural,
        ),
        namespaced,
    }
}

/// `coordination.k8s.io/v1` Lease.
pub fn lease_kind() -> Kind {
    builtin_kind("coordination.k8s.io", "v1", "Lease", "leases", true)
}

/// `v1` Secret.
pub fn secret_kind() -> Kind {
    builtin_kind("", "v1", "Secret", "secrets", true)
}

/// `v1` Namespace.
pub fn namespace_kind() -> Kind {
    builtin_kind("", "v1", "Namespace", "namespaces", false)
}

/// `v1` Pod.
pub fn pod_kind() -> Kind {
    builtin_kind("", "v1", "Pod", "pods", true)
}

/// `apps/v1` ReplicaSet.
pub fn replica_set_kind() -> Kind {
    builtin_kind("apps", "v1", "ReplicaSet", "replicasets", true)
}

/// `v1` Event.
pub fn event_kind() -> Kind {
    builtin_kind("", "v1", "Event", "events", true)
}

fn to_value(object: DynamicObject) -> Result<Value, kube::Error> {
    serde_json::to_value(object).map_err(kube::Error::SerdeError)
}

fn to_dynamic(object: &Value) -> Result<DynamicObject, kube::Error> {
    serde_json::from_value(object.clone()).map_err(kube::Error::SerdeError)
}

/// The conflicts of a 409 from a non-forced server-side apply, as `manager: field, field`
/// (<https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts>).
fn conflicts(status: &kube::core::Status) -> String {
    let causes: Vec<String> = status
        .details
        .as_ref()
        .map(|d| {
            d.causes
                .iter()
                .map(|c| {
                    if c.field.is_empty() {
                        c.message.clone()
                    } else {
                        format!("{} ({})", c.message, c.field)
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if causes.is_empty() {
        status.message.clone()
    } else {
        causes.join("; ")
    }
}

impl Cluster {
    fn dynamic_api(&self, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        match (kind.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &kind.resource),
            (true, None) => Api::default_namespaced_with(self.client.clone(), &kind.resource),
            (false, _) => Api::all_with(self.client.clone(), &kind.resource),
        }
    }

    fn write_error(&self, id: &ObjectRef, verb: &'static str, err: &kube::Error) -> ClusterError {
        match err {
            kube::Error::Api(status) if status.code == 401 => self.api_error(String::new(), err),
            kube::Error::Api(status) => ClusterError::Rejected {
                object: describe(id, None),
                verb,
                code: status.code,
                reason: status.reason.clone(),
                message: if status.code == 409 && verb == "apply" {
                    format!(
                        "conflicts with another field manager: {}",
                        conflicts(status)
                    )
                } else {
                    status.message.clone()
                },
            },
            _ => ClusterError::Api {
                what: format!("{verb} of {}", describe(id, None)),
                message: one_line(err),
            },
        }
    }

    /// Server-side apply `object` as field manager `gitops`; with `force`, fields owned by
    /// another manager are taken over (git wins), without it a conflict is an error naming the
    /// other manager and the fields. Retried on transient failures: an apply is idempotent.
    pub async fn apply(
        &self,
        kind: &Kind,
        id: &ObjectRef,
        object: &Value,
        force: bool,
    ) -> Result<Value, ClusterError> {
        let api = self.dynamic_api(kind, id.namespace.as_deref());
        let mut params = PatchParams::apply(FIELD_MANAGER).validation_strict();
        if force {
            params = params.force();
        }
        let patch = Patch::Apply(object);
        let result = retry_safe(|| api.patch(&id.name, &params, &patch))
            .await
            .map_err(|e| self.write_error(id, "apply", &e))?;
        to_value(result).map_err(|e| self.write_error(id, "apply", &e))
    }

    /// Read an object by kind (`None` when absent), retried: a read is safe.
    pub async fn read(&self, kind: &Kind, id: &ObjectRef) -> Result<Option<Value>, ClusterError> {
        let api = self.dynamic_api(kind, id.namespace.as_deref());
        let found = retry_safe(|| api.get_opt(&id.name))
            .await
            .map_err(|e| self.write_error(id, "read", &e))?;
        found
            .map(to_value)
            .transpose()
            .map_err(|e| self.write_error(id, "read", &e))
    }

    /// Write `object` over the live one (PUT), so it becomes exactly `object`; created when it
    /// is gone. A concurrent write (409) is re-read and retried; the `resourceVersion` guards
    /// against overwriting a change made in between the read and the write.
    pub async fn replace(
        &self,
        kind: &Kind,
        id: &ObjectRef,
        object: &Value,
    ) -> Result<Value, ClusterError> {
        let api = self.dynamic_api(kind, id.namespace.as_deref());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Some(live) = self.read(kind, id).await? else {
                return self.create(kind, id, object).await;
            };
            let mut body = object.clone();
            body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"].clone();
            // The uid must match the live object's, or the server refuses a precondition.
            if body["metadata"].get("uid").is_some() {
                body["metadata"]["uid"] = live["metadata"]["uid"].clone();
            }
            let dynamic = to_dynamic(&body).map_err(|e| self.write_error(id, "replace", &e))?;
            match api
                .replace(&id.name, &PostParams::default(), &dynamic)
                .await
            {
                Ok(done) => return to_value(done).map_err(|e| self.write_error(id, "replace", &e)),
                Err(kube::Error::Api(s)) if s.code == 409 && attempt < REPLACE_ATTEMPTS => continue,
                Err(e) if is_transient(&e) && attempt < REPLACE_ATTEMPTS => {
                    tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                        .await;
                }
                Err(e) => return Err(self.write_error(id, "replace", &e)),
            }
        }
    }

    /// Create `object`; if it already exists, replace it. A lost answer to a create is
    /// retried: the retry then sees the object and replaces it with the same content.
    pub async fn create(
        &self,
        kind: &Kind,
        id: &ObjectRef,
        object: &Value,
    ) -> Result<Value, ClusterError> {
        let api = self.dynamic_api(kind, id.namespace.as_deref());
        let dynamic = to_dynamic(object).map_err(|e| self.write_error(id, "create", &e))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match api.create(&PostParams::default(), &dynamic).await {
                Ok(done) => return to_value(done).map_err(|e| self.write_error(id, "create", &e)),
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    return Box::pin(self.replace(kind, id, object)).await;
                }
                Err(e) if is_transient(&e) && attempt < REPLACE_ATTEMPTS => {
                    tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                        .await;
                }
                Err(e) => return Err(self.write_error(id, "create", &e)),
            }
        }
    }

    /// Create `object` only if absent: `Ok(None)` when it already exists (a lock someone
    /// else holds), never overwriting.
    pub async fn create_new(
        &self,
        kind: &Kind,
        id: &ObjectRef,
        object: &Value,
    ) -> Result<Option<Value>, ClusterError> {
        let api = self.dynamic_api(kind, id.namespace.as_deref());
        let dynamic = to_dynamic(object).map_err(|e| self.write_error(id, "create", &e))?;
        match api.create(&PostParams::default(), &dynamic).await {
            Ok(done) => to_value(done)
                .map(Some)
                .map_err(|e| self.write_error(id, "create", &e)),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(None),
            Err(e) => Err(self.write_error(id, "create", &e)),
        }
    }

    /// Replace `object` only if it is still at `resourceVersion` (compare-and-swap): `Ok(None)`
    /// when someone else wrote it in between.
    pub async fn replace_if(
        &self,
        kind: &Kind,
        id: &ObjectRef,
        object: &Value,
    ) -> Result<Option<Value>, ClusterError> {
        let api = self.dynamic_api(kind, id.namespace.as_deref());
        let dynamic = to_dynamic(object).map_err(|e| self.write_error(id, "replace", &e))?;
        match api
            .replace(&id.name, &PostParams::default(), &dynamic)
            .await
        {
            Ok(done) => to_value(done)
                .map(Some)
                .map_err(|e| self.write_error(id, "replace", &e)),
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => Ok(None),
            Err(e) => Err(self.write_error(id, "replace", &e)),
        }
    }

    /// Delete an object (dependents collected in the background, as `kubectl delete` does);
    /// `Ok(false)` when it was already gone. Retried: deleting twice is harmless.
    pub async fn delete(&self, kind: &Kind, id: &ObjectRef) -> Result<bool, ClusterError> {
        let api = self.dynamic_api(kind, id.namespace.as_deref());
        let params = DeleteParams::background();
        match retry_safe(|| api.delete(&id.name, &params)).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(self.write_error(id, "delete", &e)),
        }
    }

    /// Every object of `kind` in `namespace` (all namespaces for `None`), retried.
    pub async fn list_all(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<Value>, ClusterError> {
        let api: Api<DynamicObject> = match namespace {
            Some(ns) if kind.namespaced => {
                Api::namespaced_with(self.client.clone(), ns, &kind.resource)
            }
            _ => Api::all_with(self.client.clone(), &kind.resource),
        };
        let mut params = kube::api::ListParams::default();
        if let Some(s) = selector {
            params = params.labels(s);
        }
        let list = retry_safe(|| api.list(&params))
            .await
            .map_err(|e| self.api_error(format!("listing `{}`", kind.resource.kind), &e))?;
        let types = kube::core::TypeMeta {
            api_version: kind.resource.api_version.clone(),
            kind: kind.resource.kind.clone(),
        };
        list.items
            .into_iter()
            .map(|mut item| {
                item.types = Some(types.clone());
                to_value(item)
            })
            .collect::<Result<_, _>>()
            .map_err(|e| self.api_error(format!("listing `{}`", kind.resource.kind), &e))
    }

    /// Every object of `kind` in `namespace` (all namespaces for `None`), listed and then
    /// watched: kube-runtime's watcher (relists after an expired resourceVersion, backs off
    /// after errors), for the health gate.
    pub fn watch_all(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
    ) -> impl futures::Stream<
        Item = Result<kube::runtime::watcher::Event<DynamicObject>, kube::runtime::watcher::Error>,
    > + Send
    + use<> {
        use kube::runtime::WatchStreamExt as _;
        let api: Api<DynamicObject> = match namespace {
            Some(ns) if kind.namespaced => {
                Api::namespaced_with(self.client.clone(), ns, &kind.resource)
            }
            _ => Api::all_with(self.client.clone(), &kind.resource),
        };
        kube::runtime::watcher::watcher(api, kube::runtime::watcher::Config::default())
            .default_backoff()
    }

    /// The log of one container, its previous run with `previous`, at most `tail` lines.
    pub async fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
        tail: i64,
    ) -> Result<String, ClusterError> {
        let api: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(self.client.clone(), namespace);
        let params = kube::api::LogParams {
            container: Some(container.to_string()),
            previous,
            tail_lines: Some(tail),
            ..kube::api::LogParams::default()
        };
        retry_safe(|| api.logs(pod, &params)).await.map_err(|e| {
            self.api_error(
                format!(
                    "reading the {}log of container `{container}` of pod `{namespace}/{pod}`",
                    if previous { "previous " } else { "" }
                ),
                &e,
            )
        })
    }
}
