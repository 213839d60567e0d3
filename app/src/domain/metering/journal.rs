//! SQLite's fast path for tenants with no daily limit: the request appends
//! its count to a journal file and is answered at once; the writer folds the
//! counts into the rollups a few times a second ([`FOLD_INTERVAL`]).
//!
//! Why: waiting for a commit that holds its count (parked, woken by the
//! writer thread, polled again) and the writer's 1,200 commits a second were
//! most of what metering cost the token endpoint (see
//! `docs/performance.md`). A line copied into the journal file, mapped into
//! memory, survives a killed process as a WAL commit under `synchronous =
//! NORMAL` does (both sit in the kernel's page cache), and nothing has to be
//! decided for an unlimited tenant, so nothing has to be read. A request
//! costs a look at the WAL index header, two hash lookups and the copy, under
//! one lock: no system call.
//!
//! What keeps this exact:
//! - One process owns the journal (a lock on its folder); any other
//!   process meters through commits only, and takes the journal over,
//!   replaying what its owner had not folded, once the owner is gone.
//! - A fold commits the counts and the number of the last journal file they
//!   came from in one transaction; files up to it are then zeroed for reuse
//!   or deleted, and a restart replays only the later ones.
//! - A tenant takes the fast path only while nothing but the writer has
//!   committed since its tier and time zone were read: every request
//!   compares the WAL index header (SQLite's shared memory file, whose
//!   change counter moves with every commit; its layout is documented in
//!   <https://www.sqlite.org/walformat.html>) with the one the writer saw
//!   after its last commit. A tier or time zone changed by this process, the
//!   CLI or anyone else applies from the next request, which then waits for
//!   a commit that folds everything journaled before it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rusqlite::Connection;

use super::rollups::RollupStatements;
use super::{Counts, UsageKind};
use crate::domain::{Error, Result};
use crate::model::Tier;

/// How often the writer folds the journaled counts into the rollups: well
/// within analytics' "live within 2 s", few enough commits to cost little.
pub(super) const FOLD_INTERVAL: Duration = Duration::from_millis(250);

const EXTENSION: &str = "log";

/// What the writer last read of an unlimited tenant.
#[derive(Debug, Clone)]
pub(super) struct Known {
    pub tier: Tier,
    pub time_zone: Arc<str>,
}

/// One agent's journaled counts, by second.
#[derive(Debug, Clone)]
pub(super) struct AgentCounts {
    pub tenant_id: String,
    pub tier: Tier,
    /// The zone the tenant had when the counts were journaled: analytics
    /// files them on that local date, as a commit at the time would have.
    pub time_zone: Arc<str>,
    pub by_second: Vec<(i64, Counts)>,
}

impl AgentCounts {
    fn add(&mut self, at: i64, counts: Counts) {
        match self.by_second.last_mut() {
            Some((second, c)) if *second == at => c.merge(counts),
            _ => self.by_second.push((at, counts)),
        }
    }
}

/// Counts taken out of the journal for one fold, by agent.
#[derive(Debug, Default)]
pub(super) struct Folded {
    pub by_agent: HashMap<String, AgentCounts>,
    /// The last journal file these counts complete.
    pub through: u64,
    requests: u64,
    /// That file, mapped: recycled once the fold is committed.
    retired: Option<Segment>,
}

/// The journal of one SQLite database; shared by its requests and its
/// writer.
#[derive(Debug)]
pub(super) struct Journal {
    /// Why this process meters through commits alone (the folder or the
    /// WAL index could not be used); logged once.
    off: OnceLock<String>,
    dir: PathBuf,
    db_path: PathBuf,
    /// Opened by the writer once the database has its WAL index.
    watch: OnceLock<WalIndex>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// `Some` while this process owns the journal.
    owner: Option<Owner>,
    /// The WAL index header when `unlimited` was last known true; `None`:
    /// not known, every request waits for a commit.
    valid_at: Option<WalHeader>,
    /// The writer connection's `data_version` then (it changes only with
    /// commits by other connections).
    writer_version: Option<i64>,
    unlimited: HashMap<String, Known>,
    pending: HashMap<String, AgentCounts>,
    /// Requests journaled and not yet folded and committed.
    in_flight: u64,
}

impl State {
    fn new() -> State {
        State {
            owner: None,
            valid_at: None,
            writer_version: None,
            unlimited: HashMap::new(),
            pending: HashMap::new(),
            in_flight: 0,
        }
    }
}

