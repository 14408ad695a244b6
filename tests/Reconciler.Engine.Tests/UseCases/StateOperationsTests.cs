using Microsoft.Extensions.Time.Testing;
using Reconciler.State;
using Reconciler.Testing;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Engine.Tests.UseCases;

public sealed class StateOperationsTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly TempDir _dir = new();
    private readonly StateOperations _state = new(new FakeTimeProvider(Now));
    private readonly CancellationToken _ct = CancellationToken.None;

    public void Dispose() => _dir.Dispose();

    private StateTarget Target(string env = "prod") => new(_dir.Path, env, "sqlite:state.db");

    [Fact]
    public async Task Lock_unlock_freeze_and_unfreeze_return_what_they_did()
    {
        var locked = await _state.LockAsync(Target(), "alice@ops", "migration", TimeSpan.FromHours(2), _ct);
        Assert.Equal(("prod", "alice@ops", "migration", Now.AddHours(2)), (locked.Value?.Environment, locked.Value?.Owner, locked.Value?.Reason, locked.Value?.ExpiresAt));

        var frozen = await _state.FreezeAsync(Target(), "quarter end", "bob", _ct);
        Assert.Equal(new FreezeResult("prod", new FreezeInfo("quarter end", "bob", Now)), frozen.Value);

        var shown = await _state.ShowAsync(Target(), _ct);
        Assert.True(shown.Succeeded, shown.Failure?.Message);
        Assert.Equal(("prod", "sqlite:" + _dir.Combine("state.db"), "alice@ops", "bob"),
            (shown.Value.Environment, shown.Value.Store, shown.Value.Lock?.Owner, shown.Value.Freeze?.By));

        Assert.Equal(new UnlockResult("prod", true, "alice@ops"), (await _state.UnlockAsync(Target(), "alice@ops", force: false, _ct)).Value);
        Assert.Equal(new UnlockResult("prod", false, null), (await _state.UnlockAsync(Target(), "alice@ops", force: false, _ct)).Value);
        Assert.Equal(new UnfreezeResult("prod", new FreezeInfo("quarter end", "bob", Now)), (await _state.UnfreezeAsync(Target(), _ct)).Value);
        Assert.Equal(new UnfreezeResult("prod", null), (await _state.UnfreezeAsync(Target(), _ct)).Value);
        Assert.Empty((await _state.HistoryAsync(Target(), 20, _ct)).Value!.Entries);
    }

    [Fact]
    public async Task Unquarantine_lifts_the_quarantine_by_sha_prefix_and_records_who_and_why_in_history()
    {
        var sha = "7c211433f020aa55aa55aa55aa55aa55aa55aa55";
        await using (var store = new Reconciler.State.Sqlite.SqliteStateStore(_dir.Combine("state.db"), new FakeTimeProvider(Now)))
            await store.QuarantineAsync("prod", new QuarantinedCommit(sha, "api: web-1: stage failed: secret env:DB_PASSWORD is not set", Now.AddHours(-1)), _ct);

        Assert.Equal(FailureKind.InvalidInput, (await _state.UnquarantineAsync(Target(), "7c21", " ", "alice@ops", _ct)).Failure?.Kind);
        Assert.Equal(FailureKind.InvalidInput, (await _state.UnquarantineAsync(Target(), "beef", "secret fixed", "alice@ops", _ct)).Failure?.Kind);
        var lifted = await _state.UnquarantineAsync(Target(), "7c211433", "the secret was missing on the runner, not a bad commit", "alice@ops", _ct);

        Assert.True(lifted.Succeeded, lifted.Failure?.Message);
        Assert.Equal(sha, lifted.Value.Lifted.Commit);
        Assert.Empty((await _state.ShowAsync(Target(), _ct)).Value!.Quarantined);
        var entry = Assert.Single((await _state.HistoryAsync(Target(), 20, _ct)).Value!.Entries);
        Assert.Equal((sha, ApplyResult.Unquarantined, "alice@ops"), (entry.Commit, entry.Result, entry.AppliedBy));
        Assert.Contains("the secret was missing on the runner", entry.Message);
        Assert.Contains("DB_PASSWORD", entry.Message);
    }

    [Fact]
    public async Task A_lock_held_by_someone_else_is_locked_or_frozen_and_says_how_to_break_it()
    {
        await _state.LockAsync(Target(), "alice@ops", "migration", TimeSpan.FromHours(2), _ct);

        var refused = await _state.LockAsync(Target(), "bob@ops", "hotfix", TimeSpan.FromHours(1), _ct);
        Assert.Equal(new Failure(FailureKind.LockedOrFrozen,
            "environment 'prod' is locked by alice@ops since 2026-03-01 12:00:00Z (expires 2026-03-01 14:00:00Z): migration. " +
            "Wait for it, ask alice@ops, or break it with `reconciler state unlock --env prod --force`."), refused.Failure);

        var notYours = await _state.UnlockAsync(Target(), "bob@ops", force: false, _ct);
        Assert.Equal(FailureKind.LockedOrFrozen, notYours.Failure?.Kind);
        Assert.Equal(new UnlockResult("prod", true, "alice@ops"), (await _state.UnlockAsync(Target(), "bob@ops", force: true, _ct)).Value);
    }

    [Fact]
    public async Task Bad_input_is_invalid_input_and_opens_no_store()
    {
        Assert.Equal(FailureKind.InvalidInput, (await _state.ShowAsync(Target("../prod"), _ct)).Failure?.Kind);
        Assert.Equal(new Failure(FailureKind.InvalidInput, "--limit must be a positive number, got 0."), (await _state.HistoryAsync(Target(), 0, _ct)).Failure);
        Assert.Equal(FailureKind.InvalidInput, (await _state.FreezeAsync(Target(), "  ", "bob", _ct)).Failure?.Kind);
        Assert.Equal(FailureKind.InvalidInput, (await _state.ShowAsync(Target() with { StateUrl = "redis://x/y" }, _ct)).Failure?.Kind);
        Assert.False(File.Exists(_dir.Combine("state.db")));
    }

    [Fact]
    public async Task The_store_comes_from_reconciler_yaml_when_no_url_is_given()
    {
        File.WriteAllText(_dir.Combine("reconciler.yaml"), "apiVersion: reconciler/v1\nkind: Repository\nstate: sqlite:from-yaml.db\n");

        var shown = await _state.ShowAsync(new StateTarget(_dir.Path, "prod", null), _ct);

        Assert.Equal("sqlite:" + _dir.Combine("from-yaml.db"), shown.Value?.Store);
    }

    [Fact]
    public async Task A_corrupt_store_is_store_unavailable()
    {
        File.WriteAllText(_dir.Combine("state.db"), "{ \"not\": \"sqlite\" }");

        var result = await _state.LockAsync(Target(), "alice@ops", "migration", TimeSpan.FromHours(1), _ct);

        Assert.Equal(FailureKind.StoreUnavailable, result.Failure?.Kind);
    }
}
