//! The build: load a kustomization, accumulate its resources, components and generators,
//! run its transformers in kustomize's order, recursively; then the top-level steps
//! (hash suffixes, name references, local-config removal, sort).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gitops_manifest::yaml;
use serde_json::{Map, Value};

use crate::config::{ConfigFile, TransformerConfig, from_entry, merge_specs};
use crate::error::RenderError;
use crate::fieldspec::FieldSpec;
use crate::fs::FileSystem;
use crate::generator::{GenKind, generate};
use crate::kustomization::{
    FILE_NAMES, Json6902Entry, Kustomization, PatchEntry, Selector, UNSUPPORTED_KEYS, label_text,
};
use crate::loader::{Loader, fs_error, shown};
use crate::origin::{Built, NameLines, Origin, generator_line};
use crate::plugins::{self, PluginConfig};
use crate::resmap::ResMap;
use crate::resource::Resource;
use crate::selector::TargetMatcher;
use crate::transform::patch::{PatchBody, PatchOptions, parse_body};
use crate::transform::replacements::Replacement;
use crate::transform::{
    images, labels, name_reference, namespace, patch, prefix_suffix, replacements, replicas,
};
use crate::{hash, sort};

/// A loaded kustomization and where it lives.
struct Loaded {
    dir: PathBuf,
    kfile: PathBuf,
    k: Kustomization,
    /// The kustomization's text, kept only when origins are tracked (generators' lines).
    text: Option<String>,
}

/// The objects accumulated so far and the field specs added by `configurations`.
#[derive(Default)]
struct Acc {
    res: ResMap,
    extra: Option<TransformerConfig>,
}

impl Acc {
    fn add_config(&mut self, more: &TransformerConfig) {
        match &mut self.extra {
            Some(e) => e.merge(more),
            None => self.extra = Some(more.clone()),
        }
    }
}

/// One build over one file system.
pub struct Builder<'a> {
    fs: &'a dyn FileSystem,
    builtin: TransformerConfig,
    /// Folders whose build is in progress, to refuse cycles.
    stack: Vec<PathBuf>,
    /// Whether to record each object's [`Origin`] (file and line).
    origins: bool,
}

fn parse_yaml(path: &Path, text: &str) -> Result<Vec<Value>, RenderError> {
    yaml::parse_documents(text).map_err(|e| RenderError::yaml(path, &e))
}

/// Remove `metadata.annotations` when it is an empty mapping (see [`Builder::build`]).
pub(crate) fn drop_empty_annotations(obj: &mut Map<String, Value>) {
    if let Some(Value::Object(meta)) = obj.get_mut("metadata")
        && meta
            .get("annotations")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
    {
        meta.remove("annotations");
    }
}

/// Parse YAML written inline in a kustomization (a patch, a plugin config). Its line numbers
/// count from the start of the inline text, not of the file, so the error names the field
/// and says so rather than pointing at a wrong line of the kustomization.
fn parse_inline(kfile: &Path, field: &str, text: &str) -> Result<Vec<Value>, RenderError> {
    yaml::parse_documents(text).map_err(|e| {
        let at = e
            .line
            .map(|l| format!(" (line {l} of the inline text)"))
            .unwrap_or_default();
        RenderError::field(kfile, field, format!("invalid YAML{at}: {}", e.message))
    })
}

fn text_of(path: &Path, bytes: Vec<u8>) -> Result<String, RenderError> {
    String::from_utf8(bytes).map_err(|_| RenderError::file(path, "not UTF-8 text"))
}

fn string_map(
    m: &std::collections::BTreeMap<String, Value>,
    kfile: &Path,
    field: &str,
) -> Result<Map<String, Value>, RenderError> {
    let mut out = Map::new();
    for (k, v) in m {
        let s = label_text(v).map_err(|e| RenderError::field(kfile, format!("{field}.{k}"), e))?;
        out.insert(k.clone(), Value::String(s));
    }
    Ok(out)
}

fn looks_remote(s: &str) -> bool {
    s.contains("://")
        || s.starts_with("github.com/")
        || s.starts_with("git@")
        || s.contains("?ref=")
}

