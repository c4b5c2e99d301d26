//! Request paths and query parameters, parsed into what the handlers act on.
//!
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-uris

use super::status::ApiError;

/// What a request path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/version`.
    Version,
    /// `/healthz`, `/livez`, `/readyz`.
    Health,
    /// `/api`: the core group's versions.
    CoreVersions,
    /// `/apis`: the group list.
    Groups,
    /// `/apis/<group>`: one group.
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`: the resource list.
    Resources {
        /// Group (`""` for core).
        group: String,
        /// Version.
        version: String,
    },
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/openapi/v3`: the index of group-version documents.
    OpenApiV3Index,
    /// `/openapi/v3/api/v1`, `/openapi/v3/apis/<group>/<version>`.
    OpenApiV3 {
        /// Group (`""` for core).
        group: String,
        /// Version.
        version: String,
    },
    /// A resource, collection or subresource.
    Object(ResourcePath),
}

/// `/api/v1/namespaces/ns/pods/name/log` and friends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourcePath {
    /// Group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// The namespace of a namespaced request.
    pub namespace: Option<String>,
    /// The plural resource name.
    pub plural: String,
    /// The object's name, if the request is about one object.
    pub name: Option<String>,
    /// `status`, `scale`, `log`...
    pub subresource: Option<String>,
}

/// Parses a request path.
pub fn parse_path(path: &str) -> Result<Route, ApiError> {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let route = match segments.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "livez" | "readyz", ..] => Route::Health,
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", group] => Route::Group((*group).to_owned()),
        ["api", version] => Route::Resources {
            group: String::new(),
            version: (*version).to_owned(),
        },
        ["apis", group, version] => Route::Resources {
            group: (*group).to_owned(),
            version: (*version).to_owned(),
        },
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3Index,
        ["openapi", "v3", "api", version] => Route::OpenApiV3 {
            group: String::new(),
            version: (*version).to_owned(),
        },
        ["openapi", "v3", "apis", group, version] => Route::OpenApiV3 {
            group: (*group).to_owned(),
            version: (*version).to_owned(),
        },
        ["api", version, rest @ ..] => Route::Object(resource_path("", version, rest)?),
        ["apis", group, version, rest @ ..] => Route::Object(resource_path(group, version, rest)?),
        _ => return Err(ApiError::unknown_path()),
    };
    Ok(route)
}

fn resource_path(group: &str, version: &str, rest: &[&str]) -> Result<ResourcePath, ApiError> {
    let mut path = ResourcePath {
        group: group.to_owned(),
        version: version.to_owned(),
        ..ResourcePath::default()
    };
    let owned = |s: &&str| (*s).to_owned();
    match rest {
        // Namespaces are objects and scopes at once: `namespaces/x` is the namespace, and
        // `namespaces/x/status` and `namespaces/x/finalize` its subresources.
        ["namespaces"] => path.plural = "namespaces".to_owned(),
        ["namespaces", name] => {
            path.plural = "namespaces".to_owned();
            path.name = Some((*name).to_owned());
        }
        ["namespaces", name, sub @ ("status" | "finalize")] if group.is_empty() => {
            path.plural = "namespaces".to_owned();
            path.name = Some((*name).to_owned());
            path.subresource = Some((*sub).to_owned());
        }
        ["namespaces", ns, plural, tail @ ..] if tail.len() <= 2 => {
            path.namespace = Some((*ns).to_owned());
            path.plural = (*plural).to_owned();
            path.name = tail.first().map(owned);
            path.subresource = tail.get(1).map(owned);
        }
        [plural, tail @ ..] if tail.len() <= 2 => {
            path.plural = (*plural).to_owned();
            path.name = tail.first().map(owned);
            path.subresource = tail.get(1).map(owned);
        }
        _ => return Err(ApiError::unknown_path()),
    }
    Ok(path)
}

/// The query parameters the handlers use; unknown ones are ignored, as by the real server.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `limit` (0 = no limit).
    pub limit: usize,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `watch=1|true`.
    pub watch: bool,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub resource_version_match: Option<String>,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// `allowWatchBookmarks`.
    pub allow_watch_bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: Option<bool>,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `fieldValidation`.
    pub field_validation: Option<String>,
    /// `force`.
    pub force: bool,
    /// `propagationPolicy`.
    pub propagation_policy: Option<String>,
    /// `orphanDependents` (deprecated but still honoured).
    pub orphan_dependents: Option<bool>,
    /// `container` (logs).
    pub container: Option<String>,
    /// `previous` (logs).
    pub previous: bool,
    /// `tailLines` (logs).
    pub tail_lines: Option<usize>,
    /// `follow` (logs).
    pub follow: bool,
    /// `timestamps` (logs).
    pub timestamps: bool,
}

