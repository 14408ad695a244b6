using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Git;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.UseCases;

/// <summary>
/// `plan`: what apply would do, per environment. Loads the repo through the parse cache (and the base commit for a PR
/// preview), then plans every environment at once, each against the state store (with its converged memo), a --live
/// file, or the base commit's desired state. Writes nothing but caches; prints nothing: the outcome carries the plans,
/// the failure or the invalid repo's diagnostics, and the statistics for --verbose.
/// </summary>
public static class PlanUseCase
{
    public static PlanOutcome Run(PlanRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var run = new PlanRun(request, ct);
        try
        {
            return run.Execute();
        }
        catch (ReconcilerException e)
        {
            return run.Outcome() with { Failure = e.ToFailure() };
        }
    }

    /// <summary>One run's state: what was measured so far is reported even when a later step fails.</summary>
    private sealed class PlanRun(PlanRequest request, CancellationToken ct)
    {
        private readonly List<RepoLoadReport> _loads = [];
        private readonly ConcurrentDictionary<string, EnvironmentPlanReport> _environments = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, EnvironmentGate> _gates = new(StringComparer.Ordinal);
        private ParseCacheWrite? _cacheWrite;
        private InvalidRepo? _invalid;

        public PlanOutcome Outcome() => new()
        {
            Loads = [.. _loads],
            ParseCacheWrite = _cacheWrite,
            InvalidRepo = _invalid,
            Environments = [.. _environments.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => e.Value)],
            Gates = _gates.ToImmutableSortedDictionary(StringComparer.Ordinal),
        };

