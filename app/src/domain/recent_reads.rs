//! Tenant reads that busy pages repeat (the Analytics page's rollup sums and
//! agent table, a page of agents, the banner's standing, an audit listing),
//! kept for at most the current second. Under load, a view is read from the
//! database about once a second per tenant instead of once per request;
//! concurrent requests for the same view share one read.
//!
//! Every write of this process that changes such a read (the metering
//! writer, history, agents, the time zone) forgets the tenant's entries, so
//! a request after a write reads afresh. (An audit listing needs no
//! forgetting: its view names the trail's newest entry.) Writes of other
//! instances (several servers on PostgreSQL) or of the CLI are seen when the
//! entry expires: within a second.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::Result;

/// How long an entry is used, at most (it also ends with the clock's second).
const FRESH_FOR: Duration = Duration::from_secs(1);
/// Entries kept before expired ones are swept (filters are free text).
const SWEEP_ABOVE: usize = 4096;

type Shared = Arc<dyn Any + Send + Sync>;

struct Entry {
    read_at: Instant,
    /// The clock's second the value was read for.
    now: i64,
    value: Arc<OnceCell<Shared>>,
}

impl Entry {
    fn fresh(&self, now: i64) -> bool {
        self.now == now && self.read_at.elapsed() < FRESH_FOR
    }
}

#[derive(Default)]
pub struct RecentReads {
    /// (tenant id, view) -> entry.
    entries: Mutex<HashMap<(String, String), Entry>>,
}

impl std::fmt::Debug for RecentReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecentReads").finish_non_exhaustive()
    }
}

impl RecentReads {
    /// `view` of `tenant` as read at `now`: this second's value if one was
    /// read since the tenant's last write, else `read()`'s.
    pub async fn get_or_read<T, F, Fut>(
        &self,
        tenant: &str,
        view: String,
        now: i64,
        read: F,
    ) -> Result<Arc<T>>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let cell = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let key = (tenant.to_owned(), view);
            match entries.get(&key) {
                Some(entry) if entry.fresh(now) => entry.value.clone(),
                _ => {
                    if entries.len() >= SWEEP_ABOVE {
                        entries.retain(|_, e| e.fresh(now));
                    }
                    let value = Arc::new(OnceCell::new());
                    let entry = Entry {
                        read_at: Instant::now(),
                        now,
                        value: value.clone(),
                    };
                    entries.insert(key, entry);
                    value
                }
            }
        };
        let shared = cell
            .get_or_try_init(|| async { read().await.map(|v| Arc::new(v) as Shared) })
            .await?
            .clone();
        // A view name is read as one type only.
        Ok(shared
            .downcast::<T>()
            .expect("one type per recent-read view"))
    }

    /// After a write: the tenant's next reads go to the database.
    pub fn forget(&self, tenant: &str) {
        self.forget_all([tenant]);
    }

    /// Called by the metering writer after each batch: cheap when nothing
    /// is kept (the token endpoint under load).
    pub fn forget_all<'a>(&self, tenants: impl IntoIterator<Item = &'a str>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.is_empty() {
            return;
        }
        let tenants: std::collections::HashSet<&str> = tenants.into_iter().collect();
        entries.retain(|(t, _), _| !tenants.contains(t.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    async fn read(reads: &AtomicUsize) -> Result<usize> {
        Ok(reads.fetch_add(1, Ordering::SeqCst) + 1)
    }

    #[tokio::test]
    async fn a_view_is_read_once_per_second_until_a_write() {
        let recent = RecentReads::default();
        let reads = AtomicUsize::new(0);
        let get = |now| recent.get_or_read("t1", "v".into(), now, || read(&reads));
        assert_eq!(*get(100).await.unwrap(), 1);
        assert_eq!(*get(100).await.unwrap(), 1);
        // The next second reads again.
        assert_eq!(*get(101).await.unwrap(), 2);
        // Another tenant's write changes nothing here; its own does.
        recent.forget("t2");
        assert_eq!(*get(101).await.unwrap(), 2);
        recent.forget("t1");
        assert_eq!(*get(101).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_failed_read_is_not_kept() {
        let recent = RecentReads::default();
        let failed: Result<Arc<usize>> = recent
            .get_or_read("t", "v".into(), 5, || async {
                Err(crate::domain::Error::invalid("boom"))
            })
            .await;
        assert!(failed.is_err());
        let value = recent
            .get_or_read("t", "v".into(), 5, || async { Ok(7usize) })
            .await
            .unwrap();
        assert_eq!(*value, 7);
    }

    #[tokio::test]
    async fn an_entry_lasts_at_most_a_second_of_real_time() {
        // A test clock may stand still; the entry still expires.
        let recent = RecentReads::default();
        let reads = AtomicUsize::new(0);
        let get = || recent.get_or_read("t", "v".into(), 7, || read(&reads));
        assert_eq!(*get().await.unwrap(), 1);
        tokio::time::sleep(FRESH_FOR + Duration::from_millis(50)).await;
        assert_eq!(*get().await.unwrap(), 2);
    }
}
