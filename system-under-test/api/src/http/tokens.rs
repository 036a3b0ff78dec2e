//! Who is calling: bearer tokens, each standing for one person in one role, and the tokens file
//! that lists them (read by the server, and by a client that must know whom it speaks for).
//!
//! A deployment passes a tokens file (`twin serve --tokens FILE`):
//!
//! ```toml
//! [[token]]
//! token = "3f0c9a1e5b7d2f4e8a6c0b1d3e5f7a9c"
//! role = "inspector"
//! person = 1000001
//! ```
//!
//! Without one, the server makes a development table at start-up: one random token per role,
//! with fixed person ids, printed once so an engineer can call the server by hand.
//!
//! A token marked `gateway = true` belongs to a trusted front door — the district's identity
//! gateway, or the twin's harness driving a whole scenario — that has authenticated the people it
//! speaks for: its calls may name the person they are made for in `X-Act-As: <role>:<person>`.
//! The role check and the audit log then see that person, exactly as if they had called with
//! their own token. A gateway token without `X-Act-As` acts as its own person and role. The
//! development table has one gateway token.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::{Actor, PersonId, Role};
use serde::Deserialize;

/// Person ids of the development table: this base plus the role's position in `Role::ALL`.
pub const DEVELOPMENT_PERSON_BASE: u32 = 9_000_001;

/// A token shorter than this can be guessed; a tokens file with one is refused.
pub const MIN_TOKEN_LEN: usize = 16;

/// The token table: which actor each token stands for.
#[derive(Debug, Clone)]
pub struct Tokens {
    actors: HashMap<String, Bearer>,
    /// In file (or role) order, for printing.
    order: Vec<String>,
    /// Made at start-up, not read from a file.
    development: bool,
}

/// Why a tokens file could not be used; the message names the file and, where it can, the line.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error("{path}: cannot read the tokens file: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    token: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    token: toml::Spanned<String>,
    role: Role,
    person: PersonId,
    #[serde(default)]
    gateway: bool,
}

/// What a token stands for: its actor, and whether it may act for others (`X-Act-As`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bearer {
    pub actor: Actor,
    pub gateway: bool,
}

