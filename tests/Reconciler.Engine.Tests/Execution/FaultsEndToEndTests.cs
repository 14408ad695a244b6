using System.Collections.Immutable;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Reconciler.Daemon;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Drivers.Ssh;
using Reconciler.Engine.Tests.Infrastructure;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>Four real sshd hosts shared by the fault tests; every test deploys under its own /srv path.</summary>
public sealed class FaultFleet() : SshdFleetFixture(4, "web");

/// <summary>
/// Issue 11's findings 1-4 against real sshd, the SSH driver, command checks over SSH, the real artifact fetcher,
/// planner and SQLite store: a missing secret (and a host that is down) is an environment fault found by preflight;
/// a connection dropped mid-step is reopened and the step run again; a host that hangs is recorded as unknown and
/// repaired by the next apply; a rollback gates the old release with the old release's checks. Faults are real: a
/// restart script kills the sshd process serving its own connection, or stops (SIGSTOP) its host's sshd processes.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Category", "EndToEnd")]
public sealed class FaultsEndToEndTests(FaultFleet fixture) : IClassFixture<FaultFleet>, IAsyncLifetime
{
    private readonly SshdFleet _fleet = fixture.Fleet;
    private readonly TempDir _temp = new();
    private readonly string _root = $"/srv/f-{Guid.NewGuid():N}"[..20];
    private SqliteStateStore _store = null!;
    private const string Env = "faults";

    public Task InitializeAsync()
    {
        _store = new SqliteStateStore(_temp.Combine("state.db"), TimeProvider.System);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _temp.Dispose();
    }

    // ---------------------------------------------------------------- building blocks

    private const string RecordRestart = "echo \"$RECONCILER_RELEASE\" > \"$RECONCILER_DEPLOY_PATH/restarted\"\n";

    /// <summary>The first run of this restart kills the sshd process that serves its own SSH connection (the child of the
    /// listening sshd): the connection drops in the middle of the activate step. Later runs restart normally.</summary>
    private const string DropConnectionOnce =
        "M=\"$RECONCILER_DEPLOY_PATH/dropped-$RECONCILER_RELEASE-$RECONCILER_HOST\"\n" +
        "if [ ! -e \"$M\" ]; then\n  : > \"$M\"\n" + SshdFleet.KillOwnConnection + "fi\n";

    /// <summary>On web-2 only, once: stop (SIGSTOP) every sshd process above this restart (its connection and the listening
    /// sshd), write their pids where the test finds them, and hang: web-2 is a host that hangs mid-activation.</summary>
    private const string HangWeb2Once = """
        if [ "$RECONCILER_HOST" = web-2 ] && [ ! -e "$RECONCILER_DEPLOY_PATH/hung-once" ]; then
          : > "$RECONCILER_DEPLOY_PATH/hung-once"
          p=$PPID; pids=
          while [ "$p" -gt 1 ]; do
            read -r _ comm _ pp _ < /proc/$p/stat
            [ "$comm" = "(sshd)" ] && pids="$pids $p"
            p=$pp
          done
          echo $pids > "$RECONCILER_DEPLOY_PATH/stopped-pids"
          kill -STOP $pids
          sleep 60
        fi

        """;

    private ArtifactSpec Artifact(string service, string version, bool healthy = true, string restartPrelude = "")
    {
        var artifact = TestArtifact.Create(_temp.Combine("artifacts"), $"{service}-{version}-{Guid.NewGuid():N}.tar.gz", new Dictionary<string, string>
        {
            ["VERSION"] = version + "\n",
            ["health"] = healthy ? "ok\n" : "bad\n",
            ["bin/restart"] = "#!/bin/sh\n" + restartPrelude + RecordRestart,
            ["bin/stop"] = "#!/bin/sh\nrm -f \"$RECONCILER_DEPLOY_PATH/restarted\"\n",
        });
        return new ArtifactSpec("file://" + artifact.Path, artifact.Sha256);
    }

    private static HealthCheckSpec Command(string run) =>
        new(HealthCheckKind.Command, null, null, null, null, run, null, TimeSpan.FromSeconds(10));

    private static readonly HealthSpec Healthy = new([Command("grep -qx ok ${deploy.path}/current/health")],
        TimeSpan.FromMilliseconds(100), 1, TimeSpan.Zero, TimeSpan.FromSeconds(20));

    private ServiceSpec Api(string version, ArtifactSpec artifact, HealthSpec? health = null, OnFailure onFailure = OnFailure.Rollback,
        ImmutableSortedDictionary<string, ConfigValue>? config = null) =>
        new("api", true, version, artifact, [], "web",
            new DeploySpec(DriverKind.Ssh, $"{_root}/api", "./bin/restart", "./bin/stop", 5),
            new StrategySpec(StrategyKind.Rolling, new MaxParallel(4, false), 1), health ?? Healthy,
            config ?? ImmutableSortedDictionary<string, ConfigValue>.Empty.Add("LOG_LEVEL", new ConfigValue.Literal("info")), onFailure, null);

