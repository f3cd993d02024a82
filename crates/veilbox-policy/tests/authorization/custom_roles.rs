//! Custom roles: valid ones take effect, invalid ones are refused with the validator's
//! words, and none can reach beyond its own members or past the default forbids.

use veilbox_policy::{validate_custom_role, Action, Authorizer, CustomRole, BUILTIN_ROLES};

use crate::fixtures;

fn role(name: &str, policy: &str) -> CustomRole {
    CustomRole {
        name: name.into(),
        policy: policy.into(),
    }
}

const DISPATCHER: &str = r#"
// Dispatchers route work: they see and (re)assign their teams' conversations, and do
// nothing else.
permit (
  principal in Veilbox::Role::"dispatcher",
  action in [Veilbox::Action::"view_conversation", Veilbox::Action::"assign"],
  resource is Veilbox::Conversation
)
when { principal.teams.containsAny(resource.teams) };
"#;

/// A careless role that permits every reveal: the default forbids must still hold.
const REVEALER: &str = r#"
permit (
  principal in Veilbox::Role::"revealer",
  action == Veilbox::Action::"reveal",
  resource
);
"#;

fn refusal(role: &CustomRole) -> String {
    let err = validate_custom_role(role).expect_err("should be refused");
    // Whatever validate_custom_role refuses, loading refuses too.
    assert!(Authorizer::with_custom_roles(std::slice::from_ref(role)).is_err());
    err.message
}

#[test]
fn dispatcher_takes_effect() {
    let dispatcher = role("dispatcher", DISPATCHER);
    validate_custom_role(&dispatcher).unwrap();
    let authorizer = Authorizer::with_custom_roles(&[dispatcher]).unwrap();
    assert_eq!(
        authorizer.roles(),
        ["agent", "supervisor", "admin", "auditor", "dispatcher"]
    );

    let me = fixtures::principal("dispatcher");
    let context = veilbox_policy::Context::default();
    for (column, resource) in fixtures::resources() {
        for action in Action::ALL {
            let expected = matches!(action, Action::ViewConversation | Action::Assign)
                && matches!(column, "conv:mine" | "conv:mate" | "queue:own");
            assert_eq!(
                authorizer.is_allowed(&me, action, &resource, &context),
                expected,
                "dispatcher / {} / {column}",
                action.name()
            );
        }
    }
    // A read-only token of the role still cannot assign.
    let queue = fixtures::conversation(&["north"], None);
    assert!(!authorizer.is_allowed(
        &fixtures::read_only("dispatcher"),
        Action::Assign,
        &queue,
        &context
    ));
    assert!(authorizer.is_allowed(
        &fixtures::read_only("dispatcher"),
        Action::ViewConversation,
        &queue,
        &context
    ));
}

#[test]
fn custom_roles_change_nothing_for_built_in_roles() {
    let authorizer = Authorizer::with_custom_roles(&[role("dispatcher", DISPATCHER)]).unwrap();
    let agent = fixtures::principal("agent");
    let mates = fixtures::conversation(&["north"], Some("mate"));
    let context = veilbox_policy::Context::default();
    assert!(!authorizer.is_allowed(&agent, Action::Assign, &mates, &context));
    assert!(!authorizer.is_allowed(&agent, Action::ViewConversation, &mates, &context));
}

#[test]
fn default_forbids_bind_custom_roles() {
    let authorizer = Authorizer::with_custom_roles(&[role("revealer", REVEALER)]).unwrap();
    let me = fixtures::principal("revealer");
    let anywhere = fixtures::conversation(&["south"], Some("stranger"));
    let allowed = fixtures::reveal_of("PHONE", "customer asked");
    assert!(authorizer.is_allowed(&me, Action::Reveal, &anywhere, &allowed));
    for kind in ["CARD", "CVV", "OTP", "PASSWORD", "SECRET"] {
        let context = fixtures::reveal_of(kind, "customer asked");
        assert!(
            !authorizer.is_allowed(&me, Action::Reveal, &anywhere, &context),
            "{kind}"
        );
    }
    assert!(!authorizer.is_allowed(
        &me,
        Action::Reveal,
        &anywhere,
        &fixtures::reveal_of("PHONE", "")
    ));
    assert!(!authorizer.is_allowed(
        &fixtures::read_only("revealer"),
        Action::Reveal,
        &anywhere,
        &allowed
    ));
}

