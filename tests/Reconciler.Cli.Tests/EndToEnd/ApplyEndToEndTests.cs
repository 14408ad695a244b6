using System.Collections.Immutable;
using System.Text.Json;
using LibGit2Sharp;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Git;
using Reconciler.Engine.Tests.Infrastructure;
using Reconciler.Engine.Tests.State;
using Xunit;

namespace Reconciler.Cli.Tests.EndToEnd;

/// <summary>Four real sshd hosts on 127.0.0.1 shared by the end-to-end tests; every test deploys under its own /srv path.</summary>
public sealed class EndToEndFleet() : SshdFleetFixture(4, "web");

/// <summary>
/// The executor with every real part: sshd hosts, the SSH driver, command health checks run over SSH, the artifact
/// fetcher, the real planner and the SQLite store. Gates are short (100 ms interval) so the file runs in seconds.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Runs", "Executable")]
[Trait("Category", "EndToEnd")]
public sealed class ApplyEndToEndTests(EndToEndFleet fixture) : IClassFixture<EndToEndFleet>, IAsyncLifetime
{
    private readonly SshdFleet _fleet = fixture.Fleet;
    private readonly TempDir _temp = new();
    private readonly string _root = $"/srv/e2e-{Guid.NewGuid():N}"[..22];
    private readonly List<string> _warnings = [];
    private SqliteStateStore _store = null!;
    private const string Env = "e2e";

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

    /// <summary>An artifact whose `health` file says ok or bad; the command check reads it through `current`.</summary>
    private ArtifactSpec Artifact(string service, string version, bool healthy = true)
    {
        var artifact = TestArtifact.Create(_temp.Combine("artifacts"), $"{service}-{version}{(healthy ? "" : "-bad")}.tar.gz", new Dictionary<string, string>
        {
            ["VERSION"] = version + "\n",
            ["health"] = healthy ? "ok\n" : "bad\n",
            ["bin/restart"] = "#!/bin/sh\necho \"$RECONCILER_RELEASE\" > \"$RECONCILER_DEPLOY_PATH/restarted\"\n",
            ["bin/stop"] = "#!/bin/sh\nrm -f \"$RECONCILER_DEPLOY_PATH/restarted\"\n",
        });
        return new ArtifactSpec("file://" + artifact.Path, artifact.Sha256);
    }

    // Short intervals keep the file fast; the deadline and timeout are generous because a loaded 2-core CI machine
    // can take seconds for one SSH exec. A failing check fails at once (exit 1) and waits for the deadline.
    private static readonly HealthSpec FastHealth = new(
        [new HealthCheckSpec(HealthCheckKind.Command, null, null, null, null, "grep -qx ok ${deploy.path}/current/health", null, TimeSpan.FromSeconds(10))],
        TimeSpan.FromMilliseconds(100), 2, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(20));

    private static readonly HealthSpec FailFastHealth = FastHealth with { ConsecutivePasses = 1, MinHealthy = TimeSpan.Zero, Deadline = TimeSpan.FromSeconds(6) };

    private ServiceSpec Service(string name, string version, StrategySpec strategy, bool healthy = true, ImmutableArray<string> dependsOn = default) =>
        new(name, true, version, Artifact(name, version, healthy), dependsOn.IsDefault ? [] : dependsOn, "web",
            new DeploySpec(DriverKind.Ssh, $"{_root}/{name}", "./bin/restart", "./bin/stop", 5), strategy, healthy ? FastHealth : FailFastHealth,
            ImmutableSortedDictionary<string, ConfigValue>.Empty.Add("LOG_LEVEL", new ConfigValue.Literal("info")), OnFailure.Rollback, null);

    private static StrategySpec Rolling(int n) => new(StrategyKind.Rolling, new MaxParallel(n, false), 1);

    private DesiredState Desired(string commit, IEnumerable<HostSpec> hosts, params ServiceSpec[] services) =>
        new(Env, commit,
            new EnvironmentSpec(Env, [], ImmutableSortedDictionary<string, HostGroup>.Empty.Add("web", new HostGroup("web", [.. hosts])), [], null, null),
            services.ToImmutableSortedDictionary(s => s.Name, s => s, StringComparer.Ordinal),
            ImmutableSortedDictionary<string, DesiredToggle>.Empty,
            new RepositorySpec(null, new Defaults(5, OnFailure.Rollback, Rolling(1), FastHealth), [], null));

