using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.State;
using Xunit;
using static Reconciler.Diff.Tests.Planning.PlanFixtures;

namespace Reconciler.Engine.Tests.State;

/// <summary>A converged memo saves work and never changes a plan: each test plans with and without one. And the planner
/// never decodes a stored service: the read defers only services the plan is told are converged.</summary>
public class ConvergedMemoTests
{
    /// <summary>The live state as a store reader hands it over with a memo of deferrable entries: every service marked
    /// with the digest of its "stored bytes" (here its JSON), and those an entry lists left undecoded. Names the deferred
    /// services, and counts the decodes of a deferred one (which the planner must never need).</summary>
    private static LiveState AsRead(LiveState live, ConvergedMemo deferrable, List<string> deferred, List<string> decoded) => live with
    {
        Services = live.Services.ToImmutableSortedDictionary(kv => kv.Key, kv =>
        {
            var digest = deferrable.Digest(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(kv.Value)));
            if (!deferrable.MayMatch(kv.Key, digest)) return kv.Value.FromStoredBytes(digest);
            deferred.Add(kv.Key);
            return LiveService.Deferred(kv.Key, digest, () =>
            {
                lock (decoded) decoded.Add(kv.Key);
                return kv.Value;
            });
        }, StringComparer.Ordinal),
    };

    private static string Json(Plan plan) => JsonSerializer.Serialize(plan);

    /// <summary>One plan with a memo, as the plan use case makes it: match, read, plan, record.</summary>
    private sealed record MemoPlan(Plan Plan, ConvergedMemo Next, int Settled, List<string> Deferred);

    private static MemoPlan PlanWith(ConvergedMemo memo, DesiredState desired, LiveState live)
    {
        var match = ConvergedMemoMatch.Start(memo, desired, maxDegreeOfParallelism: 2);
        var (deferred, decoded) = (new List<string>(), new List<string>());
        var read = AsRead(live, match.Deferrable, deferred, decoded);
        var known = match.KnownConverged(read);
        var plan = Planner.Plan(desired, read, new PlanOptions(KnownConverged: known));
        Assert.Empty(decoded);                                       // the planner read no deferred service
        Assert.Equal(deferred.Order(StringComparer.Ordinal), known.Keys.Order(StringComparer.Ordinal));   // every deferred one was settled
        return new MemoPlan(plan, match.Record(read, plan), known.Count, deferred);
    }

    /// <summary>Plans <paramref name="desired"/> against <paramref name="live"/> with a memo of what a plan of
    /// <paramref name="before"/> found converged, and checks the plan is the one made without a memo.</summary>
    private static MemoPlan PlanWithMemoOf(DesiredState before, LiveState beforeLive, DesiredState desired, LiveState live)
    {
        var first = PlanWith(ConvergedMemo.Create(), before, beforeLive);
        var second = PlanWith(first.Next, desired, live);
        Assert.Equal(Json(Planner.Plan(desired, live)), Json(second.Plan));
        return second;
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
        var second = PlanWithMemoOf(desired, Applied(desired), desired, Applied(desired));

        Assert.All(second.Plan.Services, s => Assert.Equal(ServiceAction.NoOp, s.Action));
        Assert.Equal(4, second.Settled);
        Assert.Equal(["api", "db", "web", "worker"], second.Deferred);
        Assert.Equal(["api", "db", "web", "worker"], second.Next.Entries.Select(e => e.Service));
    }

    [Fact]
    public void A_changed_spec_stored_entry_or_host_group_is_never_taken_from_the_memo()
    {
        var desired = Desired(Services);
        var live = Applied(desired);

        // The spec changed (one config value): the memo entry of api no longer matches, so the read decodes api.
        var changedSpec = Desired(Services.Select(s => s.Name == "api" ? Svc("api", "1.4.2", ["db"], config: [("LOG_LEVEL", "debug"), ("DB_PASSWORD", "secret:env:DB")]) : s));
        var second = PlanWithMemoOf(desired, live, changedSpec, live);
        Assert.Equal(ServiceAction.Reconfigure, second.Plan.Services.Single(s => s.Service == "api").Action);
        Assert.Equal(3, second.Settled);
        Assert.Equal(["db", "web", "worker"], second.Deferred);
        Assert.DoesNotContain(second.Next.Entries, e => e.Service == "api");

        // The stored entry changed (a host drifted to another release): different bytes, no match.
        var api = live.Services["api"];
        var drifted = live with { Services = live.Services.SetItem("api", api with { Hosts = api.Hosts.SetItem("app-0", new LiveHost("app-0", "other", null)) }) };
        second = PlanWithMemoOf(desired, live, desired, drifted);
        Assert.Equal(ServiceAction.Redeploy, second.Plan.Services.Single(s => s.Service == "api").Action);
        Assert.Equal(3, second.Settled);
        Assert.Equal(["db", "web", "worker"], second.Deferred);

        // The host group changed (a host joined): every service of the group is classified again.
        var bigger = Desired(Services, environment: Environment(null, Host("app-eu-2", "eu"), Host("app-us-1", "us"), Host("app-eu-1", "eu"), Host("app-0", null), Host("app-us-2", "us")));
        second = PlanWithMemoOf(desired, live, bigger, live);
        Assert.Equal(["api", "db", "web"], second.Plan.Services.Where(s => s.Action == ServiceAction.Redeploy).Select(s => s.Service).Order(StringComparer.Ordinal));
        Assert.Equal(1, second.Settled);   // worker, in the db group

        // Region order changes the rollout order: the group's digest changes with it.
        var reordered = Desired(Services, environment: Environment(["us", "eu"]));
        second = PlanWithMemoOf(desired, live, reordered, live);
        Assert.Equal(1, second.Settled);
    }

    [Fact]
    public void A_memo_of_another_seed_or_a_live_state_not_read_from_a_store_settles_nothing()
    {
        var desired = Desired(Services);
        var live = Applied(desired);
        var first = PlanWith(ConvergedMemo.Create(), desired, live).Next;
        Assert.Equal(4, first.Count);

        var otherSeed = PlanWith(new ConvergedMemo(first.Seed + 1, first.Entries), desired, live);
        Assert.Equal(Json(Planner.Plan(desired, live)), Json(otherSeed.Plan));
        Assert.Equal(0, otherSeed.Settled);
        Assert.Empty(otherSeed.Deferred);

        // Live state that was not read from a store has no stored digests: nothing is known, nothing is recorded.
        var notStored = ConvergedMemoMatch.Start(new ConvergedMemo(first.Seed, first.Entries), desired, 1);
        Assert.Equal(4, notStored.Deferrable.Count);
        var known = notStored.KnownConverged(live);
        Assert.Empty(known);
        Assert.Equal(0, notStored.Record(live, Planner.Plan(desired, live, new PlanOptions(KnownConverged: known))).Count);
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
        var second = PlanWithMemoOf(desired, Applied(desired), desired, Applied(desired));
        Assert.All(second.Plan.Services, s => Assert.Equal(ServiceAction.NoOp, s.Action));
        Assert.Equal(["web"], second.Next.Entries.Select(e => e.Service));
        Assert.Equal(1, second.Settled);
    }

    [Fact]
    public void Many_services_are_matched_and_recorded_in_parallel_as_on_one_thread()
    {
        var services = Enumerable.Range(0, 1500).Select(i => Svc($"s{i:D4}", $"1.{i % 7}.0", group: i % 3 == 0 ? "db" : "app")).ToList();
        var desired = Desired(services);
        var live = Applied(desired);
        var first = PlanWith(ConvergedMemo.Create(), desired, live).Next;
        Assert.Equal(1500, first.Count);
        var next = Desired(services.Select((s, i) => i % 100 == 0 ? s with { Version = "9.9.9" } : s));

        var parallel = ConvergedMemoMatch.Start(first, next, maxDegreeOfParallelism: 4);
        var sequential = ConvergedMemoMatch.Start(first, next, maxDegreeOfParallelism: 1);
        Assert.Equal(1485, parallel.Deferrable.Count);
        Assert.Equal(sequential.Deferrable.Entries, parallel.Deferrable.Entries);
        var plan = Planner.Plan(next, live);
        Assert.Equal(sequential.Record(live, plan).Entries, parallel.Record(live, plan).Entries);
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
            try
            {
                hits += PlanWithMemoOf(desired, live, next, nextLive).Settled;
            }
            catch (PlanningException)
            {
                // A plan that cannot be ordered fails the same way without a memo (checked here).
                Assert.Throws<PlanningException>(() => Planner.Plan(next, nextLive));
            }
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
