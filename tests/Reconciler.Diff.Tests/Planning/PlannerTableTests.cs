using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Xunit;
using static Reconciler.Diff.Tests.Planning.PlanFixtures;

namespace Reconciler.Diff.Tests.Planning;

/// <summary>
/// The planner's table: each row is a desired state, a live state, the expected waves in one line (see
/// <see cref="PlanFixtures.Summary"/>) and optional extra checks. Rows with an expected error give the words the
/// message must contain instead.
/// </summary>
public class PlannerTableTests
{
    public sealed record Case(Func<DesiredState> Desired, Func<DesiredState, LiveState> Live, string Expected, Action<Plan>? Check = null, string[]? Error = null);

    private static readonly DesiredState Base = Desired([Svc("api", "1.4.2", config: ("LOG_LEVEL", "info")), Svc("db", "2.0.0", group: "db")]);
    private static LiveState FromBase(DesiredState _) => Applied(Base);
    private static DesiredState Changed(Func<ServiceSpec, ServiceSpec> api) => Base with { Services = Base.Services.SetItem("api", api(Base.Services["api"])) };

    private static ServiceChange Service(Plan p, string name) => p.Services.Single(s => s.Service == name);
    private static ToggleChange Tgl(Plan p, string name) => p.Toggles.Single(t => t.Toggle == name);

    // Chains and diamonds share a base where every service exists in live at 1.0.0.
    private static DesiredState Graph(params (string Name, string Version, string[] Deps)[] services) =>
        Desired(services.Select(s => Svc(s.Name, s.Version, s.Deps)));
    private static Func<DesiredState, LiveState> LiveAt100(params (string Name, string[] Deps)[] services) =>
        _ => Applied(Desired(services.Select(s => Svc(s.Name, "1.0.0", s.Deps))));

