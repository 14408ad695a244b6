using System.Collections.Immutable;
using Reconciler.Consul;
using Reconciler.Diff.Planning;
using Reconciler.Engine.Tests.Execution;
using Reconciler.Engine.Tests.State;
using Reconciler.Schema.Model;
using Reconciler.Testing;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Engine.Tests.UseCases;

/// <summary>
/// Host groups from the Consul catalog (issue 14, build 1) against the in-process Consul test server: what a group
/// resolves to (node meta, datacenter, tag, passing, a pinned known_hosts), what validate says about an unreachable or
/// empty catalog (at the group's file:line:col), and the saved plan's binding to the hosts it was made for.
/// </summary>
public sealed class HostCatalogTests : IAsyncLifetime
{
    private const string Ed25519A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNkRFNRnsvTkbVR1ElSOXzBqq7tFUqJuXfpNxd3Qtqo";
    private const string Ed25519B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKqJ8mEzSt0y0tn7ZbH6E4ZP1d0vFkuGQ8D4NsF1mW7q";
    private ConsulTestServer _server = null!;
    private ConsulClient _consul = null!;
    private readonly TempDir _dir = new();

    public async Task InitializeAsync()
    {
        _server = await ConsulTestServer.StartAsync(TimeProvider.System);
        _consul = new ConsulClient(new ConsulClientOptions(_server.Address));
    }

    public async Task DisposeAsync()
    {
        _consul.Dispose();
        await _server.DisposeAsync();
        _dir.Dispose();
    }

    private static EnvironmentSpec Environment(CatalogSource source, string group = "web") =>
        new("staging", [], ImmutableSortedDictionary<string, HostGroup>.Empty.Add(group, new HostGroup(group, [])
        {
            Catalog = source,
            Location = new SourceLocation("environments/staging.yaml", 5, 3),
        }), [], null, null);

    [Fact]
    public async Task A_catalog_group_resolves_to_one_host_per_node_with_its_meta_region_ssh_settings_and_vars()
    {
        _server.RegisterCatalogInstance("node-a", "10.0.0.1", "api-node", ["blue"], nodeMeta: new Dictionary<string, string>
        {
            ["region"] = "eu-west", ["ssh-user"] = "ops", ["ssh-port"] = "2222", ["ssh-host-key"] = Ed25519A, ["rack"] = "r1", ["not-a-var"] = "x",
        });
        _server.RegisterCatalogInstance("node-b", "10.0.0.2", "api-node", ["blue"], serviceAddress: "10.0.1.2");
        _server.RegisterCatalogInstance("node-c", "10.0.0.3", "api-node", ["green"]);
        _server.RegisterCatalogInstance("node-d", "10.0.0.4", "api-node", ["blue"], status: "critical");
        _server.RegisterCatalogInstance("node-e", "10.0.0.5", "api-node", ["blue"], datacenter: "us-east");
        var catalog = new HostCatalog(_consul, _ => null);

        var all = await catalog.ResolveAsync(Environment(new CatalogSource("api-node", "blue", null, false, null)), default);
        var passing = await catalog.ResolveAsync(Environment(new CatalogSource("api-node", "blue", null, true, null)), default);
        var otherDc = await catalog.ResolveAsync(Environment(new CatalogSource("api-node", null, "us-east", false, null)), default);

        var hosts = all.HostGroups["web"].Hosts;
        Assert.Equal(["node-a", "node-b", "node-d"], hosts.Select(h => h.Name));
        var a = hosts[0];
        Assert.Equal(("10.0.0.1", 2222, "ops", Ed25519A, "eu-west"), (a.Address, a.Port, a.User, a.HostKey, a.Region));
        Assert.Equal(["rack", "region"], a.Vars.Keys);   // node meta whose keys are variable names
        var b = hosts[1];
        Assert.Equal(("10.0.1.2", 22, "deploy", (string?)null, "dc1"), (b.Address, b.Port, b.User, b.HostKey, b.Region));   // service address; region = datacenter
        Assert.Equal(["node-a", "node-b"], passing.HostGroups["web"].Hosts.Select(h => h.Name));
        Assert.Equal(["node-e"], otherDc.HostGroups["web"].Hosts.Select(h => (h.Name, h.Region)).Select(x => x.Name));
        Assert.Equal("us-east", otherDc.HostGroups["web"].Hosts[0].Region);
        Assert.True(all.HostGroups["web"].CatalogIndex > 0);
    }

