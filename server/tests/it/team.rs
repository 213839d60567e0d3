//! The team: invitations, roles, removals, the last owner.

use app::model::{Role, Tier};
use futures::future::join_all;
use reqwest::StatusCode;

use crate::common::{TestApp, PASSWORD};
use crate::on_both_backends;
use crate::signup::{get, post, register_agent, STRONG};

on_both_backends!(
    TestApp =>
    an_invited_viewer_joins_from_the_mail_and_only_looks,
    admins_invite_viewers_only_and_viewers_nobody,
    the_last_owner_can_be_neither_removed_nor_demoted,
    owners_demoting_each_other_at_once_leave_an_owner,
    a_removed_member_is_signed_out_on_the_next_request,
    invitations_expire_are_single_use_and_can_be_revoked,
    everyone_sees_the_team_only_owners_change_it,
    an_invitation_raced_by_many_requests_admits_one,
    someone_with_an_account_elsewhere_joins_with_it_and_switches,
    a_copy_of_the_database_opens_no_mailed_link,
    invitations_are_limited_per_member_and_per_organisation,
    an_admin_cannot_replace_an_owner_s_pending_invitation,
    invitations_die_with_their_sender_s_right_to_send_them,
    a_person_s_password_is_kept_once_by_the_schema,
);

async fn member_id(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT id FROM members WHERE email = $1")
        .bind(email)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn owners(app: &TestApp, tenant: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE tenant_id = $1 AND role = 'owner'")
        .bind(tenant)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

pub async fn invite(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    role: &str,
) -> (StatusCode, String) {
    post(
        app,
        client,
        "/settings/team/invite",
        &[("email", email), ("role", role)],
    )
    .await
}

/// Invites `email` as `role` and returns the invitation's token, from the
/// first mail to that address.
async fn invitation(app: &TestApp, owner: &reqwest::Client, email: &str, role: &str) -> String {
    let (status, page) = invite(app, owner, email, role).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    app.mail.nth(email, 1).await.token("/invitation")
}

async fn an_invited_viewer_joins_from_the_mail_and_only_looks(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    let (status, page) = invite(&app, &owner, "Vic@Acme.example", "viewer").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Invitation sent to vic@acme.example"));
    assert!(
        page.contains("data-testid=\"invitation-row\""),
        "listed as pending"
    );
    let mail = app.mail.nth("vic@acme.example", 1).await;
    // The organisation's name (a sign-up's free choice) is never in a
    // subject; the body quotes it.
    assert_eq!(
        mail.subject(),
        "Invitation to join an organisation on Agent ID Portal"
    );
    assert!(mail.text.contains("\u{201c}Acme\u{201d}"), "{}", mail.text);
    assert!(mail.text.contains("olga@acme.example invited you"));
    let token = mail.token("/invitation");

    let vic = app.client();
    let (status, page) = get(&app, &vic, &format!("/invitation?token={token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Acme") && page.contains("viewer") && page.contains("vic@acme.example"));
    let (status, page) = post(
        &app,
        &vic,
        "/invitation",
        &[("token", &token), ("password", "short")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("at least 12"),
        "a weak password is refused, the link kept"
    );
    let (status, to) = post(
        &app,
        &vic,
        "/invitation",
        &[("token", &token), ("password", STRONG)],
    )
    .await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/analytics"));
    let (status, _) = get(&app, &vic, "/agents").await;
    assert_eq!(status, StatusCode::OK, "signed in as the new member");
    assert_eq!(
        register_agent(&app, &vic).await,
        StatusCode::FORBIDDEN,
        "viewers only look"
    );
    let (_, team) = get(&app, &owner, "/settings/team").await;
    assert!(team.contains("vic@acme.example") && !team.contains("invitation-row"));
}

async fn admins_invite_viewers_only_and_viewers_nobody(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let admin = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    for role in ["admin", "owner"] {
        let (status, page) = invite(&app, &admin, "x@acme.example", role).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}");
        assert!(page.contains("Admins can invite viewers only"));
    }
    assert_eq!(
        invite(&app, &admin, "x@acme.example", "viewer").await.0,
        StatusCode::OK
    );
    let viewer = app
        .signed_in(&tenant, "val@acme.example", Role::Viewer)
        .await;
    assert_eq!(
        invite(&app, &viewer, "y@acme.example", "viewer").await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _) = invite(&app, &admin, "x@acme.example", "superuser").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, page) = invite(&app, &admin, "val@acme.example", "viewer").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("already a member"));
    assert_eq!(app.mail.to("y@acme.example").len(), 0);
}