    private DesiredState Desired(string commit, IEnumerable<HostSpec> hosts, ServiceSpec api) =>
        new(Env, commit,
            new EnvironmentSpec(Env, [], ImmutableSortedDictionary<string, HostGroup>.Empty.Add("web", new HostGroup("web", [.. hosts])), [], null, null),
            ImmutableSortedDictionary<string, ServiceSpec>.Empty.WithComparers(StringComparer.Ordinal).Add("api", api),
            ImmutableSortedDictionary<string, DesiredToggle>.Empty,
            new RepositorySpec(null, new Defaults(5, OnFailure.Rollback, new StrategySpec(StrategyKind.Rolling, new MaxParallel(1, false), 1), Healthy), [], null));

    private async Task<ReconcileOutcome> ApplyAsync(DesiredState desired, TimeSpan? stepTimeout = null)
    {
        var options = new SshDriverOptions
        {
            PrivateKeyPath = _fleet.ClientKeyPath,
            StepTimeout = stepTimeout ?? TimeSpan.FromMinutes(1),
            ConnectTimeout = TimeSpan.FromSeconds(3),
        };
        var deps = new ExecutorDependencies(_store, _ => new SshHostDriver(options), HostDrivers.Probes(ExecutorWiring.Http),
            HostDrivers.Artifacts(_temp.Path, ExecutorWiring.Http), HostDrivers.Secrets(), TimeProvider.System);
        // Bounded: a hung apply fails the test instead of hanging it.
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        return await ExecutorWiring.Reconciler(deps).ReconcileAsync(new ReconcileRequest(desired, "faults@test", null, null), null, bound.Token);
    }

    private string? Current(int host) => new FileInfo(_fleet.OnHost(host, $"{_root}/api/current")).LinkTarget;

    private string[] ReleasesOn(int host) =>
        Directory.Exists(_fleet.OnHost(host, $"{_root}/api/releases"))
            ? [.. Directory.GetDirectories(_fleet.OnHost(host, $"{_root}/api/releases")).Select(Path.GetFileName).Order()!]
            : [];

    private static string Json(object value) => JsonSerializer.Serialize(value, ReconcilerJson.Options);

    private async Task<ServiceSpec> BaselineAsync()
    {
        var api = Api("1.0.0", Artifact("api", "1.0.0"));
        var outcome = await ApplyAsync(Desired("c1", _fleet.Hosts, api));
        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        return api;
    }

    /// <summary>The store must say what every host runs: each host's `current` against its recorded release.</summary>
    private async Task AssertStoreMatchesHostsAsync()
    {
        var live = await _store.ReadAsync(Env, default);
        for (var i = 0; i < _fleet.Hosts.Length; i++)
            Assert.Equal($"releases/{live.Services["api"].Hosts[_fleet.Hosts[i].Name].ActiveRelease}", Current(i));
    }

    // ---------------------------------------------------------------- finding 1: a missing secret (and a host that is down)

    [Fact]
    public async Task Missing_secret_and_down_host_are_reported_at_once_by_preflight_nothing_changes_and_nothing_is_quarantined()
    {
        var api = await BaselineAsync();
        var before = await _store.ReadAsync(Env, default);
        var variable = $"RECONCILER_TEST_UNSET_{Guid.NewGuid():N}";
        var config = api.Config.Add("DB_PASSWORD", new ConfigValue.Secret("env:" + variable));
        var next = Api("1.1.0", Artifact("api", "1.1.0"), config: config);
        var hosts = _fleet.Hosts.Append(SshdFleet.DownHost("web-down"));

        var outcome = await ApplyAsync(Desired("c2", hosts, next));

        // Whose fault: the environment's, so exit 9 and no quarantine; both problems in one message.
        Assert.True(outcome.Failure == FailureKind.EnvironmentFault, $"{outcome.Failure}: {outcome.Message}");
        Assert.Contains(variable, outcome.Message);
        Assert.Contains("web-down", outcome.Message);
        Assert.Empty(await _store.ReadQuarantineAsync(Env, default));
        // Nothing changed: no host received the new release, the store is as before.
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal($"releases/{ServiceFields.ReleaseId(api)}", Current(i));
            Assert.DoesNotContain(ServiceFields.ReleaseId(next), ReleasesOn(i));
        }
        Assert.Equal(Json(before.Services), Json((await _store.ReadAsync(Env, default)).Services));
        var history = (await _store.ReadHistoryAsync(Env, 1, default)).Single();
        Assert.Equal("c2", history.Commit);
        Assert.Contains(variable, history.Message);
        Assert.Contains("environment", history.Message);

