//! Linking a Discord user to a customer user: `/link email` mails a one-time
//! 6-digit code (valid 15 minutes) to a registered address, `/link code`
//! proves the Discord user reads that mailbox and links them. Codes are
//! stored hashed with the Discord id, one pending code per Discord user,
//! and die after five wrong tries.

use rand::Rng;
use sha2::{Digest, Sha256};

use super::store as link_store;
use crate::desk::{Desk, DeskError, DeskResult, ReplyTo};
use crate::render::templates::EmailKind;
use crate::store::StoreError;
use crate::store::accounts::{self, UserRow};

/// How long a code works.
pub const CODE_TTL_MS: i64 = 15 * 60 * 1000;
/// Wrong codes allowed before the code is dropped.
pub const MAX_WRONG: i64 = 5;

fn code_hash(discord_id: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{discord_id}:{code}").as_bytes()))
}

/// Starts a link: when `address` belongs to a user, stores a fresh code for
/// `discord_id` and queues the link-code email to that address, in one
/// transaction. Says nothing about whether the address is registered (the
/// caller answers the same either way), so addresses cannot be probed.
///
/// # Errors
/// Database errors only.
pub async fn start(desk: &Desk, discord_id: &str, address: &str) -> DeskResult<()> {
    let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000u32));
    start_with_code(desk, discord_id, address, &code).await
}

/// [`start`] with a given code (tests).
///
/// # Errors
/// Database errors only.
pub async fn start_with_code(
    desk: &Desk,
    discord_id: &str,
    address: &str,
    code: &str,
) -> DeskResult<()> {
    let address = accounts::normalise_email(address);
    let mut tx = desk.store().begin_write().await?;
    let Some(user) = accounts::user_by_email(&mut tx, &address).await? else {
        tracing::info!(discord_id, "Link code asked for an unregistered address");
        return Ok(());
    };
    let now = desk.now();
    let expires_at = now + CODE_TTL_MS;
    link_store::put_link_code(
        &mut tx,
        discord_id,
        user.id,
        &code_hash(discord_id, code),
        expires_at,
        now,
    )
    .await?;
    let account = accounts::account_by_id(&mut tx, user.account_id).await?;
    let lang = account.lang();
    let mut vars = desk.base_vars(&account.name, Some(&user), lang);
    if let Some(map) = vars.as_object_mut() {
        map.insert("code".into(), code.into());
        map.insert("expires".into(), desk.format_time(expires_at).into());
    }
    let reply = ReplyTo {
        address,
        message_id: None,
        references: Vec::new(),
        subject: String::new(),
    };
    desk.reply_email(&mut tx, EmailKind::LinkCode, lang, &reply, None, vars)
        .await?;
    tx.commit().await?;
    desk.outbox_bell().notify_one();
    Ok(())
}

/// Completes a link with the code the user typed; returns the linked user.
///
/// # Errors
/// [`DeskError::Invalid`] saying what is wrong (no code, expired, wrong, id taken); database errors.
pub async fn finish(desk: &Desk, discord_id: &str, code: &str) -> DeskResult<UserRow> {
    let mut tx = desk.store().begin_write().await?;
    let Some(row) = link_store::link_code(&mut tx, discord_id).await? else {
        return Err(DeskError::Invalid(
            "there is no pending code for you: ask for one with `/link email`".into(),
        ));
    };
    let now = desk.now();
    if row.expires_at < now || row.attempts >= MAX_WRONG {
        link_store::drop_link_code(&mut tx, discord_id).await?;
        tx.commit().await?;
        return Err(DeskError::Invalid(
            "that code has expired or was tried too often: ask for a new one with `/link email`"
                .into(),
        ));
    }
    if row.code_hash != code_hash(discord_id, code.trim()) {
        link_store::count_wrong_code(&mut tx, discord_id).await?;
        tx.commit().await?;
        return Err(DeskError::Invalid(
            "that code is not right: check the email and try again".into(),
        ));
    }
    match accounts::link_discord(&mut tx, row.user_id, discord_id).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(DeskError::Invalid(
                "this Discord account is already linked to another user: ask the operator to move it".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    link_store::drop_link_code(&mut tx, discord_id).await?;
    let user = accounts::user_by_id(&mut tx, row.user_id).await?;
    tx.commit().await?;
    tracing::info!(discord_id, user = user.id, "Discord user linked");
    Ok(user)
}
