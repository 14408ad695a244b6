using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Reconciler.State.Sqlite;

/// <summary>
/// The few SQLitePCLRaw calls the store makes itself (the journal's step INSERT, service and toggle bodies bound as
/// UTF-8), each failure raised as the <see cref="SqliteException"/> Microsoft.Data.Sqlite would raise, so the store words
/// it the same way (docs/state.md, "Journal").
/// </summary>
internal static class SqliteRaw
{
    public static sqlite3_stmt Prepare(sqlite3 db, string sql)
    {
        Check(raw.sqlite3_prepare_v2(db, sql, out var stmt), db);
        return stmt;
    }

    /// <summary>Runs a statement that returns no rows.</summary>
    public static void StepDone(sqlite3_stmt stmt, sqlite3 db)
    {
        var rc = raw.sqlite3_step(stmt);
        if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, db);
    }

    public static void Check(int rc, sqlite3 db)
    {
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, db);
    }
}
