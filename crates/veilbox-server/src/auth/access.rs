//! The one authorizer, as every route and job uses it.
//!
//! [`Access`] holds the Cedar policy set (the default one plus the custom roles stored in
//! the database) and answers "may this actor do this to that". Conversation and customer
//! facts (teams serving the inbox, assignee) are read from the store here, so handlers ask
//! one question and cannot forget half of it.

use std::sync::{Arc, RwLock};

use veilbox_policy::{
    Action, Authorizer, Context, ConversationFacts, CustomRole, Principal, Resource,
};
use veilbox_store::reads::{ConversationFilter, ConversationScope, ConversationSummary, Page};
use veilbox_store::{Store, StoreError};

/// Who is acting: a signed-in user, an API token or the bootstrap token.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The audit log's actor id: a user id, `token:<id>` or `bootstrap`.
    pub id: String,
    /// The user id replies and assignments are recorded under (`None` for tokens).
    pub user_id: Option<String>,
    /// What the authorizer sees.
    pub principal: Principal,
    /// Client address, for the audit log.
    pub address: Option<String>,
    /// Client user agent, for the audit log.
    pub user_agent: Option<String>,
}

impl Actor {
    /// The id replies and assignments are recorded under.
    pub fn author(&self) -> &str {
        self.user_id.as_deref().unwrap_or(&self.id)
    }

    /// An audit entry by this actor.
    pub fn audit<'a>(
        &'a self,
        action: &'a str,
        target: Option<&'a str>,
        reason: Option<&'a str>,
    ) -> veilbox_store::audit::AuditEntry<'a> {
        veilbox_store::audit::AuditEntry {
            actor: &self.id,
            action,
            target,
            reason,
            address: self.address.as_deref(),
            user_agent: self.user_agent.as_deref(),
        }
    }
}

/// The authorizer shared by every handler; replaced when custom roles change.
#[derive(Clone)]
pub struct Access {
    authorizer: Arc<RwLock<Authorizer>>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Access")
    }
}

/// Why the authorizer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The policies do not validate.
    #[error("policy: {0}")]
    Policy(#[from] veilbox_policy::PolicyError),
}

impl Access {
    /// The default policies plus the custom roles stored in the database. A stored role
    /// that no longer validates is left out (and logged) rather than stopping start-up:
    /// leaving it out can only take permissions away.
    pub async fn load(store: &Store) -> Result<Access, AccessError> {
        let authorizer = build(store).await?;
        Ok(Access {
            authorizer: Arc::new(RwLock::new(authorizer)),
        })
    }

    /// Rebuilds the policy set from the database (after a custom role changed here or on
    /// another node).
    pub async fn reload(&self, store: &Store) -> Result<(), AccessError> {
        let fresh = build(store).await?;
        *self
            .authorizer
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    fn current(&self) -> Authorizer {
        self.authorizer
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Every role name the policies know.
    pub fn roles(&self) -> Vec<String> {
        self.current().roles()
    }

    /// The one question: may `actor` do `action` to `resource`?
    pub fn allowed(
        &self,
        actor: &Actor,
        action: Action,
        resource: &Resource,
        context: &Context,
    ) -> bool {
        self.allows(&actor.principal, action, resource, context)
    }

    /// The same question about a principal that is not acting yet (a token being made, a
    /// role being signed in).
    pub fn allows(
        &self,
        principal: &Principal,
        action: Action,
        resource: &Resource,
        context: &Context,
    ) -> bool {
        self.current()
            .is_allowed(principal, action, resource, context)
    }

    /// May `actor` do a system-wide `action` (manage users, view the audit log, ...)?
    pub fn allowed_system(&self, actor: &Actor, action: Action) -> bool {
        self.allowed(actor, action, &Resource::System, &Context::default())
    }

    /// What the authorizer needs to know about a conversation.
    pub async fn conversation_facts(
        store: &Store,
        conversation: &ConversationSummary,
    ) -> Result<ConversationFacts, StoreError> {
        Ok(ConversationFacts {
            id: conversation.id.clone(),
            teams: store.teams_serving(&conversation.inbox_id).await?,
            assignee: conversation.assignee.clone(),
        })
    }

    /// May `actor` do `action` to this conversation?
    pub async fn allowed_on_conversation(
        &self,
        store: &Store,
        actor: &Actor,
        action: Action,
        conversation: &ConversationSummary,
        context: &Context,
    ) -> Result<bool, StoreError> {
        let facts = Access::conversation_facts(store, conversation).await?;
        Ok(self.allowed(actor, action, &Resource::Conversation(facts), context))
    }

    /// The conversation `id` if `actor` may see it. A conversation they may not see is
    /// `None`, exactly like one that does not exist: its existence is not theirs to know.
    pub async fn visible_conversation(
        &self,
        store: &Store,
        actor: &Actor,
        id: &str,
    ) -> Result<Option<ConversationSummary>, StoreError> {
        let Some(conversation) = store.conversation(id).await? else {
            return Ok(None);
        };
        let visible = self
            .allowed_on_conversation(
                store,
                actor,
                Action::ViewConversation,
                &conversation,
                &Context::default(),
            )
            .await?;
        Ok(visible.then_some(conversation))
    }

    /// A page of the conversations `actor` may see. The query is bounded in SQL to the
    /// inboxes their teams serve and their own assignments; the authorizer then decides row
    /// by row, and the page is topped up so it is not cut short by rows left out.
    pub async fn visible_conversations(
        &self,
        store: &Store,
        actor: &Actor,
        filter: &ConversationFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<ConversationSummary>, StoreError> {
        let mut filter = filter.clone();
        filter.scope = Some(ConversationScope {
            inboxes: store.inboxes_served_by(&actor.principal.teams).await?,
            assignee: actor.user_id.clone(),
        });
        let limit = limit.clamp(1, 200);
        let mut items = Vec::new();
        let mut cursor = cursor.map(str::to_owned);
        let mut teams_by_inbox = std::collections::HashMap::new();
        loop {
            let page = store
                .conversations_where(&filter, cursor.as_deref(), limit)
                .await?;
            for conversation in page.items {
                if items.len() == limit as usize {
                    break;
                }
                let teams = match teams_by_inbox.get(&conversation.inbox_id) {
                    Some(teams) => Clone::clone(teams),
                    None => {
                        let teams = store.teams_serving(&conversation.inbox_id).await?;
                        teams_by_inbox.insert(conversation.inbox_id.clone(), teams.clone());
                        teams
                    }
                };
                let facts = ConversationFacts {
                    id: conversation.id.clone(),
                    teams,
                    assignee: conversation.assignee.clone(),
                };
                if self.allowed(
                    actor,
                    Action::ViewConversation,
                    &Resource::Conversation(facts),
                    &Context::default(),
                ) {
                    items.push(conversation);
                }
            }
            cursor = page.next_cursor;
            if items.len() == limit as usize || cursor.is_none() {
                break;
            }
        }
        let next_cursor = if items.len() == limit as usize {
            items
                .last()
                .map(|c| veilbox_store::reads::Cursor::format(c.last_message_at, &c.id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

async fn build(store: &Store) -> Result<Authorizer, AccessError> {
    let mut roles = Vec::new();
    for stored in store.custom_roles().await? {
        let role = CustomRole {
            name: stored.name,
            policy: stored.policy,
        };
        match veilbox_policy::validate_custom_role(&role) {
            Ok(()) => roles.push(role),
            Err(error) => {
                tracing::error!(role = %role.name, %error, "a stored custom role does not validate; it is left out");
            }
        }
    }
    Ok(Authorizer::with_custom_roles(&roles)?)
}
