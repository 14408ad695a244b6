using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;

namespace Reconciler.Engine.Tests.Views;

/// <summary>Desired/live pairs built in code (no YAML) for the view tests: a small plan that shows every kind of
/// change, and a generated one of any size. Deterministic: names and versions derive from the index.</summary>
public static class PlanScenarios
{
    private static readonly HealthSpec Health = new([new HealthCheckSpec(HealthCheckKind.Http, "http://${host.address}:8080/health", 200, null, null, null, null, TimeSpan.FromSeconds(2))],
        TimeSpan.FromSeconds(1), 2, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30));

    private static HostSpec Host(string name, string? region) =>
        new(name, $"{name}.example.internal", 22, "deploy", null, region, ImmutableSortedDictionary<string, string>.Empty);

    private static readonly EnvironmentSpec Production = new("production", ["eu-west", "us-east"],
        new Dictionary<string, HostGroup>
        {
            ["app"] = new("app", [Host("app-eu-1", "eu-west"), Host("app-eu-2", "eu-west"), Host("app-us-1", "us-east"), Host("app-canary", null)]),
            ["db"] = new("db", [Host("db-eu-1", "eu-west"), Host("db-us-1", "us-east")]),
            ["edge"] = new("edge", [Host("edge-eu-1", "eu-west"), Host("edge-eu-2", "eu-west"), Host("edge-us-1", "us-east"), Host("edge-us-2", "us-east")]),
        }.ToImmutableSortedDictionary(StringComparer.Ordinal), [], null, null);

    public static ServiceSpec Svc(string name, string version, string group, string[] deps, params (string Key, string Value)[] config) =>
        new(name, true, version, new ArtifactSpec($"artifacts/{name}-${{version}}.tar.gz", Sha(name + version)),
            [.. deps.Order(StringComparer.Ordinal)], group,
            new DeploySpec(DriverKind.Ssh, $"/srv/{name}", "./bin/restart", "./bin/stop", 5),
            new StrategySpec(StrategyKind.Rolling, new MaxParallel(25, true), 1), Health,
            config.ToImmutableSortedDictionary(c => c.Key, c => c.Value.StartsWith("secret:", StringComparison.Ordinal)
                ? (ConfigValue)new ConfigValue.Secret(c.Value["secret:".Length..]) : new ConfigValue.Literal(c.Value), StringComparer.Ordinal),
            null, null);

    private static string Sha(string seed) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(seed)));

    private static DesiredToggle Toggle(string name, bool on, params (string Service, string Range)[] requires) =>
        new(name, on, requires.ToImmutableSortedDictionary(r => r.Service, r => r.Range, StringComparer.Ordinal));

    public static DesiredState Desired(IEnumerable<ServiceSpec> services, IEnumerable<DesiredToggle> toggles, string revision = "9f2c1e4b7a0d3c5e6f8091a2b3c4d5e6f7081920") =>
        new("production", revision, Production,
            services.ToImmutableSortedDictionary(s => s.Name, s => s, StringComparer.Ordinal),
            toggles.ToImmutableSortedDictionary(t => t.Name, t => t, StringComparer.Ordinal),
            new RepositorySpec(null, new Defaults(5, OnFailure.Rollback, new StrategySpec(StrategyKind.Rolling, new MaxParallel(25, true), 1), Health), [], null));

    /// <summary>The live state a complete apply of <paramref name="desired"/> leaves behind.</summary>
    public static LiveState Applied(DesiredState desired, long version)
    {
        var services = desired.Services.Values.ToImmutableSortedDictionary(s => s.Name, s =>
        {
            var release = ServiceFields.ReleaseId(s);
            return new LiveService(s.Name, s.Version, release, ServiceFields.ConfigHash(s), "1111111111111111111111111111111111111111", s.DependsOn, ServiceFields.Flatten(s),
                desired.EnvironmentSpec.HostGroups[s.HostGroup].Hosts.ToImmutableSortedDictionary(h => h.Name, h => new LiveHost(h.Name, release, null), StringComparer.Ordinal));
        }, StringComparer.Ordinal);
        return new LiveState(desired.Environment, version, services,
            desired.Toggles.Values.ToImmutableSortedDictionary(t => t.Name, t => new LiveToggle(t.Name, t.Enabled, "1111111111111111111111111111111111111111"), StringComparer.Ordinal),
            "1111111111111111111111111111111111111111");
    }

    /// <summary>Every action, a secret reference change, a dependsOn chain, toggles gated on and off.</summary>
    public static Plan Showcase()
    {
        var before = Desired(
        [
            Svc("db-migrate", "3.1.0", "db", []),
            Svc("auth", "2.0.0", "app", ["db-migrate"], ("LOG_LEVEL", "info")),
            Svc("api", "1.4.2", "app", ["auth", "db-migrate"], ("LOG_LEVEL", "info"), ("DB_PASSWORD", "secret:env:API_DB_PASSWORD"), ("OLD_FLAG", "1")),
            Svc("search", "5.2.0", "app", ["api"]),
            Svc("legacy-report", "0.9.1", "app", ["reports-db"]),
            Svc("reports-db", "0.3.0", "db", []),
            Svc("static", "1.0.0", "edge", []),
        ], [Toggle("new-checkout", false, ("api", ">=1.5.0")), Toggle("fast-search", true, ("search", ">=5.0.0")), Toggle("beta-banner", true)]);
        var after = Desired(
        [
            Svc("db-migrate", "3.2.0", "db", []),
            Svc("auth", "2.0.0", "app", ["db-migrate"], ("LOG_LEVEL", "warn")),
            Svc("api", "1.5.0", "app", ["auth", "db-migrate"], ("LOG_LEVEL", "info"), ("DB_PASSWORD", "secret:env:API_DB_PASSWORD_2026"), ("CHECKOUT_V2", "on")),
            Svc("search", "4.9.0", "app", ["api"]),
            Svc("static", "1.0.0", "edge", []) with { Deploy = new DeploySpec(DriverKind.Ssh, "/srv/static", "./bin/restart --graceful", "./bin/stop", 5) },
            Svc("web", "1.0.0", "edge", ["api"], ("API_URL", "http://api.internal:8080")),
        ], [Toggle("new-checkout", true, ("api", ">=1.5.0")), Toggle("fast-search", false, ("search", ">=5.0.0")), Toggle("dark-mode", false)]);
        return Planner.Plan(after, Applied(before, 42), PlanOptions.Default);
    }

    /// <summary>Per-host config (issue 14): an upgrade whose config renders per host. LISTEN and ZONE differ between the
    /// edge hosts and are shown per host; TIER renders the same everywhere and is not.</summary>
    public static Plan PerHostConfig()
    {
        HostSpec Edge(string name, string region, string port) => Host(name, region) with
        {
            Vars = ImmutableSortedDictionary<string, string>.Empty.Add("port", port).Add("tier", "web"),
        };
        var environment = Production with
        {
            HostGroups = Production.HostGroups.SetItem("edge", new HostGroup("edge",
                [Edge("edge-eu-1", "eu-west", "8080"), Edge("edge-eu-2", "eu-west", "8080"), Edge("edge-us-1", "us-east", "9090")])),
        };
        var before = Desired([Svc("static", "1.0.0", "edge", [], ("LISTEN", ":8080"), ("LOG_LEVEL", "info"))], []) with { EnvironmentSpec = environment };
        var after = Desired([Svc("static", "1.1.0", "edge", [], ("LISTEN", "${host.address}:${host.vars.port}"), ("LOG_LEVEL", "info"),
            ("TIER", "${host.vars.tier}"), ("ZONE", "${host.region}"))], []) with { EnvironmentSpec = environment };
        return Planner.Plan(after, Applied(before, 7), PlanOptions.Default);
    }

    /// <summary>Issue 13: a converged environment whose hosts drifted; each drifted host is its own repair with its reason
    /// (one upgrade beside them shows a change and repairs in one plan).</summary>
    public static Plan Repairs()
    {
        var before = Desired([Svc("api", "1.5.0", "app", []), Svc("db-migrate", "3.2.0", "db", []), Svc("static", "1.0.0", "edge", [])], []);
        var after = Desired([Svc("api", "1.5.0", "app", []), Svc("db-migrate", "3.2.0", "db", []), Svc("static", "1.1.0", "edge", [])], []);
        var api = ServiceFields.ReleaseId(after.Services["api"]);
        var db = ServiceFields.ReleaseId(after.Services["db-migrate"]);
        ObservedHost Host(string service, string host, string release, string? actual, HostHealth health, string detail, params DriftKind[] drift) =>
            new(service, host, release, release, actual, health, [.. drift], detail);
        var observed = new ObservedState("production", DateTimeOffset.UnixEpoch, TimeSpan.FromMilliseconds(412),
        [
            Host("api", "app-eu-1", api, "1.4.2-0123456789", HostHealth.Healthy, $"current points at 1.4.2-0123456789, recorded {api}", DriftKind.WrongCurrent),
            Host("api", "app-us-1", api, api, HostHealth.Unhealthy, "GET http://app-us-1.example.internal:8080/health: connection refused", DriftKind.Unhealthy),
            Host("api", "app-canary", api, null, HostHealth.Unreachable, "app-canary: connect failed: connection refused", DriftKind.Unreachable),
            Host("db-migrate", "db-us-1", db, null, HostHealth.NotChecked, "no release of ours on the host (re-imaged?)", DriftKind.UnknownHost),
            Host("static", "edge-eu-1", ServiceFields.ReleaseId(before.Services["static"]), null, HostHealth.NotChecked, "no current link", DriftKind.MissingCurrent),
        ]);
        return Planner.Plan(after, Applied(before, 43), new PlanOptions(Observed: observed));
    }

    /// <summary>A generated plan: chains of 10 (10 deploy waves), a mix of every action, some removals and toggles.</summary>
    public static Plan Generated(int count)
    {
        string Name(int i) => $"svc-{i:D4}";
        string[] Deps(int i) => i % 10 == 0 ? [] : [Name(i - 1)];
        string Group(int i) => (i % 3) switch { 0 => "app", 1 => "db", _ => "edge" };
        var live = new List<ServiceSpec>();
        var desired = new List<ServiceSpec>();
        for (var i = 0; i < count; i++)
        {
            var baseSpec = Svc(Name(i), $"1.{i % 17}.0", Group(i), Deps(i), ("LOG_LEVEL", "info"), ("DB_PASSWORD", $"secret:env:PW_{i}"));
            var want = (i % 7) switch
            {
                1 => baseSpec with { Version = $"1.{i % 17}.1" },
                2 when i % 17 > 0 => baseSpec with { Version = $"1.{i % 17 - 1}.0" },
                3 => baseSpec with { Config = baseSpec.Config.SetItem("LOG_LEVEL", new ConfigValue.Literal("debug")) },
                4 => baseSpec with { Artifact = baseSpec.Artifact with { Sha256 = Sha("rebuilt" + i) } },
                6 => baseSpec with { Config = baseSpec.Config.SetItem("DB_PASSWORD", new ConfigValue.Secret($"consul:secrets/{Name(i)}/db")) },
                _ => baseSpec,
            };
            if (i % 7 != 0 || i % 14 == 0) live.Add(baseSpec); // every other multiple of 7 is new
            desired.Add(want);
        }
        for (var i = 0; i < Math.Max(1, count / 50); i++) live.Add(Svc($"retired-{i:D3}", "0.1.0", "app", i == 0 ? [] : [$"retired-{i - 1:D3}"]));
        var toggles = Enumerable.Range(0, Math.Max(1, count / 100)).Select(i => Toggle($"flag-{i:D3}", i % 2 == 0, (Name(i * 7 + 1), $">={1}.{(i * 7 + 1) % 17}.1"))).ToList();
        var liveToggles = toggles.Select(t => t with { Enabled = false }).ToList();
        return Planner.Plan(Desired(desired, toggles), Applied(Desired(live, liveToggles), 1234), PlanOptions.Default);
    }
}
