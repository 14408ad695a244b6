using System.Text.Json;
using Microsoft.Data.Sqlite;
using Reconciler.Diff.Live;
using Reconciler.Engine.Tests.Git;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Engine.Tests.UseCases;

/// <summary>The plan use case on the example repo committed to a real Git repository, against a real SQLite store:
/// outcomes and failures come back as values (the CLI's end-to-end tests cover the words and exit codes).</summary>
public sealed class PlanUseCaseTests : IDisposable
{
    private readonly GitFixture _git = new();
    private readonly TempDir _tmp = new();

    public PlanUseCaseTests() => _git.CommitExampleRepo();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _git.Dispose();
        _tmp.Dispose();
    }

    private string Db => _tmp.Combine("state.db");

    private PlanOutcome Plan(PlanRequest request)
    {
        var outcome = PlanUseCase.Run(request, CancellationToken.None);
        outcome.MemoWrites.GetAwaiter().GetResult();
        return outcome;
    }

    // In full: a plan of the same commit would otherwise come from the first one's snapshot (IncrementalPlanTests).
    private PlanRequest Production => new(_git.Root, "HEAD", "production", StateUrl: $"sqlite:{Db}") { Incremental = false };

    /// <summary>Production as a complete apply of HEAD leaves it, in the SQLite store.</summary>
    private async Task<int> DeployProduction()
    {
        using var infra = Reconciler.Git.InfraRepo.Open(_git.Root, "HEAD");
        var model = Reconciler.Schema.Loading.RepoLoader.Load(infra.Source).Model!;
        var deployed = LiveProjection.AsApplied(DesiredStateBuilder.Build(model, "production"));
        await using var store = new SqliteStateStore(Db, TimeProvider.System);
        await store.WriteAsync("production", 0, new StateChange([.. deployed.Services.Values], [], [.. deployed.Toggles.Values], [], deployed.LastGoodCommit), CancellationToken.None);
        return deployed.Services.Count;
    }

    private string WriteLive(LiveState live)
    {
        var path = _tmp.Combine($"live-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, JsonSerializer.Serialize(live, ReconcilerJson.Options));
        return path;
    }

    [Fact]
    public async Task A_second_plan_is_settled_by_the_memo_and_is_the_same_plan()
    {
        var count = await DeployProduction();

        var first = Plan(Production);
        Assert.Null(first.Failure);
        var report = Assert.Single(first.Environments);
        Assert.Equal((count, 0), (report.StoreRead!.Services, report.StoreRead.MemoEntries));
        Assert.Equal(0, report.SettledByMemo);
        Assert.False(first.Plans.Single().HasChanges);

        var second = Plan(Production);
        report = Assert.Single(second.Environments);
        Assert.Equal((count, count, count), (report.StoreRead!.Services, report.StoreRead.MemoEntries, report.SettledByMemo));
        Assert.Equal(JsonSerializer.Serialize(first.Plans.Single()), JsonSerializer.Serialize(second.Plans.Single()));
        Assert.Equal("", Assert.Single(second.Loads).Label);
    }

    [Fact]
    public async Task A_corrupt_stored_entry_is_a_store_failure_of_the_read_even_with_a_memo()
    {
        await DeployProduction();
        Assert.Null(Plan(Production).Failure);   // leaves a memo that lists every service
        using (var sql = new SqliteConnection($"Data Source={Db}"))
        {
            sql.Open();
            using var update = sql.CreateCommand();
            update.CommandText = "UPDATE services SET body = '{\"name\":\"api\"' WHERE env = 'production' AND name = 'api'";
            Assert.Equal(1, update.ExecuteNonQuery());
        }
        SqliteConnection.ClearAllPools();

        var outcome = Plan(Production);

        Assert.Equal(FailureKind.StoreUnavailable, outcome.Failure?.Kind);
        Assert.Contains("services[production/api]", outcome.Failure!.Message);
        Assert.Empty(outcome.Plans);
        Assert.Empty(outcome.Environments);
    }

    [Fact]
    public void An_invalid_repo_comes_back_with_its_diagnostics()
    {
        _git.Write("services/broken.yaml", "apiVersion: reconciler/v1\nkind: Service\nname: broken\nversion: [1\n");
        _git.Commit("broken");

        var outcome = Plan(Production);

        Assert.Equal(FailureKind.InvalidInput, outcome.Failure?.Kind);
        Assert.Contains("the repo is not valid at commit", outcome.Failure!.Message);
        Assert.NotNull(outcome.InvalidRepo);
        Assert.Contains(outcome.InvalidRepo.Diagnostics, d => d.Location?.File == "services/broken.yaml" && d.Severity == Severity.Error);
        Assert.True(outcome.InvalidRepo.Errors > 0);
        Assert.Single(outcome.Loads);
        Assert.Empty(outcome.Plans);
    }

    [Theory]
    [InlineData(null, false, "choose an environment with --env")]
    [InlineData("nowhere", false, "unknown environment 'nowhere'")]
    public void Bad_requests_are_invalid_input(string? environment, bool allEnvironments, string expected)
    {
        var outcome = Plan(new PlanRequest(_git.Root, "HEAD", environment, allEnvironments));
        Assert.Equal(FailureKind.InvalidInput, outcome.Failure?.Kind);
        Assert.Contains(expected, outcome.Failure!.Message);
    }

    [Fact]
    public void A_live_file_of_another_environment_or_not_a_live_state_is_invalid_input()
    {
        var staging = Plan(new PlanRequest(_git.Root, "HEAD", "production", LiveFile: WriteLive(LiveState.Empty("staging"))));
        Assert.Equal(FailureKind.InvalidInput, staging.Failure?.Kind);
        Assert.Contains("for environment 'staging', not 'production'", staging.Failure!.Message);

        var path = _tmp.Combine("bad.json");
        File.WriteAllText(path, "{ \"environment\": \"production\", \"version\": 1, \"toggles\": {} }");
        var bad = Plan(new PlanRequest(_git.Root, "HEAD", "production", LiveFile: path));
        Assert.Equal(FailureKind.InvalidInput, bad.Failure?.Kind);
        Assert.Contains("missing or wrong 'services'", bad.Failure!.Message);
    }

    [Fact]
    public void Every_environment_is_planned_in_name_order_and_a_preview_loads_the_base_commit_too()
    {
        var all = Plan(new PlanRequest(_git.Root, "HEAD", AllEnvironments: true, StateUrl: $"sqlite:{Db}"));
        Assert.Null(all.Failure);
        Assert.Equal(["production", "staging"], all.Plans.Select(p => p.Environment));
        Assert.Equal(["production", "staging"], all.Environments.Select(e => e.Environment));
        Assert.All(all.Environments, e => Assert.Null(e.SettledByMemo));   // no store file yet: nothing deployed, no memo

        var preview = Plan(new PlanRequest(_git.Root, "HEAD", "production", BaseRevision: "HEAD"));
        Assert.Null(preview.Failure);
        Assert.False(preview.Plans.Single().HasChanges);
        Assert.Equal(2, preview.Loads.Length);
        Assert.StartsWith(" (base ", preview.Loads[1].Label);
        Assert.True(preview.Environments.Single().WithBase);
        Assert.Null(preview.Environments.Single().StoreRead);
    }
}
