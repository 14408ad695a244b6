using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using System.Text;
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
    private FakeConsulServer _server = null!;
    private ConsulClient _consul = null!;
    private static CancellationToken Ct => TestContext.Timeout;

    public async Task InitializeAsync()
    {
        _server = await FakeConsulServer.StartAsync(TimeProvider.System);
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
    public async Task Consul_health_probe_needs_every_check_passing()
    {
        using var listener = new HttpListener();
        var port = FreePort();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var answers = new Dictionary<string, string>
        {
            ["/v1/health/checks/api"] = """[{"Node":"n1","CheckID":"c1","Name":"http","Status":"passing","Output":""},{"Node":"n2","CheckID":"c1","Name":"http","Status":"passing","Output":""}]""",
            ["/v1/health/checks/web"] = """[{"Node":"n1","CheckID":"c1","Name":"http","Status":"passing"},{"Node":"n2","CheckID":"c1","Name":"http","Status":"critical"}]""",
            ["/v1/health/checks/none"] = "[]",
        };
        var serve = Task.Run(async () =>
        {
            for (var i = 0; i < 3; i++)
            {
                var context = await listener.GetContextAsync();
                var body = Encoding.UTF8.GetBytes(answers[context.Request.Url!.AbsolutePath]);
                await context.Response.OutputStream.WriteAsync(body);
                context.Response.Close();
            }
        });
        using var consul = new ConsulClient(new ConsulClientOptions(new Uri($"http://127.0.0.1:{port}/")));
        var probe = new ConsulHealthProbe(consul);
        var context = new ProbeContext("api", "1.0.0-aaaaaaaaaa", Host("a-1"), await Driver().OpenAsync(Host("a-1"), Ct));
        HealthCheckSpec Check(string service) => new(HealthCheckKind.Consul, null, null, null, null, null, service, TimeSpan.FromSeconds(5));

        Assert.Equal(new ProbeResult(true, "consul api: 2 checks passing"), await probe.ProbeAsync(Check("${service.name}"), context, Ct));
        Assert.Equal(new ProbeResult(false, "consul web: 1 of 2 checks not passing: n2/http critical"), await probe.ProbeAsync(Check("web"), context, Ct));
        Assert.Contains("no health checks registered", (await probe.ProbeAsync(Check("none"), context, Ct)).Detail);
        await serve.WaitAsync(Ct);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