    private async Task<ReconcileOutcome> ApplyAsync(DesiredState desired)
    {
        var drivers = new HostDriverOptions
        {
            LocalRoot = _temp.Combine("local"),
            SshKeyPath = _fleet.ClientKeyPath,
            Warn = m => { lock (_warnings) _warnings.Add(m); },
        };
        var reconciler = ExecutorWiring.Reconciler(ExecutorWiring.Dependencies(_store, _temp.Path, TimeProvider.System, drivers));
        // Bounded: a hung apply fails the test instead of hanging it.
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        return await reconciler.ReconcileAsync(new ReconcileRequest(desired, "e2e@test", null, null), null, bound.Token);
    }

    private string? Current(int host, string service) => new FileInfo(_fleet.OnHost(host, $"{_root}/{service}/current")).LinkTarget;

    private string[] ReleasesOn(int host, string service) =>
        [.. Directory.GetDirectories(_fleet.OnHost(host, $"{_root}/{service}/releases")).Select(Path.GetFileName).Order()!];

    private static string Json(object value) => JsonSerializer.Serialize(value, ReconcilerJson.Options);

    private async Task<(ServiceSpec Db, ServiceSpec Api)> BaselineAsync()
    {
        var db = Service("db", "1.0.0", Rolling(4));
        var api = Service("api", "1.0.0", Rolling(4), dependsOn: ["db"]);
        var outcome = await ApplyAsync(Desired("c1", _fleet.Hosts, db, api));
        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        return (db, api);
    }

    // ---------------------------------------------------------------- scenarios

    [Fact]
    public async Task Rolling_deploy_of_a_two_wave_plan_on_four_hosts_then_a_rerun_changes_nothing()
    {
        await BaselineAsync();
        var db = Service("db", "1.1.0", Rolling(2));
        var api = Service("api", "1.1.0", Rolling(2), dependsOn: ["db"]);
        var desired = Desired("c2", _fleet.Hosts, db, api);
        Assert.Equal(2, ExecutorWiring.Plan(desired, await _store.ReadAsync(Env, default)).Waves.Length);

        var outcome = await ApplyAsync(desired);

        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        var live = await _store.ReadAsync(Env, default);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal($"releases/{ServiceFields.ReleaseId(db)}", Current(i, "db"));
            Assert.Equal($"releases/{ServiceFields.ReleaseId(api)}", Current(i, "api"));
            Assert.Equal(ServiceFields.ReleaseId(api) + "\n", File.ReadAllText(_fleet.OnHost(i, $"{_root}/api/restarted")));
            Assert.Equal(ServiceFields.ReleaseId(api), live.Services["api"].Hosts[_fleet.Hosts[i].Name].ActiveRelease);
        }
        Assert.Equal("1.1.0", live.Services["api"].Version);
        Assert.Equal("c2", live.LastGoodCommit);
        Assert.Empty(await _store.ReadOpenJournalAsync(Env, default));

