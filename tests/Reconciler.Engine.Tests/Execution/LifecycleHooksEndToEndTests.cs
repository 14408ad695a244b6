using System.Collections.Immutable;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Drivers.Secrets;
using Reconciler.Drivers.Ssh;
using Reconciler.Engine.Tests.Infrastructure;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>Two real sshd hosts shared by the hook tests; every test deploys under its own /srv path.</summary>
public sealed class HookFleet() : SshdFleetFixture(2, "web");

/// <summary>
/// Issue 14's lifecycle hooks against real sshd, the SSH driver, the planner and SQLite: every hook, the restart command
/// and the health check append a line to one log on the host, so the order they ran in is read back from the host; a hook
/// that fails rolls the host back (between the same hooks, so it ends back in traffic); its output is cleaned of secrets;
/// a hook that hangs is stopped at its timeout and is the environment's fault.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Category", "EndToEnd")]
public sealed class LifecycleHooksEndToEndTests(HookFleet fixture) : IClassFixture<HookFleet>, IAsyncLifetime
{
    private readonly SshdFleet _fleet = fixture.Fleet;
    private readonly TempDir _temp = new();
    private readonly string _root = $"/srv/h-{Guid.NewGuid():N}"[..20];
    private SqliteStateStore _store = null!;
    private const string Env = "hooks";
    private const string Secret = "hook-s3cr3t-Zq81";

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

    private string Log => "${deploy.path}/hooks.log";

    /// <summary>Each hook logs its name, the version it is about, and where `current` points while it runs. Values are
    /// interpolated quoted (one shell word each), so ${version} stays outside the double quotes.</summary>
    private string Hook(string name, string extra = "") =>
        $"{extra}echo {name} ${{version}} \"$(readlink ${{deploy.path}}/current)\" >> {Log}";

    private static readonly LifecycleHooks NoHooks = new(null, null, null, LifecycleHooks.DefaultTimeout);

    private LifecycleHooks Hooks(string beforeExtra = "", string afterSwitchExtra = "", string afterGateExtra = "", TimeSpan? timeout = null) =>
        new(Hook("beforeSwitch", beforeExtra), Hook("afterSwitch", afterSwitchExtra), Hook("afterGate", afterGateExtra),
            timeout ?? LifecycleHooks.DefaultTimeout);

    private ServiceSpec Api(string version, LifecycleHooks hooks)
    {
        var artifact = TestArtifact.Create(_temp.Combine("artifacts"), $"api-{version}-{Guid.NewGuid():N}.tar.gz", new Dictionary<string, string>
        {
            ["VERSION"] = version + "\n",
            ["health"] = "ok\n",
            ["bin/restart"] = "#!/bin/sh\necho \"restart $(cat VERSION)\" >> \"$RECONCILER_DEPLOY_PATH/hooks.log\"\n",
            ["bin/stop"] = "#!/bin/sh\n",
        });
        var check = new HealthCheckSpec(HealthCheckKind.Command, null, null, null, null,
            $"echo \"gate $(cat ${{deploy.path}}/current/VERSION)\" >> {Log} && grep -qx ok ${{deploy.path}}/current/health", null, TimeSpan.FromSeconds(10));
        var health = new HealthSpec([check], TimeSpan.FromMilliseconds(100), 1, TimeSpan.Zero, TimeSpan.FromSeconds(20));
        var config = ImmutableSortedDictionary<string, ConfigValue>.Empty.WithComparers(StringComparer.Ordinal)
            .Add("DB_PASSWORD", new ConfigValue.Secret("env:" + _secretVariable));
        return new ServiceSpec("api", true, version, new ArtifactSpec("file://" + artifact.Path, artifact.Sha256), [], "web",
            new DeploySpec(DriverKind.Ssh, $"{_root}/api", "./bin/restart", "./bin/stop", 5, hooks),
            new StrategySpec(StrategyKind.Rolling, new MaxParallel(1, false), 1), health, config, OnFailure.Rollback, null);
    }

