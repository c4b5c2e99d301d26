//! `generators` and `transformers`: kustomize's built-in plugins configured by files
//! (`apiVersion: builtin`), e.g. a `PatchJson6902Transformer` or a `ConfigMapGenerator`.
//! Entries are files, inline YAML, or folders whose build yields the configurations.
//! Any other plugin (exec, container, Go) is refused naming the entry.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::config::{TransformerConfig, from_entry};
use crate::error::RenderError;
use crate::fieldspec::FieldSpec;
use crate::generator::{GenKind, generate};
use crate::kustomization::{
    FieldSpecEntry, GeneratorArgs, ImageEntry, Json6902Entry, PatchEntry, label_text, scalar_text,
};
use crate::loader::Loader;
use crate::origin::Origin;
use crate::resmap::ResMap;
use crate::transform::{images, labels, namespace, prefix_suffix, replacements, replicas};

/// A plugin configuration and the field it came from (`transformers[2]`).
pub struct PluginConfig {
    pub field: String,
    pub obj: Map<String, Value>,
    /// Where the configuration was written (when the build tracks origins): a generator's
    /// output is declared there.
    pub origin: Option<Arc<Origin>>,
}

impl PluginConfig {
    fn kind(&self) -> &str {
        self.obj.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    fn get<T: DeserializeOwned + Default>(
        &self,
        ldr: &Loader<'_>,
        key: &str,
    ) -> Result<T, RenderError> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(T::default()),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
                RenderError::field(&ldr.kfile, format!("{}.{key}", self.field), e.to_string())
            }),
        }
    }

    fn text(&self, key: &str) -> String {
        self.obj.get(key).and_then(scalar_text).unwrap_or_default()
    }

    fn meta(&self, key: &str) -> String {
        self.obj
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(scalar_text)
            .unwrap_or_default()
    }

    fn specs(
        &self,
        ldr: &Loader<'_>,
        default: &[FieldSpec],
    ) -> Result<Vec<FieldSpec>, RenderError> {
        let entries: Vec<FieldSpecEntry> = self.get(ldr, "fieldSpecs")?;
        Ok(if entries.is_empty() {
            default.to_vec()
        } else {
            entries.iter().map(from_entry).collect()
        })
    }

    fn string_map(&self, ldr: &Loader<'_>, key: &str) -> Result<Map<String, Value>, RenderError> {
        let raw: Map<String, Value> = self.get(ldr, key)?;
        let mut out = Map::new();
        for (k, v) in raw {
            let s = label_text(&v).map_err(|e| {
                RenderError::field(&ldr.kfile, format!("{}.{key}.{k}", self.field), e)
            })?;
            out.insert(k, Value::String(s));
        }
        Ok(out)
    }

    fn check_builtin(&self, ldr: &Loader<'_>) -> Result<(), RenderError> {
        let api = self
            .obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if api != "builtin" {
            return Err(RenderError::field(
                &ldr.kfile,
                &self.field,
                format!(
                    "plugin `{api}` `{}` is not supported (only `apiVersion: builtin` plugins are)",
                    self.kind()
                ),
            ));
        }
        Ok(())
    }

    fn unsupported(&self, ldr: &Loader<'_>) -> RenderError {
        RenderError::field(
            &ldr.kfile,
            &self.field,
            format!("built-in plugin `{}` is not supported here", self.kind()),
        )
    }
}

/// Run generator plugins: their output joins the objects with the usual behaviours.
pub fn generate_all(
    ldr: &Loader<'_>,
    configs: &[PluginConfig],
    res: &mut ResMap,
) -> Result<(), RenderError> {
    for (i, c) in configs.iter().enumerate() {
        c.check_builtin(ldr)?;
        let kind = match c.kind() {
            "ConfigMapGenerator" => GenKind::ConfigMap,
            "SecretGenerator" => GenKind::Secret,
            _ => return Err(c.unsupported(ldr)),
        };
        // Plugin configurations are read leniently, as kustomize does: known keys only.
        let mut args = GeneratorArgs {
            name: c.meta("name"),
            namespace: c.meta("namespace"),
            behavior: c.text("behavior"),
            literals: c.get(ldr, "literals")?,
            files: c.get(ldr, "files")?,
            envs: c.get(ldr, "envs")?,
            env: c.text("env"),
            options: c.get(ldr, "options")?,
            ..GeneratorArgs::default()
        };
        if kind == GenKind::Secret {
            args.type_ = c.text("type");
        }
        let mut r = generate(ldr, kind, i, &args, None)?;
        r.origin = c.origin.clone();
        res.absorb(r)
            .map_err(|e| RenderError::field(&ldr.kfile, &c.field, e))?;
    }
    Ok(())
}