async fn the_last_owner_can_be_neither_removed_nor_demoted(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    let me = member_id(&app, "olga@acme.example").await;
    // The page offers neither: it says why.
    let (_, page) = get(&app, &owner, "/settings/team").await;
    assert!(page.contains("data-testid=\"sole-owner\""));
    assert!(!page.contains(&format!("/members/{me}/remove")));
    assert!(!page.contains(&format!("/members/{me}/role")));
    // Posted anyway, both are refused.
    let (status, page) = post(
        &app,
        &owner,
        &format!("/settings/team/members/{me}/role"),
        &[("role", "admin")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("The last owner cannot be demoted"));
    let (status, page) = post(
        &app,
        &owner,
        &format!("/settings/team/members/{me}/remove"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("The last owner cannot be removed"));
    // With a second owner, the first may step down.
    app.member(&tenant, "otto@acme.example", Role::Owner).await;
    let (_, page) = get(&app, &owner, "/settings/team").await;
    assert!(!page.contains("data-testid=\"sole-owner\""));
    assert!(page.contains(&format!("/members/{me}/remove")));
    let (status, _) = post(
        &app,
        &owner,
        &format!("/settings/team/members/{me}/role"),
        &[("role", "admin")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(owners(&app, &tenant).await, 1);
    // Now an admin: team changes are an owner's.
    let otto = member_id(&app, "otto@acme.example").await;
    let (status, _) = post(
        &app,
        &owner,
        &format!("/settings/team/members/{otto}/remove"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn owners_demoting_each_other_at_once_leave_an_owner(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let a = app.signed_in(&tenant, "a@acme.example", Role::Owner).await;
    let b = app.signed_in(&tenant, "b@acme.example", Role::Owner).await;
    let (ida, idb) = (
        member_id(&app, "a@acme.example").await,
        member_id(&app, "b@acme.example").await,
    );
    for _ in 0..3 {
        let url_a = format!("/settings/team/members/{idb}/role");
        let url_b = format!("/settings/team/members/{ida}/role");
        let demotions = [(a.clone(), url_a), (b.clone(), url_b)].map(|(client, path)| {
            let app = &app;
            async move { post(app, &client, &path, &[("role", "viewer")]).await.0 }
        });
        join_all(demotions).await;
        assert_eq!(owners(&app, &tenant).await, 1, "one of the two stays owner");
        // Make both owners again for the next round (as the operator).
        for id in [&ida, &idb] {
            sqlx::query("UPDATE members SET role = 'owner' WHERE id = $1")
                .bind(id)
                .execute(&app.db.pool)
                .await
                .unwrap();
        }
    }
}

async fn a_removed_member_is_signed_out_on_the_next_request(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    let viewer = app
        .signed_in(&tenant, "val@acme.example", Role::Viewer)
        .await;
    let admin = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    assert_eq!(get(&app, &viewer, "/analytics").await.0, StatusCode::OK);
    let val = member_id(&app, "val@acme.example").await;
    let (status, page) = post(
        &app,
        &owner,
        &format!("/settings/team/members/{val}/remove"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Member removed"));
    let (status, to) = get(&app, &viewer, "/analytics").await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/login?next=%2Fanalytics")
    );
    // A demoted admin loses the right on the next request.
    let ada = member_id(&app, "ada@acme.example").await;
    post(
        &app,
        &owner,
        &format!("/settings/team/members/{ada}/role"),
        &[("role", "viewer")],
    )
    .await;
    assert_eq!(register_agent(&app, &admin).await, StatusCode::FORBIDDEN);
    let res = app
        .sign_in(&app.client(), "val@acme.example", PASSWORD, "/analytics")
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "removed: no account left"
    );
}

async fn invitations_expire_are_single_use_and_can_be_revoked(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    let late = invitation(&app, &owner, "late@acme.example", "viewer").await;
    let gone = invitation(&app, &owner, "gone@acme.example", "admin").await;
    let id: String =
        sqlx::query_scalar("SELECT token_hash FROM email_links WHERE email = 'gone@acme.example'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let (status, _) = post(
        &app,
        &owner,
        &format!("/settings/team/invitations/{id}/revoke"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = post(
        &app,
        &app.client(),
        "/invitation",
        &[("token", &gone), ("password", STRONG)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "revoked");
    assert!(page.contains("expired, was revoked or was already used"));
    let (status, page) = get(&app, &app.client(), &format!("/invitation?token={gone}")).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a dead link, said with its status"
    );
    assert!(
        page.contains("expired, was revoked"),
        "the page says so before any typing"
    );
    app.clock.advance(7 * 86_400 + 1);
    let (status, _) = post(
        &app,
        &app.client(),
        "/invitation",
        &[("token", &late), ("password", STRONG)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "expired after 7 days");
    // Single use: a fresh one works once (a week on, the owner signs in again).
    let owner = app.signed_in_existing("olga@acme.example").await;
    let token = invitation(&app, &owner, "new@acme.example", "viewer").await;
    let form = [("token", token.as_str()), ("password", STRONG)];
    assert_eq!(
        post(&app, &app.client(), "/invitation", &form).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        post(&app, &app.client(), "/invitation", &form).await.0,
        StatusCode::BAD_REQUEST
    );
}

async fn everyone_sees_the_team_only_owners_change_it(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    app.member(&tenant, "olga@acme.example", Role::Owner).await;
    let viewer = app
        .signed_in(&tenant, "val@acme.example", Role::Viewer)
        .await;
    let (status, page) = get(&app, &viewer, "/settings/team").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("olga@acme.example") && page.contains("val@acme.example"));
    assert!(!page.contains("/remove\""), "no actions for a viewer");
    assert!(!page.contains("Send invitation"));
    let olga = member_id(&app, "olga@acme.example").await;
    let (status, _) = post(
        &app,
        &viewer,
        &format!("/settings/team/members/{olga}/remove"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Another tenant's member is not found, not removable.
    let other = app.tenant("Globex", Tier::Pro).await;
    app.member(&other, "gus@globex.example", Role::Viewer).await;
    let owner = app
        .signed_in(&tenant, "otto@acme.example", Role::Owner)
        .await;
    let gus = member_id(&app, "gus@globex.example").await;
    let (status, _) = post(
        &app,
        &owner,
        &format!("/settings/team/members/{gus}/remove"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        post(&app, &owner, "/settings/team/members/nonsense/remove", &[])
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

async fn an_invitation_raced_by_many_requests_admits_one(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    let token = invitation(&app, &owner, "vic@acme.example", "admin").await;
    let attempts = (0..8).map(|_| {
        let (app, token) = (&app, token.clone());
        async move {
            let form = [("token", token.as_str()), ("password", STRONG)];
            post(app, &app.client(), "/invitation", &form).await.0
        }
    });
    let statuses = join_all(attempts).await;
    let joined = statuses
        .iter()
        .filter(|s| **s == StatusCode::SEE_OTHER)
        .count();
    assert_eq!(joined, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SEE_OTHER || s.is_client_error()),
        "{statuses:?}"
    );
    let members: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE email = 'vic@acme.example'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(members, 1);
}

async fn tenant_shown(app: &TestApp, client: &reqwest::Client) -> String {
    let (_, page) = get(app, client, "/analytics").await;
    let at = page
        .find("data-testid=\"tenant-name\"")
        .unwrap_or_else(|| panic!("no header in {page}"));
    let text = &page[at..];
    let text = &text[text.find('>').unwrap() + 1..];
    text.split('<').next().unwrap().to_owned()
}

async fn someone_with_an_account_elsewhere_joins_with_it_and_switches(app: TestApp) {
    let acme = app.tenant("Acme", Tier::Pro).await;
    let globex = app.tenant("Globex", Tier::Pro).await;
    let owner = app.signed_in(&acme, "olga@acme.example", Role::Owner).await;
    app.member(&globex, "gus@globex.example", Role::Admin).await;
    let token = invitation(&app, &owner, "gus@globex.example", "viewer").await;

    let gus = app.client();
    let (_, page) = get(&app, &gus, &format!("/invitation?token={token}")).await;
    assert!(page.contains("already has an account") && page.contains("Your password"));
    let wrong = [("token", token.as_str()), ("password", STRONG)];
    let (status, page) = post(&app, &gus, "/invitation", &wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("not the password of your account"));
    let right = [("token", token.as_str()), ("password", PASSWORD)];
    let (status, to) = post(&app, &gus, "/invitation", &right).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/analytics"));
    assert_eq!(tenant_shown(&app, &gus).await, "Acme");
    assert_eq!(
        register_agent(&app, &gus).await,
        StatusCode::FORBIDDEN,
        "a viewer here"
    );

    let (_, account) = get(&app, &gus, "/settings/account").await;
    assert_eq!(account.matches("data-testid=\"organisation\"").count(), 2);
    let in_globex: String =
        sqlx::query_scalar("SELECT id FROM members WHERE email = $1 AND tenant_id = $2")
            .bind("gus@globex.example")
            .bind(&globex)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let (status, _) = post(
        &app,
        &gus,
        "/settings/account/switch",
        &[("member", &in_globex)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(tenant_shown(&app, &gus).await, "Globex");
    assert_eq!(
        register_agent(&app, &gus).await,
        StatusCode::CREATED,
        "an admin there"
    );
    let olga = member_id(&app, "olga@acme.example").await;
    let (status, _) = post(&app, &gus, "/settings/account/switch", &[("member", &olga)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "someone else's membership");

    // One person, one password: a change holds in both; sign-in lands on
    // the organisation used last.
    let change = [
        ("current_password", PASSWORD),
        ("password", "amber crane polished lantern"),
    ];
    assert_eq!(
        post(&app, &gus, "/settings/account/password", &change)
            .await
            .0,
        StatusCode::OK
    );
    let later = app.client();
    let res = app
        .sign_in(
            &later,
            "gus@globex.example",
            "amber crane polished lantern",
            "/",
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(tenant_shown(&app, &later).await, "Globex");
    let trail: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'member.password_changed' AND actor = $1",
    )
    .bind("gus@globex.example")
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(trail, 2, "in both organisations' trails");

    // Removed from Acme, still in Globex.
    let in_acme: String =
        sqlx::query_scalar("SELECT id FROM members WHERE email = $1 AND tenant_id = $2")
            .bind("gus@globex.example")
            .bind(&acme)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let (status, _) = post(
        &app,
        &owner,
        &format!("/settings/team/members/{in_acme}/remove"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let res = app
        .sign_in(
            &app.client(),
            "gus@globex.example",
            "amber crane polished lantern",
            "/",
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

async fn a_copy_of_the_database_opens_no_mailed_link(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    let token = invitation(&app, &owner, "vic@acme.example", "viewer").await;
    assert!(token.len() >= 43, "32 random bytes, base64: {token}");
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM email_links")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(&token), "only a hash is kept");
    // Once sent, the outbox keeps no body with the link either.
    let mut bodies: Vec<String> = Vec::new();
    for _ in 0..50 {
        bodies = sqlx::query_scalar(
            "SELECT text_body || html_body FROM mail_outbox WHERE recipient = 'vic@acme.example'",
        )
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
        if bodies.iter().all(|b| b.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(bodies.iter().all(|b| !b.contains(&token)), "{bodies:?}");
    // What the database holds does not open the invitation.
    let form = [("token", stored[0].as_str()), ("password", STRONG)];
    let (status, _) = post(&app, &app.client(), "/invitation", &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A stranger's fresh organisation cannot send the portal's mail in bulk:
/// a few invitations, then 429 with nothing sent; an older organisation
/// gets more, still bounded per member.
async fn invitations_are_limited_per_member_and_per_organisation(app: TestApp) {
    use app::domain::team::{INVITES_PER_MEMBER, INVITES_PER_NEW_TENANT, NEW_TENANT_SECS};
    let fresh = app.tenant("Fresh", Tier::Free).await;
    let owner = app
        .signed_in(&fresh, "olga@fresh.example", Role::Owner)
        .await;
    let mut statuses = Vec::new();
    for i in 0..INVITES_PER_NEW_TENANT + 3 {
        let (status, _) = invite(&app, &owner, &format!("v{i}@elsewhere.example"), "viewer").await;
        statuses.push(status);
    }
    let sent = statuses.iter().filter(|s| **s == StatusCode::OK).count() as i64;
    assert_eq!(sent, INVITES_PER_NEW_TENANT, "{statuses:?}");
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
    let mailed = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM mail_outbox WHERE recipient LIKE '%@elsewhere.example'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        mailed, INVITES_PER_NEW_TENANT,
        "refused invitations send nothing"
    );

    // A day later (a new window, no longer new): the member's own budget.
    app.clock.advance(NEW_TENANT_SECS + 1);
    let owner = app.signed_in_existing("olga@fresh.example").await;
    let mut sent = 0;
    for i in 0..INVITES_PER_MEMBER + 3 {
        let (status, _) = invite(&app, &owner, &format!("w{i}@elsewhere.example"), "viewer").await;
        if status == StatusCode::OK {
            sent += 1;
        } else {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        }
    }
    assert_eq!(sent, INVITES_PER_MEMBER);
}

/// Inviting an address again replaces its pending invitation: an admin
/// (who may invite viewers) must not be able to cancel an owner's
/// invitation of an owner that way.
async fn an_admin_cannot_replace_an_owner_s_pending_invitation(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    let admin = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    let token = invitation(&app, &owner, "new.owner@acme.example", "owner").await;
    let (status, page) = invite(&app, &admin, "new.owner@acme.example", "viewer").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("only an owner can replace"), "{page}");
    // The owner's invitation still opens, as an owner.
    let (status, page) = get(&app, &app.client(), &format!("/invitation?token={token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<strong>owner</strong>"), "{page}");
}

/// An invitation lives no longer than its sender's right to send it:
/// removing the sender ends all of theirs, demoting an admin to viewer
/// ends theirs too.
async fn invitations_die_with_their_sender_s_right_to_send_them(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    let admin = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    let other = app
        .signed_in(&tenant, "otto@acme.example", Role::Owner)
        .await;
    let from_ada = invitation(&app, &admin, "v1@acme.example", "viewer").await;
    let from_otto = invitation(&app, &other, "v2@acme.example", "admin").await;
    let ada = member_id(&app, "ada@acme.example").await;
    let (status, _) = post(
        &app,
        &owner,
        &format!("/settings/team/members/{ada}/role"),
        &[("role", "viewer")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let otto = member_id(&app, "otto@acme.example").await;
    let (status, _) = post(
        &app,
        &owner,
        &format!("/settings/team/members/{otto}/remove"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for token in [from_ada, from_otto] {
        let (status, _) = post(
            &app,
            &app.client(),
            "/invitation",
            &[("token", token.as_str()), ("password", STRONG)],
        )
        .await;
        assert!(
            status.is_client_error(),
            "{status}: the invitation still works"
        );
    }
    let (_, page) = get(&app, &owner, "/settings/team").await;
    assert!(!page.contains("v1@acme.example") && !page.contains("v2@acme.example"));
    let revoked: Vec<String> = sqlx::query_scalar(
        "SELECT object FROM audit_log WHERE action = 'invitation.revoked' ORDER BY object",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        revoked,
        ["v1@acme.example", "v2@acme.example"],
        "in the trail"
    );
}

/// A person in two organisations has one password row; the database
/// refuses a member with no person behind it, and has nowhere to keep a
/// second password. Once in no organisation, the password is forgotten.
async fn a_person_s_password_is_kept_once_by_the_schema(app: TestApp) {
    let acme = app.tenant("Acme", Tier::Pro).await;
    let globex = app.tenant("Globex", Tier::Pro).await;
    let owner = app.signed_in(&acme, "olga@acme.example", Role::Owner).await;
    app.member(&globex, "gus@globex.example", Role::Admin).await;
    let token = invitation(&app, &owner, "gus@globex.example", "viewer").await;
    let right = [("token", token.as_str()), ("password", PASSWORD)];
    let (status, _) = post(&app, &app.client(), "/invitation", &right).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let memberships: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE email = $1")
        .bind("gus@globex.example")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let passwords: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM people WHERE email = $1")
        .bind("gus@globex.example")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!((memberships, passwords), (2, 1));
    let copy = sqlx::query("SELECT password_hash FROM members")
        .fetch_all(&app.db.pool)
        .await;
    assert!(copy.is_err(), "members keep no password of their own");
    let nobody = sqlx::query(
        "INSERT INTO members (id, tenant_id, email, role, created_at) \
         VALUES ('m-x', $1, 'nobody@acme.example', 'viewer', 0)",
    )
    .bind(&acme)
    .execute(&app.db.pool)
    .await;
    assert!(nobody.is_err(), "a member needs a person: {nobody:?}");

    // Removed from both: the password is forgotten, and a new invitation
    // asks for a new one.
    for tenant in [&acme, &globex] {
        sqlx::query("DELETE FROM members WHERE email = $1 AND tenant_id = $2")
            .bind("gus@globex.example")
            .bind(tenant)
            .execute(&app.db.pool)
            .await
            .unwrap();
    }
    let forgotten = app::domain::members::forget_people_without_membership(&app.db)
        .await
        .unwrap();
    assert_eq!(forgotten, 1);
    let token = invitation(&app, &owner, "gus@globex.example", "viewer").await;
    let (_, page) = get(&app, &app.client(), &format!("/invitation?token={token}")).await;
    assert!(!page.contains("already has an account"), "{page}");
}
