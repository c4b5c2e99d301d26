//! Services: a cluster IP and node ports when the API left them empty, a load balancer's ingress
//! IP from the (simulated) cloud provider, and the Endpoints and EndpointSlices of the pods a
//! selector picks.
//! https://kubernetes.io/docs/concepts/services-networking/service/ and
//! https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::events::{self, Occurrence, Severity, Source};
use super::meta::{self, keys};
use super::replicaset::is_ready;
use super::{Context, next_of};
use crate::clock::{SimTime, parse_timestamp};

/// How long the cloud provider takes to give a LoadBalancer Service its IP (simulated time).
pub const LOAD_BALANCER_DELAY: Duration = Duration::from_secs(2);

/// One pass over every Service; returns when a load balancer is due.
pub fn reconcile(ctx: &mut Context<'_>) -> Option<SimTime> {
    let (services, _) = ctx.store.list(&keys::services(), None);
    let (pods, _) = ctx.store.list(&keys::pods(), None);
    // The pods that can be endpoints (an IP, not terminating), by namespace, sorted out once
    // per pass rather than once per Service.
    let mut by_namespace: HashMap<&str, Vec<&Value>> = HashMap::new();
    for pod in &pods {
        if !meta::is_terminating(pod) && meta::str_at(pod, "/status/podIP").is_some() {
            by_namespace
                .entry(meta::namespace(pod))
                .or_default()
                .push(pod);
        }
    }
    let mut used_ips: BTreeSet<String> = services
        .iter()
        .filter_map(|s| meta::str_at(s, "/spec/clusterIP").map(str::to_owned))
        .collect();
    let mut next = None;
    for service in services {
        if meta::is_terminating(&service) {
            continue;
        }
        let service = allocate(ctx, service, &mut used_ips);
        next = next_of(next, load_balancer(ctx, &service));
        let candidates = by_namespace
            .get(meta::namespace(&service))
            .map_or(&[][..], Vec::as_slice);
        endpoints(ctx, &service, candidates);
    }
    next
}

/// The API server allocates these on create; when a Service reached the store without them
/// (written by a path that skipped defaulting), they are filled in here.
/// https://kubernetes.io/docs/concepts/services-networking/cluster-ip-allocation/
fn allocate(ctx: &mut Context<'_>, service: Value, used: &mut BTreeSet<String>) -> Value {
    let type_ = meta::str_at(&service, "/spec/type")
        .unwrap_or("ClusterIP")
        .to_owned();
    if type_ == "ExternalName" {
        return service;
    }
    let mut updated = service.clone();
    let mut changed = false;
    if meta::str_at(&service, "/spec/clusterIP")
        .unwrap_or_default()
        .is_empty()
    {
        let mut seed = meta::fnv32a(meta::uid(&service).as_bytes());
        let ip = loop {
            // 10.0.0.0/16, skipping .0.0/24 where the system services live.
            let candidate = format!("10.0.{}.{}", (seed >> 8) % 255 + 1, seed % 254 + 1);
            if used.insert(candidate.clone()) {
                break candidate;
            }
            seed = seed.wrapping_mul(31).wrapping_add(7);
        };
        if let Some(spec) = updated.get_mut("spec") {
            meta::set(spec, "clusterIP", json!(ip));
            meta::set(spec, "clusterIPs", json!([ip]));
        }
        changed = true;
    }
    if matches!(type_.as_str(), "NodePort" | "LoadBalancer")
        && let Some(ports) = updated
            .pointer_mut("/spec/ports")
            .and_then(Value::as_array_mut)
    {
        for (i, port) in ports.iter_mut().enumerate() {
            if port.get("nodePort").is_none() {
                let number = 30000
                    + (meta::fnv32a(format!("{}/{i}", meta::uid(&service)).as_bytes()) % 2768);
                meta::set(port, "nodePort", json!(number));
                changed = true;
            }
        }
    }
    if !changed {
        return service;
    }
    ctx.store
        .update(&keys::services(), updated)
        .unwrap_or(service)
}