        public PlanOutcome Execute()
        {
            using var infra = InfraRepo.Open(request.Repo, request.Revision);
            var cache = new FileParseCache(FileParseCache.DefaultDirectory(infra.Directory));
            // The one seam of the incremental plan: the snapshot of the last plan of this kind, patched with the change
            // since, or (it declines) the full plan below, which leaves the snapshot for the next one.
            var snapshotPath = infra.Source is GitRepoSource && request.LiveFile is null
                ? PlanSnapshotFile.PathFor(infra.Directory, IncrementalPlan.Shape(request)) : null;
            if (snapshotPath is not null && request.Incremental && Incremental(infra, snapshotPath) is { } fast) return fast;
            var model = Load(infra, cache, "");
            ct.ThrowIfCancellationRequested();

            string[] environments = request.AllEnvironments ? [.. model.Environments.Keys]
                : request.Environment is not null ? [request.Environment]
                : model.Environments.Count == 1 ? [model.Environments.Keys.Single()]
                : throw Invalid(model.Environments.Count == 0
                    ? "the repo defines no environments; add environments/NAME.yaml."
                    : $"choose an environment with --env NAME (or --all-envs); the repo defines: {string.Join(", ", model.Environments.Keys)}.");

            RepoModel? baseModel = null;
            string? baseCommit = null, baseTree = null;
            if (request.BaseRevision is not null)
            {
                using var baseRepo = InfraRepo.Open(request.Repo, request.BaseRevision);
                baseModel = Load(baseRepo, cache, $" (base {baseRepo.Describe()})");
                baseCommit = baseRepo.Source.Revision;
                baseTree = (baseRepo.Source as GitRepoSource)?.TreeId;
            }
            var flushing = Stopwatch.StartNew();
            var added = cache.Added;
            cache.Flush();
            if (added > 0) _cacheWrite = new ParseCacheWrite(added, flushing.Elapsed);

            var liveFromFile = request.LiveFile is null ? null : PlanLiveFile.Read(request.LiveFile);
            if (liveFromFile is not null && environments.Single() is var only && liveFromFile.Environment != only)
                throw Invalid($"{request.LiveFile}: this live state is for environment '{liveFromFile.Environment}', not '{only}'; pass --env {liveFromFile.Environment} or the live state of '{only}'.");

            // Without --live or --base, plan against what the state store says is deployed (what apply will compare with).
            var location = liveFromFile is null && baseModel is null ? StateStores.Locate(request.StateUrl, model.Repository.StateUrl, infra.Directory) : null;
            var inputsKey = IncrementalPlan.InputsKey(IncrementalPlan.Shape(request), location, ExternalInputs);
            using var liveStore = location is null ? null : LiveStoreReader.Open(location, request.Time);
            var planning = Stopwatch.StartNew();
            var planningCpu = ProcessCpu();
            var memos = new ConcurrentDictionary<string, ConvergedMemo>(StringComparer.Ordinal);
            Plan PlanOne(string name)
            {
                ct.ThrowIfCancellationRequested();
                var desiredTime = Stopwatch.StartNew();
                var desired = RepoLoading.Desired(model, name, infra) with { Revision = infra.BoundRevision };
                desiredTime.Stop();
                var plannerTime = new Stopwatch();
                LiveState live;
                StoreReadReport? read = null;
                ConvergedMemo? memo = null;
                ConvergedMemoMatch? match = null;
                if (liveStore is not null)
                {
                    // Each environment reads its own live state as part of its planning, so one environment's read
                    // overlaps another's planning (thousands of stored services take a while to read).
                    var readTime = Stopwatch.StartNew();
                    memo = liveStore.LoadMemo(infra.Directory, name);
                    readTime.Stop();
                    if (memo is not null)
                    {
                        plannerTime.Start();
                        match = ConvergedMemoMatch.Start(memo, desired, CoreParallelism.Workers);
                        plannerTime.Stop();
                    }
                    readTime.Start();
                    live = liveStore.Read(name, match?.Deferrable, ct);
                    _gates[name] = liveStore.Gate(name, ct);
                    read = new StoreReadReport(live.Services.Count, memo?.Count ?? 0, readTime.Elapsed);
                }
                else
                {
                    desiredTime.Start();
                    live = liveFromFile ?? (baseModel is not null && baseModel.Environments.ContainsKey(name)
                        ? LiveProjection.AsApplied(RepoLoading.ResolveHosts(DesiredStateBuilder.Build(baseModel, name), infra.ReadText, ct))
                        : LiveState.Empty(name));
                    desiredTime.Stop();
                }
                plannerTime.Start();
                var known = match?.KnownConverged(live);
                Plan plan;
                try
                {
                    plan = Planner.Plan(desired, live, new PlanOptions(baseCommit, known, CoreParallelism.Workers));
                }
                catch (PlanningException e)
                {
                    throw Invalid($"cannot plan environment '{name}' {infra.Describe()}: {e.Message}");
                }
                if (match is not null) memos[name] = match.Record(live, plan);
                plannerTime.Stop();
                _environments[name] = new EnvironmentPlanReport(name, read, desiredTime.Elapsed, baseModel is not null, plannerTime.Elapsed, known?.Count);
                return plan;
            }
            // Environments are independent: all are planned at once, and the first failing one (in name order) is reported.
            (Plan? Plan, Exception? Error) Attempt(string name)
            {
                try { return (PlanOne(name), null); }
                catch (Exception e) { return (null, e); }   // rethrown as it is below, not wrapped
            }
            // All at once rather than one per core: each environment has sequential stretches (the store query, the desired
            // state, ordering waves) that another environment's work fills (3 on 2 cores: ~20 ms less wall for the
            // benchmark repo, docs/benchmarks/planner.md).
            var running = environments.Select(name => Task.Run(() => Attempt(name))).ToArray();
            var attempts = running.Select(t => t.GetAwaiter().GetResult()).ToList();
            if (attempts.FirstOrDefault(x => x.Error is not null).Error is { } failure)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            planning.Stop();
            var cpu = ProcessCpu() - planningCpu;

            // Kept for the next plan while the caller renders this one (best effort: a memo not written costs only time).
            var store = liveStore?.Describe;
            var directory = infra.Directory;
            ImmutableArray<Plan> plans = [.. attempts.Select(x => x.Plan!)];
            var headTree = ((GitRepoSource?)(snapshotPath is null ? null : infra.Source))?.TreeId;
            var memoWrites = memos.IsEmpty && headTree is null ? Task.CompletedTask : Task.Run(() =>
            {
                foreach (var (name, memo) in memos) ConvergedMemoFile.Save(ConvergedMemoFile.PathFor(directory, name), store!, memo);
                if (headTree is not null && inputsKey is not null && (baseModel is null || baseTree is not null))
                    PlanSnapshotFile.Save(snapshotPath!, new PlanSnapshot(inputsKey, headTree, baseTree, plans));
            });
            return Outcome() with
            {
                Plans = plans,
                Planning = planning.Elapsed,
                PlanningCpu = cpu,
                MemoWrites = memoWrites,
            };
        }

