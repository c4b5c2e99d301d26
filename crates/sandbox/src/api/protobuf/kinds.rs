//! The protobuf field numbers of the kinds kubectl's typed `create` commands send, from the
//! Kubernetes API's `generated.proto` files (k8s.io/api, k8s.io/apimachinery), as far as those
//! commands and the server's defaults use them. A field that is not listed here and carries a
//! value makes the body unsupported (415), so nothing a client sent is silently lost.
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding

use super::{Field, Ty, f, rep};

// meta/v1
const OWNER_REFERENCE: &[Field] = &[
    f(1, "kind", Ty::Str),
    f(3, "name", Ty::Str),
    f(4, "uid", Ty::Str),
    f(5, "apiVersion", Ty::Str),
    f(6, "controller", Ty::Bool),
    f(7, "blockOwnerDeletion", Ty::Bool),
];
/// ObjectMeta; the fields the server owns (selfLink, timestamps, managedFields) are ignored,
/// as the server resets them on a create.
const OBJECT_META: &[Field] = &[
    f(1, "name", Ty::Str),
    f(2, "generateName", Ty::Str),
    f(3, "namespace", Ty::Str),
    f(4, "selfLink", Ty::Ignore),
    f(5, "uid", Ty::Str),
    f(6, "resourceVersion", Ty::Str),
    f(7, "generation", Ty::Int),
    f(8, "creationTimestamp", Ty::Ignore),
    f(9, "deletionTimestamp", Ty::Ignore),
    f(10, "deletionGracePeriodSeconds", Ty::Ignore),
    f(11, "labels", Ty::StrMap),
    f(12, "annotations", Ty::StrMap),
    rep(13, "ownerReferences", Ty::Msg(OWNER_REFERENCE)),
    rep(14, "finalizers", Ty::Str),
    rep(17, "managedFields", Ty::Ignore),
];
const LABEL_SELECTOR_REQUIREMENT: &[Field] = &[
    f(1, "key", Ty::Str),
    f(2, "operator", Ty::Str),
    rep(3, "values", Ty::Str),
];
const LABEL_SELECTOR: &[Field] = &[
    f(1, "matchLabels", Ty::StrMap),
    rep(2, "matchExpressions", Ty::Msg(LABEL_SELECTOR_REQUIREMENT)),
];
/// Every kind's `status`: the server ignores it on a create of the main resource.
const STATUS: Field = f(3, "status", Ty::Ignore);