#[derive(Debug)]
struct Owner {
    _lock: File,
    /// The file requests append to, and its number.
    segment: Segment,
    number: u64,
    /// A folded file, zeroed, to be the next: its pages are in memory
    /// already, where a new file's cost a page fault each (and its
    /// creation and removal, several calls) on the requests' threads.
    spare: Option<Segment>,
}

impl Journal {
    /// The journal of the SQLite database at `db_path`: a folder beside it.
    pub fn beside(db_path: &Path) -> Journal {
        Journal {
            off: OnceLock::new(),
            dir: Journal::dir_beside(db_path),
            db_path: db_path.to_owned(),
            watch: OnceLock::new(),
            state: Mutex::new(State::new()),
        }
    }

    fn dir_beside(db_path: &Path) -> PathBuf {
        let mut dir = db_path.as_os_str().to_owned();
        dir.push("-usage-journal");
        PathBuf::from(dir)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one request of `agent_id` without waiting for a commit, if
    /// its tenant is known to be unlimited and nothing changed since.
    /// `false`: it must take the writer's way.
    pub fn admit(&self, tenant_id: &str, agent_id: &str, kind: UsageKind, now: i64) -> bool {
        // Read before the lock: the request takes its place in the order of
        // commits here.
        let Some(seen) = self.watch.get().and_then(WalIndex::header) else {
            return false;
        };
        let mut guard = self.state();
        let state = &mut *guard;
        let Some(owner) = &mut state.owner else {
            return false;
        };
        if state.valid_at != Some(seen) {
            return false;
        }
        let Some(known) = state.unlimited.get(tenant_id) else {
            return false;
        };
        let mut line = [0u8; 256];
        let Some(line) = record(&mut line, now, kind, tenant_id, agent_id, &known.time_zone) else {
            return false;
        };
        let counts = Counts::one(kind, true);
        // Appended before anything is answered: the journal survives a
        // killed process as the WAL does. A full file takes the writer's
        // way, whose fold starts the next.
        match state.pending.get_mut(agent_id) {
            // The agent's pending counts keep the zone they were counted in;
            // a new one waits for the fold.
            Some(p) if p.tenant_id != tenant_id || p.time_zone != known.time_zone => return false,
            Some(p) => {
                if !owner.segment.append(line) {
                    return false;
                }
                p.add(now, counts);
            }
            None => {
                if !owner.segment.append(line) {
                    return false;
                }
                let counts = AgentCounts {
                    tenant_id: tenant_id.to_owned(),
                    tier: known.tier,
                    time_zone: known.time_zone.clone(),
                    by_second: vec![(now, counts)],
                };
                state.pending.insert(agent_id.to_owned(), counts);
            }
        }
        state.in_flight += 1;
        true
    }

    pub fn owned(&self) -> bool {
        self.state().owner.is_some()
    }

    /// Whether the writer has something to do without a request: counts
    /// to fold, or a journal whose owner is gone.
    pub fn needs_fold(&self) -> bool {
        {
            let state = self.state();
            if state.owner.is_some() {
                return !state.pending.is_empty();
            }
        }
        self.off.get().is_none()
            && match File::open(self.dir.join("lock")) {
                Ok(lock) => lock.try_lock().is_ok(), // dropped: unlocked
                Err(_) => true,
            }
    }

    /// Requests journaled and not yet committed (tests wait for none).
    pub fn in_flight(&self) -> u64 {
        self.state().in_flight
    }

    /// Takes ownership of the journal if no other process (or meter) has
    /// it, putting what the last owner journaled after `applied_through`
    /// (the last file a fold committed) back to be folded. Returns whether
    /// this process owns it.
    pub fn try_own(&self, applied_through: u64) -> bool {
        if self.off.get().is_some() {
            return false;
        }
        match self.own(applied_through) {
            Ok(owned) => owned,
            Err(e) => {
                tracing::warn!(error = %e, "usage journal off: counting through commits");
                let _ = self.off.set(e.to_string());
                false
            }
        }
    }

    fn own(&self, applied_through: u64) -> Result<bool> {
        let mut state = self.state();
        if state.owner.is_some() {
            return Ok(true);
        }
        std::fs::create_dir_all(&self.dir).map_err(journal_error)?;
        let lock = File::create(self.dir.join("lock")).map_err(journal_error)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
            Err(std::fs::TryLockError::Error(e)) => return Err(journal_error(e)),
        }
        if self.watch.get().is_none() {
            let watch = WalIndex::open(&self.db_path).map_err(journal_error)?;
            let _ = self.watch.set(watch);
        }
        let (mut last, mut replayed, mut requests) = (applied_through, HashMap::new(), 0);
        for (number, path) in self.files()? {
            last = last.max(number);
            if number <= applied_through {
                std::fs::remove_file(&path).map_err(journal_error)?;
                continue;
            }
            let text = std::fs::read(&path).map_err(journal_error)?;
            let found = replay(&text, &mut replayed);
            if found == 0 {
                // Nothing to fold, so no fold would ever remove it: every
                // start without unlimited tenants' requests left one more
                // 4 MB file behind.
                std::fs::remove_file(&path).map_err(journal_error)?;
                continue;
            }
            tracing::info!(file = %path.display(), requests = found, "replaying the usage journal");
            requests += found;
        }
        let _ = std::fs::remove_file(self.spare_path());
        let number = last + 1;
        state.owner = Some(Owner {
            _lock: lock,
            segment: self.create(number)?,
            number,
            spare: None,
        });
        // Only now: a journal that cannot be owned keeps its files for the
        // next start, and nothing half-read stays pending.
        state.pending = replayed;
        state.in_flight = requests;
        Ok(true)
    }

