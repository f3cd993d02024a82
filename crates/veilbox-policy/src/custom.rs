//! Custom roles: admin-written Cedar policies, accepted only when they parse, validate
//! strictly against the schema and speak only for their own role.

use std::str::FromStr;

use miette::Diagnostic;

use cedar_policy::{
    Policy, PolicyId, PolicySet, PrincipalConstraint, Schema, ValidationMode, Validator,
};

use crate::authorizer::Shipped;
use crate::entities::Vocabulary;
use crate::{CustomRole, PolicyError, BUILTIN_ROLES};

/// Parses and validates one custom role's policy text against the schema (strict mode), and
/// checks every policy in it is scoped `principal in Veilbox::Role::"<name>"`, so that a
/// custom role cannot grant or forbid anything to other roles. The name must match
/// `^[a-z][a-z0-9_-]{1,31}$` and not be one of [`BUILTIN_ROLES`].
///
/// On failure the error message carries the Cedar parser's or validator's text, one
/// problem per line, for the admin who wrote the policy.
///
/// ```
/// use veilbox_policy::{validate_custom_role, CustomRole};
///
/// let dispatcher = CustomRole {
///     name: "dispatcher".into(),
///     policy: r#"
///         permit (
///           principal in Veilbox::Role::"dispatcher",
///           action in [Veilbox::Action::"view_conversation", Veilbox::Action::"assign"],
///           resource is Veilbox::Conversation
///         ) when { principal.teams.containsAny(resource.teams) };
///     "#.into(),
/// };
/// assert!(validate_custom_role(&dispatcher).is_ok());
///
/// let nosy = CustomRole { policy: dispatcher.policy.replace("teams)", "colour)"), ..dispatcher };
/// let err = validate_custom_role(&nosy).unwrap_err();
/// assert!(err.message.contains("colour"));
/// ```
pub fn validate_custom_role(role: &CustomRole) -> Result<(), PolicyError> {
    let shipped = Shipped::load()?;
    custom_policies(role, &shipped.schema, &shipped.vocabulary).map(drop)
}

/// The role's policies, validated and renamed `<role>/<id>` so that they cannot clash with
/// the default set or with another role's.
pub(crate) fn custom_policies(
    role: &CustomRole,
    schema: &Schema,
    vocabulary: &Vocabulary,
) -> Result<Vec<Policy>, PolicyError> {
    let name = &role.name;
    check_name(name)?;
    let set = PolicySet::from_str(&role.policy).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| describe(e, &role.policy)).collect();
        PolicyError::new(format!(
            "custom role `{name}` does not parse:\n{}",
            lines.join("\n")
        ))
    })?;
    if set.templates().next().is_some() {
        return Err(PolicyError::new(format!(
            "custom role `{name}`: templates (`?principal`, `?resource`) are not supported; \
             write static policies"
        )));
    }
    let policies: Vec<&Policy> = set.policies().collect();
    if policies.is_empty() {
        return Err(PolicyError::new(format!(
            "custom role `{name}` has no policies"
        )));
    }

    let own_role = vocabulary.role(name);
    let mut problems: Vec<String> = policies
        .iter()
        .filter(|p| !scoped_to(p, &own_role))
        .map(|p| {
            format!(
                "policy `{}` must be scoped `principal in {own_role}`: a custom role cannot \
                 grant or forbid anything to other roles",
                p.id()
            )
        })
        .collect();
    let validation = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
    problems.extend(
        validation
            .validation_errors()
            .map(|e| describe(e, &role.policy)),
    );
    if !problems.is_empty() {
        return Err(PolicyError::new(format!(
            "custom role `{name}` is not valid:\n{}",
            problems.join("\n")
        )));
    }

    Ok(policies
        .into_iter()
        .map(|p| p.new_id(PolicyId::new(format!("{name}/{}", p.id()))))
        .collect())
}

/// One error as the admin should read it: `line L, column C: message (help)`.
fn describe(error: &dyn Diagnostic, source: &str) -> String {
    let at = error
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| {
            let (line, column) = line_and_column(source, label.offset());
            format!("line {line}, column {column}: ")
        })
        .unwrap_or_default();
    match error.help() {
        Some(help) => format!("{at}{error} ({help})"),
        None => format!("{at}{error}"),
    }
}

/// One-based line and column (in characters) of a byte offset.
fn line_and_column(source: &str, offset: usize) -> (usize, usize) {
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn check_name(name: &str) -> Result<(), PolicyError> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !(starts_with_letter && rest_ok && (2..=32).contains(&name.len())) {
        return Err(PolicyError::new(format!(
            "role name `{name}` must be 2 to 32 characters: a lower-case letter, then \
             lower-case letters, digits, `_` or `-`"
        )));
    }
    if BUILTIN_ROLES.contains(&name) {
        return Err(PolicyError::new(format!(
            "role name `{name}` is a built-in role; choose another name"
        )));
    }
    Ok(())
}

/// `principal in Veilbox::Role::"<name>"`, optionally with `is Veilbox::User`.
fn scoped_to(policy: &Policy, role: &cedar_policy::EntityUid) -> bool {
    match policy.principal_constraint() {
        PrincipalConstraint::In(uid) | PrincipalConstraint::IsIn(_, uid) => &uid == role,
        PrincipalConstraint::Any | PrincipalConstraint::Eq(_) | PrincipalConstraint::Is(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{check_name, line_and_column};

    #[test]
    fn offsets_become_lines_and_columns() {
        let source = "ab\ncdé\nf";
        assert_eq!(line_and_column(source, 0), (1, 1));
        assert_eq!(line_and_column(source, 3), (2, 1));
        assert_eq!(line_and_column(source, 7), (2, 4));
        assert_eq!(line_and_column(source, 8), (3, 1));
        assert_eq!(line_and_column(source, 100), (3, 2));
    }

    #[test]
    fn names_follow_the_pattern() {
        for good in ["ab", "dispatcher", "night-shift", "tier_2", &"a".repeat(32)] {
            assert!(check_name(good).is_ok(), "{good} should be accepted");
        }
        for bad in [
            "",
            "a",
            "Dispatcher",
            "1st",
            "-x",
            "night shift",
            "tiér",
            &"a".repeat(33),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} should be refused");
        }
        for builtin in crate::BUILTIN_ROLES {
            assert!(check_name(builtin).is_err(), "{builtin} is built in");
        }
    }
}
