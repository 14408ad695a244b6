using System.Collections.Immutable;
using System.Text.Json;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Xunit;
using static Reconciler.Diff.Tests.Planning.PlanFixtures;

namespace Reconciler.Diff.Tests.Planning;

/// <summary>The planner's side of the converged memo: services the caller knows to be converged come in
/// (<see cref="PlanOptions.KnownConverged"/>), the converged set goes out (<see cref="Plan.ConvergedServices"/>), and the
/// keys a caller digests to recognise a service (<see cref="ConvergenceKeys"/>) change with every input of the decision.</summary>
public class KnownConvergedTests
{
    private static readonly ServiceSpec[] Services =
    [
        Svc("db"), Svc("api", "1.4.2", ["db"], config: [("LOG_LEVEL", "info"), ("DB_PASSWORD", "secret:env:DB")]),
        Svc("web", "2.0.0", ["api"]), Svc("worker", "0.3.0", ["db"], group: "db"),
    ];

    private static string Json(Plan plan) => JsonSerializer.Serialize(plan);

    /// <summary>Every live service handed over undecoded, as a store defers them; decodes are counted.</summary>
    private static LiveState Deferred(LiveState live, List<string> decoded) => live with
    {
        Services = live.Services.ToImmutableSortedDictionary(kv => kv.Key, kv => LiveService.Deferred(kv.Key, 1, () =>
        {
            lock (decoded) decoded.Add(kv.Key);
            return kv.Value;
        }), StringComparer.Ordinal),
    };

    [Fact]
    public void Known_converged_services_are_settled_without_reading_their_live_entries()
    {
        var desired = Desired(Services);
        var live = Applied(desired);
        var decoded = new List<string>();
        var known = desired.Services.Values.Where(s => s.Name != "web").ToDictionary(s => s.Name, ServiceFields.ReleaseId, StringComparer.Ordinal);

        var plan = Planner.Plan(desired, Deferred(live, decoded), new PlanOptions(KnownConverged: known));

        Assert.Equal(["web"], decoded);
        Assert.Equal(Json(Planner.Plan(desired, live)), Json(plan));
        Assert.Equal(["api", "db", "web", "worker"], plan.ConvergedServices().Select(s => s.Service));
    }

    [Fact]
    public void A_known_service_without_a_live_entry_is_still_created()
    {
        var desired = Desired(Services);
        var live = Applied(desired);
        live = live with { Services = live.Services.Remove("api") };
        var known = desired.Services.Values.ToDictionary(s => s.Name, ServiceFields.ReleaseId, StringComparer.Ordinal);

        var plan = Planner.Plan(desired, live, new PlanOptions(KnownConverged: known));

        Assert.Equal(ServiceAction.Create, plan.Services.Single(s => s.Service == "api").Action);
        Assert.Equal(["db", "web", "worker"], plan.ConvergedServices().Select(s => s.Service));
    }

    [Fact]
    public void The_converged_set_is_the_no_ops_with_their_releases()
    {
        var desired = Desired(Services);
        var live = Applied(Desired(Services.Select(s => s.Name == "web" ? Svc("web", "1.9.0", ["api"]) : s)));
        var plan = Planner.Plan(desired, live);
        Assert.Equal(["api", "db", "worker"], plan.ConvergedServices().Select(s => s.Service));
        Assert.All(plan.ConvergedServices(), s => Assert.Equal(live.Services[s.Service].ReleaseId, s.ToRelease));
    }

    private static UInt128 Hash(ReadOnlySpan<byte> key) =>
        System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(System.Security.Cryptography.SHA256.HashData(key));

    [Fact]
    public void A_spec_key_changes_with_any_field_and_is_absent_when_the_packing_does_not_fix_the_release()
    {
        var api = Services[1];
        Assert.Equal(ConvergenceKeys.Spec(api, Hash), ConvergenceKeys.Spec(api with { }, Hash));
        ServiceSpec[] changed =
        [
            api with { Name = "api2" }, api with { Version = "1.4.3" }, api with { HostGroup = "db" },
            api with { DependsOn = [] }, api with { Config = api.Config.SetItem("LOG_LEVEL", new ConfigValue.Literal("debug")) },
            api with { Deploy = api.Deploy with { RestartCommand = "./bin/other" } },
        ];
        Assert.Equal(changed.Length + 1, changed.Select(s => ConvergenceKeys.Spec(s, Hash)).Append(ConvergenceKeys.Spec(api, Hash)).Distinct().Count());

        // Config keys under another comparer: the release hashes them in that order, the packing in path order.
        var awkward = api with
        {
            Config = new Dictionary<string, ConfigValue> { ["b"] = new ConfigValue.Literal("1"), ["A"] = new ConfigValue.Literal("2") }
                .ToImmutableSortedDictionary(StringComparer.OrdinalIgnoreCase),
        };
        Assert.Null(ConvergenceKeys.Spec(awkward, Hash));
    }

    [Fact]
    public void A_host_group_key_changes_with_its_hosts_their_regions_and_the_region_order()
    {
        var groups = ConvergenceKeys.HostGroups(Environment(), Hash);
        Assert.Equal(["app", "db"], groups.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(groups["app"], ConvergenceKeys.HostGroups(Environment(), Hash)["app"]);
        Assert.NotEqual(groups["app"], groups["db"]);
        EnvironmentSpec[] changed =
        [
            Environment(null, Host("app-eu-2", "eu"), Host("app-us-1", "us"), Host("app-eu-1", "eu"), Host("app-0", null), Host("app-us-2", "us")),
            Environment(null, Host("app-eu-2", "us"), Host("app-us-1", "us"), Host("app-eu-1", "eu"), Host("app-0", null)),
            Environment(["us", "eu"]),
        ];
        foreach (var environment in changed)
        {
            var now = ConvergenceKeys.HostGroups(environment, Hash);
            Assert.NotEqual(groups["app"], now["app"]);
            Assert.Equal(groups["db"], now["db"]);
        }
    }

    [Fact]
    public void Changing_a_stored_service_drops_its_digest()
    {
        var live = Applied(Desired(Services)).Services["api"].FromStoredBytes(42);
        Assert.True(live.TryGetStoredDigest(out var digest));
        Assert.Equal((UInt128)42, digest);
        Assert.False((live with { Version = "9.9.9" }).TryGetStoredDigest(out _));
        Assert.False((live with { Hosts = live.Hosts.Clear() }).TryGetStoredDigest(out _));
        Assert.True((live with { }).TryGetStoredDigest(out _));

        var deferred = LiveService.Deferred("api", 7, () => live);
        Assert.Equal("1.4.2", deferred.Version);
        var changed = deferred with { Commit = "c2" };
        Assert.Equal(("c2", "1.4.2"), (changed.Commit, changed.Version));
        Assert.False(changed.TryGetStoredDigest(out _));
        Assert.Throws<InvalidDataException>(() => LiveService.Deferred("web", 7, () => live).Version);
    }
}
