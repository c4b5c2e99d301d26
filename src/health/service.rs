//! Service readiness: only `type: LoadBalancer` waits, for an ingress IP or hostname
//! (<https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer>;
//! kube-runtime's `conditions::is_service_loadbalancer_provisioned` in kube-rs `kube-runtime/src/wait.rs`).

use serde_json::Value;

use super::Health;
use super::fields::str_at;

/// The health of a Service.
pub fn service_health(obj: &Value) -> Health {
    if str_at(obj, "/spec/type") != Some("LoadBalancer") {
        return Health::Healthy;
    }
    let ingress = obj
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array);
    match ingress {
        Some(list)
            if !list.is_empty()
                && list
                    .iter()
                    .all(|i| i.get("ip").is_some() || i.get("hostname").is_some()) =>
        {
            Health::Healthy
        }
        _ => Health::progressing("waiting for the load balancer's external IP or hostname"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::test_yaml;

    #[test]
    fn only_load_balancers_wait() {
        let s = test_yaml(
            "{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {type: ClusterIP}}",
        );
        assert_eq!(service_health(&s), Health::Healthy);
        let s = test_yaml(
            "{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {type: LoadBalancer}}",
        );
        assert!(matches!(service_health(&s), Health::Progressing(_)));
        let s = test_yaml(
            "{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {type: LoadBalancer},
              status: {loadBalancer: {ingress: [{ip: 20.1.2.3}]}}}",
        );
        assert_eq!(service_health(&s), Health::Healthy);
    }
}
