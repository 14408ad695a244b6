using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Reconciler.State.Sqlite;

/// <summary>
/// The journal's tables (schema version 2): one <c>applies</c> row per apply (environment, apply id, commit, closed) and
/// one compact <c>journal_steps</c> row per entry (the apply's key, step, status, time, detail). An entry used to be a
/// ~300-byte JSON body that repeated the environment, apply id and commit, and closing an apply rewrote every one of its
/// rows; now closing sets one flag, and the open journal is the steps of the environment's open applies, in append order
/// (the steps' rowid: rows are never deleted, so a new rowid is always the largest, without AUTOINCREMENT's
/// <c>sqlite_sequence</c> update). docs/state.md, "Journal"; why: docs/benchmarks.md, "Scale".
/// </summary>
internal static class SqliteJournalTables
{
    public const string Schema = """
        CREATE TABLE IF NOT EXISTS applies(apply_key INTEGER PRIMARY KEY, env TEXT NOT NULL, apply_id TEXT NOT NULL, commit_id TEXT NOT NULL, closed INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS applies_open ON applies(env, apply_id) WHERE closed = 0;
        CREATE TABLE IF NOT EXISTS journal_steps(apply_key INTEGER NOT NULL, step TEXT NOT NULL, status INTEGER NOT NULL, at_ticks INTEGER NOT NULL, at_offset_minutes INTEGER, detail TEXT, commit_id TEXT);
        CREATE INDEX IF NOT EXISTS journal_steps_apply ON journal_steps(apply_key);
        """;

    // The stored status is the enum's value: Started 0, Finished 1, Failed 2 (docs/state.md).
    private const string InsertStep =
        "INSERT INTO journal_steps(apply_key, step, status, at_ticks, at_offset_minutes, detail, commit_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";

    private const string FindOpenApply = "SELECT apply_key FROM applies WHERE env = ?1 AND apply_id = ?2 AND closed = 0";

    /// <summary>Prepares the lookup <see cref="OpenApplyKey"/> runs once per group, on <paramref name="c"/>'s handle
    /// (a command of its own per group was prepared again each time).</summary>
    public static sqlite3_stmt PrepareFindOpenApply(SqliteConnection c) => SqliteRaw.Prepare(c.Handle!, FindOpenApply);