// core/v1
const NAMESPACE_SPEC: &[Field] = &[rep(1, "finalizers", Ty::Str)];
pub(super) const NAMESPACE: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "spec", Ty::Msg(NAMESPACE_SPEC)),
    STATUS,
];
pub(super) const CONFIG_MAP: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "data", Ty::StrMap),
    f(3, "binaryData", Ty::BytesMap),
    f(4, "immutable", Ty::Bool),
];
pub(super) const SECRET: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "data", Ty::BytesMap),
    f(3, "type", Ty::Str),
    f(4, "stringData", Ty::StrMap),
    f(5, "immutable", Ty::Bool),
];
const OBJECT_REFERENCE: &[Field] = &[
    f(1, "kind", Ty::Str),
    f(2, "namespace", Ty::Str),
    f(3, "name", Ty::Str),
    f(4, "uid", Ty::Str),
    f(5, "apiVersion", Ty::Str),
    f(6, "resourceVersion", Ty::Str),
    f(7, "fieldPath", Ty::Str),
];
const LOCAL_OBJECT_REFERENCE: &[Field] = &[f(1, "name", Ty::Str)];
pub(super) const SERVICE_ACCOUNT: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    rep(2, "secrets", Ty::Msg(OBJECT_REFERENCE)),
    rep(3, "imagePullSecrets", Ty::Msg(LOCAL_OBJECT_REFERENCE)),
    f(4, "automountServiceAccountToken", Ty::Bool),
];
const CONTAINER_PORT: &[Field] = &[
    f(1, "name", Ty::Str),
    f(2, "hostPort", Ty::Int),
    f(3, "containerPort", Ty::Int),
    f(4, "protocol", Ty::Str),
    f(5, "hostIP", Ty::Str),
];
const ENV_VAR: &[Field] = &[f(1, "name", Ty::Str), f(2, "value", Ty::Str)];
const RESOURCE_REQUIREMENTS: &[Field] = &[
    f(1, "limits", Ty::QuantityMap),
    f(2, "requests", Ty::QuantityMap),
];
const CONTAINER: &[Field] = &[
    f(1, "name", Ty::Str),
    f(2, "image", Ty::Str),
    rep(3, "command", Ty::Str),
    rep(4, "args", Ty::Str),
    f(5, "workingDir", Ty::Str),
    rep(6, "ports", Ty::Msg(CONTAINER_PORT)),
    rep(7, "env", Ty::Msg(ENV_VAR)),
    f(8, "resources", Ty::Msg(RESOURCE_REQUIREMENTS)),
    f(13, "terminationMessagePath", Ty::Str),
    f(14, "imagePullPolicy", Ty::Str),
    f(16, "stdin", Ty::Flag),
    f(17, "stdinOnce", Ty::Flag),
    f(18, "tty", Ty::Flag),
    f(20, "terminationMessagePolicy", Ty::Str),
];
/// PodSecurityContext: only the empty one the server defaults to.
const POD_SECURITY_CONTEXT: &[Field] = &[];
const POD_SPEC: &[Field] = &[
    rep(2, "containers", Ty::Msg(CONTAINER)),
    f(3, "restartPolicy", Ty::Str),
    f(4, "terminationGracePeriodSeconds", Ty::OptInt),
    f(5, "activeDeadlineSeconds", Ty::OptInt),
    f(6, "dnsPolicy", Ty::Str),
    f(7, "nodeSelector", Ty::StrMap),
    f(8, "serviceAccountName", Ty::Str),
    f(9, "serviceAccount", Ty::Str),
    f(10, "nodeName", Ty::Str),
    f(11, "hostNetwork", Ty::Flag),
    f(12, "hostPID", Ty::Flag),
    f(13, "hostIPC", Ty::Flag),
    f(14, "securityContext", Ty::Msg(POD_SECURITY_CONTEXT)),
    rep(15, "imagePullSecrets", Ty::Msg(LOCAL_OBJECT_REFERENCE)),
    f(16, "hostname", Ty::Str),
    f(17, "subdomain", Ty::Str),
    f(19, "schedulerName", Ty::Str),
    rep(20, "initContainers", Ty::Msg(CONTAINER)),
    f(24, "priorityClassName", Ty::Str),
    f(30, "enableServiceLinks", Ty::Bool),
];
const POD_TEMPLATE_SPEC: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "spec", Ty::Msg(POD_SPEC)),
];
const SERVICE_PORT: &[Field] = &[
    f(1, "name", Ty::Str),
    f(2, "protocol", Ty::Str),
    f(3, "port", Ty::Int),
    f(4, "targetPort", Ty::IntOrString),
    f(5, "nodePort", Ty::Int),
    f(6, "appProtocol", Ty::Str),
];
const SERVICE_SPEC: &[Field] = &[
    rep(1, "ports", Ty::Msg(SERVICE_PORT)),
    f(2, "selector", Ty::StrMap),
    f(3, "clusterIP", Ty::Str),
    f(4, "type", Ty::Str),
    rep(5, "externalIPs", Ty::Str),
    f(7, "sessionAffinity", Ty::Str),
    f(10, "externalName", Ty::Str),
    f(12, "healthCheckNodePort", Ty::Int),
    f(13, "publishNotReadyAddresses", Ty::Flag),
];
pub(super) const SERVICE: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "spec", Ty::Msg(SERVICE_SPEC)),
    STATUS,
];

// apps/v1
const ROLLING_UPDATE_DEPLOYMENT: &[Field] = &[
    f(1, "maxUnavailable", Ty::IntOrString),
    f(2, "maxSurge", Ty::IntOrString),
];
const DEPLOYMENT_STRATEGY: &[Field] = &[
    f(1, "type", Ty::Str),
    f(2, "rollingUpdate", Ty::Msg(ROLLING_UPDATE_DEPLOYMENT)),
];
const DEPLOYMENT_SPEC: &[Field] = &[
    f(1, "replicas", Ty::OptInt),
    f(2, "selector", Ty::Msg(LABEL_SELECTOR)),
    f(3, "template", Ty::Msg(POD_TEMPLATE_SPEC)),
    f(4, "strategy", Ty::Msg(DEPLOYMENT_STRATEGY)),
    f(5, "minReadySeconds", Ty::Int),
    f(6, "revisionHistoryLimit", Ty::OptInt),
    f(7, "paused", Ty::Flag),
    f(9, "progressDeadlineSeconds", Ty::OptInt),
];
pub(super) const DEPLOYMENT: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "spec", Ty::Msg(DEPLOYMENT_SPEC)),
    STATUS,
];