    public static readonly Dictionary<string, Case> Cases = new()
    {
        ["unknown release on a host: that host gets the desired release again, the others stay"] = new(() => Base, _ =>
        {
            var live = Applied(Base);
            var api = live.Services["api"];
            var host = api.Hosts["app-eu-1"];
            return live with { Services = live.Services.SetItem("api", api with { Hosts = api.Hosts.SetItem("app-eu-1",
                host with { UnknownBecause = "activate timed out" }) }) };
        }, "1:deploy[api=redeploy]", p =>
        {
            var api = Service(p, "api");
            var host = Assert.Single(api.Hosts);
            Assert.Equal(("app-eu-1", null, ServiceFields.ReleaseId(Base.Services["api"])), (host.Host, host.FromRelease, host.ToRelease));
        }),
        ["create: no live state, every host in rollout order"] = new(() => Base, _ => Empty, "1:deploy[api=create,db=create]", p =>
        {
            var api = Service(p, "api");
            Assert.Equal(["app-0", "app-eu-2", "app-eu-1", "app-us-1"], api.Hosts.Select(h => h.Host));   // regions eu, us; as listed within
            Assert.All(api.Hosts, h => Assert.Null(h.FromRelease));
            Assert.All(api.Fields, f => Assert.Equal(FieldChangeKind.Added, f.Kind));
            Assert.Equal("new service, version 1.4.2 on 4 hosts", api.Reason);
        }),
        ["no-op: live equals desired"] = new(() => Base, FromBase, "no changes", p =>
        {
            Assert.False(p.HasChanges);
            Assert.All(p.Services, s => { Assert.Equal(ServiceAction.NoOp, s.Action); Assert.Equal(0, s.Wave); Assert.Empty(s.Hosts); });
        }),
        ["upgrade: version up"] = new(() => Changed(s => s with { Version = "1.5.0" }), FromBase, "1:deploy[api=upgrade]", p =>
        {
            var api = Service(p, "api");
            Assert.Equal("version 1.4.2 -> 1.5.0", api.Reason);
            Assert.Contains(api.Fields, f => f is { Path: "version", Kind: FieldChangeKind.Changed, Before: "1.4.2", After: "1.5.0" });
            Assert.Equal(4, api.Hosts.Length);
            Assert.All(api.Hosts, h => Assert.StartsWith("1.5.0-", h.ToRelease));
        }),
        ["downgrade: version down by semver precedence, not string order"] = new(() => Changed(s => s with { Version = "1.10.0" }),
            _ => Applied(Changed(s => s with { Version = "1.9.0" })), "1:deploy[api=upgrade]"),
        ["downgrade: version down"] = new(() => Changed(s => s with { Version = "1.4.1" }), FromBase, "1:deploy[api=downgrade]",
            p => Assert.Equal("version 1.4.2 -> 1.4.1", Service(p, "api").Reason)),
        ["downgrade: prerelease is lower than its release"] = new(() => Changed(s => s with { Version = "1.4.2-rc.1" }), FromBase, "1:deploy[api=downgrade]"),
        ["reconfigure: config key changed"] = new(() => Changed(s => s with { Config = s.Config.SetItem("LOG_LEVEL", new ConfigValue.Literal("debug")) }), FromBase,
            "1:deploy[api=reconfigure]", p =>
            {
                var api = Service(p, "api");
                Assert.Equal([new FieldChange("config.LOG_LEVEL", FieldChangeKind.Changed, "info", "debug")], api.Fields.ToArray());
                Assert.Equal("config changed: LOG_LEVEL", api.Reason);
                Assert.Equal(4, api.Hosts.Length);
                Assert.NotEqual(api.FromRelease, api.ToRelease);
            }),
        ["reconfigure: config key added"] = new(() => Changed(s => s with { Config = s.Config.Add("FEATURE_X", new ConfigValue.Literal("1")) }), FromBase,
            "1:deploy[api=reconfigure]", p =>
            {
                Assert.Equal([new FieldChange("config.FEATURE_X", FieldChangeKind.Added, null, "1")], Service(p, "api").Fields.ToArray());
                Assert.Equal("config changed: +FEATURE_X", Service(p, "api").Reason);
            }),
        ["reconfigure: config key removed"] = new(() => Changed(s => s with { Config = s.Config.Remove("LOG_LEVEL") }), FromBase,
            "1:deploy[api=reconfigure]", p => Assert.Equal([new FieldChange("config.LOG_LEVEL", FieldChangeKind.Removed, "info", null)], Service(p, "api").Fields.ToArray())),
        ["reconfigure: secret reference changed shows references only"] = new(
            () => Desired([Svc("api", "1.4.2", config: ("DB_PASSWORD", "secret:env:API_DB_PASSWORD_V2"))]),
            _ => Applied(Desired([Svc("api", "1.4.2", config: ("DB_PASSWORD", "secret:env:API_DB_PASSWORD"))])),
            "1:deploy[api=reconfigure]", p =>
            {
                var api = Service(p, "api");
                Assert.Equal([new FieldChange("config.DB_PASSWORD", FieldChangeKind.SecretChanged, "secret(env:API_DB_PASSWORD)", "secret(env:API_DB_PASSWORD_V2)")], api.Fields.ToArray());
                Assert.Equal("config changed: DB_PASSWORD (secret reference changed)", api.Reason);
            }),
        ["redeploy: same version, new artifact"] = new(() => Changed(s => s with { Artifact = s.Artifact with { Sha256 = "cd".PadRight(64, '1') } }), FromBase,
            "1:deploy[api=redeploy]", p => Assert.Equal("artifact.sha256 changed", Service(p, "api").Reason)),
        ["redeploy: restart command changed keeps the release id"] = new(() => Changed(s => s with { Deploy = s.Deploy with { RestartCommand = "./bin/restart --graceful" } }), FromBase,
            "1:deploy[api=redeploy]", p =>
            {
                var api = Service(p, "api");
                Assert.Equal(api.FromRelease, api.ToRelease);
                Assert.Equal(4, api.Hosts.Length);
            }),
        ["redeploy: host added to the group touches that host only"] = new(
            () => Base with { EnvironmentSpec = Environment(null, Host("app-eu-1", "eu"), Host("app-eu-2", "eu"), Host("app-us-1", "us"), Host("app-0", null), Host("app-us-2", "us")) },
            FromBase, "1:deploy[api=redeploy]", p =>
            {
                var api = Service(p, "api");
                Assert.Equal([new HostChange("app-us-2", "us", null, api.ToRelease)], api.Hosts.ToArray());
                Assert.StartsWith("hosts without release", api.Reason);
            }),
        ["redeploy: host leaving the group gets the service removed"] = new(
            () => Base with { EnvironmentSpec = Environment(null, Host("app-eu-1", "eu"), Host("app-eu-2", "eu"), Host("app-us-1", "us")) },
            FromBase, "1:deploy[api=redeploy]", p => Assert.Equal([new HostChange("app-0", null, Service(p, "api").FromRelease, null)], Service(p, "api").Hosts.ToArray())),
        ["reconfigure: strategy only, no host changes"] = new(() => Changed(s => s with { Strategy = s.Strategy with { MaxParallel = new MaxParallel(1, false) } }), FromBase,
            "1:deploy[api=reconfigure]", p =>
            {
                var api = Service(p, "api");
                Assert.Empty(api.Hosts);
                Assert.Equal("settings only: strategy.maxParallel (no host changes)", api.Reason);
            }),
        ["reconfigure: health deadline only, no host changes"] = new(() => Changed(s => s with { Health = s.Health with { Deadline = TimeSpan.FromMinutes(2) } }), FromBase,
            "1:deploy[api=reconfigure]", p => Assert.Equal([new FieldChange("health.deadline", FieldChangeKind.Changed, "30s", "2m")], Service(p, "api").Fields.ToArray())),
        ["upgrade with config change lists both fields"] = new(
            () => Changed(s => s with { Version = "1.5.0", Config = s.Config.SetItem("LOG_LEVEL", new ConfigValue.Literal("warn")) }), FromBase,
            "1:deploy[api=upgrade]", p => Assert.Equal(["config.LOG_LEVEL", "version"], Service(p, "api").Fields.Select(f => f.Path))),
        ["region order: hosts without region, then listed regions, then as the group lists them"] = new(
            () => Base with { EnvironmentSpec = Environment(["us", "eu"]) }, _ => Empty, "1:deploy[api=create,db=create]",
            p => Assert.Equal(["app-0", "app-us-1", "app-eu-2", "app-eu-1"], Service(p, "api").Hosts.Select(h => h.Host))),
        ["rollout as listed: host10 comes after host2, not before it (no name sort)"] = new(
            () => Base with { EnvironmentSpec = Environment(["eu"], Host("host1", "eu"), Host("host2", "eu"), Host("host10", "eu"), Host("host3", "eu")) },
            _ => Empty, "1:deploy[api=create,db=create]",
            p => Assert.Equal(["host1", "host2", "host10", "host3"], Service(p, "api").Hosts.Select(h => h.Host))),
        ["rollout as listed: an upgrade and a partial redeploy keep the listed order"] = new(
            () => Base with { EnvironmentSpec = Environment(["eu"], Host("b-9", "eu"), Host("a-10", "eu"), Host("c-1", "eu")),
                Services = Base.Services.SetItem("api", Base.Services["api"] with { Version = "1.5.0" }) },
            _ => Applied(Base with { EnvironmentSpec = Environment(["eu"], Host("b-9", "eu"), Host("a-10", "eu"), Host("c-1", "eu")) }),
            "1:deploy[api=upgrade]",
            p => Assert.Equal(["b-9", "a-10", "c-1"], Service(p, "api").Hosts.Select(h => h.Host))),
        ["rollout as listed: hosts joining the group go in their listed place"] = new(
            () => Base with { EnvironmentSpec = Environment(["eu"], Host("z-1", "eu"), Host("m-2", "eu"), Host("a-3", "eu")) },
            _ => Applied(Base with { EnvironmentSpec = Environment(["eu"], Host("m-2", "eu")) }),
            "1:deploy[api=redeploy]",
            p => Assert.Equal(["z-1", "a-3"], Service(p, "api").Hosts.Select(h => h.Host))),
        ["remove: service no longer desired"] = new(() => Desired([Base.Services["db"]]), FromBase, "1:remove[api=remove]", p =>
        {
            var api = Service(p, "api");
            Assert.All(api.Hosts, h => Assert.Null(h.ToRelease));
            Assert.All(api.Fields, f => Assert.Equal(FieldChangeKind.Removed, f.Kind));
            Assert.Null(api.ToVersion);
        }),
        ["remove: after the deploy waves"] = new(() => Desired([Base.Services["db"] with { Version = "2.1.0" }]), FromBase, "1:deploy[db=upgrade] | 2:remove[api=remove]"),
        ["remove: reverse dependency order (dependents first)"] = new(() => Desired([]),
            LiveAt100(("web", ["api"]), ("api", ["db"]), ("db", []), ("cache", [])),
            "1:remove[cache=remove,web=remove] | 2:remove[api=remove] | 3:remove[db=remove]"),
        ["waves: independent changes share wave 1"] = new(() => Graph(("a", "1.1.0", []), ("b", "1.1.0", []), ("c", "1.1.0", [])),
            LiveAt100(("a", []), ("b", []), ("c", [])), "1:deploy[a=upgrade,b=upgrade,c=upgrade]"),
        ["waves: dependsOn chain"] = new(() => Graph(("a", "1.1.0", []), ("b", "1.1.0", ["a"]), ("c", "1.1.0", ["b"])),
            LiveAt100(("a", []), ("b", ["a"]), ("c", ["b"])), "1:deploy[a=upgrade] | 2:deploy[b=upgrade] | 3:deploy[c=upgrade]"),
        ["waves: diamond"] = new(() => Graph(("a", "1.1.0", []), ("b", "1.1.0", ["a"]), ("c", "1.1.0", ["a"]), ("d", "1.1.0", ["b", "c"])),
            LiveAt100(("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"])), "1:deploy[a=upgrade] | 2:deploy[b=upgrade,c=upgrade] | 3:deploy[d=upgrade]"),
        ["waves: unchanged service in the middle of a chain still orders"] = new(() => Graph(("a", "1.1.0", []), ("b", "1.0.0", ["a"]), ("c", "1.1.0", ["b"])),
            LiveAt100(("a", []), ("b", ["a"]), ("c", ["b"])), "1:deploy[a=upgrade] | 2:deploy[c=upgrade]",
            p => Assert.Equal(0, Service(p, "b").Wave)),
        ["waves: only changed dependencies count"] = new(() => Graph(("a", "1.0.0", []), ("b", "1.1.0", ["a"])),
            LiveAt100(("a", []), ("b", ["a"])), "1:deploy[b=upgrade]"),
        ["toggle on: after the wave that reaches the required version"] = new(
            () => Desired([Svc("db", "2.0.0"), Svc("api", "1.5.0", ["db"])], [Toggle("new-checkout", true, ("api", ">=1.5.0"))]),
            _ => Applied(Desired([Svc("db", "1.0.0"), Svc("api", "1.4.2", ["db"])], [Toggle("new-checkout", false)])),
            "1:deploy[db=upgrade] | 2:deploy[api=upgrade] after(new-checkout)", p =>
            {
                var t = Tgl(p, "new-checkout");
                Assert.Equal((ToggleAction.On, 2, (bool?)false, (bool?)true), (t.Action, t.Wave, t.Before, t.After));
                Assert.Contains("after wave 2 (api reaches >=1.5.0)", t.Reason);
            }),
        ["toggle on: requirement already met goes first"] = new(
            () => Desired([Svc("api", "1.6.0")], [Toggle("t", true, ("api", ">=1.5.0"))]),
            _ => Applied(Desired([Svc("api", "1.5.0")], [Toggle("t", false)])),
            "1:deploy[api=upgrade] before(t)"),
        ["toggle on: waits for a service created in this plan"] = new(
            () => Desired([Svc("db", "1.0.0"), Svc("api", "1.5.0", ["db"])], [Toggle("t", true, ("api", "^1.5"))]),
            _ => Empty, "1:deploy[db=create] | 2:deploy[api=create] after(t)"),
        ["toggle on: toggle-only plan gets one wave"] = new(
            () => Desired([Svc("api", "1.5.0")], [Toggle("t", true, ("api", ">=1.5.0"))]),
            _ => Applied(Desired([Svc("api", "1.5.0")], [Toggle("t", false)])),
            "1:deploy[] before(t)", p => Assert.True(p.HasChanges)),
        ["toggle off: before the downgrade that breaks it"] = new(
            () => Desired([Svc("db", "1.1.0"), Svc("api", "1.4.0", ["db"])], [Toggle("t", false, ("api", ">=1.5.0"))]),
            _ => Applied(Desired([Svc("db", "1.0.0"), Svc("api", "1.5.0", ["db"])], [Toggle("t", true, ("api", ">=1.5.0"))])),
            "1:deploy[db=upgrade] | 2:deploy[api=downgrade] before(t)",
            p => Assert.Contains("before api downgrade to 1.4.0 breaks >=1.5.0", Tgl(p, "t").Reason)),
        ["toggle off: no breaking change goes first"] = new(
            () => Desired([Svc("api", "1.6.0")], [Toggle("t", false, ("api", ">=1.5.0"))]),
            _ => Applied(Desired([Svc("api", "1.5.0")], [Toggle("t", true, ("api", ">=1.5.0"))])),
            "1:deploy[api=upgrade] before(t)"),
        ["toggle created off and toggle removed"] = new(
            () => Desired([Svc("api", "1.5.0")], [Toggle("fresh", false)]),
            _ => Applied(Desired([Svc("api", "1.5.0")], [Toggle("old", true)])),
            "1:deploy[] before(fresh,old)", p =>
            {
                Assert.Equal(ToggleAction.Created, Tgl(p, "fresh").Action);
                Assert.Equal((ToggleAction.Removed, (bool?)true, (bool?)null), (Tgl(p, "old").Action, Tgl(p, "old").Before, Tgl(p, "old").After));
            }),
        ["toggle unchanged is a no-op in wave 0"] = new(
            () => Desired([Svc("api", "1.6.0")], [Toggle("t", true, ("api", ">=1.5.0"))]),
            _ => Applied(Desired([Svc("api", "1.5.0")], [Toggle("t", true, ("api", ">=1.5.0"))])),
            "1:deploy[api=upgrade]", p => Assert.Equal((ToggleAction.NoOp, 0), (Tgl(p, "t").Action, Tgl(p, "t").Wave))),
        ["error: toggle requirement no planned version satisfies"] = new(
            () => Desired([Svc("api", "1.4.2")], [Toggle("new-checkout", true, ("api", ">=1.5.0"))]),
            _ => Empty, "", Error: ["new-checkout", "api", ">=1.5.0", "1.4.2"]),
        ["error: toggle requires a service that is not deployed"] = new(
            () => Desired([Svc("web", "1.0.0")], [Toggle("t", true, ("api", ">=1.0.0"))]),
            _ => Empty, "", Error: ["toggle 't'", "api", "not deployed"]),
        ["error: dependsOn cycle cannot be ordered"] = new(() => Graph(("a", "1.0.0", ["c"]), ("b", "1.0.0", ["a"]), ("c", "1.0.0", ["b"])),
            _ => Empty, "", Error: ["dependsOn cycle", "a -> c -> b -> a"]),
        ["error: live state of another environment"] = new(() => Base, _ => LiveState.Empty("staging"), "", Error: ["staging", "prod"]),
        ["error: unknown host group"] = new(() => Desired([Svc("api", group: "nope")]), _ => Empty, "", Error: ["host group 'nope'", "environments/prod.yaml"]),
    };

    public static TheoryData<string> CaseNames() => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Plans(string name)
    {
        var c = Cases[name];
        var desired = c.Desired();
        var live = c.Live(desired);
        if (c.Error is { } words)
        {
            var e = Assert.Throws<PlanningException>(() => Planner.Plan(desired, live, PlanOptions.Default));
            foreach (var w in words) Assert.Contains(w, e.Message);
            return;
        }
        var plan = Planner.Plan(desired, live, PlanOptions.Default);
        Assert.Equal(c.Expected, Summary(plan));
        Assert.Equal(live.Version, plan.LiveVersion);
        Assert.Equal(desired.Revision, plan.Commit);
        Assert.Equal(plan.Services.OrderBy(s => s.Wave).ThenBy(s => s.Service, StringComparer.Ordinal).Select(s => s.Service), plan.Services.Select(s => s.Service));
        c.Check?.Invoke(plan);
    }

    [Fact]
    public void The_table_has_at_least_25_cases() => Assert.True(Cases.Count >= 25, $"{Cases.Count} cases");

    [Fact]
    public void Planning_twice_gives_equal_plans()
    {
        var desired = Desired([Svc("db", "2.0.0"), Svc("api", "1.5.0", ["db"], config: ("K", "v"))], [Toggle("t", true, ("api", ">=1.5.0"))]);
        var live = Applied(Desired([Svc("db", "1.0.0"), Svc("api", "1.4.2", ["db"])], [Toggle("t", false)]));
        var a = Planner.Plan(desired, live, PlanOptions.Default);
        var b = Planner.Plan(desired, live, PlanOptions.Default);
        Assert.Equal(Summary(a), Summary(b));
        Assert.Equal(a.Services.AsEnumerable(), b.Services.AsEnumerable(), new ServiceChangeComparer());
    }

    [Fact]
    public void Applying_a_plan_then_planning_again_is_a_no_op()
    {
        var desired = Desired([Svc("db", "2.0.0"), Svc("api", "1.5.0", ["db"])], [Toggle("t", true, ("api", ">=1.5.0"))]);
        Assert.True(Planner.Plan(desired, Empty).HasChanges);
        Assert.False(Planner.Plan(desired, Applied(desired)).HasChanges);
    }

    [Fact]
    public void Base_commit_is_recorded()
    {
        var plan = Planner.Plan(Base, Empty, new PlanOptions(BaseCommit: "base1234"));
        Assert.Equal("base1234", plan.BaseCommit);
        Assert.Equal(0, plan.LiveVersion);
    }

    /// <summary>Records holding ImmutableArrays compare them by reference; compare their contents.</summary>
    private sealed class ServiceChangeComparer : IEqualityComparer<ServiceChange>
    {
        public bool Equals(ServiceChange? x, ServiceChange? y) =>
            x is not null && y is not null && x with { Fields = [], Hosts = [] } == y with { Fields = [], Hosts = [] }
            && x.Fields.SequenceEqual(y.Fields) && x.Hosts.SequenceEqual(y.Hosts);
        public int GetHashCode(ServiceChange obj) => obj.Service.GetHashCode(StringComparison.Ordinal);
    }
}