#[test]
fn unloaded_role_gets_nothing() {
    // Valid, but only validated, never loaded.
    validate_custom_role(&role("dispatcher", DISPATCHER)).unwrap();
    let authorizer = Authorizer::new().unwrap();
    let wrong = crate::matrix::mismatches(&authorizer, "dispatcher", NOTHING);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let loaded = Authorizer::with_custom_roles(&[role("dispatcher", DISPATCHER)]).unwrap();
    let wrong = crate::matrix::mismatches(&loaded, "night-shift", NOTHING);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

const NOTHING: &str = "
                  conv:mine conv:mate queue:own queue:other conv:other cust:mine cust:team cust:other system
view_conversation     .         .         .          .          .          .         .          .        .
reply                 .         .         .          .          .          .         .          .        .
assign                .         .         .          .          .          .         .          .        .
resolve               .         .         .          .          .          .         .          .        .
reveal                .         .         .          .          .          .         .          .        .
view_customer         .         .         .          .          .          .         .          .        .
edit_customer         .         .         .          .          .          .         .          .        .
export                .         .         .          .          .          .         .          .        .
erase_customer        .         .         .          .          .          .         .          .        .
manage_users          .         .         .          .          .          .         .          .        .
manage_policies       .         .         .          .          .          .         .          .        .
manage_tokens         .         .         .          .          .          .         .          .        .
configure             .         .         .          .          .          .         .          .        .
view_audit_log        .         .         .          .          .          .         .          .        .
view_analytics        .         .         .          .          .          .         .          .        .
override_block        .         .         .          .          .          .         .          .        .
manage_quick_replies  .         .         .          .          .          .         .          .        .
";

#[test]
fn syntax_errors_are_refused_with_the_parser_message() {
    let message = refusal(&role(
        "dispatcher",
        "permit (principal in Veilbox::Role::\"dispatcher\", action, resource",
    ));
    assert!(message.contains("does not parse"), "{message}");
    // The parser's own words, located in the admin's text.
    assert!(
        message.contains("line 1, column 67: unexpected end of input"),
        "{message}"
    );
}

#[test]
fn unknown_attributes_are_refused_with_the_validator_message() {
    let message = refusal(&role(
        "dispatcher",
        &DISPATCHER.replace("resource.teams", "resource.colour"),
    ));
    assert!(
        message.contains("attribute `colour` on entity type `Veilbox::Conversation` not found"),
        "{message}"
    );
    assert!(message.contains("line 9"), "{message}");
}

#[test]
fn roles_cannot_speak_for_other_roles() {
    let scopes = [
        r#"principal in Veilbox::Role::"admin""#,
        "principal",
        r#"principal == Veilbox::User::"me""#,
        "principal is Veilbox::User",
        r#"principal is Veilbox::User in Veilbox::Role::"agent""#,
    ];
    for scope in scopes {
        let text = DISPATCHER.replace(r#"principal in Veilbox::Role::"dispatcher""#, scope);
        let message = refusal(&role("dispatcher", &text));
        assert!(message.contains("must be scoped"), "{scope}: {message}");
    }
}

#[test]
fn bad_and_builtin_names_are_refused() {
    for name in [
        "",
        "d",
        "Dispatcher",
        "9lives",
        "night shift",
        "a".repeat(33).as_str(),
    ] {
        let text = DISPATCHER.replace("\"dispatcher\"", &format!("{name:?}"));
        let message = refusal(&role(name, &text));
        assert!(message.contains("role name"), "{name:?}: {message}");
    }
    for name in BUILTIN_ROLES {
        let text = DISPATCHER.replace("\"dispatcher\"", &format!("{name:?}"));
        let message = refusal(&role(name, &text));
        assert!(message.contains("built-in"), "{name}: {message}");
    }
}

#[test]
fn unknown_actions_and_type_errors_are_refused() {
    let unknown_action = DISPATCHER.replace("\"assign\"", "\"delete_everything\"");
    let message = refusal(&role("dispatcher", &unknown_action));
    assert!(message.contains("delete_everything"), "{message}");

    let type_error = DISPATCHER.replace(
        "principal.teams.containsAny(resource.teams)",
        "context.reason > 3",
    );
    let message = refusal(&role("dispatcher", &type_error));
    assert!(
        message.contains("expected Long but saw String"),
        "{message}"
    );
}

#[test]
fn every_policy_of_a_role_is_checked() {
    let text = format!(
        "{DISPATCHER}\npermit (principal, action == Veilbox::Action::\"configure\", resource);"
    );
    let message = refusal(&role("dispatcher", &text));
    assert!(
        message.contains("policy `policy1` must be scoped"),
        "{message}"
    );
    assert!(!message.contains("policy `policy0`"), "{message}");
}

#[test]
fn typed_scope_on_own_role_is_accepted() {
    let text = DISPATCHER.replace(
        r#"principal in Veilbox::Role::"dispatcher""#,
        r#"principal is Veilbox::User in Veilbox::Role::"dispatcher""#,
    );
    validate_custom_role(&role("dispatcher", &text)).unwrap();
}

#[test]
fn templates_and_empty_roles_are_refused() {
    let template = DISPATCHER.replace(
        r#"principal in Veilbox::Role::"dispatcher""#,
        "principal in ?principal",
    );
    let message = refusal(&role("dispatcher", &template));
    assert!(message.contains("templates"), "{message}");
    for empty in ["", "  \n", "// nothing yet\n"] {
        let message = refusal(&role("dispatcher", empty));
        assert!(message.contains("no policies"), "{message}");
    }
}

#[test]
fn several_roles_load_together_and_names_stay_unique() {
    let both = [role("dispatcher", DISPATCHER), role("revealer", REVEALER)];
    let authorizer = Authorizer::with_custom_roles(&both).unwrap();
    assert_eq!(
        authorizer.roles(),
        [
            "agent",
            "supervisor",
            "admin",
            "auditor",
            "dispatcher",
            "revealer"
        ]
    );
    let twice = [
        role("dispatcher", DISPATCHER),
        role("dispatcher", DISPATCHER),
    ];
    let err = Authorizer::with_custom_roles(&twice).unwrap_err();
    assert!(err.message.contains("more than once"), "{}", err.message);
    // One bad role spoils the load: the server keeps its previous authorizer.
    let one_bad = [role("dispatcher", DISPATCHER), role("revealer", "permit (")];
    assert!(Authorizer::with_custom_roles(&one_bad).is_err());
}
