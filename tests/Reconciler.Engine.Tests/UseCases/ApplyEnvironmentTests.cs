using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Engine.Tests.UseCases;

/// <summary>Apply as a use case, end to end on the local driver and SQLite: what preparing returns (the plan, the facts
/// the CLI shows before asking), what executing returns, and the failure kinds of bad input.</summary>
public sealed class ApplyEnvironmentTests : IDisposable
{
    private readonly InfraRepoFixture _repo = new();
    private readonly StringWriter _warnings = new();

    public void Dispose() => _repo.Dispose();

    private ApplyRequest Request(string? env = "test", string? planFile = null, string? rev = null, string? state = null) =>
        new(_repo.Path, rev, env, planFile, state, Force: false, Reason: null, MaxParallel: null, SshKey: null, TrustUnknownHostKeys: false,
            "tester@test", _warnings);

    private static async Task<PreparedApply> Prepare(ApplyRequest request)
    {
        var result = await ApplyEnvironment.PrepareAsync(request, TimeProvider.System, CancellationToken.None);
        Assert.True(result.Succeeded, result.Failure?.Message);
        return result.Value;
    }

    [Fact]
    public async Task Prepare_plans_against_live_state_and_execute_applies_exactly_that_plan()
    {
        ReconcileOutcome outcome;
        await using (var apply = await Prepare(Request()))
        {
            Assert.Equal("test", apply.Environment);
            Assert.False(apply.FromSavedPlan);
            Assert.Null(apply.UnfinishedCommit);
            Assert.False(apply.NothingToApply);
            Assert.Equal(_repo.Head, apply.Plan.Commit);
            Assert.Equal(ServiceAction.Create, Assert.Single(apply.Plan.Services).Action);

            var progress = new List<ApplyProgress>();
            var executed = await apply.ExecuteAsync(new SynchronousProgress(progress), CancellationToken.None);
            Assert.True(executed.Succeeded, executed.Failure?.Message);
            outcome = executed.Value;
            Assert.NotEmpty(progress);
        }
        Assert.Equal(ApplyResult.Succeeded, outcome.Result);
        Assert.Null(outcome.Failure);

        await using (var again = await Prepare(Request()))
        {
            Assert.True(again.NothingToApply);
            var converged = await again.ExecuteAsync(null, CancellationToken.None);
            Assert.Equal(ApplyResult.NoChanges, converged.Value?.Result);
        }
        Assert.Equal("", _warnings.ToString());   // a clean work tree applies its HEAD commit: no warning
    }

    [Fact]
    public async Task Live_state_that_moved_while_the_plan_was_shown_is_refused_as_stale()
    {
        await using var shown = await Prepare(Request());
        await using (var other = await Prepare(Request()))
            Assert.Equal(ApplyResult.Succeeded, (await other.ExecuteAsync(null, CancellationToken.None)).Value?.Result);

        var outcome = await shown.ExecuteAsync(null, CancellationToken.None);

        Assert.Equal(FailureKind.StaleOrConflict, outcome.Failure?.Kind);
    }

    [Fact]
    public async Task A_repo_that_does_not_validate_fails_with_its_diagnostics()
    {
        _repo.CommitInvalid();

        var result = await ApplyEnvironment.PrepareAsync(Request(), TimeProvider.System, CancellationToken.None);

        Assert.Equal(FailureKind.InvalidInput, result.Failure?.Kind);
        Assert.StartsWith($"the repo is not valid in the working tree (HEAD {_repo.Head[..12]})", result.Failure!.Message);
        Assert.NotNull(result.InvalidRepo);
        Assert.Equal(1, result.InvalidRepo.Errors);
        Assert.False(File.Exists(_repo.StateFile));   // nothing was opened
    }

    [Fact]
    public async Task Without_env_a_repo_with_two_environments_is_invalid_input_naming_them()
    {
        using var two = new InfraRepoFixture(twoEnvironments: true);
        var request = Request(env: null) with { Repo = two.Path };

        var result = await ApplyEnvironment.PrepareAsync(request, TimeProvider.System, CancellationToken.None);

        Assert.Equal(new Failure(FailureKind.InvalidInput, "choose an environment with --env NAME; the repo defines: prod, test."), result.Failure);
    }

    [Theory]
    [InlineData("staging", "unknown environment 'staging'; the repo defines: test.")]
    public async Task An_environment_the_repo_does_not_define_is_invalid_input(string env, string message)
    {
        var result = await ApplyEnvironment.PrepareAsync(Request(env), TimeProvider.System, CancellationToken.None);

        Assert.Equal(FailureKind.InvalidInput, result.Failure?.Kind);
        Assert.Contains(message, result.Failure!.Message);
    }

