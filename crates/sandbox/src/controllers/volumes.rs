//! The persistent volume controller and a CSI provisioner: claims bind to a matching volume
//! (class, capacity, access modes, volume mode; a volume named in `volumeName` first), or get a
//! new one from their StorageClass's provisioner; `WaitForFirstConsumer` waits for the scheduler
//! to pick a node. https://kubernetes.io/docs/concepts/storage/persistent-volumes/#binding and
//! https://kubernetes.io/docs/concepts/storage/storage-classes/#volume-binding-mode

use serde_json::{Value, json};

use super::Context;
use super::events::{self, Occurrence, Severity, Source};
use super::meta::{self, keys};
use super::pods::SELECTED_NODE;

const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";

/// One pass over claims and volumes.
pub fn reconcile(ctx: &mut Context<'_>) {
    let (claims, _) = ctx.store.list(&keys::persistent_volume_claims(), None);
    let (volumes, _) = ctx.store.list(&keys::persistent_volumes(), None);
    if claims.is_empty() && volumes.is_empty() {
        return;
    }
    let (classes, _) = ctx.store.list(&keys::storage_classes(), None);
    for claim in &claims {
        if meta::is_terminating(claim) || meta::str_at(claim, "/status/phase") == Some("Bound") {
            continue;
        }
        sync_claim(ctx, claim, &classes);
    }
    release_volumes(ctx, &claims);
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

fn set_annotation(object: &mut Value, key: &str, value: &str) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
        meta::set(annotations, key, json!(value));
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Does the volume satisfy the claim? https://kubernetes.io/docs/concepts/storage/persistent-volumes/#binding
fn matches(claim: &Value, volume: &Value, class: &str) -> bool {
    let claim_ref_ok = match volume.pointer("/spec/claimRef") {
        None | Some(Value::Null) => {
            meta::str_at(volume, "/status/phase").is_none_or(|p| p == "Available" || p == "Pending")
        }
        Some(r) => {
            r["name"] == meta::name(claim)
                && r["namespace"] == meta::namespace(claim)
                && r.get("uid")
                    .is_none_or(|u| u.is_null() || u == meta::uid(claim))
        }
    };
    let requested = meta::str_at(claim, "/spec/resources/requests/storage")
        .and_then(meta::quantity_bytes)
        .unwrap_or(0.0);
    let capacity = meta::str_at(volume, "/spec/capacity/storage")
        .and_then(meta::quantity_bytes)
        .unwrap_or(0.0);
    let modes = strings(volume.pointer("/spec/accessModes"));
    let wanted = strings(claim.pointer("/spec/accessModes"));
    let volume_mode = |o: &Value| {
        meta::str_at(o, "/spec/volumeMode")
            .unwrap_or("Filesystem")
            .to_owned()
    };
    let selector_ok = claim
        .pointer("/spec/selector")
        .is_none_or(|s| s.is_null() || meta::selector_matches(s, &meta::labels(volume)));
    claim_ref_ok
        && meta::str_at(volume, "/spec/storageClassName").unwrap_or_default() == class
        && capacity >= requested
        && wanted.iter().all(|m| modes.contains(m))
        && volume_mode(claim) == volume_mode(volume)
        && selector_ok
        && !meta::is_terminating(volume)
}

fn sync_claim(ctx: &mut Context<'_>, claim: &Value, classes: &[Value]) {
    let now = ctx.clock.now();
    let source = Source::controller("persistentvolume-controller");
    let mut claim = claim.clone();
    // A claim without a class gets the default one.
    // https://kubernetes.io/docs/concepts/storage/persistent-volumes/#retroactive-default-storageclass-assignment
    if claim
        .pointer("/spec/storageClassName")
        .is_none_or(Value::is_null)
        && let Some(default) = classes
            .iter()
            .find(|c| annotation(c, DEFAULT_CLASS) == Some("true"))
    {
        if let Some(spec) = claim.get_mut("spec") {
            meta::set(spec, "storageClassName", json!(meta::name(default)));
        }
        match ctx
            .store
            .update(&keys::persistent_volume_claims(), claim.clone())
        {
            Ok(stored) => claim = stored,
            Err(_) => return,
        }
    }
    if claim.pointer("/status/phase").is_none() {
        let mut pending = claim.clone();
        meta::set(&mut pending, "status", json!({"phase": "Pending"}));
        if let Ok(stored) = ctx
            .store
            .update_status(&keys::persistent_volume_claims(), pending)
        {
            claim = stored;
        }
    }
    let class_name = meta::str_at(&claim, "/spec/storageClassName")
        .unwrap_or_default()
        .to_owned();
    let class = classes.iter().find(|c| meta::name(c) == class_name);

    // A claim that names its volume binds to it (or waits for it).
    if let Some(volume_name) = meta::str_at(&claim, "/spec/volumeName").filter(|v| !v.is_empty()) {
        match ctx
            .store
            .get(&keys::persistent_volumes(), None, volume_name)
        {
            Some(volume) if matches(&claim, &volume, &class_name) => {
                bind(ctx, &claim, &volume, false)
            }
            _ => events::record(
                ctx.store,
                ctx.clock,
                &claim,
                &source,
                &Occurrence::once(
                    Severity::Warning,
                    "FailedBinding",
                    format!("volume \"{volume_name}\" not found or not available for this claim"),
                    now,
                ),
            ),
        }
        return;
    }
    let wait_for_consumer = class
        .is_some_and(|c| meta::str_at(c, "/volumeBindingMode") == Some("WaitForFirstConsumer"));
    if wait_for_consumer && annotation(&claim, SELECTED_NODE).is_none() {
        events::record(
            ctx.store,
            ctx.clock,
            &claim,
            &source,
            &Occurrence::once(
                Severity::Normal,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
                now,
            ),
        );
        return;
    }
    // Only the volumes that fit are copied: this runs for every pending claim, and a ring's
    // worth of claims provisions as many volumes.
    let (volumes, _) = ctx
        .store
        .list_matching(&keys::persistent_volumes(), None, |v| {
            matches(&claim, v, &class_name)
        });
    let best = volumes.iter().min_by(|a, b| {
        let size = |v: &Value| {
            meta::str_at(v, "/spec/capacity/storage")
                .and_then(meta::quantity_bytes)
                .unwrap_or(0.0)
        };
        size(a).total_cmp(&size(b))
    });
    if let Some(volume) = best {
        bind(ctx, &claim, volume, true);
        return;
    }
    match class.and_then(|c| meta::str_at(c, "/provisioner").map(|p| (c, p.to_owned()))) {
        Some((class, provisioner)) if provisioner != "kubernetes.io/no-provisioner" => {
            provision(ctx, &claim, class, &provisioner)
        }
        _ => events::record(
            ctx.store,
            ctx.clock,
            &claim,
            &source,
            &Occurrence::once(
                Severity::Normal,
                "FailedBinding",
                if class_name.is_empty() {
                    "no persistent volumes available for this claim and no storage class is set"
                        .to_owned()
                } else {
                    format!("storageclass.storage.k8s.io \"{class_name}\" not found")
                },
                now,
            ),
        ),
    }
}

/// Dynamic provisioning: a new volume of the requested size named `pvc-<claim uid>`.
/// https://kubernetes.io/docs/concepts/storage/dynamic-provisioning/
fn provision(ctx: &mut Context<'_>, claim: &Value, class: &Value, provisioner: &str) {
    let now = ctx.clock.now();
    let ns = meta::namespace(claim);
    let name = meta::name(claim);
    let volume_name = format!("pvc-{}", meta::uid(claim));
    let source = Source {
        component: "csi-provisioner",
        host: None,
    };
    let size = meta::str_at(claim, "/spec/resources/requests/storage").unwrap_or("1Gi");
    let handle = if provisioner == "file.csi.azure.com" {
        format!("mc_sandbox#sandboxstorage#{volume_name}###{ns}")
    } else {
        format!(
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mc_sandbox/providers/Microsoft.Compute/disks/{volume_name}"
        )
    };
    let mut attributes = class
        .get("parameters")
        .cloned()
        .unwrap_or_else(|| json!({}));
    meta::set(
        &mut attributes,
        "csi.storage.k8s.io/pv/name",
        json!(volume_name),
    );
    meta::set(&mut attributes, "csi.storage.k8s.io/pvc/name", json!(name));
    meta::set(
        &mut attributes,
        "csi.storage.k8s.io/pvc/namespace",
        json!(ns),
    );
    events::record(
        ctx.store,
        ctx.clock,
        claim,
        &source,
        &Occurrence::once(
            Severity::Normal,
            "Provisioning",
            format!("External provisioner is provisioning volume for claim \"{ns}/{name}\""),
            now,
        ),
    );
    let volume = json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": volume_name,
            "annotations": {"pv.kubernetes.io/provisioned-by": provisioner, "volume.kubernetes.io/provisioner-deletion-secret-name": "", "volume.kubernetes.io/provisioner-deletion-secret-namespace": ""},
            "finalizers": ["external-provisioner.volume.kubernetes.io/finalizer", "kubernetes.io/pv-protection"],
        },
        "spec": {
            "accessModes": claim.pointer("/spec/accessModes").cloned().unwrap_or_else(|| json!(["ReadWriteOnce"])),
            "capacity": {"storage": size},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": name, "namespace": ns, "uid": meta::uid(claim)},
            "csi": {"driver": provisioner, "volumeHandle": handle, "volumeAttributes": attributes},
            "persistentVolumeReclaimPolicy": class.get("reclaimPolicy").cloned().unwrap_or_else(|| json!("Delete")),
            "storageClassName": meta::name(class),
            "volumeMode": meta::str_at(claim, "/spec/volumeMode").unwrap_or("Filesystem"),
        },
        "status": {"phase": "Pending"},
    });
    match ctx.store.create(&keys::persistent_volumes(), volume) {
        Ok(volume) => {
            events::record(
                ctx.store,
                ctx.clock,
                claim,
                &source,
                &Occurrence::once(
                    Severity::Normal,
                    "ProvisioningSucceeded",
                    format!("Successfully provisioned volume {volume_name}"),
                    now,
                ),
            );
            let mut claim = claim.clone();
            set_annotation(
                &mut claim,
                "volume.kubernetes.io/storage-provisioner",
                provisioner,
            );
            set_annotation(
                &mut claim,
                "volume.beta.kubernetes.io/storage-provisioner",
                provisioner,
            );
            bind(ctx, &claim, &volume, true);
        }
        Err(err) => events::record(
            ctx.store,
            ctx.clock,
            claim,
            &source,
            &Occurrence::once(
                Severity::Warning,
                "ProvisioningFailed",
                format!(
                    "failed to provision volume with StorageClass \"{}\": {err}",
                    meta::name(class)
                ),
                now,
            ),
        ),
    }
}

