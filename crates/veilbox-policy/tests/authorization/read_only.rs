//! Read-only API tokens read what their role reads and never write.

use veilbox_policy::{Action, Authorizer, BUILTIN_ROLES};

use crate::fixtures;

const WRITES: [Action; 12] = [
    Action::Reply,
    Action::Assign,
    Action::Resolve,
    Action::Reveal,
    Action::OverrideBlock,
    Action::EditCustomer,
    Action::EraseCustomer,
    Action::ManageUsers,
    Action::ManagePolicies,
    Action::ManageTokens,
    Action::ManageQuickReplies,
    Action::Configure,
];

#[test]
fn read_only_principals_never_write() {
    let authorizer = Authorizer::new().unwrap();
    let context = fixtures::full_context();
    let mut wrong = Vec::new();
    for role in BUILTIN_ROLES {
        let token = fixtures::read_only(role);
        for action in WRITES {
            for (column, resource) in fixtures::resources() {
                if authorizer.is_allowed(&token, action, &resource, &context) {
                    wrong.push(format!("read-only {role} / {} / {column}", action.name()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "read-only tokens could write:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn read_only_principals_still_read_what_their_role_reads() {
    let authorizer = Authorizer::new().unwrap();
    let context = fixtures::full_context();
    let reads = Action::ALL.into_iter().filter(|a| !WRITES.contains(a));
    for role in BUILTIN_ROLES {
        for action in reads.clone() {
            for (column, resource) in fixtures::resources() {
                let full =
                    authorizer.is_allowed(&fixtures::principal(role), action, &resource, &context);
                let token =
                    authorizer.is_allowed(&fixtures::read_only(role), action, &resource, &context);
                assert_eq!(
                    token,
                    full,
                    "read-only {role} / {} / {column}",
                    action.name()
                );
            }
        }
    }
    // And those reads are real grants, not a table of denials agreeing with itself.
    let cases = [
        (
            "agent",
            Action::ViewConversation,
            fixtures::conversation(&["north"], Some("me")),
        ),
        (
            "agent",
            Action::ViewCustomer,
            fixtures::customer(&["north"], &["me"]),
        ),
        (
            "supervisor",
            Action::ViewConversation,
            fixtures::conversation(&["north"], Some("mate")),
        ),
        (
            "supervisor",
            Action::Export,
            veilbox_policy::Resource::System,
        ),
        (
            "auditor",
            Action::ViewAuditLog,
            veilbox_policy::Resource::System,
        ),
        (
            "admin",
            Action::ViewAnalytics,
            veilbox_policy::Resource::System,
        ),
    ];
    for (role, action, resource) in cases {
        assert!(
            authorizer.is_allowed(&fixtures::read_only(role), action, &resource, &context),
            "read-only {role} could not {}",
            action.name()
        );
    }
}

#[test]
fn the_same_write_goes_through_without_the_read_only_scope() {
    let authorizer = Authorizer::new().unwrap();
    let context = fixtures::full_context();
    let mine = fixtures::conversation(&["north"], Some("me"));
    assert!(authorizer.is_allowed(
        &fixtures::principal("agent"),
        Action::Reply,
        &mine,
        &context
    ));
    assert!(!authorizer.is_allowed(
        &fixtures::read_only("agent"),
        Action::Reply,
        &mine,
        &context
    ));
    let system = veilbox_policy::Resource::System;
    assert!(authorizer.is_allowed(
        &fixtures::principal("admin"),
        Action::Configure,
        &system,
        &context
    ));
    assert!(!authorizer.is_allowed(
        &fixtures::read_only("admin"),
        Action::Configure,
        &system,
        &context
    ));
}
