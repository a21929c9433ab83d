//! Discord test helpers: a desk on a fresh store (SQLite file, or a new
//! PostgreSQL database when `TOPUP_TEST_DB=postgres`) with Discord settings
//! pointing serenity's REST client at a mockito server, a signing key for
//! the interactions endpoint, and Discord-shaped JSON payloads.

#![allow(dead_code)]

use std::sync::Arc;

#[allow(unused_imports)]
pub use crate::db::{backend, fresh_database};
use ed25519_dalek::{Signer, SigningKey};
use secrecy::SecretString;
use serde_json::{Value, json};
use topup::clock::ManualClock;
use topup::config::{DiscordSettings, Settings};
use topup::desk::{Channel, Desk};
use topup::domain::Lang;
use topup::domain::money::Money;
use topup::intake::SlipFile;
use topup::store::accounts::{self, StaffRow, UserRow};
use topup::store::orders::OrderRow;

/// 2026-11-25 03:00 UTC (10:00 WIB).
pub const T0: i64 = 1_795_575_600_000;
pub const STAFF_CHANNEL: u64 = 100_000_000_000_000_100;
pub const INTAKE_CHANNEL: u64 = 100_000_000_000_000_400;
pub const GUILD: u64 = 100_000_000_000_000_010;
pub const STAFF_ROLE: u64 = 100_000_000_000_000_200;
/// Staff member "Sari": authorised by role.
pub const SARI: u64 = 200_000_000_000_000_301;
/// Staff member "Rudi": authorised as a configured user, no role.
pub const RUDI: u64 = 200_000_000_000_000_302;
/// A guild member who is not staff.
pub const MALLORY: u64 = 200_000_000_000_000_999;
/// The customer's Discord id.
pub const BUDI: u64 = 200_000_000_000_000_500;
pub const BOT: u64 = 300_000_000_000_000_001;
pub const APP: u64 = 300_000_000_000_000_002;

/// A tiny valid PNG (1x1).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

pub fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

/// A desk with Discord configured against `api_base`, a customer, and two staff members.
pub struct DiscordApp {
    pub desk: Desk,
    pub clock: ManualClock,
    pub settings: Arc<Settings>,
    pub customer: UserRow,
    pub sari: StaffRow,
    pub dir: tempfile::TempDir,
}

impl DiscordApp {
    pub async fn new(api_base: &str) -> DiscordApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = Settings {
            data_dir: dir.path().to_path_buf(),
            database: topup::config::DatabaseSettings {
                url: fresh_database(dir.path()).await,
                ..Default::default()
            },
            web: topup::config::WebSettings {
                listen: "127.0.0.1:0".into(),
                ..Default::default()
            },
            discord: DiscordSettings {
                token: Some(SecretString::from("test-bot-token".to_string())),
                application_id: APP,
                public_key: hex::encode(signing_key().verifying_key().to_bytes()),
                staff_channel_id: STAFF_CHANNEL,
                staff_role_ids: vec![STAFF_ROLE],
                staff_user_ids: vec![RUDI],
                intake_channel_ids: vec![INTAKE_CHANNEL],
                gateway: false,
                api_base: Some(api_base.to_string()),
            },
            ..Settings::default()
        };
        let settings = Arc::new(settings);
        let clock = ManualClock::at(T0);
        let desk = topup::app::Application::open_desk(settings.clone(), Arc::new(clock.clone()))
            .await
            .expect("open desk");
        let mut tx = desk.store().begin_write().await.unwrap();
        accounts::add_account(&mut tx, "PT Maju Jaya", "budi@maju.co.id", Lang::Id, T0)
            .await
            .unwrap();
        let customer = accounts::user_by_email(&mut tx, "budi@maju.co.id")
            .await
            .unwrap()
            .unwrap();
        let sari = accounts::add_staff(&mut tx, "Sari", None, Some(&SARI.to_string()), None, T0)
            .await
            .unwrap();
        accounts::add_staff(&mut tx, "Rudi", None, Some(&RUDI.to_string()), None, T0)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        DiscordApp {
            desk,
            clock,
            settings,
            customer,
            sari,
            dir,
        }
    }

    /// A submitted (`dealing`) order of Rp 1.500.000 with a PNG slip.
    pub async fn dealing_order(&self) -> OrderRow {
        let slips = self
            .desk
            .store_slips(&[SlipFile {
                file_name: Some("bukti transfer.png".into()),
                content_type: "image/png".into(),
                bytes: PNG.to_vec(),
            }])
            .await
            .unwrap();
        self.desk
            .submit_slip(
                &self.customer,
                None,
                &slips,
                Some(Money::from_major(1_500_000)),
                Channel::Email,
                None,
            )
            .await
            .unwrap()
    }

    /// Links the customer to [`BUDI`].
    pub async fn link_customer(&self) {
        let mut conn = self.desk.store().pool().acquire().await.unwrap();
        accounts::link_discord(&mut conn, self.customer.id, &BUDI.to_string())
            .await
            .unwrap();
    }

    /// Rows of `sql` with one text column (`$1` = order id).
    pub async fn texts(&self, sql: &str, id: i64) -> Vec<String> {
        let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(id)
            .fetch_all(self.desk.store().pool())
            .await
            .unwrap();
        rows.into_iter().map(|r| r.0).collect()
    }

    pub async fn status(&self, number: &str) -> String {
        let n = self.desk.parse_order_number(number).unwrap();
        self.desk.view(&n).await.unwrap().order.status
    }

    pub async fn balance(&self) -> i64 {
        let mut conn = self.desk.store().pool().acquire().await.unwrap();
        accounts::balance(&mut conn, self.customer.account_id)
            .await
            .unwrap()
    }
}