    /// Gives the journal up (the writer stops): requests wait for commits.
    pub fn release(&self) {
        let mut state = self.state();
        state.owner = None;
        state.valid_at = None;
    }

    /// Takes the pending counts for a fold, starting a new journal file for
    /// what comes after. `None`: nothing pending.
    pub fn take(&self) -> Result<Option<Folded>> {
        let mut guard = self.state();
        let state = &mut *guard;
        if state.pending.is_empty() {
            return Ok(None);
        }
        let (through, retired) = match &mut state.owner {
            Some(owner) if owner.segment.used > 0 => {
                let number = owner.number + 1;
                let next = match owner.spare.take() {
                    Some(spare) => spare.renamed(self.path(number)).map_err(journal_error),
                    None => self.create(number),
                }?;
                let retired = std::mem::replace(&mut owner.segment, next);
                (std::mem::replace(&mut owner.number, number), Some(retired))
            }
            Some(owner) => (owner.number - 1, None),
            // Replayed by an owner that has since let go: its files stay
            // until the next owner's first fold.
            None => return Ok(None),
        };
        let requests = state.in_flight;
        Ok(Some(Folded {
            by_agent: std::mem::take(&mut state.pending),
            through,
            requests,
            retired,
        }))
    }

    /// The fold's commit failed: its counts are pending again (its file
    /// stays until a later fold commits them).
    pub fn put_back(&self, folded: Folded) {
        let mut state = self.state();
        for (agent, mut counts) in folded.by_agent {
            if let Some(newer) = state.pending.remove(&agent) {
                counts.by_second.extend(newer.by_second);
            }
            state.pending.insert(agent, counts);
        }
    }

    /// The fold is committed: its file becomes the spare, older ones go.
    pub fn committed(&self, folded: &mut Folded) {
        let spare = folded.retired.take().and_then(|retired| {
            retired
                .recycled(self.spare_path())
                .inspect_err(|e| tracing::warn!(error = %e, "recycling a journal file"))
                .ok()
        });
        {
            let mut state = self.state();
            state.in_flight = state.in_flight.saturating_sub(folded.requests);
            if let (Some(owner), Some(spare)) = (&mut state.owner, spare) {
                owner.spare.get_or_insert(spare);
            }
        }
        let files = match self.files() {
            Ok(files) => files,
            Err(e) => {
                tracing::warn!(error = %e, "listing the usage journal");
                return;
            }
        };
        for (number, path) in files {
            if number <= folded.through {
                if let Err(e) = std::fs::remove_file(&path) {
                    tracing::warn!(error = %e, file = %path.display(), "removing a folded journal file");
                }
            }
        }
    }

