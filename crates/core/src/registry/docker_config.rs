//! Credentials stored by `docker login`: the `auths` map of `~/.docker/config.json`.
//!
//! Facts from docker's CLI (`cli/config/configfile`): each key is a registry, written as a
//! bare host (`ghcr.io`, `localhost:5000`) or as a URL (`https://index.docker.io/v1/` for
//! Docker Hub); each value holds `auth`, the base64 of `user:password`, or `username` and
//! `password` apart, or an `identitytoken` (an OAuth refresh token, which this client does
//! not use). Credential helpers (`credsStore`, `credHelpers`) run programs; they are left to
//! the caller.

use serde_json::Value;

use super::auth::Credentials;

/// The key Docker Hub's credentials are stored under.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// Why a docker config could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DockerConfigError {
    /// The file is not JSON.
    #[error("the docker config is not JSON: {0}")]
    NotJson(String),
    /// An `auth` value is not base64 of `user:password`.
    #[error("the docker config's auth for {registry} is not base64 of user:password")]
    BadAuth {
        /// The registry key.
        registry: String,
    },
}

/// The stored credentials for `registry` (a reference's domain: `docker.io`, `ghcr.io`,
/// `localhost:5000`), if `config_json` has some.
pub fn stored_credentials(
    config_json: &[u8],
    registry: &str,
) -> Result<Option<Credentials>, DockerConfigError> {
    let config: Value = serde_json::from_slice(config_json)
        .map_err(|e| DockerConfigError::NotJson(e.to_string()))?;
    let Some(auths) = config.get("auths").and_then(Value::as_object) else {
        return Ok(None);
    };
    let wanted = key_host(registry);
    let entry = auths.iter().find(|(key, _)| key_host(key) == wanted);
    let Some((key, entry)) = entry else {
        return Ok(None);
    };
    if let Some(auth) = entry
        .get("auth")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
    {
        let bad = || DockerConfigError::BadAuth {
            registry: key.clone(),
        };
        let decoded = super::base64::decode(auth.trim()).ok_or_else(bad)?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (user, password) = text.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Credentials::new(user, password)));
    }
    let field = |name: &str| {
        entry
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    Ok(match (field("username"), field("password")) {
        (Some(user), Some(password)) => Some(Credentials::new(user, password)),
        _ => None,
    })
}

/// The registry a config key names: scheme and path dropped, Docker Hub's aliases folded.
fn key_host(key: &str) -> String {
    if key == DOCKER_HUB_KEY {
        return "docker.io".into();
    }
    let without_scheme = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = without_scheme
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".into()
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_of(c: &Credentials) -> String {
        // The secret is only reachable through the header it makes.
        c.basic_authorization()
    }

    #[test]
    fn finds_auth_by_host_url_and_docker_hub_key() {
        let config = br#"{"auths":{
            "https://index.docker.io/v1/":{"auth":"aHViOmh1Yi1wYXNz"},
            "localhost:5000":{"auth":"YW5hOnBhOnNz"},
            "https://ghcr.io":{"username":"gh","password":"tok"}
        }}"#;
        let hub = stored_credentials(config, "docker.io").unwrap().unwrap();
        assert_eq!(hub.username, "hub");
        assert_eq!(
            secret_of(&hub),
            Credentials::new("hub", "hub-pass").basic_authorization()
        );
        let local = stored_credentials(config, "localhost:5000")
            .unwrap()
            .unwrap();
        assert_eq!(local.username, "ana");
        // A colon inside the password stays in the password.
        assert_eq!(
            secret_of(&local),
            Credentials::new("ana", "pa:ss").basic_authorization()
        );
        let gh = stored_credentials(config, "ghcr.io").unwrap().unwrap();
        assert_eq!(gh.username, "gh");
        assert!(stored_credentials(config, "quay.io").unwrap().is_none());
    }

    #[test]
    fn bad_auth_and_bad_json_are_named() {
        let bad = stored_credentials(br#"{"auths":{"r.io":{"auth":"!!!"}}}"#, "r.io").unwrap_err();
        assert_eq!(
            bad,
            DockerConfigError::BadAuth {
                registry: "r.io".into()
            }
        );
        assert!(matches!(
            stored_credentials(b"{", "r.io"),
            Err(DockerConfigError::NotJson(_))
        ));
        assert!(stored_credentials(br#"{"credsStore":"desktop"}"#, "r.io")
            .unwrap()
            .is_none());
    }
}
