//! `Kustomization`: the typed content of a `kustomization.yaml` (or a `Component`).
//!
//! Keys are matched case-insensitively, as Go's `encoding/json` (which kustomize uses)
//! does; an unknown key is an error naming it; a known but unsupported key is refused
//! by the builder, never skipped.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// The file names kustomize looks for in a folder, in its order of preference.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Every top-level key of kustomize v5.5's `Kustomization` type.
const KNOWN_KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "validators",
    "buildMetadata",
    "generators",
    "transformers",
];

/// Keys kustomize knows that this renderer refuses (plugins, Helm, vars, OpenAPI schemas).
pub const UNSUPPORTED_KEYS: &[&str] = &[
    "openapi",
    "imageTags",
    "vars",
    "crds",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "validators",
    "buildMetadata",
];

/// A parsed kustomization file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Kustomization {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: Option<Value>,
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
    pub namespace: Option<String>,
    #[serde(deserialize_with = "some_string_values")]
    pub common_labels: Option<BTreeMap<String, Value>>,
    pub labels: Vec<LabelEntry>,
    #[serde(deserialize_with = "some_string_values")]
    pub common_annotations: Option<BTreeMap<String, Value>>,
    pub patches_strategic_merge: Vec<String>,
    pub patches_json6902: Vec<Json6902Entry>,
    pub patches: Vec<PatchEntry>,
    pub images: Vec<ImageEntry>,
    pub replacements: Vec<Value>,
    pub replicas: Vec<ReplicaEntry>,
    pub sort_options: Option<SortOptions>,
    pub resources: Vec<String>,
    pub components: Vec<String>,
    pub bases: Vec<String>,
    pub config_map_generator: Vec<GeneratorArgs>,
    pub secret_generator: Vec<GeneratorArgs>,
    pub generator_options: Option<GeneratorOptions>,
    pub configurations: Vec<String>,
    pub generators: Vec<String>,
    pub transformers: Vec<String>,
    #[serde(flatten)]
    pub unsupported: BTreeMap<String, Value>,
}

/// One entry of `labels`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct LabelEntry {
    #[serde(deserialize_with = "string_values")]
    pub pairs: BTreeMap<String, Value>,
    pub include_selectors: bool,
    pub include_templates: bool,
    pub fields: Vec<FieldSpecEntry>,
}

/// A field spec as written in kustomization files and `configurations`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FieldSpecEntry {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub path: String,
    pub create: bool,
}

/// A `patches` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PatchEntry {
    pub path: Option<String>,
    pub patch: Option<String>,
    pub target: Option<Selector>,
    pub options: BTreeMap<String, bool>,
}

/// A `patchesJson6902` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Json6902Entry {
    pub target: Option<Selector>,
    pub path: Option<String>,
    pub patch: Option<String>,
}

/// A resource selector (patch targets, replacement sources and targets).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Selector {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub label_selector: String,
    pub annotation_selector: String,
}

/// An `images` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ImageEntry {
    pub name: String,
    pub new_name: String,
    /// A string, as in kustomize: an unquoted `newTag: 1.10` is a number there (refused,
    /// never turned into the tag `1.1`).
    #[serde(deserialize_with = "quoted_tag")]
    pub new_tag: Option<String>,
    pub digest: String,
    pub tag_suffix: String,
}

/// A label or annotation value as kustomize reads it (Go `map[string]string`): a string, or
/// nothing (an empty value). A number or boolean is refused, as kustomize does, rather than
/// turned into text: `version: 1.10` would otherwise become the label `1.1`.
pub fn label_text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Number(_) | Value::Bool(_) => Err(format!(
            "must be a string, but the YAML holds the {} `{v}`: quote it",
            if v.is_number() { "number" } else { "boolean" }
        )),
        _ => Err("must be a string".into()),
    }
}

fn string_values<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Value>, D::Error> {
    let map = BTreeMap::<String, Value>::deserialize(d)?;
    for (k, v) in &map {
        label_text(v).map_err(|e| serde::de::Error::custom(format!("`{k}`: {e}")))?;
    }
    Ok(map)
}

fn some_string_values<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, Value>>, D::Error> {
    string_values(d).map(Some)
}

/// `newTag` as kustomize reads it: a string, or an error that says why a number is refused.
fn quoted_tag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(serde::de::Error::custom(format!(
            "`newTag` must be a string, but the YAML holds the {} `{other}`: quote the tag \
             (`newTag: \"...\"`)",
            if other.is_number() { "number" } else { "value" }
        ))),
    }
}

/// A `replicas` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ReplicaEntry {
    pub name: String,
    pub count: i64,
}

/// `sortOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SortOptions {
    pub order: Option<String>,
    pub legacy_sort_options: Option<LegacySortOptions>,
}

/// `sortOptions.legacySortOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct LegacySortOptions {
    pub order_first: Vec<String>,
    pub order_last: Vec<String>,
}

/// A `configMapGenerator` / `secretGenerator` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GeneratorArgs {
    pub name: String,
    pub namespace: String,
    pub behavior: String,
    pub literals: Vec<String>,
    pub files: Vec<String>,
    pub envs: Vec<String>,
    pub env: String,
    pub options: Option<GeneratorOptions>,
    #[serde(rename = "type")]
    pub type_: String,
}

