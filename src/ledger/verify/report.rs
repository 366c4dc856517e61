//! What `verify` reports, and how its checks read the database.

use sea_orm::{ConnectionTrait, Value};

use crate::kernel::db;
use crate::kernel::error::ApiResult;

/// What [`verify`] found. `problems` is empty when every invariant holds.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub entries: i64,
    pub lines: i64,
    pub accounts: i64,
    pub problems: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// At most this many problems of one kind are listed (the count is exact).
const SHOWN: usize = 20;

impl Report {
    pub(super) fn note<T>(&mut self, found: Vec<T>, describe: impl Fn(T) -> String) {
        let total = found.len();
        self.problems
            .extend(found.into_iter().take(SHOWN).map(describe));
        if total > SHOWN {
            self.problems
                .push(format!("… and {} more like the last one", total - SHOWN));
        }
    }
}

/// Rows of `(what, a, b)`: `what` names the row, `a` and `b` are figures.
pub(super) async fn rows<C: ConnectionTrait>(
    db: &C,
    postgres: &str,
    values: Vec<Value>,
) -> ApiResult<Vec<(String, i64, i64)>> {
    let found = db::query_all(db, postgres, values).await?;
    let mut out = Vec::with_capacity(found.len());
    for r in found {
        // Ids come back as UUIDs (a blob on SQLite), names as text.
        let what = match r.try_get::<uuid::Uuid>("", "what") {
            Ok(id) => id.to_string(),
            Err(_) => r.try_get::<String>("", "what")?,
        };
        out.push((what, r.try_get::<i64>("", "a")?, r.try_get::<i64>("", "b")?));
    }
    Ok(out)
}
