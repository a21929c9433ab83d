//! The store each test runs on: `TOPUP_TEST_DB=sqlite` (default) gives a
//! SQLite file in the test's temp folder, `postgres` a new, empty
//! PostgreSQL database `topup_test_<uuid>` (dropped by `scripts/test` on
//! its next run).

#![allow(dead_code)]

/// Which database the suite runs on.
pub fn backend() -> String {
    std::env::var("TOPUP_TEST_DB").unwrap_or_else(|_| "sqlite".into())
}

/// A database URL for a fresh, empty database (a SQLite file in `dir`, or a new PostgreSQL database).
pub async fn fresh_database(dir: &std::path::Path) -> String {
    if backend() == "postgres" {
        let admin = std::env::var("TOPUP_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("topup_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&admin)
            .await
            .expect("PostgreSQL must be running on 127.0.0.1:5432 (scripts/test-env start)");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .expect("create test database");
        pool.close().await;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        format!("{base}/{name}")
    } else {
        format!("sqlite://{}?mode=rwc", dir.join("topup.db").display())
    }
}
