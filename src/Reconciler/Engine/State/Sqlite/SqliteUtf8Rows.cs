using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Reconciler.State.Sqlite;

/// <summary>
/// Upserts a row whose body is JSON serialised straight to UTF-8 and bound as TEXT through SQLitePCLRaw (the library
/// under Microsoft.Data.Sqlite). A live service's body holds every host (~300 KB for 2,000 hosts) and an apply writes it
/// again at every batch: as a string parameter it was serialised to UTF-16 and copied to UTF-8 again for SQLite, two
/// large-object allocations per write that the GC then collects (docs/benchmarks.md, "Scale"). The body is serialised
/// into a buffer kept between writes (SQLite copies what it binds), so a write allocates no new large array either. The
/// stored bytes are the same: the same serialiser call with the same options, and the column stays TEXT.
/// </summary>
internal static class SqliteUtf8Rows
{
    // One spare buffer for the whole process: writes of one store are one at a time, and a buffer is only ever used by
    // the write that took it. One grown past this is let go rather than kept.
    private const int KeepAtMost = 16 * 1024 * 1024;
    private static MemoryStream? s_spare;

    /// <summary>Runs <paramref name="sql"/> (parameters ?1 environment, ?2 name, ?3 body) in the connection's current
    /// transaction.</summary>
    public static void Upsert<T>(SqliteConnection c, string sql, string environment, string name, T value)
    {
        var body = Interlocked.Exchange(ref s_spare, null) ?? new MemoryStream();
        try
        {
            body.SetLength(0);
            StateJson.SerializeTo(body, value);
            var db = c.Handle!;
            using var stmt = SqliteRaw.Prepare(db, sql);
            SqliteRaw.Check(raw.sqlite3_bind_text(stmt, 1, environment), db);
            SqliteRaw.Check(raw.sqlite3_bind_text(stmt, 2, name), db);
            SqliteRaw.Check(raw.sqlite3_bind_text(stmt, 3, (ReadOnlySpan<byte>)body.GetBuffer().AsSpan(0, (int)body.Length)), db);
            SqliteRaw.StepDone(stmt, db);
        }
        finally
        {
            if (body.Capacity <= KeepAtMost) s_spare = body;
        }
    }
}
