using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Bench.FleetSim;

/// <summary>The simulated fleet: one environment whose hosts are spread over 3 regions (the rollout order) and 5 host
/// groups; service i runs on group i % 5, and services 5.. depend on the one of their group (two waves). Rolling in 25%
/// batches of the group, one command check per host.</summary>
internal sealed class SimulatedFleet
{
    public const string Environment = "prod";
    public static readonly ImmutableArray<string> Regions = ["eu-west", "us-east", "ap-south"];
    private const int Groups = 5;

    private readonly ImmutableSortedDictionary<string, HostGroup> _groups;
    private readonly EnvironmentSpec _environment;
    private readonly RepositorySpec _repository;
    private readonly HealthSpec _health = new(
        [new HealthCheckSpec(HealthCheckKind.Command, null, null, null, null, "test -f ${release.path}/ready", null, TimeSpan.FromSeconds(5))],
        TimeSpan.FromSeconds(1), 1, TimeSpan.Zero, TimeSpan.FromSeconds(60));

    public SimulatedFleet(int hosts, int services)
    {
        HostCount = hosts;
        ServiceCount = services;
        var all = Enumerable.Range(1, hosts).Select(i => new HostSpec($"h-{i:D5}", $"10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}", 22, "deploy", null,
            Regions[i % Regions.Length], ImmutableSortedDictionary<string, string>.Empty)).ToList();
        _groups = Enumerable.Range(0, Groups).ToImmutableSortedDictionary(g => Group(g),
            g => new HostGroup(Group(g), [.. all.Where((_, i) => i % Groups == g)]), StringComparer.Ordinal);
        _environment = new EnvironmentSpec(Environment, Regions, _groups, [], null, null);
        _repository = new RepositorySpec(null, new Defaults(5, OnFailure.Rollback, Rolling, _health), [], null);
        Deployments = Enumerable.Range(0, services).Sum(i => _groups[Group(i % Groups)].Hosts.Length);
    }

    public int HostCount { get; }
    public int ServiceCount { get; }

    /// <summary>Host deployments an upgrade of every service makes (a host runs every service of its group).</summary>
    public int Deployments { get; }

    private static StrategySpec Rolling => new(StrategyKind.Rolling, new MaxParallel(25, IsPercent: true), 1);

    private static string Group(int g) => $"group-{g}";

    private ServiceSpec Service(int i, string version) => new($"svc-{i:D2}", true, version,
        new ArtifactSpec($"artifacts/svc-{i:D2}-${{version}}.tar.gz", new string('a', 64)),
        i >= Groups ? [$"svc-{i % Groups:D2}"] : [], Group(i % Groups),
        new DeploySpec(DriverKind.Ssh, $"/srv/svc-{i:D2}", "./bin/restart", null, 5), Rolling, _health,
        ImmutableSortedDictionary<string, ConfigValue>.Empty.Add("LOG_LEVEL", new ConfigValue.Literal("info")), OnFailure.Rollback, null);

    public DesiredState Desired(string version, string commit) => new(Environment, commit, _environment,
        Enumerable.Range(0, ServiceCount).Select(i => Service(i, version)).ToImmutableSortedDictionary(s => s.Name, s => s, StringComparer.Ordinal),
        ImmutableSortedDictionary<string, DesiredToggle>.Empty, _repository);

    /// <summary>Live state with every service at <paramref name="version"/> on every host of its group.</summary>
    public StateChange Deployed(string version)
    {
        var services = Enumerable.Range(0, ServiceCount).Select(i => Service(i, version)).Select(s => new LiveService(s.Name, s.Version,
            ServiceFields.ReleaseId(s), ServiceFields.ConfigHash(s), "c0", s.DependsOn, ServiceFields.Flatten(s),
            _groups[s.HostGroup].Hosts.ToImmutableSortedDictionary(h => h.Name, h => new LiveHost(h.Name, ServiceFields.ReleaseId(s), null), StringComparer.Ordinal)));
        return new StateChange([.. services], [], [], []) with { LastGoodCommit = "c0" };
    }

    /// <summary>The store must say that every host runs <paramref name="version"/> of every service of its group.</summary>
    public async Task VerifyAsync(IStateStore store, string version)
    {
        var live = await store.ReadAsync(Environment, CancellationToken.None);
        foreach (var spec in Desired(version, "verify").Services.Values)
        {
            var release = ServiceFields.ReleaseId(spec);
            var service = live.Services[spec.Name];
            var wrong = _groups[spec.HostGroup].Hosts.Count(h => service.Hosts.GetValueOrDefault(h.Name)?.ActiveRelease != release);
            if (service.Version != version || wrong > 0)
                throw new InvalidOperationException($"{spec.Name}: live state says version {service.Version}, {wrong} host(s) not on {release}");
        }
    }
}
