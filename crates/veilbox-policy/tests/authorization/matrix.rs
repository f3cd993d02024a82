//! The whole role × action × resource matrix, written out by hand. `Y` is allowed, `.`
//! denied. The context is [`fixtures::full_context`] (kind PHONE, a reason, self-assign),
//! so every cell shows how far the role's grants reach; reveals, reasons and read-only
//! tokens have their own tests.

use veilbox_policy::{Action, Authorizer, BUILTIN_ROLES};

use crate::fixtures::{self, COLUMNS};

const AGENT: &str = "
                  conv:mine conv:mate queue:own queue:other conv:other cust:mine cust:team cust:other system
view_conversation     Y         .         Y          .          .          .         .          .        .
reply                 Y         .         .          .          .          .         .          .        .
assign                .         .         Y          .          .          .         .          .        .
resolve               Y         .         .          .          .          .         .          .        .
reveal                Y         .         .          .          .          .         .          .        .
view_customer         .         .         .          .          .          Y         .          .        .
edit_customer         .         .         .          .          .          Y         .          .        .
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

const SUPERVISOR: &str = "
                  conv:mine conv:mate queue:own queue:other conv:other cust:mine cust:team cust:other system
view_conversation     Y         Y         Y          .          .          .         .          .        .
reply                 Y         Y         Y          .          .          .         .          .        .
assign                Y         Y         Y          .          .          .         .          .        .
resolve               Y         Y         Y          .          .          .         .          .        .
reveal                Y         Y         Y          .          .          .         .          .        .
view_customer         .         .         .          .          .          Y         Y          .        .
edit_customer         .         .         .          .          .          Y         Y          .        .
export                .         .         .          .          .          .         .          .        Y
erase_customer        .         .         .          .          .          .         .          .        .
manage_users          .         .         .          .          .          .         .          .        .
manage_policies       .         .         .          .          .          .         .          .        .
manage_tokens         .         .         .          .          .          .         .          .        Y
configure             .         .         .          .          .          .         .          .        .
view_audit_log        .         .         .          .          .          .         .          .        .
view_analytics        .         .         .          .          .          .         .          .        Y
override_block        Y         Y         Y          .          .          .         .          .        .
manage_quick_replies  .         .         .          .          .          .         .          .        Y
";

const ADMIN: &str = "
                  conv:mine conv:mate queue:own queue:other conv:other cust:mine cust:team cust:other system
view_conversation     .         .         .          .          .          .         .          .        .
reply                 .         .         .          .          .          .         .          .        .
assign                .         .         .          .          .          .         .          .        .
resolve               .         .         .          .          .          .         .          .        .
reveal                .         .         .          .          .          .         .          .        .
view_customer         .         .         .          .          .          .         .          .        .
edit_customer         .         .         .          .          .          .         .          .        .
export                .         .         .          .          .          .         .          .        .
erase_customer        .         .         .          .          .          Y         Y          Y        .
manage_users          .         .         .          .          .          .         .          .        Y
manage_policies       .         .         .          .          .          .         .          .        Y
manage_tokens         .         .         .          .          .          .         .          .        Y
configure             .         .         .          .          .          .         .          .        Y
view_audit_log        .         .         .          .          .          .         .          .        .
view_analytics        .         .         .          .          .          .         .          .        Y
override_block        .         .         .          .          .          .         .          .        .
manage_quick_replies  .         .         .          .          .          .         .          .        Y
";

const AUDITOR: &str = "
                  conv:mine conv:mate queue:own queue:other conv:other cust:mine cust:team cust:other system
view_conversation     .         .         .          .          .          .         .          .        .
reply                 .         .         .          .          .          .         .          .        .
assign                .         .         .          .          .          .         .          .        .
resolve               .         .         .          .          .          .         .          .        .
reveal                .         .         .          .          .          .         .          .        .
view_customer         .         .         .          .          .          .         .          .        .
edit_customer         .         .         .          .          .          .         .          .        .
export                .         .         .          .          .          .         .          .        Y
erase_customer        .         .         .          .          .          .         .          .        .
manage_users          .         .         .          .          .          .         .          .        .
manage_policies       .         .         .          .          .          .         .          .        .
manage_tokens         .         .         .          .          .          .         .          .        .
configure             .         .         .          .          .          .         .          .        .
view_audit_log        .         .         .          .          .          .         .          .        Y
view_analytics        .         .         .          .          .          .         .          .        Y
override_block        .         .         .          .          .          .         .          .        .
manage_quick_replies  .         .         .          .          .          .         .          .        .
";

/// A role with no policies: neither built in nor loaded.
const NOBODY: &str = "
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

