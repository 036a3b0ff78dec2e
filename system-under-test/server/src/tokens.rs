//! Who is calling: the tokens file and its table are the api's (`baoan_api::http::tokens`, where
//! the format is described); the server adds the development table it draws at start-up when it
//! is given no file: one random token per role, printed once so an engineer can call the server
//! by hand.

use baoan_api::Role;

pub use baoan_api::http::tokens::{
    Bearer, DEVELOPMENT_PERSON_BASE, MIN_TOKEN_LEN, Tokens, TokensError,
};

/// Every role, in the api's order: the development table has one token for each.
pub const ROLES: [Role; Role::ALL.len()] = Role::ALL;

/// A development table: one random token (32 hex digits, 128 bits from the operating system)
/// per role, then one gateway token (see `Tokens::development`).
pub fn development() -> Result<Tokens, getrandom::Error> {
    Tokens::development(|bytes| getrandom::fill(bytes))
}

/// Whether `given` is `secret`, in a time that does not depend on where they first differ (so
/// a caller cannot find the secret a byte at a time by timing refusals).
pub fn same_secret(given: &str, secret: &str) -> bool {
    let (a, b) = (given.as_bytes(), secret.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_tokens_are_drawn_anew_each_time() {
        let a = development().unwrap();
        let b = development().unwrap();
        assert_eq!(a.len(), ROLES.len() + 1, "one per role and a gateway");
        for role in ROLES {
            assert_ne!(
                a.token_for(role),
                b.token_for(role),
                "tokens are drawn anew"
            );
        }
    }
}