        /// <summary>The plans from the snapshot and the change since, or null when the full plan is needed.</summary>
        private PlanOutcome? Incremental(InfraRepo infra, string snapshotPath)
        {
            if (PlanSnapshotFile.Open(snapshotPath) is not { } snapshot) return null;
            var planning = Stopwatch.StartNew();
            var cpu = ProcessCpu();
            using var baseRepo = request.BaseRevision is null ? null : InfraRepo.Open(request.Repo, request.BaseRevision);
            if (baseRepo is not null && baseRepo.Source is not GitRepoSource) return null;
            LiveStoreReader? liveStore = null;
            // The few files an incremental plan loads have a parse cache of their own: the repo's holds every file
            // (~100 MB for 20,000 services), and reading it would cost what the repo costs.
            var partCache = new FileParseCache(Path.Combine(Path.GetDirectoryName(snapshotPath)!, "parse"));
            try
            {
                var inputs = new IncrementalPlan.Inputs((GitRepoSource)infra.Source, baseRepo?.Source as GitRepoSource, infra.BoundRevision,
                    baseRepo?.Source.Revision, model =>
                    {
                        if (baseRepo is not null) return (IncrementalPlan.InputsKey(IncrementalPlan.Shape(request), null, ExternalInputs), null);
                        var location = StateStores.Locate(request.StateUrl, model.Repository.StateUrl, infra.Directory);
                        liveStore = LiveStoreReader.Open(location, request.Time);
                        var reader = liveStore;
                        return (IncrementalPlan.InputsKey(IncrementalPlan.Shape(request), location, ExternalInputs),
                            (environment, services) => reader.ReadServices(environment, services, ct));
                    }, partCache);
                if (IncrementalPlan.TryPlan(snapshot, inputs) is not { } result) return null;
                if (liveStore is not null)
                    foreach (var plan in result.Plans) _gates[plan.Environment] = liveStore.Gate(plan.Environment, ct);
                var flushing = Stopwatch.StartNew();
                var added = partCache.Added;
                partCache.Flush();
                if (added > 0) _cacheWrite = new ParseCacheWrite(added, flushing.Elapsed);
                _loads.Add(new RepoLoadReport($" (incremental: {result.ChangedFiles} changed file(s) since the last plan{(result.BaseDiffKept ? ", the base's as the last preview found them" : "")}, {result.Replanned} service(s) planned again)",
                    result.Load, result.Elapsed, ProcessCpu() - cpu));
                var headTree = ((GitRepoSource)infra.Source).TreeId;
                var baseTree = (baseRepo?.Source as GitRepoSource)?.TreeId;
                var next = new PlanSnapshot(snapshot.Inputs, headTree, baseTree, result.Plans, result.HeadBlobs, result.BaseBlobs)
                {
                    HeadChanges = result.HeadChanges,
                };
                return Outcome() with
                {
                    Plans = result.Plans,
                    Planning = planning.Elapsed,
                    PlanningCpu = ProcessCpu() - cpu,
                    MemoWrites = Task.Run(() => PlanSnapshotFile.Save(snapshotPath, next)),
                };
            }
            finally
            {
                liveStore?.Dispose();
            }
        }

        private RepoModel Load(InfraRepo infra, FileParseCache cache, string label)
        {
            var watch = Stopwatch.StartNew();
            var cpu = ProcessCpu();
            var result = RepoLoader.Load(infra.Source, cache, CoreParallelism.Load);
            _loads.Add(new RepoLoadReport(label, result.Stats, watch.Elapsed, ProcessCpu() - cpu));
            if (!result.HasErrors) return result.Model!;
            _invalid = new InvalidRepo(result.Diagnostics, $"{infra.Describe()}{label}");
            throw new InvalidRepoException(_invalid);
        }
    }

    private static ReconcilerException Invalid(string message) => new(FailureKind.InvalidInput, message);

    /// <summary>Inputs of a plan from outside the commit and the store: none yet. A plan that reads any (a service
    /// catalog, an observed live state) must name them and their version here, so that a snapshot made without them is
    /// not reused (<see cref="IncrementalPlan.InputsKey"/>).</summary>
    private const string ExternalInputs = "";

    private static TimeSpan ProcessCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    /// <summary>Live state from the store, one environment at a time from any thread. A SQLite store that does not
    /// exist yet means nothing is deployed; it is not created by a plan.</summary>
    private sealed class LiveStoreReader : IDisposable
    {
        private readonly IStateStore? _store;
        private readonly TimeProvider _time;

        private LiveStoreReader(IStateStore? store, TimeProvider time) => (_store, _time) = (store, time);

        public static LiveStoreReader Open(StoreLocation location, TimeProvider time) => new(location.Exists ? location.Open(time) : null, time);

        public string? Describe => _store?.Describe;

        /// <param name="deferrable">Services the plan settles without reading them, left undecoded when their stored
        /// bytes are the listed ones (<see cref="ConvergedMemoMatch.Deferrable"/>).</param>
        public LiveState Read(string environment, ConvergedMemo? deferrable, CancellationToken ct) =>
            _store is null ? LiveState.Empty(environment) : _store.ReadAsync(environment, deferrable, ct).GetAwaiter().GetResult();

        /// <summary>The lock and freeze apply would meet now. A lock past its expiry is free (apply takes it over), whatever
        /// the store returns for it. No store yet: nothing is locked or frozen.</summary>
        public EnvironmentGate Gate(string environment, CancellationToken ct)
        {
            if (_store is null) return EnvironmentGate.Open;
            var held = _store.ReadLockAsync(environment, ct).GetAwaiter().GetResult();
            var freeze = _store.ReadFreezeAsync(environment, ct).GetAwaiter().GetResult();
            return new EnvironmentGate(held is not null && held.ExpiresAt > _time.GetUtcNow() ? held : null, freeze);
        }

        /// <summary>This environment's converged memo for this store (none without a store: nothing to remember).</summary>
        public ConvergedMemo? LoadMemo(string repoDirectory, string environment) =>
            _store is null ? null : ConvergedMemoFile.Load(ConvergedMemoFile.PathFor(repoDirectory, environment), _store.Describe);

        /// <summary>Some services of an environment, with every toggle and the version (<see cref="IStateStore.ReadServicesAsync"/>).</summary>
        public LiveState ReadServices(string environment, IReadOnlyCollection<string> services, CancellationToken ct) =>
            _store is null ? LiveState.Empty(environment) : _store.ReadServicesAsync(environment, services, ct).GetAwaiter().GetResult();

        public void Dispose() => _store?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
