using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Xunit;
using static Reconciler.Diff.Tests.Planning.PlanFixtures;

namespace Reconciler.Diff.Tests.Planning;

/// <summary>
/// The planner's repair pass (issue 13) as a table: what the hosts reported (<see cref="ObservedState"/>) against a store
/// that shows everything converged, and the plan that follows: the waves in one line (<see cref="PlanFixtures.Summary"/>)
/// and each api host's repair ("host=kind", in rollout order).
/// </summary>
public class DriftRepairTableTests
{
    private static readonly DesiredState Base = Desired([Svc("api", "1.4.2"), Svc("db", "2.0.0", group: "db")]);
    private static readonly string ApiRelease = ServiceFields.ReleaseId(Base.Services["api"]);

    private static ObservedHost Api(string host, params DriftKind[] drift) =>
        new("api", host, ApiRelease, ApiRelease, drift.Contains(DriftKind.WrongCurrent) ? "1.4.1-0000000000" : ApiRelease,
            drift.Contains(DriftKind.Unhealthy) ? HostHealth.Unhealthy : drift.Contains(DriftKind.Unreachable) ? HostHealth.Unreachable : HostHealth.Healthy,
            [.. drift], drift.Length == 0 ? null : "as found");

    public static readonly Dictionary<string, (ObservedHost[] Hosts, Func<DesiredState, DesiredState>? Change, string Waves, string Repairs)> Cases = new()
    {
        ["no drift: no changes"] = ([Api("app-eu-1"), Api("app-0")], null, "no changes", ""),
        ["wrong current: re-switch"] = ([Api("app-eu-1", DriftKind.WrongCurrent)], null, "1:deploy[api=repair]", "app-eu-1=re-switch"),
        ["missing current: re-switch"] = ([Api("app-eu-1", DriftKind.MissingCurrent)], null, "1:deploy[api=repair]", "app-eu-1=re-switch"),
        ["missing release: re-stage"] = ([Api("app-us-1", DriftKind.MissingRelease, DriftKind.Unhealthy)], null, "1:deploy[api=repair]", "app-us-1=re-stage"),
        ["damaged release: re-stage"] = ([Api("app-us-1", DriftKind.DamagedRelease)], null, "1:deploy[api=repair]", "app-us-1=re-stage"),
        ["unknown (re-imaged) host: re-stage"] = ([Api("app-0", DriftKind.UnknownHost)], null, "1:deploy[api=repair]", "app-0=re-stage"),
        ["unhealthy only: restart"] = ([Api("app-0", DriftKind.Unhealthy)], null, "1:deploy[api=repair]", "app-0=restart"),
        ["wrong current and unhealthy: re-switch (the switch restarts too)"] =
            ([Api("app-0", DriftKind.WrongCurrent, DriftKind.Unhealthy)], null, "1:deploy[api=repair]", "app-0=re-switch"),
        ["unreachable only: nothing can be repaired"] = ([Api("app-0", DriftKind.Unreachable)], null, "no changes", ""),
        ["several hosts: each its own repair, in rollout order"] =
            ([Api("app-us-1", DriftKind.Unhealthy), Api("app-eu-1", DriftKind.MissingRelease), Api("app-0", DriftKind.WrongCurrent), Api("app-eu-2", DriftKind.Unreachable)],
             null, "1:deploy[api=repair]", "app-0=re-switch app-eu-1=re-stage app-us-1=restart"),
        ["a service with its own change is left to it (the upgrade re-lays every host)"] =
            ([Api("app-0", DriftKind.MissingCurrent)], d => d with { Services = d.Services.SetItem("api", d.Services["api"] with { Version = "1.5.0" }) },
             "1:deploy[api=upgrade]", ""),
        ["drift recorded against another release than the store's is not repaired"] =
            ([Api("app-0", DriftKind.MissingCurrent) with { RecordedRelease = "1.4.0-0000000000" }], null, "no changes", ""),
    };

    public static IEnumerable<object[]> Names => Cases.Keys.Select(k => new object[] { k });

    [Theory]
    [MemberData(nameof(Names))]
    public void Plans_each_drifted_host_as_its_own_repair(string name)
    {
        var (hosts, change, waves, repairs) = Cases[name];
        var desired = change is null ? Base : change(Base);
        var observed = new ObservedState(Env, DateTimeOffset.UnixEpoch, TimeSpan.Zero, [.. hosts]);
        var plan = Planner.Plan(desired, Applied(Base), new PlanOptions(Observed: observed));
        Assert.Equal(waves, Summary(plan));
        var api = plan.Services.Single(s => s.Service == "api");
        Assert.Equal(repairs, string.Join(" ", api.Hosts.Where(h => h.Repair is not null).Select(h => $"{h.Host}={DriftWords.Of(h.Repair!.Kind)}")));
        if (api.Action != ServiceAction.Repair) return;
        Assert.All(api.Hosts, h => Assert.Equal((ApiRelease, ApiRelease), (h.FromRelease, h.ToRelease)));
        Assert.All(api.Hosts, h => Assert.StartsWith(string.Join(", ", hosts.Single(o => o.Host == h.Host).Drift.Select(DriftWords.Of)), h.Repair!.Reason));
        Assert.StartsWith($"repair drift on {api.Hosts.Length} host", api.Reason);
        Assert.NotNull(api.Rollout);
        Assert.Equal(ServiceAction.NoOp, plan.Services.Single(s => s.Service == "db").Action);
    }

    [Fact]
    public void Without_an_observed_state_the_plan_is_the_stores_alone()
    {
        var observed = new ObservedState(Env, DateTimeOffset.UnixEpoch, TimeSpan.Zero, [Api("app-0", DriftKind.MissingCurrent)]);
        Assert.True(Planner.Plan(Base, Applied(Base), new PlanOptions(Observed: observed)).HasChanges);
        Assert.False(Planner.Plan(Base, Applied(Base)).HasChanges);
    }
}
