//! Reveal: who may unmask which kind of value, and only with a reason.

use veilbox_policy::{Action, Authorizer, Context};

use crate::fixtures::{self, reveal_of};

const FORBIDDEN_KINDS: [&str; 5] = ["CARD", "CVV", "OTP", "PASSWORD", "SECRET"];
const AGENT_KINDS: [&str; 7] = [
    "ADDRESS", "PHONE", "PERSON", "POSTCODE", "GPS", "NUMBER", "MEDIA",
];
const REASON: &str = "courier cannot find the house";

#[test]
fn forbidden_kinds_are_denied_to_everyone() {
    let authorizer = Authorizer::new().unwrap();
    let mine = fixtures::conversation(&["north"], Some("me"));
    for role in veilbox_policy::BUILTIN_ROLES {
        let principal = fixtures::principal(role);
        for kind in FORBIDDEN_KINDS {
            // Case and stray spaces must not get a forbidden kind past the forbid.
            for spelling in [kind.to_owned(), kind.to_lowercase(), format!(" {kind} ")] {
                assert!(
                    !authorizer.is_allowed(
                        &principal,
                        Action::Reveal,
                        &mine,
                        &reveal_of(&spelling, REASON)
                    ),
                    "{role} revealed {spelling:?}"
                );
            }
        }
    }
}

#[test]
fn supervisor_reveals_other_kinds_on_team_conversations() {
    let authorizer = Authorizer::new().unwrap();
    let supervisor = fixtures::principal("supervisor");
    let team = fixtures::conversation(&["north"], Some("mate"));
    let other_team = fixtures::conversation(&["south"], Some("stranger"));
    for kind in [
        "ADDRESS", "PHONE", "EMAIL", "DOB", "IBAN", "TRACKING", "address", "MEDIA",
    ] {
        let context = reveal_of(kind, REASON);
        assert!(
            authorizer.is_allowed(&supervisor, Action::Reveal, &team, &context),
            "supervisor could not reveal {kind}"
        );
        assert!(
            !authorizer.is_allowed(&supervisor, Action::Reveal, &other_team, &context),
            "supervisor revealed {kind} in another team"
        );
    }
}

#[test]
fn assigned_agent_reveals_delivery_details_only() {
    let authorizer = Authorizer::new().unwrap();
    let agent = fixtures::principal("agent");
    let mine = fixtures::conversation(&["north"], Some("me"));
    for kind in AGENT_KINDS {
        assert!(
            authorizer.is_allowed(&agent, Action::Reveal, &mine, &reveal_of(kind, REASON)),
            "assigned agent could not reveal {kind}"
        );
    }
    for kind in [
        "EMAIL",
        "DOB",
        "IBAN",
        "AADHAAR",
        "NATIONAL_ID",
        "NIK",
        "TRACKING",
        "CARD",
        "OTP",
    ] {
        assert!(
            !authorizer.is_allowed(&agent, Action::Reveal, &mine, &reveal_of(kind, REASON)),
            "assigned agent revealed {kind}"
        );
    }
}

#[test]
fn agent_cannot_reveal_in_the_queue_or_in_colleagues_conversations() {
    let authorizer = Authorizer::new().unwrap();
    let agent = fixtures::principal("agent");
    let queue = fixtures::conversation(&["north"], None);
    let mates = fixtures::conversation(&["north"], Some("mate"));
    for kind in AGENT_KINDS {
        let context = reveal_of(kind, REASON);
        assert!(
            !authorizer.is_allowed(&agent, Action::Reveal, &queue, &context),
            "agent revealed {kind} in the team queue"
        );
        assert!(
            !authorizer.is_allowed(&agent, Action::Reveal, &mates, &context),
            "agent revealed {kind} in a colleague's conversation"
        );
    }
}

#[test]
fn media_reveals_need_a_reason_and_stay_out_of_the_queue() {
    let authorizer = Authorizer::new().unwrap();
    let agent = fixtures::principal("agent");
    let mine = fixtures::conversation(&["north"], Some("me"));
    let queue = fixtures::conversation(&["north"], None);
    let media = reveal_of("MEDIA", REASON);
    assert!(authorizer.is_allowed(&agent, Action::Reveal, &mine, &media));
    assert!(!authorizer.is_allowed(&agent, Action::Reveal, &queue, &media));
    for role in ["agent", "supervisor"] {
        let principal = fixtures::principal(role);
        let unjustified = Context {
            kind: Some("MEDIA".into()),
            reason: Some("  ".into()),
            self_assign: false,
        };
        assert!(
            !authorizer.is_allowed(&principal, Action::Reveal, &mine, &unjustified),
            "{role} revealed media without a reason"
        );
    }
    for role in ["admin", "auditor"] {
        assert!(
            !authorizer.is_allowed(&fixtures::principal(role), Action::Reveal, &mine, &media),
            "{role} revealed media"
        );
    }
}

#[test]
fn no_reason_no_reveal() {
    let authorizer = Authorizer::new().unwrap();
    let mine = fixtures::conversation(&["north"], Some("me"));
    for role in ["agent", "supervisor"] {
        let principal = fixtures::principal(role);
        for reason in [None, Some(""), Some("   "), Some("\t\n")] {
            let context = Context {
                kind: Some("ADDRESS".into()),
                reason: reason.map(str::to_owned),
                self_assign: false,
            };
            assert!(
                !authorizer.is_allowed(&principal, Action::Reveal, &mine, &context),
                "{role} revealed with reason {reason:?}"
            );
        }
        // The same request with a reason goes through, so the reason is what blocked it.
        assert!(authorizer.is_allowed(
            &principal,
            Action::Reveal,
            &mine,
            &reveal_of("ADDRESS", REASON)
        ));
    }
}

#[test]
fn a_reveal_must_name_its_kind() {
    let authorizer = Authorizer::new().unwrap();
    let supervisor = fixtures::principal("supervisor");
    let mine = fixtures::conversation(&["north"], Some("me"));
    for kind in [None, Some(""), Some("  ")] {
        let context = Context {
            kind: kind.map(str::to_owned),
            reason: Some(REASON.into()),
            self_assign: false,
        };
        assert!(
            !authorizer.is_allowed(&supervisor, Action::Reveal, &mine, &context),
            "revealed with kind {kind:?}"
        );
    }
}

#[test]
fn admins_and_auditors_never_reveal() {
    let authorizer = Authorizer::new().unwrap();
    let mine = fixtures::conversation(&["north"], Some("me"));
    for role in ["admin", "auditor"] {
        for kind in AGENT_KINDS {
            assert!(
                !authorizer.is_allowed(
                    &fixtures::principal(role),
                    Action::Reveal,
                    &mine,
                    &reveal_of(kind, REASON)
                ),
                "{role} revealed {kind}"
            );
        }
    }
}
