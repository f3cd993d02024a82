//! Turns Veilbox's facts (principal, action, resource, context) into a Cedar request and
//! the entities it needs, conforming to `policies/schema.cedarschema`.

use std::collections::HashSet;
use std::str::FromStr;

use cedar_policy::{
    Context as CedarContext, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request,
    RestrictedExpression, Schema,
};

use crate::{Action, Context, PolicyError, Principal, Resource};

/// One authorization question in Cedar's terms.
pub(crate) struct Question {
    pub(crate) request: Request,
    pub(crate) entities: Entities,
}

/// The entity type names of the schema, parsed once.
pub(crate) struct Vocabulary {
    role: EntityTypeName,
    team: EntityTypeName,
    user: EntityTypeName,
    conversation: EntityTypeName,
    customer: EntityTypeName,
    system: EntityTypeName,
    action: EntityTypeName,
}

impl Vocabulary {
    pub(crate) fn new() -> Result<Self, PolicyError> {
        let name = |s: &str| {
            EntityTypeName::from_str(s)
                .map_err(|e| PolicyError::new(format!("entity type name `{s}`: {e}")))
        };
        Ok(Self {
            role: name("Veilbox::Role")?,
            team: name("Veilbox::Team")?,
            user: name("Veilbox::User")?,
            conversation: name("Veilbox::Conversation")?,
            customer: name("Veilbox::Customer")?,
            system: name("Veilbox::System")?,
            action: name("Veilbox::Action")?,
        })
    }

    /// `Veilbox::Role::"<name>"`, the scope every policy of that role must have.
    pub(crate) fn role(&self, name: &str) -> EntityUid {
        uid(&self.role, name)
    }

    /// Builds the request and entities, checked against the schema. `None` when the
    /// question does not fit the schema (e.g. an action asked about the wrong kind of
    /// resource): such a question has no permitted answer.
    pub(crate) fn question(
        &self,
        schema: &Schema,
        principal: &Principal,
        action: Action,
        resource: &Resource,
        context: &Context,
    ) -> Option<Question> {
        let role = self.role(&principal.role);
        let user_uid = uid(&self.user, &principal.id);
        let user = Entity::new(
            user_uid.clone(),
            [
                ("teams".to_owned(), self.teams(&principal.teams)),
                (
                    "read_only".to_owned(),
                    RestrictedExpression::new_bool(principal.read_only),
                ),
            ]
            .into(),
            HashSet::from([role.clone()]),
        )
        .ok()?;
        let (resource_uid, resource_entity) = self.resource(resource)?;
        let entities = Entities::from_entities(
            [
                user,
                Entity::new_no_attrs(role, HashSet::new()),
                resource_entity,
            ],
            Some(schema),
        )
        .ok()?;
        let request = Request::new(
            user_uid,
            uid(&self.action, action.name()),
            resource_uid,
            cedar_context(context)?,
            Some(schema),
        )
        .ok()?;
        Some(Question { request, entities })
    }

    fn resource(&self, resource: &Resource) -> Option<(EntityUid, Entity)> {
        let (resource_uid, attrs) = match resource {
            Resource::System => {
                let system = uid(&self.system, "veilbox");
                return Some((system.clone(), Entity::new_no_attrs(system, HashSet::new())));
            }
            Resource::Conversation(c) => {
                let mut attrs = vec![("teams".to_owned(), self.teams(&c.teams))];
                // No `assignee` attribute at all means "waiting in the queue".
                if let Some(assignee) = &c.assignee {
                    attrs.push(("assignee".to_owned(), self.user_ref(assignee)));
                }
                (uid(&self.conversation, &c.id), attrs)
            }
            Resource::Customer(c) => {
                let assignees = c.assignees.iter().map(|a| self.user_ref(a));
                let attrs = vec![
                    ("teams".to_owned(), self.teams(&c.teams)),
                    (
                        "assignees".to_owned(),
                        RestrictedExpression::new_set(assignees),
                    ),
                ];
                (uid(&self.customer, &c.id), attrs)
            }
        };
        let entity = Entity::new(
            resource_uid.clone(),
            attrs.into_iter().collect(),
            HashSet::new(),
        );
        Some((resource_uid, entity.ok()?))
    }

    fn teams(&self, teams: &[String]) -> RestrictedExpression {
        RestrictedExpression::new_set(
            teams
                .iter()
                .map(|t| RestrictedExpression::new_entity_uid(uid(&self.team, t))),
        )
    }

    fn user_ref(&self, id: &str) -> RestrictedExpression {
        RestrictedExpression::new_entity_uid(uid(&self.user, id))
    }
}

fn uid(type_name: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name.clone(), EntityId::new(id))
}

/// The same record for every action. Kinds are compared in upper case and reasons
/// trimmed, so that `card` cannot slip past a forbid on `CARD` and a blank reason is none.
fn cedar_context(context: &Context) -> Option<CedarContext> {
    let kind = context
        .kind
        .as_deref()
        .map(|k| k.trim().to_ascii_uppercase())
        .unwrap_or_default();
    let reason = context
        .reason
        .as_deref()
        .map(|r| r.trim().to_owned())
        .unwrap_or_default();
    CedarContext::from_pairs([
        ("kind".to_owned(), RestrictedExpression::new_string(kind)),
        (
            "reason".to_owned(),
            RestrictedExpression::new_string(reason),
        ),
        (
            "self_assign".to_owned(),
            RestrictedExpression::new_bool(context.self_assign),
        ),
    ])
    .ok()
}
