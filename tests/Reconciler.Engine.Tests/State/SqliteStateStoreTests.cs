using Microsoft.Data.Sqlite;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>The store contract against a real SQLite file (fresh per test); time is fake.</summary>
public sealed class SqliteStateStoreContractTests : StateStoreContract
{
    private readonly TempDir _dir = new();
    private string DbPath => _dir.Combine("state", "state.db");

    protected override Task StartBackendAsync() => Task.CompletedTask;
    protected override IStateStore CreateStore() => new SqliteStateStore(DbPath, Time);

    protected override async Task LetTimePassAsync(TimeSpan by, Func<Task<bool>> until)
    {
        Time.Advance(by);
        Assert.True(await until(), "the condition did not hold after the clock moved");
    }

    protected override Task StopBackendAsync()
    {
        _dir.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>SQLite-specific behaviour: WAL, the file location, corrupt files.</summary>
public sealed class SqliteStateStoreTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task The_default_store_is_a_wal_sqlite_file_under_dot_reconciler_created_on_first_use()
    {
        await using var store = StateStores.Open(null, _dir.Path, _time);
        var path = _dir.Combine(".reconciler", "state.db");
        Assert.Equal($"sqlite:{path}", store.Describe);
        Assert.False(File.Exists(path));   // opening creates nothing
        await store.WriteAsync("prod", 0, StateStoreContract.Upsert(StateStoreContract.Service("api", "1.0.0")), CancellationToken.None);
        Assert.True(File.Exists(path));
        await using var c = new SqliteConnection($"Data Source={path};Pooling=false");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", cmd.ExecuteScalar());
    }

    [Fact]
    public async Task A_service_is_stored_as_the_bytes_of_its_json_whatever_was_written_before_it()
    {
        var path = _dir.Combine("state.db");
        await using var store = new SqliteStateStore(path, _time);
        // The body buffer is kept between writes: a large body, then a small one, must each be stored exactly.
        var large = StateStoreContract.Service("api", "1.0.0", [.. Enumerable.Range(1, 2000).Select(i => $"web-{i}")]);
        var small = StateStoreContract.Service("db", "2.0.0");
        var version = await store.WriteAsync("prod", 0, StateStoreContract.Upsert(large), CancellationToken.None);
        await store.WriteAsync("prod", version, StateStoreContract.Upsert(small), CancellationToken.None);

        await using var c = new SqliteConnection($"Data Source={path};Pooling=false");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT name, typeof(body), body FROM services WHERE env = 'prod' ORDER BY name";
        using var r = cmd.ExecuteReader();
        var rows = new List<(string Name, string Type, byte[] Body)>();
        while (r.Read()) rows.Add((r.GetString(0), r.GetString(1), r.GetFieldValue<byte[]>(2)));

        Assert.Equal(["api", "db"], rows.Select(row => row.Name));
        Assert.All(rows, row => Assert.Equal("text", row.Type));
        Assert.Equal(StateJson.SerializeBytes(large), rows[0].Body);
        Assert.Equal(StateJson.SerializeBytes(small), rows[1].Body);
    }

    [Theory]
    [InlineData("this is not a database\n")]
    [InlineData("SQLite format 3\0 but the rest of the page is garbage ................................................................")]
    public async Task A_corrupt_file_is_a_clear_error_with_the_store_exit_code_and_is_left_untouched(string content)
    {
        var path = _dir.Combine("state.db");
        await File.WriteAllTextAsync(path, content);
        var before = await File.ReadAllBytesAsync(path);
        await using var store = new SqliteStateStore(path, _time);

        var read = await Assert.ThrowsAsync<StateStoreUnavailableException>(() => store.ReadAsync("prod", CancellationToken.None));
        Assert.Contains(path, read.Message);
        Assert.Contains("Nothing was written", read.Message);
        Assert.Equal(FailureKind.StoreUnavailable, read.Kind);
        await Assert.ThrowsAsync<StateStoreUnavailableException>(() =>
            store.WriteAsync("prod", 0, StateStoreContract.Upsert(StateStoreContract.Service("api", "1.0.0")), CancellationToken.None));
        await Assert.ThrowsAsync<StateStoreUnavailableException>(() => store.TryAcquireLockAsync("prod", "a", "r", TimeSpan.FromMinutes(1), CancellationToken.None));

        Assert.Equal(before, await File.ReadAllBytesAsync(path));
        Assert.False(File.Exists(path + "-wal"));
    }

    [Fact]
    public async Task An_empty_file_is_refused_as_corrupt_not_taken_as_a_new_store()
    {
        var path = _dir.Combine("state.db");
        await File.WriteAllBytesAsync(path, []);
        await using var store = new SqliteStateStore(path, _time);

        var e = await Assert.ThrowsAsync<StateStoreUnavailableException>(() => store.ReadQuarantineAsync("prod", CancellationToken.None));

        Assert.StartsWith($"sqlite:{path} is an empty file (0 bytes), not a state database", e.Message);
        Assert.Contains("Restore it from a backup", e.Message);
        await Assert.ThrowsAsync<StateStoreUnavailableException>(() =>
            store.WriteAsync("prod", 0, StateStoreContract.Upsert(StateStoreContract.Service("api", "1.0.0")), CancellationToken.None));
        Assert.Equal(0, new FileInfo(path).Length);
        Assert.False(File.Exists(path + "-wal"));
    }

    [Fact]
    public async Task Another_applications_sqlite_database_is_refused_and_left_untouched()
    {
        var path = _dir.Combine("state.db");
        await using (var c = new SqliteConnection($"Data Source={path};Pooling=false"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes(text) VALUES('keep me');";
            cmd.ExecuteNonQuery();
        }
        var before = await File.ReadAllBytesAsync(path);
        await using var store = new SqliteStateStore(path, _time);

        var e = await Assert.ThrowsAsync<StateStoreUnavailableException>(() => store.ReadAsync("prod", CancellationToken.None));

        Assert.Contains("is a SQLite database, but not a reconciler state store (application_id 00000000", e.Message);
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
        Assert.False(File.Exists(path + "-wal"));
    }

    [Fact]
    public async Task A_new_store_is_stamped_and_a_store_made_before_the_stamp_is_accepted_and_stamped()
    {
        var path = _dir.Combine("state.db");
        await using (var store = new SqliteStateStore(path, _time))
            await store.WriteAsync("prod", 0, StateStoreContract.Upsert(StateStoreContract.Service("api", "1.0.0")), CancellationToken.None);
        Assert.Equal(SqliteStoreFile.ApplicationId, ApplicationId(path));
        Assert.Empty(Directory.GetFiles(_dir.Path, "state.db.new-*"));   // built aside, renamed into place

        SetApplicationId(path, 0);   // what a store written before the stamp existed looks like
        await using (var legacy = new SqliteStateStore(path, _time))
            Assert.Equal(1, (await legacy.ReadAsync("prod", CancellationToken.None)).Version);
        Assert.Equal(SqliteStoreFile.ApplicationId, ApplicationId(path));
    }

    private static long ApplicationId(string path)
    {
        using var c = new SqliteConnection($"Data Source={path};Pooling=false");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA application_id";
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void SetApplicationId(string path, int id)
    {
        using var c = new SqliteConnection($"Data Source={path};Pooling=false");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"PRAGMA application_id = {id}";
        cmd.ExecuteNonQuery();
    }

    [Fact]
    public async Task A_store_written_by_a_newer_schema_is_refused()
    {
        var path = _dir.Combine("state.db");
        await using (var store = new SqliteStateStore(path, _time))
            await store.ReadAsync("prod", CancellationToken.None);
        await using (var c = new SqliteConnection($"Data Source={path};Pooling=false"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE meta SET value = '99' WHERE key = 'schema'";
            cmd.ExecuteNonQuery();
        }
        await using var again = new SqliteStateStore(path, _time);
        var e = await Assert.ThrowsAsync<StateStoreUnavailableException>(() => again.ReadAsync("prod", CancellationToken.None));
        Assert.Contains("schema version 99", e.Message);
    }

    [Fact]
    public async Task A_hand_edited_value_that_does_not_parse_names_where_it_is()
    {
        var path = _dir.Combine("state.db");
        await using (var store = new SqliteStateStore(path, _time))
            await store.WriteAsync("prod", 0, StateStoreContract.Upsert(StateStoreContract.Service("api", "1.0.0")), CancellationToken.None);
        await using (var c = new SqliteConnection($"Data Source={path};Pooling=false"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE services SET body = '{\"name\": 3}'";
            cmd.ExecuteNonQuery();
        }
        await using var again = new SqliteStateStore(path, _time);
        var e = await Assert.ThrowsAsync<StateStoreUnavailableException>(() => again.ReadAsync("prod", CancellationToken.None));
        Assert.Contains("services[prod/api]", e.Message);
    }
}
