using Xunit;
using System.Collections.Immutable;
using Microsoft.Extensions.Time.Testing;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>
/// A fake world for executor tests: one environment with hosts web-1..web-N, an in-memory store, a fake driver
/// and probe, fake time, and a small planner (the real one lives in src/Diff; this one keeps the executor tests
/// independent of its details: upgrade hosts whose release differs, waves by dependsOn depth, removals last).
/// </summary>
public sealed class ExecutorWorld
{
    public const string Env = "staging";
    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 2, 9, 0, 0, TimeSpan.Zero));
    public InMemoryStateStore Store { get; }
    /// <summary>The store the reconciler uses: the in-memory one unless a test swaps in a real one.</summary>
    public IStateStore StoreUnderTest { get; set; }
    public FakeHostDriver Driver { get; } = new();
    public FakeHealthProbe Probe { get; } = new();
    public FakeArtifactFetcher Artifacts { get; } = new();
    public ImmutableArray<HostSpec> Hosts { get; }
    public List<ApplyProgress> ProgressEvents { get; } = [];

    public ExecutorWorld(int hosts = 4)
    {
        Store = new InMemoryStateStore(Time);
        StoreUnderTest = Store;
        Hosts = [.. Enumerable.Range(1, hosts).Select(i => new HostSpec($"web-{i}", "127.0.0.1", 2200 + i, "deploy", null, null,
            ImmutableSortedDictionary<string, string>.Empty))];
    }

    public static HealthSpec Health(int passes = 2, int minHealthySeconds = 2, int deadlineSeconds = 30) =>
        new([new HealthCheckSpec(HealthCheckKind.Command, null, null, null, null, "true", null, TimeSpan.FromSeconds(2))],
            TimeSpan.FromSeconds(1), passes, TimeSpan.FromSeconds(minHealthySeconds), TimeSpan.FromSeconds(deadlineSeconds));

    /// <summary>The services most executor tests start from: db 2.0.0 and api 1.4.2, which depends on it.</summary>
    public static readonly ServiceSpec DbOld = Service("db", "2.0.0");
    public static readonly ServiceSpec ApiOld = Service("api", "1.4.2", dependsOn: ["db"]);

    public static ServiceSpec Service(string name, string version, StrategySpec? strategy = null, ImmutableArray<string> dependsOn = default,
        OnFailure? onFailure = null, HealthSpec? health = null) =>
        new(name, true, version, new ArtifactSpec($"artifacts/{name}-${{version}}.tar.gz", new string('a', 64)),
            dependsOn.IsDefault ? [] : dependsOn, "web",
            new DeploySpec(DriverKind.Ssh, $"/srv/{name}", "./restart", "./stop", 5),
            strategy ?? Rolling(2), health ?? Health(),
            ImmutableSortedDictionary<string, ConfigValue>.Empty.Add("LOG_LEVEL", new ConfigValue.Literal("info"))
                .Add("DB_PASSWORD", new ConfigValue.Secret("env:DB_PASSWORD")),
            onFailure, null);

    public static StrategySpec Rolling(int maxParallel) => new(StrategyKind.Rolling, new MaxParallel(maxParallel, false), 1);
    public static StrategySpec Canary(int canary, int maxParallel = 2) => new(StrategyKind.Canary, new MaxParallel(maxParallel, false), canary);
    public static StrategySpec BlueGreen() => new(StrategyKind.BlueGreen, new MaxParallel(100, true), 1);

    public DesiredState Desired(string commit, IEnumerable<ServiceSpec> services, IEnumerable<DesiredToggle>? toggles = null,
        OnFailure? envOnFailure = null, ImmutableArray<FreezeWindow> freeze = default) =>
        new(Env, commit,
            new EnvironmentSpec(Env, [], ImmutableSortedDictionary<string, HostGroup>.Empty.Add("web", new HostGroup("web", Hosts)),
                freeze.IsDefault ? [] : freeze, envOnFailure, null),
            services.ToImmutableSortedDictionary(s => s.Name, s => s, StringComparer.Ordinal),
            (toggles ?? []).ToImmutableSortedDictionary(t => t.Name, t => t, StringComparer.Ordinal),
            new RepositorySpec(null, new Defaults(5, OnFailure.Rollback, Rolling(1), Health()), [], null));

    /// <summary>The planner the reconciler uses; a test that needs a plan the test planner cannot make sets its own.</summary>
    public Func<DesiredState, Diff.Live.LiveState, Plan> Planner { get; set; } = TestPlanner.Plan;

    public ReconcileService Reconciler() =>
        new(new ExecutorDependencies(StoreUnderTest, _ => Driver, Probe, Artifacts, new FakeSecretResolver(), Time), Planner,
            new ReconcileOptions { LockTtl = TimeSpan.FromMinutes(2) });

    public ReconcileRequest Request(DesiredState desired, Plan? saved = null, bool force = false, string? reason = null,
        CancellationToken preempt = default) =>
        new(desired, "alice@laptop", "alice", saved, force, reason, null, preempt);

    /// <summary>Runs a reconcile, advancing fake time while it waits (bounded: fails instead of hanging).</summary>
    public async Task<ReconcileOutcome> ApplyAsync(ReconcileRequest request, CancellationToken ct = default)
    {
        var progress = new SyncProgress(ProgressEvents);
        var task = Task.Run(() => Reconciler().ReconcileAsync(request, progress, ct), CancellationToken.None);
        return await Drive(task);
    }

    public async Task<T> Drive<T>(Task<T> task, TimeSpan? step = null)
    {
        for (var i = 0; i < 20_000 && !task.IsCompleted; i++)
        {
            await Task.WhenAny(task, Task.Delay(1));
            if (!task.IsCompleted) Time.Advance(step ?? TimeSpan.FromMilliseconds(500));
        }
        Assert.True(task.IsCompleted, "the apply did not finish within 20000 fake-time steps");
        return await task;
    }

    public async Task<LiveState> LiveAsync() => await StoreUnderTest.ReadAsync(Env, CancellationToken.None);

    /// <summary>Puts the world at a state where every service runs the given specs (store and hosts agree).</summary>
    public void Deployed(string commit, params ServiceSpec[] services)
    {
        var live = LiveState.Empty(Env);
        foreach (var s in services)
        {
            var release = ServiceFields.ReleaseId(s);
            foreach (var h in Hosts) Driver.SetCurrent(h.Name, s.Deploy.Path, release);
            live = live with
            {
                Services = live.Services.Add(s.Name, new LiveService(s.Name, s.Version, release, ServiceFields.ConfigHash(s), commit, s.DependsOn,
                    ServiceFields.Flatten(s), Hosts.ToImmutableSortedDictionary(h => h.Name, h => new LiveHost(h.Name, release, null), StringComparer.Ordinal))),
            };
        }
        Store.Seed(live with { Version = 7, LastGoodCommit = commit });
        if (!ReferenceEquals(StoreUnderTest, Store))
            StoreUnderTest.WriteAsync(Env, 0, new StateChange([.. live.Services.Values], [], [], [], commit), CancellationToken.None).GetAwaiter().GetResult();
    }

    private sealed class SyncProgress(List<ApplyProgress> sink) : IProgress<ApplyProgress>
    {
        public void Report(ApplyProgress value) { lock (sink) sink.Add(value); }
    }
}