        var again = await ApplyAsync(desired);
        Assert.Equal(ApplyResult.NoChanges, again.Result);
        Assert.Equal(live.Version, (await _store.ReadAsync(Env, default)).Version);
    }

    [Fact]
    public async Task Canary_that_fails_its_gate_puts_every_host_and_the_store_back_and_quarantines_the_commit()
    {
        var (_, api) = await BaselineAsync();
        var before = await _store.ReadAsync(Env, default);
        var bad = Service("api", "1.2.0", new StrategySpec(StrategyKind.Canary, new MaxParallel(2, false), 1), healthy: false, dependsOn: ["db"]);

        var outcome = await ApplyAsync(Desired("c2", _fleet.Hosts, Service("db", "1.0.0", Rolling(4)), bad));

        Assert.Equal(ApplyResult.RolledBack, outcome.Result);
        Assert.Equal(FailureKind.CommitFault, outcome.Failure);
        Assert.Contains("web-1", outcome.Message);
        Assert.Contains("reconciler revert c2", outcome.Message);
        for (var i = 0; i < 4; i++)
            Assert.Equal($"releases/{ServiceFields.ReleaseId(api)}", Current(i, "api"));
        // Only the canary ever received the bad release.
        Assert.Contains(ServiceFields.ReleaseId(bad), ReleasesOn(0, "api"));
        Assert.DoesNotContain(ServiceFields.ReleaseId(bad), ReleasesOn(1, "api"));
        var after = await _store.ReadAsync(Env, default);
        Assert.Equal(Json(before.Services), Json(after.Services));
        Assert.Equal("c1", after.LastGoodCommit);
        Assert.Contains(await _store.ReadQuarantineAsync(Env, default), q => q.Commit == "c2");
    }

    [Fact]
    public async Task Blue_green_stages_everywhere_then_switches_all_hosts()
    {
        await BaselineAsync();
        var api = Service("api", "1.1.0", new StrategySpec(StrategyKind.BlueGreen, new MaxParallel(100, true), 1), dependsOn: ["db"]);

        var outcome = await ApplyAsync(Desired("c2", _fleet.Hosts, Service("db", "1.0.0", Rolling(4)), api));

        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal($"releases/{ServiceFields.ReleaseId(api)}", Current(i, "api"));
            Assert.Equal(2, ReleasesOn(i, "api").Length);   // the old release stays beside the new one
        }
    }

    [Fact]
    public async Task A_host_that_is_down_is_found_by_preflight_before_anything_changes_and_nothing_is_quarantined()
    {
        var (db, _) = await BaselineAsync();
        var hosts = _fleet.Hosts.Take(3).Append(SshdFleet.DownHost("web-down")).ToList();
        var newDb = Service("db", "1.1.0", Rolling(2));

        var outcome = await ApplyAsync(Desired("c2", hosts, newDb, Service("api", "1.0.0", Rolling(4), dependsOn: ["db"])));

        Assert.True(outcome.Result == ApplyResult.EnvironmentFault, outcome.Message);
        Assert.Equal(FailureKind.EnvironmentFault, outcome.Failure);
        Assert.Contains("web-down", outcome.Message);
        Assert.Empty(await _store.ReadQuarantineAsync(Env, default));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal($"releases/{ServiceFields.ReleaseId(db)}", Current(i, "db"));
            // Preflight stopped it before the first host changed: the new release was not even staged.
            Assert.DoesNotContain(ServiceFields.ReleaseId(newDb), ReleasesOn(i, "db"));
        }
        var live = await _store.ReadAsync(Env, default);
        Assert.Equal("1.0.0", live.Services["db"].Version);
        Assert.All(live.Services["db"].Hosts.Values, h => Assert.Equal(ServiceFields.ReleaseId(db), h.ActiveRelease));
    }

    [Fact]
    public async Task An_unknown_host_key_is_refused_by_preflight_and_nothing_changes()
    {
        var (db, _) = await BaselineAsync();
        var hosts = _fleet.Hosts.Select((h, i) => i == 3 ? h with { HostKey = null } : h).ToList();

        var outcome = await ApplyAsync(Desired("c2", hosts, Service("db", "1.1.0", Rolling(2)), Service("api", "1.0.0", Rolling(4), dependsOn: ["db"])));

        Assert.True(outcome.Failure == FailureKind.EnvironmentFault, outcome.Message);
        Assert.Contains("web-4", outcome.Message);
        Assert.Contains("unknown host key", outcome.Message);
        for (var i = 0; i < 4; i++)
            Assert.Equal($"releases/{ServiceFields.ReleaseId(db)}", Current(i, "db"));
    }

    // ---------------------------------------------------------------- the CLI, killed mid-apply

    private string EnvironmentYaml() =>
        "apiVersion: reconciler/v1\nkind: Environment\nname: e2e\nhostGroups:\n  web:\n    hosts:\n" +
        string.Concat(_fleet.Hosts.Select(h =>
            $"      - {{ name: {h.Name}, address: {h.Address}, port: {h.Port}, user: {h.User}, hostKey: \"{h.HostKey}\" }}\n"));

    private string ServiceYaml(string version, TestArtifact artifact) => $$"""
        apiVersion: reconciler/v1
        kind: Service
        name: api
        version: {{version}}
        artifact: { url: artifacts/{{Path.GetFileName(artifact.Path)}}, sha256: {{artifact.Sha256}} }
        hostGroup: web
        deploy: { driver: ssh, path: {{_root}}/api, restartCommand: ./bin/restart, stopCommand: ./bin/stop }
        strategy: { type: rolling, maxParallel: 1 }
        health:
          interval: 100ms
          consecutivePasses: 2
          minHealthy: 300ms
          deadline: 30s
          checks:
            - command: { run: "grep -qx ok ${deploy.path}/current/health", timeout: 10s }
        config: { LOG_LEVEL: info }

        """;

    private static TestArtifact CliArtifact(string repo, string version) =>
        TestArtifact.Create(Path.Combine(repo, "artifacts"), $"api-{version}.tar.gz", new Dictionary<string, string>
        {
            ["VERSION"] = version + "\n",
            ["health"] = "ok\n",
            ["bin/restart"] = "#!/bin/sh\necho \"$RECONCILER_RELEASE\" > \"$RECONCILER_DEPLOY_PATH/restarted\"\n",
            ["bin/stop"] = "#!/bin/sh\nexit 0\n",
        });

    [Fact]
    public async Task The_cli_killed_with_sigkill_mid_apply_converges_when_run_again()
    {
        var repoDir = _temp.Combine("infra");
        using var git = new GitTestRepo(repoDir);
        string[] Apply() => ["apply", "--repo", repoDir, "--env", Env, "--yes", "--ssh-key", _fleet.ClientKeyPath];

        var v1 = CliArtifact(repoDir, "1.0.0");
        Commands.Stage(git.Repo, "artifacts/api-1.0.0.tar.gz");
        git.Commit("api 1.0.0",
            (".gitignore", ".reconciler/\n"),
            ("reconciler.yaml", "apiVersion: reconciler/v1\nkind: Repository\nstate: sqlite:.reconciler/state.db\n"),
            ("environments/e2e.yaml", EnvironmentYaml()),
            ("services/api.yaml", ServiceYaml("1.0.0", v1)));
        var first = await ChildProcess.RunAsync(ChildProcess.Reconciler, Apply());
        Assert.True(first.Code == 0, first.Err + first.Out);

        var v2 = CliArtifact(repoDir, "1.1.0");
        Commands.Stage(git.Repo, "artifacts/api-1.1.0.tar.gz");
        var commit = git.Commit("api 1.1.0", ("services/api.yaml", ServiceYaml("1.1.0", v2))).Sha;

        // Kill -9 once the second host has switched: mid-service, with the journal open and the lock held.
        using (var doomed = ChildProcess.Start(ChildProcess.Reconciler, Apply(), readStdout: false))
        {
            await doomed.WaitForLineAsync("[wave 1] api web-2: activate finished", TimeSpan.FromSeconds(120));
            doomed.Kill();
        }
        var db = Path.Combine(repoDir, ".reconciler", "state.db");
        await using (var store = new SqliteStateStore(db, TimeProvider.System))
        {
            Assert.NotEmpty(await store.ReadOpenJournalAsync(Env, default));
            Assert.NotNull(await store.ReadLockAsync(Env, default));
        }

        var rerun = await ChildProcess.RunAsync(ChildProcess.Reconciler, Apply());
        Assert.True(rerun.Code == 0, rerun.Err + rerun.Out);
        Assert.Contains("did not finish", rerun.Out);

        await using (var store = new SqliteStateStore(db, TimeProvider.System))
        {
            var live = await store.ReadAsync(Env, default);
            Assert.Equal("1.1.0", live.Services["api"].Version);
            Assert.Equal(commit, live.LastGoodCommit);
            Assert.Empty(await store.ReadOpenJournalAsync(Env, default));
            Assert.Null(await store.ReadLockAsync(Env, default));
            for (var i = 0; i < 4; i++)
            {
                Assert.Equal($"releases/{live.Services["api"].ReleaseId}", Current(i, "api"));
                Assert.Equal(live.Services["api"].ReleaseId, live.Services["api"].Hosts[_fleet.Hosts[i].Name].ActiveRelease);
            }
            var history = await store.ReadHistoryAsync(Env, 10, default);
            Assert.Equal(ApplyResult.Succeeded, history[0].Result);
        }

        var again = await ChildProcess.RunAsync(ChildProcess.Reconciler, Apply());
        Assert.True(again.Code == 0, again.Err + again.Out);
        Assert.Contains("No changes", again.Out);
    }
}
