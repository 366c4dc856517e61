//! The background jobs, run by the test at the time it chooses.

use chrono::Utc;

use super::TestApp;

/// Settles the orders due at `at`; how many were settled.
pub async fn settle(app: &TestApp, at: chrono::DateTime<Utc>) -> usize {
    anjia::settlement::settle_due(&app.db, &app.state.settings.payment, at, 100)
        .await
        .unwrap()
}
