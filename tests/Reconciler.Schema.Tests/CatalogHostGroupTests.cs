using System.Text;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;

namespace Reconciler.Schema.Tests;

/// <summary>Host groups from the Consul catalog (issue 14) as the schema layer reads them: the source only, no hosts
/// (the engine resolves them at plan time), the same from the parse cache as from scratch, next to static groups.</summary>
public class CatalogHostGroupTests
{
    private const string Environment = """
        apiVersion: reconciler/v1
        kind: Environment
        name: staging
        regions: [eu-west]
        hostGroups:
          app:
            consul: { service: api-node, tag: blue, datacenter: eu-west-1, passingOnly: true, knownHosts: ssh/known_hosts }
          db:
            hosts:
              - { name: db-1, address: 127.0.0.1, port: 2223, region: eu-west, vars: { port: 5432 } }
          jobs:
            consul:
              service: jobs
        """;

    [Fact]
    public void A_catalog_group_loads_as_its_source_without_hosts_beside_a_static_group_and_round_trips_through_the_cache()
    {
        var files = FixtureRepo.Files();
        files["environments/staging.yaml"] = Encoding.UTF8.GetBytes(Environment);
        var cache = new MemoryParseCache();

        var scratch = RepoLoader.Load(new InMemoryRepoSource(files), cache);
        var cached = RepoLoader.Load(new InMemoryRepoSource(files), cache);

        Assert.False(scratch.HasErrors, FixtureRepo.Render(scratch));
        var groups = scratch.Model!.Environments["staging"].HostGroups;
        Assert.Equal(new CatalogSource("api-node", "blue", "eu-west-1", true, "ssh/known_hosts"), groups["app"].Catalog);
        Assert.Empty(groups["app"].Hosts);
        Assert.Equal(new SourceLocation("environments/staging.yaml", 6, 3), groups["app"].Location);
        Assert.Equal(new CatalogSource("jobs", null, null, false, null), groups["jobs"].Catalog);   // passingOnly defaults to false
        Assert.Null(groups["db"].Catalog);
        Assert.Equal("5432", groups["db"].Hosts.Single().Vars["port"]);
        Assert.Equal(files.Count, cached.Stats.CacheHits);
        foreach (var name in new[] { "app", "jobs" })
        {
            var fromCache = cached.Model!.Environments["staging"].HostGroups[name];
            Assert.Equal((groups[name].Catalog, groups[name].Location, 0), (fromCache.Catalog, fromCache.Location, fromCache.Hosts.Length));
        }
    }

    /// <summary>The example repo's commented catalog group (kept commented so the quick start needs no Consul) is a
    /// valid replacement for its static app group.</summary>
    [Fact]
    public void The_example_repos_commented_catalog_group_validates_when_uncommented()
    {
        var root = ExampleRepo();
        var files = Directory.EnumerateFiles(root, "*.y*ml", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(root, f).StartsWith('.'))
            .ToDictionary(f => Path.GetRelativePath(root, f).Replace('\\', '/'), File.ReadAllText, StringComparer.Ordinal);
        var production = files["environments/production.yaml"];
        var begin = production.IndexOf("  # BEGIN catalog example\n", StringComparison.Ordinal);
        var end = production.IndexOf("  # END catalog example\n", StringComparison.Ordinal);
        Assert.True(begin > 0 && end > begin, "the catalog example block is missing from environments/production.yaml");
        var block = production[begin..end].Split('\n').Skip(1).Select(l => l.Length > 4 ? "  " + l[4..] : l);
        var staticApp = production.IndexOf("  app:\n", StringComparison.Ordinal);
        var staticEnd = production.IndexOf("  # The same group from the Consul catalog", StringComparison.Ordinal);
        files["environments/production.yaml"] = production[..staticApp] + string.Join("\n", block) + production[staticEnd..];

        var result = RepoLoader.Load(new InMemoryRepoSource(files.ToDictionary(f => f.Key, f => Encoding.UTF8.GetBytes(f.Value), StringComparer.Ordinal)));

        Assert.False(result.HasErrors, FixtureRepo.Render(result));
        Assert.Equal(new CatalogSource("app-node", null, null, true, "ssh/known_hosts"), result.Model!.Environments["production"].HostGroups["app"].Catalog);
    }

    private static string ExampleRepo([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "examples", "infra-repo"));
}
