//! API defaulting of the common kinds, as the API server fills in fields a manifest leaves out.
//!
//! A real server defaults every object it decodes (create, update, patch, apply, dry-run), so a
//! dry-run result differs from the applied manifest exactly where these functions add fields.
//! Sources, per function below: `k8s.io/kubernetes/pkg/apis/<group>/v1/defaults.go` (the
//! `SetDefaults_*` functions) and the generated `zz_generated.defaults.go` that calls them for
//! every nested pod template. Values that a registry or an admission plugin sets on create
//! (cluster IPs, node ports, a pod's service-account token volume) are not defaulting and are
//! left to the store and the controllers, except the few noted below.
//! Reference: <https://kubernetes.io/docs/reference/kubernetes-api/>.

use gitops_manifest::merge_keys::Gvk;
use serde_json::{Map, Value, json};

/// Fill in the API defaults of `object`, a `gvk`, in place. Kinds without defaults are untouched.
pub fn apply_defaults(object: &mut Value, gvk: &Gvk) {
    let Value::Object(obj) = object else { return };
    match (gvk.group.as_str(), gvk.kind.as_str()) {
        ("apps", "Deployment") => deployment(obj),
        ("apps", "StatefulSet") => stateful_set(obj),
        ("apps", "DaemonSet") => daemon_set(obj),
        ("apps", "ReplicaSet") => replica_set(obj),
        ("batch", "Job") => job(obj),
        ("batch", "CronJob") => cron_job(obj),
        ("", "Pod") => pod(obj),
        ("", "PodTemplate") | ("", "ReplicationController") => {
            if let Some(spec) = obj.get_mut("template").and_then(|t| t.get_mut("spec")) {
                pod_spec(spec);
            }
            if gvk.kind == "ReplicationController"
                && let Some(Value::Object(spec)) = obj.get_mut("spec")
            {
                set(spec, "replicas", json!(1));
                if let Some(template) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
                    pod_spec(template);
                }
            }
        }
        ("", "Service") => service(obj),
        ("", "PersistentVolumeClaim") => persistent_volume_claim(obj),
        ("", "PersistentVolume") => persistent_volume(obj),
        ("", "Namespace") => namespace(obj),
        ("", "Secret") => {
            // core/v1 SetDefaults_Secret: `type` Opaque.
            set(obj, "type", json!("Opaque"));
        }
        ("autoscaling", "HorizontalPodAutoscaler") if gvk.version == "v2" => {
            horizontal_pod_autoscaler(obj)
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => role_binding(obj),
        ("storage.k8s.io", "StorageClass") => {
            // storage/v1 SetDefaults_StorageClass.
            set(obj, "reclaimPolicy", json!("Delete"));
            set(obj, "volumeBindingMode", json!("Immediate"));
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            // scheduling/v1 SetDefaults_PriorityClass.
            set(obj, "preemptionPolicy", json!("PreemptLowerPriority"));
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            // apiextensions/v1 SetDefaults_CustomResourceDefinitionSpec: conversion strategy None.
            if let Some(Value::Object(spec)) = obj.get_mut("spec") {
                set(spec, "conversion", json!({"strategy": "None"}));
            }
        }
        _ => {}
    }
}

/// Set `key` when it is absent or null.
fn set(map: &mut Map<String, Value>, key: &str, value: Value) {
    match map.get(key) {
        None | Some(Value::Null) => {
            map.insert(key.to_string(), value);
        }
        Some(_) => {}
    }
}

/// The map at `key`, created empty when absent or null.
fn map_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    set(map, key, json!({}));
    map.get_mut(key).and_then(Value::as_object_mut)
}

fn spec_of(obj: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    obj.get_mut("spec").and_then(Value::as_object_mut)
}

fn template_spec(spec: &mut Map<String, Value>) {
    if let Some(pod) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
        pod_spec(pod);
    }
}

/// apps/v1 SetDefaults_Deployment: replicas 1, RollingUpdate 25%/25%, revisionHistoryLimit 10,
/// progressDeadlineSeconds 600.
fn deployment(obj: &mut Map<String, Value>) {
    let Some(spec) = spec_of(obj) else { return };
    set(spec, "replicas", json!(1));
    if let Some(strategy) = map_at(spec, "strategy") {
        set(strategy, "type", json!("RollingUpdate"));
        if strategy.get("type") == Some(&json!("RollingUpdate"))
            && let Some(rolling) = map_at(strategy, "rollingUpdate")
        {
            set(rolling, "maxUnavailable", json!("25%"));
            set(rolling, "maxSurge", json!("25%"));
        }
    }
    set(spec, "revisionHistoryLimit", json!(10));
    set(spec, "progressDeadlineSeconds", json!(600));
    template_spec(spec);
}