impl<'a> Builder<'a> {
    pub fn new(fs: &'a dyn FileSystem) -> Self {
        Self {
            fs,
            builtin: TransformerConfig::builtin(),
            stack: Vec::new(),
            origins: false,
        }
    }

    /// A build that records where each object was declared ([`Builder::build_with_origins`]).
    pub fn with_origins(fs: &'a dyn FileSystem) -> Self {
        Self {
            origins: true,
            ..Self::new(fs)
        }
    }

    fn load(&self, dir: &Path) -> Result<Loaded, RenderError> {
        if !self.fs.is_dir(dir) {
            let msg = if self.fs.is_file(dir) {
                "is a file, not a directory"
            } else {
                "no such directory"
            };
            return Err(RenderError::file(shown(dir), msg));
        }
        let Some(kfile) = FILE_NAMES
            .iter()
            .map(|n| dir.join(n))
            .find(|p| self.fs.is_file(p))
        else {
            return Err(RenderError::file(
                shown(dir),
                "no kustomization.yaml, kustomization.yml or Kustomization in this directory",
            ));
        };
        let bytes = self.fs.read(&kfile).map_err(|e| fs_error(&kfile, &e))?;
        let text = text_of(&kfile, bytes)?;
        let mut docs = parse_yaml(&kfile, &text)?;
        if docs.len() > 1 {
            return Err(RenderError::file(
                &kfile,
                "a kustomization file must hold one YAML document",
            ));
        }
        let value = docs.pop().unwrap_or(Value::Object(Map::new()));
        let k = Kustomization::from_value(value)
            .map_err(|(field, msg)| RenderError::field(&kfile, field, msg))?;
        if let Some(key) = UNSUPPORTED_KEYS
            .iter()
            .find(|key| k.unsupported.contains_key(**key))
        {
            return Err(RenderError::field(
                &kfile,
                *key,
                "not supported by gitops build",
            ));
        }
        match (k.kind.as_deref(), k.api_version.as_deref()) {
            (None | Some("Kustomization"), None | Some("kustomize.config.k8s.io/v1beta1")) => {}
            (Some("Component"), Some("kustomize.config.k8s.io/v1alpha1")) => {}
            (Some("Component"), _) => {
                return Err(RenderError::field(
                    &kfile,
                    "apiVersion",
                    "apiVersion for Component should be kustomize.config.k8s.io/v1alpha1",
                ));
            }
            (Some("Kustomization") | None, Some(v)) => {
                return Err(RenderError::field(
                    &kfile,
                    "apiVersion",
                    format!("unsupported apiVersion `{v}`"),
                ));
            }
            (Some(kind), _) => {
                return Err(RenderError::field(
                    &kfile,
                    "kind",
                    format!("unknown kind `{kind}` (Kustomization or Component)"),
                ));
            }
        }
        Ok(Loaded {
            dir: dir.to_path_buf(),
            kfile,
            k,
            text: self.origins.then_some(text),
        })
    }

    fn enter(&mut self, dir: &Path, kfile: &Path, field: &str) -> Result<(), RenderError> {
        if self.stack.iter().any(|d| d == dir) {
            let chain: Vec<String> = self
                .stack
                .iter()
                .map(|d| shown(d).display().to_string())
                .collect();
            return Err(RenderError::field(
                kfile,
                field,
                format!(
                    "cycle: `{}` is already being built ({} → {})",
                    shown(dir).display(),
                    chain.join(" → "),
                    shown(dir).display()
                ),
            ));
        }
        self.stack.push(dir.to_path_buf());
        Ok(())
    }

    /// Build the kustomization in `dir` to its final objects.
    pub fn build(&mut self, dir: &Path) -> Result<Vec<Value>, RenderError> {
        Ok(self
            .build_resources(dir)?
            .into_iter()
            .map(|r| Value::Object(r.obj))
            .collect())
    }

    /// [`Builder::build`], each object with its origin (a builder made by
    /// [`Builder::with_origins`] records them; any other gives `None`).
    pub fn build_with_origins(&mut self, dir: &Path) -> Result<Vec<Built>, RenderError> {
        Ok(self
            .build_resources(dir)?
            .into_iter()
            .map(|r| Built {
                object: Value::Object(r.obj),
                origin: r.origin.map(Arc::unwrap_or_clone),
            })
            .collect())
    }

