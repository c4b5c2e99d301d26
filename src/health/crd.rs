//! CustomResourceDefinition readiness: `Established`, with `NamesAccepted=False` as a failure
//! (<https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#create-a-customresourcedefinition>;
//! kube-runtime's `conditions::is_crd_established` in kube-rs `kube-runtime/src/wait.rs`).

use serde_json::Value;

use super::Health;
use super::fields::condition;

/// The health of a CRD: its custom resources can be created once it is `Established`.
pub fn crd_health(obj: &Value) -> Health {
    if let Some(names) = condition(obj, "NamesAccepted")
        && names.status == "False"
    {
        return Health::failed(format!("names not accepted ({})", names.explain()));
    }
    match condition(obj, "Established") {
        Some(c) if c.is_true() => Health::Healthy,
        Some(c) => Health::progressing(format!("not established yet ({})", c.explain())),
        None => Health::progressing("not established yet"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::test_yaml;

    #[test]
    fn established_pending_and_name_conflict() {
        let crd = test_yaml(
            "
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
status:
  conditions:
  - {type: NamesAccepted, status: \"True\", reason: NoConflicts}
  - {type: Established, status: \"True\", reason: InitialNamesAccepted}
",
        );
        assert_eq!(crd_health(&crd), Health::Healthy);
        let crd = test_yaml(
            "{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: widgets.example.com}}",
        );
        assert!(matches!(crd_health(&crd), Health::Progressing(_)));
        let crd = test_yaml(
            "
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
status:
  conditions:
  - {type: NamesAccepted, status: \"False\", reason: KindConflict, message: Widget is already in use}
",
        );
        assert!(matches!(crd_health(&crd), Health::Failed(r) if r.contains("KindConflict")));
    }
}
