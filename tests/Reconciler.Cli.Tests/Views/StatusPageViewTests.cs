using System.Collections.Immutable;
using Reconciler.Daemon;
using Reconciler.Diff.Live;
using Reconciler.Execution;
using Reconciler.State;
using Reconciler.Testing;
using Reconciler.Views;
using Xunit;

namespace Reconciler.Cli.Tests.Views;

/// <summary>The daemon's status page as HTML (golden files), built from status records as the daemon and its store give
/// them; data that looks like markup is escaped everywhere.</summary>
public sealed class StatusPageViewTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
    private const string Hostile = "<script>alert('x')</script> & \"quoted\"";

    private static DateTimeOffset Ago(int seconds) => Now - TimeSpan.FromSeconds(seconds);

    internal static ApplySnapshot GateWaiting() =>
        new(Ago(40), Now, "wave 2: wave started",
            [new WaveActivity(1, Ago(38), Ago(20)), new WaveActivity(2, Ago(20), null)],
            [
                new ServiceActivity("db", 1, 2, "service finished", Ago(38), Ago(21),
                    ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [
                        KeyValuePair.Create("web-1", new HostActivity("web-1", "gate", "passed", new GateProgress(2, 2, 0, null, Ago(-20), null), Ago(30))),
                        KeyValuePair.Create("web-2", new HostActivity("web-2", "gate", "passed", new GateProgress(2, 2, 0, null, Ago(-25), null), Ago(22))),
                    ]), 2),
                new ServiceActivity("api", 2, 1, "gate waiting", Ago(19), null,
                    ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [
                        KeyValuePair.Create("web-1", new HostActivity("web-1", "gate", "checking",
                            new GateProgress(0, 3, 4, 10, Now + TimeSpan.FromSeconds(12), "http check: status 503 " + Hostile), Ago(4))),
                        KeyValuePair.Create("web-2", new HostActivity("web-2", "stage", "finished", null, Ago(15))),
                    ]), 1),
            ]);

    private static StatusReport Recorded(FreezeInfo? freeze) =>
        new("prod", "bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222", "aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111", 7, null, freeze, [], null,
        [
            new ServiceStatus("api", "1.5.0", "1.4.2", "upgrade", "aaaa1111",
                [new LiveHost("web-1", "1.4.2-bc270faebd", "1.4.1-0011223344"), new LiveHost("web-2", "1.4.2-bc270faebd", null, "the switch ended without a known outcome")], "passed"),
            new ServiceStatus("db", "2.1.0", "2.1.0", "in-sync", "aaaa1111", [new LiveHost("web-1", "2.1.0-a6268644e9", null)], "passed"),
        ]);

    private static ImmutableArray<HistoryEntry> History() =>
    [
        new("h2", "prod", "cccc3333cccc3333cccc3333cccc3333cccc3333", "dev@example.com", "daemon@ci", Ago(300), Ago(260), ApplyResult.RolledBack,
            ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("api", "rolled back " + Hostile)]), "health gate failed"),
        new("h1", "prod", "aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111", null, "daemon@ci", Ago(3600), Ago(3540), ApplyResult.Succeeded,
            ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("api", "upgraded 1.4.1 -> 1.4.2")]), null),
    ];

    private static EnvironmentStatus Env(string name, InFlightStatus? inFlight, ObservedState? live = null) =>
        new(name, "bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222", Ago(3), null,
            new LastResult("cccc3333cccc3333cccc3333cccc3333cccc3333", "rolled-back", FailureKind.CommitFault,
                "api: health gate failed after batch 1: web-1: not healthy within 30s; reverted. " + Hostile, Ago(300), Ago(260)),
            inFlight,
            [new QuarantineStatus("cccc3333cccc3333cccc3333cccc3333cccc3333", "health gate failed: " + Hostile, Ago(260))],
            new LockStatus("daemon@ci", "apply bbbb2222", Ago(40), Now + TimeSpan.FromMinutes(2)),
            null, Live: live);

    [Fact]
    public void An_environment_with_an_apply_waiting_on_its_gate_a_freeze_and_recorded_hosts()
    {
        var page = new StatusPage(Now, [new EnvironmentPage(
            Env("prod", new InFlightStatus("bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222", Ago(40), 31, null, GateWaiting())),
            Recorded(new FreezeInfo("release freeze " + Hostile, "ops@example.com", Ago(7200))), History(), null)]);

        var html = StatusPageView.Render(page);

        Golden.Match(html, "status-page-in-flight.html");
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;", html, StringComparison.Ordinal);
        Assert.Contains("health checks: 0/3 passes, 4/10 failures, 12s left", html, StringComparison.Ordinal);
    }

    [Fact]
    public void An_environment_with_a_live_look_shows_desired_recorded_and_actual_per_host_with_drift()
    {
        var live = new ObservedState("prod", Ago(10), TimeSpan.FromMilliseconds(850),
        [
            new ObservedHost("api", "web-1", "1.5.0-ffee", "1.5.0-ffee", "1.5.0-ffee", HostHealth.Healthy, [], null),
            new ObservedHost("api", "web-2", "1.5.0-ffee", "1.5.0-ffee", "1.4.2-bc270faebd", HostHealth.Healthy, [DriftKind.WrongCurrent],
                "current points at 1.4.2-bc270faebd " + Hostile),
            new ObservedHost("api", "web-3", "1.5.0-ffee", "1.5.0-ffee", null, HostHealth.Unreachable, [DriftKind.Unreachable], "connection refused"),
        ]);
        var page = new StatusPage(Now, [new EnvironmentPage(Env("prod", null, live), Recorded(null), History(), null)]);

        var html = StatusPageView.Render(page);

        Golden.Match(html, "status-page-drift.html");
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("2 of 3 host(s) drifted", html, StringComparison.Ordinal);
    }

    [Fact]
    public void A_page_without_the_store_says_what_it_does_not_know()
    {
        var page = new StatusPage(Now, [new EnvironmentPage(
            new EnvironmentStatus("staging", null, null, "fetching failed: " + Hostile, null, null, [], null, "store down"), null, [], "store down")]);

        var html = StatusPageView.Render(page);

        Golden.Match(html, "status-page-empty.html");
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
    }
}