    fn build_resources(&mut self, dir: &Path) -> Result<Vec<Resource>, RenderError> {
        let top = self.load(dir)?;
        let mut acc = Acc::default();
        self.enter(dir, &top.kfile, "")?;
        self.accumulate(&top, &mut acc)?;
        self.stack.pop();

        let mut config = self.builtin.clone();
        if let Some(extra) = &acc.extra {
            config.merge(extra);
        }
        for r in acc.res.iter_mut().filter(|r| r.needs_hash) {
            let suffix = hash::hash_suffix(&r.obj);
            r.store_prev_id();
            let name = format!("{}-{suffix}", r.name());
            r.set_name(&name);
        }
        name_reference::fix(&mut acc.res, &config)
            .map_err(|e| RenderError::field(&top.kfile, "", e))?;
        acc.res.retain(|r| {
            r.meta_map("annotations")
                .get("config.kubernetes.io/local-config")
                .and_then(Value::as_str)
                != Some("true")
        });
        // kustomize keeps internal annotations on every object while it builds and clears
        // the map when it is empty at the end, so `annotations: {}` never reaches its output.
        for r in acc.res.iter_mut() {
            drop_empty_annotations(&mut r.obj);
        }

        let mut list = acc.res.into_vec();
        let opts = top.k.sort_options.clone().unwrap_or_default();
        match opts.order.as_deref() {
            Some("fifo") => {
                if opts.legacy_sort_options.is_some() {
                    return Err(RenderError::field(
                        &top.kfile,
                        "sortOptions.legacySortOptions",
                        "is set but the selected sort order is `fifo`, not `legacy`",
                    ));
                }
            }
            None | Some("legacy") => {
                let (first, last) = match &opts.legacy_sort_options {
                    Some(l) => (l.order_first.clone(), l.order_last.clone()),
                    None => (
                        sort::ORDER_FIRST.iter().map(|s| s.to_string()).collect(),
                        sort::ORDER_LAST.iter().map(|s| s.to_string()).collect(),
                    ),
                };
                list = sort::legacy(list, &first, &last);
            }
            Some(other) => {
                return Err(RenderError::field(
                    &top.kfile,
                    "sortOptions.order",
                    format!("unknown order `{other}` (legacy or fifo)"),
                ));
            }
        }
        Ok(list)
    }

    fn accumulate(&mut self, l: &Loaded, acc: &mut Acc) -> Result<(), RenderError> {
        let ldr = Loader {
            fs: self.fs,
            dir: l.dir.clone(),
            kfile: l.kfile.clone(),
        };
        let k = &l.k;
        let entries = k
            .resources
            .iter()
            .map(|e| ("resources", e))
            .chain(k.bases.iter().map(|e| ("bases", e)));
        for (i, (field, entry)) in entries.enumerate() {
            self.add_resource(&ldr, &format!("{field}[{i}]"), entry, acc)?;
        }
        for (i, c) in k.configurations.iter().enumerate() {
            let field = format!("configurations[{i}]");
            let (path, text) = ldr.read_text(c, &field)?;
            let docs = parse_yaml(&path, &text)?;
            for d in docs {
                let cf: ConfigFile = serde_json::from_value(d)
                    .map_err(|e| RenderError::field(&path, "", e.to_string()))?;
                acc.add_config(&cf.into_config());
            }
        }
        for (i, c) in k.components.iter().enumerate() {
            let field = format!("components[{i}]");
            let dir = ldr.resolve(c, &field)?;
            if !self.fs.is_dir(&dir) {
                let msg = if looks_remote(c) {
                    format!("remote component `{c}` is not supported")
                } else {
                    format!("`{c}`: no such directory (components must be folders)")
                };
                return Err(RenderError::field(&l.kfile, field, msg));
            }
            let sub = self.load(&dir)?;
            if !sub.k.is_component() {
                return Err(RenderError::field(
                    &l.kfile,
                    field,
                    format!(
                        "`{}` is a Kustomization, expected kind `Component`",
                        shown(&dir).display()
                    ),
                ));
            }
            self.enter(&dir, &l.kfile, &field)?;
            self.accumulate(&sub, acc)?;
            self.stack.pop();
        }
        self.generate(&ldr, l.text.as_deref(), k, acc)?;
        let gens = self.plugin_configs(&ldr, l.text.as_deref(), "generators", &k.generators)?;
        plugins::generate_all(&ldr, &gens, &mut acc.res)?;
        self.transform(&ldr, k, acc)?;
        let trans = self.plugin_configs(&ldr, None, "transformers", &k.transformers)?;
        if !trans.is_empty() {
            let mut config = self.builtin.clone();
            if let Some(extra) = &acc.extra {
                config.merge(extra);
            }
            plugins::transform_all(&ldr, &trans, &mut acc.res, &config)?;
        }
        Ok(())
    }

