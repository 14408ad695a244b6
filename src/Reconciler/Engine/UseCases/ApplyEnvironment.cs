using Reconciler.Daemon;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Drivers.Artifacts;
using Reconciler.Execution;
using Reconciler.Git;
using Reconciler.Notifications;
using Reconciler.State;

namespace Reconciler.UseCases;

/// <param name="Repo">--repo as typed.</param>
/// <param name="Rev">--rev; null: HEAD when the work tree is clean, else the files on disk.</param>
/// <param name="Environment">--env; null: the only environment (or the saved plan's).</param>
/// <param name="PlanFile">--plan: apply exactly this saved plan, at its commit.</param>
/// <param name="AppliedBy">Who applies (USER@HOST), for the lock and the history.</param>
/// <param name="RepairDrift">--repair-drift: ask the hosts first (<see cref="Live.LiveProbe"/>) and repair each host that drifted
/// from the store, as its own planned action (issue 13).</param>
/// <param name="Warnings">Where warnings go as they arise ("warning: ..." lines: a working-tree apply, an unpinned host
/// key, a notification that could not be sent).</param>
public sealed record ApplyRequest(
    string Repo, string? Rev, string? Environment, string? PlanFile, string? StateUrl, bool Force, string? Reason, int? MaxParallel,
    string? SshKey, bool TrustUnknownHostKeys, string AppliedBy, TextWriter Warnings, bool RepairDrift = false);

/// <summary>
/// `reconciler apply` in two steps, so that the CLI can show the plan and ask in between: <see cref="PrepareAsync"/>
/// loads the commit, opens the store and plans against live state (or reads a saved plan); then
/// <see cref="PreparedApply.ExecuteAsync"/> takes the lock and rolls out exactly that plan (docs/apply.md).
/// </summary>
public static class ApplyEnvironment
{
    public static async Task<UseCaseResult<PreparedApply>> PrepareAsync(ApplyRequest request, TimeProvider time, CancellationToken ct)
    {
        var owned = new List<IAsyncDisposable>();   // released in reverse order if preparing fails
        try
        {
            return UseCaseResult.Ok(await PrepareAsync(request, time, owned, ct));
        }
        catch (Exception e)
        {
            for (var i = owned.Count - 1; i >= 0; i--) await owned[i].DisposeAsync();
            if (e is ReconcilerException failure) return UseCaseResult.Failed<PreparedApply>(failure.ToFailure(), (e as InvalidRepoException)?.Repo);
            throw;
        }
    }

    private static async Task<PreparedApply> PrepareAsync(ApplyRequest r, TimeProvider time, List<IAsyncDisposable> owned, CancellationToken ct)
    {
        Plan? saved = null;
        if (r.PlanFile is not null)
        {
            saved = SavedPlanFile.Read(r.PlanFile);
            if (r.Environment is not null && r.Environment != saved.Environment)
                throw Invalid($"{r.PlanFile} is a plan for '{saved.Environment}', not '{r.Environment}'; drop --env or pass the plan of '{r.Environment}'.");
            if (r.Rev is not null)
                throw Invalid($"--rev and --plan exclude each other: the saved plan is bound to commit {saved.Commit}.");
            if (r.RepairDrift)
                throw Invalid("--repair-drift and --plan exclude each other: a saved plan is applied exactly, and repairs are planned from what the hosts say now. Drop one of them.");
        }

        // A saved plan is re-applied against the desired state of its own commit.
        var revision = saved is null ? r.Rev : saved.Commit == WorkingTreeSource.WorkingTreeRevision ? null : saved.Commit;
        var infra = InfraRepo.Open(r.Repo, revision);
        owned.Add(new Disposing(infra));
        var model = RepoLoading.Load(infra);
        var environment = saved?.Environment ?? RepoLoading.Environment(model, r.Environment);
        var desired = RepoLoading.Desired(model, environment, infra) with { Revision = infra.BoundRevision };
        if (desired.Revision == WorkingTreeSource.WorkingTreeRevision)
            await r.Warnings.WriteLineAsync($"warning: applying {infra.Describe()}; history will record 'working-tree', which no revert can name. Commit first to apply a commit.");

        var store = StateStores.Open(r.StateUrl, model.Repository.StateUrl, infra.Directory, time);
        owned.Add(store);
        // A commit's repo-relative artifacts come from its Git objects, not from whatever the work tree holds now.
        IArtifactFetcher? artifacts = infra.Source.Revision == WorkingTreeSource.WorkingTreeRevision ? null
            : new GitArtifactFetcher(infra.Directory, infra.Source.Revision, infra.GitSubdirectory,
                ArtifactFetcher.DefaultCacheDirectory(infra.Directory), HostDrivers.Artifacts(infra.Directory, ExecutorWiring.Http));
        var drivers = new HostDrivers(ExecutorWiring.DriverOptions(infra.Directory, r.SshKey, r.TrustUnknownHostKeys, r.Warnings, environment));
        owned.Add(drivers);
        var deps = ExecutorWiring.Dependencies(store, infra.Directory, time, drivers, artifacts);
        var notifier = new Notifier(ExecutorWiring.Http, r.Warnings);
        owned.Add(notifier);
        IReconciler reconciler = ExecutorWiring.Reconciler(deps, observer: notifier);

        if (saved is not null)
        {
            drivers.Preconnect(SshHostsToChange(desired, saved));
            return new PreparedApply(r, desired, saved, fromSavedPlan: true, unfinishedCommit: null, reconciler, owned);
        }
        var live = await store.ReadAsync(environment, ct);
        var journal = await store.ReadOpenJournalAsync(environment, ct);
        var observed = r.RepairDrift
            ? await ObserveHosts.RunAsync(new HostAccess(r.SshKey, r.TrustUnknownHostKeys, r.Warnings), infra.Directory, store, desired, live, time, ct)
            : null;
        var plan = ExecutorWiring.Plan(desired, live, observed);
        drivers.Preconnect(SshHostsToChange(desired, plan));
        return new PreparedApply(r, desired, plan, fromSavedPlan: false, journal.Count > 0 ? journal[0].Commit : null, reconciler, owned) { Observed = observed };
    }