public class LiveProjectionTests
{
    [Fact]
    public void A_desired_state_planned_against_its_own_projection_is_a_no_op()
    {
        var desired = Desired([Svc("db", "2.0.0", group: "db"), Svc("api", "1.5.0", ["db"], config: ("PW", "secret:env:PW"))], [Toggle("t", true, ("api", ">=1.5.0"))]);
        var projected = Reconciler.Diff.Live.LiveProjection.AsApplied(desired);
        Assert.False(Planner.Plan(desired, projected).HasChanges);
        Assert.Equal(["app-0", "app-eu-1", "app-eu-2", "app-us-1"], projected.Services["api"].Hosts.Keys);
        Assert.Equal(desired.Revision, projected.Services["api"].Commit);
    }

    [Fact]
    public void Base_projection_shows_only_what_the_commit_changes()
    {
        var baseState = Desired([Svc("db", "2.0.0", group: "db"), Svc("api", "1.4.2", ["db"])]);
        var head = Desired([Svc("db", "2.0.0", group: "db"), Svc("api", "1.5.0", ["db"])]);
        var plan = Planner.Plan(head, Reconciler.Diff.Live.LiveProjection.AsApplied(baseState), new PlanOptions("base"));
        Assert.Equal("1:deploy[api=upgrade]", Summary(plan));
    }
}