    /// Runs the writer's `commit`, then learns `learnt` (unlimited tenants
    /// as read in its transaction), requests waiting meanwhile: none sees
    /// the header of a commit the journal has not learnt from. What was
    /// learnt before stays only if nobody else committed since
    /// (`writer_version`: the writer connection's `data_version` inside the
    /// transaction, which moves only with others' commits); the fast path
    /// opens only if nobody did between this commit and the header's read
    /// either (`writer_now`, read after it).
    pub fn commit_and_learn(
        &self,
        commit: impl FnOnce() -> Result<()>,
        writer_version: i64,
        writer_now: impl FnOnce() -> Option<i64>,
        learnt: impl IntoIterator<Item = (String, Known)>,
    ) -> Result<()> {
        let mut guard = self.state();
        let state = &mut *guard;
        if let Err(e) = commit() {
            state.valid_at = None;
            return Err(e);
        }
        if state.writer_version != Some(writer_version) {
            state.unlimited.clear();
        }
        if state.unlimited.len() > 100_000 {
            state.unlimited.clear();
        }
        state.unlimited.extend(learnt);
        let seen = self.watch.get().and_then(WalIndex::header);
        if seen.is_some() && writer_now() == Some(writer_version) {
            state.valid_at = seen;
            state.writer_version = Some(writer_version);
        } else {
            state.valid_at = None;
            state.writer_version = None;
        }
        Ok(())
    }

    fn create(&self, number: u64) -> Result<Segment> {
        Segment::create(self.path(number)).map_err(journal_error)
    }

    fn path(&self, number: u64) -> PathBuf {
        self.dir.join(format!("{number:016}.{EXTENSION}"))
    }

    /// Not a number: never replayed.
    fn spare_path(&self) -> PathBuf {
        self.dir.join(format!("spare.{EXTENSION}"))
    }

    /// The journal's files, by number.
    fn files(&self) -> Result<Vec<(u64, PathBuf)>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(journal_error)? {
            let path = entry.map_err(journal_error)?.path();
            if path.extension().is_some_and(|e| e == EXTENSION) {
                if let Some(n) = path.file_stem().and_then(|s| s.to_str()?.parse().ok()) {
                    files.push((n, path));
                }
            }
        }
        files.sort();
        Ok(files)
    }
}

/// What the journal's files held when a backup began, read before the
/// backup copies the database: what they hold beyond the copy's last folded
/// file is then added to the copy, so that it holds every request answered
/// before the backup began, folded or not. (A file folded and recycled
/// meanwhile is in the copy: the copy is taken after.)
#[derive(Debug)]
pub struct KeptForBackup {
    files: Vec<(u64, Vec<u8>)>,
}

impl KeptForBackup {
    pub fn keep(db_path: &Path) -> Result<KeptForBackup> {
        let journal = Journal::beside(db_path);
        let mut files = Vec::new();
        if !journal.dir.exists() {
            return Ok(KeptForBackup { files });
        }
        for (number, path) in journal.files()? {
            match std::fs::read(&path) {
                Ok(mut text) => {
                    text.truncate(text.iter().position(|b| *b == 0).unwrap_or(text.len()));
                    files.push((number, text));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(journal_error(e)),
            }
        }
        Ok(KeptForBackup { files })
    }

    /// Adds to the copy at `copy` what the kept files hold beyond it.
    pub fn add_to(&self, copy: &Path) -> Result<()> {
        let conn = Connection::open(copy).map_err(backup_error)?;
        let applied: i64 = conn
            .query_row("SELECT applied_through FROM usage_journal", [], |r| {
                r.get(0)
            })
            .map_err(backup_error)?;
        let mut folded = Folded::default();
        for (number, text) in &self.files {
            if i64::try_from(*number).unwrap_or(i64::MAX) <= applied {
                continue;
            }
            replay(text, &mut folded.by_agent);
            folded.through = *number;
        }
        if folded.by_agent.is_empty() {
            return Ok(());
        }
        conn.execute_batch("BEGIN").map_err(backup_error)?;
        super::sqlite_writer::write_folded(&conn, &RollupStatements::new(), &folded)?;
        conn.execute(
            "UPDATE usage_journal SET applied_through = ?1",
            [i64::try_from(folded.through).unwrap_or(i64::MAX)],
        )
        .map_err(backup_error)?;
        conn.execute_batch("COMMIT").map_err(backup_error)
    }
}

fn backup_error(e: rusqlite::Error) -> Error {
    Error::Internal(format!("adding the usage journal to the backup: {e}"))
}

/// Bytes of a journal file, reserved when it is made: a store into a
/// mapped hole on a full disk would kill the process (SIGBUS) where a
/// reservation fails as a call. About 50,000 requests; a quarter second
/// of load fills a fifth of it.
const SEGMENT_BYTES: u64 = 4 << 20;

/// A journal file, mapped: an append is a copy into the page cache, which
/// outlives a killed process as a `write()` would, without the call.
#[derive(Debug)]
struct Segment {
    map: memmap2::MmapMut,
    used: usize,
    path: PathBuf,
}

impl Segment {
    fn create(path: PathBuf) -> std::io::Result<Segment> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, SEGMENT_BYTES)?;
        // SAFETY: the file is this process's alone (it holds the journal's
        // lock), nobody truncates it, and its blocks are reserved.
        let map = unsafe { memmap2::MmapMut::map_mut(&file)? };
        Ok(Segment { map, used: 0, path })
    }

    /// Zeroed (a replay stops at the first zero) and renamed to `path`.
    fn recycled(mut self, path: PathBuf) -> std::io::Result<Segment> {
        self.map[..self.used].fill(0);
        self.used = 0;
        self.renamed(path)
    }

    fn renamed(mut self, path: PathBuf) -> std::io::Result<Segment> {
        std::fs::rename(&self.path, &path)?;
        self.path = path;
        Ok(self)
    }

    /// Copies `record` in after the last one; `false`: no room.
    fn append(&mut self, record: &[u8]) -> bool {
        let Some(room) = self.map.get_mut(self.used..self.used + record.len()) else {
            return false;
        };
        room.copy_from_slice(record);
        self.used += record.len();
        true
    }
}