/// <summary>The executor tests' planner (see <see cref="ExecutorWorld"/>).</summary>
public static class TestPlanner
{
    public static Plan Plan(DesiredState desired, LiveState live)
    {
        var hosts = desired.EnvironmentSpec.HostGroups.Values.SelectMany(g => g.Hosts).ToList();
        var waves = new Dictionary<string, int>(StringComparer.Ordinal);
        int WaveOf(string s) => waves.TryGetValue(s, out var w) ? w
            : waves[s] = 1 + desired.Services[s].DependsOn.Where(desired.Services.ContainsKey).Select(WaveOf).DefaultIfEmpty(0).Max();
        var changes = new List<ServiceChange>();
        foreach (var spec in desired.Services.Values)
        {
            var release = ServiceFields.ReleaseId(spec);
            var old = live.Services.GetValueOrDefault(spec.Name);
            var hostChanges = desired.EnvironmentSpec.HostGroups[spec.HostGroup].Hosts
                .Select(h => new HostChange(h.Name, h.Region, old?.Hosts.GetValueOrDefault(h.Name)?.ActiveRelease, release))
                .Where(h => h.FromRelease != h.ToRelease).ToImmutableArray();
            var action = old is null ? ServiceAction.Create : hostChanges.IsEmpty ? ServiceAction.NoOp : ServiceAction.Upgrade;
            changes.Add(new ServiceChange(spec.Name, action, action == ServiceAction.NoOp ? "no change" : $"version {old?.Version ?? "-"} -> {spec.Version}",
                old?.Version, spec.Version, old?.ReleaseId, release, spec.HostGroup, [], hostChanges, action == ServiceAction.NoOp ? 0 : WaveOf(spec.Name)));
        }
        var lastDeploy = changes.Where(c => c.Action != ServiceAction.NoOp).Select(c => c.Wave).DefaultIfEmpty(0).Max();
        foreach (var gone in live.Services.Values.Where(s => !desired.Services.ContainsKey(s.Name)))
            changes.Add(new ServiceChange(gone.Name, ServiceAction.Remove, "removed", gone.Version, null, gone.ReleaseId, null, "web", [],
                [.. gone.Hosts.Values.Select(h => new HostChange(h.Host, null, h.ActiveRelease, null))], lastDeploy + 1));
        var toggles = desired.Toggles.Values.Select(t =>
        {
            var before = live.Toggles.GetValueOrDefault(t.Name)?.Enabled;
            var action = before == t.Enabled ? ToggleAction.NoOp : t.Enabled ? ToggleAction.On : ToggleAction.Off;
            return new ToggleChange(t.Name, action, before, t.Enabled, t.Requires, action.ToString(), action == ToggleAction.NoOp ? 0 : Math.Max(1, lastDeploy));
        }).ToImmutableArray();
        var waveList = changes.Where(c => c.Action != ServiceAction.NoOp).GroupBy(c => c.Wave).OrderBy(g => g.Key)
            .Select(g => new PlanWave(g.Key, g.First().Action == ServiceAction.Remove ? WaveKind.Remove : WaveKind.Deploy,
                [.. g.Select(c => c.Service).Order(StringComparer.Ordinal)], [],
                [.. toggles.Where(t => t.Action != ToggleAction.NoOp && t.Wave == g.Key).Select(t => t.Toggle)]))
            .ToList();
        if (waveList.Count == 0 && toggles.Any(t => t.Action != ToggleAction.NoOp))
            waveList.Add(new PlanWave(1, WaveKind.Deploy, [], [], [.. toggles.Where(t => t.Action != ToggleAction.NoOp).Select(t => t.Toggle)]));
        return new Plan(Reconciler.Diff.Planning.Plan.CurrentFormatVersion, desired.Environment, desired.Revision, null, live.Version,
            [.. changes.OrderBy(c => c.Wave).ThenBy(c => c.Service, StringComparer.Ordinal)], toggles, [.. waveList]);
    }
}