    [Fact]
    public async Task An_unknown_store_url_is_invalid_input()
    {
        var result = await ApplyEnvironment.PrepareAsync(Request(state: "redis://x/y"), TimeProvider.System, CancellationToken.None);

        Assert.Equal(FailureKind.InvalidInput, result.Failure?.Kind);
        Assert.Contains("unknown scheme 'redis'", result.Failure!.Message);
    }

    [Fact]
    public async Task A_saved_plan_is_applied_at_its_commit_and_refused_as_stale_once_live_state_moved()
    {
        var file = _repo.Combine("plan.json");
        await using (var first = await Prepare(Request()))
            SavedPlanFile.Save(file, first.Plan);
        var stale = _repo.Combine("stale.json");
        File.Copy(file, stale);

        await using (var saved = await Prepare(Request(env: null, planFile: file)))
        {
            Assert.True(saved.FromSavedPlan);
            Assert.False(saved.NothingToApply);
            Assert.Equal("test", saved.Environment);
            var outcome = await saved.ExecuteAsync(null, CancellationToken.None);
            Assert.Equal(ApplyResult.Succeeded, outcome.Value?.Result);
        }

        _repo.CommitVersion("1.1.0");
        await using (var again = await Prepare(Request(planFile: stale)))
        {
            Assert.Equal(ServiceAction.Create, Assert.Single(again.Plan.Services).Action);   // the plan as saved, at its commit
            var outcome = await again.ExecuteAsync(null, CancellationToken.None);
            Assert.Equal(FailureKind.StaleOrConflict, outcome.Failure?.Kind);
            Assert.StartsWith("the saved plan is stale: live state of test moved from version 0", outcome.Failure!.Message);
        }
    }

    [Fact]
    public async Task A_saved_plan_for_another_environment_or_with_rev_is_invalid_input()
    {
        var file = _repo.Combine("plan.json");
        await using (var first = await Prepare(Request()))
            SavedPlanFile.Save(file, first.Plan);

        var wrongEnv = await ApplyEnvironment.PrepareAsync(Request(env: "prod", planFile: file), TimeProvider.System, CancellationToken.None);
        Assert.Equal(new Failure(FailureKind.InvalidInput, $"{file} is a plan for 'test', not 'prod'; drop --env or pass the plan of 'prod'."),
            wrongEnv.Failure);

        var withRev = await ApplyEnvironment.PrepareAsync(Request(planFile: file, rev: "HEAD"), TimeProvider.System, CancellationToken.None);
        Assert.Equal(FailureKind.InvalidInput, withRev.Failure?.Kind);
        Assert.StartsWith("--rev and --plan exclude each other", withRev.Failure!.Message);

        var missing = await ApplyEnvironment.PrepareAsync(Request(planFile: _repo.Combine("none.json")), TimeProvider.System, CancellationToken.None);
        Assert.Equal(FailureKind.InvalidInput, missing.Failure?.Kind);
        Assert.Contains("cannot read the saved plan", missing.Failure!.Message);
    }

    [Fact]
    public async Task An_environment_locked_by_someone_else_is_locked_or_frozen_and_nothing_is_applied()
    {
        await using (var store = new SqliteStateStore(_repo.StateFile, TimeProvider.System))
            Assert.True((await store.TryAcquireLockAsync("test", "alice@laptop", "maintenance", TimeSpan.FromHours(1), CancellationToken.None)).Acquired);

        await using var apply = await Prepare(Request());
        var outcome = await apply.ExecuteAsync(null, CancellationToken.None);

        Assert.Equal(FailureKind.LockedOrFrozen, outcome.Value?.Failure);
        Assert.Contains("locked by alice@laptop", outcome.Value!.Message);
        await using (var store = new SqliteStateStore(_repo.StateFile, TimeProvider.System))
            Assert.Empty((await store.ReadAsync("test", CancellationToken.None)).Services);
    }

    [Fact]
    public async Task A_working_tree_with_uncommitted_changes_is_applied_with_a_warning()
    {
        File.AppendAllText(Path.Combine(_repo.Path, "services", "api.yaml"), "# edited\n");

        await using var apply = await Prepare(Request());

        Assert.Equal("working-tree", apply.Plan.Commit);
        Assert.StartsWith("warning: applying in the working tree (HEAD ", _warnings.ToString());
    }

    private sealed class SynchronousProgress(List<ApplyProgress> events) : IProgress<ApplyProgress>
    {
        public void Report(ApplyProgress value)
        {
            lock (events) events.Add(value);
        }
    }
}
