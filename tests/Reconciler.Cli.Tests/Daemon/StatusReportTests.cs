using System.Collections.Immutable;
using System.Text.Json;
using Reconciler.Daemon;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Cli.Tests.Daemon;

public sealed class StatusReportTests
{
    private static readonly DateTimeOffset T0 = new(2026, 4, 1, 9, 0, 0, TimeSpan.Zero);

    private static ServiceSpec Spec(string name, string version)
    {
        var d = Desired.For("prod", "x").Repository.Defaults;
        return new ServiceSpec(name, true, version, new ArtifactSpec("artifacts/" + name + "-${version}.tgz", new string('a', 64)), [], "web",
            new DeploySpec(DriverKind.Local, "/srv/" + name, null, null, 5), d.Strategy, d.Health,
            ImmutableSortedDictionary<string, ConfigValue>.Empty, null, null);
    }

    private static LiveService Live(ServiceSpec spec, string commit, params LiveHost[] hosts) =>
        new(spec.Name, spec.Version, ServiceFields.ReleaseId(spec), ServiceFields.ConfigHash(spec), commit, [],
            ServiceFields.Flatten(spec), hosts.ToImmutableSortedDictionary(h => h.Host, h => h, StringComparer.Ordinal));

    private static (StatusReport Report, IReadOnlyList<HistoryEntry> History) Example()
    {
        var api = Spec("api", "1.5.0");
        var web = Spec("web", "2.0.0");
        var worker = Spec("worker", "0.9.0");
        var desired = Desired.For("prod", "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00") with
        {
            Services = new[] { api, web, Spec("billing", "1.0.0") }.ToImmutableSortedDictionary(s => s.Name, s => s, StringComparer.Ordinal),
        };
        var live = LiveState.Empty("prod") with
        {
            Version = 42,
            LastGoodCommit = "aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000",
            Services = new[]
            {
                Live(Spec("api", "1.4.2"), "aaaa0000aaaa0000", new LiveHost("web-1", "1.4.2-0123456789", "1.4.1-9876543210"), new LiveHost("web-2", "1.4.2-0123456789", null)),
                Live(web, "aaaa0000aaaa0000", new LiveHost("web-1", ServiceFields.ReleaseId(web), null)),
                Live(worker, "9999000099990000"),
            }.ToImmutableSortedDictionary(s => s.Name, s => s, StringComparer.Ordinal),
        };
        IReadOnlyList<HistoryEntry> history =
        [
            new("h2", "prod", "bbbb1111bbbb1111bbbb1111", "Dev <dev@example.com>", "daemon@deploy-1", T0.AddMinutes(10), T0.AddMinutes(11),
                ApplyResult.RolledBack, ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("api", "health gate failed on web-2; rolled back to 1.4.2")]),
                "health gate of api failed; commit bbbb1111bbbb quarantined. Revert it: reconciler revert bbbb1111bbbb"),
            new("h1", "prod", "aaaa0000aaaa0000aaaa0000", "Dev <dev@example.com>", "alice@laptop", T0, T0.AddSeconds(42),
                ApplyResult.Succeeded, ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("api", "upgraded 1.4.1 -> 1.4.2, healthy"), KeyValuePair.Create("web", "created 2.0.0, healthy")]),
                null),
        ];
        var report = StatusReports.Build(desired, live, history,
            [new QuarantinedCommit("bbbb1111bbbb1111bbbb1111", "health gate of api failed on web-2", T0.AddMinutes(11))],
            new LockInfo("prod", "daemon@deploy-1", "apply c0ffee00", T0.AddMinutes(20), T0.AddMinutes(25)),
            new FreezeInfo("quarter close", "bob", T0.AddMinutes(30)));
        return (report, history);
    }

    [Fact]
    public void Classifies_each_service_against_live()
    {
        var states = Example().Report.Services.ToDictionary(s => s.Service, s => s.State);
        Assert.Equal(new Dictionary<string, string> { ["api"] = "upgrade", ["billing"] = "not-deployed", ["web"] = "in-sync", ["worker"] = "to-remove" }, states);
    }

    [Fact]
    public void Text_view() => Golden.Match(global::Reconciler.Views.StatusView.RenderText(Example().Report), "status.txt");

    [Fact]
    public void Json_view() => Golden.Match(JsonSerializer.Serialize(Example().Report, ReconcilerJson.Options) + "\n", "status.json");

    [Fact]
    public void History_text_view() => Golden.Match(global::Reconciler.Views.StatusView.RenderHistoryText("prod", Example().History), "history.txt");
}