    [Fact]
    public async Task A_pinned_known_hosts_file_gives_host_keys_by_name_address_or_address_and_port()
    {
        _server.RegisterCatalogInstance("node-a", "10.0.0.1", "api-node");
        _server.RegisterCatalogInstance("node-b", "10.0.0.2", "api-node", nodeMeta: new Dictionary<string, string> { ["ssh-port"] = "2200" });
        _server.RegisterCatalogInstance("node-c", "10.0.0.3", "api-node");
        const string knownHosts = $"""
            # pinned with ssh-keyscan
            node-a,10.9.9.9 {Ed25519A}
            [10.0.0.2]:2200 {Ed25519B} comment
            |1|hashed= {Ed25519B}
            """;
        var read = new List<string>();
        var catalog = new HostCatalog(_consul, path => { read.Add(path); return path == "ssh/known_hosts" ? knownHosts : null; });

        var hosts = (await catalog.ResolveAsync(Environment(new CatalogSource("api-node", null, null, false, "ssh/known_hosts")), default)).HostGroups["web"].Hosts;
        var missing = await Assert.ThrowsAsync<HostCatalogException>(() =>
            catalog.ResolveAsync(Environment(new CatalogSource("api-node", null, null, false, "ssh/other")), default));

        Assert.Equal([Ed25519A, Ed25519B, null], hosts.Select(h => h.HostKey));
        Assert.Equal(["ssh/known_hosts", "ssh/other"], read);
        Assert.Equal("catalog.known-hosts", missing.RuleId);
        Assert.Equal("environments/staging.yaml:5:3: host group 'web': knownHosts names ssh/other, which the infra repo does not have; commit the file (ssh-keyscan output, unhashed) or remove knownHosts", missing.Message);
    }

    [Fact]
    public async Task A_node_reconciler_cannot_use_is_refused_naming_it()
    {
        _server.RegisterCatalogInstance("Node_A", "10.0.0.1", "api-node");
        _server.RegisterCatalogInstance("node-b", "10.0.0.2", "jobs", nodeMeta: new Dictionary<string, string> { ["ssh-port"] = "70000" });
        var catalog = new HostCatalog(_consul, _ => null);

        var name = await Assert.ThrowsAsync<HostCatalogException>(() => catalog.ResolveAsync(Environment(new CatalogSource("api-node", null, null, false, null)), default));
        var port = await Assert.ThrowsAsync<HostCatalogException>(() => catalog.ResolveAsync(Environment(new CatalogSource("jobs", null, null, false, null)), default));

        Assert.Contains("node 'Node_A' has a name reconciler cannot use as a host name", name.Message);
        Assert.Contains("node 'node-b' has node meta 'ssh-port' = '70000', which is not a port from 1 to 65535", port.Message);
        Assert.Equal(FailureKind.EnvironmentFault, port.Kind);
    }

    private string Repo(string environmentYaml)
    {
        var repo = _dir.Combine("repo");
        Directory.CreateDirectory(Path.Combine(repo, "environments"));
        File.WriteAllText(Path.Combine(repo, "reconciler.yaml"), "apiVersion: reconciler/v1\nkind: Repository\n");
        File.WriteAllText(Path.Combine(repo, "environments", "prod.yaml"), environmentYaml);
        return repo;
    }

    private const string CatalogEnvironment = """
        apiVersion: reconciler/v1
        kind: Environment
        name: prod
        hostGroups:
          db:
            hosts: [{ name: db-1, address: 127.0.0.1 }]
          app:
            consul: { service: api-node, tag: blue, passingOnly: true }
        """;