/// Bind claim and volume to each other, as the controller does (both sides, then Bound).
fn bind(ctx: &mut Context<'_>, claim: &Value, volume: &Value, by_controller: bool) {
    let mut volume = volume.clone();
    let claim_ref = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "name": meta::name(claim), "namespace": meta::namespace(claim), "uid": meta::uid(claim),
        "resourceVersion": claim.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null),
    });
    let had_claim_ref = volume
        .pointer("/spec/claimRef")
        .is_some_and(|r| !r.is_null());
    if let Some(spec) = volume.get_mut("spec") {
        meta::set(spec, "claimRef", claim_ref);
    }
    if !had_claim_ref {
        set_annotation(&mut volume, BOUND_BY_CONTROLLER, "yes");
    }
    meta::set(
        &mut volume,
        "status",
        json!({"phase": "Bound", "lastPhaseTransitionTime": timestamp_now(ctx)}),
    );
    let Ok(volume) = ctx.store.replace(&keys::persistent_volumes(), volume) else {
        return;
    };
    let mut claim = claim.clone();
    if let Some(spec) = claim.get_mut("spec") {
        meta::set(spec, "volumeName", json!(meta::name(&volume)));
    }
    set_annotation(&mut claim, BIND_COMPLETED, "yes");
    if by_controller {
        set_annotation(&mut claim, BOUND_BY_CONTROLLER, "yes");
    }
    meta::set(
        &mut claim,
        "status",
        json!({
            "phase": "Bound",
            "accessModes": volume.pointer("/spec/accessModes").cloned().unwrap_or_else(|| json!([])),
            "capacity": volume.pointer("/spec/capacity").cloned().unwrap_or_else(|| json!({})),
        }),
    );
    let _ = ctx.store.replace(&keys::persistent_volume_claims(), claim);
}

