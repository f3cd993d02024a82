//! One small world: the principal `me` and colleague `mate` in team `north`, `stranger`
//! in team `south`, and one resource of each ownership shape.

use veilbox_policy::{Context, ConversationFacts, CustomerFacts, Principal, Resource};

/// Column names of the matrix, in the order of [`resources`].
pub const COLUMNS: [&str; 9] = [
    "conv:mine",
    "conv:mate",
    "queue:own",
    "queue:other",
    "conv:other",
    "cust:mine",
    "cust:team",
    "cust:other",
    "system",
];

pub fn principal(role: &str) -> Principal {
    Principal {
        id: "me".into(),
        role: role.into(),
        teams: vec!["north".into()],
        read_only: false,
    }
}

pub fn read_only(role: &str) -> Principal {
    Principal {
        read_only: true,
        ..principal(role)
    }
}

pub fn conversation(teams: &[&str], assignee: Option<&str>) -> Resource {
    Resource::Conversation(ConversationFacts {
        id: "c-1".into(),
        teams: teams.iter().map(|t| (*t).to_owned()).collect(),
        assignee: assignee.map(str::to_owned),
    })
}

pub fn customer(teams: &[&str], assignees: &[&str]) -> Resource {
    Resource::Customer(CustomerFacts {
        id: "k-1".into(),
        teams: teams.iter().map(|t| (*t).to_owned()).collect(),
        assignees: assignees.iter().map(|a| (*a).to_owned()).collect(),
    })
}

/// One resource per column of [`COLUMNS`].
pub fn resources() -> [(&'static str, Resource); 9] {
    [
        ("conv:mine", conversation(&["north"], Some("me"))),
        ("conv:mate", conversation(&["north"], Some("mate"))),
        ("queue:own", conversation(&["north"], None)),
        ("queue:other", conversation(&["south"], None)),
        ("conv:other", conversation(&["south"], Some("stranger"))),
        ("cust:mine", customer(&["north"], &["me"])),
        ("cust:team", customer(&["north"], &["mate"])),
        ("cust:other", customer(&["south"], &["stranger"])),
        ("system", Resource::System),
    ]
}

/// The most permissive context: a kind agents may reveal, a reason, and a self-assignment,
/// so that the matrix shows what each role's grants reach, not what the context blocks.
pub fn full_context() -> Context {
    Context {
        kind: Some("PHONE".into()),
        reason: Some("customer asked us to call back".into()),
        self_assign: true,
    }
}

pub fn reveal_of(kind: &str, reason: &str) -> Context {
    Context {
        kind: Some(kind.into()),
        reason: Some(reason.into()),
        self_assign: false,
    }
}