    /// <summary>The key of the open apply <paramref name="applyId"/> of <paramref name="environment"/>, created with
    /// <paramref name="commit"/> when there is none (a new apply, or one appended to again after it was closed: its new
    /// entries are open, its old ones stay closed, as they did when every entry carried its own flag). <paramref name="find"/>
    /// is the statement from <see cref="PrepareFindOpenApply"/>.</summary>
    public static long OpenApplyKey(SqliteConnection c, SqliteTransaction tx, sqlite3_stmt find, string environment, string applyId, string commit)
    {
        var db = c.Handle!;
        try
        {
            SqliteRaw.Check(BindText(find, 1, environment), db);
            SqliteRaw.Check(BindText(find, 2, applyId), db);
            var rc = raw.sqlite3_step(find);
            if (rc == raw.SQLITE_ROW) return raw.sqlite3_column_int64(find, 0);
            if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, db);
        }
        finally
        {
            raw.sqlite3_reset(find);
        }
        using var insert = Command(c, tx, "INSERT INTO applies(env, apply_id, commit_id, closed) VALUES($env, $id, $commit, 0) RETURNING apply_key",
            ("$env", environment), ("$id", applyId), ("$commit", commit));
        return (long)insert.ExecuteScalar()!;
    }

    /// <summary>Prepares the step INSERT on <paramref name="c"/>'s handle. Positional parameters bound straight through
    /// SQLitePCLRaw (the library under Microsoft.Data.Sqlite): its command binds every parameter by name and makes a
    /// reader per execution, which cost more than SQLite's own insert at thousands of entries per apply.</summary>
    public static sqlite3_stmt PrepareInsert(SqliteConnection c)
    {
        return SqliteRaw.Prepare(c.Handle!, InsertStep);
    }

    /// <summary>Inserts one entry of the apply <paramref name="applyKey"/> (whose commit is <paramref name="applyCommit"/>)
    /// with the statement from <see cref="PrepareInsert"/>, in the caller's transaction.</summary>
    public static void Insert(SqliteConnection c, sqlite3_stmt insert, long applyKey, string applyCommit, JournalEntry entry)
    {
        var db = c.Handle!;
        try
        {
            SqliteRaw.Check(raw.sqlite3_bind_int64(insert, 1, applyKey), db);
            SqliteRaw.Check(BindText(insert, 2, entry.Step), db);
            SqliteRaw.Check(raw.sqlite3_bind_int(insert, 3, (int)entry.Status), db);
            SqliteRaw.Check(raw.sqlite3_bind_int64(insert, 4, entry.At.UtcTicks), db);
            var offset = (int)entry.At.Offset.TotalMinutes;
            SqliteRaw.Check(offset == 0 ? raw.sqlite3_bind_null(insert, 5) : raw.sqlite3_bind_int(insert, 5, offset), db);
            SqliteRaw.Check(entry.Detail is null ? raw.sqlite3_bind_null(insert, 6) : BindText(insert, 6, entry.Detail), db);
            // The apply's commit is stored once, in its row; an entry names its own only when it differs.
            SqliteRaw.Check(entry.Commit == applyCommit ? raw.sqlite3_bind_null(insert, 7) : raw.sqlite3_bind_text(insert, 7, entry.Commit), db);
            SqliteRaw.StepDone(insert, db);
        }
        finally
        {
            raw.sqlite3_reset(insert);
        }
    }

    /// <summary>The entries of the environment's open applies, in append order.</summary>
    public static IReadOnlyList<JournalEntry> ReadOpen(SqliteConnection c, string environment)
    {
        using var cmd = Command(c, null,
            "SELECT a.apply_id, a.commit_id, s.step, s.status, s.at_ticks, s.at_offset_minutes, s.detail, s.commit_id " +
            "FROM applies a JOIN journal_steps s ON s.apply_key = a.apply_key WHERE a.env = $env AND a.closed = 0 ORDER BY s.rowid",
            ("$env", environment));
        using var r = cmd.ExecuteReader();
        var list = new List<JournalEntry>();
        while (r.Read())
        {
            var offset = r.IsDBNull(5) ? TimeSpan.Zero : TimeSpan.FromMinutes(r.GetInt32(5));
            var at = new DateTimeOffset(new DateTime(r.GetInt64(4), DateTimeKind.Utc)).ToOffset(offset);
            list.Add(new JournalEntry(environment, r.GetString(0), r.IsDBNull(7) ? r.GetString(1) : r.GetString(7), r.GetString(2),
                (JournalStatus)r.GetInt32(3), at, r.IsDBNull(6) ? null : r.GetString(6)));
        }
        return list;
    }

    /// <summary>Closes the apply: one row. Its entries stay, as an audit trail.</summary>
    public static void Close(SqliteConnection c, string environment, string applyId)
    {
        using var cmd = Command(c, null, "UPDATE applies SET closed = 1 WHERE env = $env AND apply_id = $id AND closed = 0",
            ("$env", environment), ("$id", applyId));
        cmd.ExecuteNonQuery();
    }

    /// <summary>Schema 1 to 2, in the caller's transaction: every entry of the old <c>journal</c> table (a JSON body each,
    /// a <c>closed</c> flag on every row) moves, in its order, to an apply row with its steps; then the old table goes. An
    /// apply that was in flight when the old build stopped is an open apply afterwards, with the same entries, and
    /// resumes; a closed one stays closed.</summary>
    public static void MigrateFromVersion1(SqliteConnection c, SqliteTransaction tx, string describe)
    {
        using var exists = Command(c, tx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'journal'");
        if ((long)exists.ExecuteScalar()! == 0) return;
        var applies = new Dictionary<(string Env, string ApplyId, bool Closed), (long Key, string Commit)>();
        var insert = PrepareInsert(c);
        try
        {
            using var read = Command(c, tx, "SELECT seq, env, apply_id, body, closed FROM journal ORDER BY seq");
            using var r = read.ExecuteReader();
            while (r.Read())
            {
                var entry = StateJson.Deserialize<JournalEntry>(r.GetString(3), $"{describe} journal[{r.GetInt64(0)}]");
                var id = (r.GetString(1), r.GetString(2), r.GetInt64(4) != 0);
                if (!applies.TryGetValue(id, out var apply))
                {
                    using var add = Command(c, tx, "INSERT INTO applies(env, apply_id, commit_id, closed) VALUES($env, $id, $commit, $closed) RETURNING apply_key",
                        ("$env", id.Item1), ("$id", id.Item2), ("$commit", entry.Commit), ("$closed", id.Item3 ? 1 : 0));
                    applies[id] = apply = ((long)add.ExecuteScalar()!, entry.Commit);
                }
                Insert(c, insert, apply.Key, apply.Commit, entry);
            }
        }
        finally
        {
            insert.Dispose();
        }
        using var drop = Command(c, tx, "DROP TABLE journal");   // its index and sqlite_sequence row go with it
        drop.ExecuteNonQuery();
    }

    /// <summary>Binds a short text from UTF-8 on the stack (SQLite copies it): the string overload allocates an array for
    /// its UTF-8 copy, at every step of every host.</summary>
    private static int BindText(sqlite3_stmt stmt, int index, string value)
    {
        // An empty span pins as a null pointer, which SQLite would bind as NULL, not as ''.
        if (value.Length > 256) return raw.sqlite3_bind_text(stmt, index, value);
        Span<byte> utf8 = stackalloc byte[value.Length * 3];
        var length = System.Text.Encoding.UTF8.GetBytes(value, utf8);
        return raw.sqlite3_bind_text(stmt, index, utf8[..length]);
    }

    private static SqliteCommand Command(SqliteConnection c, SqliteTransaction? tx, string sql, params (string Name, object Value)[] args)
    {
        var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value);
        return cmd;
    }
}
