//! Credential failures in one line without secrets, and what a context's kubeconfig entries say
//! about its user and cluster.
//!
//! kube's own message for a failed exec credential plugin prints the plugin's whole command line
//! with its environment (a kubeconfig's `exec.env` often holds a client secret, e.g.
//! `AAD_SERVICE_PRINCIPAL_CLIENT_SECRET` for `kubelogin`) and its captured output (which may
//! hold a token), so it is never shown as is: the plugin is named by its `command`, and only the
//! exit status and the last line it wrote on stderr are kept, which is what kubectl shows too.
//! https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins

use std::error::Error as StdError;

use kube::client::AuthError;
use kube::config::{ExecInteractiveMode, Kubeconfig};

/// The longest piece of a plugin's stderr repeated in an error.
const MAX_STDERR: usize = 200;

/// The parts of a context's kubeconfig entries that connecting needs beyond what kube reads.
#[derive(Debug, Default, Clone)]
pub struct ContextEntries {
    /// The `command` of the user's exec credential plugin (`kubelogin`), when it has one.
    pub exec_plugin: Option<String>,
    /// The cluster's `proxy-url`, when set.
    pub proxy_url: Option<String>,
}

impl ContextEntries {
    /// Look up `context`'s user and cluster in `kubeconfig` (missing entries give `None`s: kube
    /// reports those itself).
    pub fn of(kubeconfig: &Kubeconfig, context: &str) -> Self {
        let Some(ctx) = kubeconfig
            .contexts
            .iter()
            .find(|c| c.name == context)
            .and_then(|c| c.context.as_ref())
        else {
            return Self::default();
        };
        let exec_plugin = ctx.user.as_deref().and_then(|user| {
            kubeconfig
                .auth_infos
                .iter()
                .find(|a| a.name == user)
                .and_then(|a| a.auth_info.as_ref())
                .and_then(|a| a.exec.as_ref())
                .map(|exec| exec.command.clone().unwrap_or_default())
        });
        let proxy_url = kubeconfig
            .clusters
            .iter()
            .find(|c| c.name == ctx.cluster)
            .and_then(|c| c.cluster.as_ref())
            .and_then(|c| c.proxy_url.clone())
            .filter(|p| !p.trim().is_empty());
        Self {
            exec_plugin,
            proxy_url,
        }
    }
}

/// Make the context's exec credential plugin non-interactive when the process has no terminal,
/// as kubectl does: `interactiveMode: IfAvailable` (the default of v1beta1) means "use stdin if it
/// is a terminal". kube runs such a plugin interactively whatever stdin is, so a plugin waiting
/// for a login in CI would hold the pipeline's stderr open after `gitops` gave up on it; run
/// non-interactively, its stderr comes back to be quoted in the error instead.
/// https://kubernetes.io/docs/reference/access-authn-authz/authentication/#configuration
pub fn settle_interactive_mode(kubeconfig: &mut Kubeconfig, context: &str, terminal: bool) {
    if terminal {
        return;
    }
    let Some(user) = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.user.clone())
    else {
        return;
    };
    for entry in kubeconfig.auth_infos.iter_mut().filter(|a| a.name == user) {
        if let Some(exec) = entry.auth_info.as_mut().and_then(|a| a.exec.as_mut())
            && matches!(
                exec.interactive_mode,
                None | Some(ExecInteractiveMode::IfAvailable)
            )
        {
            exec.interactive_mode = Some(ExecInteractiveMode::Never);
        }
    }
}

/// The credential failure in `err`'s chain of causes, if there is one, as one line without
/// secrets. `plugin` names the exec credential plugin in the message.
pub fn credential_failure(err: &(dyn StdError + 'static), plugin: Option<&str>) -> Option<String> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(auth) = e.downcast_ref::<AuthError>() {
            return Some(describe(auth, plugin));
        }
        if let Some(kube::Error::Auth(auth)) = e.downcast_ref::<kube::Error>() {
            return Some(describe(auth, plugin));
        }
        current = e.source();
    }
    None
}

