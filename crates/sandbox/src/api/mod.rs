//! The HTTP API: routes a request to discovery, OpenAPI or a resource verb, and answers as the real
//! API server does (JSON bodies, `Status` errors).
//!
//! https://kubernetes.io/docs/reference/using-api/api-concepts/

pub mod body;
mod delete;
pub mod discovery;
pub mod events;
mod fields;
mod limits;
mod list;
mod log;
mod openapi;
mod patch;
mod protobuf;
pub mod request;
mod scale;
mod secret;
pub mod selector;
pub mod status;
mod strategy;
pub mod table;
mod validate;
mod watch;
mod write;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use serde_json::Value;

use crate::store::{ResourceInfo, Store};
use body::ResponseBody;
use request::{Query, ResourcePath, Route};
use status::ApiError;

/// What a handler answers: a response, or an error that becomes a `Status`.
pub type ApiResult = Result<Response<ResponseBody>, ApiError>;

/// A resource request with everything the verb handlers need.
pub(crate) struct Ctx<'a> {
    pub(crate) store: &'a Store,
    pub(crate) info: ResourceInfo,
    pub(crate) path: ResourcePath,
    pub(crate) query: Query,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: Bytes,
    /// `Warning` headers to send with the response (field validation `Warn`).
    pub(crate) warnings: std::cell::RefCell<Vec<String>>,
}

impl Ctx<'_> {
    /// The object's name; only called on routes that have one.
    pub(crate) fn name(&self) -> &str {
        self.path.name.as_deref().unwrap_or_default()
    }

    /// Adds warnings for the response's `Warning` headers.
    pub(crate) fn warn(&self, warnings: Vec<String>) {
        self.warnings.borrow_mut().extend(warnings);
    }

    /// The requested resource as error messages name it (`deployments.apps`).
    pub(crate) fn resource(&self) -> crate::store::ResourceKey {
        crate::store::ResourceKey::new(self.info.group.clone(), self.info.plural.clone())
    }

    /// The request's namespace, `None` for cluster-scoped resources and all-namespace requests.
    pub(crate) fn namespace(&self) -> Option<&str> {
        self.path.namespace.as_deref()
    }
}

/// A JSON response.
pub fn json_response(code: StatusCode, value: &Value) -> Response<ResponseBody> {
    json_response_of(code, value)
}

/// A JSON response of anything serialisable as JSON (a list written from shared objects).
pub(crate) fn json_response_of<T: serde::Serialize + ?Sized>(
    code: StatusCode,
    value: &T,
) -> Response<ResponseBody> {
    // Serialising JSON values (maps with string keys) cannot fail.
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(ResponseBody::full(bytes));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A `Status` response for an error.
pub fn error_response(error: &ApiError) -> Response<ResponseBody> {
    json_response(error.code, &error.to_status())
}

/// Answers one request.
pub async fn handle(store: &Store, request: Request<Bytes>) -> Response<ResponseBody> {
    let (parts, body) = request.into_parts();
    let result = route(store, &parts.method, &parts.uri, &parts.headers, body).await;
    result.unwrap_or_else(|error| error_response(&error))
}

async fn route(
    store: &Store,
    method: &Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> ApiResult {
    let route = request::parse_path(uri.path())?;
    let query = request::parse_query(uri.query())?;
    let read_only = |response: Value| {
        if method == Method::GET {
            Ok(json_response(StatusCode::OK, &response))
        } else {
            Err(ApiError::method_not_allowed(method.as_str()))
        }
    };
    match route {
        Route::Version => read_only(discovery::version()),
        Route::Health => {
            let mut response = Response::new(ResponseBody::full("ok"));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            Ok(response)
        }
        Route::CoreVersions => read_only(discovery::core_versions()),
        Route::Groups => read_only(discovery::group_list(&store.registry())),
        Route::Group(group) => read_only(
            discovery::group(&store.registry(), &group).ok_or_else(ApiError::unknown_path)?,
        ),
        Route::Resources { group, version } => read_only(
            discovery::resource_list(&store.registry(), &group, &version)
                .ok_or_else(ApiError::unknown_path)?,
        ),
        Route::OpenApiV2 => Err(ApiError::unknown_path()),
        Route::OpenApiV3Index => read_only(openapi::index(&store.registry())),
        Route::OpenApiV3 { group, version } => read_only(
            openapi::group_version(&store.registry(), &group, &version)
                .ok_or_else(ApiError::unknown_path)?,
        ),
        Route::Object(path) => {
            let info = store
                .resource_info(&path.group, &path.version, &path.plural)
                .ok_or_else(ApiError::unknown_path)?;
            // A namespaced resource has no cluster-scoped objects, and the other way round.
            if (path.namespace.is_some() && !info.namespaced)
                || (path.namespace.is_none() && info.namespaced && path.name.is_some())
            {
                return Err(ApiError::unknown_path());
            }
            let ctx = Ctx {
                store,
                info,
                path,
                query,
                headers,
                body,
                warnings: std::cell::RefCell::default(),
            };
            let mut response = resource(&ctx, method)?;
            // https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation: one
            // `Warning: 299 - "<text>"` header per warning, as RFC 7234 warnings.
            for warning in ctx.warnings.borrow().iter() {
                let text = format!("299 - {}", serde_json::Value::String(warning.clone()));
                if let Ok(value) = HeaderValue::from_str(&text) {
                    response.headers_mut().append(http::header::WARNING, value);
                }
            }
            Ok(response)
        }
    }
}

fn resource(ctx: &Ctx<'_>, method: &Method) -> ApiResult {
    let sub = ctx.path.subresource.as_deref();
    let named = ctx.path.name.is_some();
    match (method.as_str(), named, sub) {
        ("GET", false, None) if ctx.query.watch => watch::watch(ctx),
        ("GET", false, None) => list::list(ctx),
        ("GET", true, None | Some("status")) => write::get(ctx),
        ("GET", true, Some("scale")) => scale::get(ctx),
        ("GET", true, Some("log")) if ctx.info.plural == "pods" && ctx.info.group.is_empty() => {
            log::get(ctx)
        }
        ("POST", false, None) => write::create(ctx),
        ("PUT", true, None | Some("status")) => write::update(ctx),
        ("PUT", true, Some("scale")) => scale::update(ctx),
        ("PATCH", true, None | Some("status")) => patch::patch(ctx),
        ("PATCH", true, Some("scale")) => patch::patch_scale(ctx),
        ("DELETE", true, None) => delete::delete(ctx),
        ("DELETE", false, None) => delete::delete_collection(ctx),
        (_, _, Some(sub)) if !matches!(sub, "status" | "scale" | "log") => {
            Err(ApiError::unknown_path())
        }
        _ => Err(ApiError::method_not_allowed(method.as_str())),
    }
}
