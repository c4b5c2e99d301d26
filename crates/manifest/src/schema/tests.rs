//! Tests of schema validation with inline manifests.

use serde_json::{Value, json};

use super::*;

fn y(text: &str) -> Value {
    crate::yaml::from_str(text).expect("test YAML parses")
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
  namespace: dev
  labels: {app.kubernetes.io/name: frontend}
  annotations: {note: x}
  creationTimestamp: null
spec:
  replicas: 2
  selector: {matchLabels: {app: frontend}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      initContainers:
      - name: init-copy-config
        image: busybox:1.36
        command: [sh, -c, cp /config/appsettings.json /app/]
        volumeMounts: [{name: config, mountPath: /config}, {name: app, mountPath: /app}]
      containers:
      - name: frontend
        image: example.azurecr.io/frontend:1.0.0
        ports: [{containerPort: 8080, name: http}]
        resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 1, memory: 1}}
        env: [{name: ASPNETCORE_URLS, value: "http://+:8080"}]
        readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 5}
        volumeMounts: [{name: app, mountPath: /app}, {name: data, mountPath: /data}]
      volumes:
      - {name: config, configMap: {name: frontend-config}}
      - {name: app, emptyDir: {}}
      - {name: data, persistentVolumeClaim: {claimName: frontend-data}}
status: {replicas: 2, conditions: [{type: Available, status: "True"}]}
"#;

#[test]
fn a_valid_deployment_has_no_issues() {
    assert_eq!(validate(&y(DEPLOYMENT)), vec![]);
    assert_eq!(
        check_write(&y(DEPLOYMENT), FieldValidation::Strict),
        Ok(vec![])
    );
}

#[test]
fn the_demo_kinds_validate_cleanly() {
    let docs = crate::yaml::parse_documents(
        r#"
apiVersion: v1
kind: PersistentVolume
metadata: {name: frontend-data-pv}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: managed-csi
  csi: {driver: disk.csi.azure.com, volumeHandle: /subscriptions/x/disks/d, volumeAttributes: {fsType: ext4}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: frontend-data, namespace: dev}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: managed-csi
  volumeName: frontend-data-pv
  resources: {requests: {storage: 10Gi}}
---
apiVersion: v1
kind: Service
metadata: {name: frontend, namespace: dev}
spec:
  selector: {app: frontend}
  ports: [{name: http, port: 80, targetPort: http}, {name: https, port: 443, targetPort: 8443}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: frontend-config-6f7t9k2m4b, namespace: dev}
data: {appsettings.json: "{}"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
type: Opaque
data: {password: cGFzc3dvcmQ=}
stringData: {user: admin}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cleanup}
spec:
  schedule: "0 * * * *"
  jobTemplate: {spec: {template: {spec: {restartPolicy: OnFailure, containers: [{name: c, image: c:1}]}}}}
"#,
    )
    .expect("parses");
    for doc in &docs {
        assert_eq!(validate(doc), vec![], "{}", doc["kind"]);
    }
}

#[test]
fn a_misspelled_field_is_unknown_with_its_path() {
    let mut d = y(DEPLOYMENT);
    d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = json!("Always");
    d["spec"]["replicaz"] = json!(3);
    let issues = validate(&d);
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.replicaz",
            "spec.template.spec.containers[0].imagePullPolicyy"
        ]
    );
    assert!(issues.iter().all(|i| i.kind == IssueKind::UnknownField));

    let err = check_write(&d, FieldValidation::Strict).expect_err("strict rejects");
    assert_eq!(err.status_code(), 400);
    assert_eq!(
        err.to_string(),
        r#"strict decoding error: unknown field "spec.replicaz", unknown field "spec.template.spec.containers[0].imagePullPolicyy""#
    );
    let warnings = check_write(&d, FieldValidation::Warn).expect("warn accepts");
    assert_eq!(warnings.len(), 2);
    assert_eq!(
        warnings[1],
        r#"unknown field "spec.template.spec.containers[0].imagePullPolicyy""#
    );
    assert_eq!(check_write(&d, FieldValidation::Ignore), Ok(vec![]));

    let pruned = prune_unknown(&d);
    assert!(pruned["spec"].get("replicaz").is_none());
    assert!(
        pruned["spec"]["template"]["spec"]["containers"][0]
            .get("imagePullPolicyy")
            .is_none()
    );
    assert_eq!(
        pruned["spec"]["template"]["spec"]["containers"][0]["image"],
        "example.azurecr.io/frontend:1.0.0"
    );
    assert_eq!(validate(&pruned), vec![]);
}

#[test]
fn a_wrong_type_is_reported_at_its_path() {
    let mut d = y(DEPLOYMENT);
    d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = json!("8080");
    let issues = validate(&d);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].kind, IssueKind::WrongType);
    assert_eq!(
        issues[0].path,
        "spec.template.spec.containers[0].ports[0].containerPort"
    );
    let err =
        check_write(&d, FieldValidation::Ignore).expect_err("types are checked in every mode");
    assert_eq!(err.status_code(), 400);
    assert!(
        err.to_string()
            .starts_with("spec.template.spec.containers[0].ports[0].containerPort: invalid type")
    );

    let bad_secret =
        y("{apiVersion: v1, kind: Secret, metadata: {name: s}, data: {k: '!!notbase64'}}");
    assert_eq!(validate(&bad_secret)[0].path, "data.k");
}