    /// Load the plugin configurations listed under `field` (files, inline YAML, folders).
    /// `text` is the kustomization's text when origins are tracked: a generator's output is
    /// declared where its configuration is (inline: the kustomization, under `field`).
    fn plugin_configs(
        &mut self,
        ldr: &Loader<'_>,
        text: Option<&str>,
        field: &str,
        entries: &[String],
    ) -> Result<Vec<PluginConfig>, RenderError> {
        let mut out = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let f = format!("{field}[{i}]");
            let docs: Vec<(Value, Option<Arc<Origin>>)> = if entry.contains('\n') {
                parse_inline(&ldr.kfile, &f, entry)?
                    .into_iter()
                    .map(|d| {
                        let origin = text.map(|text| {
                            let line = generator_line(text, Some(field), config_name(&d));
                            Arc::new(Origin {
                                file: ldr.kfile.clone(),
                                line,
                            })
                        });
                        (d, origin)
                    })
                    .collect()
            } else {
                let path = ldr.resolve(entry, &f)?;
                if self.fs.is_dir(&path) {
                    let sub = self.load(&path)?;
                    self.enter(&path, &ldr.kfile, &f)?;
                    let mut sub_acc = Acc::default();
                    self.accumulate(&sub, &mut sub_acc)?;
                    self.stack.pop();
                    sub_acc
                        .res
                        .into_vec()
                        .into_iter()
                        .map(|r| (Value::Object(r.obj), r.origin))
                        .collect()
                } else {
                    let (path, file_text) = ldr.read_text(entry, &f)?;
                    let docs = parse_yaml(&path, &file_text)?;
                    let mut lines = text.map(|_| NameLines::new(&file_text, docs.len()));
                    docs.into_iter()
                        .enumerate()
                        .map(|(doc, d)| {
                            let origin = lines.as_mut().map(|lines| {
                                let line = lines.resource(doc, config_name(&d));
                                Arc::new(Origin {
                                    file: path.clone(),
                                    line,
                                })
                            });
                            (d, origin)
                        })
                        .collect()
                }
            };
            for (d, origin) in docs {
                let Value::Object(obj) = d else {
                    return Err(RenderError::field(
                        &ldr.kfile,
                        &f,
                        "a plugin configuration must be a mapping",
                    ));
                };
                out.push(PluginConfig {
                    field: f.clone(),
                    obj,
                    origin,
                });
            }
        }
        Ok(out)
    }

    fn add_resource(
        &mut self,
        ldr: &Loader<'_>,
        field: &str,
        entry: &str,
        acc: &mut Acc,
    ) -> Result<(), RenderError> {
        let path = ldr.resolve(entry, field)?;
        if self.fs.is_file(&path) {
            let (path, bytes) = ldr.read_local(entry, field)?;
            let text = text_of(&path, bytes)?;
            let docs = parse_yaml(&path, &text)?;
            let count = docs.len();
            let mut lines = self.origins.then(|| NameLines::new(&text, count));
            let file = self.origins.then(|| path.clone());
            for (doc, obj) in objects_of(&path, docs)? {
                let mut r = Resource::new(obj);
                if let (Some(lines), Some(file)) = (&mut lines, &file) {
                    r.origin = Some(Arc::new(Origin {
                        file: file.clone(),
                        line: lines.resource(doc, r.name()),
                    }));
                }
                acc.res.append(r).map_err(|id| {
                    RenderError::field(
                        &ldr.kfile,
                        field,
                        format!("may not add resource with an already registered id: {id}"),
                    )
                })?;
            }
            return Ok(());
        }
        if self.fs.is_dir(&path) {
            let sub = self.load(&path)?;
            if sub.k.is_component() {
                return Err(RenderError::field(
                    &ldr.kfile,
                    field,
                    format!(
                        "`{}` is a Component: list it under `components`, not `resources`",
                        shown(&path).display()
                    ),
                ));
            }
            self.enter(&path, &ldr.kfile, field)?;
            let mut sub_acc = Acc::default();
            self.accumulate(&sub, &mut sub_acc)?;
            self.stack.pop();
            if let Some(extra) = &sub_acc.extra {
                acc.add_config(extra);
            }
            for r in sub_acc.res.into_vec() {
                acc.res.append(r).map_err(|id| {
                    RenderError::field(
                        &ldr.kfile,
                        field,
                        format!("may not add resource with an already registered id: {id}"),
                    )
                })?;
            }
            return Ok(());
        }
        let msg = if looks_remote(entry) {
            format!("remote resource `{entry}` is not supported")
        } else {
            format!("`{entry}`: no such file or directory")
        };
        Err(RenderError::field(&ldr.kfile, field, msg))
    }

    /// Run the kustomization's generators; `text` is its text when origins are tracked.
    fn generate(
        &self,
        ldr: &Loader<'_>,
        text: Option<&str>,
        k: &Kustomization,
        acc: &mut Acc,
    ) -> Result<(), RenderError> {
        let gens = k
            .config_map_generator
            .iter()
            .enumerate()
            .map(|(i, g)| (GenKind::ConfigMap, i, g, "configMapGenerator"))
            .chain(
                k.secret_generator
                    .iter()
                    .enumerate()
                    .map(|(i, g)| (GenKind::Secret, i, g, "secretGenerator")),
            );
        for (kind, i, args, field) in gens {
            let mut r = generate(ldr, kind, i, args, k.generator_options.as_ref())?;
            if let Some(text) = text {
                r.origin = Some(Arc::new(Origin {
                    file: ldr.kfile.clone(),
                    line: generator_line(text, Some(field), &args.name),
                }));
            }
            acc.res
                .absorb(r)
                .map_err(|e| RenderError::field(&ldr.kfile, format!("{field}[{i}]"), e))?;
        }
        Ok(())
    }

    fn transform(
        &self,
        ldr: &Loader<'_>,
        k: &Kustomization,
        acc: &mut Acc,
    ) -> Result<(), RenderError> {
        let kfile = &ldr.kfile;
        let merged;
        let config = match &acc.extra {
            None => &self.builtin,
            Some(extra) => {
                let mut c = self.builtin.clone();
                c.merge(extra);
                merged = c;
                &merged
            }
        };
        let fail = |field: String| move |e: String| RenderError::field(kfile, field, e);

        for (i, entry) in k.patches_strategic_merge.iter().enumerate() {
            smp_entry(
                ldr,
                &mut acc.res,
                &format!("patchesStrategicMerge[{i}]"),
                entry,
            )?;
        }
        for (i, p) in k.patches.iter().enumerate() {
            patch_entry(ldr, &mut acc.res, &format!("patches[{i}]"), p)?;
        }

        if let Some(ns) = &k.namespace {
            namespace::transform(&mut acc.res, ns, &config.namespace)
                .map_err(fail("namespace".into()))?;
        }
        prefix_suffix::transform(
            &mut acc.res,
            k.name_prefix.as_deref().unwrap_or(""),
            k.name_suffix.as_deref().unwrap_or(""),
            &config.name_prefix,
            &config.name_suffix,
        );

        for (i, entry) in k.labels.iter().enumerate() {
            let field = format!("labels[{i}]");
            let pairs = string_map(&entry.pairs, kfile, &format!("{field}.pairs"))?;
            let mut specs: Vec<FieldSpec> = entry.fields.iter().map(from_entry).collect();
            merge_specs(&mut specs, config.labels.clone());
            if entry.include_selectors {
                merge_specs(&mut specs, config.common_labels.clone());
            } else {
                merge_specs(
                    &mut specs,
                    vec![FieldSpec::new(Default::default(), "metadata/labels", true)],
                );
                if entry.include_templates {
                    merge_specs(&mut specs, config.template_labels.clone());
                }
            }
            labels::transform(&mut acc.res, &pairs, &specs).map_err(fail(field))?;
        }
        if let Some(cl) = &k.common_labels {
            let pairs = string_map(cl, kfile, "commonLabels")?;
            labels::transform(&mut acc.res, &pairs, &config.common_labels)
                .map_err(fail("commonLabels".into()))?;
        }
        if let Some(ca) = &k.common_annotations {
            let pairs = string_map(ca, kfile, "commonAnnotations")?;
            labels::transform(&mut acc.res, &pairs, &config.common_annotations)
                .map_err(fail("commonAnnotations".into()))?;
        }

        for (i, p) in k.patches_json6902.iter().enumerate() {
            json6902_entry(ldr, &mut acc.res, &format!("patchesJson6902[{i}]"), p)?;
        }

        for (i, r) in k.replicas.iter().enumerate() {
            replicas::transform(&mut acc.res, &r.name, r.count, &config.replicas)
                .map_err(fail(format!("replicas[{i}]")))?;
        }
        images::Images::new(&k.images).transform(&mut acc.res, &config.images);
        for (i, entry) in k.replacements.iter().enumerate() {
            let field = format!("replacements[{i}]");
            for rep in load_replacements(ldr, entry, &field)? {
                replacements::apply(&mut acc.res, &rep).map_err(fail(field.clone()))?;
            }
        }
        Ok(())
    }
}