/// Parses one table into `(action, [allowed per column])`, insisting that it names every
/// column in order and every action exactly once, so a table cannot silently skip a cell.
pub fn parse_table(table: &str) -> Vec<(Action, [bool; 9])> {
    let mut lines = table.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, COLUMNS, "table header");
    let rows: Vec<(Action, [bool; 9])> = lines
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cells.len(), 10, "row needs an action and 9 cells: {line}");
            let action = Action::ALL
                .into_iter()
                .find(|a| a.name() == cells[0])
                .unwrap_or_else(|| panic!("unknown action in table: {}", cells[0]));
            let allowed = std::array::from_fn(|i| match cells[i + 1] {
                "Y" => true,
                "." => false,
                other => panic!("cell must be Y or '.', got {other:?} in: {line}"),
            });
            (action, allowed)
        })
        .collect();
    let listed: Vec<Action> = rows.iter().map(|(a, _)| *a).collect();
    assert_eq!(
        listed,
        Action::ALL,
        "table rows must list every action once, in order"
    );
    rows
}

/// Every cell that disagrees with the table, as `role / action / column: expected .., got ..`.
pub fn mismatches(authorizer: &Authorizer, role: &str, table: &str) -> Vec<String> {
    let principal = fixtures::principal(role);
    let context = fixtures::full_context();
    let resources = fixtures::resources();
    let mut wrong = Vec::new();
    for (action, expected) in parse_table(table) {
        for ((column, resource), expected) in resources.iter().zip(expected) {
            let got = authorizer.is_allowed(&principal, action, resource, &context);
            if got != expected {
                wrong.push(format!(
                    "{role} / {} / {column}: expected {}, got {}",
                    action.name(),
                    verdict(expected),
                    verdict(got)
                ));
            }
        }
    }
    wrong
}

fn verdict(allowed: bool) -> &'static str {
    if allowed {
        "allow"
    } else {
        "deny"
    }
}

#[test]
fn every_builtin_role_matches_its_table() {
    let authorizer = Authorizer::new().unwrap();
    let tables = [
        ("agent", AGENT),
        ("supervisor", SUPERVISOR),
        ("admin", ADMIN),
        ("auditor", AUDITOR),
    ];
    assert_eq!(
        tables.map(|(role, _)| role),
        BUILTIN_ROLES,
        "one table per built-in role"
    );
    let wrong: Vec<String> = tables
        .iter()
        .flat_map(|(role, table)| mismatches(&authorizer, role, table))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} cells differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn unknown_roles_get_nothing() {
    let authorizer = Authorizer::new().unwrap();
    // "dispatcher" is a custom role elsewhere, but not loaded here; the others are typos,
    // case variants, and names that would break naive string building.
    for role in ["dispatcher", "Agent", "agent ", "", "root", r#"admin"::"x"#] {
        let wrong = mismatches(&authorizer, role, NOBODY);
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}

#[test]
fn agent_takes_from_the_queue_only_for_themselves() {
    let authorizer = Authorizer::new().unwrap();
    let agent = fixtures::principal("agent");
    let supervisor = fixtures::principal("supervisor");
    let queue = fixtures::conversation(&["north"], None);
    let hand_over = veilbox_policy::Context::default();
    assert!(!authorizer.is_allowed(&agent, Action::Assign, &queue, &hand_over));
    assert!(authorizer.is_allowed(&supervisor, Action::Assign, &queue, &hand_over));
}

#[test]
fn a_conversation_served_by_several_teams_is_in_each_queue() {
    let authorizer = Authorizer::new().unwrap();
    let agent = fixtures::principal("agent");
    let shared = fixtures::conversation(&["south", "north"], None);
    let teamless = fixtures::conversation(&[], None);
    let context = fixtures::full_context();
    assert!(authorizer.is_allowed(&agent, Action::ViewConversation, &shared, &context));
    assert!(authorizer.is_allowed(&agent, Action::Assign, &shared, &context));
    assert!(!authorizer.is_allowed(&agent, Action::ViewConversation, &teamless, &context));
    assert!(!authorizer.is_allowed(&agent, Action::Assign, &teamless, &context));
}

#[test]
fn erasure_needs_a_reason() {
    let authorizer = Authorizer::new().unwrap();
    let admin = fixtures::principal("admin");
    let customer = fixtures::customer(&["north"], &["mate"]);
    for reason in [None, Some(""), Some("  \n")] {
        let context = veilbox_policy::Context {
            reason: reason.map(str::to_owned),
            ..Default::default()
        };
        assert!(
            !authorizer.is_allowed(&admin, Action::EraseCustomer, &customer, &context),
            "erasure allowed with reason {reason:?}"
        );
    }
}

#[test]
fn authorizer_is_shareable() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Authorizer>();
    let authorizer = Authorizer::new().unwrap();
    assert_eq!(authorizer.roles(), BUILTIN_ROLES);
    assert_eq!(authorizer.clone().roles(), BUILTIN_ROLES);
}
