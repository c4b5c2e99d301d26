//! Object calls: read live objects, list an inventory's members, and server-side apply with
//! `dryRun=All`, `fieldValidation=Strict`, `force`, field manager `gitops`.

use gitops_manifest::ObjectRef;
use kube::Resource as _;
use kube::api::{Api, DynamicObject, GetParams, ListParams, Patch, PatchParams};
use kube::core::Request;
use serde_json::Value;

use super::Cluster;
use super::error::{ClusterError, describe, one_line};
use super::kinds::Kind;
use super::retry::retry_safe;
use crate::plan::managers::FIELD_MANAGER;

fn to_value(object: DynamicObject) -> Result<Value, kube::Error> {
    serde_json::to_value(object).map_err(kube::Error::SerdeError)
}

impl Cluster {
    fn api(&self, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        match (kind.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &kind.resource),
            (true, None) => Api::default_namespaced_with(self.client.clone(), &kind.resource),
            (false, _) => Api::all_with(self.client.clone(), &kind.resource),
        }
    }

    /// A request builder for `kind` in `namespace` (the context's namespace when a namespaced
    /// object names none), as `Api` would address it.
    pub(crate) fn request(&self, kind: &Kind, namespace: Option<&str>) -> Request {
        let namespace = kind
            .namespaced
            .then(|| namespace.unwrap_or_else(|| self.default_namespace()));
        Request::new(DynamicObject::url_path(&kind.resource, namespace))
    }

    /// Send a request and read the answer as plain JSON: the plan works on `Value`s, and going
    /// through `DynamicObject` would parse and re-serialise every object once more.
    pub(crate) async fn send_json(
        &self,
        request: impl Fn() -> Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    ) -> Result<Value, kube::Error> {
        retry_safe(|| async {
            let request = request().map_err(kube::Error::BuildRequest)?;
            self.client.request::<Value>(request).await
        })
        .await
    }

    /// [`Cluster::send_json`] without reading the answer: its text, for a caller that may not
    /// need the object in it.
    pub(crate) async fn send_text(
        &self,
        request: impl Fn() -> Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    ) -> Result<String, kube::Error> {
        retry_safe(|| async {
            let request = request().map_err(kube::Error::BuildRequest)?;
            self.client.request_text(request).await
        })
        .await
    }

    /// The live object, or `None` when it does not exist.
    pub async fn get(
        &self,
        kind: &Kind,
        object: &ObjectRef,
    ) -> Result<Option<Value>, ClusterError> {
        let request = self.request(kind, object.namespace.as_deref());
        let params = GetParams::default();
        match self.send_json(|| request.get(&object.name, &params)).await {
            Ok(found) => Ok(Some(found)),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(None),
            Err(e) => Err(self.object_error(object, None, "read", &e)),
        }
    }

    /// Whether a namespace exists.
    pub async fn namespace_exists(&self, name: &str) -> Result<bool, ClusterError> {
        let api: Api<DynamicObject> = Api::all_with(
            self.client.clone(),
            &kube::core::ApiResource::from_gvk_with_plural(
                &kube::core::GroupVersionKind::gvk("", "v1", "Namespace"),
                "namespaces",
            ),
        );
        let found = retry_safe(|| api.get_opt(name))
            .await
            .map_err(|e| self.api_error(format!("reading namespace `{name}`"), &e))?;
        Ok(found.is_some())
    }

    /// Objects of `kind` carrying `selector`, in `namespace` (or cluster-wide for cluster-scoped kinds).
    pub async fn list(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<Value>, ClusterError> {
        let api = self.api(kind, namespace);
        let params = ListParams::default().labels(selector);
        let list = retry_safe(|| api.list(&params)).await.map_err(|e| {
            self.api_error(
                format!("listing `{}` with `{selector}`", kind.resource.kind),
                &e,
            )
        })?;
        let api_version = kind.resource.api_version.clone();
        list.items
            .into_iter()
            .map(|mut item| {
                // List items come without apiVersion/kind; put them back so they are whole objects.
                item.types = Some(kube::core::TypeMeta {
                    api_version: api_version.clone(),
                    kind: kind.resource.kind.clone(),
                });
                to_value(item)
            })
            .collect::<Result<_, _>>()
            .map_err(|e| self.api_error(format!("listing `{}`", kind.resource.kind), &e))
    }

    /// What a forced server-side apply of `object` would leave on the cluster, without
    /// changing anything (`dryRun=All`); unknown or mistyped fields are refused
    /// (`fieldValidation=Strict`), naming the field. The answer is the server's text: read it
    /// with [`Cluster::read_answer`] when the object is needed, else [`Cluster::check_answer`]
    /// (reading thousands of answers nobody looks at is a large part of a plan's CPU).
    pub async fn dry_run_apply(
        &self,
        kind: &Kind,
        id: &ObjectRef,
        object: &Value,
        source: Option<&str>,
    ) -> Result<String, ClusterError> {
        let request = self.request(kind, id.namespace.as_deref());
        let params = PatchParams::apply(FIELD_MANAGER)
            .force()
            .dry_run()
            .validation_strict();
        let patch = Patch::Apply(object);
        self.send_text(|| request.patch(&id.name, &params, &patch))
            .await
            .map_err(|e| self.object_error(id, source, "dry-run apply", &e))
    }

    /// The object in a dry-run answer's text (without our own `managedFields` entries: see
    /// [`super::answer`]).
    pub fn read_answer(
        &self,
        text: &str,
        id: &ObjectRef,
        source: Option<&str>,
    ) -> Result<Value, ClusterError> {
        super::answer::object(text).map_err(|e| self.answer_error(id, source, e))
    }

    /// That a dry-run answer's text is JSON, without building the object (for an answer whose
    /// object is not needed): an answer that is not fails as [`Cluster::read_answer`] would.
    pub fn check_answer(
        &self,
        text: &str,
        id: &ObjectRef,
        source: Option<&str>,
    ) -> Result<(), ClusterError> {
        serde_json::from_str::<serde::de::IgnoredAny>(text)
            .map(|_| ())
            .map_err(|e| self.answer_error(id, source, e))
    }

    fn answer_error(
        &self,
        id: &ObjectRef,
        source: Option<&str>,
        err: serde_json::Error,
    ) -> ClusterError {
        self.object_error(id, source, "dry-run apply", &kube::Error::SerdeError(err))
    }

    fn object_error(
        &self,
        id: &ObjectRef,
        source: Option<&str>,
        verb: &'static str,
        err: &kube::Error,
    ) -> ClusterError {
        match err {
            kube::Error::Api(status) if status.code != 401 => ClusterError::Rejected {
                object: describe(id, source),
                verb,
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
            kube::Error::Api(_) => self.api_error(String::new(), err),
            _ => ClusterError::Api {
                what: format!("{verb} of {}", describe(id, source)),
                message: one_line(err),
            },
        }
    }
}
