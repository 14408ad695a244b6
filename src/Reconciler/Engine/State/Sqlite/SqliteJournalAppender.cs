using Microsoft.Data.Sqlite;

namespace Reconciler.State.Sqlite;

/// <summary>
/// The journal's own connection to the store file: opened at the first append and kept, with its pragmas
/// (busy_timeout, synchronous=NORMAL) set once and its INSERT prepared once. An apply appends a few entries per host
/// step; opening a pooled connection and setting two pragmas for each cost more than the insert itself
/// (docs/benchmarks.md, "Scale"). Holding the connection takes no lock on the file: every append is still its own
/// transaction (autocommit, or BEGIN IMMEDIATE for a group), queued on the file lock like any other writer.
/// </summary>
internal sealed class SqliteJournalAppender(Func<CancellationToken, Task<SqliteConnection>> open) : IDisposable
{
    // One append at a time on the one connection (a connection is not thread-safe); appends of one apply are serialised
    // by its group commit already, so this only orders appends of several applies sharing the store.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private SqliteConnection? _connection;
    private SqliteCommand? _insert;

    /// <summary>Stores <paramref name="entries"/> in order, all or none. A failure closes the connection (the next append
    /// opens a new one, as a pooled call would) and throws the <see cref="SqliteException"/> for the store to word.</summary>
    public async Task AppendAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var insert = _insert ??= await PrepareAsync(ct);
            if (entries.Count == 1)
            {
                Insert(insert, entries[0]);   // autocommit: one statement is its own transaction
                return;
            }
            using var tx = insert.Connection!.BeginTransaction(deferred: false);
            insert.Transaction = tx;
            try
            {
                foreach (var entry in entries) Insert(insert, entry);
                tx.Commit();
            }
            finally
            {
                insert.Transaction = null;
            }
        }
        catch (SqliteException)
        {
            Close();
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<SqliteCommand> PrepareAsync(CancellationToken ct)
    {
        _connection = await open(ct);
        var insert = _connection.CreateCommand();
        insert.CommandText = "INSERT INTO journal(env, apply_id, body, closed) VALUES($env, $id, $body, 0)";
        insert.Parameters.Add("$env", SqliteType.Text);
        insert.Parameters.Add("$id", SqliteType.Text);
        insert.Parameters.Add("$body", SqliteType.Text);
        insert.Prepare();
        return insert;
    }

    private static void Insert(SqliteCommand insert, JournalEntry entry)
    {
        insert.Parameters[0].Value = entry.Environment;
        insert.Parameters[1].Value = entry.ApplyId;
        insert.Parameters[2].Value = StateJson.Serialize(entry);
        insert.ExecuteNonQuery();
    }

    private void Close()
    {
        _insert?.Dispose();
        _connection?.Dispose();
        (_insert, _connection) = (null, null);
    }

    /// <summary>Closes the connection; a later append opens a new one.</summary>
    public void Dispose()
    {
        _gate.Wait();
        try { Close(); }
        finally { _gate.Release(); }
    }
}
