//! Test helpers: a fresh store per test (a SQLite file in a temp folder, or
//! a new PostgreSQL database when `TOPUP_TEST_DB=postgres`), a desk on a
//! manual clock, and shortcuts that mirror what users do.

use std::sync::Arc;

#[allow(unused_imports)]
pub use crate::db::{backend, fresh_database};
use topup::clock::ManualClock;
use topup::config::Settings;
use topup::desk::{Channel, Decision, Desk, StoredSlip};
use topup::domain::Lang;
use topup::domain::money::Money;
use topup::domain::order_number::OrderNumber;
use topup::store::accounts::{self, StaffRow, UserRow};
use topup::store::orders::OrderRow;

/// 2026-11-25 03:00 UTC (10:00 WIB).
pub const T0: i64 = 1_795_575_600_000;

/// A desk on a fresh database with a manual clock at [`T0`].
pub struct TestDesk {
    pub desk: Desk,
    pub clock: ManualClock,
    pub settings: Arc<Settings>,
    pub dir: tempfile::TempDir,
}

impl TestDesk {
    pub async fn new() -> TestDesk {
        Self::with(|_| {}).await
    }

    pub async fn with(change: impl FnOnce(&mut Settings)) -> TestDesk {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        settings.database.url = fresh_database(dir.path()).await;
        settings.web.listen = "127.0.0.1:0".into();
        change(&mut settings);
        let settings = Arc::new(settings);
        let clock = ManualClock::at(T0);
        let desk = topup::app::Application::open_desk(settings.clone(), Arc::new(clock.clone()))
            .await
            .expect("open desk");
        TestDesk {
            desk,
            clock,
            settings,
            dir,
        }
    }

    /// Adds an account with its main user; returns the main user.
    pub async fn customer(&self, company: &str, email: &str, lang: Lang) -> UserRow {
        let mut tx = self.desk.store().begin_write().await.unwrap();
        let account = accounts::add_account(&mut tx, company, email, lang, self.clock_ms())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut conn = self.desk.store().pool().acquire().await.unwrap();
        let users = accounts::list_users(&mut conn, Some(account.id))
            .await
            .unwrap();
        users.into_iter().next().unwrap()
    }

    /// Adds a PIC user to the account of `main`.
    pub async fn pic(&self, main: &UserRow, email: &str) -> UserRow {
        let mut tx = self.desk.store().begin_write().await.unwrap();
        let u = accounts::add_user(
            &mut tx,
            main.account_id,
            email,
            "pic",
            "",
            None,
            self.clock_ms(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        u
    }

    pub async fn staff(&self, name: &str) -> StaffRow {
        let mut tx = self.desk.store().begin_write().await.unwrap();
        let s = accounts::add_staff(&mut tx, name, None, None, None, self.clock_ms())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        s
    }

    pub fn clock_ms(&self) -> i64 {
        use topup::clock::Clock;
        self.clock.now_ms()
    }

    /// A stored slip file with `content`.
    pub async fn slip(&self, content: &[u8]) -> StoredSlip {
        let files = vec![topup::intake::SlipFile {
            file_name: Some("bukti.png".into()),
            content_type: "image/png".into(),
            bytes: content.to_vec(),
        }];
        self.desk.store_slips(&files).await.unwrap().remove(0)
    }

    /// Requests a top-up of `rupiah` as `user`.
    pub async fn request(&self, user: &UserRow, rupiah: i64) -> OrderRow {
        self.desk
            .request(user, Money::from_major(rupiah), Channel::Email, None)
            .await
            .unwrap()
    }

    /// Requests and submits a slip: an order in `dealing`.
    pub async fn dealing(&self, user: &UserRow, rupiah: i64) -> OrderRow {
        let o = self.request(user, rupiah).await;
        let slip = self.slip(format!("slip of {}", o.number).as_bytes()).await;
        let n = self.desk.parse_order_number(&o.number).unwrap();
        self.desk
            .submit_slip(user, Some(&n), &[slip], None, Channel::Email, None)
            .await
            .unwrap()
    }

    pub async fn balance(&self, account_id: i64) -> i64 {
        let mut conn = self.desk.store().pool().acquire().await.unwrap();
        accounts::balance(&mut conn, account_id).await.unwrap()
    }

    /// Outbox rows of an order: (kind, template kind or "").
    pub async fn outbox_kinds(&self, order_id: i64) -> Vec<String> {
        let mut conn = self.desk.store().pool().acquire().await.unwrap();
        topup::store::outbox::for_order(&mut conn, order_id)
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                let v: serde_json::Value = serde_json::from_str(&r.payload).unwrap();
                match v.get("kind").and_then(|k| k.as_str()) {
                    Some(k) => format!("email:{k}"),
                    None => r.kind,
                }
            })
            .collect()
    }

    /// The order as stored now.
    /// `staff` approves `order` (under review) for its claimed amount;
    /// returns the order's number for what the test does next.
    pub async fn approve(&self, order: &OrderRow, staff: &StaffRow) -> OrderNumber {
        let n = self.desk.parse_order_number(&order.number).unwrap();
        self.desk
            .decide(&n, staff, &Decision::Approve { amount: None })
            .await
            .expect("the order is under review");
        n
    }

    pub async fn order(&self, order_id: i64) -> OrderRow {
        let mut conn = self.desk.store().pool().acquire().await.unwrap();
        topup::store::orders::by_id(&mut conn, order_id)
            .await
            .unwrap()
    }

    pub async fn events(&self, order_id: i64) -> Vec<String> {
        let mut conn = self.desk.store().pool().acquire().await.unwrap();
        topup::store::orders::events(&mut conn, order_id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect()
    }
}