/// A `patchesStrategicMerge` entry: a file or an inline patch, applied to the object it names.
pub(crate) fn smp_entry(
    ldr: &Loader<'_>,
    res: &mut ResMap,
    field: &str,
    entry: &str,
) -> Result<(), RenderError> {
    let kfile = &ldr.kfile;
    let docs = if entry.contains('\n') {
        parse_inline(kfile, field, entry)?
    } else {
        let (path, text) = ldr.read_text(entry, field)?;
        parse_yaml(&path, &text)?
    };
    let body = parse_body(docs).map_err(|e| RenderError::field(kfile, field, e))?;
    if matches!(body, PatchBody::Json(_)) {
        return Err(RenderError::field(
            kfile,
            field,
            "a JSON 6902 patch belongs under `patches` with a target",
        ));
    }
    patch::apply(res, &body, None, PatchOptions::default())
        .map_err(|e| RenderError::field(kfile, field, e))
}

/// A `patches` entry: strategic merge or JSON 6902, inline or from a file, with an optional target.
pub(crate) fn patch_entry(
    ldr: &Loader<'_>,
    res: &mut ResMap,
    field: &str,
    p: &PatchEntry,
) -> Result<(), RenderError> {
    let kfile = &ldr.kfile;
    let docs = match (&p.path, &p.patch) {
        (Some(_), Some(_)) => {
            return Err(RenderError::field(
                kfile,
                field,
                "`patch` and `path` cannot both be set",
            ));
        }
        (None, None) => return Err(RenderError::field(kfile, field, "needs `patch` or `path`")),
        (Some(path), None) => {
            let (path, text) = ldr.read_text(path, &format!("{field}.path"))?;
            parse_yaml(&path, &text)?
        }
        (None, Some(inline)) => parse_inline(kfile, &format!("{field}.patch"), inline)?,
    };
    let body = parse_body(docs).map_err(|e| RenderError::field(kfile, field, e))?;
    let mut opts = PatchOptions::default();
    for (key, v) in &p.options {
        match key.as_str() {
            "allowNameChange" => opts.allow_name_change = *v,
            "allowKindChange" => opts.allow_kind_change = *v,
            other => {
                return Err(RenderError::field(
                    kfile,
                    format!("{field}.options.{other}"),
                    "unknown option",
                ));
            }
        }
    }
    let matcher = target_matcher(p.target.as_ref(), kfile, field)?;
    patch::apply(res, &body, matcher.as_ref(), opts)
        .map_err(|e| RenderError::field(kfile, field, e))
}