// batch/v1
const JOB_SPEC: &[Field] = &[
    f(1, "parallelism", Ty::OptInt),
    f(2, "completions", Ty::OptInt),
    f(3, "activeDeadlineSeconds", Ty::OptInt),
    f(4, "selector", Ty::Msg(LABEL_SELECTOR)),
    f(5, "manualSelector", Ty::Bool),
    f(6, "template", Ty::Msg(POD_TEMPLATE_SPEC)),
    f(7, "backoffLimit", Ty::OptInt),
    f(8, "ttlSecondsAfterFinished", Ty::OptInt),
    f(9, "completionMode", Ty::Str),
    f(10, "suspend", Ty::Bool),
    f(14, "podReplacementPolicy", Ty::Str),
    f(15, "managedBy", Ty::Str),
];
pub(super) const JOB: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "spec", Ty::Msg(JOB_SPEC)),
    STATUS,
];
const JOB_TEMPLATE_SPEC: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "spec", Ty::Msg(JOB_SPEC)),
];
const CRON_JOB_SPEC: &[Field] = &[
    f(1, "schedule", Ty::Str),
    f(2, "startingDeadlineSeconds", Ty::OptInt),
    f(3, "concurrencyPolicy", Ty::Str),
    f(4, "suspend", Ty::Bool),
    f(5, "jobTemplate", Ty::Msg(JOB_TEMPLATE_SPEC)),
    f(6, "successfulJobsHistoryLimit", Ty::OptInt),
    f(7, "failedJobsHistoryLimit", Ty::OptInt),
    f(8, "timeZone", Ty::Str),
];
pub(super) const CRON_JOB: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "spec", Ty::Msg(CRON_JOB_SPEC)),
    STATUS,
];

// rbac.authorization.k8s.io/v1
const POLICY_RULE: &[Field] = &[
    rep(1, "verbs", Ty::Str),
    rep(2, "apiGroups", Ty::Str),
    rep(3, "resources", Ty::Str),
    rep(4, "resourceNames", Ty::Str),
    rep(5, "nonResourceURLs", Ty::Str),
];
const SUBJECT: &[Field] = &[
    f(1, "kind", Ty::Str),
    f(2, "apiGroup", Ty::Str),
    f(3, "name", Ty::Str),
    f(4, "namespace", Ty::Str),
];
const ROLE_REF: &[Field] = &[
    f(1, "apiGroup", Ty::Str),
    f(2, "kind", Ty::Str),
    f(3, "name", Ty::Str),
];
/// Role and ClusterRole (without an aggregation rule).
pub(super) const ROLE: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    rep(2, "rules", Ty::Msg(POLICY_RULE)),
];
/// RoleBinding and ClusterRoleBinding.
pub(super) const ROLE_BINDING: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    rep(2, "subjects", Ty::Msg(SUBJECT)),
    f(3, "roleRef", Ty::Msg(ROLE_REF)),
];

// policy/v1
const POD_DISRUPTION_BUDGET_SPEC: &[Field] = &[
    f(1, "minAvailable", Ty::IntOrString),
    f(2, "selector", Ty::Msg(LABEL_SELECTOR)),
    f(3, "maxUnavailable", Ty::IntOrString),
];
pub(super) const POD_DISRUPTION_BUDGET: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "spec", Ty::Msg(POD_DISRUPTION_BUDGET_SPEC)),
    STATUS,
];

