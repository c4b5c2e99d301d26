//! Load benchmark of a running `gitops sandbox` over HTTPS: server-side apply of N objects (a
//! mix of ConfigMaps, Secrets, Services and Deployments, as the engine applies them), then a GET
//! of each and paginated LISTs, with C requests in flight. Prints one Markdown table row per
//! phase. Run by `scripts/bench-sandbox`.
//!
//! Usage: bench KUBECONFIG [OBJECTS] [CONCURRENCY]

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

/// What one benchmark object is.
#[derive(Clone, Copy)]
enum Kind {
    ConfigMap,
    Secret,
    Service,
    Deployment,
}

/// 80 % ConfigMaps, 10 % Secrets, 5 % Services, 5 % Deployments.
fn kind_of(i: usize) -> Kind {
    match i % 20 {
        0 => Kind::Deployment,
        1 => Kind::Service,
        2 | 3 => Kind::Secret,
        _ => Kind::ConfigMap,
    }
}

fn object(kind: Kind, i: usize) -> serde_json::Value {
    let name = format!("bench-{i:05}");
    match kind {
        Kind::ConfigMap => {
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"bench": "yes"}},
            "data": {"appsettings.json": format!("{{\"instance\": {i}, \"padding\": \"{}\"}}", "x".repeat(512))}})
        }
        Kind::Secret => {
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "labels": {"bench": "yes"}},
            "type": "Opaque", "stringData": {"password": format!("p{i}")}})
        }
        Kind::Service => {
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"bench": "yes"}},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
        }
        Kind::Deployment => {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"bench": "yes"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 8080}]}]}}}})
        }
    }
}

struct Phase {
    name: &'static str,
    latencies: Vec<Duration>,
    errors: usize,
    wall: Duration,
}

impl Phase {
    fn row(&mut self) -> String {
        self.latencies.sort();
        let pct = |p: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
            self.latencies
                .get(i)
                .copied()
                .unwrap_or_default()
                .as_secs_f64()
                * 1000.0
        };
        let count = self.latencies.len() + self.errors;
        format!(
            "| {} | {} | {} | {:.2} s | {:.0} | {:.1} ms | {:.1} ms |",
            self.name,
            count,
            self.errors,
            self.wall.as_secs_f64(),
            count as f64 / self.wall.as_secs_f64(),
            pct(0.5),
            pct(0.99)
        )
    }
}

async fn timed<F, Fut>(name: &'static str, count: usize, concurrency: usize, call: F) -> Phase
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let start = Instant::now();
    let results: Vec<(Duration, bool)> = futures::stream::iter(0..count)
        .map(|i| {
            let fut = call(i);
            async move {
                let t = Instant::now();
                let ok = match fut.await {
                    Ok(()) => true,
                    Err(err) => {
                        eprintln!("{name} #{i}: {err}");
                        false
                    }
                };
                (t.elapsed(), ok)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall = start.elapsed();
    let errors = results.iter().filter(|(_, ok)| !ok).count();
    let latencies = results
        .into_iter()
        .filter(|(_, ok)| *ok)
        .map(|(d, _)| d)
        .collect();
    Phase {
        name,
        latencies,
        errors,
        wall,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(kubeconfig) = args.get(1) else {
        return Err("usage: bench KUBECONFIG [OBJECTS] [CONCURRENCY]".into());
    };
    let objects: usize = args.get(2).map_or(Ok(2000), |a| a.parse())?;
    let concurrency: usize = args.get(3).map_or(Ok(32), |a| a.parse())?;
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig)?,
        &Default::default(),
    )
    .await?;
    let client = kube::Client::try_from(config)?;
    let ns = "default";
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let params = PatchParams::apply("bench").force();

    let mut phases = Vec::new();
    phases.push(
        timed("server-side apply", objects, concurrency, |i| {
            let (cms, secrets, services, deployments, params) = (
                cms.clone(),
                secrets.clone(),
                services.clone(),
                deployments.clone(),
                params.clone(),
            );
            async move {
                let name = format!("bench-{i:05}");
                let body = Patch::Apply(object(kind_of(i), i));
                match kind_of(i) {
                    Kind::ConfigMap => cms
                        .patch(&name, &params, &body)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                    Kind::Secret => secrets
                        .patch(&name, &params, &body)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                    Kind::Service => services
                        .patch(&name, &params, &body)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                    Kind::Deployment => deployments
                        .patch(&name, &params, &body)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                }
            }
        })
        .await,
    );
    phases.push(
        timed("get", objects, concurrency, |i| {
            let (cms, secrets, services, deployments) = (
                cms.clone(),
                secrets.clone(),
                services.clone(),
                deployments.clone(),
            );
            async move {
                let name = format!("bench-{i:05}");
                match kind_of(i) {
                    Kind::ConfigMap => cms.get(&name).await.map(drop).map_err(|e| e.to_string()),
                    Kind::Secret => secrets
                        .get(&name)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                    Kind::Service => services
                        .get(&name)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                    Kind::Deployment => deployments
                        .get(&name)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                }
            }
        })
        .await,
    );
    // Paginated lists of the ConfigMaps, as an informer's initial list does (500 per page).
    let lists = 20;
    phases.push(
        timed("list (500 per page)", lists, concurrency.min(8), |_| {
            let cms = cms.clone();
            async move {
                let mut params = ListParams::default().labels("bench=yes").limit(500);
                let mut seen = 0;
                loop {
                    let page = cms.list(&params).await.map_err(|e| e.to_string())?;
                    seen += page.items.len();
                    match page.metadata.continue_ {
                        Some(token) if !token.is_empty() => params = params.continue_token(&token),
                        _ => break,
                    }
                }
                if seen == 0 {
                    return Err("the list returned no objects".to_owned());
                }
                Ok(())
            }
        })
        .await,
    );
    println!("| phase | requests | errors | wall | requests/s | p50 | p99 |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for phase in &mut phases {
        println!("{}", phase.row());
    }
    let total: usize = phases
        .iter()
        .take(2)
        .map(|p| p.latencies.len() + p.errors)
        .sum();
    let wall: f64 = phases.iter().take(2).map(|p| p.wall.as_secs_f64()).sum();
    println!(
        "\napply + get: {total} requests in {wall:.2} s = {:.0} requests/s (concurrency {concurrency})",
        total as f64 / wall
    );
    let errors: usize = phases.iter().map(|p| p.errors).sum();
    if errors > 0 {
        return Err(format!("{errors} requests failed").into());
    }
    Ok(())
}