/// A `patchesJson6902` entry: a JSON 6902 patch (inline or from a file) and its target.
pub(crate) fn json6902_entry(
    ldr: &Loader<'_>,
    res: &mut ResMap,
    field: &str,
    p: &Json6902Entry,
) -> Result<(), RenderError> {
    let kfile = &ldr.kfile;
    let docs = match (&p.path, &p.patch) {
        (Some(path), None) => {
            let (path, text) = ldr.read_text(path, &format!("{field}.path"))?;
            parse_yaml(&path, &text)?
        }
        (None, Some(inline)) => parse_inline(kfile, &format!("{field}.patch"), inline)?,
        _ => {
            return Err(RenderError::field(
                kfile,
                field,
                "needs exactly one of `patch` and `path`",
            ));
        }
    };
    let body = parse_body(docs).map_err(|e| RenderError::field(kfile, field, e))?;
    if !matches!(body, PatchBody::Json(_)) {
        return Err(RenderError::field(
            kfile,
            field,
            "must be a JSON 6902 patch (a list of operations)",
        ));
    }
    let Some(matcher) = target_matcher(p.target.as_ref(), kfile, field)? else {
        return Err(RenderError::field(
            kfile,
            format!("{field}.target"),
            "a JSON 6902 patch needs a target",
        ));
    };
    patch::apply(res, &body, Some(&matcher), PatchOptions::default())
        .map_err(|e| RenderError::field(kfile, field, e))
}

