//! `images`: rewrite container images by name (new name, tag, digest) wherever pods have
//! `containers` or `initContainers`, plus any `images` field specs from `configurations`.

use std::collections::HashMap;

use serde_json::Value;

use crate::fieldspec::{FieldSpec, Leaf, walk};
use crate::kustomization::ImageEntry;
use crate::resmap::ResMap;

/// Split an image reference into name, tag and digest (kustomize's `image.Split`).
pub fn split(image: &str) -> (&str, &str, &str) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@').map(|i| i + slash);
    let colon = search.find(':').map(|i| i + slash);
    match (at, colon) {
        (None, None) => (image, "", ""),
        (Some(d), c) if c.is_none_or(|c| d < c) => (&image[..d], "", &image[d + 1..]),
        (Some(d), Some(c)) => (&image[..c], &image[c + 1..d], &image[d + 1..]),
        (None, Some(c)) => (&image[..c], &image[c + 1..], ""),
        (Some(d), None) => (&image[..d], "", &image[d + 1..]),
    }
}

/// Whether `value` names the image `name` with an optional tag and digest
/// (kustomize's `IsImageMatched`: `^name(:tag)?(@sha256:digest)?$`).
fn matches(value: &str, name: &str) -> bool {
    let allowed = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.{}-".contains(c))
    };
    let Some(mut rest) = value.strip_prefix(name) else {
        return false;
    };
    if let Some(after) = rest.strip_prefix(':') {
        let end = after.find('@').unwrap_or(after.len());
        if !allowed(&after[..end]) {
            return false;
        }
        rest = &after[end..];
    }
    if rest.is_empty() {
        return true;
    }
    rest.strip_prefix("@sha256:").is_some_and(allowed)
}

fn update(value: &str, img: &ImageEntry, new_tag: &str) -> Option<String> {
    if !matches(value, &img.name) {
        return None;
    }
    let (name, tag, digest) = split(value);
    let mut name = name.to_string();
    let (mut tag, mut digest) = (tag.to_string(), digest.to_string());
    if !img.new_name.is_empty() {
        name = img.new_name.clone();
    }
    if !new_tag.is_empty() && !img.digest.is_empty() {
        tag = new_tag.to_string();
        digest = img.digest.clone();
    } else if !new_tag.is_empty() {
        tag = new_tag.to_string();
        digest.clear();
    } else if !img.digest.is_empty() {
        tag.clear();
        digest = img.digest.clone();
    }
    if !img.tag_suffix.is_empty() {
        tag.push_str(&img.tag_suffix);
    }
    if !tag.is_empty() {
        name = format!("{name}:{tag}");
    }
    if !digest.is_empty() {
        name = format!("{name}@{digest}");
    }
    Some(name)
}

/// All `images` entries of a kustomization, indexed by image name so one pass over the
/// objects applies them all (one pass per entry would be quadratic in big repositories).
pub struct Images<'a> {
    entries: Vec<(&'a ImageEntry, String)>,
    by_name: HashMap<&'a str, Vec<usize>>,
    /// Entries whose name carries a tag or digest: checked against every image.
    odd: Vec<usize>,
}

impl<'a> Images<'a> {
    pub fn new(list: &'a [ImageEntry]) -> Self {
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut odd = Vec::new();
        let mut entries = Vec::new();
        for (i, img) in list.iter().enumerate() {
            let tag = img.new_tag.clone().unwrap_or_default();
            entries.push((img, tag));
            if split(&img.name).0 == img.name {
                by_name.entry(img.name.as_str()).or_default().push(i);
            } else {
                odd.push(i);
            }
        }
        Self {
            entries,
            by_name,
            odd,
        }
    }

    /// Apply the entries, in order, to one image reference (a later entry sees what an
    /// earlier one wrote, as when kustomize runs them one after another).
    fn apply(&self, s: &mut String) {
        let mut pos = 0;
        loop {
            let name = split(s).0;
            let next = self
                .by_name
                .get(name)
                .into_iter()
                .flatten()
                .chain(&self.odd)
                .copied()
                .filter(|&i| i >= pos)
                .filter(|&i| matches(s, &self.entries[i].0.name))
                .min();
            let Some(i) = next else {
                return;
            };
            let (img, tag) = &self.entries[i];
            if let Some(new) = update(s, img, tag) {
                *s = new;
            }
            pos = i + 1;
        }
    }

    fn set(&self, node: &mut Value) {
        if let Value::String(s) = node {
            self.apply(s);
        }
    }

    /// Find `containers` / `initContainers` sequences anywhere and update their images.
    fn legacy(&self, node: &mut Value) {
        match node {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if (k == "containers" || k == "initContainers")
                        && let Value::Array(items) = v
                    {
                        for c in items.iter_mut() {
                            if let Some(image) = c.get_mut("image") {
                                self.set(image);
                            }
                        }
                    }
                    self.legacy(v);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.legacy(i)),
            _ => {}
        }
    }

    /// Apply every entry to every object: pod containers anywhere, then the `images` field
    /// specs of `configurations`.
    pub fn transform(&self, res: &mut ResMap, specs: &[FieldSpec]) {
        if self.entries.is_empty() {
            return;
        }
        for r in res.iter_mut() {
            let (group, version) = r.group_version();
            let (group, version) = (group.to_string(), version.to_string());
            let kind = r.kind().to_string();
            let mut node = Value::Object(std::mem::take(&mut r.obj));
            self.legacy(&mut node);
            for spec in specs
                .iter()
                .filter(|s| s.gvk.selects(&group, &version, &kind))
            {
                let _ = walk(
                    &mut node,
                    &spec.segments,
                    spec.create.then_some(Leaf::Scalar),
                    &mut |n| {
                        self.set(n);
                        Ok(())
                    },
                );
            }
            if let Value::Object(m) = node {
                r.obj = m;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_kustomize() {
        assert_eq!(split("nginx"), ("nginx", "", ""));
        assert_eq!(split("nginx:1.2"), ("nginx", "1.2", ""));
        assert_eq!(
            split("reg:5000/app:1@sha256:abc"),
            ("reg:5000/app", "1", "sha256:abc")
        );
        assert_eq!(split("app@sha256:abc"), ("app", "", "sha256:abc"));
    }

    #[test]
    fn updates_tag_and_digest() {
        let img = ImageEntry {
            name: "app".into(),
            new_name: "reg/app".into(),
            ..Default::default()
        };
        assert_eq!(update("app:1", &img, "2").as_deref(), Some("reg/app:2"));
        assert_eq!(update("application:1", &img, "2"), None);
    }
}
