//! Linking a Discord user to a customer user: `/link email` mails a one-time
//! code (valid 15 minutes) to a registered address, `/link code` proves the
//! Discord user reads that mailbox and links them. Codes are stored hashed
//! with the Discord id, one pending code per Discord user.
//!
//! Guessing is made hopeless and slow:
//! - codes are 10 characters from a 32-letter alphabet (50 bits);
//! - wrong codes are counted per Discord id and per target user over an hour,
//!   across re-issued codes (asking for a new code does not reset the count);
//! - code requests are limited per Discord id and per target user.
//!
//! A link never silently replaces another: when the user is already linked
//! to another Discord id, the code goes to the account's main user, whose
//! passing it on is the confirmation, and it links only if that same old link
//! is still the one in place.

use rand::Rng;
use sha2::{Digest, Sha256};

use super::store as link_store;
use crate::desk::{Desk, DeskError, DeskResult, ReplyTo};
use crate::render::templates::EmailKind;
use crate::store::StoreError;
use crate::store::accounts::{self, UserRow};
use crate::store::rate;

/// How long a code works.
pub const CODE_TTL_MS: i64 = 15 * 60 * 1000;
/// Wrong codes one Discord id may enter per [`WINDOW_MS`], over all its codes.
pub const MAX_WRONG: i64 = 5;
/// Wrong codes aimed at one user per [`WINDOW_MS`], from any Discord id.
pub const MAX_WRONG_PER_USER: i64 = 10;
/// Codes one Discord id may ask for per [`WINDOW_MS`].
pub const MAX_CODES: i64 = 3;
/// Codes mailed for one user per [`WINDOW_MS`].
pub const MAX_CODES_PER_USER: i64 = 3;
/// The window of the counts above (one hour).
pub const WINDOW_MS: i64 = 3_600_000;
/// Letters of a code: no 0/O, 1/I/L, so it can be read off a phone.
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Characters in a code.
const CODE_LEN: usize = 10;

fn code_hash(discord_id: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{discord_id}:{code}").as_bytes()))
}

/// A fresh code, shown as `ABCDE-FGHJK`.
pub fn new_code() -> String {
    let mut rng = rand::thread_rng();
    let raw: String = (0..CODE_LEN)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    format!("{}-{}", &raw[..5], &raw[5..])
}

