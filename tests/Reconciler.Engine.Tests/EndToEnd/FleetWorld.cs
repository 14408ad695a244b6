using System.Collections.Immutable;
using Reconciler.Drivers;
using Reconciler.Drivers.Secrets;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Infrastructure;
using Xunit;

namespace Reconciler.Engine.Tests.EndToEnd;

/// <summary>Four real sshd hosts (web-1..web-4) shared by the tests of one class; each test deploys under its own /srv path.</summary>
public sealed class FourHostFleet() : SshdFleetFixture(4, "web");

/// <summary>
/// One test's world on a real fleet: the real executor (SSH driver, command checks over SSH, artifact fetcher, planner)
/// on a SQLite store, secrets from a dictionary instead of the process environment. Gates are short so a scenario takes
/// seconds; deadlines are generous because one SSH exec on a loaded 2-core machine can take seconds.
/// </summary>
public sealed class FleetWorld : IAsyncDisposable
{
    public const string Env = "e2e";
    private readonly TempDir _temp = new();
    private bool _storeOpen = true;

    public FleetWorld(SshdFleet fleet)
    {
        Fleet = fleet;
        Root = $"/srv/e2e-{Guid.NewGuid():N}"[..22];
        Store = new SqliteStateStore(StoreFile, TimeProvider.System);
    }

    public SshdFleet Fleet { get; }
    public string Root { get; }
    public SqliteStateStore Store { get; private set; }
    public string StoreFile => _temp.Combine("state.db");
    public Dictionary<string, string> Secrets { get; } = new(StringComparer.Ordinal);
    public List<ApplyProgress> Progress { get; } = [];
    public List<ApplyEvent> Events { get; } = [];
    public string Combine(params string[] parts) => _temp.Combine(parts);

    public static readonly HealthSpec FastHealth = new(
        [new HealthCheckSpec(HealthCheckKind.Command, null, null, null, null, "grep -qx ok ${deploy.path}/current/health", null, TimeSpan.FromSeconds(10))],
        TimeSpan.FromMilliseconds(100), 1, TimeSpan.Zero, TimeSpan.FromSeconds(20));

    public static StrategySpec Rolling(int n) => new(StrategyKind.Rolling, new MaxParallel(n, false), 1);

    /// <summary>An artifact whose `health` file says ok or bad, with the given restart script (default: records the release).</summary>
    public ArtifactSpec Artifact(string service, string version, bool healthy = true, string? restart = null)
    {
        var artifact = TestArtifact.Create(_temp.Combine("artifacts"), $"{service}-{version}-{Guid.NewGuid():N}.tar.gz", new Dictionary<string, string>
        {
            ["VERSION"] = version + "\n",
            ["health"] = healthy ? "ok\n" : "bad\n",
            ["bin/restart"] = restart ?? "#!/bin/sh\necho \"$RECONCILER_RELEASE\" > \"$RECONCILER_DEPLOY_PATH/restarted\"\n",
            ["bin/stop"] = "#!/bin/sh\nexit 0\n",
        });
        return new ArtifactSpec("file://" + artifact.Path, artifact.Sha256);
    }

    public ServiceSpec Service(string name, string version, StrategySpec? strategy = null, bool healthy = true, string? restart = null,
        ImmutableSortedDictionary<string, ConfigValue>? config = null, int keepReleases = 5, HealthSpec? health = null) =>
        new(name, true, version, Artifact(name, version, healthy, restart), [], "web",
            new DeploySpec(DriverKind.Ssh, $"{Root}/{name}", "./bin/restart", "./bin/stop", keepReleases), strategy ?? Rolling(4),
            health ?? (healthy ? FastHealth : FastHealth with { Deadline = TimeSpan.FromSeconds(3) }),
            config ?? ImmutableSortedDictionary<string, ConfigValue>.Empty.Add("LOG_LEVEL", new ConfigValue.Literal("info")), OnFailure.Rollback, null);

    public DesiredState Desired(string commit, params ServiceSpec[] services) => Desired(commit, Fleet.Hosts, services);

    public DesiredState Desired(string commit, IEnumerable<HostSpec> hosts, params ServiceSpec[] services) =>
        new(Env, commit,
            new EnvironmentSpec(Env, [], ImmutableSortedDictionary<string, HostGroup>.Empty.Add("web", new HostGroup("web", [.. hosts])), [], null, null),
            services.ToImmutableSortedDictionary(s => s.Name, s => s, StringComparer.Ordinal),
            ImmutableSortedDictionary<string, DesiredToggle>.Empty,
            new RepositorySpec(null, new Defaults(5, OnFailure.Rollback, Rolling(1), FastHealth), [], null));

    public ReconcileService Reconciler(ReconcileOptions? options = null)
    {
        var drivers = new HostDriverOptions { LocalRoot = _temp.Combine("local"), SshKeyPath = Fleet.ClientKeyPath, Warn = _ => { } };
        var deps = ExecutorWiring.Dependencies(Store, _temp.Path, TimeProvider.System, drivers) with
        {
            Secrets = new SecretResolver(environment: name => Secrets.GetValueOrDefault(name)),
        };
        return ExecutorWiring.Reconciler(deps, options, new RecordingObserver(Events));
    }

    public async Task<ReconcileOutcome> ApplyAsync(DesiredState desired, Diff.Planning.Plan? savedPlan = null, int? maxParallel = null,
        ReconcileOptions? options = null)
    {
        // Bounded: a hung apply fails the test instead of hanging it.
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        return await Reconciler(options).ReconcileAsync(new ReconcileRequest(desired, "e2e@test", null, savedPlan, MaxParallel: maxParallel),
            new ListProgress(Progress), bound.Token);
    }

    public async Task SucceedsAsync(DesiredState desired)
    {
        var outcome = await ApplyAsync(desired);
        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
    }

    public string? Current(int host, string service) => new FileInfo(Fleet.OnHost(host, $"{Root}/{service}/current")).LinkTarget;

    public string[] Entries(int host, string pathOnHost) =>
        [.. Directory.GetFileSystemEntries(Fleet.OnHost(host, pathOnHost)).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];

    /// <summary>Closes the store (to read or change its file); <see cref="OpenStore"/> opens it again.</summary>
    public async Task CloseStoreAsync()
    {
        if (_storeOpen) await Store.DisposeAsync();
        _storeOpen = false;
    }

    public void OpenStore(SqliteStateStore store)
    {
        Store = store;
        _storeOpen = true;
    }

    public async ValueTask DisposeAsync()
    {
        await CloseStoreAsync();
        _temp.Dispose();
    }

    private sealed class ListProgress(List<ApplyProgress> events) : IProgress<ApplyProgress>
    {
        public void Report(ApplyProgress value)
        {
            lock (events) events.Add(value);
        }
    }

    private sealed class RecordingObserver(List<ApplyEvent> events) : IApplyObserver
    {
        public void OnApplyEvent(ApplyEvent applyEvent)
        {
            lock (events) events.Add(applyEvent);
        }
    }
}
