//! Staff passwords: whether one is strong enough to set, and how it is hashed and checked.
//!
//! Hashes are argon2id PHC strings with the OWASP minimum cost (19 MiB, 2 passes, 1 lane):
//! about a tenth of a second of one core per check, the price of making a stolen database
//! expensive to crack.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use zxcvbn::Score;

/// The fewest characters (Unicode scalar values, not bytes) a password may have.
pub const MIN_LENGTH: usize = 12;

/// The most bytes a password may have: enough for any passphrase, and a bound on the work
/// a sign-in form can ask of the server.
const MAX_BYTES: usize = 1024;

/// Argon2 memory cost in KiB (19 MiB).
const M_COST: u32 = 19_456;
/// Argon2 passes over memory.
const T_COST: u32 = 2;
/// Argon2 lanes.
const P_COST: u32 = 1;
/// Salt length in bytes.
const SALT_LEN: usize = 16;

/// The hash of a password nobody knows (32 random bytes, thrown away), with the same
/// parameters as [`hash`], so that [`verify_unknown`] costs what [`verify`] costs.
const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$M1F6/I3rn469EMy7Q8XKRQ$Z/9qTwdsdaydsXZ2jWY3A73X8xkWQ6inDRgORP0iJMI";

/// Why a password may not be set. `Display` is a short sentence fit to show the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Fewer than [`MIN_LENGTH`] characters.
    #[error("Use at least 12 characters.")]
    TooShort,
    /// More than 1024 bytes.
    #[error("That password is too long: use at most 1024 bytes.")]
    TooLong,
    /// Easy to guess: a common password, a keyboard pattern, or built from the user's own
    /// e-mail address or name.
    #[error("That password is too easy to guess.")]
    Guessable {
        /// One more sentence on what makes it guessable or how to do better (English),
        /// when the estimator has one, e.g. "This is a top-100 common password."
        hint: Option<String>,
    },
}

/// Hashing failed. Only a broken parameter set or OS randomness can cause it, never
/// anything about the password; the message is for logs, not for the user.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct CredentialError(String);

/// Refuses passwords shorter than [`MIN_LENGTH`] characters, longer than 1024 bytes, or
/// guessable: a zxcvbn score below 3 (of 4), with `user_inputs` (e-mail, name) as extra
/// dictionary words. zxcvbn's dictionaries cover lists of common passwords.
///
/// Each user input is also split into its parts, so that an e-mail's local part or one of
/// a name's words counts as guessable on its own. The checks run in the order of the
/// variants: a 2000-character `aaaa…` is [`WeakPassword::TooLong`].
///
/// # Errors
///
/// The first rule the password breaks, as [`WeakPassword`].
pub fn check_strength(password: &str, user_inputs: &[&str]) -> Result<(), WeakPassword> {
    if password.chars().count() < MIN_LENGTH {
        return Err(WeakPassword::TooShort);
    }
    if password.len() > MAX_BYTES {
        return Err(WeakPassword::TooLong);
    }
    let words = dictionary_words(user_inputs);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(password, &words);
    if estimate.score() >= Score::Three {
        return Ok(());
    }
    let hint = estimate.feedback().and_then(|feedback| {
        feedback
            .warning()
            .map(|warning| warning.to_string())
            .or_else(|| feedback.suggestions().first().map(|s| s.to_string()))
    });
    Err(WeakPassword::Guessable { hint })
}

/// The user's inputs as zxcvbn dictionary words: each whole, and each part between
/// separators (`@`, `.`, `-`, `_`, `+`, spaces...) of three characters or more.
fn dictionary_words(user_inputs: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut add = |word: &str| {
        let word = word.trim().to_lowercase();
        if word.chars().count() >= 3 && !words.contains(&word) {
            words.push(word);
        }
    };
    for input in user_inputs {
        add(input);
        if let Some((local, domain)) = input.rsplit_once('@') {
            add(local);
            add(domain);
        }
        for part in input.split(|c: char| !c.is_alphanumeric()) {
            add(part);
        }
    }
    words
}

