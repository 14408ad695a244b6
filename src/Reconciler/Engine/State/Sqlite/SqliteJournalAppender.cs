using Microsoft.Data.Sqlite;

namespace Reconciler.State.Sqlite;

/// <summary>
/// The journal's own connection to the store file: opened at the first append and kept, with its pragmas
/// (busy_timeout, synchronous=NORMAL) set once and its INSERT and apply lookup prepared once (<see cref="SqliteJournalTables"/>). An apply appends a few entries per host
/// step; opening a pooled connection and setting two pragmas for each cost more than the insert itself
/// (docs/benchmarks.md, "Scale"). Holding the connection takes no lock on the file: every append is still its own
/// transaction (BEGIN IMMEDIATE, one per group), queued on the file lock like any other writer.
/// </summary>
internal sealed class SqliteJournalAppender(Func<CancellationToken, Task<SqliteConnection>> open) : IDisposable
{
    // One append at a time on the one connection (a connection is not thread-safe); appends of one apply are serialised
    // by its group commit already, so this only orders appends of several applies sharing the store.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private SqliteConnection? _connection;
    private SQLitePCL.sqlite3_stmt? _insert;
    private SQLitePCL.sqlite3_stmt? _findApply;

    /// <summary>Stores <paramref name="entries"/> in order, all or none, in one transaction. A failure closes the connection
    /// (the next append opens a new one, as a pooled call would) and throws the <see cref="SqliteException"/> for the store
    /// to word.</summary>
    public async Task AppendAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (_connection is null)
            {
                _connection = await open(ct);
                _insert = SqliteJournalTables.PrepareInsert(_connection);
                _findApply = SqliteJournalTables.PrepareFindOpenApply(_connection);
            }
            using var tx = _connection.BeginTransaction(deferred: false);
            // The apply's row is looked up in the transaction, once per apply in the group: another process may have
            // closed it since the last group (an apply appended to after it was closed starts a new open row).
            (string Env, string ApplyId, long Key, string Commit)? apply = null;
            foreach (var entry in entries)
            {
                if (apply is not { } a || a.Env != entry.Environment || a.ApplyId != entry.ApplyId)
                    apply = a = (entry.Environment, entry.ApplyId,
                        SqliteJournalTables.OpenApplyKey(_connection, tx, _findApply!, entry.Environment, entry.ApplyId, entry.Commit), entry.Commit);
                SqliteJournalTables.Insert(_connection, _insert!, a.Key, a.Commit, entry);
            }
            tx.Commit();
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

    private void Close()
    {
        _insert?.Dispose();
        _findApply?.Dispose();
        _connection?.Dispose();
        (_insert, _findApply, _connection) = (null, null, null);
    }

    /// <summary>Closes the connection; a later append opens a new one.</summary>
    public void Dispose()
    {
        _gate.Wait();
        try { Close(); }
        finally { _gate.Release(); }
    }
}