// networking.k8s.io/v1
const SERVICE_BACKEND_PORT: &[Field] = &[f(1, "name", Ty::Str), f(2, "number", Ty::Int)];
const INGRESS_SERVICE_BACKEND: &[Field] = &[
    f(1, "name", Ty::Str),
    f(2, "port", Ty::Msg(SERVICE_BACKEND_PORT)),
];
const INGRESS_BACKEND: &[Field] = &[f(4, "service", Ty::Msg(INGRESS_SERVICE_BACKEND))];
const HTTP_INGRESS_PATH: &[Field] = &[
    f(1, "path", Ty::Str),
    f(2, "backend", Ty::Msg(INGRESS_BACKEND)),
    f(3, "pathType", Ty::Str),
];
const HTTP_INGRESS_RULE_VALUE: &[Field] = &[rep(1, "paths", Ty::Msg(HTTP_INGRESS_PATH))];
/// IngressRuleValue, inline in IngressRule's JSON.
const INGRESS_RULE_VALUE: &[Field] = &[f(1, "http", Ty::Msg(HTTP_INGRESS_RULE_VALUE))];
const INGRESS_RULE: &[Field] = &[
    f(1, "host", Ty::Str),
    f(2, "", Ty::Inline(INGRESS_RULE_VALUE)),
];
const INGRESS_TLS: &[Field] = &[rep(1, "hosts", Ty::Str), f(2, "secretName", Ty::Str)];
const INGRESS_SPEC: &[Field] = &[
    f(1, "defaultBackend", Ty::Msg(INGRESS_BACKEND)),
    rep(2, "tls", Ty::Msg(INGRESS_TLS)),
    rep(3, "rules", Ty::Msg(INGRESS_RULE)),
    f(4, "ingressClassName", Ty::Str),
];
pub(super) const INGRESS: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "spec", Ty::Msg(INGRESS_SPEC)),
    STATUS,
];

// autoscaling/v2
const CROSS_VERSION_OBJECT_REFERENCE: &[Field] = &[
    f(1, "kind", Ty::Str),
    f(2, "name", Ty::Str),
    f(3, "apiVersion", Ty::Str),
];
const METRIC_TARGET: &[Field] = &[
    f(1, "type", Ty::Str),
    f(4, "averageUtilization", Ty::OptInt),
];
const RESOURCE_METRIC_SOURCE: &[Field] = &[
    f(1, "name", Ty::Str),
    f(2, "target", Ty::Msg(METRIC_TARGET)),
];
const METRIC_SPEC: &[Field] = &[
    f(1, "type", Ty::Str),
    f(4, "resource", Ty::Msg(RESOURCE_METRIC_SOURCE)),
];
const HPA_SPEC: &[Field] = &[
    f(1, "scaleTargetRef", Ty::Msg(CROSS_VERSION_OBJECT_REFERENCE)),
    f(2, "minReplicas", Ty::OptInt),
    f(3, "maxReplicas", Ty::Int),
    rep(4, "metrics", Ty::Msg(METRIC_SPEC)),
];
/// What `kubectl autoscale` sends.
pub(super) const HORIZONTAL_POD_AUTOSCALER: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "spec", Ty::Msg(HPA_SPEC)),
    STATUS,
];

/// `TypeMeta` of the `runtime.Unknown` envelope.
pub(super) const TYPE_META: &[Field] = &[f(1, "apiVersion", Ty::Str), f(2, "kind", Ty::Str)];

/// The fields of a kind this decoder reads, by its `apiVersion` and `kind`.
pub(super) fn schema(api_version: &str, kind: &str) -> Option<&'static [Field]> {
    const RBAC: &str = "rbac.authorization.k8s.io/v1";
    match (api_version, kind) {
        ("v1", "Namespace") => Some(NAMESPACE),
        ("v1", "ConfigMap") => Some(CONFIG_MAP),
        ("v1", "Secret") => Some(SECRET),
        ("v1", "ServiceAccount") => Some(SERVICE_ACCOUNT),
        ("v1", "Service") => Some(SERVICE),
        ("apps/v1", "Deployment") => Some(DEPLOYMENT),
        ("batch/v1", "Job") => Some(JOB),
        ("batch/v1", "CronJob") => Some(CRON_JOB),
        (RBAC, "Role" | "ClusterRole") => Some(ROLE),
        (RBAC, "RoleBinding" | "ClusterRoleBinding") => Some(ROLE_BINDING),
        ("policy/v1", "PodDisruptionBudget") => Some(POD_DISRUPTION_BUDGET),
        ("networking.k8s.io/v1", "Ingress") => Some(INGRESS),
        ("autoscaling/v2", "HorizontalPodAutoscaler") => Some(HORIZONTAL_POD_AUTOSCALER),
        _ => None,
    }
}