/// The cloud provider's load balancer: `Ensuring`, then an ingress IP.
/// https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer
fn load_balancer(ctx: &mut Context<'_>, service: &Value) -> Option<SimTime> {
    if meta::str_at(service, "/spec/type") != Some("LoadBalancer") {
        return None;
    }
    let has_ingress = service
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .is_some_and(|i| !i.is_empty());
    if has_ingress {
        return None;
    }
    let now = ctx.clock.now();
    let created = meta::str_at(service, "/metadata/creationTimestamp")
        .and_then(parse_timestamp)
        .map_or(now, |t| ctx.clock.sim_of_wall(t));
    let source = Source::controller("service-controller");
    events::record(
        ctx.store,
        ctx.clock,
        service,
        &source,
        &Occurrence::once(
            Severity::Normal,
            "EnsuringLoadBalancer",
            "Ensuring load balancer",
            created.min(now),
        ),
    );
    let due = created + LOAD_BALANCER_DELAY;
    if now < due {
        return Some(due);
    }
    let hash = meta::fnv32a(meta::uid(service).as_bytes());
    let ip = format!(
        "20.{}.{}.{}",
        40 + (hash >> 16) % 200,
        (hash >> 8) % 256,
        hash % 254 + 1
    );
    let mut updated = service.clone();
    meta::set(
        &mut updated,
        "status",
        json!({"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}}),
    );
    if ctx.store.update_status(&keys::services(), updated).is_ok() {
        events::record(
            ctx.store,
            ctx.clock,
            service,
            &source,
            &Occurrence::once(
                Severity::Normal,
                "EnsuredLoadBalancer",
                "Ensured load balancer",
                now,
            ),
        );
    }
    None
}

/// The container port a Service port's `targetPort` names in a pod.
fn resolve_target(port: &Value, pod: &Value) -> Option<i64> {
    match port.get("targetPort") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(name)) => pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)?
            .iter()
            .flat_map(|c| {
                c.get("ports")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
            .and_then(|p| p.get("containerPort").and_then(Value::as_i64)),
        _ => port.get("port").and_then(Value::as_i64),
    }
}

/// `pods`: the pods of the Service's namespace that have an IP and are not terminating.
fn endpoints(ctx: &mut Context<'_>, service: &Value, pods: &[&Value]) {
    let Some(selector) = service
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .filter(|s| !s.is_empty())
    else {
        return;
    };
    let ns = meta::namespace(service);
    let name = meta::name(service);
    let selected: Vec<&Value> = pods
        .iter()
        .copied()
        // Borrowed, not `meta::labels` (a copy): this runs for every pod of every Service.
        .filter(|p| {
            p.pointer("/metadata/labels")
                .and_then(Value::as_object)
                .is_some_and(|labels| meta::map_selector_matches(selector, labels))
        })
        .collect();
    let ports = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let address = |pod: &Value| {
        json!({
            "ip": meta::str_at(pod, "/status/podIP"),
            "nodeName": meta::str_at(pod, "/spec/nodeName"),
            "targetRef": {"kind": "Pod", "name": meta::name(pod), "namespace": ns, "uid": meta::uid(pod)},
        })
    };
    let first = selected.first().copied();
    let endpoint_ports: Vec<Value> = ports
        .iter()
        .map(|p| {
            let mut port = json!({
                "port": first.and_then(|pod| resolve_target(p, pod)).or_else(|| p.get("port").and_then(Value::as_i64)),
                "protocol": p.get("protocol").cloned().unwrap_or_else(|| json!("TCP")),
            });
            if let Some(n) = p.get("name") {
                meta::set(&mut port, "name", n.clone());
            }
            port
        })
        .collect();
    let ready: Vec<Value> = selected
        .iter()
        .filter(|p| is_ready(p))
        .map(|p| address(p))
        .collect();
    let not_ready: Vec<Value> = selected
        .iter()
        .filter(|p| !is_ready(p))
        .map(|p| address(p))
        .collect();
    let mut subset = Map::new();
    if !ready.is_empty() {
        subset.insert("addresses".to_owned(), json!(ready));
    }
    if !not_ready.is_empty() {
        subset.insert("notReadyAddresses".to_owned(), json!(not_ready));
    }
    let subsets = if subset.is_empty() {
        json!([])
    } else {
        subset.insert("ports".to_owned(), json!(endpoint_ports));
        json!([subset])
    };
    let labels = service
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    upsert(
        ctx,
        &keys::endpoints(),
        json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns, "labels": labels}, "subsets": subsets}),
        &["subsets", "metadata"],
    );
    let slice_endpoints: Vec<Value> = selected
        .iter()
        .map(|p| {
            let ready = is_ready(p);
            json!({
                "addresses": [meta::str_at(p, "/status/podIP")],
                "conditions": {"ready": ready, "serving": ready, "terminating": false},
                "nodeName": meta::str_at(p, "/spec/nodeName"),
                "targetRef": {"kind": "Pod", "name": meta::name(p), "namespace": ns, "uid": meta::uid(p)},
            })
        })
        .collect();
    let mut slice_labels = labels.clone();
    meta::set(&mut slice_labels, "kubernetes.io/service-name", json!(name));
    meta::set(
        &mut slice_labels,
        "endpointslice.kubernetes.io/managed-by",
        json!("endpointslice-controller.k8s.io"),
    );
    let slice_name = format!(
        "{name}-{}",
        meta::safe_encode(meta::fnv32a(meta::uid(service).as_bytes()))
            .chars()
            .take(5)
            .collect::<String>()
    );
    upsert(
        ctx,
        &crate::store::ResourceKey::new("discovery.k8s.io", "endpointslices"),
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": slice_name, "namespace": ns, "labels": slice_labels, "ownerReferences": [meta::controller_ref(service)]},
            "addressType": "IPv4",
            "endpoints": slice_endpoints,
            "ports": endpoint_ports,
        }),
        &["endpoints", "ports", "metadata"],
    );
}

/// Create the object, or update the listed top-level fields of the existing one.
fn upsert(ctx: &mut Context<'_>, key: &crate::store::ResourceKey, desired: Value, fields: &[&str]) {
    let ns = meta::namespace(&desired).to_owned();
    let name = meta::name(&desired).to_owned();
    match ctx.store.get(key, Some(&ns), &name) {
        None => {
            let _ = ctx.store.create(key, desired);
        }
        Some(existing) => {
            let mut updated = existing.clone();
            for field in fields {
                if *field == "metadata" {
                    if let (Some(labels), Some(m)) = (
                        desired.pointer("/metadata/labels"),
                        updated.get_mut("metadata"),
                    ) {
                        meta::set(m, "labels", labels.clone());
                    }
                } else {
                    meta::set(&mut updated, field, desired[*field].clone());
                }
            }
            if updated != existing {
                let _ = ctx.store.update(key, updated);
            }
        }
    }
}