/// The header of SQLite's WAL index (the `-shm` file): two copies of 48
/// bytes, the first holding a counter that moves with every commit.
type WalHeader = [u64; 6];

/// The WAL index, mapped, read on every request without a call. The
/// connection is held so that SQLite never truncates the file under the
/// mapping: it does so only when the first connection of all opens it.
#[derive(Debug)]
struct WalIndex {
    map: memmap2::Mmap,
    /// Never closed. Closing any descriptor of a file releases every POSIX
    /// lock the process holds on it, SQLite's own included: among them the
    /// lock that tells other processes the index is in use, without which
    /// the next one to open the database (the CLI) rebuilds the index under
    /// the serving writer, and the database ends up corrupt.
    _file: std::mem::ManuallyDrop<File>,
    /// Only held (in a mutex, as connections are not `Sync`).
    _held: Mutex<Connection>,
}

impl WalIndex {
    fn open(db_path: &Path) -> std::io::Result<WalIndex> {
        let held = Connection::open_with_flags(
            db_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|c| {
            // A read makes it join the WAL index.
            data_version(&c)?;
            Ok(c)
        })
        .map_err(std::io::Error::other)?;
        let mut shm = db_path.as_os_str().to_owned();
        shm.push("-shm");
        let file = std::mem::ManuallyDrop::new(File::open(PathBuf::from(shm))?);
        if file.metadata()?.len() < 96 {
            return Err(std::io::Error::other("the WAL index is not initialised"));
        }
        // SAFETY: SQLite changes these bytes as we read them (which
        // `header` allows for, as SQLite's own readers do), and cannot
        // shrink the file while `held` is open.
        let map = unsafe { memmap2::MmapOptions::new().len(96).map(&*file)? };
        Ok(WalIndex {
            map,
            _file: file,
            _held: Mutex::new(held),
        })
    }

    /// The header, or `None` while its two copies differ (a commit is
    /// writing it: SQLite writes the second copy first).
    fn header(&self) -> Option<WalHeader> {
        let words = self.map.as_ptr().cast::<u64>();
        let mut both = [0u64; 12];
        for (i, word) in both.iter_mut().enumerate() {
            // SAFETY: 96 mapped bytes, page-aligned; volatile, as another
            // process may write them.
            *word = unsafe { std::ptr::read_volatile(words.add(i)) };
        }
        let (first, second) = both.split_at(6);
        (first == second).then(|| first.try_into().ok())?
    }
}

/// SQLite's count of the commits `conn` has seen by other connections
/// (it moves with each, never with `conn`'s own).
pub(super) fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("PRAGMA data_version")?
        .query_row([], |row| row.get(0))
}

fn journal_error(e: std::io::Error) -> Error {
    Error::Internal(format!("usage journal: {e}"))
}