/// A typed code as stored: upper case, without spaces and dashes.
fn canonical(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Starts a link: when `address` belongs to a user, stores a fresh code for
/// `discord_id` and queues the link-code email, in one transaction. Says
/// nothing about whether the address is registered (the caller answers the
/// same either way), so addresses cannot be probed.
///
/// # Errors
/// [`DeskError::Invalid`] when this Discord user asked for too many codes or
/// entered too many wrong ones lately; database errors.
pub async fn start(desk: &Desk, discord_id: &str, address: &str) -> DeskResult<()> {
    start_with_code(desk, discord_id, address, &new_code()).await
}

/// [`start`] with a given code (tests).
///
/// # Errors
/// As [`start`].
pub async fn start_with_code(
    desk: &Desk,
    discord_id: &str,
    address: &str,
    code: &str,
) -> DeskResult<()> {
    let address = accounts::normalise_email(address);
    let now = desk.now();
    let since = now - WINDOW_MS;
    let mut tx = desk.store().begin_write().await?;
    if rate::count(&mut tx, "link_wrong", discord_id, since).await? >= MAX_WRONG {
        return Err(too_many_wrong());
    }
    if rate::count(&mut tx, "link_code", discord_id, since).await? >= MAX_CODES {
        return Err(DeskError::Invalid(
            "you asked for several codes in the last hour: use the newest one, or ask again later"
                .into(),
        ));
    }
    rate::record(&mut tx, "link_code", discord_id, now).await?;
    let Some(user) = accounts::user_by_email(&mut tx, &address).await? else {
        tx.commit().await?;
        tracing::info!(discord_id, "Link code asked for an unregistered address");
        return Ok(());
    };
    let user_key = user.id.to_string();
    if user.discord_id.as_deref() == Some(discord_id) {
        tx.commit().await?;
        return Ok(());
    }
    if rate::count(&mut tx, "link_code_user", &user_key, since).await? >= MAX_CODES_PER_USER {
        // Answered like any other request: the limit must not reveal the address.
        tx.commit().await?;
        tracing::warn!(
            discord_id,
            user = user.id,
            "Link codes for this user are limited for now"
        );
        return Ok(());
    }
    rate::record(&mut tx, "link_code_user", &user_key, now).await?;
    let expires_at = now + CODE_TTL_MS;
    let replaces = user.discord_id.clone();
    link_store::put_link_code(
        &mut tx,
        discord_id,
        user.id,
        &code_hash(discord_id, &canonical(code)),
        replaces.as_deref(),
        expires_at,
        now,
    )
    .await?;
    let account = accounts::account_by_id(&mut tx, user.account_id).await?;
    let lang = account.lang();
    // Replacing a link needs the main user's word: the code goes to them.
    let recipient = match &replaces {
        Some(_) => accounts::main_user(&mut tx, account.id).await?,
        None => user.clone(),
    };
    let note = match (&replaces, lang) {
        (None, _) => String::new(),
        (Some(_), crate::domain::Lang::En) => format!(
            "Someone asked to link a new Discord user to {who}, who is already linked to another \
             Discord user. Give them this code only if you agree that the new Discord user replaces the old one.",
            who = user.label()
        ),
        (Some(_), crate::domain::Lang::Id) => format!(
            "Ada permintaan untuk menautkan pengguna Discord baru ke {who}, yang sudah tertaut ke \
             pengguna Discord lain. Berikan kode ini hanya jika Anda setuju pengguna Discord baru \
             menggantikan yang lama.",
            who = user.label()
        ),
    };
    let mut vars = desk.base_vars(&account.name, Some(&recipient), lang);
    if let Some(map) = vars.as_object_mut() {
        map.insert("code".into(), code.into());
        map.insert("expires".into(), desk.format_time(expires_at).into());
        map.insert("note".into(), note.into());
    }
    let reply = ReplyTo {
        address: recipient.primary_email().to_string(),
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

fn too_many_wrong() -> DeskError {
    DeskError::Invalid(
        "too many wrong codes in the last hour: linking is paused for you; try again later".into(),
    )
}

/// Completes a link with the code the user typed; returns the linked user.
///
/// # Errors
/// [`DeskError::Invalid`] saying what is wrong (no code, expired, wrong, too
/// many wrong, id taken, link changed meanwhile); database errors.
pub async fn finish(desk: &Desk, discord_id: &str, code: &str) -> DeskResult<UserRow> {
    let now = desk.now();
    let since = now - WINDOW_MS;
    let mut tx = desk.store().begin_write().await?;
    if rate::count(&mut tx, "link_wrong", discord_id, since).await? >= MAX_WRONG {
        link_store::drop_link_code(&mut tx, discord_id).await?;
        tx.commit().await?;
        return Err(too_many_wrong());
    }
    let Some(row) = link_store::link_code(&mut tx, discord_id).await? else {
        return Err(DeskError::Invalid(
            "there is no pending code for you: ask for one with `/link email`".into(),
        ));
    };
    let user_key = row.user_id.to_string();
    if row.expires_at < now
        || rate::count(&mut tx, "link_wrong_user", &user_key, since).await? >= MAX_WRONG_PER_USER
    {
        link_store::drop_link_code(&mut tx, discord_id).await?;
        tx.commit().await?;
        return Err(DeskError::Invalid(
            "that code has expired or was tried too often: ask for a new one with `/link email`"
                .into(),
        ));
    }
    if row.code_hash != code_hash(discord_id, &canonical(code)) {
        rate::record(&mut tx, "link_wrong", discord_id, now).await?;
        rate::record(&mut tx, "link_wrong_user", &user_key, now).await?;
        link_store::count_wrong_code(&mut tx, discord_id).await?;
        tx.commit().await?;
        return Err(DeskError::Invalid(
            "that code is not right: check the email and try again".into(),
        ));
    }
    let user = accounts::user_by_id(&mut tx, row.user_id).await?;
    if user.discord_id != row.replaces {
        link_store::drop_link_code(&mut tx, discord_id).await?;
        tx.commit().await?;
        return Err(DeskError::Invalid(
            "the user's Discord link changed after the code was sent: ask for a new code".into(),
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
    tracing::info!(discord_id, user = user.id, replaced = ?row.replaces, "Discord user linked");
    Ok(user)
}
