//! Writing one commit's files into a folder (for the renderer, which reads a file tree),
//! straight from the object database: no index, no work tree, works on a bare cache.

use std::path::{Component, Path};

use git2::{ObjectType, Repository, Tree, TreeWalkMode, TreeWalkResult};

/// `git` file modes of entries that are written as files (regular and executable).
const FILE_MODES: [i32; 2] = [0o100_644, 0o100_755];

/// Write every file of `tree` under `dest` (created). Symbolic links and submodules are
/// left out: a kustomize tree does not need them and a link could point outside `dest`.
pub fn write_tree(repo: &Repository, tree: &Tree<'_>, dest: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dest).map_err(|e| format!("`{}`: {e}", dest.display()))?;
    let mut failure: Option<String> = None;
    let walked = tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        let Ok(name) = entry.name() else {
            return TreeWalkResult::Skip;
        };
        let relative = Path::new(dir).join(name);
        // A tree from a hostile remote could name `..`: never write outside `dest`.
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            failure = Some(format!(
                "refusing the path `{}` in the commit",
                relative.display()
            ));
            return TreeWalkResult::Abort;
        }
        let path = dest.join(&relative);
        let written = match entry.kind() {
            Some(ObjectType::Tree) => std::fs::create_dir_all(&path).map_err(|e| e.to_string()),
            Some(ObjectType::Blob) if FILE_MODES.contains(&entry.filemode()) => repo
                .find_blob(entry.id())
                .map_err(|e| e.message().to_string())
                .and_then(|blob| std::fs::write(&path, blob.content()).map_err(|e| e.to_string())),
            _ => Ok(()),
        };
        match written {
            Ok(()) => TreeWalkResult::Ok,
            Err(e) => {
                failure = Some(format!("`{}`: {e}", path.display()));
                TreeWalkResult::Abort
            }
        }
    });
    if let Some(f) = failure {
        return Err(f);
    }
    walked.map_err(|e| e.message().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_committed_files_not_the_work_tree() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("env/dev")).unwrap();
        std::fs::write(dir.path().join("env/dev/a.yaml"), "committed\n").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("env/dev/a.yaml")).unwrap();
        let tree_id = index.write_tree().unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let tree = repo.find_tree(tree_id).unwrap();
        repo.commit(Some("HEAD"), &sig, &sig, "one", &tree, &[])
            .unwrap();
        // A later, uncommitted edit must not be what is deployed.
        std::fs::write(dir.path().join("env/dev/a.yaml"), "saved, not committed\n").unwrap();
        let out = tempfile::tempdir().unwrap();
        write_tree(&repo, &tree, &out.path().join("c")).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.path().join("c/env/dev/a.yaml")).unwrap(),
            "committed\n"
        );
    }
}
