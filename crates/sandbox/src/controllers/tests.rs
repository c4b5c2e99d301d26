//! The controllers on a manual clock: what a user would see with `kubectl get` after a while.

use std::time::Duration;

use serde_json::{Value, json};

use super::Controllers;
use super::meta::keys;
use crate::clock::Clock;
use crate::store::Store;

fn cluster() -> (Store, Controllers) {
    let store = Store::new();
    crate::bootstrap::install(&store).unwrap();
    let controllers = Controllers::new(store.clone(), Clock::manual());
    (store, controllers)
}

fn deployment(name: &str, replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": 60,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image, "ports": [{"name": "http", "containerPort": 8080}], "readinessProbe": {"httpGet": {"path": "/", "port": 8080}}}]},
            },
        },
    })
}

fn pods_of(store: &Store, app: &str) -> Vec<Value> {
    let (pods, _) = store.list(&keys::pods(), Some("default"));
    pods.into_iter()
        .filter(|p| p["metadata"]["labels"]["app"] == app)
        .collect()
}

fn condition<'a>(object: &'a Value, type_: &str) -> &'a Value {
    object["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap()
}

fn events_about(store: &Store, name: &str) -> Vec<(String, String, i64)> {
    let (events, _) = store.list(&keys::events(), Some("default"));
    events
        .into_iter()
        .filter(|e| e["involvedObject"]["name"] == name)
        .map(|e| {
            (
                e["reason"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
                e["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_deployment_rolls_out_through_a_replicaset_to_ready_pods() {
    let (store, mut controllers) = cluster();
    store
        .create(&keys::deployments(), deployment("web", 2, "nginx:1.25"))
        .unwrap();
    controllers.settle(Duration::from_millis(500));
    // Half a second in: pods exist, scheduled, not ready yet.
    let pods = pods_of(&store, "web");
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|p| {
        p["spec"]["nodeName"]
            .as_str()
            .unwrap()
            .starts_with("aks-nodepool1-")
    }));
    assert!(
        pods.iter()
            .all(|p| condition(p, "Ready")["status"] == "False")
    );

    controllers.settle(Duration::from_secs(2));
    let (sets, _) = store.list(&keys::replica_sets(), Some("default"));
    assert_eq!(sets.len(), 1);
    let rs = &sets[0];
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap();
    assert_eq!(rs["metadata"]["name"], format!("web-{hash}"));
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    assert_eq!(rs["status"]["readyReplicas"], 2);

    let pods = pods_of(&store, "web");
    for pod in &pods {
        assert!(
            pod["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with(&format!("web-{hash}-"))
        );
        assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
        assert_eq!(pod["status"]["phase"], "Running");
        assert_eq!(condition(pod, "Ready")["status"], "True");
        assert!(
            pod["status"]["podIP"]
                .as_str()
                .unwrap()
                .starts_with("10.244.")
        );
        assert!(pod["status"]["containerStatuses"][0]["state"]["running"].is_object());
        assert_eq!(
            pod["status"]["containerStatuses"][0]["image"],
            "docker.io/library/nginx:1.25"
        );
        let log = store
            .container_log("default", pod["metadata"]["name"].as_str().unwrap(), "app")
            .unwrap();
        assert!(
            log.current
                .contains(&"app: listening on port 8080".to_owned()),
            "{log:?}"
        );
        let reasons: Vec<String> = events_about(&store, pod["metadata"]["name"].as_str().unwrap())
            .into_iter()
            .map(|e| e.0)
            .collect();
        for reason in ["Scheduled", "Pulling", "Pulled", "Created", "Started"] {
            assert!(
                reasons.contains(&reason.to_owned()),
                "{reason} missing in {reasons:?}"
            );
        }
    }

    let web = store
        .get(&keys::deployments(), Some("default"), "web")
        .unwrap();
    assert_eq!(web["status"]["observedGeneration"], 1);
    assert_eq!(web["status"]["replicas"], 2);
    assert_eq!(web["status"]["updatedReplicas"], 2);
    assert_eq!(web["status"]["availableReplicas"], 2);
    assert_eq!(
        condition(&web, "Available")["reason"],
        "MinimumReplicasAvailable"
    );
    assert_eq!(
        condition(&web, "Progressing")["reason"],
        "NewReplicaSetAvailable"
    );
    let scaled = events_about(&store, "web");
    assert!(
        scaled.iter().any(|e| e.0 == "ScalingReplicaSet"
            && e.1 == format!("Scaled up replica set web-{hash} from 0 to 2")),
        "{scaled:?}"
    );
}

#[test]
fn a_new_image_rolls_to_a_new_replicaset_and_scaling_to_zero_and_back_works() {
    let (store, mut controllers) = cluster();
    store
        .create(&keys::deployments(), deployment("web", 3, "nginx:1.25"))
        .unwrap();
    controllers.settle(Duration::from_secs(3));
    let mut web = store
        .get(&keys::deployments(), Some("default"), "web")
        .unwrap();
    // The Deployment carries its newest ReplicaSet's revision (`kubectl rollout undo` needs it).
    assert_eq!(
        web["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    assert_eq!(
        web["metadata"]["generation"], 1,
        "an annotation is not a spec change"
    );
    web["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.26");
    store.update(&keys::deployments(), web).unwrap();
    controllers.settle(Duration::from_secs(10));

    let (sets, _) = store.list(&keys::replica_sets(), Some("default"));
    assert_eq!(sets.len(), 2);
    let new = sets
        .iter()
        .find(|rs| rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2")
        .unwrap();
    let old = sets
        .iter()
        .find(|rs| rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1")
        .unwrap();
    assert_eq!(new["spec"]["replicas"], 3);
    assert_eq!(old["spec"]["replicas"], 0);
    let pods = pods_of(&store, "web");
    assert_eq!(pods.len(), 3);
    assert!(
        pods.iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.26")
    );
    let web = store
        .get(&keys::deployments(), Some("default"), "web")
        .unwrap();
    assert_eq!(web["status"]["observedGeneration"], 2);
    assert_eq!(
        web["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    assert_eq!(web["status"]["updatedReplicas"], 3);
    assert_eq!(
        condition(&web, "Progressing")["reason"],
        "NewReplicaSetAvailable"
    );

    let mut web = web;
    web["spec"]["replicas"] = json!(0);
    store.update(&keys::deployments(), web).unwrap();
    controllers.settle(Duration::from_secs(2));
    assert!(pods_of(&store, "web").is_empty());
    let mut web = store
        .get(&keys::deployments(), Some("default"), "web")
        .unwrap();
    assert!(
        web["status"].get("replicas").is_none(),
        "zero counts are omitted: {}",
        web["status"]
    );
    web["spec"]["replicas"] = json!(1);
    store.update(&keys::deployments(), web).unwrap();
    controllers.settle(Duration::from_secs(2));
    let pods = pods_of(&store, "web");
    assert_eq!(pods.len(), 1);
    assert_eq!(condition(&pods[0], "Ready")["status"], "True");

    // A deleted pod is replaced by the ReplicaSet.
    let name = pods[0]["metadata"]["name"].as_str().unwrap().to_owned();
    store.delete(&keys::pods(), Some("default"), &name).unwrap();
    controllers.settle(Duration::from_secs(2));
    let pods = pods_of(&store, "web");
    assert_eq!(pods.len(), 1);
    assert_ne!(pods[0]["metadata"]["name"], name.as_str());
}

#[test]
fn a_crashloop_tag_crash_loops_with_backoff_logs_and_a_progress_deadline() {
    let (store, mut controllers) = cluster();
    store
        .create(
            &keys::deployments(),
            deployment("bad", 1, "myregistry.azurecr.io/bad:1.0-crashloop"),
        )
        .unwrap();
    controllers.settle(Duration::from_secs(45));
    let pods = pods_of(&store, "bad");
    let pod = &pods[0];
    let status = &pod["status"]["containerStatuses"][0];
    // Crashes at ~1.2 s (restarted at once), 1.9 s, 12.6 s and 33.3 s (back-off 10 s, then 20 s,
    // then 40 s): three restarts by 45 s.
    assert_eq!(status["restartCount"], 3, "{status}");
    assert_eq!(status["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(status["lastState"]["terminated"]["reason"], "Error");
    assert_eq!(status["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert_eq!(pod["status"]["phase"], "Running");
    let name = pod["metadata"]["name"].as_str().unwrap();
    let log = store.container_log("default", name, "app").unwrap();
    let previous = log.previous.unwrap();
    assert!(
        previous.iter().any(|l| l.contains("ends in -crashloop")),
        "{previous:?}"
    );
    let backoff = events_about(&store, name)
        .into_iter()
        .find(|e| e.0 == "BackOff")
        .unwrap();
    assert!(
        backoff
            .1
            .starts_with("Back-off restarting failed container app in pod"),
        "{}",
        backoff.1
    );
    assert!(backoff.2 >= 2);

    // progressDeadlineSeconds is 60: the rollout is reported failed after it.
    controllers.settle(Duration::from_secs(30));
    let bad = store
        .get(&keys::deployments(), Some("default"), "bad")
        .unwrap();
    let progressing = condition(&bad, "Progressing");
    assert_eq!(progressing["status"], "False");
    assert_eq!(progressing["reason"], "ProgressDeadlineExceeded");
    assert_eq!(condition(&bad, "Available")["status"], "False");
}

/// A real kubelet restarts a container at once after its first crash and backs off only from
/// the second: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts
/// So CrashLoopBackOff always comes with `restartCount >= 1` and a previous log.
#[test]
fn the_first_crash_is_restarted_at_once_and_the_back_off_starts_from_the_second() {
    let (store, mut controllers) = cluster();
    store
        .create(
            &keys::deployments(),
            deployment("bad", 1, "myregistry.azurecr.io/bad:1.0-crashloop"),
        )
        .unwrap();
    let app_status = |store: &Store| {
        let pod = pods_of(store, "bad").remove(0);
        let name = pod["metadata"]["name"].as_str().unwrap().to_owned();
        (name, pod["status"]["containerStatuses"][0].clone())
    };
    // Started at ~0.7 s, crashed at ~1.2 s, restarted at once: running again at 1.6 s.
    controllers.settle(Duration::from_millis(1600));
    let (name, status) = app_status(&store);
    assert_eq!(status["restartCount"], 1, "{status}");
    assert!(status["state"]["running"].is_object(), "{status}");
    assert_eq!(status["lastState"]["terminated"]["exitCode"], 1, "{status}");
    assert!(
        !events_about(&store, &name).iter().any(|e| e.0 == "BackOff"),
        "no back-off after the first crash"
    );
    let log = store.container_log("default", &name, "app").unwrap();
    assert!(
        log.previous
            .as_ref()
            .is_some_and(|p| p.iter().any(|l| l.contains("ends in -crashloop"))),
        "{log:?}"
    );

    // The second crash (~1.9 s) backs off 10 s.
    controllers.settle(Duration::from_secs(1));
    let (name, status) = app_status(&store);
    assert_eq!(status["restartCount"], 1, "{status}");
    assert_eq!(status["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert!(
        status["state"]["waiting"]["message"]
            .as_str()
            .unwrap()
            .starts_with("back-off 10s restarting failed container=app"),
        "{status}"
    );
    assert!(events_about(&store, &name).iter().any(|e| e.0 == "BackOff"));

    // Restarted at ~11.9 s, crashed at ~12.6 s: the next back-off is 20 s.
    controllers.settle(Duration::from_secs(11));
    let (_, status) = app_status(&store);
    assert_eq!(status["restartCount"], 2, "{status}");
    assert!(
        status["state"]["waiting"]["message"]
            .as_str()
            .unwrap()
            .starts_with("back-off 20s "),
        "{status}"
    );
}

#[test]
fn pull_failures_and_failing_init_containers_show_as_kubectl_expects() {
    let (store, mut controllers) = cluster();
    store
        .create(
            &keys::deployments(),
            deployment("nopull", 1, "nginx:9.9-pullfail"),
        )
        .unwrap();
    let mut init = deployment("initbad", 1, "nginx:1.25");
    init["spec"]["template"]["spec"]["initContainers"] = json!([{"name": "init-copy-config", "image": "busybox:1.36-crashloop", "command": ["sh", "-c", "cp /a /b"]}]);
    store.create(&keys::deployments(), init).unwrap();
    controllers.settle(Duration::from_millis(800));
    let pod = &pods_of(&store, "nopull")[0];
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
        "ErrImagePull"
    );
    controllers.settle(Duration::from_secs(3));
    let pod = &pods_of(&store, "nopull")[0];
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
        "ImagePullBackOff"
    );
    assert_eq!(pod["status"]["phase"], "Pending");

    controllers.settle(Duration::from_secs(15));
    let pod = &pods_of(&store, "initbad")[0];
    let init_status = &pod["status"]["initContainerStatuses"][0];
    assert_eq!(
        init_status["state"]["waiting"]["reason"], "CrashLoopBackOff",
        "{init_status}"
    );
    assert!(init_status["restartCount"].as_i64().unwrap() >= 1);
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
        "PodInitializing"
    );
    assert_eq!(pod["status"]["phase"], "Pending");
    assert_eq!(
        condition(pod, "Initialized")["reason"],
        "ContainersNotInitialized"
    );
    let log = store
        .container_log(
            "default",
            pod["metadata"]["name"].as_str().unwrap(),
            "init-copy-config",
        )
        .unwrap();
    assert!(
        log.current.contains(&"+ sh -c cp /a /b".to_owned()),
        "{log:?}"
    );
}

#[test]
fn claims_bind_to_named_volumes_and_wait_for_their_first_consumer() {
    let (store, mut controllers) = cluster();
    store
        .create(&keys::persistent_volumes(), json!({
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "disk"},
            "spec": {"capacity": {"storage": "32Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "managed-csi", "persistentVolumeReclaimPolicy": "Retain",
                     "csi": {"driver": "disk.csi.azure.com", "volumeHandle": "/x"}},
        }))
        .unwrap();
    let claim = |name: &str, volume: Option<&str>| {
        let mut c = json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "managed-csi", "resources": {"requests": {"storage": "10Gi"}}},
        });
        if let Some(v) = volume {
            c["spec"]["volumeName"] = json!(v);
        }
        c
    };
    store
        .create(
            &keys::persistent_volume_claims(),
            claim("named", Some("disk")),
        )
        .unwrap();
    store
        .create(&keys::persistent_volume_claims(), claim("dynamic", None))
        .unwrap();
    controllers.settle(Duration::from_secs(1));
    let named = store
        .get(&keys::persistent_volume_claims(), Some("default"), "named")
        .unwrap();
    assert_eq!(named["status"]["phase"], "Bound");
    assert_eq!(named["status"]["capacity"]["storage"], "32Gi");
    let disk = store
        .get(&keys::persistent_volumes(), None, "disk")
        .unwrap();
    assert_eq!(disk["status"]["phase"], "Bound");
    assert_eq!(disk["spec"]["claimRef"]["name"], "named");
    let dynamic = store
        .get(
            &keys::persistent_volume_claims(),
            Some("default"),
            "dynamic",
        )
        .unwrap();
    assert_eq!(
        dynamic["status"]["phase"], "Pending",
        "WaitForFirstConsumer: no pod yet"
    );
    assert!(
        events_about(&store, "dynamic")
            .iter()
            .any(|e| e.0 == "WaitForFirstConsumer")
    );

    let mut user = deployment("user", 1, "nginx:1.25");
    user["spec"]["template"]["spec"]["volumes"] =
        json!([{"name": "data", "persistentVolumeClaim": {"claimName": "dynamic"}}]);
    store.create(&keys::deployments(), user).unwrap();
    controllers.settle(Duration::from_secs(3));
    let dynamic = store
        .get(
            &keys::persistent_volume_claims(),
            Some("default"),
            "dynamic",
        )
        .unwrap();
    assert_eq!(dynamic["status"]["phase"], "Bound");
    let volume = dynamic["spec"]["volumeName"].as_str().unwrap();
    assert_eq!(
        volume,
        format!("pvc-{}", dynamic["metadata"]["uid"].as_str().unwrap())
    );
    assert!(dynamic["metadata"]["annotations"]["volume.kubernetes.io/selected-node"].is_string());
    let pod = &pods_of(&store, "user")[0];
    assert_eq!(condition(pod, "Ready")["status"], "True");

    // A pod whose claim does not exist is not scheduled.
    let mut orphan = deployment("orphan", 1, "nginx:1.25");
    orphan["spec"]["template"]["spec"]["volumes"] =
        json!([{"name": "data", "persistentVolumeClaim": {"claimName": "missing"}}]);
    store.create(&keys::deployments(), orphan).unwrap();
    controllers.settle(Duration::from_secs(2));
    let pod = &pods_of(&store, "orphan")[0];
    assert_eq!(condition(pod, "PodScheduled")["reason"], "Unschedulable");
    assert!(
        condition(pod, "PodScheduled")["message"]
            .as_str()
            .unwrap()
            .contains("persistentvolumeclaim \"missing\" not found")
    );
}

#[test]
fn services_get_load_balancer_ips_and_endpoints() {
    let (store, mut controllers) = cluster();
    store
        .create(&keys::deployments(), deployment("web", 2, "nginx:1.25"))
        .unwrap();
    store
        .create(&keys::services(), json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]},
        }))
        .unwrap();
    controllers.settle(Duration::from_secs(5));
    let svc = store
        .get(&keys::services(), Some("default"), "web")
        .unwrap();
    assert!(
        svc["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .starts_with("10.0.")
    );
    assert!(svc["spec"]["ports"][0]["nodePort"].as_i64().unwrap() >= 30000);
    assert!(
        svc["status"]["loadBalancer"]["ingress"][0]["ip"]
            .as_str()
            .unwrap()
            .starts_with("20.")
    );
    let endpoints = store
        .get(&keys::endpoints(), Some("default"), "web")
        .unwrap();
    assert_eq!(
        endpoints["subsets"][0]["addresses"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(endpoints["subsets"][0]["ports"][0]["port"], 8080);
}

#[test]
fn jobs_complete_daemonsets_cover_nodes_statefulsets_go_in_order() {
    let (store, mut controllers) = cluster();
    let template = |name: &str, policy: &str| json!({"metadata": {"labels": {"app": name}}, "spec": {"restartPolicy": policy, "containers": [{"name": "c", "image": "busybox:1.36"}]}});
    store
        .create(&keys::jobs(), json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "default"}, "spec": {"completions": 2, "template": template("migrate", "Never")}}))
        .unwrap();
    store
        .create(&keys::daemon_sets(), json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default"}, "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template("agent", "Always")}}))
        .unwrap();
    store
        .create(&keys::stateful_sets(), json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "default"}, "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}}, "template": template("db", "Always"),
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}))
        .unwrap();
    controllers.settle(Duration::from_millis(600));
    let db = pods_of(&store, "db");
    assert_eq!(db.len(), 1, "db-1 waits for db-0 to be Ready");
    controllers.settle(Duration::from_secs(10));

    let job = store
        .get(&keys::jobs(), Some("default"), "migrate")
        .unwrap();
    assert_eq!(job["status"]["succeeded"], 2, "{}", job["status"]);
    assert_eq!(condition(&job, "Complete")["status"], "True");
    assert!(
        pods_of(&store, "migrate")
            .iter()
            .all(|p| p["status"]["phase"] == "Succeeded")
    );

    let agents = pods_of(&store, "agent");
    assert_eq!(agents.len(), crate::bootstrap::NODE_COUNT);
    let mut nodes: Vec<&str> = agents
        .iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap())
        .collect();
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes.len(), crate::bootstrap::NODE_COUNT, "one per node");
    let ds = store
        .get(&keys::daemon_sets(), Some("default"), "agent")
        .unwrap();
    assert_eq!(ds["status"]["numberReady"], 3);

    let mut names: Vec<String> = pods_of(&store, "db")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["db-0", "db-1"]);
    let claim = store
        .get(
            &keys::persistent_volume_claims(),
            Some("default"),
            "data-db-0",
        )
        .unwrap();
    assert_eq!(claim["status"]["phase"], "Bound");
    let sts = store
        .get(&keys::stateful_sets(), Some("default"), "db")
        .unwrap();
    assert_eq!(sts["status"]["readyReplicas"], 2);
}
