using System.Collections.Immutable;
using Reconciler.Consul;
using Reconciler.Drivers;
using Reconciler.Drivers.ConsulKv;
using Reconciler.Drivers.Health;
using Reconciler.Schema.Model;
using Reconciler.Engine.Tests.Infrastructure;
using Reconciler.Engine.Tests.State;
using Xunit;

namespace Reconciler.Engine.Tests.Drivers;

/// <summary>Against the in-process Consul server of the state tests (documented KV/txn semantics).</summary>
public sealed class ConsulKvDriverTests : IAsyncLifetime
{
    private ConsulTestServer _server = null!;
    private ConsulClient _consul = null!;
    private static CancellationToken Ct => TestContext.Timeout;

    public async Task InitializeAsync()
    {
        _server = await ConsulTestServer.StartAsync(TimeProvider.System);
        _consul = new ConsulClient(new ConsulClientOptions(_server.Address));
    }

    public async Task DisposeAsync()
    {
        _consul.Dispose();
        await _server.DisposeAsync();
    }

    private ConsulKvDriver Driver() => new(new ConsulKvDriverOptions { Consul = _consul, Environment = "staging" });

    private static HostSpec Host(string name) => new(name, "127.0.0.1", 22, "deploy", null, null, ImmutableSortedDictionary<string, string>.Empty);

    private static ReleaseBundle Bundle(string id, params (string Key, string Value)[] config) =>
        new("api", "/srv/api", id, "/unused", new string('a', 64), config.ToImmutableSortedDictionary(c => c.Key, c => c.Value, StringComparer.Ordinal));