fn describe(err: &AuthError, plugin: Option<&str>) -> String {
    let plugin = match plugin.filter(|p| !p.is_empty()) {
        Some(p) => format!("the exec credential plugin `{p}`"),
        None => "the exec credential plugin".to_string(),
    };
    match err {
        AuthError::AuthExecStart(io) => format!("{plugin} could not be started: {io}"),
        AuthError::AuthExecRun { out, .. } => {
            let said = String::from_utf8_lossy(&out.stderr)
                .lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty())
                .map(|l| format!(": {}", l.chars().take(MAX_STDERR).collect::<String>()))
                .unwrap_or_default();
            format!("{plugin} failed ({}){said}", out.status)
        }
        AuthError::AuthExecParse(_) => {
            format!("{plugin} printed no ExecCredential (client.authentication.k8s.io) on stdout")
        }
        AuthError::ExecPluginFailed => {
            format!("{plugin} returned an ExecCredential without a `status`")
        }
        AuthError::MalformedTokenExpirationDate(_) => {
            format!("{plugin} returned an `expirationTimestamp` that is not an RFC 3339 time")
        }
        AuthError::UnrefreshableTokenResponse => {
            format!("{plugin} returned a credential that cannot replace the expiring one")
        }
        // The remaining messages name files, fields or providers, never a credential.
        other => other
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed_run(stderr: &str) -> AuthError {
        let out = std::process::Command::new("sh")
            .args(["-c", "exit 3"])
            .output()
            .unwrap();
        AuthError::AuthExecRun {
            cmd: "TOKEN=s3cr3t-env kubelogin get-token".into(),
            out: Box::new(std::process::Output {
                status: out.status,
                stdout: b"s3cr3t-stdout".to_vec(),
                stderr: stderr.as_bytes().to_vec(),
            }),
        }
    }

    #[test]
    fn a_failed_plugin_is_named_with_its_status_and_last_stderr_line_only() {
        let err = kube::Error::Auth(failed_run(
            "starting\nAADSTS70043: The refresh token has expired\n\n",
        ));
        let line = credential_failure(&err, Some("kubelogin")).unwrap();
        assert_eq!(
            line,
            "the exec credential plugin `kubelogin` failed (exit status: 3): AADSTS70043: The refresh token has expired"
        );
        assert!(!line.contains("s3cr3t"));
        // Raw, kube's message would have shown both.
        assert!(err.to_string().contains("s3cr3t-env"));
    }

    #[test]
    fn other_errors_are_not_credential_failures() {
        let err = kube::Error::LinesCodecMaxLineLengthExceeded;
        assert!(credential_failure(&err, None).is_none());
    }

    #[test]
    fn the_context_names_its_plugin_and_proxy() {
        let kubeconfig = Kubeconfig::from_yaml(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://x', proxy-url: 'http://proxy:3128'}\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1, command: kubelogin}\n",
        )
        .unwrap();
        let entries = ContextEntries::of(&kubeconfig, "a");
        assert_eq!(entries.exec_plugin.as_deref(), Some("kubelogin"));
        assert_eq!(entries.proxy_url.as_deref(), Some("http://proxy:3128"));
        assert!(ContextEntries::of(&kubeconfig, "b").exec_plugin.is_none());

        let mode = |k: &Kubeconfig| {
            k.auth_infos[0]
                .auth_info
                .as_ref()
                .and_then(|a| a.exec.as_ref())
                .and_then(|e| e.interactive_mode.clone())
        };
        let mut on_terminal = kubeconfig.clone();
        settle_interactive_mode(&mut on_terminal, "a", true);
        assert_eq!(mode(&on_terminal), None);
        let mut in_ci = kubeconfig.clone();
        settle_interactive_mode(&mut in_ci, "a", false);
        assert_eq!(mode(&in_ci), Some(ExecInteractiveMode::Never));
    }
}
