using Microsoft.Data.Sqlite;
using Reconciler.State;

namespace Reconciler.Engine.Tests.State;

/// <summary>
/// Writes a store file as schema version 1 had its journal, for the migration tests: the v1 <c>journal</c> table, index
/// and INSERT exactly as the v1 build declared and ran them (one JSON body per entry, a <c>closed</c> flag on every
/// row), and <c>meta</c> schema '1'. The other tables did not change between the versions.
/// </summary>
internal static class SqliteSchemaV1
{
    private const string JournalTable = """
        CREATE TABLE IF NOT EXISTS journal(seq INTEGER PRIMARY KEY AUTOINCREMENT, env TEXT NOT NULL, apply_id TEXT NOT NULL, body TEXT NOT NULL, closed INTEGER NOT NULL);
        DROP INDEX IF EXISTS journal_open;
        CREATE INDEX IF NOT EXISTS journal_open_rows ON journal(env, seq) WHERE closed = 0;
        """;

    /// <summary>Turns the store at <paramref name="path"/> (written by this build, closed) into a version 1 store whose
    /// journal holds <paramref name="journal"/>, in that order.</summary>
    public static void Downgrade(string path, IEnumerable<(JournalEntry Entry, bool Closed)> journal)
    {
        using var c = new SqliteConnection($"Data Source={path};Pooling=false");
        c.Open();
        using var tx = c.BeginTransaction();
        Exec(c, tx, "DROP TABLE applies; DROP TABLE journal_steps; " + JournalTable + "UPDATE meta SET value = '1' WHERE key = 'schema';");
        foreach (var (entry, closed) in journal)
        {
            using var insert = c.CreateCommand();
            insert.Transaction = tx;
            insert.CommandText = "INSERT INTO journal(env, apply_id, body, closed) VALUES($env, $id, $body, $closed)";
            insert.Parameters.AddWithValue("$env", entry.Environment);
            insert.Parameters.AddWithValue("$id", entry.ApplyId);
            insert.Parameters.AddWithValue("$body", StateJson.Serialize(entry));
            insert.Parameters.AddWithValue("$closed", closed ? 1 : 0);
            insert.ExecuteNonQuery();
        }
        tx.Commit();
    }

    public static object? Scalar(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Pooling=false");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    private static void Exec(SqliteConnection c, SqliteTransaction tx, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
