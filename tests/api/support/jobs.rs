//! The background jobs, run by the test at the time it chooses.

use chrono::{DateTime, Utc};

use super::TestApp;

/// Settles the orders due at `at`; how many were settled.
pub async fn settle(app: &TestApp, at: DateTime<Utc>) -> usize {
    anjia::settlement::service::settle_due(&app.db, &app.state.settings.payment, at, 100)
        .await
        .unwrap()
}

/// Runs the sweepers (deadlines, expiries, reminders, escalations, …) as if
/// it were `at`; what they did.
pub async fn sweep(app: &TestApp, at: DateTime<Utc>) -> anjia::jobs::SweepReport {
    anjia::jobs::sweep(&app.state, at)
        .await
        .unwrap_or_else(|e| panic!("sweep: {}", e.message))
}