impl Tokens {
    /// The table from a tokens file (see the module's documentation).
    pub fn load(path: &Path) -> Result<Tokens, TokensError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokensError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Tokens::parse(path, &text)
    }

    /// The table from a tokens file's text; `path` is for messages.
    pub fn parse(path: &Path, text: &str) -> Result<Tokens, TokensError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let invalid = |line, message: String| TokensError::Invalid {
            path: path.to_path_buf(),
            line,
            message,
        };
        let file: TokensFile = toml::from_str(text).map_err(|e| {
            invalid(
                e.span().map_or(1, |s| line_of(s.start)),
                e.message().trim_end().to_string(),
            )
        })?;
        if file.token.is_empty() {
            return Err(invalid(
                1,
                "no [[token]] entries: nobody could call the server; expected entries such as \
                 [[token]] token = \"...\", role = \"inspector\", person = 1000001"
                    .into(),
            ));
        }
        let mut actors = HashMap::new();
        let mut order = Vec::new();
        for entry in file.token {
            let line = line_of(entry.token.span().start);
            let token = entry.token.into_inner();
            if token.len() < MIN_TOKEN_LEN || token.chars().any(|c| !c.is_ascii_graphic()) {
                return Err(invalid(
                    line,
                    format!(
                        "token: expected at least {MIN_TOKEN_LEN} printable ASCII characters \
                         without spaces (such as 32 hex digits), found {} characters",
                        token.chars().count()
                    ),
                ));
            }
            let bearer = Bearer {
                actor: Actor {
                    role: entry.role,
                    person: entry.person,
                },
                gateway: entry.gateway,
            };
            if actors.insert(token.clone(), bearer).is_some() {
                return Err(invalid(
                    line,
                    "token: the same token is given twice; each token must stand for one person"
                        .into(),
                ));
            }
            order.push(token);
        }
        Ok(Tokens {
            actors,
            order,
            development: false,
        })
    }

    /// A development table: one token (32 hex digits of 16 bytes from `draw`, which should be
    /// random) per role, person ids from `DEVELOPMENT_PERSON_BASE` in the order of `Role::ALL`,
    /// then one gateway token (an admin, the next person id).
    pub fn development<E>(
        mut draw: impl FnMut(&mut [u8; 16]) -> Result<(), E>,
    ) -> Result<Tokens, E> {
        let mut actors = HashMap::new();
        let mut order = Vec::new();
        let roles = Role::ALL.into_iter().map(|r| (r, false));
        for (i, (role, gateway)) in roles.chain([(Role::Admin, true)]).enumerate() {
            let mut bytes = [0u8; 16];
            draw(&mut bytes)?;
            let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let actor = Actor {
                role,
                person: PersonId(DEVELOPMENT_PERSON_BASE + i as u32),
            };
            actors.insert(token.clone(), Bearer { actor, gateway });
            order.push(token);
        }
        Ok(Tokens {
            actors,
            order,
            development: true,
        })
    }

    /// The actor a token stands for.
    pub fn actor(&self, token: &str) -> Option<Actor> {
        self.bearer(token).map(|b| b.actor)
    }

    /// The actor a token stands for, and whether it is a gateway's.
    pub fn bearer(&self, token: &str) -> Option<Bearer> {
        self.actors.get(token).copied()
    }

    /// The first token of `role` that is no gateway's, if any (tests and the development
    /// table's printout).
    pub fn token_for(&self, role: Role) -> Option<&str> {
        self.order
            .iter()
            .find(|t| self.actors[*t].actor.role == role && !self.actors[*t].gateway)
            .map(String::as_str)
    }

    /// The first gateway token, if any: the harness drives a scenario with it.
    pub fn gateway_token(&self) -> Option<&str> {
        self.order
            .iter()
            .find(|t| self.actors[*t].gateway)
            .map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn is_development(&self) -> bool {
        self.development
    }

    /// One line per token — role, person, token — for printing a development table.
    pub fn table(&self) -> String {
        self.order
            .iter()
            .map(|t| {
                let Bearer { actor: a, gateway } = self.actors[t];
                let role = if gateway {
                    format!("{} (gateway: may act as anyone, X-Act-As)", a.role.as_str())
                } else {
                    a.role.as_str().to_string()
                };
                format!("  {role:<12} person {:<8} {t}\n", a.person.0)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Draws 0, 1, 2... into each token's bytes, as a random source would draw anything.
    fn counting() -> impl FnMut(&mut [u8; 16]) -> Result<(), ()> {
        let mut n = 0u8;
        move |bytes| {
            bytes.fill(n);
            n += 1;
            Ok(())
        }
    }

    #[test]
    fn the_development_table_has_one_token_per_role_and_a_gateway() {
        let a = Tokens::development(counting()).unwrap();
        assert_eq!(a.len(), Role::ALL.len() + 1, "one per role and a gateway");
        let gateway = a.gateway_token().unwrap();
        assert!(a.bearer(gateway).unwrap().gateway);
        assert_ne!(a.token_for(Role::Admin), Some(gateway));
        assert!(a.table().contains("gateway"));
        assert!(a.is_development());
        for role in Role::ALL {
            let token = a.token_for(role).unwrap();
            assert_eq!(token.len(), 32);
            assert_eq!(a.actor(token).unwrap().role, role);
        }
        assert_eq!(
            a.actor(a.token_for(Role::Inspector).unwrap())
                .unwrap()
                .person,
            PersonId(DEVELOPMENT_PERSON_BASE)
        );
        assert!(a.table().contains("care_worker"));
    }

    #[test]
    fn a_tokens_file_gives_each_token_its_actor() {
        let text = r#"
[[token]]
token = "0123456789abcdef0123"
role = "inspector"
person = 1000001

[[token]]
token = "fedcba9876543210fedc"
role = "care_worker"
person = 5000001

[[token]]
token = "0000000000000000gate"
role = "admin"
person = 9000013
gateway = true
"#;
        let t = Tokens::parse(Path::new("tokens.toml"), text).unwrap();
        assert_eq!(t.len(), 3);
        assert!(!t.is_development());
        assert_eq!(t.gateway_token(), Some("0000000000000000gate"));
        assert!(!t.bearer("0123456789abcdef0123").unwrap().gateway);
        assert_eq!(
            t.actor("fedcba9876543210fedc"),
            Some(Actor {
                role: Role::CareWorker,
                person: PersonId(5_000_001)
            })
        );
        assert_eq!(t.actor("nope"), None);
    }

    #[test]
    fn a_bad_tokens_file_is_refused_naming_file_and_line() {
        let bad_role =
            "[[token]]\ntoken = \"0123456789abcdef0123\"\nrole = \"inspecter\"\nperson = 1\n";
        let e = Tokens::parse(Path::new("t.toml"), bad_role).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("t.toml:3: "), "{text}");
        assert!(text.contains("inspecter"), "{text}");

        let short = "[[token]]\ntoken = \"abc\"\nrole = \"admin\"\nperson = 1\n";
        let text = Tokens::parse(Path::new("t.toml"), short)
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with("t.toml:2: token: expected at least 16"),
            "{text}"
        );

        let twice = "[[token]]\ntoken = \"0123456789abcdef0123\"\nrole = \"admin\"\nperson = 1\n\
                     [[token]]\ntoken = \"0123456789abcdef0123\"\nrole = \"analyst\"\nperson = 2\n";
        let text = Tokens::parse(Path::new("t.toml"), twice)
            .unwrap_err()
            .to_string();
        assert!(text.starts_with("t.toml:6: "), "{text}");

        let empty = Tokens::parse(Path::new("t.toml"), "").unwrap_err();
        assert!(empty.to_string().starts_with("t.toml:1: no [[token]]"));

        let broken = "[[token]]\ntoken = \"0123456789abcdef0123\nrole = \"admin\"\n";
        let text = Tokens::parse(Path::new("t.toml"), broken)
            .unwrap_err()
            .to_string();
        assert!(text.starts_with("t.toml:2: "), "{text}");

        let missing = Tokens::load(Path::new("/nonexistent/tokens.toml")).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("/nonexistent/tokens.toml: cannot read")
        );
    }
}