public class LargePlanTests
{
    private static DesiredState Many(int n, Func<int, string> group) =>
        Desired(Enumerable.Range(0, n).Select(i => Svc($"s{i:D4}", "1.0.0", i % 50 == 0 ? [] : [$"s{i - 1:D4}"], group(i))));

    /// <summary>The caller's degree of parallelism: 1 classifies on the calling thread, 4 in parallel ranges.</summary>
    private static PlanOptions Workers(int n) => new(MaxDegreeOfParallelism: n);

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void A_large_plan_is_ordered_like_a_small_one(int workers)
    {
        var plan = Planner.Plan(Many(1200, _ => "app"), Empty, Workers(workers));
        Assert.Equal(1200, plan.Services.Length);
        Assert.Equal(50, plan.Waves.Length);
        Assert.Equal(plan.Services.OrderBy(s => s.Wave).ThenBy(s => s.Service, StringComparer.Ordinal).Select(s => s.Service), plan.Services.Select(s => s.Service));
        Assert.Equal(Enumerable.Range(0, 24).Select(i => $"s{i * 50 + 7:D4}"), plan.Waves[7].Services);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void A_large_plan_reports_the_first_error_by_name(int workers)
    {
        var e = Assert.Throws<PlanningException>(() => Planner.Plan(Many(1200, i => i % 300 == 299 ? "nope" : "app"), Empty, Workers(workers)));
        Assert.Contains("service 's0299'", e.Message);
    }

    [Fact]
    public void Planning_in_parallel_gives_the_plan_planned_on_one_thread()
    {
        var desired = Many(1500, i => i % 3 == 0 ? "db" : "app");
        var live = Applied(Many(1400, i => i % 4 == 0 ? "db" : "app"));
        var json = System.Text.Json.JsonSerializer.Serialize(Planner.Plan(desired, live, Workers(1)));
        Assert.Equal(json, System.Text.Json.JsonSerializer.Serialize(Planner.Plan(desired, live, Workers(4))));
        Assert.Equal(json, System.Text.Json.JsonSerializer.Serialize(Planner.Plan(desired, live)));
    }

    [Fact]
    public void The_degree_of_parallelism_is_at_least_one()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Planner.Plan(Many(3, _ => "app"), Empty, Workers(0)));
    }
}
