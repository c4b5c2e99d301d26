//! Kind resolution through discovery: each rendered `apiVersion`/`kind` to the resource that
//! serves it and its scope. Only the group-versions the render uses are asked for, concurrently,
//! so a cluster with many API groups costs a handful of requests.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt as _, TryStreamExt as _};
use kube::core::{ApiResource, GroupVersionKind};

use super::Cluster;
use super::error::{ClusterError, one_line};
use super::retry::retry_safe;
use crate::plan::inventory::GroupKind;

/// A served kind: how to address it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    /// Group, version, kind and plural resource name.
    pub resource: ApiResource,
    /// Namespaced (`true`) or cluster-scoped.
    pub namespaced: bool,
}

/// The kinds served for a set of group-versions, keyed by (group, version, kind).
#[derive(Debug, Clone, Default)]
pub struct Kinds {
    map: BTreeMap<(String, String, String), Kind>,
}

impl Kinds {
    /// The served kind, if any.
    pub fn get(&self, group: &str, version: &str, kind: &str) -> Option<&Kind> {
        self.map
            .get(&(group.to_string(), version.to_string(), kind.to_string()))
    }

    /// Record a kind (tests and CRDs created in the same run).
    pub fn insert(&mut self, kind: Kind) {
        let r = &kind.resource;
        self.map
            .insert((r.group.clone(), r.version.clone(), r.kind.clone()), kind);
    }
}

impl Cluster {
    /// Resolve the kinds of the given (group, version) pairs; a group-version the cluster does
    /// not serve simply contributes nothing.
    pub async fn kinds(
        &self,
        group_versions: &BTreeSet<(String, String)>,
    ) -> Result<Kinds, ClusterError> {
        let lists: Vec<Vec<Kind>> = futures::stream::iter(group_versions.iter().cloned())
            .map(|(group, version)| async move { self.group_version(&group, &version).await })
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await?;
        let mut kinds = Kinds::default();
        for kind in lists.into_iter().flatten() {
            kinds.insert(kind);
        }
        Ok(kinds)
    }

    async fn group_version(&self, group: &str, version: &str) -> Result<Vec<Kind>, ClusterError> {
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        let client = &self.client;
        let answer = retry_safe(|| async {
            if group.is_empty() {
                client.list_core_api_resources(version).await
            } else {
                client.list_api_group_resources(&api_version).await
            }
        })
        .await;
        let list = match answer {
            Ok(list) => list,
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(Vec::new()),
            Err(e) => return Err(self.api_error(format!("discovery of `{api_version}`"), &e)),
        };
        Ok(list
            .resources
            .into_iter()
            // `deployments/status`, `pods/log`: subresources are not kinds of their own.
            .filter(|r| !r.name.contains('/'))
            .map(|r| {
                let gvk = GroupVersionKind::gvk(group, version, &r.kind);
                Kind {
                    resource: ApiResource::from_gvk_with_plural(&gvk, &r.name),
                    namespaced: r.namespaced,
                }
            })
            .collect())
    }

    /// Resolve a group-kind at the group's preferred version (the inventory records no
    /// version); `None` when the cluster no longer serves it.
    pub async fn group_kind(&self, gk: &GroupKind) -> Result<Option<Kind>, ClusterError> {
        let client = &self.client;
        let group = match retry_safe(|| kube::discovery::group(client, &gk.group)).await {
            Ok(g) => g,
            Err(kube::Error::Discovery(_)) => return Ok(None),
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
            Err(e) => return Err(self.api_error(format!("discovery of group `{}`", gk.group), &e)),
        };
        Ok(group
            .recommended_kind(&gk.kind)
            .map(|(resource, caps)| Kind {
                resource,
                namespaced: caps.scope == kube::discovery::Scope::Namespaced,
            }))
    }

    /// An API error as a `ClusterError`, credentials problems called out as such.
    pub(crate) fn api_error(&self, what: String, err: &kube::Error) -> ClusterError {
        match err {
            kube::Error::Api(status) if status.code == 401 => ClusterError::Unauthorized {
                server: self.info.server.clone(),
                target: self.target.clone(),
                code: status.code,
            },
            _ => ClusterError::Api {
                what,
                message: one_line(err),
            },
        }
    }
}