fn target_matcher(
    t: Option<&Selector>,
    kfile: &Path,
    field: &str,
) -> Result<Option<TargetMatcher>, RenderError> {
    t.map(|s| {
        TargetMatcher::new(s).map_err(|e| RenderError::field(kfile, format!("{field}.target"), e))
    })
    .transpose()
}

pub(crate) fn load_replacements(
    ldr: &Loader<'_>,
    entry: &Value,
    field: &str,
) -> Result<Vec<Replacement>, RenderError> {
    let kfile = &ldr.kfile;
    let as_one = |v: Value, file: &Path| -> Result<Vec<Replacement>, RenderError> {
        let list = match v {
            Value::Array(items) => items,
            other => vec![other],
        };
        list.into_iter()
            .map(|v| {
                serde_json::from_value(v)
                    .map_err(|e| RenderError::field(file, field, e.to_string()))
            })
            .collect()
    };
    if let Some(path) = entry.get("path").and_then(Value::as_str) {
        if entry.as_object().is_some_and(|m| m.len() > 1) {
            return Err(RenderError::field(
                kfile,
                field,
                "a replacement with `path` may have no other fields",
            ));
        }
        let (path, text) = ldr.read_text(path, &format!("{field}.path"))?;
        let mut out = Vec::new();
        for doc in parse_yaml(&path, &text)? {
            out.extend(as_one(doc, &path)?);
        }
        return Ok(out);
    }
    as_one(entry.clone(), kfile)
}

/// A plugin configuration's `metadata.name` (the name a generator gives its output).
fn config_name(config: &Value) -> &str {
    config
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// An object of a resource file and the index of the document it came from.
type FileObject = (usize, Map<String, Value>);

/// The objects of a resource file: documents, with `List` kinds expanded.
fn objects_of(path: &Path, docs: Vec<Value>) -> Result<Vec<FileObject>, RenderError> {
    let mut out = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        objects_in(path, i, doc, &mut out)?;
    }
    Ok(out)
}

fn objects_in(
    path: &Path,
    index: usize,
    doc: Value,
    out: &mut Vec<FileObject>,
) -> Result<(), RenderError> {
    let Value::Object(mut obj) = doc else {
        return Err(RenderError::file(
            path,
            "a resource document must be a mapping",
        ));
    };
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind.ends_with("List") && matches!(obj.get("items"), Some(Value::Array(_))) {
        if let Some(Value::Array(items)) = obj.remove("items") {
            for item in items {
                objects_in(path, index, item, out)?;
            }
        }
        return Ok(());
    }
    if kind.is_empty() {
        return Err(RenderError::file(path, "an object has no `kind`"));
    }
    let named = obj
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !named {
        return Err(RenderError::file(
            path,
            format!("a `{kind}` has no `metadata.name`"),
        ));
    }
    out.push((index, obj));
    Ok(())
}
