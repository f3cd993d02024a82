//! Overriding a leak-prevention block: supervisors on their teams' conversations, with a
//! reason; never agents, never read-only tokens, never without a reason.

use veilbox_policy::{Action, Authorizer, Context};

use crate::fixtures;

fn with_reason(reason: &str) -> Context {
    Context {
        reason: Some(reason.into()),
        ..Context::default()
    }
}

#[test]
fn a_supervisor_overrides_on_their_team_with_a_reason() {
    let authorizer = Authorizer::new().unwrap();
    let mate = fixtures::conversation(&["north"], Some("mate"));
    let supervisor = fixtures::principal("supervisor");
    assert!(authorizer.is_allowed(
        &supervisor,
        Action::OverrideBlock,
        &mate,
        &with_reason("the number is our depot's")
    ));
    assert!(!authorizer.is_allowed(
        &supervisor,
        Action::OverrideBlock,
        &mate,
        &Context::default()
    ));
    let other_team = fixtures::conversation(&["south"], Some("mate"));
    assert!(!authorizer.is_allowed(
        &supervisor,
        Action::OverrideBlock,
        &other_team,
        &with_reason("why not")
    ));
}

#[test]
fn agents_and_read_only_tokens_never_override() {
    let authorizer = Authorizer::new().unwrap();
    let mine = fixtures::conversation(&["north"], Some("me"));
    let reason = with_reason("customer asked");
    assert!(!authorizer.is_allowed(
        &fixtures::principal("agent"),
        Action::OverrideBlock,
        &mine,
        &reason
    ));
    assert!(!authorizer.is_allowed(
        &fixtures::read_only("supervisor"),
        Action::OverrideBlock,
        &mine,
        &reason
    ));
}