/// One journaled request, one line, into `buf`; `None` if it does not fit.
fn record<'b>(
    buf: &'b mut [u8; 256],
    at: i64,
    kind: UsageKind,
    tenant: &str,
    agent: &str,
    zone: &str,
) -> Option<&'b [u8]> {
    let kind = match kind {
        UsageKind::TokenIssued => 't',
        UsageKind::ApiCall => 'a',
    };
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    writeln!(cursor, "{at}\t{kind}\t{tenant}\t{agent}\t{zone}").ok()?;
    let len = usize::try_from(cursor.position()).ok()?;
    Some(&buf[..len])
}

/// Adds the requests of a journal file's `text` to `pending`; returns how
/// many. Records end at the first zero byte (the rest of the file is
/// reserved, unwritten); a last line without its newline (or with zeros
/// in it) is a copy the process did not finish: its request was never
/// answered, so it is not counted.
fn replay(text: &[u8], pending: &mut HashMap<String, AgentCounts>) -> u64 {
    let written = &text[..text.iter().position(|b| *b == 0).unwrap_or(text.len())];
    let complete = match written.iter().rposition(|b| *b == b'\n') {
        Some(end) => &written[..=end],
        None => return 0,
    };
    let mut replayed = 0;
    for line in String::from_utf8_lossy(complete).lines() {
        let Some((at, kind, tenant, agent, zone)) = parse(line) else {
            tracing::warn!(line, "skipping an unreadable usage journal line");
            continue;
        };
        let entry = pending
            .entry(agent.to_owned())
            .or_insert_with(|| AgentCounts {
                tenant_id: tenant.to_owned(),
                // Only counted in the metrics by tier; replays are rare.
                tier: Tier::Enterprise,
                time_zone: zone.into(),
                by_second: Vec::new(),
            });
        entry.add(at, Counts::one(kind, true));
        replayed += 1;
    }
    replayed
}