/// apps/v1 SetDefaults_StatefulSet: podManagementPolicy OrderedReady, RollingUpdate with
/// partition 0, replicas 1, revisionHistoryLimit 10, PVC retention policy Retain/Retain;
/// volume claim templates get the PVC defaults.
fn stateful_set(obj: &mut Map<String, Value>) {
    let Some(spec) = spec_of(obj) else { return };
    set(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(strategy) = map_at(spec, "updateStrategy") {
        set(strategy, "type", json!("RollingUpdate"));
        if strategy.get("type") == Some(&json!("RollingUpdate"))
            && let Some(rolling) = map_at(strategy, "rollingUpdate")
        {
            set(rolling, "partition", json!(0));
        }
    }
    if let Some(policy) = map_at(spec, "persistentVolumeClaimRetentionPolicy") {
        set(policy, "whenDeleted", json!("Retain"));
        set(policy, "whenScaled", json!("Retain"));
    }
    set(spec, "replicas", json!(1));
    set(spec, "revisionHistoryLimit", json!(10));
    if let Some(Value::Array(claims)) = spec.get_mut("volumeClaimTemplates") {
        for claim in claims.iter_mut().filter_map(Value::as_object_mut) {
            persistent_volume_claim(claim);
        }
    }
    template_spec(spec);
}

/// apps/v1 SetDefaults_DaemonSet: RollingUpdate with maxUnavailable 1 and maxSurge 0,
/// revisionHistoryLimit 10.
fn daemon_set(obj: &mut Map<String, Value>) {
    let Some(spec) = spec_of(obj) else { return };
    if let Some(strategy) = map_at(spec, "updateStrategy") {
        set(strategy, "type", json!("RollingUpdate"));
        if strategy.get("type") == Some(&json!("RollingUpdate"))
            && let Some(rolling) = map_at(strategy, "rollingUpdate")
        {
            set(rolling, "maxUnavailable", json!(1));
            set(rolling, "maxSurge", json!(0));
        }
    }
    set(spec, "revisionHistoryLimit", json!(10));
    template_spec(spec);
}

/// apps/v1 SetDefaults_ReplicaSet: replicas 1.
fn replica_set(obj: &mut Map<String, Value>) {
    let Some(spec) = spec_of(obj) else { return };
    set(spec, "replicas", json!(1));
    template_spec(spec);
}

/// batch/v1 SetDefaults_Job: completions and parallelism 1 when both are unset, backoffLimit 6,
/// completionMode NonIndexed, suspend false, podReplacementPolicy TerminatingOrFailed (without a
/// pod failure policy), manualSelector left unset.
fn job(obj: &mut Map<String, Value>) {
    let Some(spec) = spec_of(obj) else { return };
    job_spec(spec);
}

fn job_spec(spec: &mut Map<String, Value>) {
    let unset = |v: Option<&Value>| v.is_none_or(Value::is_null);
    if unset(spec.get("completions")) && unset(spec.get("parallelism")) {
        set(spec, "completions", json!(1));
        set(spec, "parallelism", json!(1));
    }
    set(spec, "parallelism", json!(1));
    if unset(spec.get("backoffLimitPerIndex")) {
        set(spec, "backoffLimit", json!(6));
    }
    set(spec, "completionMode", json!("NonIndexed"));
    set(spec, "suspend", json!(false));
    if unset(spec.get("podFailurePolicy")) {
        set(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    }
    template_spec(spec);
}

/// batch/v1 SetDefaults_CronJob: concurrencyPolicy Allow, suspend false, history limits 3 and 1.
/// The job template gets only the pod template defaults (SetDefaults_Job runs on Jobs).
fn cron_job(obj: &mut Map<String, Value>) {
    let Some(spec) = spec_of(obj) else { return };
    set(spec, "concurrencyPolicy", json!("Allow"));
    set(spec, "suspend", json!(false));
    set(spec, "successfulJobsHistoryLimit", json!(3));
    set(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(job_template) = spec
        .get_mut("jobTemplate")
        .and_then(|t| t.get_mut("spec"))
        .and_then(Value::as_object_mut)
    {
        template_spec(job_template);
    }
}

/// A Pod: the pod spec defaults, plus what the default admission plugins add on create:
/// `DefaultTolerationSeconds` (not-ready / unreachable for 300 s), `Priority` (priority 0,
/// PreemptLowerPriority) and `ServiceAccount` (the `default` account)
/// (<https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/>).
fn pod(obj: &mut Map<String, Value>) {
    let Some(spec) = obj.get_mut("spec") else {
        return;
    };
    pod_spec(spec);
    let Some(spec) = spec.as_object_mut() else {
        return;
    };
    set(spec, "serviceAccountName", json!("default"));
    let account = spec
        .get("serviceAccountName")
        .cloned()
        .unwrap_or(json!("default"));
    set(spec, "serviceAccount", account);
    set(spec, "priority", json!(0));
    set(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    set(spec, "tolerations", json!([]));
    if let Some(Value::Array(tolerations)) = spec.get_mut("tolerations") {
        for key in [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        ] {
            let present = tolerations
                .iter()
                .any(|t| t.get("key").and_then(Value::as_str) == Some(key));
            if !present {
                tolerations.push(json!({
                    "key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300
                }));
            }
        }
    }
}

/// core/v1 SetDefaults_PodSpec (and the container, probe, volume and field-selector defaults
/// zz_generated.defaults.go applies below it): dnsPolicy ClusterFirst, restartPolicy Always,
/// terminationGracePeriodSeconds 30, securityContext {}, schedulerName default-scheduler,
/// enableServiceLinks true.
pub fn pod_spec(spec: &mut Value) {
    let Value::Object(spec) = spec else { return };
    set(spec, "dnsPolicy", json!("ClusterFirst"));
    set(spec, "restartPolicy", json!("Always"));
    set(spec, "terminationGracePeriodSeconds", json!(30));
    set(spec, "securityContext", json!({}));
    set(spec, "schedulerName", json!("default-scheduler"));
    set(spec, "enableServiceLinks", json!(true));
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for container in containers.iter_mut().filter_map(Value::as_object_mut) {
                self::container(container);
            }
        }
    }
    if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
        for volume in volumes.iter_mut().filter_map(Value::as_object_mut) {
            self::volume(volume);
        }
    }
}

/// core/v1 SetDefaults_Container: terminationMessagePath /dev/termination-log,
/// terminationMessagePolicy File, imagePullPolicy Always for `:latest` or no tag, else
/// IfNotPresent; ports' protocol TCP (SetDefaults_ContainerPort); `resources: {}` as the API
/// serialises the empty struct; probes and env field references defaulted.
fn container(c: &mut Map<String, Value>) {
    set(c, "terminationMessagePath", json!("/dev/termination-log"));
    set(c, "terminationMessagePolicy", json!("File"));
    if let Some(image) = c.get("image").and_then(Value::as_str) {
        let policy = if image_tag(image) == Some("latest") {
            "Always"
        } else {
            "IfNotPresent"
        };
        set(c, "imagePullPolicy", json!(policy));
    }
    set(c, "resources", json!({}));
    if let Some(Value::Array(ports)) = c.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            set(port, "protocol", json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(Value::Object(p)) = c.get_mut(probe) {
            self::probe(p);
        }
    }
    if let Some(Value::Array(env)) = c.get_mut("env") {
        for var in env.iter_mut() {
            // SetDefaults_ObjectFieldSelector: fieldRef apiVersion v1.
            if let Some(Value::Object(field_ref)) =
                var.get_mut("valueFrom").and_then(|v| v.get_mut("fieldRef"))
            {
                set(field_ref, "apiVersion", json!("v1"));
            }
        }
    }
}

/// SetDefaults_Probe: timeoutSeconds 1, periodSeconds 10, successThreshold 1, failureThreshold 3;
/// SetDefaults_HTTPGetAction: path `/`, scheme HTTP.
fn probe(p: &mut Map<String, Value>) {
    set(p, "timeoutSeconds", json!(1));
    set(p, "periodSeconds", json!(10));
    set(p, "successThreshold", json!(1));
    set(p, "failureThreshold", json!(3));
    if let Some(Value::Object(http)) = p.get_mut("httpGet") {
        set(http, "path", json!("/"));
        set(http, "scheme", json!("HTTP"));
    }
}

/// Volume sources: configMap, secret, downwardAPI and projected get defaultMode 420 (0644)
/// (SetDefaults_ConfigMapVolumeSource, _SecretVolumeSource, _DownwardAPIVolumeSource,
/// _ProjectedVolumeSource); hostPath type "" (SetDefaults_HostPathVolumeSource).
fn volume(v: &mut Map<String, Value>) {
    for source in ["configMap", "secret", "downwardAPI", "projected"] {
        if let Some(Value::Object(s)) = v.get_mut(source) {
            set(s, "defaultMode", json!(420));
        }
    }
    if let Some(Value::Object(host_path)) = v.get_mut("hostPath") {
        set(host_path, "type", json!(""));
    }
}

/// The tag of an image reference as the API server's defaulting reads it
/// (`parsers.ParseImageName`): `latest` when there is neither tag nor digest, none with a digest only.
fn image_tag(image: &str) -> Option<&str> {
    let (name, digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    match last_segment.split_once(':') {
        Some((_, tag)) => Some(tag),
        None if digest => None,
        None => Some("latest"),
    }
}

/// core/v1 SetDefaults_Service: type ClusterIP, sessionAffinity None, ports' protocol TCP and
/// targetPort = port, externalTrafficPolicy Cluster for NodePort/LoadBalancer,
/// internalTrafficPolicy Cluster, allocateLoadBalancerNodePorts true for LoadBalancer. The
/// Service registry then sets ipFamilyPolicy SingleStack and ipFamilies [IPv4] on a
/// single-stack cluster (<https://kubernetes.io/docs/concepts/services-networking/dual-stack/#services>).
fn service(obj: &mut Map<String, Value>) {
    let Some(spec) = map_at(obj, "spec") else {
        return;
    };
    set(spec, "type", json!("ClusterIP"));
    set(spec, "sessionAffinity", json!("None"));
    let service_type = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            set(port, "protocol", json!("TCP"));
            let unset_target = match port.get("targetPort") {
                None | Some(Value::Null) => true,
                Some(Value::Number(n)) => n.as_i64() == Some(0),
                Some(Value::String(s)) => s.is_empty(),
                Some(_) => false,
            };
            if unset_target && let Some(p) = port.get("port").cloned() {
                port.insert("targetPort".into(), p);
            }
        }
    }
    if service_type == "ExternalName" {
        return;
    }
    if matches!(service_type.as_str(), "NodePort" | "LoadBalancer") {
        set(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if service_type == "LoadBalancer" {
        set(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    set(spec, "internalTrafficPolicy", json!("Cluster"));
    set(spec, "ipFamilyPolicy", json!("SingleStack"));
    set(spec, "ipFamilies", json!(["IPv4"]));
}

/// core/v1 SetDefaults_PersistentVolumeClaimSpec: volumeMode Filesystem;
/// SetDefaults_PersistentVolumeClaim: status.phase Pending.
fn persistent_volume_claim(obj: &mut Map<String, Value>) {
    if let Some(spec) = map_at(obj, "spec") {
        set(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(status) = map_at(obj, "status") {
        set(status, "phase", json!("Pending"));
    }
}

/// core/v1 SetDefaults_PersistentVolume: persistentVolumeReclaimPolicy Retain, volumeMode
/// Filesystem, status.phase Pending. (Dynamic provisioners set Delete explicitly.)
fn persistent_volume(obj: &mut Map<String, Value>) {
    if let Some(spec) = map_at(obj, "spec") {
        set(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        set(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(status) = map_at(obj, "status") {
        set(status, "phase", json!("Pending"));
    }
}

/// core/v1 SetDefaults_Namespace: the `kubernetes.io/metadata.name` label; SetDefaults_NamespaceStatus:
/// phase Active; the namespace registry adds the `kubernetes` finalizer on create.
fn namespace(obj: &mut Map<String, Value>) {
    let name = obj.get("metadata").and_then(|m| m.get("name")).cloned();
    if let (Some(name), Some(meta)) = (name, map_at(obj, "metadata"))
        && let Some(labels) = map_at(meta, "labels")
    {
        labels.insert("kubernetes.io/metadata.name".into(), name);
    }
    if let Some(spec) = map_at(obj, "spec") {
        set(spec, "finalizers", json!(["kubernetes"]));
    }
    if let Some(status) = map_at(obj, "status") {
        set(status, "phase", json!("Active"));
    }
}

/// autoscaling/v2 SetDefaults_HorizontalPodAutoscaler: minReplicas 1, a CPU utilization target of
/// 80% when no metric is given, and the scale-up / scale-down behavior defaults when a behavior is.
fn horizontal_pod_autoscaler(obj: &mut Map<String, Value>) {
    let Some(spec) = spec_of(obj) else { return };
    set(spec, "minReplicas", json!(1));
    let no_metrics = spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if no_metrics {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    if let Some(Value::Object(behavior)) = spec.get_mut("behavior") {
        if let Some(up) = map_at(behavior, "scaleUp") {
            set(up, "stabilizationWindowSeconds", json!(0));
            set(up, "selectPolicy", json!("Max"));
            set(
                up,
                "policies",
                json!([{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]),
            );
        }
        if let Some(down) = map_at(behavior, "scaleDown") {
            set(down, "stabilizationWindowSeconds", json!(300));
            set(down, "selectPolicy", json!("Max"));
            set(
                down,
                "policies",
                json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]),
            );
        }
    }
}

/// rbac/v1 SetDefaults_Subject: apiGroup rbac.authorization.k8s.io for User and Group subjects,
/// "" for ServiceAccount.
fn role_binding(obj: &mut Map<String, Value>) {
    if let Some(Value::Array(subjects)) = obj.get_mut("subjects") {
        for subject in subjects.iter_mut().filter_map(Value::as_object_mut) {
            let group = match subject.get("kind").and_then(Value::as_str) {
                Some("User" | "Group") => "rbac.authorization.k8s.io",
                _ => "",
            };
            set(subject, "apiGroup", json!(group));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(text: &str) -> Value {
        gitops_manifest::yaml::from_str(text).expect("test YAML parses")
    }

    fn defaulted(text: &str) -> Value {
        let mut v = y(text);
        let gvk = Gvk::of(&v).expect("gvk");
        apply_defaults(&mut v, &gvk);
        v
    }

    #[test]
    fn deployment_gets_strategy_limits_and_pod_defaults() {
        let d = defaulted(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      initContainers: [{name: init-copy-config, image: busybox}]
      containers:
      - name: web
        image: example/web:1.2
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {port: 8080}}
        env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
      volumes: [{name: cfg, configMap: {name: web}}]
"#,
        );
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["schedulerName"], "default-scheduler");
        assert_eq!(pod["securityContext"], json!({}));
        let web = &pod["containers"][0];
        assert_eq!(web["imagePullPolicy"], "IfNotPresent");
        assert_eq!(web["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(web["terminationMessagePolicy"], "File");
        assert_eq!(web["ports"][0]["protocol"], "TCP");
        assert_eq!(web["readinessProbe"]["httpGet"]["scheme"], "HTTP");
        assert_eq!(web["readinessProbe"]["periodSeconds"], 10);
        assert_eq!(web["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        // No tag means latest, which is always pulled.
        assert_eq!(pod["initContainers"][0]["imagePullPolicy"], "Always");
        assert_eq!(pod["volumes"][0]["configMap"]["defaultMode"], 420);
    }

    #[test]
    fn explicit_values_are_kept() {
        let d = defaulted(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 0
  strategy: {type: Recreate}
  template: {spec: {restartPolicy: Always, containers: [{name: w, image: w:latest, imagePullPolicy: Never}]}}
"#,
        );
        assert_eq!(d["spec"]["replicas"], 0);
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "Never"
        );
    }

    #[test]
    fn image_tags_are_read_like_the_api_server() {
        assert_eq!(image_tag("nginx"), Some("latest"));
        assert_eq!(image_tag("nginx:latest"), Some("latest"));
        assert_eq!(image_tag("registry:5000/team/app"), Some("latest"));
        assert_eq!(image_tag("registry:5000/team/app:v1"), Some("v1"));
        assert_eq!(image_tag("app@sha256:abc"), None);
        assert_eq!(image_tag("app:v1@sha256:abc"), Some("v1"));
    }

    #[test]
    fn service_gets_type_affinity_ports_and_families() {
        let s = defaulted(
            "{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {ports: [{port: 80}, {port: 443, targetPort: https}]}}",
        );
        let spec = &s["spec"];
        assert_eq!(spec["type"], "ClusterIP");
        assert_eq!(spec["sessionAffinity"], "None");
        assert_eq!(
            spec["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        assert_eq!(spec["ports"][1]["targetPort"], "https");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
        assert!(spec.get("externalTrafficPolicy").is_none());
        let lb = defaulted(
            "{apiVersion: v1, kind: Service, metadata: {name: lb}, spec: {type: LoadBalancer, ports: [{port: 80}]}}",
        );
        assert_eq!(lb["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
    }

    #[test]
    fn volumes_and_claims() {
        let pvc = defaulted(
            "{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: c}, spec: {accessModes: [ReadWriteOnce]}}",
        );
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pvc["status"]["phase"], "Pending");
        let pv = defaulted(
            "{apiVersion: v1, kind: PersistentVolume, metadata: {name: v}, spec: {csi: {driver: disk.csi.azure.com, volumeHandle: h}}}",
        );
        assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(pv["spec"]["volumeMode"], "Filesystem");
    }

    #[test]
    fn jobs_cronjobs_statefulsets_daemonsets() {
        let j = defaulted(
            "{apiVersion: batch/v1, kind: Job, metadata: {name: j}, spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: c:1}]}}}}",
        );
        assert_eq!(
            (
                j["spec"]["completions"].clone(),
                j["spec"]["parallelism"].clone()
            ),
            (json!(1), json!(1))
        );
        assert_eq!(j["spec"]["backoffLimit"], 6);
        assert_eq!(j["spec"]["completionMode"], "NonIndexed");
        assert_eq!(j["spec"]["template"]["spec"]["restartPolicy"], "Never");
        let c = defaulted(
            "{apiVersion: batch/v1, kind: CronJob, metadata: {name: c}, spec: {schedule: '* * * * *', jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: c:1}]}}}}}}",
        );
        assert_eq!(c["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(c["spec"]["successfulJobsHistoryLimit"], 3);
        assert!(
            c["spec"]["jobTemplate"]["spec"]
                .get("backoffLimit")
                .is_none()
        );
        assert_eq!(
            c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"],
            "ClusterFirst"
        );
        let s = defaulted(
            "{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: s}, spec: {volumeClaimTemplates: [{metadata: {name: d}, spec: {}}], template: {spec: {containers: []}}}}",
        );
        assert_eq!(s["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(s["spec"]["updateStrategy"]["rollingUpdate"]["partition"], 0);
        assert_eq!(
            s["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );
        let d = defaulted(
            "{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: d}, spec: {template: {spec: {}}}}",
        );
        assert_eq!(
            d["spec"]["updateStrategy"]["rollingUpdate"],
            json!({"maxUnavailable": 1, "maxSurge": 0})
        );
    }

    #[test]
    fn namespaces_secrets_bindings_and_unknown_kinds() {
        let ns = defaulted("{apiVersion: v1, kind: Namespace, metadata: {name: team}}");
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "team"
        );
        assert_eq!(ns["status"]["phase"], "Active");
        let s = defaulted("{apiVersion: v1, kind: Secret, metadata: {name: s}}");
        assert_eq!(s["type"], "Opaque");
        let rb = defaulted(
            "{apiVersion: rbac.authorization.k8s.io/v1, kind: RoleBinding, metadata: {name: r}, subjects: [{kind: User, name: u}, {kind: ServiceAccount, name: sa}]}",
        );
        assert_eq!(rb["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][1]["apiGroup"], "");
        let cr = defaulted(
            "{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {replicas: null}}",
        );
        assert_eq!(
            cr,
            y(
                "{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {replicas: null}}"
            )
        );
    }

    #[test]
    fn pods_get_admission_defaults() {
        let p = defaulted(
            "{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: c, image: c:1}]}}",
        );
        assert_eq!(p["spec"]["serviceAccountName"], "default");
        assert_eq!(p["spec"]["priority"], 0);
        assert_eq!(p["spec"]["tolerations"].as_array().map(Vec::len), Some(2));
        // Idempotent: defaulting twice changes nothing.
        let mut again = p.clone();
        apply_defaults(&mut again, &Gvk::new("", "v1", "Pod"));
        assert_eq!(again, p);
    }
}
