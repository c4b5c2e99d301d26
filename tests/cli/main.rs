//! The `gitops` command line, driven the way a user drives it: every command's tests live in
//! this one binary, one module per command, all through the `Test` builder of `harness`.

mod harness;

mod apply;
mod differential;
mod git_https;
mod git_sshd;
mod gitops_yaml;
mod http_proxy;
mod in_cluster;
mod kubeconfig;
mod plan;
mod render;
mod render_bad_input;
mod sandbox_server;
mod secrets;
mod served;
mod watch;
mod watch_git;
