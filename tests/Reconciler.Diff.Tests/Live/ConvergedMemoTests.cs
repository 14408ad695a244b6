using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Xunit;
using static Reconciler.Diff.Tests.Planning.PlanFixtures;

namespace Reconciler.Diff.Tests.Live;

/// <summary>A converged memo saves work and never changes a plan: each test plans with and without one.</summary>
public class ConvergedMemoTests
{
    /// <summary>The live state as a store reader hands it over with a memo: every service marked with the digest of
    /// its "stored bytes" (here its JSON), and those the memo may show converged left undecoded.</summary>
    private static LiveState AsRead(LiveState live, ConvergedMemo memo, List<string>? decoded = null) => live with
    {
        Services = live.Services.ToImmutableSortedDictionary(kv => kv.Key, kv =>
        {
            var digest = memo.Digest(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(kv.Value)));
            return memo.MayMatch(kv.Key, digest)
                ? LiveService.Deferred(kv.Key, digest, () =>
                {
                    lock (decoded ?? []) decoded?.Add(kv.Key);
                    return kv.Value;
                })
                : kv.Value.FromStoredBytes(digest);
        }, StringComparer.Ordinal),
    };

    private static string Json(Plan plan) => JsonSerializer.Serialize(plan);

    /// <summary>Plans <paramref name="desired"/> against <paramref name="live"/> with a memo of what a plan of
    /// <paramref name="before"/> found converged, and checks the plan is the one made without a memo.</summary>
    private static (Plan Plan, ConvergedMemo Memo, List<string> Decoded) PlanWithMemoOf(DesiredState before, LiveState beforeLive, DesiredState desired, LiveState live)
    {
        var first = ConvergedMemo.Create();
        Planner.Plan(before, AsRead(beforeLive, first), new PlanOptions(Memo: first));
        var memo = new ConvergedMemo(first.Seed, first.Found);
        var decoded = new List<string>();
        var plan = Planner.Plan(desired, AsRead(live, memo, decoded), new PlanOptions(Memo: memo));
        Assert.Equal(Json(Planner.Plan(desired, live)), Json(plan));
        return (plan, memo, decoded);
    }

    private static readonly ServiceSpec[] Services =
    [
        Svc("db"), Svc("api", "1.4.2", ["db"], config: [("LOG_LEVEL", "info"), ("DB_PASSWORD", "secret:env:DB")]),
        Svc("web", "2.0.0", ["api"]), Svc("worker", "0.3.0", ["db"], group: "db"),
    ];

    [Fact]
    public void A_converged_service_is_settled_by_the_memo_without_decoding_its_stored_entry()
    {
        var desired = Desired(Services);
        var (plan, memo, decoded) = PlanWithMemoOf(desired, Applied(desired), desired, Applied(desired));

        Assert.All(plan.Services, s => Assert.Equal(ServiceAction.NoOp, s.Action));
        Assert.Equal(4, memo.Hits);
        Assert.Empty(decoded);
        Assert.Equal(["api", "db", "web", "worker"], memo.Found.Select(e => e.Service));
    }

    [Fact]
    public void A_changed_spec_stored_entry_or_host_group_is_never_taken_from_the_memo()
    {
        var desired = Desired(Services);
        var live = Applied(desired);

        // The spec changed (one config value): the memo entry of api no longer matches.
        var changedSpec = Desired(Services.Select(s => s.Name == "api" ? Svc("api", "1.4.2", ["db"], config: [("LOG_LEVEL", "debug"), ("DB_PASSWORD", "secret:env:DB")]) : s));
        var (plan, memo, decoded) = PlanWithMemoOf(desired, live, changedSpec, live);
        Assert.Equal(ServiceAction.Reconfigure, plan.Services.Single(s => s.Service == "api").Action);
        Assert.Equal(3, memo.Hits);
        Assert.Equal(["api"], decoded);
        Assert.DoesNotContain(memo.Found, e => e.Service == "api");

        // The stored entry changed (a host drifted to another release): different bytes, no match.
        var api = live.Services["api"];
        var drifted = live with { Services = live.Services.SetItem("api", api with { Hosts = api.Hosts.SetItem("app-0", new LiveHost("app-0", "other", null)) }) };
        (plan, memo, _) = PlanWithMemoOf(desired, live, desired, drifted);
        Assert.Equal(ServiceAction.Redeploy, plan.Services.Single(s => s.Service == "api").Action);
        Assert.Equal(3, memo.Hits);

        // The host group changed (a host joined): every service of the group is classified again.
        var bigger = Desired(Services, environment: Environment(null, Host("app-eu-2", "eu"), Host("app-us-1", "us"), Host("app-eu-1", "eu"), Host("app-0", null), Host("app-us-2", "us")));
        (plan, memo, _) = PlanWithMemoOf(desired, live, bigger, live);
        Assert.Equal(["api", "db", "web"], plan.Services.Where(s => s.Action == ServiceAction.Redeploy).Select(s => s.Service).Order(StringComparer.Ordinal));
        Assert.Equal(1, memo.Hits);   // worker, in the db group

        // Region order changes the rollout order: the group's digest changes with it.
        var reordered = Desired(Services, environment: Environment(["us", "eu"]));
        (_, memo, _) = PlanWithMemoOf(desired, live, reordered, live);
        Assert.Equal(1, memo.Hits);
    }

    [Fact]
    public void A_memo_of_another_seed_or_a_live_state_not_read_from_a_store_settles_nothing()
    {
        var desired = Desired(Services);
        var live = Applied(desired);
        var first = ConvergedMemo.Create();
        Planner.Plan(desired, AsRead(live, first), new PlanOptions(Memo: first));

        var otherSeed = new ConvergedMemo(first.Seed + 1, first.Found);
        Assert.Equal(Json(Planner.Plan(desired, live)), Json(Planner.Plan(desired, AsRead(live, otherSeed), new PlanOptions(Memo: otherSeed))));
        Assert.Equal(0, otherSeed.Hits);

        var notStored = new ConvergedMemo(first.Seed, first.Found);
        Planner.Plan(desired, live, new PlanOptions(Memo: notStored));
        Assert.Equal(0, notStored.Hits);
        Assert.Empty(notStored.Found);
    }

    [Fact]
    public void A_spec_whose_release_its_packing_does_not_fix_is_never_memoised()
    {
        // Config keys under another comparer: the release hashes them in that order, the packing in path order.
        var awkward = Svc("api", config: [("b", "1"), ("A", "2")]) with
        {
            Config = new Dictionary<string, ConfigValue> { ["b"] = new ConfigValue.Literal("1"), ["A"] = new ConfigValue.Literal("2") }
                .ToImmutableSortedDictionary(StringComparer.OrdinalIgnoreCase),
        };
        var desired = Desired([awkward, Svc("web")]);
        var (plan, memo, _) = PlanWithMemoOf(desired, Applied(desired), desired, Applied(desired));
        Assert.All(plan.Services, s => Assert.Equal(ServiceAction.NoOp, s.Action));
        Assert.Equal(["web"], memo.Found.Select(e => e.Service));
        Assert.Equal(1, memo.Hits);
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

    /// <summary>Random repos, random edits of desired and live between two plans: the plan with the first plan's
    /// memo is always the plan without one.</summary>
    [Fact]
    public void Plans_with_and_without_a_memo_agree_on_random_edits()
    {
        var random = new Random(20261122);
        var hits = 0;
        for (var round = 0; round < 200; round++)
        {
            var services = Enumerable.Range(0, random.Next(1, 12)).Select(i => RandomService(random, i)).ToList();
            var desired = Desired(services);
            var live = Applied(desired);
            var nextServices = services.Select(s => random.Next(4) == 0 ? RandomService(random, int.Parse(s.Name[1..]), s.DependsOn) : s)
                .Where(_ => random.Next(10) != 0).ToList();
            var next = Desired(nextServices, environment: random.Next(6) == 0 ? Environment(["us", "eu"]) : null);
            var nextLive = live with
            {
                Services = live.Services.ToImmutableSortedDictionary(kv => kv.Key, kv => random.Next(6) == 0
                    ? kv.Value with { Hosts = kv.Value.Hosts.Remove(kv.Value.Hosts.Keys.First()) }
                    : kv.Value, StringComparer.Ordinal),
            };
            Plan? plan = null;
            try
            {
                (plan, var memo, _) = PlanWithMemoOf(desired, live, next, nextLive);
                hits += memo.Hits;
            }
            catch (PlanningException)
            {
                // A plan that cannot be ordered fails the same way without a memo (checked here).
                Assert.Throws<PlanningException>(() => Planner.Plan(next, nextLive));
            }
            _ = plan;
        }
        Assert.True(hits > 200, $"the memo settled only {hits} services in 200 rounds");
    }

    private static ServiceSpec RandomService(Random random, int index, ImmutableArray<string>? dependsOn = null)
    {
        var deps = dependsOn?.ToArray() ?? [.. Enumerable.Range(0, index).Where(_ => random.Next(4) == 0).Select(i => $"s{i}")];
        var config = Enumerable.Range(0, random.Next(0, 4)).Select(i => ($"K{i}", random.Next(3) == 0 ? $"secret:env:S{i}" : random.Next(3).ToString())).ToArray();
        return Svc($"s{index}", $"1.{random.Next(3)}.0", deps, random.Next(3) == 0 ? "db" : "app", config);
    }
}
