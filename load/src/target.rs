//! Which server to load and who calls it: a base URL and the tokens of an admin and an inspector.

use std::net::SocketAddr;
use std::path::Path;

use baoan_api::Role;
use baoan_api::http::Tokens;

use crate::LoadError;

/// The deployed stack under load and the callers the load speaks for.
///
/// `inspector_person` is the person the inspector token stands for on that server: the set-up
/// makes that person grid 0's inspector, because the stack takes an inspector's report only for
/// their own grid. [`LoadTarget::from_tokens_file`] reads it from the server's tokens file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadTarget {
    /// `http://host:port` (plain HTTP/1.1; a trailing `/` is allowed, a path is not).
    pub base_url: String,
    /// Bearer token of an inspector: every report is sent with it.
    pub inspector_token: String,
    /// The person id behind `inspector_token`.
    pub inspector_person: u32,
    /// Bearer token of an admin: the set-up loads the grid directory with it.
    pub admin_token: String,
}

impl LoadTarget {
    /// A target from the same tokens file the server was started with (`twin serve --tokens`):
    /// the file's first admin token and first inspector token. Errors name the file and line.
    pub fn from_tokens_file(base_url: &str, path: &Path) -> Result<LoadTarget, LoadError> {
        let tokens = Tokens::load(path)?;
        LoadTarget::from_tokens(base_url, &tokens, path)
    }

    /// A target from a token table already read; `path` names it in messages.
    pub fn from_tokens(
        base_url: &str,
        tokens: &Tokens,
        path: &Path,
    ) -> Result<LoadTarget, LoadError> {
        let missing = |role| LoadError::MissingToken {
            path: path.to_path_buf(),
            role,
        };
        let inspector = tokens
            .token_for(Role::Inspector)
            .ok_or_else(|| missing("inspector"))?;
        let admin = tokens
            .token_for(Role::Admin)
            .ok_or_else(|| missing("admin"))?;
        let person = tokens
            .actor(inspector)
            .expect("a token found in the table has an actor")
            .person;
        parse_base_url(base_url)?;
        Ok(LoadTarget {
            base_url: base_url.to_string(),
            inspector_token: inspector.to_string(),
            inspector_person: person.0,
            admin_token: admin.to_string(),
        })
    }

    /// The address to connect to, resolved once per run (no lookup per reconnect).
    pub(crate) async fn endpoint(&self) -> Result<Endpoint, LoadError> {
        resolve(&self.base_url).await
    }
}

/// The address and `Host` header of a base URL, looked up once.
pub(crate) async fn resolve(base_url: &str) -> Result<Endpoint, LoadError> {
    let (host, port) = parse_base_url(base_url)?;
    let lookup_host = host.trim_start_matches('[').trim_end_matches(']');
    let resolve = |source| LoadError::Resolve {
        host: host.clone(),
        source,
    };
    let addr = tokio::net::lookup_host((lookup_host, port))
        .await
        .map_err(resolve)?
        .next()
        .ok_or_else(|| resolve(std::io::Error::other("no address found")))?;
    Ok(Endpoint {
        url: base_url.to_string(),
        authority: if port == 80 {
            host
        } else {
            format!("{host}:{port}")
        },
        addr,
    })
}

/// Where the requests go: the resolved address and the `Host` header.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub url: String,
    pub authority: String,
    pub addr: SocketAddr,
}

/// `(host, port)` of a base URL `http://host[:port][/]`; the host keeps an IPv6 literal's
/// brackets.
pub(crate) fn parse_base_url(url: &str) -> Result<(String, u16), LoadError> {
    let bad = |problem: &str| LoadError::BadUrl {
        url: url.to_string(),
        problem: problem.to_string(),
    };
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(bad(
            "https is not spoken: the generator speaks plain HTTP/1.1, as `twin serve` does",
        ));
    }
    if !lower.starts_with("http://") {
        return Err(bad("it does not start with http://"));
    }
    let rest = url["http://".len()..].trim_end_matches('/');
    if rest.is_empty() {
        return Err(bad("no host after http://"));
    }
    if rest.contains(['/', '?', '#']) {
        return Err(bad(
            "a path, query or fragment after the address is not supported: the routes are at the root",
        ));
    }
    if rest.contains('@') {
        return Err(bad(
            "user information in the URL is not used: tokens come from the tokens file",
        ));
    }
    let (host, port) = if let Some(stripped) = rest.strip_prefix('[') {
        let Some((inner, after)) = stripped.split_once(']') else {
            return Err(bad("an IPv6 address opened with [ is not closed with ]"));
        };
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| bad("expected :port after the IPv6 address"))?,
            ),
        };
        (format!("[{inner}]"), port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(bad("the host is empty"));
    }
    let port = match port {
        None => 80,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| bad(&format!("the port `{p}` is not a number in 1..=65535")))?,
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_read_or_refused_saying_what_was_expected() {
        assert_eq!(
            parse_base_url("http://127.0.0.1:8080").unwrap(),
            ("127.0.0.1".into(), 8080)
        );
        assert_eq!(
            parse_base_url("http://localhost/").unwrap(),
            ("localhost".into(), 80)
        );
        assert_eq!(
            parse_base_url("HTTP://[::1]:9000").unwrap(),
            ("[::1]".into(), 9000)
        );
        for (url, says) in [
            ("https://x:1", "plain HTTP/1.1"),
            ("127.0.0.1:8080", "does not start with http://"),
            ("http://x:port", "`port` is not a number"),
            ("http://x:0", "`0` is not a number"),
            ("http://x:1/api", "path"),
            ("http://", "no host"),
            ("http://[::1", "not closed"),
        ] {
            let text = parse_base_url(url).unwrap_err().to_string();
            assert!(text.starts_with(url), "{text}");
            assert!(text.contains("expected a plain HTTP base URL"), "{text}");
            assert!(text.contains(says), "{url}: {text}");
        }
    }

    #[test]
    fn a_tokens_file_gives_the_inspector_person_and_both_tokens() {
        let text = "[[token]]\ntoken = \"aaaaaaaaaaaaaaaaaaaa\"\nrole = \"analyst\"\nperson = 5\n\
                    [[token]]\ntoken = \"bbbbbbbbbbbbbbbbbbbb\"\nrole = \"inspector\"\nperson = 1000007\n\
                    [[token]]\ntoken = \"cccccccccccccccccccc\"\nrole = \"admin\"\nperson = 9\n";
        let path = Path::new("t.toml");
        let tokens = Tokens::parse(path, text).unwrap();
        let t = LoadTarget::from_tokens("http://127.0.0.1:1", &tokens, path).unwrap();
        assert_eq!(t.inspector_token, "bbbbbbbbbbbbbbbbbbbb");
        assert_eq!(t.inspector_person, 1_000_007);
        assert_eq!(t.admin_token, "cccccccccccccccccccc");

        let only_admin =
            "[[token]]\ntoken = \"cccccccccccccccccccc\"\nrole = \"admin\"\nperson = 9\n";
        let tokens = Tokens::parse(path, only_admin).unwrap();
        let e = LoadTarget::from_tokens("http://h:1", &tokens, path).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.toml: no [[token]] with role = \"inspector\""),
            "{e}"
        );
    }
}