    /// <summary>The hosts preflight connects to first (a release staged or switched over SSH): their handshakes run while
    /// the plan is shown and the lock and journal are taken. Connecting is all that happens before the plan is approved;
    /// a declined or empty plan closes them unused.</summary>
    private static IEnumerable<Schema.Model.HostSpec> SshHostsToChange(Schema.Model.DesiredState desired, Plan plan)
    {
        var hosts = ApplyContext.HostsByName(desired.EnvironmentSpec);
        return plan.Services
            .Where(c => c.Action is not (ServiceAction.NoOp or ServiceAction.Remove)
                        && desired.Services.TryGetValue(c.Service, out var spec) && spec.Deploy.Driver == Schema.Model.DriverKind.Ssh)
            .SelectMany(c => c.Hosts.Where(h => Preflight.NeedsWork(c, h)))
            .Select(h => hosts.GetValueOrDefault(h.Host))
            .OfType<Schema.Model.HostSpec>()
            .DistinctBy(h => h.Name, StringComparer.Ordinal)
            .ToList();
    }

    private static ReconcilerException Invalid(string message) => new(FailureKind.InvalidInput, message);

    private sealed class Disposing(IDisposable inner) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            inner.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>An apply ready to run: the plan to show, and what the CLI needs to say before asking.</summary>
public sealed class PreparedApply : IAsyncDisposable
{
    private readonly ApplyRequest _request;
    private readonly Schema.Model.DesiredState _desired;
    private readonly IReconciler _reconciler;
    private readonly IReadOnlyList<IAsyncDisposable> _owned;

    internal PreparedApply(ApplyRequest request, Schema.Model.DesiredState desired, Plan plan, bool fromSavedPlan, string? unfinishedCommit,
        IReconciler reconciler, IReadOnlyList<IAsyncDisposable> owned)
    {
        _request = request;
        _desired = desired;
        Plan = plan;
        FromSavedPlan = fromSavedPlan;
        UnfinishedCommit = unfinishedCommit;
        _reconciler = reconciler;
        _owned = owned;
    }

    public string Environment => _desired.Environment;

    /// <summary>What the hosts reported (apply --repair-drift); the plan repairs what drifted.</summary>
    public Diff.Live.ObservedState? Observed { get; init; }

    /// <summary>The plan that will be applied: computed against live state now, or read from the saved plan.</summary>
    public Plan Plan { get; }

    /// <summary>Services whose written maxParallel --max-parallel lowers, one line each (empty without --max-parallel:
    /// the default cap never lowers a written maxParallel). Shown with the plan; the progress says it again.</summary>
    public IReadOnlyList<string> ParallelismNotes => ParallelismCap.Lowered(Plan, _desired,
        ParallelismCap.For(Plan, _desired, _request.MaxParallel, new ReconcileOptions().DefaultMaxParallel));

    /// <summary>--plan FILE: nothing to show or confirm; refused at execution if live state moved since.</summary>
    public bool FromSavedPlan { get; }

    /// <summary>The commit of an earlier apply whose journal is still open: it is resumed (same commit) or repaired
    /// (another commit) before this plan runs, so the plan shown may not be exactly what runs.</summary>
    public string? UnfinishedCommit { get; }

    /// <summary>Live state already matches and no earlier apply is open: executing only records the commit as the last
    /// good one (a revert of a rolled-back commit), as `run` does.</summary>
    public bool NothingToApply => !FromSavedPlan && !Plan.HasChanges && UnfinishedCommit is null;

    /// <summary>Takes the lock and applies exactly <see cref="Plan"/> (with an unfinished apply: resumes or repairs it
    /// first, then plans again under the lock). Live state that moved since the plan was computed is refused
    /// (stale). Progress goes to <paramref name="progress"/>; the outcome says how it ended. A failure outside the
    /// apply itself (the store went away) is the result's <see cref="UseCaseResult{T}.Failure"/>.</summary>
    public Task<UseCaseResult<ReconcileOutcome>> ExecuteAsync(IProgress<ApplyProgress>? progress, CancellationToken ct)
    {
        // Apply exactly what was shown: if live state moved while the user read it, the reconciler refuses.
        var plan = FromSavedPlan || UnfinishedCommit is null ? Plan : null;
        var request = new ReconcileRequest(_desired, _request.AppliedBy, null, plan, _request.Force, _request.Reason, _request.MaxParallel, Observed: Observed);
        return UseCaseResult.CatchAsync(() => _reconciler.ReconcileAsync(request, progress, ct));
    }

    /// <summary>apply --preflight-only: the preflight checks of <see cref="Plan"/> alone (secrets, artifacts, hosts, disk
    /// space); nothing is changed and no lock is taken.</summary>
    public Task<UseCaseResult<ReconcileOutcome>> PreflightAsync(CancellationToken ct)
    {
        var request = new ReconcileRequest(_desired, _request.AppliedBy, null, FromSavedPlan ? Plan : null, PreflightOnly: true);
        return UseCaseResult.CatchAsync(() => _reconciler.ReconcileAsync(request, null, ct));
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--) await _owned[i].DisposeAsync();
    }
}
