//! The one authorizer every Veilbox route and job asks before acting for a person.
//!
//! Decisions are [Cedar](https://www.cedarpolicy.com) policies over roles, team membership,
//! assignment and the request context (for a reveal: the kind of value and the reason). The
//! default policy set and its schema ship in this crate (`policies/`); admins add custom
//! roles as more policies, each checked by [`validate_custom_role`] before it is loaded.
//!
//! Anything no policy permits is denied, a `forbid` beats every `permit`, and a question
//! that does not fit the schema (an unknown role, an action asked about the wrong kind of
//! resource) is simply denied: [`Authorizer::is_allowed`] never fails or panics.
//!
//! ```
//! use veilbox_policy::{Action, Authorizer, Context, ConversationFacts, Principal, Resource};
//!
//! let authorizer = Authorizer::new()?;
//! let asha = Principal {
//!     id: "u-asha".into(),
//!     role: "agent".into(),
//!     teams: vec!["returns".into()],
//!     read_only: false,
//! };
//! let waiting = Resource::Conversation(ConversationFacts {
//!     id: "c-1".into(),
//!     teams: vec!["returns".into()],
//!     assignee: None,
//! });
//! let no_context = Context::default();
//!
//! // An unassigned conversation in her team's queue: she may read it and take it...
//! assert!(authorizer.is_allowed(&asha, Action::ViewConversation, &waiting, &no_context));
//! let take = Context { self_assign: true, ..Context::default() };
//! assert!(authorizer.is_allowed(&asha, Action::Assign, &waiting, &take));
//! // ...but not answer it or reveal a masked value in it until it is assigned to her.
//! assert!(!authorizer.is_allowed(&asha, Action::Reply, &waiting, &no_context));
//! let reveal = Context {
//!     kind: Some("ADDRESS".into()),
//!     reason: Some("confirm delivery address".into()),
//!     self_assign: false,
//! };
//! assert!(!authorizer.is_allowed(&asha, Action::Reveal, &waiting, &reveal));
//! # Ok::<(), veilbox_policy::PolicyError>(())
//! ```
#![deny(missing_docs)]

mod authorizer;
mod custom;
mod entities;

pub use authorizer::Authorizer;
pub use custom::validate_custom_role;

/// The roles defined by the default policy set. Custom roles may not reuse these names.
pub const BUILTIN_ROLES: [&str; 4] = ["agent", "supervisor", "admin", "auditor"];

/// A role defined by an admin as Cedar policies, loaded next to the default set.
#[derive(Debug, Clone)]
pub struct CustomRole {
    /// The role name, `^[a-z][a-z0-9_-]{1,31}$`, not one of [`BUILTIN_ROLES`].
    pub name: String,
    /// Cedar policies, each scoped `principal in Veilbox::Role::"<name>"`.
    pub policy: String,
}

/// A policy set, schema or custom role that could not be loaded. The message is meant for
/// the admin who wrote the policy: it carries the Cedar parser's or validator's text.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    /// What is wrong, human-readable; several problems are separated by newlines.
    pub message: String,
}

impl PolicyError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// Who is asking: a signed-in user, or an API token acting for one.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user id.
    pub id: String,
    /// The user's role: a built-in or a loaded custom role. Any other name is granted nothing.
    pub role: String,
    /// Ids of the teams the user belongs to.
    pub teams: Vec<String>,
    /// An API token scope: the principal may read but never write, reveal or configure.
    pub read_only: bool,
}

/// What the principal wants to do. [`Action::name`] is the Cedar action id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read a conversation (masked).
    ViewConversation,
    /// Send a reply in a conversation.
    Reply,
    /// Assign a conversation to someone, or take it from the queue (see [`Context::self_assign`]).
    Assign,
    /// Resolve (close) a conversation.
    Resolve,
    /// Unmask one value in a conversation, with a kind and a reason.
    Reveal,
    /// Read a customer record (masked).
    ViewCustomer,
    /// Change a customer record.
    EditCustomer,
    /// Export data (rendered masked).
    Export,
    /// Erase a customer (crypto-shredding), with a reason.
    EraseCustomer,
    /// Create, change and disable users.
    ManageUsers,
    /// Add, change and remove custom roles.
    ManagePolicies,
    /// Issue and revoke API tokens.
    ManageTokens,
    /// Change inboxes and masking, SLA and retention settings.
    Configure,
    /// Read the audit log.
    ViewAuditLog,
    /// Read analytics.
    ViewAnalytics,
    /// Send a reply that leak prevention blocked, with a reason (audited).
    OverrideBlock,
    /// Add, change and delete quick replies (canned responses with placeholders). The
    /// server limits a holder without [`Action::ManageUsers`] to their own teams' ones.
    ManageQuickReplies,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 17] = [
        Action::ViewConversation,
        Action::Reply,
        Action::Assign,
        Action::Resolve,
        Action::Reveal,
        Action::ViewCustomer,
        Action::EditCustomer,
        Action::Export,
        Action::EraseCustomer,
        Action::ManageUsers,
        Action::ManagePolicies,
        Action::ManageTokens,
        Action::Configure,
        Action::ViewAuditLog,
        Action::ViewAnalytics,
        Action::OverrideBlock,
        Action::ManageQuickReplies,
    ];

    /// The snake_case name, which is also the Cedar id `Veilbox::Action::"<name>"`.
    pub fn name(self) -> &'static str {
        match self {
            Action::ViewConversation => "view_conversation",
            Action::Reply => "reply",
            Action::Assign => "assign",
            Action::Resolve => "resolve",
            Action::Reveal => "reveal",
            Action::ViewCustomer => "view_customer",
            Action::EditCustomer => "edit_customer",
            Action::Export => "export",
            Action::EraseCustomer => "erase_customer",
            Action::ManageUsers => "manage_users",
            Action::ManagePolicies => "manage_policies",
            Action::ManageTokens => "manage_tokens",
            Action::Configure => "configure",
            Action::ViewAuditLog => "view_audit_log",
            Action::ViewAnalytics => "view_analytics",
            Action::OverrideBlock => "override_block",
            Action::ManageQuickReplies => "manage_quick_replies",
        }
    }
}

/// What the action is about. Each action applies to one kind of resource (see the schema);
/// asking about another kind is denied.
#[derive(Debug, Clone)]
pub enum Resource {
    /// The installation: configuration, users, tokens, audit log, analytics, exports.
    System,
    /// One conversation.
    Conversation(ConversationFacts),
    /// One customer.
    Customer(CustomerFacts),
}

/// What the authorizer needs to know about a conversation.
#[derive(Debug, Clone)]
pub struct ConversationFacts {
    /// The conversation id.
    pub id: String,
    /// Ids of the teams serving its inbox.
    pub teams: Vec<String>,
    /// The user it is assigned to; `None` while it waits in the team queue.
    pub assignee: Option<String>,
}

/// What the authorizer needs to know about a customer.
#[derive(Debug, Clone)]
pub struct CustomerFacts {
    /// The customer id.
    pub id: String,
    /// Ids of the teams serving inboxes where the customer has conversations.
    pub teams: Vec<String>,
    /// Ids of the users assigned to any of the customer's conversations.
    pub assignees: Vec<String>,
}

/// Facts about the request itself.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// For a reveal: the kind of the masked value (`PHONE`, `ADDRESS`, `CARD`, ...).
    /// Compared in upper case, so `card` is `CARD`.
    pub kind: Option<String>,
    /// Why the actor does this (reveal, erasure). Blank text counts as no reason.
    pub reason: Option<String>,
    /// For an assign: the actor assigns the conversation to themselves.
    pub self_assign: bool,
}
