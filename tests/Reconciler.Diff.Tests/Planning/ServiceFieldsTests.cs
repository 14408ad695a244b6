using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Xunit;
using static Reconciler.Diff.Tests.Planning.PlanFixtures;

namespace Reconciler.Diff.Tests.Planning;

/// <summary>The flattened snapshot and the hashes the planner builds per service, and its shortcut for converged
/// services: each is written for speed (docs/benchmarks/planner.md), so each is pinned against the plain definition.</summary>
public class ServiceFieldsTests
{
    private static readonly HealthCheckSpec Check = new(HealthCheckKind.Http, "http://x/health", null, null, null, null, null, TimeSpan.FromMilliseconds(1500));

    /// <summary>Ten or more checks ("[10]" sorts before "[2]") and config keys under another comparer: the two
    /// cases where the fields are not produced in path order.</summary>
    private static ServiceSpec Awkward() => Svc("api") with
    {
        Health = Health with { Checks = [.. Enumerable.Repeat(Check, 12)] },
        Config = new Dictionary<string, ConfigValue>
        {
            ["b"] = new ConfigValue.Literal("1"),
            ["A"] = new ConfigValue.Literal("ü"),
            ["_x"] = new ConfigValue.Secret("env:X"),
            ["Z"] = new ConfigValue.Literal(""),
        }.ToImmutableSortedDictionary(StringComparer.OrdinalIgnoreCase),
        Strategy = new StrategySpec(StrategyKind.Canary, new MaxParallel(2, false), 1),
        OnFailure = OnFailure.Halt,
        Deploy = Svc("api").Deploy with { StopCommand = "./bin/stop" },
    };

    [Fact]
    public void Flattened_paths_are_unique_and_in_ordinal_order()
    {
        var fields = ServiceFields.FlattenSorted(Awkward());
        var paths = fields.Select(f => f.Key).ToList();
        Assert.Equal(paths.Order(StringComparer.Ordinal), paths);
        Assert.Equal(paths.Count, paths.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(18 + 12 + 4, paths.Count);
        Assert.Contains("health.checks[11]", paths);
        Assert.Equal("http http://x/health expect 200 timeout 1500ms", fields.Single(f => f.Key == "health.checks[10]").Value);
        Assert.Equal("halt", fields.Single(f => f.Key == "onFailure").Value);
        Assert.Equal("secret(env:X)", fields.Single(f => f.Key == "config._x").Value);
        Assert.Equal(fields, ServiceFields.Flatten(Awkward()).ToArray());
    }

    [Fact]
    public void The_converged_shortcut_agrees_with_the_field_diff()
    {
        var full = Svc("api", "1.2.3", ["db", "cache"], config: [("A", "1"), ("S", "secret:env:X")]) with
        {
            Health = Health with
            {
                Checks = [Check, new(HealthCheckKind.Tcp, null, null, null, 8080, null, null, TimeSpan.FromMinutes(2)),
                    new(HealthCheckKind.Command, null, null, null, null, "./ok", null, TimeSpan.Zero)],
            },
            Strategy = new StrategySpec(StrategyKind.Canary, new MaxParallel(25, true), 2),
            OnFailure = OnFailure.Rollback,
            Deploy = Svc("api").Deploy with { StopCommand = "./bin/stop" },
        };
        var bare = Svc("web") with { Deploy = Svc("web").Deploy with { RestartCommand = null } };
        foreach (var (spec, exact) in new[] { (full, true), (bare, true), (Awkward(), false) })
        {
            var snapshot = ServiceFields.Flatten(spec);
            var variants = new List<ImmutableSortedDictionary<string, string>> { snapshot, snapshot.Add("zz", "1"), snapshot.Add("a", "1") };
            foreach (var (path, value) in snapshot)
                variants.AddRange([snapshot.SetItem(path, value + "x"), snapshot.SetItem(path, ""), snapshot.Remove(path), snapshot.SetItem(path, "secret(" + value + ")")]);
            foreach (var fields in variants)
            {
                var same = ServiceClassifier.Diff(fields, ServiceFields.FlattenSorted(spec)).IsEmpty;
                // Both forms a live snapshot comes in: built as a dictionary (tests, hand-written state) and packed (stores).
                foreach (var live in new[] { Live(fields), LivePacked(fields) })
                {
                    var shortcut = ServiceFields.FieldsEqual(spec, live);
                    // The shortcut may decline (and the planner then diffs), but never claims equal fields that differ.
                    if (exact) Assert.Equal(same, shortcut);
                    else Assert.True(!shortcut || same);
                }
            }
            Assert.Equal(exact, ServiceFields.FieldsEqual(spec, Live(snapshot)));
            Assert.Equal(exact, ServiceFields.FieldsEqual(spec, LivePacked(snapshot)));
        }
    }

    private static LiveService Live(ImmutableSortedDictionary<string, string> fields) =>
        new("api", "1.0.0", "r", "h", "c", [], fields, ImmutableSortedDictionary<string, LiveHost>.Empty);

    private static LiveService LivePacked(ImmutableSortedDictionary<string, string> fields) =>
        LiveService.FromPacked("api", "1.0.0", "r", "h", "c", [], PackedFields.Pack(fields), ImmutableSortedDictionary<string, LiveHost>.Empty);

    [Fact]
    public void A_spec_packs_to_its_flattened_fields()
    {
        var lone = Svc("api", config: [("A", "x\ud800y")]);
        foreach (var spec in new[] { Svc("api", "1.2.3", ["db", "cache"], config: [("A", "1"), ("S", "secret:env:X")]), Awkward(), Svc("web") })
        {
            var packed = ServiceFields.Pack(spec);
            Assert.True(packed.IsExact);
            Assert.Equal(PackedFields.Pack(ServiceFields.FlattenSorted(spec)).Bytes.ToArray(), packed.Bytes.ToArray());
            Assert.Equal(ServiceFields.Flatten(spec), packed.Unpack());
        }
        // A lone surrogate cannot be packed exactly: such a packing never proves equality.
        var inexact = ServiceFields.Pack(lone);
        Assert.False(inexact.IsExact);
        Assert.False(ServiceFields.FieldsEqual(lone, Live(ServiceFields.Flatten(lone))));
    }

    [Fact]
    public void Config_hash_is_the_sha256_of_the_documented_text()
    {
        var spec = Awkward();
        // Config in the spec's own key order (here case-insensitive), secrets as their reference.
        var text = $"version=1.0.0\nartifact={spec.Artifact.Sha256}\nconfig.A=ü\nconfig.b=1\nconfig.Z=\nconfig._x=secret(env:X)\n";
        var expected = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
        Assert.Equal(expected, ServiceFields.ConfigHash(spec));
        Assert.Equal("1.0.0-" + expected[..10], ServiceFields.ReleaseId(spec));
    }

    [Fact]
    public void A_live_host_keyed_under_another_name_is_not_taken_for_converged()
    {
        var desired = Desired([Svc("api")]);
        var live = Applied(desired);
        var api = live.Services["api"];
        var release = api.ReleaseId;
        // Same number of entries and every group host's key present, but one entry names another host.
        var odd = api with { Hosts = api.Hosts.SetItem("app-0", new LiveHost("app-9", release, null)) };
        var plan = Planner.Plan(desired, live with { Services = live.Services.SetItem("api", odd) });
        var change = plan.Services.Single();
        Assert.Equal(ServiceAction.Redeploy, change.Action);
        Assert.Equal("hosts leaving group: app-9", change.Reason);
        Assert.Equal(ServiceAction.NoOp, Planner.Plan(desired, live).Services.Single().Action);
    }
}
