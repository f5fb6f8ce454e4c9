//! Reading the Flask seed's database, for `gatehouse import-seed`.

use sqlx::PgPool;

/// Every `(username, password_hash)` of the seed's `users` table, by name. The seed's schema is
/// not ours, so this query is not checked at compile time.
pub async fn seed_users(seed: &PgPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT username::text, password_hash::text FROM users ORDER BY 1")
        .fetch_all(seed)
        .await
}
