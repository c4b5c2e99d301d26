//! A kustomize-compatible renderer: a directory tree in, the objects of a build out.
