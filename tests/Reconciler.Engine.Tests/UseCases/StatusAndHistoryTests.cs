using System.Collections.Immutable;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Engine.Tests.UseCases;

public sealed class StatusAndHistoryTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly InfraRepoFixture _repo = new();

    public void Dispose() => _repo.Dispose();

    private async Task RecordDeploy(string commit, ApplyResult result)
    {
        await using var store = new SqliteStateStore(_repo.StateFile, TimeProvider.System);
        await store.AppendHistoryAsync(new HistoryEntry("h-" + commit, "test", commit, null, "alice@laptop", T0, T0.AddSeconds(30), result,
            ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("api", "created 1.0.0, healthy")]), null), CancellationToken.None);
    }

    [Fact]
    public async Task Status_compares_the_head_commit_with_live_state()
    {
        await RecordDeploy("aaaa0000aaaa0000", ApplyResult.Succeeded);

        var result = await ShowStatus.RunAsync(new StatusRequest(_repo.Path, "test", null), TimeProvider.System, CancellationToken.None);

        Assert.True(result.Succeeded, result.Failure?.Message);
        var report = result.Value;
        Assert.Equal(_repo.Head, report.DesiredCommit);
        var api = Assert.Single(report.Services);
        Assert.Equal(("api", "1.0.0", null, "not-deployed", "created 1.0.0, healthy"), (api.Service, api.DesiredVersion, api.LiveVersion, api.State, api.LastOutcome));
        Assert.Equal("aaaa0000aaaa0000", report.LastDeploy?.Commit);
    }

    [Theory]
    [InlineData("../test", "invalid environment name '../test'")]
    [InlineData("prod", "unknown environment 'prod'; the repo defines: test. Check --env.")]
    public async Task Status_of_a_bad_environment_is_invalid_input(string env, string message)
    {
        var result = await ShowStatus.RunAsync(new StatusRequest(_repo.Path, env, null), TimeProvider.System, CancellationToken.None);

        Assert.Equal(FailureKind.InvalidInput, result.Failure?.Kind);
        Assert.Contains(message, result.Failure!.Message);
    }

    [Fact]
    public async Task Status_outside_git_or_of_an_invalid_head_is_invalid_input()
    {
        using var plain = new TempDir();
        var notGit = await ShowStatus.RunAsync(new StatusRequest(plain.Path, "test", null), TimeProvider.System, CancellationToken.None);
        Assert.Equal(FailureKind.InvalidInput, notGit.Failure?.Kind);
        Assert.Contains("is not inside a Git repository", notGit.Failure!.Message);

        _repo.CommitInvalid();
        var invalid = await ShowStatus.RunAsync(new StatusRequest(_repo.Path, "test", null), TimeProvider.System, CancellationToken.None);
        Assert.Equal(FailureKind.InvalidInput, invalid.Failure?.Kind);
        Assert.Contains("does not validate", invalid.Failure!.Message);
    }

    [Fact]
    public async Task Status_of_a_corrupt_store_is_store_unavailable()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_repo.StateFile)!);
        await File.WriteAllTextAsync(_repo.StateFile, "not a database");

        var result = await ShowStatus.RunAsync(new StatusRequest(_repo.Path, "test", null), TimeProvider.System, CancellationToken.None);

        Assert.Equal(FailureKind.StoreUnavailable, result.Failure?.Kind);
    }

    [Fact]
    public async Task History_lists_newest_first_up_to_the_limit()
    {
        await RecordDeploy("aaaa0000aaaa0000", ApplyResult.Succeeded);
        await RecordDeploy("bbbb1111bbbb1111", ApplyResult.RolledBack);

        var result = await ShowHistory.RunAsync(new HistoryRequest(_repo.Path, "test", 1, null), TimeProvider.System, CancellationToken.None);

        Assert.True(result.Succeeded, result.Failure?.Message);
        Assert.Equal("test", result.Value.Environment);
        Assert.Equal(ApplyResult.RolledBack, Assert.Single(result.Value.Entries).Result);
    }

    [Fact]
    public async Task History_without_a_store_is_empty_and_creates_none()
    {
        var result = await ShowHistory.RunAsync(new HistoryRequest(_repo.Path, "test", 20, null), TimeProvider.System, CancellationToken.None);

        Assert.True(result.Succeeded);
        Assert.Empty(result.Value.Entries);
        Assert.False(File.Exists(_repo.StateFile));
    }

    [Theory]
    [InlineData(0, "--limit 0 is out of range; use 1..10000.")]
    [InlineData(10_001, "--limit 10001 is out of range; use 1..10000.")]
    public async Task History_with_a_limit_out_of_range_is_invalid_input(int limit, string message)
    {
        var result = await ShowHistory.RunAsync(new HistoryRequest(_repo.Path, "test", limit, null), TimeProvider.System, CancellationToken.None);

        Assert.Equal(new Failure(FailureKind.InvalidInput, message), result.Failure);
    }

    [Fact]
    public async Task History_of_a_repo_that_does_not_exist_is_invalid_input()
    {
        var result = await ShowHistory.RunAsync(new HistoryRequest(_repo.Combine("typo"), "test", 20, null), TimeProvider.System, CancellationToken.None);

        Assert.Equal(FailureKind.InvalidInput, result.Failure?.Kind);
        Assert.Contains("no such directory", result.Failure!.Message);
    }
}