fn hasher() -> Result<Argon2<'static>, CredentialError> {
    let params = Params::new(M_COST, T_COST, P_COST, None)
        .map_err(|err| CredentialError(err.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with argon2id (m = 19456 KiB, t = 2, p = 1) and a random 16-byte
/// salt, into a PHC string such as `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
///
/// Call [`check_strength`] first when the user chooses the password; this function takes
/// whatever it is given.
///
/// # Errors
///
/// [`CredentialError`] if the OS random number generator or argon2 fails.
pub fn hash(password: &str) -> Result<String, CredentialError> {
    let mut salt = [0_u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|err| CredentialError(err.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|err| CredentialError(err.to_string()))?;
    let phc = hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|err| CredentialError(err.to_string()))?;
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc`, compared in constant time. Any
/// malformed or unsupported PHC string gives `false`; this never panics.
///
/// The cost parameters are read from `phc`, so hashes made before a cost change still
/// verify.
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Does the same work as [`verify`] against a fixed dummy hash and returns `false`.
///
/// Call it when a sign-in names an account that does not exist, so that the response
/// takes as long as for a real account with a wrong password and its timing does not tell
/// whether an e-mail address is registered.
pub fn verify_unknown(password: &str) -> bool {
    // black_box: the result is thrown away, and the work must not be optimised out.
    let _ = std::hint::black_box(verify(std::hint::black_box(password), DUMMY_PHC));
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMAIL: &str = "mariana.oyelaran@swiftparcel.example";

    fn is_guessable(result: Result<(), WeakPassword>) -> bool {
        matches!(result, Err(WeakPassword::Guessable { .. }))
    }

    #[test]
    fn eleven_characters_are_too_short() {
        assert_eq!(
            check_strength("k7#Vq2!mZp9", &[]),
            Err(WeakPassword::TooShort)
        );
        assert_eq!(check_strength("", &[]), Err(WeakPassword::TooShort));
    }

    #[test]
    fn twelve_strong_characters_are_accepted() {
        let password = "k7#Vq2!mZp9w";
        assert_eq!(password.chars().count(), MIN_LENGTH);
        assert_eq!(check_strength(password, &[EMAIL]), Ok(()));
    }

    #[test]
    fn a_passphrase_is_accepted() {
        assert_eq!(
            check_strength(
                "harbour lantern okapi seventy",
                &[EMAIL, "Mariana Oyelaran"]
            ),
            Ok(())
        );
    }

    #[test]
    fn common_passwords_are_refused() {
        for common in [
            "password1234",
            "qwertyuiop123",
            "iloveyou2024!",
            "Password123!",
            "123456789012",
            "aaaaaaaaaaaaaaaa",
        ] {
            assert!(
                is_guessable(check_strength(common, &[])),
                "{common} should be refused"
            );
        }
    }

    #[test]
    fn common_password_comes_with_a_hint() {
        let Err(WeakPassword::Guessable { hint }) = check_strength("password1234", &[]) else {
            panic!("password1234 should be guessable");
        };
        assert!(hint.is_some_and(|hint| !hint.is_empty()));
    }

    #[test]
    fn the_users_own_email_and_name_are_refused() {
        let local_part = "mariana.oyelaran";
        assert!(local_part.chars().count() >= MIN_LENGTH);
        // On its own the local part would pass: the user inputs are what refuse it.
        assert_eq!(check_strength(local_part, &[]), Ok(()));
        assert!(is_guessable(check_strength(local_part, &[EMAIL])));
        assert!(is_guessable(check_strength("MarianaOyelaran", &[EMAIL])));
        assert!(is_guessable(check_strength(EMAIL, &[EMAIL])));
        assert!(is_guessable(check_strength(
            "Mariana Oyelaran",
            &["someone@else.example", "Mariana Oyelaran"]
        )));
    }

    #[test]
    fn length_is_counted_in_characters_not_bytes() {
        // 11 characters but 22 bytes: still too short.
        let cyrillic = "жёлтыйкотик";
        assert_eq!(cyrillic.chars().count(), 11);
        assert!(cyrillic.len() > MIN_LENGTH);
        assert_eq!(check_strength(cyrillic, &[]), Err(WeakPassword::TooShort));
        // 12 characters of mixed scripts are long enough, and not guessable.
        let mixed = "Ωψ7жЯ€ñ2ß#Ğλ";
        assert_eq!(mixed.chars().count(), 12);
        assert_eq!(check_strength(mixed, &[]), Ok(()));
    }

    #[test]
    fn more_than_1024_bytes_is_too_long() {
        let long = "k7#Vq2!mZp9w".repeat(86);
        assert!(long.len() > 1024);
        assert_eq!(check_strength(&long, &[]), Err(WeakPassword::TooLong));
        // 1024 bytes exactly is allowed (512 two-byte characters).
        let at_limit = "ж".repeat(511) + "k7#Vq2!mZp9w".get(..2).unwrap();
        assert_eq!(at_limit.len(), 1024);
        assert_ne!(check_strength(&at_limit, &[]), Err(WeakPassword::TooLong));
    }

    #[test]
    fn errors_read_as_sentences() {
        for err in [
            WeakPassword::TooShort,
            WeakPassword::TooLong,
            WeakPassword::Guessable { hint: None },
        ] {
            let text = err.to_string();
            assert!(text.ends_with('.'), "{text}");
            assert!(
                text.chars().next().is_some_and(char::is_uppercase),
                "{text}"
            );
        }
        assert_eq!(
            WeakPassword::TooShort.to_string(),
            "Use at least 12 characters."
        );
    }

    #[test]
    fn hash_then_verify_round_trips() {
        let phc = hash("harbour lantern okapi seventy").unwrap();
        assert!(verify("harbour lantern okapi seventy", &phc));
        assert!(!verify("harbour lantern okapi seventy ", &phc));
        assert!(!verify("Harbour lantern okapi seventy", &phc));
    }

    #[test]
    fn hash_is_argon2id_with_owasp_parameters_and_a_fresh_salt() {
        let first = hash("same password twice").unwrap();
        let second = hash("same password twice").unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "each hash has its own salt");
        let parsed = PasswordHash::new(&first).unwrap();
        let salt = parsed.salt.unwrap();
        let mut buf = [0_u8; 64];
        assert_eq!(salt.decode_b64(&mut buf).unwrap().len(), SALT_LEN);
    }

    #[test]
    fn malformed_hashes_verify_false_without_panicking() {
        for phc in [
            "",
            "not a hash",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$",
            "$argon2id$v=19$m=0,t=0,p=0$c29tZXNhbHRzb21lc2FsdA$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
            "$bcrypt$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$argon2id$v=19$m=19456,t=2,p=1$M1F6/I3rn469EMy7Q8XKRQ$!!!!",
        ] {
            assert!(!verify("anything at all", phc), "{phc}");
        }
    }

    #[test]
    fn unknown_accounts_never_verify_and_cost_the_same_as_known_ones() {
        assert!(!verify_unknown("anything at all"));
        assert!(!verify_unknown(""));
        // Same work: the dummy has exactly the parameters of a real hash.
        let real = hash("x").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        let dummy = PasswordHash::new(DUMMY_PHC).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
    }
}
