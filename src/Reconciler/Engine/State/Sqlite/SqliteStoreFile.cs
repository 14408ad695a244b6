using Microsoft.Data.Sqlite;

namespace Reconciler.State.Sqlite;

/// <summary>
/// Which file is this store's database. A new database is created only where no file exists, and atomically: it is
/// built under a temporary name and renamed into place, so no process ever sees it half made (SQLite itself would leave
/// a 0-byte file until its first write). Any existing file must be this store's database: not empty, a SQLite file,
/// stamped with <see cref="ApplicationId"/> (a store made before the stamp existed is recognised by its <c>meta</c>
/// schema row and stamped). Anything else is refused as corrupt, never taken as a new empty store: that would lose
/// quarantine and history silently and apply a quarantined commit (issue 11, finding 7).
/// </summary>
internal static class SqliteStoreFile
{
    /// <summary>PRAGMA application_id of a reconciler store: "RCNL".</summary>
    public const int ApplicationId = 0x52434E4C;

    private const string RestoreAdvice = "Nothing was written. Restore it from a backup, or move it aside to start from empty live state " +
                                         "(the next apply then redeploys every service).";

    /// <summary>Creates the database at <paramref name="path"/> unless a file is already there.</summary>
    public static void CreateIfMissing(string path, string describe, string schema)
    {
        if (File.Exists(path)) return;
        var dir = Path.GetDirectoryName(path);
        var temp = $"{path}.new-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
            using (var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = temp, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString()))
            {
                c.Open();
                using var cmd = c.CreateCommand();
                cmd.CommandText = $"PRAGMA application_id = {ApplicationId};" + schema;
                cmd.ExecuteNonQuery();
            }
            try
            {
                File.Move(temp, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first: use theirs.
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SqliteException)
        {
            throw new StateStoreUnavailableException($"cannot create {describe} ({e.Message}). Check that the directory is writable, or pass --state sqlite:PATH.", e);
        }
        finally
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Before SQLite opens it (SQLite opens any file and fails only at the first statement, or happily treats an
    /// empty file as a new database): refuses a file that is empty or not SQLite at all.</summary>
    public static void CheckHeader(string path, string describe)
    {
        var header = new byte[16];
        int read;
        using (var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            read = f.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        if (read == 0)
            throw new StateStoreUnavailableException($"{describe} is an empty file (0 bytes), not a state database: its live state, history and " +
                                                     "quarantine are gone (truncated or replaced). " + RestoreAdvice);
        if (read < 16 || !header.AsSpan().SequenceEqual("SQLite format 3\0"u8))
            throw new StateStoreUnavailableException($"{describe} is not a SQLite database (corrupt, or some other file). " + RestoreAdvice);
    }

    /// <summary>Before the first write of a process: refuses a SQLite database that is not a reconciler store. True for a
    /// store made before the application id existed (the caller stamps it).</summary>
    public static bool CheckIdentity(SqliteConnection c, SqliteTransaction tx, string describe)
    {
        var id = Convert.ToInt32(Scalar(c, tx, "PRAGMA application_id"), System.Globalization.CultureInfo.InvariantCulture);
        var hasMeta = Convert.ToInt64(Scalar(c, tx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'"),
            System.Globalization.CultureInfo.InvariantCulture) == 1;
        var hasSchema = hasMeta && Scalar(c, tx, "SELECT value FROM meta WHERE key = 'schema'") is not null;
        if (hasSchema && id is ApplicationId or 0) return id == 0;
        throw new StateStoreUnavailableException(id == ApplicationId
            ? $"{describe} is a reconciler store without its schema table (damaged). " + RestoreAdvice
            : $"{describe} is a SQLite database, but not a reconciler state store (application_id {id:x8}, no reconciler schema). " +
              "Pass the right file with --state sqlite:PATH. " + RestoreAdvice);
    }

    private static object? Scalar(SqliteConnection c, SqliteTransaction tx, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }
}