/// Run transformer plugins in order.
pub fn transform_all(
    ldr: &Loader<'_>,
    configs: &[PluginConfig],
    res: &mut ResMap,
    config: &TransformerConfig,
) -> Result<(), RenderError> {
    for c in configs {
        c.check_builtin(ldr)?;
        let fail = |e: String| RenderError::field(&ldr.kfile, &c.field, e);
        match c.kind() {
            "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
                let specs = c.specs(ldr, &config.name_prefix)?;
                prefix_suffix::transform(res, &c.text("prefix"), &c.text("suffix"), &specs, &specs);
            }
            "NamespaceTransformer" => {
                let specs: Vec<FieldSpecEntry> = c.get(ldr, "fieldSpecs")?;
                let specs: Vec<FieldSpec> = specs.iter().map(from_entry).collect();
                namespace::transform(res, &c.meta("namespace"), &specs).map_err(fail)?;
            }
            "LabelTransformer" => {
                let pairs = c.string_map(ldr, "labels")?;
                labels::transform(res, &pairs, &c.specs(ldr, &config.common_labels)?)
                    .map_err(fail)?;
            }
            "AnnotationsTransformer" => {
                let pairs = c.string_map(ldr, "annotations")?;
                labels::transform(res, &pairs, &c.specs(ldr, &config.common_annotations)?)
                    .map_err(fail)?;
            }
            "PatchTransformer" => {
                let entry = PatchEntry {
                    path: c
                        .obj
                        .get("path")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    patch: c
                        .obj
                        .get("patch")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    target: c.get(ldr, "target")?,
                    options: c.get(ldr, "options")?,
                };
                crate::build::patch_entry(ldr, res, &c.field, &entry)?;
            }
            "PatchStrategicMergeTransformer" => {
                let paths: Vec<String> = c.get(ldr, "paths")?;
                for p in &paths {
                    crate::build::smp_entry(ldr, res, &c.field, p)?;
                }
                let inline = c.text("patches");
                if !inline.is_empty() {
                    crate::build::smp_entry(ldr, res, &c.field, &format!("{inline}\n"))?;
                }
            }
            "PatchJson6902Transformer" => {
                let target: Option<crate::kustomization::Selector> = c.get(ldr, "target")?;
                if target.as_ref().is_none_or(|t| t.name.is_empty()) {
                    return Err(fail("must specify the target name".into()));
                }
                let entry = Json6902Entry {
                    target,
                    path: c
                        .obj
                        .get("path")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    patch: c
                        .obj
                        .get("jsonOp")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                };
                crate::build::json6902_entry(ldr, res, &c.field, &entry)?;
            }
            "ImageTagTransformer" => {
                let img: ImageEntry = c.get(ldr, "imageTag")?;
                let specs: Vec<FieldSpecEntry> = c.get(ldr, "fieldSpecs")?;
                let specs: Vec<FieldSpec> = specs.iter().map(from_entry).collect();
                images::Images::new(std::slice::from_ref(&img)).transform(res, &specs);
            }
            "ReplicaCountTransformer" => {
                #[derive(serde::Deserialize, Default)]
                struct Replica {
                    #[serde(default)]
                    name: String,
                    #[serde(default)]
                    count: i64,
                }
                let r: Replica = c.get(ldr, "replica")?;
                replicas::transform(res, &r.name, r.count, &c.specs(ldr, &config.replicas)?)
                    .map_err(fail)?;
            }
            "ReplacementTransformer" => {
                let list: Vec<Value> = c.get(ldr, "replacements")?;
                for entry in &list {
                    for rep in crate::build::load_replacements(ldr, entry, &c.field)? {
                        replacements::apply(res, &rep).map_err(fail)?;
                    }
                }
            }
            _ => return Err(c.unsupported(ldr)),
        }
    }
    Ok(())
}
