using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>The journal of schema version 2: a store whose journal was written by schema version 1 opens with the same open journal
/// (docs/state.md, "Schema versions"). The executor resuming such an apply: ExecutorOnSqliteTests.</summary>
public sealed class SqliteSchemaMigrationTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly TempDir _dir = new();
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _time = new(Start);

    public void Dispose() => _dir.Dispose();

    private static JournalEntry Step(string env, string applyId, string step, JournalStatus status, double second, string commit = "c0ffee", string? detail = null) =>
        new(env, applyId, commit, step, status, Start.AddSeconds(second), detail);

    [Fact]
    public async Task A_version_1_journal_keeps_its_open_entries_in_order_and_its_closed_ones_closed()
    {
        var path = _dir.Combine("state.db");
        await using (var fresh = new SqliteStateStore(path, _time))
            await fresh.ReadAsync("prod", CancellationToken.None);
        (JournalEntry, bool)[] v1 =
        [
            (Step("prod", "apply-1", "w1/api/start", JournalStatus.Started, 1), true),
            (Step("prod", "apply-1", "w1/api/start", JournalStatus.Finished, 2), true),
            (Step("prod", "apply-2", "header", JournalStatus.Started, 3, detail: "{\"plan\":{}}"), false),
            (Step("staging", "apply-3", "w1/web/start", JournalStatus.Started, 4), false),
            (Step("prod", "apply-2", "w1/api/host/web-1/activate", JournalStatus.Started, 5.0000123), false),
            (Step("prod", "apply-2", "w1/api/host/web-1/activate", JournalStatus.Failed, 5.0000123, detail: "health gate failed"), false),
            (Step("prod", "apply-2", "w1/api/rollback", JournalStatus.Started, 6, commit: "beef") with { At = Start.AddSeconds(6).ToOffset(TimeSpan.FromHours(2)) }, false),
            (Step("prod", "apply-1", "w2/web/start", JournalStatus.Started, 7), false),   // appended again after apply-1 closed: open
        ];
        SqliteSchemaV1.Downgrade(path, v1);

        await using var store = new SqliteStateStore(path, _time);
        var open = await store.ReadOpenJournalAsync("prod", CancellationToken.None);

        Assert.Equal(v1.Where(e => !e.Item2 && e.Item1.Environment == "prod").Select(e => StateJson.Serialize(e.Item1)), open.Select(StateJson.Serialize));
        Assert.Equal(["w1/web/start"], (await store.ReadOpenJournalAsync("staging", CancellationToken.None)).Select(e => e.Step));
        Assert.Equal("2", SqliteSchemaV1.Scalar(path, "SELECT value FROM meta WHERE key = 'schema'"));
        Assert.Equal(0L, SqliteSchemaV1.Scalar(path, "SELECT count(*) FROM sqlite_master WHERE name = 'journal'"));
        Assert.Equal(8L, SqliteSchemaV1.Scalar(path, "SELECT count(*) FROM journal_steps"));   // the closed entries stay, as an audit trail

        await store.AppendJournalAsync(Step("prod", "apply-2", "w1/api/rollback", JournalStatus.Finished, 8), CancellationToken.None);
        await store.CloseJournalAsync("prod", "apply-2", CancellationToken.None);
        Assert.Equal(["apply-1"], (await store.ReadOpenJournalAsync("prod", CancellationToken.None)).Select(e => e.ApplyId));
        await store.CloseJournalAsync("prod", "apply-1", CancellationToken.None);
        Assert.Empty(await store.ReadOpenJournalAsync("prod", CancellationToken.None));
    }

    [Fact]
    public async Task A_store_this_build_made_is_version_2_with_one_row_per_apply()
    {
        var path = _dir.Combine("state.db");
        await using var store = new SqliteStateStore(path, _time);
        await store.AppendJournalAsync([Step("prod", "apply-1", "a", JournalStatus.Started, 1), Step("prod", "apply-1", "a", JournalStatus.Finished, 2)], CancellationToken.None);
        await store.AppendJournalAsync(Step("prod", "apply-1", "b", JournalStatus.Started, 3), CancellationToken.None);
        Assert.Equal("2", SqliteSchemaV1.Scalar(path, "SELECT value FROM meta WHERE key = 'schema'"));
        Assert.Equal(1L, SqliteSchemaV1.Scalar(path, "SELECT count(*) FROM applies"));
        await store.CloseJournalAsync("prod", "apply-1", CancellationToken.None);
        Assert.Equal(1L, SqliteSchemaV1.Scalar(path, "SELECT count(*) FROM applies WHERE closed = 1"));
        Assert.Equal(0L, SqliteSchemaV1.Scalar(path, "SELECT count(*) FROM journal_steps WHERE commit_id IS NOT NULL"));   // the commit lives once, in the apply's row
    }

    [Theory]
    [InlineData("")]
    [InlineData("health gate failed: HTTP 500 — ünïcödé ✓")]
    [InlineData(null)]
    public async Task An_entry_text_reads_back_exactly_short_long_empty_or_absent(string? detail)
    {
        var path = _dir.Combine("state.db");
        var step = "w1/api/host/" + new string('h', 40) + "/activate";
        JournalEntry[] entries =
        [
            Step("prod", "apply-1", step, JournalStatus.Failed, 1, detail: detail),
            Step("prod", "apply-1", step, JournalStatus.Failed, 2, detail: detail is null ? null : string.Concat(Enumerable.Repeat(detail + "|", 40))),
        ];
        await using (var writer = new SqliteStateStore(path, _time))
            await writer.AppendJournalAsync(entries, CancellationToken.None);
        await using var reader = new SqliteStateStore(path, _time);
        Assert.Equal(entries.Select(StateJson.Serialize), (await reader.ReadOpenJournalAsync("prod", CancellationToken.None)).Select(StateJson.Serialize));
        Assert.Equal(entries.Select(e => e.Detail), (await reader.ReadOpenJournalAsync("prod", CancellationToken.None)).Select(e => e.Detail));
    }
}
