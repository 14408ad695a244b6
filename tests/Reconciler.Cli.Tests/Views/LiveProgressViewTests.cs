using Microsoft.Extensions.Time.Testing;
using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.State;
using Reconciler.Testing;
using Reconciler.Views;
using Spectre.Console;
using Xunit;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Cli.Tests.Views;

/// <summary>The terminal's live progress in words, with elapsed times, gate passes and time left (fake time), and the
/// summary printed after it.</summary>
public sealed class LiveProgressViewTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 3, 9, 0, 0, TimeSpan.Zero);

    private static (IAnsiConsole Console, StringWriter Output) PlainConsole()
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 150;
        return (console, output);
    }

    /// <summary>db done in wave 1; api's canary switched and its gate checking, one host still staging.</summary>
    private static (LiveProgressView View, FakeTimeProvider Time, IAnsiConsole Console, StringWriter Output) GateWaiting()
    {
        var time = new FakeTimeProvider(T0);
        var (console, output) = PlainConsole();
        var view = new LiveProgressView(console, time);
        void At(int seconds, int wave, string? service, string? host, string step, string status, int? batch = null, GateProgress? gate = null)
        {
            time.SetUtcNow(T0 + TimeSpan.FromSeconds(seconds));
            view.Report(new ApplyProgress("prod", "c1", wave, service, host, step, status, batch, gate));
        }
        At(0, 0, null, null, "preflight", "passed: 2 artifact(s), 3 host(s)");
        At(1, 1, null, null, "wave", "started");
        At(1, 1, "db", null, "service", "started");
        At(2, 1, "db", "web-1", "activate", "finished", 1);
        At(9, 1, "db", null, "gate", "passed", 1);
        At(10, 1, "db", null, "service", "finished", 1);
        At(11, 1, null, null, "wave", "finished");
        At(11, 2, null, null, "wave", "started");
        At(11, 2, "api", null, "service", "started");
        At(13, 2, "api", "web-2", "stage", "started", 1);
        At(14, 2, "api", "web-1", "activate", "finished", 1);
        At(14, 2, "api", null, "gate", "waiting", 1);
        At(20, 2, "api", "web-1", "gate", "checking", 1, new GateProgress(1, 3, 0, 5, T0 + TimeSpan.FromSeconds(44), null));
        At(21, 2, "api", "web-3", "gate", "checking", 1, new GateProgress(0, 3, 2, 5, T0 + TimeSpan.FromSeconds(44), "http check: status 503"));
        time.SetUtcNow(T0 + TimeSpan.FromSeconds(22));
        return (view, time, console, output);
    }

    [Fact]
    public void The_live_table_shows_elapsed_times_batches_and_each_host_in_words_with_its_gate()
    {
        var (view, _, console, output) = GateWaiting();
        console.Write(view.Render());
        Golden.Match(output.ToString(), "live-progress-gate-waiting.txt");
    }

    [Fact]
    public void Time_left_counts_down_with_the_clock()
    {
        var (view, time, console, output) = GateWaiting();
        time.Advance(TimeSpan.FromSeconds(10));
        console.Write(view.Render());
        Assert.Contains("web-1: health checks: 1/3 passes, 0/5 failures, 12s left", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("wave 2 running 21s", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_summary_after_a_real_apply_says_what_changed_on_how_many_hosts_and_how_long_each_wave_took()
    {
        var w = new ExecutorWorld(hosts: 3);
        w.Deployed("c0", Service("db", "2.0.0"), Service("api", "1.4.2", dependsOn: ["db"]));
        var desired = w.Desired("c1", [Service("db", "2.1.0", Rolling(1)), Service("api", "1.5.0", Rolling(2), dependsOn: ["db"])]);
        var (console, output) = PlainConsole();
        var view = new LiveProgressView(console, w.Time);

        var outcome = await w.Drive(Task.Run(() => w.Reconciler().ReconcileAsync(w.Request(desired), view, CancellationToken.None)));
        view.WriteSummary(outcome);

        const string D = @"(\d+ms|\d+s|\d+m \d\ds|\d+h \d\dm)";   // a duration as ProgressWords writes it (fake time: how long varies)
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Matches($@"^Summary: c1 succeeded in {D}$", lines[0]);
        Assert.Matches($@"^wave 1 took {D}$", lines[1]);
        Assert.Matches($@"^db: version 2\.0\.0 -> 2\.1\.0, on 3 hosts, {D}$", lines[2]);
        Assert.Matches($@"^wave 2 took {D}$", lines[3]);
        Assert.Matches($@"^api: version 1\.4\.2 -> 1\.5\.0, on 3 hosts, {D}$", lines[4]);
        Assert.Equal(5, lines.Length);
    }

    [Fact]
    public void The_summary_of_a_failed_apply_names_what_did_not_finish()
    {
        var (view, _, console, output) = GateWaiting();
        var plan = new Plan(1, "prod", "c1", null, 1, [
            new ServiceChange("api", ServiceAction.Upgrade, "version 1.4.2 -> 1.5.0", "1.4.2", "1.5.0", null, null, "web", [], [], 2),
            new ServiceChange("db", ServiceAction.Upgrade, "version 2.0.0 -> 2.1.0", "2.0.0", "2.1.0", null, null, "web", [], [], 1),
        ], [], []);
        view.WriteSummary(new ReconcileOutcome(ApplyResult.RolledBack, plan, "api: health gate failed", FailureKind.CommitFault));
        Golden.Match(output.ToString(), "apply-summary-rolled-back.txt");
    }
}
