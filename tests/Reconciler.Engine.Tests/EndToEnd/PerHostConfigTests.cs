using System.Collections.Immutable;
using System.Text.Json;
using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;
using Xunit;

namespace Reconciler.Engine.Tests.EndToEnd;

/// <summary>
/// Per-host config (issue 14, build 2) on real sshd hosts: a config that uses ${host.name}, ${host.address} and
/// ${host.vars.httpPort} gives each host its own config.json, config hash and release; the restart command gets the
/// host's own values; the next plan finds every host in sync; a changed var redeploys that host alone.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class PerHostConfigTests(FourHostFleet fixture) : IClassFixture<FourHostFleet>, IAsyncLifetime
{
    private readonly FleetWorld _world = new(fixture.Fleet);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _world.DisposeAsync();

    private ImmutableArray<HostSpec> Hosts(int changedHost = -1) =>
        [.. _world.Fleet.Hosts.Select((h, i) => h with
        {
            Vars = h.Vars.SetItem("httpPort", (9000 + i + (i == changedHost ? 100 : 0)).ToString(System.Globalization.CultureInfo.InvariantCulture)),
        })];

    private ServiceSpec Api() => _world.Service("api", "1.0.0",
        restart: "#!/bin/sh\necho \"$2\" > \"$RECONCILER_DEPLOY_PATH/port\"\n",
        config: ImmutableSortedDictionary<string, ConfigValue>.Empty
            .Add("LISTEN", new ConfigValue.Literal("${host.address}:${host.vars.httpPort}"))
            .Add("NAME", new ConfigValue.Literal("${host.name}"))
            .Add("LOG_LEVEL", new ConfigValue.Literal("info"))) is var s
        ? s with { Deploy = s.Deploy with { RestartCommand = "./bin/restart --port ${host.vars.httpPort}" } }
        : null!;

    private Dictionary<string, string> ConfigJson(int host) =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(_world.Fleet.OnHost(host, $"{_world.Root}/api/current/config.json")))!;

    [Fact]
    public async Task Each_host_gets_its_own_rendered_config_and_release_and_a_changed_var_redeploys_that_host_alone()
    {
        var api = Api();
        var desired = _world.Desired("c1", Hosts(), api);
        await _world.SucceedsAsync(desired);

        var hosts = _world.Fleet.Hosts;
        for (var i = 0; i < hosts.Length; i++)
        {
            Assert.Equal(new Dictionary<string, string>
            {
                ["LISTEN"] = $"{hosts[i].Address}:{9000 + i}", ["LOG_LEVEL"] = "info", ["NAME"] = hosts[i].Name,
            }, ConfigJson(i));
            Assert.Equal($"{9000 + i}\n", File.ReadAllText(_world.Fleet.OnHost(i, $"{_world.Root}/api/port")));
        }
        var releases = Enumerable.Range(0, hosts.Length).Select(i => _world.Current(i, "api")).ToList();
        Assert.Equal(hosts.Length, releases.Distinct().Count());
        Assert.All(releases, r => Assert.StartsWith("releases/1.0.0-", r));
        var live = await _world.Store.ReadAsync(FleetWorld.Env, default);
        Assert.Equal(releases, hosts.Select(h => "releases/" + live.Services["api"].Hosts[h.Name].ActiveRelease));
        Assert.False(ExecutorWiring.Plan(desired, live).HasChanges);   // every host runs its own release: in sync

        // Host 2's port changes: only host 2 gets a new release, and the plan shows its value.
        var changed = _world.Desired("c2", Hosts(changedHost: 2), api);
        var plan = ExecutorWiring.Plan(changed, live);
        var change = plan.Services.Single(s => s.Service == "api");
        var host = Assert.Single(change.Hosts);
        Assert.Equal(hosts[2].Name, host.Host);
        Assert.Equal($"{hosts[2].Address}:9102", host.Config!["LISTEN"]);
        await _world.SucceedsAsync(changed);

        Assert.Equal($"{hosts[2].Address}:9102", ConfigJson(2)["LISTEN"]);
        Assert.Equal("9102\n", File.ReadAllText(_world.Fleet.OnHost(2, $"{_world.Root}/api/port")));
        Assert.NotEqual(releases[2], _world.Current(2, "api"));
        foreach (var i in new[] { 0, 1, 3 }) Assert.Equal(releases[i], _world.Current(i, "api"));
        Assert.False(ExecutorWiring.Plan(changed, await _world.Store.ReadAsync(FleetWorld.Env, default)).HasChanges);
    }
}