#[test]
fn missing_required_fields_are_422_with_the_field() {
    let mut d = y(DEPLOYMENT);
    let container = d["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .expect("map");
    container.remove("image");
    d["spec"].as_object_mut().expect("map").remove("selector");
    let err = check_write(&d, FieldValidation::Strict).expect_err("invalid");
    assert_eq!(err.status_code(), 422);
    assert_eq!(err.reason(), "Invalid");
    assert_eq!(
        err.to_string(),
        "spec.selector: Required value, spec.template.spec.containers[0].image: Required value"
    );

    let mut unnamed = y(DEPLOYMENT);
    unnamed["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .expect("map")
        .remove("name");
    let issues = validate(&unnamed);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].path, "spec.template.spec.containers[0].name");
    assert_eq!(issues[0].kind, IssueKind::Required);
}

#[test]
fn selector_template_and_mount_mismatches_are_invalid() {
    let mut d = y(DEPLOYMENT);
    d["spec"]["selector"]["matchLabels"]["app"] = json!("backend");
    d["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][1]["name"] = json!("dat");
    let messages: Vec<String> = validate(&d).iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"frontend"}: `selector` does not match template `labels`"#,
            r#"spec.template.spec.containers[0].volumeMounts[1].name: Not found: "dat""#,
        ]
    );
}

#[test]
fn jobs_need_a_restart_policy_other_than_always() {
    let job = |policy: &str| {
        y(&format!(
            "{{apiVersion: batch/v1, kind: Job, metadata: {{name: j}}, spec: {{template: {{spec: {{{policy} containers: [{{name: c, image: c:1}}]}}}}}}}}"
        ))
    };
    assert_eq!(validate(&job("restartPolicy: Never,")), vec![]);
    let issues = validate(&job(""));
    assert_eq!(
        issues[0].to_string(),
        r#"spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#
    );
    let issues = validate(&job("restartPolicy: Always,"));
    assert_eq!(issues[0].kind, IssueKind::Invalid);
}

#[test]
fn names_follow_their_kinds_rules() {
    let bad = validate(&y(
        "{apiVersion: v1, kind: ConfigMap, metadata: {name: Web_Config}}",
    ));
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].path, "metadata.name");
    assert!(
        bad[0]
            .message
            .starts_with(r#"Invalid value: "Web_Config": a lowercase RFC 1123 subdomain"#),
        "{}",
        bad[0]
    );
    // Services are DNS-1035 labels: no leading digit, no dots.
    assert_eq!(
        validate(&y(
            "{apiVersion: v1, kind: Service, metadata: {name: 1web}, spec: {clusterIP: None}}"
        ))
        .len(),
        1
    );
    assert_eq!(
        validate(&y(
            "{apiVersion: v1, kind: Service, metadata: {name: web.v1}, spec: {clusterIP: None}}"
        ))
        .len(),
        1
    );
    assert_eq!(
        validate(&y(
            "{apiVersion: v1, kind: ConfigMap, metadata: {name: web.v1}}"
        )),
        vec![]
    );
    // Namespaces are labels; RBAC names are path segments.
    assert_eq!(
        validate(&y(
            "{apiVersion: v1, kind: Namespace, metadata: {name: team.a}}"
        ))
        .len(),
        1
    );
    let role = y(
        "{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: 'system:reader'}}",
    );
    assert_eq!(validate(&role), vec![]);
    let long = "a".repeat(53);
    let cron = y(&format!(
        "{{apiVersion: batch/v1, kind: CronJob, metadata: {{name: {long}}}, spec: {{schedule: '* * * * *', jobTemplate: {{spec: {{template: {{spec: {{restartPolicy: Never, containers: [{{name: c, image: c}}]}}}}}}}}}}}}"
    ));
    assert_eq!(
        validate(&cron)[0].message,
        format!("Invalid value: {long:?}: must be no more than 52 characters")
    );
    let missing = validate(&y("{apiVersion: v1, kind: ConfigMap, metadata: {}}"));
    assert_eq!(
        missing[0].to_string(),
        "metadata.name: Required value: name or generateName is required"
    );
}

#[test]
fn labels_and_config_keys_are_checked() {
    let cm = y(
        "{apiVersion: v1, kind: ConfigMap, metadata: {name: c, labels: {'bad key!': x, ok: 'bad value!'}}, data: {'a b': x}}",
    );
    let paths: Vec<String> = validate(&cm).iter().map(|i| i.path.clone()).collect();
    assert_eq!(paths, ["metadata.labels", "metadata.labels", "data[a b]"]);
}

#[test]
fn custom_resources_get_only_metadata_checks() {
    let cr = y(
        "{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {anything: [1, 2]}}",
    );
    assert!(!has_schema(&Gvk::new("example.com", "v1", "Widget")));
    assert!(has_schema(&Gvk::new("apps", "v1", "Deployment")));
    assert_eq!(validate(&cr), vec![]);
    assert_eq!(prune_unknown(&cr), cr);
    assert_eq!(FieldValidation::parse("Warn"), Some(FieldValidation::Warn));
    assert_eq!(FieldValidation::parse("warn"), None);
}
