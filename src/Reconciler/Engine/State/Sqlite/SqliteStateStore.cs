using Microsoft.Data.Sqlite;
using Reconciler.Diff.Live;

namespace Reconciler.State.Sqlite;

/// <summary>
/// Live state in one SQLite file (WAL mode), the default store: .reconciler/state.db beside the repo.
/// Safe for several processes at once: every write is one BEGIN IMMEDIATE transaction (writers queue on the
/// file lock, waiting up to <see cref="BusyTimeoutSeconds"/>), and the version check happens inside it.
/// Schema and semantics: docs/state.md.
/// </summary>
public sealed class SqliteStateStore : IStateStore
{
    public const int SchemaVersion = 2;
    public const int BusyTimeoutSeconds = 30;

    private readonly string _connectionString;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _initGate = new(1, 1);
    private readonly SqliteJournalAppender _journal;
    private volatile bool _initialized;

    public SqliteStateStore(string path, TimeProvider time)
    {
        Path = System.IO.Path.GetFullPath(path);
        _time = time;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWrite,   // never creates: SqliteStoreFile does, only where no file exists
            Pooling = true,
            DefaultTimeout = BusyTimeoutSeconds,
        }.ToString();
        _journal = new SqliteJournalAppender(OpenJournalConnectionAsync);
    }

    public string Path { get; }
    public string Describe => $"sqlite:{Path}";

    // ---- live state -------------------------------------------------------------------------------------

    public Task<LiveState> ReadAsync(string environment, CancellationToken ct) => ReadAsync(environment, null, ct);

    public Task<LiveState> ReadAsync(string environment, ConvergedMemo? memo, CancellationToken ct) => Run(c =>
    {
        StateNames.Check("environment", environment);
        using var tx = c.BeginTransaction(deferred: true);   // one read snapshot for all three reads (WAL: readers never block writers)
        var (version, lastGood) = ReadEnvironmentRow(c, tx, environment);
        var services = StateJson.ReadServices(
            ReadUtf8Bodies(c, tx, "SELECT name, body FROM services WHERE env = $env ORDER BY name", environment),
            name => $"{Describe} services[{environment}/{name}]", memo);
        var toggles = ReadBodies(c, tx, "SELECT name, body FROM toggles WHERE env = $env ORDER BY name", environment)
            .Select(b => StateJson.Deserialize<LiveToggle>(b.Body, $"{Describe} toggles[{environment}/{b.Name}]")).ToList();
        tx.Commit();
        return StateJson.BuildState(environment, version, services, toggles, lastGood);
    }, ct);

    public Task<LiveState> ReadServicesAsync(string environment, IReadOnlyCollection<string> services, CancellationToken ct) => Run(c =>
    {
        StateNames.Check("environment", environment);
        using var tx = c.BeginTransaction(deferred: true);   // the version and the rows of one snapshot
        var (version, lastGood) = ReadEnvironmentRow(c, tx, environment);
        var bodies = new List<(string Name, byte[] Body)>();
        using (var cmd = Command(c, tx, "SELECT body FROM services WHERE env = $env AND name = $name", ("$env", environment), ("$name", "")))
            foreach (var name in services.Order(StringComparer.Ordinal))
            {
                cmd.Parameters["$name"].Value = name;
                using var r = cmd.ExecuteReader();
                if (r.Read()) bodies.Add((name, r.GetFieldValue<byte[]>(0)));
            }
        var live = StateJson.ReadServices(bodies, name => $"{Describe} services[{environment}/{name}]", null);
        var toggles = ReadBodies(c, tx, "SELECT name, body FROM toggles WHERE env = $env ORDER BY name", environment)
            .Select(b => StateJson.Deserialize<LiveToggle>(b.Body, $"{Describe} toggles[{environment}/{b.Name}]")).ToList();
        tx.Commit();
        return StateJson.BuildState(environment, version, live, toggles, lastGood);
    }, ct);

    public Task<long> WriteAsync(string environment, long expectedVersion, StateChange change, CancellationToken ct) => Run(c =>
    {
        StateNames.Check("environment", environment);
        StateNames.CheckChange(change);
        using var tx = c.BeginTransaction(deferred: false);   // BEGIN IMMEDIATE: take the write lock first
        var (current, lastGood) = ReadEnvironmentRow(c, tx, environment);
        if (current != expectedVersion)
            throw new StateConflictException($"{environment} ({Describe})", expectedVersion, current);
        foreach (var name in change.RemoveServices)
            Exec(c, tx, "DELETE FROM services WHERE env = $env AND name = $name", ("$env", environment), ("$name", name));
        foreach (var s in change.UpsertServices)
            SqliteUtf8Rows.Upsert(c, "INSERT INTO services(env, name, body) VALUES(?1, ?2, ?3) ON CONFLICT(env, name) DO UPDATE SET body = excluded.body",
                environment, s.Name, s);
        foreach (var name in change.RemoveToggles)
            Exec(c, tx, "DELETE FROM toggles WHERE env = $env AND name = $name", ("$env", environment), ("$name", name));
        foreach (var t in change.UpsertToggles)
            SqliteUtf8Rows.Upsert(c, "INSERT INTO toggles(env, name, body) VALUES(?1, ?2, ?3) ON CONFLICT(env, name) DO UPDATE SET body = excluded.body",
                environment, t.Name, t);
        var next = current + 1;
        Exec(c, tx, "INSERT INTO environments(env, version, last_good_commit) VALUES($env, $v, $lg) " +
                    "ON CONFLICT(env) DO UPDATE SET version = excluded.version, last_good_commit = excluded.last_good_commit",
            ("$env", environment), ("$v", next), ("$lg", change.LastGoodCommit ?? lastGood));
        tx.Commit();
        return next;
    }, ct);

    // ---- journal ----------------------------------------------------------------------------------------

    // synchronous=NORMAL: a process crash (kill -9) right after an append returns keeps the entry; an OS crash or power loss
    // may drop the newest entries (never corrupt the file), and a re-run then redoes those idempotent steps. FULL would
    // cost an fsync (~10 ms here) per step; see docs/state.md.
    public Task AppendJournalAsync(JournalEntry entry, CancellationToken ct) => AppendJournalAsync([entry], ct);

    /// <summary>One transaction for all the entries (all or none), on the journal's own connection with its INSERT prepared
    /// once (<see cref="SqliteJournalAppender"/>, tables: <see cref="SqliteJournalTables"/>).</summary>
    public async Task AppendJournalAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct)
    {
        JournalEntry? checkedNames = null;
        foreach (var entry in entries)
        {
            // A group is one apply's entries: its names are checked once, not per entry (a pattern match each).
            if (checkedNames is not null && checkedNames.Environment == entry.Environment && checkedNames.ApplyId == entry.ApplyId) continue;
            StateNames.Check("environment", entry.Environment);
            StateNames.Check("apply id", entry.ApplyId);
            checkedNames = entry;
        }
        try
        {
            await _journal.AppendAsync(entries, ct);
        }
        catch (SqliteException e)
        {
            throw Unavailable(e);
        }
    }

    public Task<IReadOnlyList<JournalEntry>> ReadOpenJournalAsync(string environment, CancellationToken ct) => Run(c =>
    {
        StateNames.Check("environment", environment);
        return SqliteJournalTables.ReadOpen(c, environment);
    }, ct);

    public Task CloseJournalAsync(string environment, string applyId, CancellationToken ct) => Run(c =>
    {
        SqliteJournalTables.Close(c, environment, applyId);
        return 0;
    }, ct);

    // ---- history and quarantine -------------------------------------------------------------------------

    public Task AppendHistoryAsync(HistoryEntry entry, CancellationToken ct) => Run(c =>
    {
        StateNames.Check("environment", entry.Environment);
        StateNames.Check("history id", entry.Id);
        // Upsert by id: an apply records its entry when it starts and again, complete, when it ends.
        Exec(c, null, "INSERT INTO history(env, id, started_ms, body) VALUES($env, $id, $ms, $body) " +
                      "ON CONFLICT(env, id) DO UPDATE SET started_ms = excluded.started_ms, body = excluded.body",
            ("$env", entry.Environment), ("$id", entry.Id), ("$ms", entry.Started.ToUnixTimeMilliseconds()), ("$body", StateJson.Serialize(entry)));
        return 0;
    }, ct);

    public Task<IReadOnlyList<HistoryEntry>> ReadHistoryAsync(string environment, int limit, CancellationToken ct) => Run(c =>
    {
        using var cmd = Command(c, null, "SELECT id, body FROM history WHERE env = $env ORDER BY started_ms DESC, id DESC LIMIT $limit",
            ("$env", environment), ("$limit", Math.Max(0, limit)));
        IReadOnlyList<HistoryEntry> list = ReadAll(cmd).Select(b => StateJson.Deserialize<HistoryEntry>(b.Body, $"{Describe} history[{environment}/{b.Name}]")).ToList();
        return list;
    }, ct);

    public Task QuarantineAsync(string environment, QuarantinedCommit commit, CancellationToken ct) => Run(c =>
    {
        StateNames.Check("environment", environment);
        StateNames.Check("commit", commit.Commit);
        Exec(c, null, "INSERT INTO quarantine(env, commit_id, at_ms, body) VALUES($env, $commit, $ms, $body) " +
                      "ON CONFLICT(env, commit_id) DO UPDATE SET at_ms = excluded.at_ms, body = excluded.body",
            ("$env", environment), ("$commit", commit.Commit), ("$ms", commit.At.ToUnixTimeMilliseconds()), ("$body", StateJson.Serialize(commit)));
        return 0;
    }, ct);

    public Task<IReadOnlyList<QuarantinedCommit>> ReadQuarantineAsync(string environment, CancellationToken ct) => Run(c =>
    {
        IReadOnlyList<QuarantinedCommit> list = ReadBodies(c, null, "SELECT commit_id, body FROM quarantine WHERE env = $env ORDER BY at_ms, commit_id", environment)
            .Select(b => StateJson.Deserialize<QuarantinedCommit>(b.Body, $"{Describe} quarantine[{environment}/{b.Name}]")).ToList();
        return list;
    }, ct);

    public Task<bool> UnquarantineAsync(string environment, string commit, CancellationToken ct) => Run(c =>
    {
        StateNames.Check("environment", environment);
        return Exec(c, null, "DELETE FROM quarantine WHERE env = $env AND commit_id = $commit", ("$env", environment), ("$commit", commit)) > 0;
    }, ct);

    // ---- lock and freeze --------------------------------------------------------------------------------

    public Task<LockAttempt> TryAcquireLockAsync(string environment, string owner, string reason, TimeSpan ttl, CancellationToken ct) => Run(c =>
    {
        StateNames.Check("environment", environment);
        if (ttl <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "a lock TTL must be positive");
        using var tx = c.BeginTransaction(deferred: false);
        var now = _time.GetUtcNow();
        var held = ReadLockRow(c, tx, environment);
        if (held is not null && held.ExpiresAt > now && held.Owner != owner)
        {
            tx.Rollback();
            return new LockAttempt(false, held);
        }
        // Free, expired, or ours already (re-acquiring refreshes the TTL and reason, keeps the acquisition time).
        var acquiredAt = held is not null && held.ExpiresAt > now ? held.AcquiredAt : now;
        var info = new LockInfo(environment, owner, reason, acquiredAt, now + ttl);
        Exec(c, tx, "INSERT INTO locks(env, owner, reason, acquired_ms, expires_ms) VALUES($env, $owner, $reason, $a, $e) " +
                    "ON CONFLICT(env) DO UPDATE SET owner = excluded.owner, reason = excluded.reason, acquired_ms = excluded.acquired_ms, expires_ms = excluded.expires_ms",
            ("$env", environment), ("$owner", owner), ("$reason", reason), ("$a", acquiredAt.ToUnixTimeMilliseconds()), ("$e", info.ExpiresAt.ToUnixTimeMilliseconds()));
        tx.Commit();
        return new LockAttempt(true, info);
    }, ct);

    public Task<bool> RenewLockAsync(string environment, string owner, TimeSpan ttl, CancellationToken ct) => Run(c =>
    {
        var now = _time.GetUtcNow();
        var rows = Exec(c, null, "UPDATE locks SET expires_ms = $e WHERE env = $env AND owner = $owner AND expires_ms > $now",
            ("$env", environment), ("$owner", owner), ("$e", (now + ttl).ToUnixTimeMilliseconds()), ("$now", now.ToUnixTimeMilliseconds()));
        return rows == 1;
    }, ct);

    public Task<bool> ReleaseLockAsync(string environment, string owner, bool force, CancellationToken ct) => Run(c =>
    {
        var rows = force
            ? Exec(c, null, "DELETE FROM locks WHERE env = $env", ("$env", environment))
            : Exec(c, null, "DELETE FROM locks WHERE env = $env AND owner = $owner", ("$env", environment), ("$owner", owner));
        return rows > 0;
    }, ct);

    public Task<LockInfo?> ReadLockAsync(string environment, CancellationToken ct) => Run(c =>
    {
        var held = ReadLockRow(c, null, environment);
        return held is not null && held.ExpiresAt > _time.GetUtcNow() ? held : null;
    }, ct);

    public Task SetFreezeAsync(string environment, FreezeInfo? freeze, CancellationToken ct) => Run(c =>
    {
        StateNames.Check("environment", environment);
        if (freeze is null)
            Exec(c, null, "DELETE FROM freezes WHERE env = $env", ("$env", environment));
        else
            Exec(c, null, "INSERT INTO freezes(env, body) VALUES($env, $body) ON CONFLICT(env) DO UPDATE SET body = excluded.body",
                ("$env", environment), ("$body", StateJson.Serialize(freeze)));
        return 0;
    }, ct);

    public Task<FreezeInfo?> ReadFreezeAsync(string environment, CancellationToken ct) => Run(c =>
    {
        var body = ReadBodies(c, null, "SELECT env, body FROM freezes WHERE env = $env", environment).FirstOrDefault();
        return body.Body is null ? null : StateJson.Deserialize<FreezeInfo>(body.Body, $"{Describe} freezes[{environment}]");
    }, ct);

    // ---- plumbing ---------------------------------------------------------------------------------------

    private static (long Version, string? LastGood) ReadEnvironmentRow(SqliteConnection c, SqliteTransaction? tx, string env)
    {
        using var cmd = Command(c, tx, "SELECT version, last_good_commit FROM environments WHERE env = $env", ("$env", env));
        using var r = cmd.ExecuteReader();
        return r.Read() ? (r.GetInt64(0), r.IsDBNull(1) ? null : r.GetString(1)) : (0, null);
    }

    private static LockInfo? ReadLockRow(SqliteConnection c, SqliteTransaction? tx, string env)
    {
        using var cmd = Command(c, tx, "SELECT owner, reason, acquired_ms, expires_ms FROM locks WHERE env = $env", ("$env", env));
        using var r = cmd.ExecuteReader();
        return r.Read()
            ? new LockInfo(env, r.GetString(0), r.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)))
            : null;
    }

    private static List<(string Name, string Body)> ReadBodies(SqliteConnection c, SqliteTransaction? tx, string sql, string env)
    {
        using var cmd = Command(c, tx, sql, ("$env", env));
        return ReadAll(cmd);
    }

    /// <summary>As <see cref="ReadBodies"/>, each body as the UTF-8 SQLite holds (no UTF-16 string to encode again).</summary>
    private static List<(string Name, byte[] Body)> ReadUtf8Bodies(SqliteConnection c, SqliteTransaction? tx, string sql, string env)
    {
        using var cmd = Command(c, tx, sql, ("$env", env));
        using var r = cmd.ExecuteReader();
        var list = new List<(string, byte[])>();
        while (r.Read()) list.Add((r.GetString(0), r.GetFieldValue<byte[]>(1)));
        return list;
    }

    private static List<(string Name, string Body)> ReadAll(SqliteCommand cmd)
    {
        using var r = cmd.ExecuteReader();
        var list = new List<(string, string)>();
        while (r.Read()) list.Add((Convert.ToString(r.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!, r.GetString(1)));
        return list;
    }

    private static int Exec(SqliteConnection c, SqliteTransaction? tx, string sql, params (string Name, object? Value)[] args)
    {
        using var cmd = Command(c, tx, sql, args);
        return cmd.ExecuteNonQuery();
    }

    private static SqliteCommand Command(SqliteConnection c, SqliteTransaction? tx, string sql, params (string Name, object? Value)[] args)
    {
        var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }

    /// <summary>Opens a connection (schema created on first use) and maps every SQLite failure to a clear
    /// StateStoreUnavailableException. Nothing is half-written: each write is one transaction. synchronous=FULL: every
    /// commit is fsynced (live state, lock, quarantine, freeze); the journal's own connection uses NORMAL.</summary>
    private async Task<T> Run<T>(Func<SqliteConnection, T> op, CancellationToken ct)
    {
        try
        {
            await using var c = new SqliteConnection(_connectionString);
            await OpenAsync(c, ct);
            Exec(c, null, "PRAGMA synchronous = FULL;");
            return op(c);
        }
        catch (SqliteException e)
        {
            throw Unavailable(e);
        }
    }

    private async Task<SqliteConnection> OpenJournalConnectionAsync(CancellationToken ct)
    {
        var c = new SqliteConnection(_connectionString);
        try
        {
            await OpenAsync(c, ct);
            Exec(c, null, "PRAGMA synchronous = NORMAL;");
            return c;
        }
        catch
        {
            await c.DisposeAsync();
            throw;
        }
    }

    private async Task OpenAsync(SqliteConnection c, CancellationToken ct)
    {
        if (!_initialized) SqliteStoreFile.CreateIfMissing(Path, Describe, Schema);
        await c.OpenAsync(ct);
        Exec(c, null, $"PRAGMA busy_timeout = {BusyTimeoutSeconds * 1000};");
        if (_initialized) return;
        await _initGate.WaitAsync(ct);
        try
        {
            if (_initialized) return;
            SqliteStoreFile.CheckHeader(Path, Describe);
            bool unstamped;
            using (var read = c.BeginTransaction(deferred: true))   // before anything is written to a file that may not be ours
                unstamped = SqliteStoreFile.CheckIdentity(c, read, Describe);
            Exec(c, null, "PRAGMA journal_mode = WAL;");
            using (var tx = c.BeginTransaction(deferred: false))
            {
                if (unstamped) Exec(c, tx, $"PRAGMA application_id = {SqliteStoreFile.ApplicationId};");
                Exec(c, tx, Schema);
                using var cmd = Command(c, tx, "SELECT value FROM meta WHERE key = 'schema'");
                var stored = Convert.ToInt32(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
                if (stored > SchemaVersion)
                    throw new StateStoreUnavailableException(
                        $"{Describe} has state schema version {stored}; this reconciler understands up to {SchemaVersion}. Upgrade reconciler. Nothing was written.");
                if (stored < SchemaVersion) Migrate(c, tx, stored);
                tx.Commit();
            }
            _initialized = true;
        }
        finally
        {
            _initGate.Release();
        }
    }

    /// <summary>Brings a store written by an older build to <see cref="SchemaVersion"/>, in the opening transaction (so
    /// a process that opens it meanwhile waits, then finds it migrated). docs/state.md, "Schema versions".</summary>
    private void Migrate(SqliteConnection c, SqliteTransaction tx, int stored)
    {
        if (stored < 2) SqliteJournalTables.MigrateFromVersion1(c, tx, Describe);
        Exec(c, tx, "UPDATE meta SET value = $v WHERE key = 'schema'", ("$v", SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    private StateStoreUnavailableException Unavailable(SqliteException e) => e.SqliteErrorCode switch
    {
        11 or 26 => new($"{Describe} is corrupt ({e.Message}). Nothing was written. Restore it from a backup, or move it aside to start from " +
                        "empty live state (the next apply then redeploys every service).", e),
        5 or 6 => new($"{Describe} stayed locked by another process for over {BusyTimeoutSeconds}s ({e.Message}). Nothing was written; try again.", e),
        8 or 3 or 23 => new($"{Describe} is not writable ({e.Message}). Check the file and directory permissions.", e),
        14 => new($"cannot open {Describe} ({e.Message}). Check that the directory exists and is writable, or pass --state sqlite:PATH.", e),
        13 => new($"{Describe}: the disk is full ({e.Message}). Nothing was written.", e),
        _ => new($"{Describe} failed: {e.Message}", e),
    };

    // The journal's tables: SqliteJournalTables.Schema. A store of schema 1 has the meta row '1' already (and is migrated).
    private const string Schema = SqliteJournalTables.Schema + """
        CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT OR IGNORE INTO meta(key, value) VALUES('schema', '2');
        CREATE TABLE IF NOT EXISTS environments(env TEXT PRIMARY KEY, version INTEGER NOT NULL, last_good_commit TEXT);
        CREATE TABLE IF NOT EXISTS services(env TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY(env, name));
        CREATE TABLE IF NOT EXISTS toggles(env TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY(env, name));
        CREATE TABLE IF NOT EXISTS history(env TEXT NOT NULL, id TEXT NOT NULL, started_ms INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY(env, id));
        CREATE TABLE IF NOT EXISTS quarantine(env TEXT NOT NULL, commit_id TEXT NOT NULL, at_ms INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY(env, commit_id));
        CREATE TABLE IF NOT EXISTS locks(env TEXT PRIMARY KEY, owner TEXT NOT NULL, reason TEXT NOT NULL, acquired_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS freezes(env TEXT PRIMARY KEY, body TEXT NOT NULL);
        """;

    public ValueTask DisposeAsync()
    {
        // Pooled connections keep the file open (and the WAL un-checkpointed); let go of them, and the journal's, with the store.
        _journal.Dispose();
        using (var c = new SqliteConnection(_connectionString)) SqliteConnection.ClearPool(c);
        _initGate.Dispose();
        return ValueTask.CompletedTask;
    }
}
