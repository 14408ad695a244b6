using System.Collections.Immutable;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Running;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.Engine.Tests.Execution;

BenchmarkRunner.Run<ExecutorOverhead>(args: args);

/// <summary>
/// The executor's own cost per host: journaling, batching, gating and compare-and-set state writes, with a driver,
/// probe and store that return at once. 100 services x 20 hosts = 2,000 host deployments in 2 waves, rolling 25%,
/// one check per host that passes on the first probe. What the network costs is measured by the drivers' benchmark.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class ExecutorOverhead
{
    private const int Services = 100;
    private const int Hosts = 20;
    private DesiredState _desired = null!;
    private LiveState _live = null!;

    [GlobalSetup]
    public void Setup()
    {
        var hosts = Enumerable.Range(1, Hosts).Select(i => new HostSpec($"h-{i}", "127.0.0.1", 22, "deploy", null, null,
            ImmutableSortedDictionary<string, string>.Empty)).ToImmutableArray();
        var health = new HealthSpec([new HealthCheckSpec(HealthCheckKind.Command, null, null, null, null, "true", null, TimeSpan.FromSeconds(1))],
            TimeSpan.FromSeconds(1), 1, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        ServiceSpec Spec(int i, string version) => new($"svc-{i:D3}", true, version, new ArtifactSpec($"a/svc-{i}.tar.gz", new string('a', 64)),
            i >= 4 ? [$"svc-{i % 4:D3}"] : [], "app", new DeployDefaults(i).Deploy,
            new StrategySpec(StrategyKind.Rolling, new MaxParallel(25, true), 1), health,
            ImmutableSortedDictionary<string, ConfigValue>.Empty.Add("K", new ConfigValue.Literal("v")), OnFailure.Rollback, null);
        var env = new EnvironmentSpec("prod", [], ImmutableSortedDictionary<string, HostGroup>.Empty.Add("app", new HostGroup("app", hosts)), [], null, null);
        var repo = new RepositorySpec(null, new Defaults(5, OnFailure.Rollback, new StrategySpec(StrategyKind.Rolling, new MaxParallel(1, false), 1), health), [], null);
        var old = Enumerable.Range(0, Services).Select(i => Spec(i, "1.0.0")).ToList();
        _desired = new DesiredState("prod", "c2", env, Enumerable.Range(0, Services).Select(i => Spec(i, "1.1.0"))
            .ToImmutableSortedDictionary(s => s.Name, s => s, StringComparer.Ordinal), ImmutableSortedDictionary<string, DesiredToggle>.Empty, repo);
        _live = LiveState.Empty("prod") with
        {
            Version = 1,
            Services = old.ToImmutableSortedDictionary(s => s.Name, s => new LiveService(s.Name, s.Version, ServiceFields.ReleaseId(s),
                ServiceFields.ConfigHash(s), "c1", s.DependsOn, ServiceFields.Flatten(s),
                hosts.ToImmutableSortedDictionary(h => h.Name, h => new LiveHost(h.Name, ServiceFields.ReleaseId(s), null), StringComparer.Ordinal)),
                StringComparer.Ordinal),
        };
    }

    [Benchmark(Description = "apply 100 services x 20 hosts (2,000 host deployments)")]
    public async Task<ReconcileOutcome> Apply()
    {
        var store = new InMemoryStateStore(TimeProvider.System);
        store.Seed(_live);
        var driver = new FakeHostDriver();
        foreach (var s in _live.Services.Values)
            foreach (var h in s.Hosts.Values)
                driver.SetCurrent(h.Host, s.Fields["deploy.path"], h.ActiveRelease);
        var deps = new ExecutorDependencies(store, _ => driver, new FakeHealthProbe(), new FakeArtifactFetcher(), new FakeSecretResolver(), TimeProvider.System);
        var outcome = await new ReconcileService(deps, (d, l) => PlanFor(d, l)).ReconcileAsync(
            new ReconcileRequest(_desired, "bench", null, null), null, CancellationToken.None);
        if (outcome.Result != Reconciler.State.ApplyResult.Succeeded) throw new InvalidOperationException(outcome.Message);
        return outcome;
    }

    /// <summary>Upgrade every host; waves by dependsOn depth (the real planner is benchmarked separately).</summary>
    private static Plan PlanFor(DesiredState desired, LiveState live)
    {
        var hosts = desired.EnvironmentSpec.HostGroups["app"].Hosts;
        var changes = desired.Services.Values.Select(s =>
        {
            var release = ServiceFields.ReleaseId(s);
            var from = live.Services[s.Name].ReleaseId;
            return new ServiceChange(s.Name, ServiceAction.Upgrade, "1.0.0 -> 1.1.0", "1.0.0", s.Version, from, release, "app", [],
                [.. hosts.Select(h => new HostChange(h.Name, null, from, release))], s.DependsOn.IsEmpty ? 1 : 2);
        }).OrderBy(c => c.Wave).ThenBy(c => c.Service, StringComparer.Ordinal).ToImmutableArray();
        var waves = changes.GroupBy(c => c.Wave).Select(g => new PlanWave(g.Key, WaveKind.Deploy, [.. g.Select(c => c.Service)], [], [])).ToImmutableArray();
        return new Plan(Plan.CurrentFormatVersion, desired.Environment, desired.Revision, null, live.Version, changes, [], waves);
    }

    private sealed record DeployDefaults(int I)
    {
        public DeploySpec Deploy => new(DriverKind.Ssh, $"/srv/svc-{I:D3}", "./restart", null, 5);
    }
}