/// `generatorOptions` (global or per generator).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GeneratorOptions {
    #[serde(deserialize_with = "string_values")]
    pub labels: BTreeMap<String, Value>,
    #[serde(deserialize_with = "string_values")]
    pub annotations: BTreeMap<String, Value>,
    pub disable_name_suffix_hash: bool,
    pub immutable: bool,
}

impl Kustomization {
    /// Read a kustomization from its parsed YAML. Errors are `(field, message)`.
    pub fn from_value(value: Value) -> Result<Self, (String, String)> {
        let Value::Object(map) = value else {
            return Err(("".into(), "a kustomization must be a mapping".into()));
        };
        let mut canonical = serde_json::Map::new();
        for (key, v) in map {
            let Some(known) = KNOWN_KEYS.iter().find(|k| k.eq_ignore_ascii_case(&key)) else {
                return Err((key, "unknown field".into()));
            };
            if v.is_null() {
                continue;
            }
            canonical.insert((*known).to_string(), v);
        }
        match serde_json::from_value(Value::Object(canonical.clone())) {
            Ok(k) => Ok(k),
            Err(e) => {
                Err(locate_error(&canonical).unwrap_or_else(|| (String::new(), e.to_string())))
            }
        }
    }

    /// Whether this is a `kind: Component`.
    pub fn is_component(&self) -> bool {
        self.kind.as_deref() == Some("Component")
    }
}

/// Find the key (and, for a list, the entry) whose value does not fit the `Kustomization`
/// type, so the error names `images[1]` rather than only the inner field serde saw. Runs
/// only after a failed read: each key, then each entry of a failing list, is read alone.
fn locate_error(map: &serde_json::Map<String, Value>) -> Option<(String, String)> {
    let alone = |key: &str, v: &Value| {
        let one = serde_json::Map::from_iter([(key.to_string(), v.clone())]);
        serde_json::from_value::<Kustomization>(Value::Object(one)).err()
    };
    for (key, v) in map {
        let Some(err) = alone(key, v) else { continue };
        if let Value::Array(items) = v {
            for (i, item) in items.iter().enumerate() {
                if let Some(err) = alone(key, &Value::Array(vec![item.clone()])) {
                    return Some((format!("{key}[{i}]"), err.to_string()));
                }
            }
        }
        return Some((key.clone(), err.to_string()));
    }
    None
}

/// A label/annotation value as kustomize writes it: strings stay, other scalars become text.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_match_case_insensitively_and_unknown_keys_are_named() {
        let k = Kustomization::from_value(json!({"nameprefix": "a-", "resources": ["x.yaml"]}))
            .unwrap();
        assert_eq!(k.name_prefix.as_deref(), Some("a-"));
        let err = Kustomization::from_value(json!({"namePrefx": "a-"})).unwrap_err();
        assert_eq!(err.0, "namePrefx");
    }

    #[test]
    fn a_wrong_value_names_its_key_and_list_entry() {
        let err = Kustomization::from_value(json!({
            "resources": ["a.yaml"],
            "images": [{"name": "a", "newTag": "1"}, {"name": "b", "newtag": "2"}]
        }))
        .unwrap_err();
        assert_eq!(err.0, "images[1]");
        assert!(err.1.contains("unknown field `newtag`"), "{}", err.1);
        let err = Kustomization::from_value(json!({"namespace": 5})).unwrap_err();
        assert_eq!(err.0, "namespace");
        let err = Kustomization::from_value(json!({"resources": "a.yaml"})).unwrap_err();
        assert_eq!(err.0, "resources");
    }

    #[test]
    fn an_unquoted_numeric_tag_is_refused_not_shortened() {
        // `newTag: 1.10` is the number 1.1 in YAML; kustomize refuses it too.
        let err = Kustomization::from_value(json!({"images": [{"name": "a", "newTag": 1.1}]}))
            .unwrap_err();
        assert_eq!(err.0, "images[0]");
        assert!(err.1.contains("`newTag` must be a string"), "{}", err.1);
        let k = Kustomization::from_value(json!({"images": [{"name": "a", "newTag": "1.10"}]}))
            .unwrap();
        assert_eq!(k.images[0].new_tag.as_deref(), Some("1.10"));
    }

    #[test]
    fn label_values_must_be_strings_as_in_kustomize() {
        let err = Kustomization::from_value(json!({"commonLabels": {"version": 1.1}})).unwrap_err();
        assert_eq!(err.0, "commonLabels");
        assert!(err.1.contains("`version`: must be a string"), "{}", err.1);
        let err = Kustomization::from_value(json!({
            "configMapGenerator": [{"name": "a", "options": {"labels": {"on": true}}}]
        }))
        .unwrap_err();
        assert_eq!(err.0, "configMapGenerator[0]");
        let k = Kustomization::from_value(json!({"labels": [{"pairs": {"a": "1", "b": null}}]}))
            .unwrap();
        assert_eq!(label_text(&k.labels[0].pairs["b"]).unwrap(), "");
    }

    #[test]
    fn unsupported_keys_are_kept_for_the_builder_to_refuse() {
        let k = Kustomization::from_value(json!({"vars": [{"name": "x"}]})).unwrap();
        assert!(k.unsupported.contains_key("vars"));
    }
}