    private readonly string _secretVariable = $"RECONCILER_HOOK_SECRET_{Guid.NewGuid():N}";

    private DesiredState Desired(string commit, ServiceSpec api) =>
        new(Env, commit,
            new EnvironmentSpec(Env, [], ImmutableSortedDictionary<string, HostGroup>.Empty.Add("web", new HostGroup("web", _fleet.Hosts)), [], null, null),
            ImmutableSortedDictionary<string, ServiceSpec>.Empty.WithComparers(StringComparer.Ordinal).Add("api", api),
            ImmutableSortedDictionary<string, DesiredToggle>.Empty,
            new RepositorySpec(null, new Defaults(5, OnFailure.Rollback, api.Strategy, api.Health), [], null));

    private async Task<ReconcileOutcome> ApplyAsync(DesiredState desired)
    {
        var options = new SshDriverOptions { PrivateKeyPath = _fleet.ClientKeyPath, StepTimeout = TimeSpan.FromMinutes(1), ConnectTimeout = TimeSpan.FromSeconds(3) };
        var deps = new ExecutorDependencies(_store, _ => new SshHostDriver(options), HostDrivers.Probes(ExecutorWiring.Http),
            HostDrivers.Artifacts(_temp.Path, ExecutorWiring.Http), HostDrivers.Secrets(), TimeProvider.System);
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        Environment.SetEnvironmentVariable(_secretVariable, Secret);
        try
        {
            return await ExecutorWiring.Reconciler(deps).ReconcileAsync(new ReconcileRequest(desired, "hooks@test", null, null), null, bound.Token);
        }
        finally
        {
            Environment.SetEnvironmentVariable(_secretVariable, null);
        }
    }

    private string? Current(int host) => new FileInfo(_fleet.OnHost(host, $"{_root}/api/current")).LinkTarget;

    /// <summary>The host's log, with repeated gate lines (one per health round) folded into one, from the line that
    /// starts <paramref name="from"/> on.</summary>
    private string[] LogOf(int host, string from)
    {
        var lines = File.ReadAllLines(_fleet.OnHost(host, $"{_root}/api/hooks.log"));
        var start = Array.FindLastIndex(lines, l => l.StartsWith(from, StringComparison.Ordinal));
        Assert.True(start >= 0, $"no '{from}' line on host {host}:\n{string.Join("\n", lines)}");
        var folded = new List<string>();
        foreach (var line in lines[start..])
            if (folded.Count == 0 || folded[^1] != line || !line.StartsWith("gate", StringComparison.Ordinal)) folded.Add(line);
        return [.. folded];
    }

    private async Task<ServiceSpec> BaselineAsync(LifecycleHooks hooks)
    {
        var api = Api("1.0.0", hooks);
        var outcome = await ApplyAsync(Desired("c1", api));
        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        return api;
    }

