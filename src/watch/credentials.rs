//! Git credentials from the environment, never from the command line (where `ps` and shell
//! history would show them): a token for https, an SSH agent or key for ssh.
//!
//! - https: `GITOPS_GIT_TOKEN` (a personal access token, an Azure DevOps PAT, a GitHub token),
//!   or the file named by `GITOPS_GIT_TOKEN_FILE` (read again at every fetch, so a rotated
//!   Kubernetes Secret mounted as a file is picked up without a restart), sent as the password
//!   of `GITOPS_GIT_USERNAME` (default `x-access-token`, which GitHub accepts; Azure DevOps
//!   accepts any user name with a PAT).
//! - ssh: the agent at `SSH_AUTH_SOCK`, then the key file `GITOPS_SSH_KEY` (default
//!   `~/.ssh/id_ed25519`, then `~/.ssh/id_rsa`) with `GITOPS_SSH_KEY_PASSPHRASE`.

use std::path::PathBuf;

use git2::{Cred, CredentialType, RemoteCallbacks};

/// The environment variable holding the https token.
pub const TOKEN_VAR: &str = "GITOPS_GIT_TOKEN";
/// The environment variable naming a file that holds the https token.
pub const TOKEN_FILE_VAR: &str = "GITOPS_GIT_TOKEN_FILE";

/// How often libgit2 may ask before we give up: it asks again after every refused
/// credential, forever, unless the callback says no.
const MAX_ASKS: u32 = 4;

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// Where the https token comes from, for messages (never the token itself).
fn token_source() -> String {
    match env(TOKEN_FILE_VAR) {
        Some(path) if env(TOKEN_VAR).is_none() => format!("the file `{path}` (`{TOKEN_FILE_VAR}`)"),
        _ => format!("`{TOKEN_VAR}`"),
    }
}

/// The https token: `GITOPS_GIT_TOKEN`, else the contents of `GITOPS_GIT_TOKEN_FILE` (without
/// the trailing newline an editor or `echo` adds), read now so that a rotated file counts.
fn token() -> Result<Option<String>, git2::Error> {
    if let Some(token) = env(TOKEN_VAR) {
        return Ok(Some(token));
    }
    let Some(path) = env(TOKEN_FILE_VAR) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        git2::Error::from_str(&format!(
            "`{TOKEN_FILE_VAR}`: cannot read the token file `{path}`: {e}"
        ))
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(git2::Error::from_str(&format!(
            "`{TOKEN_FILE_VAR}`: the token file `{path}` is empty"
        )));
    }
    Ok(Some(token.to_string()))
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
    let mut ssh_tried: Vec<String> = Vec::new();
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(move |url, username, allowed| {
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
                Some(None) => {
                    ssh_tried.push("the agent's keys".to_string());
                    Cred::ssh_key_from_agent(user)
                }
                Some(Some(key)) => {
                    ssh_tried.push(format!("the key `{}`", key.display()));
                    let passphrase = env("GITOPS_SSH_KEY_PASSPHRASE");
                    Cred::ssh_key(user, None, &key, passphrase.as_deref())
                }
                // Asked again after every source was offered: the server refused them all.
                None if !ssh_tried.is_empty() => Err(git2::Error::from_str(&format!(
                    "ssh authentication failed: the server refused {} for the user `{user}`",
                    ssh_tried.join(" and ")
                ))),
                None => Err(git2::Error::from_str(
                    "ssh authentication failed: no agent (`SSH_AUTH_SOCK`) and no usable key (`GITOPS_SSH_KEY`, `~/.ssh/id_ed25519`, `~/.ssh/id_rsa`)",
                )),
            };
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if is_plain_http(url) {
                return Err(git2::Error::from_str(
                    "refusing to send the token over plain `http://`, where anyone on the way could read it: use `https://`",
                ));
            }
            return match token()? {
                // Asked again after sending the token: it was refused.
                Some(_) if asked > 1 => Err(git2::Error::from_str(&format!(
                    "authentication failed: the token in {} was refused",
                    token_source()
                ))),
                Some(token) => {
                    let user = env("GITOPS_GIT_USERNAME").unwrap_or_else(|| "x-access-token".into());
                    Cred::userpass_plaintext(&user, &token)
                }
                None => Err(git2::Error::from_str(&format!(
                    "the server asks for credentials: set `{TOKEN_VAR}` (or `{TOKEN_FILE_VAR}`)"
                ))),
            };
        }
        if allowed.contains(CredentialType::DEFAULT) {
            return Cred::default();
        }
        Err(git2::Error::from_str(
            "the server asks for a kind of credential gitops does not support",
        ))
    });
    // Servers signed by a CA of `GIT_SSL_CAINFO` are trusted besides the system's CAs.
    callbacks.certificate_check(super::trust::check);
    callbacks
}

/// Whether `url` is fetched without TLS: a token sent there is readable on the network.
fn is_plain_http(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
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

    #[test]
    fn a_token_is_only_for_tls() {
        assert!(is_plain_http("http://git.example.com/r.git"));
        assert!(is_plain_http("HTTP://git.example.com/r.git"));
        assert!(!is_plain_http("https://git.example.com/r.git"));
        assert!(!is_plain_http("ssh://git@host/r"));
        assert!(!is_plain_http("http"));
    }
}
