//! A revision as a Secret in the history namespace, like Helm's release Secrets: the record
//! gzip'd JSON under `data.revision`, the summary in labels and annotations so `history` lists
//! revisions without decompressing them.

use std::io::{Read as _, Write as _};

use base64::Engine as _;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use super::revision::{Outcome, Revision, RevisionSummary, duration_seconds};

/// The Secret `type` of revision records.
pub const SECRET_TYPE: &str = "gitops.dev/revision";
/// Label: the ring.
pub const RING_LABEL: &str = "gitops.dev/ring";
/// Label: the revision number.
pub const NUMBER_LABEL: &str = "gitops.dev/revision";
/// Label: the outcome.
pub const OUTCOME_LABEL: &str = "gitops.dev/outcome";
/// Label: what kind of object this is (`revision`), for selectors.
pub const OWNER_LABEL: &str = "app.kubernetes.io/managed-by";
/// The data key holding the gzip'd JSON record.
pub const DATA_KEY: &str = "revision";
/// Upper bound on a decompressed record (the Secret itself is at most 1 MiB): a corrupt or
/// hostile Secret cannot make `history` allocate without bound.
const MAX_RECORD_BYTES: u64 = 256 * 1024 * 1024;

/// Why a Secret is not a readable revision.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The record could not be encoded.
    #[error("revision {ring}#{number}: cannot encode the record")]
    Encode {
        /// Ring.
        ring: String,
        /// Number.
        number: u64,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The Secret does not hold a record or it is damaged.
    #[error("history Secret `{name}`: {reason}")]
    Decode {
        /// The Secret's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// The Secret name of a revision: `gitops.<ring>.v<number>` (Helm uses `sh.helm.release.v1.<name>.v<n>`).
pub fn secret_name(ring: &str, number: u64) -> String {
    format!("gitops.{ring}.v{number}")
}

/// The label selector of one ring's revisions.
pub fn ring_selector(ring: &str) -> String {
    format!("{RING_LABEL}={ring},{OWNER_LABEL}=gitops")
}

/// Encode a revision as a Secret in `namespace`.
pub fn to_secret(revision: &Revision, namespace: &str) -> Result<Value, RecordError> {
    let encode_err = |source| RecordError::Encode {
        ring: revision.ring.clone(),
        number: revision.number,
        source,
    };
    let json = serde_json::to_vec(revision).map_err(|e| encode_err(std::io::Error::other(e)))?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&json).map_err(encode_err)?;
    let bytes = gz.finish().map_err(encode_err)?;
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": SECRET_TYPE,
        "metadata": {
            "name": secret_name(&revision.ring, revision.number),
            "namespace": namespace,
            "labels": {
                RING_LABEL: revision.ring,
                NUMBER_LABEL: revision.number.to_string(),
                OUTCOME_LABEL: revision.outcome.as_str(),
                OWNER_LABEL: "gitops",
            },
            "annotations": {
                "gitops.dev/commit": revision.commit.clone().unwrap_or_default(),
                "gitops.dev/who": revision.who,
                "gitops.dev/trigger": revision.trigger,
                "gitops.dev/started": revision.started,
                "gitops.dev/finished": revision.finished,
            },
        },
        "data": {DATA_KEY: data},
    }))
}

fn name_of(secret: &Value) -> String {
    secret
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

/// Decode the full record of a revision Secret.
pub fn from_secret(secret: &Value) -> Result<Revision, RecordError> {
    let fail = |reason: String| RecordError::Decode {
        name: name_of(secret),
        reason,
    };
    let data = secret
        .pointer(&format!("/data/{DATA_KEY}"))
        .and_then(Value::as_str)
        .ok_or_else(|| fail(format!("no `data.{DATA_KEY}`")))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| fail(format!("not base64: {e}")))?;
    let mut json = Vec::new();
    GzDecoder::new(bytes.as_slice())
        .take(MAX_RECORD_BYTES)
        .read_to_end(&mut json)
        .map_err(|e| fail(format!("not gzip: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| fail(format!("not a revision record: {e}")))
}

/// The summary of a revision Secret, from its labels and annotations only.
pub fn summary_of(secret: &Value) -> Option<RevisionSummary> {
    let meta = secret.get("metadata")?;
    let label = |k: &str| meta.get("labels")?.get(k)?.as_str();
    let annotation = |k: &str| {
        meta.get("annotations")
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let started = annotation("gitops.dev/started");
    let finished = annotation("gitops.dev/finished");
    let commit = annotation("gitops.dev/commit");
    Some(RevisionSummary {
        number: label(NUMBER_LABEL)?.parse().ok()?,
        outcome: Outcome::parse(label(OUTCOME_LABEL)?)?,
        duration_seconds: duration_seconds(&started, &finished),
        time: started,
        commit: (!commit.is_empty()).then_some(commit),
        who: annotation("gitops.dev/who"),
        trigger: annotation("gitops.dev/trigger"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::snapshot::Snapshot;

    fn revision() -> Revision {
        Revision {
            ring: "qa".into(),
            number: 7,
            commit: Some("abc123".into()),
            who: "ana@laptop".into(),
            trigger: "apply".into(),
            started: "2026-01-01T00:00:00Z".into(),
            finished: "2026-01-01T00:00:42Z".into(),
            outcome: Outcome::RolledBack,
            message: "gate failed".into(),
            gates: Vec::new(),
            diagnosis: Vec::new(),
            manifests: vec![
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
            ],
            inventory: Vec::new(),
            pruned: Vec::new(),
            snapshot: Snapshot::default(),
            rollback: None,
        }
    }

    #[test]
    fn round_trips_through_a_secret() {
        let secret = to_secret(&revision(), "gitops-system").unwrap();
        assert_eq!(secret["metadata"]["name"], "gitops.qa.v7");
        assert_eq!(secret["type"], SECRET_TYPE);
        assert_eq!(from_secret(&secret).unwrap(), revision());
        let s = summary_of(&secret).unwrap();
        assert_eq!(
            (s.number, s.outcome, s.duration_seconds),
            (7, Outcome::RolledBack, 42.0)
        );
        assert_eq!(s.commit.as_deref(), Some("abc123"));
    }

    #[test]
    fn a_damaged_record_is_a_clear_error() {
        let mut secret = to_secret(&revision(), "gitops-system").unwrap();
        secret["data"][DATA_KEY] = json!("bm90IGd6aXA=");
        let err = from_secret(&secret).unwrap_err().to_string();
        assert!(
            err.contains("gitops.qa.v7") && err.contains("not gzip"),
            "{err}"
        );
    }
}