fn parse(line: &str) -> Option<(i64, UsageKind, &str, &str, &str)> {
    let mut fields = line.split('\t');
    let at = fields.next()?.parse().ok()?;
    let kind = match fields.next()? {
        "t" => UsageKind::TokenIssued,
        "a" => UsageKind::ApiCall,
        _ => return None,
    };
    let (tenant, agent, zone) = (fields.next()?, fields.next()?, fields.next()?);
    fields
        .next()
        .is_none()
        .then_some((at, kind, tenant, agent, zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(at: i64, kind: UsageKind, agent: &str, zone: &str) -> Vec<u8> {
        record(&mut [0; 256], at, kind, "t1", agent, zone)
            .unwrap()
            .to_vec()
    }

    #[test]
    fn a_replay_counts_complete_lines_and_skips_the_unfinished_one() {
        let mut text = line(100, UsageKind::TokenIssued, "a1", "UTC");
        text.extend(line(100, UsageKind::ApiCall, "a1", "UTC"));
        text.extend(line(101, UsageKind::TokenIssued, "a2", "Europe/Paris"));
        text.extend(b"garbled\n");
        text.extend(b"102\tt\tt1\ta1\tU"); // killed mid-copy
        text.extend([0; 64]); // reserved, never written
        let unfinished = line(103, UsageKind::TokenIssued, "a1", "UTC");
        let mut torn = unfinished.clone();
        torn[2] = 0; // copied out of order, a byte short
        let mut pending = HashMap::new();
        assert_eq!(replay(&text, &mut pending), 3);
        let mut other = HashMap::new();
        assert_eq!(
            replay(&[unfinished.as_slice(), &torn].concat(), &mut other),
            1
        );
        let a1 = &pending["a1"];
        assert_eq!(a1.tenant_id, "t1");
        assert_eq!(a1.by_second.len(), 1);
        let (at, counts) = a1.by_second[0];
        assert_eq!((at, counts.tokens_issued, counts.api_calls), (100, 1, 1));
        assert_eq!(&*pending["a2"].time_zone, "Europe/Paris");
    }

    fn known() -> Known {
        Known {
            tier: Tier::Enterprise,
            time_zone: "UTC".into(),
        }
    }

    /// A journal of a real SQLite file, owned, with tenant `t` learnt as
    /// unlimited.
    fn owned_journal(dir: &Path) -> (Journal, Connection) {
        let db = dir.join("portal.db");
        let writer = Connection::open(&db).unwrap();
        writer
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE x (y);")
            .unwrap();
        let journal = Journal::beside(&db);
        assert!(journal.try_own(0));
        writer_learns_t(&journal, &writer);
        (journal, writer)
    }

    /// The writer commits (nothing, here) having read `t` as unlimited,
    /// and nobody else commits before it looks.
    fn writer_learns_t(journal: &Journal, writer: &Connection) {
        let version = data_version(writer).unwrap();
        journal
            .commit_and_learn(
                || Ok(()),
                version,
                || Some(version),
                [("t".to_owned(), known())],
            )
            .unwrap();
    }

    #[test]
    fn counts_go_to_the_journal_and_a_fold_takes_them_once() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _writer) = owned_journal(dir.path());
        assert!(journal.admit("t", "a", UsageKind::TokenIssued, 10));
        assert!(journal.admit("t", "a", UsageKind::TokenIssued, 10));
        assert!(!journal.admit("other", "b", UsageKind::TokenIssued, 10));
        assert_eq!(journal.in_flight(), 2);
        let mut folded = journal.take().unwrap().unwrap();
        assert_eq!(folded.by_agent["a"].by_second[0].1.tokens_issued, 2);
        assert!(journal.take().unwrap().is_none(), "taken once");
        // Not committed yet: a restart would replay file 1.
        assert_eq!(journal.files().unwrap().len(), 2);
        journal.committed(&mut folded);
        assert_eq!(journal.in_flight(), 0);
        let left: Vec<u64> = journal.files().unwrap().iter().map(|f| f.0).collect();
        assert_eq!(left, [2]);
        // The folded file, zeroed, is the one after the next.
        assert!(journal.admit("t", "a", UsageKind::ApiCall, 11));
        let folded = journal.take().unwrap().unwrap();
        assert_eq!(folded.through, 2);
        let replayed = |n: u64| {
            replay(
                &std::fs::read(journal.path(n)).unwrap(),
                &mut HashMap::new(),
            )
        };
        assert_eq!((replayed(2), replayed(3)), (1, 0));
        assert!(!journal.spare_path().exists());
    }

    #[test]
    fn a_second_owner_waits_then_replays_only_what_was_not_committed() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _writer) = owned_journal(dir.path());
        let db = dir.path().join("portal.db");
        let other = Journal::beside(&db);
        assert!(!other.try_own(0), "the journal has an owner");
        journal.admit("t", "a", UsageKind::TokenIssued, 10);
        let mut folded = journal.take().unwrap().unwrap();
        journal.committed(&mut folded); // through file 1
        journal.admit("t", "a", UsageKind::TokenIssued, 11);
        journal.admit("t", "a", UsageKind::ApiCall, 11);
        drop(journal); // as a killed process: the lock goes, file 2 stays
        assert!(other.try_own(folded.through));
        assert_eq!(other.in_flight(), 2);
        let replayed = other.take().unwrap().unwrap();
        let (at, counts) = replayed.by_agent["a"].by_second[0];
        assert_eq!((at, counts.tokens_issued, counts.api_calls), (11, 1, 1));
    }

    #[test]
    fn a_start_after_a_run_without_requests_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("portal.db");
        let (journal, _writer) = owned_journal(dir.path());
        drop(journal); // stopped with nothing journaled: file 1 is empty
        let second = Journal::beside(&db);
        assert!(second.try_own(0));
        drop(second);
        let third = Journal::beside(&db);
        assert!(third.try_own(0));
        let left: Vec<u64> = third.files().unwrap().iter().map(|f| f.0).collect();
        assert_eq!(left, [3], "only the new owner's file");
    }

    #[test]
    fn a_commit_by_anyone_else_closes_the_fast_path_until_the_writer_learns_again() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, writer) = owned_journal(dir.path());
        assert!(journal.admit("t", "a", UsageKind::TokenIssued, 10));
        let someone = Connection::open(dir.path().join("portal.db")).unwrap();
        someone.execute("INSERT INTO x VALUES (1)", []).unwrap();
        assert!(!journal.admit("t", "a", UsageKind::TokenIssued, 10));
        writer_learns_t(&journal, &writer);
        assert!(journal.admit("t", "a", UsageKind::TokenIssued, 10));
        // Someone committed between the writer's commit and its look.
        let version = data_version(&writer).unwrap();
        journal
            .commit_and_learn(|| Ok(()), version, || Some(version + 1), [])
            .unwrap();
        assert!(!journal.admit("t", "a", UsageKind::TokenIssued, 10));
    }
}