fn boolean(value: &str) -> bool {
    matches!(value, "1" | "true" | "True" | "TRUE")
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ApiError> {
    value
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid value for {name}: {value:?}")))
}

/// Parses a query string (without the `?`).
pub fn parse_query(query: Option<&str>) -> Result<Query, ApiError> {
    let mut q = Query::default();
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = value.into_owned();
        match key.as_ref() {
            "labelSelector" => q.label_selector = Some(value),
            "fieldSelector" => q.field_selector = Some(value),
            "limit" => q.limit = number("limit", &value)?,
            "continue" if !value.is_empty() => q.continue_token = Some(value),
            "watch" => q.watch = boolean(&value),
            "resourceVersion" => q.resource_version = Some(value),
            "resourceVersionMatch" => q.resource_version_match = Some(value),
            "timeoutSeconds" => q.timeout_seconds = Some(number("timeoutSeconds", &value)?),
            "allowWatchBookmarks" => q.allow_watch_bookmarks = boolean(&value),
            "sendInitialEvents" => q.send_initial_events = Some(boolean(&value)),
            "dryRun" => {
                // https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run
                if value != "All" {
                    return Err(ApiError::bad_request(format!(
                        "Invalid dry run value: unsupported dry run value {value:?}, supported values: \"All\""
                    )));
                }
                q.dry_run = true;
            }
            "fieldManager" => q.field_manager = Some(value),
            "fieldValidation" => q.field_validation = Some(value),
            "force" => q.force = boolean(&value),
            "propagationPolicy" => q.propagation_policy = Some(value),
            "orphanDependents" => q.orphan_dependents = Some(boolean(&value)),
            "container" => q.container = Some(value),
            "previous" => q.previous = boolean(&value),
            "tailLines" => q.tail_lines = Some(number("tailLines", &value)?),
            "follow" => q.follow = boolean(&value),
            "timestamps" => q.timestamps = boolean(&value),
            _ => {}
        }
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(path: &str) -> ResourcePath {
        match parse_path(path) {
            Ok(Route::Object(p)) => p,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn namespaces_are_objects_and_scopes() {
        let ns = object("/api/v1/namespaces/default");
        assert_eq!(
            (ns.plural.as_str(), ns.name.as_deref(), ns.namespace),
            ("namespaces", Some("default"), None)
        );
        let pods = object("/api/v1/namespaces/default/pods");
        assert_eq!(
            (pods.plural.as_str(), pods.namespace.as_deref(), pods.name),
            ("pods", Some("default"), None)
        );
        let log = object("/api/v1/namespaces/default/pods/web/log");
        assert_eq!(
            (log.name.as_deref(), log.subresource.as_deref()),
            (Some("web"), Some("log"))
        );
        let scale = object("/apis/apps/v1/namespaces/a/deployments/web/scale");
        assert_eq!(
            (scale.group.as_str(), scale.subresource.as_deref()),
            ("apps", Some("scale"))
        );
        let status = object("/api/v1/namespaces/x/status");
        assert_eq!(
            (status.plural.as_str(), status.subresource.as_deref()),
            ("namespaces", Some("status"))
        );
        assert_eq!(
            parse_path("/apis/apps/v1").ok(),
            Some(Route::Resources {
                group: "apps".into(),
                version: "v1".into()
            })
        );
        assert!(parse_path("/nonsense").is_err());
    }

    #[test]
    fn query_decodes_and_rejects_bad_dry_run() {
        let q = parse_query(Some(
            "labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29&limit=5&watch=1&dryRun=All",
        ))
        .unwrap_or_default();
        assert_eq!(q.label_selector.as_deref(), Some("app=web,tier in (a,b)"));
        assert_eq!(q.limit, 5);
        assert!(q.watch && q.dry_run);
        assert!(parse_query(Some("dryRun=Some")).is_err());
    }
}
