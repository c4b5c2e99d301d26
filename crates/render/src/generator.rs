//! `configMapGenerator` and `secretGenerator`: objects made from literals, files and env files.

use base64::Engine;
use serde_json::{Map, Value};

use crate::error::RenderError;
use crate::kustomization::{GeneratorArgs, GeneratorOptions, label_text};
use crate::loader::Loader;
use crate::resource::{Behavior, Resource};

/// Which generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenKind {
    ConfigMap,
    Secret,
}

impl GenKind {
    fn field(self) -> &'static str {
        match self {
            GenKind::ConfigMap => "configMapGenerator",
            GenKind::Secret => "secretGenerator",
        }
    }
}

/// Make the object of one generator entry. `index` is its position, for error messages.
pub fn generate(
    ldr: &Loader<'_>,
    kind: GenKind,
    index: usize,
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
) -> Result<Resource, RenderError> {
    let field = format!("{}[{index}]", kind.field());
    let err = |sub: &str, msg: String| RenderError::field(&ldr.kfile, format!("{field}{sub}"), msg);
    if args.name.is_empty() {
        return Err(err(".name", "a generator needs a name".into()));
    }
    let behavior = match args.behavior.as_str() {
        "" | "create" => Behavior::Create,
        "merge" => Behavior::Merge,
        "replace" => Behavior::Replace,
        other => {
            return Err(err(
                ".behavior",
                format!("unknown behavior `{other}` (create, merge or replace)"),
            ));
        }
    };
    if kind == GenKind::ConfigMap && !args.type_.is_empty() {
        return Err(err(".type", "a ConfigMap has no type".into()));
    }

    // (key, bytes) in source order: env files, then literals, then files, as kustomize reads them.
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut envs: Vec<&str> = args.envs.iter().map(String::as_str).collect();
    if !args.env.is_empty() {
        envs.push(&args.env);
    }
    for (i, env) in envs.iter().enumerate() {
        let (path, bytes) = ldr.read_local(env, &format!("{field}.envs[{i}]"))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| RenderError::file(&path, "an env file must be UTF-8 text"))?;
        for (n, line) in text.lines().enumerate() {
            let line = if n == 0 {
                line.trim_start_matches('\u{feff}')
            } else {
                line
            };
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = match line.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (line.to_string(), std::env::var(line).unwrap_or_default()),
            };
            if key.is_empty() {
                return Err(RenderError::file(
                    &path,
                    format!("line {}: `{key}` is not a valid variable name", n + 1),
                ));
            }
            pairs.push((key, value.into_bytes()));
        }
    }
    for (i, lit) in args.literals.iter().enumerate() {
        let Some((k, v)) = lit.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(err(
                &format!(".literals[{i}]"),
                format!("`{lit}` is not of the form key=value"),
            ));
        };
        pairs.push((k.to_string(), strip_quotes(v).as_bytes().to_vec()));
    }
    for (i, f) in args.files.iter().enumerate() {
        let (key, path) = match f.split_once('=') {
            Some((k, p)) => {
                if k.is_empty() || p.is_empty() {
                    return Err(err(
                        &format!(".files[{i}]"),
                        format!("`{f}` is not of the form key=path"),
                    ));
                }
                (k.to_string(), p)
            }
            None => {
                let base = std::path::Path::new(f)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (base, f.as_str())
            }
        };
        let (_, bytes) = ldr.read_local(path, &format!("{field}.files[{i}]"))?;
        pairs.push((key, bytes));
    }

    let mut data = Map::new();
    let mut binary = Map::new();
    for (key, bytes) in pairs {
        if data.contains_key(&key) || binary.contains_key(&key) {
            return Err(err(
                "",
                format!("cannot add key `{key}`, another key by that name already exists"),
            ));
        }
        let b64 = || base64::engine::general_purpose::STANDARD.encode(&bytes);
        match kind {
            GenKind::Secret => {
                data.insert(key, Value::String(wrapped_base64(&bytes)));
            }
            GenKind::ConfigMap => match std::str::from_utf8(&bytes) {
                Ok(s) => {
                    data.insert(key, Value::String(s.to_string()));
                }
                Err(_) => {
                    binary.insert(key, Value::String(b64()));
                }
            },
        }
    }

    // Per-generator options, then the kustomization's: the global ones win, as in kustomize.
    let mut labels = Map::new();
    let mut annotations = Map::new();
    let mut disable_hash = false;
    let mut immutable = false;
    for opts in [args.options.as_ref(), global].into_iter().flatten() {
        for (k, v) in &opts.labels {
            labels.insert(k.clone(), Value::String(label_text(v).unwrap_or_default()));
        }
        for (k, v) in &opts.annotations {
            annotations.insert(k.clone(), Value::String(label_text(v).unwrap_or_default()));
        }
        disable_hash |= opts.disable_name_suffix_hash;
        immutable |= opts.immutable;
    }

    let mut meta = Map::new();
    meta.insert("name".into(), Value::String(args.name.clone()));
    if !args.namespace.is_empty() {
        meta.insert("namespace".into(), Value::String(args.namespace.clone()));
    }
    if !labels.is_empty() {
        meta.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), Value::Object(annotations));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String("v1".into()));
    obj.insert(
        "kind".into(),
        Value::String(match kind {
            GenKind::ConfigMap => "ConfigMap".into(),
            GenKind::Secret => "Secret".into(),
        }),
    );
    obj.insert("metadata".into(), Value::Object(meta));
    if kind == GenKind::Secret {
        let t = if args.type_.is_empty() {
            "Opaque"
        } else {
            &args.type_
        };
        obj.insert("type".into(), Value::String(t.to_string()));
    }
    if !data.is_empty() {
        obj.insert("data".into(), Value::Object(data));
    }
    if !binary.is_empty() {
        obj.insert("binaryData".into(), Value::Object(binary));
    }
    if immutable {
        obj.insert("immutable".into(), Value::Bool(true));
    }
    let mut res = Resource::new(obj);
    res.behavior = Some(behavior);
    res.needs_hash = !disable_hash;
    Ok(res)
}

/// kustomize strips one pair of matching quotes around a literal's value.
fn strip_quotes(v: &str) -> &str {
    if v.len() >= 2 {
        let b = v.as_bytes();
        if (b[0] == b'"' && b[v.len() - 1] == b'"') || (b[0] == b'\'' && b[v.len() - 1] == b'\'') {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// kustomize encodes Secret values in lines of 70 characters, each ending in a newline when
/// there is more than one line (api/kv: `encodeBase64`).
fn wrapped_base64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let enc = base64::engine::general_purpose::STANDARD.encode(bytes);
    if enc.len() < LINE {
        return enc;
    }
    let mut out = String::with_capacity(enc.len() + enc.len() / LINE + 1);
    for chunk in enc.as_bytes().chunks(LINE) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}