        // Once the secret is there (and the down host gone), the same commit applies: it was never quarantined.
        Environment.SetEnvironmentVariable(variable, "s3cret");
        try
        {
            var retry = await ApplyAsync(Desired("c2", _fleet.Hosts, next));
            Assert.True(retry.Result == ApplyResult.Succeeded, retry.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    // ---------------------------------------------------------------- finding 2: dropped connections

    [Fact]
    public async Task A_connection_dropped_mid_activation_is_reopened_and_the_step_run_again()
    {
        await BaselineAsync();
        long reconnects = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Reconciler" && instrument.Name == "reconciler.ssh.reconnects") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref reconnects, value));
        listener.Start();
        var next = Api("1.1.0", Artifact("api", "1.1.0", restartPrelude: DropConnectionOnce));

        var outcome = await ApplyAsync(Desired("c2", _fleet.Hosts, next));

        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        Assert.Empty(await _store.ReadQuarantineAsync(Env, default));
        // Every host's connection was killed once during its activation, and each was reopened.
        Assert.True(Interlocked.Read(ref reconnects) >= 4, $"reconnects: {reconnects}");
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal($"releases/{ServiceFields.ReleaseId(next)}", Current(i));
            Assert.True(File.Exists(_fleet.OnHost(i, $"{_root}/api/dropped-{ServiceFields.ReleaseId(next)}-{_fleet.Hosts[i].Name}")));
            Assert.Equal(ServiceFields.ReleaseId(next) + "\n", File.ReadAllText(_fleet.OnHost(i, $"{_root}/api/restarted")));
        }
        await AssertStoreMatchesHostsAsync();
    }

    // ---------------------------------------------------------------- finding 3: a host that hangs

    [Fact]
    public async Task A_host_that_hangs_mid_activation_is_recorded_as_unknown_and_the_next_apply_repairs_it()
    {
        var api = await BaselineAsync();
        var next = Api("1.1.0", Artifact("api", "1.1.0", restartPrelude: HangWeb2Once));
        var pidsFile = _fleet.OnHost(1, $"{_root}/api/stopped-pids");
        try
        {
            var outcome = await ApplyAsync(Desired("c2", _fleet.Hosts, next), stepTimeout: TimeSpan.FromSeconds(4));

            // web-2 hung mid-activation and could not be switched back: hosts need attention, the commit is not to blame.
            Assert.True(outcome.Failure == FailureKind.HostsNeedAttention, $"{outcome.Failure}: {outcome.Message}");
            Assert.Contains("web-2", outcome.Message);
            Assert.Empty(await _store.ReadQuarantineAsync(Env, default));
            Assert.Equal($"releases/{ServiceFields.ReleaseId(next)}", Current(1));   // it runs the new release ...
            var live = await _store.ReadAsync(Env, default);
            // ... and the store must not claim the old one: status says the host needs attention.
            Assert.NotEqual(ServiceFields.ReleaseId(api), live.Services["api"].Hosts["web-2"].ActiveRelease);
            var status = StatusReports.Build(null, live, [], [], null, null);
            Assert.Equal("needs-attention", status.Services.Single(s => s.Service == "api").State);
        }
        finally
        {
            Resume(pidsFile);
        }

        // The host is back. Git reverts to the old version (commit c3): the apply reads web-2 first and repairs it.
        var revert = await ApplyAsync(Desired("c3", _fleet.Hosts, api));

        Assert.True(revert.Result == ApplyResult.Succeeded, revert.Message);
        for (var i = 0; i < 4; i++) Assert.Equal($"releases/{ServiceFields.ReleaseId(api)}", Current(i));
        await AssertStoreMatchesHostsAsync();
        Assert.Equal(ApplyResult.NoChanges, (await ApplyAsync(Desired("c3", _fleet.Hosts, api))).Result);
    }

    private static void Resume(string pidsFile)
    {
        if (!File.Exists(pidsFile)) return;
        foreach (var pid in File.ReadAllText(pidsFile).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            using var cont = System.Diagnostics.Process.Start("kill", ["-CONT", pid]);
            cont.WaitForExit();
        }
    }

    // ---------------------------------------------------------------- finding 4: the rollback's health checks

    [Fact]
    public async Task A_rollback_gates_the_restored_release_with_the_checks_of_the_commit_it_came_from()
    {
        var api = await BaselineAsync();
        // The new commit's check asks for what only its own version has; the new release also reports bad health.
        var onlyNew = Healthy with
        {
            Checks = [Command("grep -qx 1.1.0 ${deploy.path}/current/VERSION && grep -qx ok ${deploy.path}/current/health")],
            Deadline = TimeSpan.FromSeconds(5),
        };
        var next = Api("1.1.0", Artifact("api", "1.1.0", healthy: false), health: onlyNew);

        var outcome = await ApplyAsync(Desired("c2", _fleet.Hosts, next));

        // A failed release on healthy hosts: rolled back and quarantined (exit 3), not "hosts need attention" (exit 4).
        Assert.True(outcome.Result == ApplyResult.RolledBack, $"{outcome.Result}: {outcome.Message}");
        Assert.Equal(FailureKind.CommitFault, outcome.Failure);
        Assert.Contains(await _store.ReadQuarantineAsync(Env, default), q => q.Commit == "c2");
        for (var i = 0; i < 4; i++) Assert.Equal($"releases/{ServiceFields.ReleaseId(api)}", Current(i));
        await AssertStoreMatchesHostsAsync();
    }
}