    [Fact]
    public async Task Hooks_run_on_each_host_in_order_around_the_switch_and_after_the_gate()
    {
        var old = await BaselineAsync(Hooks());
        var next = Api("1.1.0", Hooks());

        var outcome = await ApplyAsync(Desired("c2", next));

        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        var (from, to) = ($"releases/{ServiceFields.ReleaseId(old)}", $"releases/{ServiceFields.ReleaseId(next)}");
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(to, Current(i));
            // beforeSwitch sees the old release current, afterSwitch the new one after its restart; afterGate only once the
            // health check passed on the new release.
            Assert.Equal(
                [$"beforeSwitch 1.1.0 {from}", "restart 1.1.0", $"afterSwitch 1.1.0 {to}", "gate 1.1.0", $"afterGate 1.1.0 {to}"],
                LogOf(i, "beforeSwitch 1.1.0"));
        }
    }

    [Fact]
    public async Task A_failing_hook_rolls_the_host_back_between_the_hooks_and_its_output_is_cleaned_of_secrets()
    {
        var old = await BaselineAsync(NoHooks);
        // afterSwitch fails for the new release only, after printing the release's .env (which holds the secret).
        var next = Api("1.1.0", Hooks(afterSwitchExtra: "if [ ${version} = 1.1.0 ]; then cat ${release.path}/.env; echo hook-broke; exit 3; fi; "));

        var outcome = await ApplyAsync(Desired("c2", next));

        // Like a failed restart: the commit's fault, rolled back and quarantined.
        Assert.True(outcome.Result == ApplyResult.RolledBack, $"{outcome.Result}: {outcome.Message}");
        Assert.Equal(FailureKind.CommitFault, outcome.Failure);
        Assert.Contains("afterSwitch hook", outcome.Message);
        Assert.Contains("exited 3", outcome.Message);
        Assert.Contains("hook-broke", outcome.Message);
        Assert.Contains(SecretRedactor.Mask, outcome.Message);
        Assert.DoesNotContain(Secret, outcome.Message);
        var history = (await _store.ReadHistoryAsync(Env, 1, default)).Single();
        Assert.Contains("hook-broke", history.Message);
        Assert.DoesNotContain(Secret, history.Message);
        Assert.Single(await _store.ReadQuarantineAsync(Env, default));

        // web-1 was the first batch: it switched and failed; it went back to the old release between the hooks, was gated
        // with the old checks, and then afterGate put it back into traffic. web-2 was never touched.
        var (from, to) = ($"releases/{ServiceFields.ReleaseId(old)}", $"releases/{ServiceFields.ReleaseId(next)}");
        Assert.Equal(from, Current(0));
        Assert.Equal(from, Current(1));
        Assert.Equal(
            [$"beforeSwitch 1.1.0 {from}", "restart 1.1.0",
             // rollback
             $"beforeSwitch 1.0.0 {to}", "restart 1.0.0", $"afterSwitch 1.0.0 {from}", "gate 1.0.0", $"afterGate 1.0.0 {from}"],
            LogOf(0, "beforeSwitch 1.1.0"));
        Assert.DoesNotContain(File.ReadAllLines(_fleet.OnHost(1, $"{_root}/api/hooks.log")), l => l.Contains("Switch", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failing_after_gate_hook_fails_the_batch_and_rolls_it_back()
    {
        var old = await BaselineAsync(NoHooks);
        var next = Api("1.1.0", Hooks(afterGateExtra: "[ ${version} != 1.1.0 ] || exit 4; "));

        var outcome = await ApplyAsync(Desired("c2", next));

        Assert.True(outcome.Result == ApplyResult.RolledBack, $"{outcome.Result}: {outcome.Message}");
        Assert.Contains("afterGate hook failed: exited 4", outcome.Message);
        for (var i = 0; i < 2; i++) Assert.Equal($"releases/{ServiceFields.ReleaseId(old)}", Current(i));
        Assert.Equal($"afterGate 1.0.0 releases/{ServiceFields.ReleaseId(old)}", File.ReadAllLines(_fleet.OnHost(0, $"{_root}/api/hooks.log"))[^1]);
    }

    [Fact]
    public async Task A_hook_that_hangs_is_stopped_at_its_timeout_and_is_an_environment_fault()
    {
        var old = await BaselineAsync(NoHooks);
        var next = Api("1.1.0", Hooks(beforeExtra: "[ ${version} != 1.1.0 ] || sleep 30; ", timeout: TimeSpan.FromSeconds(1)));

        var started = DateTime.UtcNow;
        var outcome = await ApplyAsync(Desired("c2", next));

        // Not the commit's fault: rolled back, not quarantined, retried later.
        Assert.True(outcome.Result == ApplyResult.EnvironmentFault, $"{outcome.Result}: {outcome.Message}");
        Assert.Equal(FailureKind.EnvironmentFault, outcome.Failure);
        Assert.Contains("beforeSwitch hook failed: timed out after 1s", outcome.Message);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(25), "the hook was not stopped at its timeout");
        Assert.Empty(await _store.ReadQuarantineAsync(Env, default));
        for (var i = 0; i < 2; i++) Assert.Equal($"releases/{ServiceFields.ReleaseId(old)}", Current(i));
    }
}
