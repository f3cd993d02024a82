//! The authorizer: the shipped schema and default policy set, plus any custom roles,
//! answering yes or no.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{Decision, PolicyId, PolicySet, Schema, ValidationMode, Validator};

use crate::custom::custom_policies;
use crate::entities::Vocabulary;
use crate::{Action, Context, CustomRole, PolicyError, Principal, Resource, BUILTIN_ROLES};

const SCHEMA: &str = include_str!("../policies/schema.cedarschema");
const DEFAULT_POLICIES: &str = include_str!("../policies/default.cedar");

/// Decides what a principal may do. Cheap to clone and share between threads.
///
/// Built once at start-up (and again when an admin changes a custom role); every route
/// and job acting for a person asks [`Authorizer::is_allowed`] before acting.
#[derive(Clone)]
pub struct Authorizer {
    inner: Arc<Inner>,
}

struct Inner {
    engine: cedar_policy::Authorizer,
    policies: PolicySet,
    schema: Schema,
    vocabulary: Vocabulary,
    roles: Vec<String>,
}

/// The schema and vocabulary shipped in the crate.
pub(crate) struct Shipped {
    pub(crate) schema: Schema,
    pub(crate) vocabulary: Vocabulary,
}

impl Shipped {
    pub(crate) fn load() -> Result<Self, PolicyError> {
        let (schema, _warnings) = Schema::from_cedarschema_str(SCHEMA)
            .map_err(|e| PolicyError::new(format!("the shipped schema does not parse: {e}")))?;
        Ok(Self {
            schema,
            vocabulary: Vocabulary::new()?,
        })
    }
}

impl Authorizer {
    /// The default policy set and schema shipped in the crate (`policies/`).
    pub fn new() -> Result<Self, PolicyError> {
        Self::with_custom_roles(&[])
    }

    /// The default set plus custom roles, each validated as in
    /// [`validate_custom_role`](crate::validate_custom_role). Role names must be distinct.
    pub fn with_custom_roles(roles: &[CustomRole]) -> Result<Self, PolicyError> {
        let Shipped { schema, vocabulary } = Shipped::load()?;
        let mut policies = default_policies(&schema)?;
        let mut names: Vec<String> = BUILTIN_ROLES.iter().map(|r| (*r).to_owned()).collect();
        for role in roles {
            if names.contains(&role.name) {
                return Err(PolicyError::new(format!(
                    "role `{}` is defined more than once",
                    role.name
                )));
            }
            for policy in custom_policies(role, &schema, &vocabulary)? {
                policies
                    .add(policy)
                    .map_err(|e| PolicyError::new(format!("custom role `{}`: {e}", role.name)))?;
            }
            names.push(role.name.clone());
        }
        Ok(Self {
            inner: Arc::new(Inner {
                engine: cedar_policy::Authorizer::new(),
                policies,
                schema,
                vocabulary,
                roles: names,
            }),
        })
    }

    /// Whether `principal` may perform `action` on `resource`.
    ///
    /// Denied unless a policy permits it and none forbids it. A question that does not fit
    /// the schema (an action asked about the wrong kind of resource), and any error while
    /// evaluating a policy, also deny: this never fails or panics.
    pub fn is_allowed(
        &self,
        principal: &Principal,
        action: Action,
        resource: &Resource,
        context: &Context,
    ) -> bool {
        let inner = &self.inner;
        let Some(question) =
            inner
                .vocabulary
                .question(&inner.schema, principal, action, resource, context)
        else {
            return false;
        };
        let response =
            inner
                .engine
                .is_authorized(&question.request, &inner.policies, &question.entities);
        // A policy that errors is skipped by Cedar; for a `forbid` that would mean allowing
        // what it meant to stop, so any evaluation error denies.
        response.decision() == Decision::Allow && response.diagnostics().errors().next().is_none()
    }

    /// Role names known to this authorizer: the built-ins, then the custom ones in the
    /// order they were given.
    pub fn roles(&self) -> Vec<String> {
        self.inner.roles.clone()
    }
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer")
            .field("roles", &self.inner.roles)
            .finish_non_exhaustive()
    }
}

/// The shipped policies, each named by its `@id` annotation, validated strictly.
fn default_policies(schema: &Schema) -> Result<PolicySet, PolicyError> {
    let parsed = PolicySet::from_str(DEFAULT_POLICIES)
        .map_err(|e| PolicyError::new(format!("the default policy set does not parse: {e}")))?;
    let mut named = PolicySet::new();
    for policy in parsed.policies() {
        let policy = match policy.annotation("id") {
            Some(id) => policy.new_id(PolicyId::new(id)),
            None => policy.clone(),
        };
        named
            .add(policy)
            .map_err(|e| PolicyError::new(format!("the default policy set: {e}")))?;
    }
    let validation = Validator::new(schema.clone()).validate(&named, ValidationMode::Strict);
    if !validation.validation_passed() {
        let errors: Vec<String> = validation
            .validation_errors()
            .map(ToString::to_string)
            .collect();
        return Err(PolicyError::new(format!(
            "the default policy set does not validate:\n{}",
            errors.join("\n")
        )));
    }
    Ok(named)
}
