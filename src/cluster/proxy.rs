//! Which proxy a connection to the API server goes through, decided as kubectl decides it:
//! the cluster's `proxy-url` when the kubeconfig sets one, whatever the environment says;
//! otherwise `HTTPS_PROXY` (`HTTP_PROXY` for an `http://` server), except for `localhost`, a
//! loopback address, or a host `NO_PROXY` names (a name and its subdomains, `.name` for
//! subdomains only, an IP, a CIDR, optionally with a port, or `*`).
//! https://kubernetes.io/docs/tasks/extend-kubernetes/socks5-proxy-access-api/#client-configuration
//! https://kubernetes.io/docs/tasks/access-application-cluster/access-cluster/#using-kubectl-proxy
//!
//! kube reads the same variables but matches `NO_PROXY` against the proxy's address instead of
//! the server's, and proxies loopback servers, so a machine with a corporate `HTTPS_PROXY` could
//! not reach a local `gitops sandbox`; this module's answer replaces kube's.

use std::net::IpAddr;

/// The proxy URL to use for `server` (`None`: connect directly). `kubeconfig_proxy` is the
/// cluster's `proxy-url`; `env` reads an environment variable.
pub fn proxy_for(
    server: &http::Uri,
    kubeconfig_proxy: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    if let Some(proxy) = kubeconfig_proxy.filter(|p| !p.trim().is_empty()) {
        return Some(proxy.trim().to_string());
    }
    let read = |upper: &str, lower: &str| {
        env(upper)
            .or_else(|| env(lower))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let proxy = if server.scheme_str() == Some("http") {
        read("HTTP_PROXY", "http_proxy")
    } else {
        read("HTTPS_PROXY", "https_proxy")
    }?;
    let host = server.host()?.trim_start_matches('[').trim_end_matches(']');
    let port = server
        .port_u16()
        .unwrap_or(if server.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    let ip = host.parse::<IpAddr>().ok();
    if host.eq_ignore_ascii_case("localhost") || ip.is_some_and(|ip| ip.is_loopback()) {
        return None;
    }
    let no_proxy = read("NO_PROXY", "no_proxy").unwrap_or_default();
    let bypass = no_proxy
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| matches(entry, host, ip, port));
    (!bypass).then_some(proxy)
}

/// Does one `NO_PROXY` entry cover `host:port`?
fn matches(entry: &str, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    if let Some((network, bits)) = entry.split_once('/') {
        return match (network.parse::<IpAddr>(), bits.parse::<u32>(), ip) {
            (Ok(network), Ok(bits), Some(ip)) => in_cidr(ip, network, bits),
            _ => false,
        };
    }
    if let Ok(entry_ip) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
        return ip == Some(entry_ip);
    }
    // `name:port` or `[v6]:port` only covers that port.
    let (name, entry_port) = match entry.rsplit_once(':') {
        Some((name, p)) if !name.contains(':') || name.ends_with(']') => {
            (name, p.parse::<u16>().ok())
        }
        _ => (entry, None),
    };
    if entry_port.is_some_and(|p| p != port) {
        return false;
    }
    let name = name.trim_matches(['[', ']']);
    if let Ok(entry_ip) = name.parse::<IpAddr>() {
        return ip == Some(entry_ip);
    }
    let host = host.to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    match name.strip_prefix("*.").or_else(|| name.strip_prefix('.')) {
        Some(domain) => host.ends_with(&format!(".{domain}")),
        None => host == name || host.ends_with(&format!(".{name}")),
    }
}

fn in_cidr(ip: IpAddr, network: IpAddr, bits: u32) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(server: &str, kubeconfig: Option<&str>, vars: &[(&str, &str)]) -> Option<String> {
        let server: http::Uri = server.parse().unwrap();
        proxy_for(&server, kubeconfig, |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_string())
        })
    }

    const CORP: &str = "http://proxy.corp:3128";
    const AKS: &str = "https://shop-dns-1a2b3c.hcp.westeurope.azmk8s.io:443";

    #[test]
    fn the_kubeconfig_proxy_wins_over_the_environment() {
        let vars = [("HTTPS_PROXY", CORP), ("NO_PROXY", "*")];
        assert_eq!(
            proxy(
                "https://127.0.0.1:6443",
                Some("http://127.0.0.1:8888"),
                &vars
            )
            .as_deref(),
            Some("http://127.0.0.1:8888")
        );
    }

    #[test]
    fn the_environment_proxy_is_used_except_for_loopback_and_no_proxy() {
        assert_eq!(
            proxy(AKS, None, &[("HTTPS_PROXY", CORP)]).as_deref(),
            Some(CORP)
        );
        assert_eq!(
            proxy(AKS, None, &[("https_proxy", CORP)]).as_deref(),
            Some(CORP)
        );
        assert_eq!(proxy(AKS, None, &[("HTTP_PROXY", CORP)]), None);
        assert_eq!(proxy(AKS, None, &[]), None);
        for local in [
            "https://127.0.0.1:6443",
            "https://localhost:6443",
            "https://[::1]:6443",
        ] {
            assert_eq!(
                proxy(local, None, &[("HTTPS_PROXY", CORP)]),
                None,
                "{local}"
            );
        }
        for entry in [
            "azmk8s.io",
            ".azmk8s.io",
            "*.azmk8s.io",
            "other.example, hcp.westeurope.azmk8s.io",
            "*",
            "azmk8s.io:443",
        ] {
            let vars = [("HTTPS_PROXY", CORP), ("NO_PROXY", entry)];
            assert_eq!(proxy(AKS, None, &vars), None, "{entry}");
        }
        for entry in ["example.com", "azmk8s.io:6443", "zmk8s.io", "10.0.0.0/8"] {
            let vars = [("HTTPS_PROXY", CORP), ("no_proxy", entry)];
            assert_eq!(proxy(AKS, None, &vars).as_deref(), Some(CORP), "{entry}");
        }
        let private = "https://10.1.2.3:443";
        for entry in ["10.0.0.0/8", "10.1.2.3", "10.1.2.3:443"] {
            let vars = [("HTTPS_PROXY", CORP), ("NO_PROXY", entry)];
            assert_eq!(proxy(private, None, &vars), None, "{entry}");
        }
        let vars = [("HTTPS_PROXY", CORP), ("NO_PROXY", "10.2.0.0/16")];
        assert_eq!(proxy(private, None, &vars).as_deref(), Some(CORP));
    }
}
