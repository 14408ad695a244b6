using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Engine.Tests.Git;
using Reconciler.Git;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.Toggles;
using Xunit;

namespace Reconciler.Engine.Tests.Toggles;

/// <summary>The toggle catalog over the example repo's toggles (fast-search: worker >=1.1.0, on in staging and
/// production; new-checkout: api >=1.5.0 and web >=2.1.0, on in staging only) and hand-made live states.</summary>
public sealed class ToggleCatalogTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
    private static readonly RepoModel Example =
        RepoLoader.Load(WorkingTreeSource.Open(Path.Combine(GitFixture.ProjectRoot(), "examples", "infra-repo"))).Model!;

    private static LiveService Service(string name, string version, params LiveHost[] hosts) =>
        new(name, version, $"{version}-0123456789", "hash", "c0", [], ImmutableSortedDictionary<string, string>.Empty,
            ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal,
                (hosts.Length == 0 ? [new LiveHost("h1", $"{version}-0123456789", null)] : hosts).Select(h => KeyValuePair.Create(h.Host, h))));

    private static EnvironmentRecords Env(string env, IEnumerable<LiveService> services, IEnumerable<LiveToggle> toggles, params HistoryEntry[] history) =>
        new(StateJson.BuildState(env, 1, services, toggles, null), history);

    private static LiveToggle On(string name, TimeSpan ago, string commit = "c1") => new(name, true, commit, Now - ago);

    private static readonly TimeSpan Days31 = TimeSpan.FromDays(31);

    private static Dictionary<string, EnvironmentRecords> Both(EnvironmentRecords production, EnvironmentRecords staging) =>
        new() { ["production"] = production, ["staging"] = staging };

    private static ToggleReport FastSearch(IReadOnlyDictionary<string, EnvironmentRecords> records, RepoModel? model = null, string? only = null) =>
        ToggleCatalog.Build(model ?? Example, records, Now, only).Toggles.Single(t => t.Toggle == "fast-search");

    [Fact]
    public void On_everywhere_longer_than_the_threshold_with_its_requirement_met_is_ready_to_remove()
    {
        var t = FastSearch(Both(
            Env("production", [Service("worker", "1.1.0")], [On("fast-search", Days31)]),
            Env("staging", [Service("worker", "1.2.0")], [On("fast-search", TimeSpan.FromDays(40))])));

        Assert.True(t.ReadyToRemove, string.Join("; ", t.NotReadyBecause));
        var production = t.Environments.Single(e => e.Environment == "production");
        Assert.Equal((true, true, "c1", Now - Days31), (production.Desired, production.Live, production.ChangedBy, production.ChangedAt));
        Assert.Equal(new RequirementStatus("worker", ">=1.1.0", "1.1.0", true, null), production.Requirements.Single());
    }

    public static TheoryData<string, EnvironmentRecords, string> NotReady => new()
    {
        { "on for too short", Env("production", [Service("worker", "1.1.0")], [On("fast-search", TimeSpan.FromDays(10))]),
            "on in production for 10d of the 30d required" },
        { "requirement not met", Env("production", [Service("worker", "1.0.3")], [On("fast-search", Days31)]),
            "worker 1.0.3 in production does not meet >=1.1.0" },
        { "required service not deployed", Env("production", [], [On("fast-search", Days31)]),
            "worker is not deployed in production (>=1.1.0 required)" },
        { "on in the repo, not applied", Env("production", [Service("worker", "1.1.0")], []),
            "on in the repo but not yet applied in production" },
        { "a host with an unknown release", Env("production",
                [Service("worker", "1.1.0", new LiveHost("h1", "1.1.0-0123456789", null), new LiveHost("h2", "1.1.0-0123456789", null, "connection dropped"))],
                [On("fast-search", Days31)]),
            "worker 1.1.0 in production does not meet >=1.1.0 (release unknown on h2)" },
        { "switch time unknown and not in history", Env("production", [Service("worker", "1.1.0")], [new LiveToggle("fast-search", true, "c1")]),
            "on in production, but when it was switched on is not recorded" },
    };

    [Theory]
    [MemberData(nameof(NotReady))]
    public void Not_ready_to_remove_and_says_why(string why, EnvironmentRecords production, string reason)
    {
        var t = FastSearch(Both(production, Env("staging", [Service("worker", "1.1.0")], [On("fast-search", Days31)])));
        Assert.False(t.ReadyToRemove, why);
        Assert.Equal([reason], t.NotReadyBecause.ToArray());
    }

    [Fact]
    public void Off_in_one_environment_is_not_ready_and_unmet_requirements_are_listed_per_environment()
    {
        var t = ToggleCatalog.Build(Example, Both(
            Env("production", [Service("api", "1.4.2"), Service("web", "2.1.0")], [new LiveToggle("new-checkout", false, "c0", Now - Days31)]),
            Env("staging", [Service("api", "1.5.0"), Service("web", "2.1.0")], [On("new-checkout", Days31)])), Now)
            .Toggles.Single(x => x.Toggle == "new-checkout");

        Assert.Equal(["off in production", "api 1.4.2 in production does not meet >=1.5.0"], t.NotReadyBecause.ToArray());
        Assert.Equal([false, true], t.Environments.Select(e => e.Requirements.Single(r => r.Service == "api").Met));
    }

    [Fact]
    public void A_toggle_written_before_switch_times_were_kept_takes_the_time_of_its_commits_first_successful_apply()
    {
        HistoryEntry Applied(string id, string commit, DateTimeOffset at, ApplyResult result) =>
            new(id, "production", commit, null, "ci", at.AddMinutes(-1), at, result, ImmutableSortedDictionary<string, string>.Empty, null);
        var production = Env("production", [Service("worker", "1.1.0")], [new LiveToggle("fast-search", true, "c1")],
            Applied("h3", "c1", Now - TimeSpan.FromDays(2), ApplyResult.Succeeded),        // history is newest first
            Applied("h2", "c1", Now - TimeSpan.FromDays(35), ApplyResult.Succeeded),
            Applied("h1", "c1", Now - TimeSpan.FromDays(36), ApplyResult.RolledBack));

        var t = FastSearch(Both(production, Env("staging", [Service("worker", "1.1.0")], [On("fast-search", Days31)])));

        Assert.Equal(Now - TimeSpan.FromDays(35), t.Environments.Single(e => e.Environment == "production").ChangedAt);
        Assert.True(t.ReadyToRemove, string.Join("; ", t.NotReadyBecause));
    }

    [Fact]
    public void The_threshold_comes_from_reconciler_yaml()
    {
        var records = Both(
            Env("production", [Service("worker", "1.1.0")], [On("fast-search", TimeSpan.FromDays(8))]),
            Env("staging", [Service("worker", "1.1.0")], [On("fast-search", TimeSpan.FromDays(8))]));
        var weekly = Example with { Repository = Example.Repository with { ToggleRemovableAfter = TimeSpan.FromDays(7) } };

        Assert.False(FastSearch(records).ReadyToRemove);
        Assert.True(FastSearch(records, weekly).ReadyToRemove);
        Assert.Equal(TimeSpan.FromDays(7), ToggleCatalog.Build(weekly, records, Now).RemovableAfter);
    }

    [Fact]
    public void Showing_one_environment_lists_its_rows_only_but_readiness_still_looks_at_every_environment()
    {
        var t = FastSearch(Both(
            Env("production", [Service("worker", "1.1.0")], [On("fast-search", TimeSpan.FromDays(1))]),
            Env("staging", [Service("worker", "1.1.0")], [On("fast-search", Days31)])), only: "staging");

        Assert.Equal(["staging"], t.Environments.Select(e => e.Environment));
        Assert.False(t.ReadyToRemove);
        Assert.Equal(["on in production for 1d of the 30d required"], t.NotReadyBecause.ToArray());
    }

    [Fact]
    public void A_toggle_gone_from_the_repo_but_still_in_live_state_is_listed_as_removed()
    {
        var t = ToggleCatalog.Build(Example, Both(
            Env("production", [], [new LiveToggle("old-banner", true, "c0", Now - Days31)]),
            Env("staging", [], [])), Now).Toggles.Single(x => x.Toggle == "old-banner");

        Assert.False(t.Defined);
        Assert.False(t.ReadyToRemove);
        Assert.Equal([true, null], t.Environments.Select(e => e.Live));
    }
}