fn timestamp_now(ctx: &Context<'_>) -> String {
    crate::clock::timestamp(ctx.clock.wall(ctx.clock.now()))
}

/// A volume whose claim is gone is deleted (`Delete` policy) or `Released` (`Retain`).
/// https://kubernetes.io/docs/concepts/storage/persistent-volumes/#reclaiming
fn release_volumes(ctx: &mut Context<'_>, claims: &[Value]) {
    let (volumes, _) = ctx.store.list(&keys::persistent_volumes(), None);
    for volume in volumes {
        let phase = meta::str_at(&volume, "/status/phase");
        if phase.is_none_or(|p| p == "Pending")
            && volume.pointer("/spec/claimRef").is_none_or(Value::is_null)
        {
            let mut available = volume.clone();
            meta::set(
                &mut available,
                "status",
                json!({"phase": "Available", "lastPhaseTransitionTime": timestamp_now(ctx)}),
            );
            let _ = ctx
                .store
                .update_status(&keys::persistent_volumes(), available);
            continue;
        }
        if phase != Some("Bound") {
            continue;
        }
        let Some(claim_ref) = volume.pointer("/spec/claimRef") else {
            continue;
        };
        let claim_uid = claim_ref
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let still_there = claims
            .iter()
            .any(|c| meta::uid(c) == claim_uid && !meta::is_terminating(c));
        if still_there || claim_uid.is_empty() {
            continue;
        }
        if meta::str_at(&volume, "/spec/persistentVolumeReclaimPolicy") == Some("Delete") {
            let mut released = volume.clone();
            if let Some(metadata) = released.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("finalizers");
            }
            let _ = ctx.store.replace(&keys::persistent_volumes(), released);
            let _ = ctx
                .store
                .delete(&keys::persistent_volumes(), None, meta::name(&volume));
        } else {
            let mut released = volume.clone();
            meta::set(
                &mut released,
                "status",
                json!({"phase": "Released", "lastPhaseTransitionTime": timestamp_now(ctx)}),
            );
            let _ = ctx
                .store
                .update_status(&keys::persistent_volumes(), released);
        }
    }
}
