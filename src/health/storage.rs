//! PersistentVolumeClaim and PersistentVolume readiness by `status.phase`
//! (<https://kubernetes.io/docs/concepts/storage/persistent-volumes/#phase>).

use serde_json::Value;

use super::Health;
use super::fields::str_at;

/// A claim is ready when `Bound`; `Lost` (its volume is gone) will not heal by waiting.
pub fn pvc_health(obj: &Value) -> Health {
    match str_at(obj, "/status/phase") {
        Some("Bound") => Health::Healthy,
        Some("Lost") => Health::failed("the claim lost its volume (phase Lost)"),
        Some(phase) => Health::progressing(format!("waiting to be bound (phase {phase})")),
        None => Health::progressing("waiting to be bound"),
    }
}

/// A volume is usable when `Available` or `Bound`; `Failed` means reclamation failed.
pub fn pv_health(obj: &Value) -> Health {
    match str_at(obj, "/status/phase") {
        Some("Available" | "Bound" | "Released") => Health::Healthy,
        Some("Failed") => Health::failed(format!(
            "the volume failed ({})",
            str_at(obj, "/status/message").unwrap_or("no message")
        )),
        Some(phase) => Health::progressing(format!("phase {phase}")),
        None => Health::progressing("waiting for a phase"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::test_yaml;

    #[test]
    fn claim_phases() {
        let pvc = |phase: &str| {
            test_yaml(&format!(
                "{{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {{name: data}}, status: {{phase: {phase}}}}}"
            ))
        };
        assert_eq!(pvc_health(&pvc("Bound")), Health::Healthy);
        assert_eq!(
            pvc_health(&pvc("Pending")),
            Health::progressing("waiting to be bound (phase Pending)")
        );
        assert!(pvc_health(&pvc("Lost")).is_failed());
    }

    #[test]
    fn volume_phases() {
        let pv = test_yaml(
            "{apiVersion: v1, kind: PersistentVolume, metadata: {name: disk}, status: {phase: Available}}",
        );
        assert_eq!(pv_health(&pv), Health::Healthy);
        let pv = test_yaml(
            "{apiVersion: v1, kind: PersistentVolume, metadata: {name: disk}, status: {phase: Failed, message: boom}}",
        );
        assert_eq!(pv_health(&pv), Health::failed("the volume failed (boom)"));
    }
}
