//! Git credentials from the environment, never from the command line (where `ps` and shell
//! history would show them): a token for https, an SSH agent or key for ssh.
//!
//! - https: `GITOPS_GIT_TOKEN` (a personal access token, an Azure DevOps PAT, a GitHub token),
//!   sent as the password of `GITOPS_GIT_USERNAME` (default `x-access-token`, which GitHub
//!   accepts; Azure DevOps accepts any user name with a PAT).
//! - ssh: the agent at `SSH_AUTH_SOCK`, then the key file `GITOPS_SSH_KEY` (default
//!   `~/.ssh/id_ed25519`, then `~/.ssh/id_rsa`) with `GITOPS_SSH_KEY_PASSPHRASE`.

use std::path::PathBuf;

use git2::{Cred, CredentialType, RemoteCallbacks};

/// The environment variable holding the https token.
pub const TOKEN_VAR: &str = "GITOPS_GIT_TOKEN";

/// How often libgit2 may ask before we give up: it asks again after every refused
/// credential, forever, unless the callback says no.
const MAX_ASKS: u32 = 4;

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

fn key_files() -> Vec<PathBuf> {
    if let Some(path) = env("GITOPS_SSH_KEY") {
        return vec![PathBuf::from(path)];
    }
    let Some(home) = env("HOME") else {
        return Vec::new();
    };
    let ssh = PathBuf::from(home).join(".ssh");
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|n| ssh.join(n))
        .filter(|p| p.is_file())
        .collect()
}

/// Callbacks answering libgit2's credential requests from the environment. Each refused
/// answer moves on to the next source; when all are used up the fetch fails with a message
/// naming the variables to set (never their values).
pub fn callbacks<'a>() -> RemoteCallbacks<'a> {
    let mut asked = 0u32;
    let mut ssh_sources: Option<Vec<Option<PathBuf>>> = None;
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(move |_url, username, allowed| {
        asked += 1;
        if asked > MAX_ASKS {
            return Err(git2::Error::from_str(
                "authentication failed: the credentials from the environment were refused",
            ));
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            let user = username.unwrap_or("git");
            // The agent first (None), then each key file, each tried once.
            let sources = ssh_sources.get_or_insert_with(|| {
                let mut s: Vec<Option<PathBuf>> = Vec::new();
                if env("SSH_AUTH_SOCK").is_some() {
                    s.push(None);
                }
                s.extend(key_files().into_iter().map(Some));
                s.reverse();
                s
            });
            return match sources.pop() {
                Some(None) => Cred::ssh_key_from_agent(user),
                Some(Some(key)) => {
                    let passphrase = env("GITOPS_SSH_KEY_PASSPHRASE");
                    Cred::ssh_key(user, None, &key, passphrase.as_deref())
                }
                None => Err(git2::Error::from_str(
                    "ssh authentication failed: no agent (`SSH_AUTH_SOCK`) and no usable key (`GITOPS_SSH_KEY`, `~/.ssh/id_ed25519`, `~/.ssh/id_rsa`)",
                )),
            };
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            return match env(TOKEN_VAR) {
                // Asked again after sending the token: it was refused.
                Some(_) if asked > 1 => Err(git2::Error::from_str(
                    "authentication failed: the token in `GITOPS_GIT_TOKEN` was refused",
                )),
                Some(token) => {
                    let user = env("GITOPS_GIT_USERNAME").unwrap_or_else(|| "x-access-token".into());
                    Cred::userpass_plaintext(&user, &token)
                }
                None => Err(git2::Error::from_str(
                    "the server asks for credentials: set `GITOPS_GIT_TOKEN`",
                )),
            };
        }
        if allowed.contains(CredentialType::DEFAULT) {
            return Cred::default();
        }
        Err(git2::Error::from_str(
            "the server asks for a kind of credential gitops does not support",
        ))
    });
    callbacks
}

/// `url` with any user name or password removed, safe for logs, status and metrics.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{path}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_never_survives_redaction() {
        assert_eq!(
            redact("https://bob:s3cret@dev.azure.com/org/p/_git/repo"),
            "https://***@dev.azure.com/org/p/_git/repo"
        );
        assert_eq!(
            redact("https://github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(
            redact("file:///srv/git/repo.git"),
            "file:///srv/git/repo.git"
        );
        assert_eq!(redact("ssh://git@host:22/r"), "ssh://***@host:22/r");
        assert!(!redact("https://tok@h/p@q").contains("tok"));
    }
}