/// `(signature hex, timestamp)` for `body` signed by `key` at `unix_secs`.
pub fn sign(key: &SigningKey, unix_secs: i64, body: &[u8]) -> (String, String) {
    let ts = unix_secs.to_string();
    let mut msg = ts.as_bytes().to_vec();
    msg.extend_from_slice(body);
    (hex::encode(key.sign(&msg).to_bytes()), ts)
}

pub fn user_json(id: u64, name: &str) -> Value {
    json!({
        "id": id.to_string(),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": null,
        "bot": false
    })
}

pub fn member_json(id: u64, name: &str, roles: &[u64]) -> Value {
    json!({
        "user": user_json(id, name),
        "roles": roles.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        "joined_at": "2026-01-01T00:00:00.000000+00:00",
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "nick": null,
        "avatar": null,
        "premium_since": null,
        "permissions": "2248473465835073"
    })
}

/// One PNG attachment as Discord lists it on a message: `n` numbers its id
/// and its path on the fake CDN at `cdn`; `side` is its width and height.
pub fn png_attachment(cdn: &str, n: u32, name: &str, size: usize, side: u32) -> Value {
    json!([{
        "id": format!("60000000000000000{n}"),
        "filename": name,
        "size": size,
        "url": format!("{cdn}/attachments/400/{n}/{name}"),
        "proxy_url": format!("{cdn}/attachments/400/{n}/{name}"),
        "content_type": "image/png",
        "width": side,
        "height": side
    }])
}

/// A message as Discord sends it (REST answers and MESSAGE_CREATE).
pub fn message_json(
    id: u64,
    channel: u64,
    author: Value,
    content: &str,
    attachments: Value,
) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel.to_string(),
        "guild_id": GUILD.to_string(),
        "author": author,
        "content": content,
        "timestamp": "2026-11-25T03:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": attachments,
        "embeds": [],
        "pinned": false,
        "type": 0,
        "flags": 0,
        "components": []
    })
}

fn interaction_base(kind: u8, id: u64, who: &Value) -> Value {
    json!({
        "type": kind,
        "id": id.to_string(),
        "application_id": APP.to_string(),
        "token": format!("interaction-token-{id}"),
        "version": 1,
        "guild_id": GUILD.to_string(),
        "channel_id": STAFF_CHANNEL.to_string(),
        "channel": { "id": STAFF_CHANNEL.to_string(), "type": 0, "name": "review", "permissions": "0" },
        "member": who,
        "locale": "en-US",
        "guild_locale": "en-US",
        "app_permissions": "2248473465835073",
        "entitlements": [],
        "authorizing_integration_owners": { "0": GUILD.to_string() },
        "context": 0,
        "attachment_size_limit": 10_485_760
    })
}

/// A button click on a review card.
pub fn click_json(custom_id: &str, user: u64, roles: &[u64]) -> Value {
    let who = member_json(user, "clicker", roles);
    let mut v = interaction_base(3, 900_000_000_000_000_001, &who);
    v["data"] = json!({ "custom_id": custom_id, "component_type": 2 });
    v["message"] = message_json(
        800_000_000_000_000_001,
        STAFF_CHANNEL,
        user_json(BOT, "topup"),
        "",
        json!([]),
    );
    v
}

/// A modal submit with text inputs `(custom_id, value)`.
pub fn modal_json(custom_id: &str, user: u64, roles: &[u64], inputs: &[(&str, &str)]) -> Value {
    let who = member_json(user, "clicker", roles);
    let mut v = interaction_base(5, 900_000_000_000_000_002, &who);
    let rows: Vec<Value> = inputs
        .iter()
        .map(|(id, value)| json!({ "type": 1, "components": [ { "type": 4, "custom_id": id, "value": value } ] }))
        .collect();
    v["data"] = json!({ "custom_id": custom_id, "components": rows });
    v
}

/// A slash command by `user` (`options` as Discord sends them).
pub fn command_json(name: &str, user: u64, options: Value) -> Value {
    let who = member_json(user, "budi", &[]);
    let mut v = interaction_base(2, 900_000_000_000_000_003, &who);
    v["channel_id"] = json!(INTAKE_CHANNEL.to_string());
    v["data"] = json!({ "id": "700000000000000001", "name": name, "type": 1, "options": options });
    v
}