    private Dictionary<string, string> AppKeys() =>
        _server.Snapshot().Where(kv => kv.Key.StartsWith("config/", StringComparison.Ordinal) || kv.Key.StartsWith("toggles/", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value);

    [Fact]
    public async Task Activate_publishes_config_keys_once_for_all_hosts_and_a_new_release_replaces_them()
    {
        await using var driver = Driver();
        var sessions = await Task.WhenAll(new[] { "a-1", "a-2", "a-3" }.Select(h => driver.OpenAsync(Host(h), Ct)));
        foreach (var s in sessions) await s.StageAsync(Bundle("1.0.0-aaaaaaaaaa", ("LOG_LEVEL", "info"), ("OLD", "x")), Ct);
        foreach (var s in sessions) await s.ActivateAsync("/srv/api", "1.0.0-aaaaaaaaaa", "ignored", Ct);

        Assert.Equal(new Dictionary<string, string> { ["config/staging/api/LOG_LEVEL"] = "info", ["config/staging/api/OLD"] = "x" }, AppKeys());
        Assert.Equal(2, driver.Writes); // one stage write, one activate transaction, whatever the number of hosts

        await sessions[0].StageAsync(Bundle("1.1.0-aaaaaaaaaa", ("LOG_LEVEL", "debug")), Ct);
        await sessions[0].ActivateAsync("/srv/api", "1.1.0-aaaaaaaaaa", null, Ct);

        Assert.Equal(new Dictionary<string, string> { ["config/staging/api/LOG_LEVEL"] = "debug" }, AppKeys());
        var inspected = await sessions[1].InspectAsync("/srv/api", Ct);
        Assert.Equal(new HostReleases("1.1.0-aaaaaaaaaa", ["1.0.0-aaaaaaaaaa", "1.1.0-aaaaaaaaaa"]), inspected, HostReleasesComparer.Instance);

        // Rollback is a flip back to the staged previous release.
        await sessions[2].ActivateAsync("/srv/api", "1.0.0-aaaaaaaaaa", null, Ct);
        Assert.Equal("info", AppKeys()["config/staging/api/LOG_LEVEL"]);
    }

    [Fact]
    public async Task Prune_remove_and_toggles_touch_only_their_own_keys()
    {
        await _consul.PutAsync("config/staging/other/KEEP", "1"u8.ToArray(), ct: Ct);
        await using var driver = Driver();
        var session = await driver.OpenAsync(Host("a-1"), Ct);
        foreach (var id in new[] { "1.0.0-aaaaaaaaaa", "1.1.0-aaaaaaaaaa", "1.2.0-aaaaaaaaaa" })
            await session.StageAsync(Bundle(id, ("K", id)), Ct);
        await session.ActivateAsync("/srv/api", "1.2.0-aaaaaaaaaa", null, Ct);

        await session.PruneAsync("/srv/api", keep: 1, protect: ["1.0.0-aaaaaaaaaa"], Ct);
        Assert.Equal(["1.0.0-aaaaaaaaaa", "1.2.0-aaaaaaaaaa"], (await session.InspectAsync("/srv/api", Ct)).Releases.ToArray());

        await new ConsulTogglePublisher(_consul).PublishAsync("staging", new Dictionary<string, bool?> { ["new-checkout"] = true, ["dark-mode"] = false }, Ct);
        await session.RemoveAsync("/srv/api", null, Ct);

        Assert.Equal(new Dictionary<string, string>
        {
            ["config/staging/other/KEEP"] = "1",
            ["toggles/staging/dark-mode"] = "false",
            ["toggles/staging/new-checkout"] = "true",
        }, AppKeys());
        Assert.Null((await session.InspectAsync("/srv/api", Ct)).Current);
        Assert.Equal(127, (await session.RunAsync("true", TimeSpan.FromSeconds(1), Ct)).ExitCode);
    }

    [Fact]
    public async Task Activating_an_unstaged_release_is_a_clear_error()
    {
        await using var driver = Driver();
        var session = await driver.OpenAsync(Host("a-1"), Ct);
        var e = await Assert.ThrowsAsync<HostStepException>(() => session.ActivateAsync("/srv/api", "9.9.9-aaaaaaaaaa", null, Ct));
        Assert.Contains("not staged", e.Message);
    }

    [Fact]
    public async Task Consul_health_probe_needs_every_check_of_every_instance_passing_node_checks_included()
    {
        _server.RegisterService("n1", "api-1", "api", ("service:api-1", "passing"));
        _server.RegisterService("n2", "api-2", "api", ("service:api-2", "passing"));
        var probe = new ConsulHealthProbe(_consul);
        var context = new ProbeContext("api", "1.0.0-aaaaaaaaaa", Host("a-1"), await Driver().OpenAsync(Host("a-1"), Ct));
        HealthCheckSpec Check(string service) => new(HealthCheckKind.Consul, null, null, null, null, null, service, TimeSpan.FromSeconds(5));

        Assert.Equal(new ProbeResult(true, "consul api: 2 instances, 4 checks passing"), await probe.ProbeAsync(Check("${service.name}"), context, Ct));

        // The service's own checks still pass, but n2's agent is gone: /v1/health/checks would have said healthy.
        _server.SetCheck("n2", "serfHealth", "critical");
        Assert.Equal(new ProbeResult(false, "consul api: 1 of 4 checks not passing: n2/Serf Health Status critical (node check)"),
            await probe.ProbeAsync(Check("api"), context, Ct));
        _server.SetCheck("n2", "serfHealth", "passing");
        _server.SetNodeMaintenance("n1", on: true);
        Assert.Contains("n1/_node_maintenance critical (node check)", (await probe.ProbeAsync(Check("api"), context, Ct)).Detail);
        _server.SetNodeMaintenance("n1", on: false);
        _server.SetCheck("n1", "service:api-1", "warning");
        Assert.Contains("n1/service:api-1 warning", (await probe.ProbeAsync(Check("api"), context, Ct)).Detail);
        Assert.Contains("no instance registered", (await probe.ProbeAsync(Check("none"), context, Ct)).Detail);
    }

    [Fact]
    public async Task Release_ids_with_a_plus_are_stored_under_keys_consul_accepts_and_read_back_unchanged()
    {
        await using var driver = Driver();
        var session = await driver.OpenAsync(Host("a-1"), Ct);
        const string id = "1.5.0+build_7-aaaaaaaaaa";
        await session.StageAsync(Bundle(id, ("PORT", "8080")), Ct);
        await session.ActivateAsync("/srv/api", id, null, Ct);

        // The test server answers 500 to a key with '+', as some Consul versions do: the stage above would have failed.
        Assert.Contains("reconciler/staging/kv-releases/srv/api/1.5.0_2Bbuild__7-aaaaaaaaaa", _server.Snapshot().Keys);
        var releases = await session.InspectAsync("/srv/api", Ct);
        Assert.Equal(id, releases.Current);
        Assert.Equal(new[] { id }, releases.Releases.ToArray());
        Assert.Equal("8080", AppKeys()["config/staging/api/PORT"]);
    }
}