    [Fact]
    public void Validate_explains_an_unreachable_catalog_and_an_empty_one_at_the_group()
    {
        var repo = Repo(CatalogEnvironment);
        using var closed = new ConsulClient(new ConsulClientOptions(new Uri("http://127.0.0.1:1/")) { MaxRetries = 0 });

        var unreachable = ValidateRepo.Run(new ValidateRequest(repo, null, UseParseCache: false, Consul: closed)).Value!;
        _server.RegisterCatalogInstance("node-a", "10.0.0.1", "api-node", ["green"]);   // not the tag the group asks for
        var empty = ValidateRepo.Run(new ValidateRequest(repo, null, UseParseCache: false, Consul: _consul)).Value!;
        _server.RegisterCatalogInstance("node-b", "10.0.0.2", "api-node", ["blue"]);
        var resolved = ValidateRepo.Run(new ValidateRequest(repo, null, UseParseCache: false, Consul: _consul)).Value!;

        var d = Assert.Single(unreachable.Diagnostics);
        Assert.Equal((Severity.Error, "catalog.unreachable", "environments/prod.yaml:7:3"), (d.Severity, d.RuleId, d.Location!.ToString()));
        Assert.StartsWith("host group 'app' (consul service api-node, tag blue, passing only): cannot read the Consul catalog (", d.Message);
        Assert.EndsWith("check that the agent is up and CONSUL_HTTP_ADDR/CONSUL_HTTP_TOKEN point at it, then plan again", d.Message);
        Assert.True(unreachable.HasErrors);
        var e = Assert.Single(empty.Diagnostics);
        Assert.Equal((Severity.Error, "catalog.empty", "environments/prod.yaml:7:3"), (e.Severity, e.RuleId, e.Location!.ToString()));
        Assert.Equal("host group 'app' (consul service api-node, tag blue, passing only): the Consul catalog lists no passing instance of it, and a group " +
                     "without hosts would take its services off every host, so nothing is planned; register the service (or fix service, tag or datacenter here), " +
                     "or wait until its checks pass", e.Message);
        Assert.Empty(resolved.Diagnostics);
    }

    [Fact]
    public async Task A_saved_plan_is_stale_once_the_catalog_has_other_hosts_and_says_who_joined_and_left_but_not_when_only_the_index_moved()
    {
        foreach (var node in new[] { "node-a", "node-b" }) _server.RegisterCatalogInstance(node, "127.0.0.1", "api-node");
        var world = new ExecutorWorld { Planner = Reconciler.Execution.ExecutorWiring.Plan };   // the real planner: it records the binding
        var catalog = new HostCatalog(_consul, _ => null);
        var source = new CatalogSource("api-node", null, null, false, null);
        async Task<DesiredState> Desired(string commit) =>
            world.Desired(commit, [ExecutorWorld.Service("api", "1.0.0")]) with { EnvironmentSpec = await catalog.ResolveAsync(Environment(source), default) };
        var file = _dir.Combine("plan.json");
        SavedPlanFile.Save(file, world.Planner(await Desired("c1"), await world.LiveAsync()));

        var saved = SavedPlanFile.Read(file);
        var binding = Assert.Single(saved.Catalog!.Value);
        Assert.Equal(("web", "api-node"), (binding.HostGroup, binding.Service));
        Assert.Equal(["node-a", "node-b"], binding.Hosts.Select(h => h.Host));
        Assert.Contains("\"catalog\": [", File.ReadAllText(file));

        // A check changing moves the index, not the hosts: the plan still holds.
        _server.SetCatalogInstanceStatus("node-b", "api-node", "warning");
        var same = await Desired("c1");
        Assert.NotEqual(binding.Index, same.EnvironmentSpec.HostGroups["web"].CatalogIndex);
        _server.RegisterCatalogInstance("node-c", "127.0.0.1", "api-node");
        _server.DeregisterCatalogInstance("node-a", "api-node");
        var changed = await Desired("c1");

        var stale = await Assert.ThrowsAsync<ReconcilerException>(() => world.ApplyAsync(world.Request(changed, saved)));
        Assert.Equal(FailureKind.StaleOrConflict, stale.Kind);
        Assert.Equal("the saved plan is stale: the Consul catalog changed since it was computed (host group 'web' (consul service api-node): joined node-c; left node-a). " +
                     "Nothing was changed. Run `reconciler plan` again and review it.", stale.Message);
        Assert.Equal(0, (await world.LiveAsync()).Version);

        _server.RegisterCatalogInstance("node-a", "127.0.0.1", "api-node");
        _server.DeregisterCatalogInstance("node-c", "api-node");
        var outcome = await world.ApplyAsync(world.Request(await Desired("c1"), saved));
        Assert.True(outcome.Result == Reconciler.State.ApplyResult.Succeeded, outcome.Message);
        Assert.Equal(["node-a", "node-b"], (await world.LiveAsync()).Services["api"].Hosts.Keys);
    }
}
