using Reconciler.Execution;
using Reconciler.Views;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Reconciler.Execution;

/// <summary>Progress as plain lines (CI logs, pipes): one line per event, safe to call from several threads.</summary>
public sealed class PlainProgressView(TextWriter output) : IProgress<ApplyProgress>
{
    private readonly object _gate = new();

    public void Report(ApplyProgress p)
    {
        if (p.Gate is not null) return;   // a gate's rounds (every interval, per host): the live view and the daemon's page show them
        var line = Format(p);
        lock (_gate) output.WriteLine(line);
    }

    public static string Format(ApplyProgress p)
    {
        var where = p.Wave > 0 ? $"[wave {p.Wave}]" : "[apply]";
        var who = (p.Service, p.Host) switch
        {
            (null, null) => "",
            ({ } s, null) => $" {s}",
            (null, { } h) => $" {h}",
            ({ } s, { } h) => $" {s} {h}",
        };
        return who.Length == 0 ? $"{where} {p.Step} {p.Status}" : $"{where}{who}: {p.Step} {p.Status}";
    }
}

/// <summary>
/// Progress as a live table on a terminal (Spectre.Console): one row per service with its wave, batch, elapsed time and
/// state, and each host's state in words (its health gate as passes n/N, failures and time left). Events are folded
/// by <see cref="ApplyActivity"/>; <see cref="RunAsync"/> redraws until the apply ends, then prints the summary.
/// </summary>
public sealed class LiveProgressView(IAnsiConsole console, TimeProvider? time = null) : IProgress<ApplyProgress>
{
    private readonly ApplyActivity _activity = new(time ?? TimeProvider.System);

    public void Report(ApplyProgress p) => _activity.Report(p);

    public async Task<T> RunAsync<T>(Task<T> work)
    {
        T result = default!;
        await console.Live(Render()).AutoClear(false).StartAsync(async ctx =>
        {
            while (!work.IsCompleted)
            {
                ctx.UpdateTarget(Render());
                await Task.WhenAny(work, Task.Delay(150));
            }
            ctx.UpdateTarget(Render());
            result = await work;
        });
        return result;
    }

    /// <summary>After the apply: what changed, on how many hosts, and how long each wave took (<see cref="ApplySummary"/>).</summary>
    public void WriteSummary(ReconcileOutcome outcome)
    {
        foreach (var line in ApplySummary.Lines(_activity.Snapshot(), outcome)) console.WriteLine(line);
    }

    public IRenderable Render()
    {
        var now = _activity.Snapshot();
        var waves = string.Join("  ", now.Waves.Select(w => $"wave {w.Wave} {(w.Finished is null ? "running" : "took")} {ProgressWords.Duration(w.Elapsed(now.At))}"));
        var table = new Table().Border(TableBorder.Rounded)
            .Title(Markup.Escape($"{now.Headline} ({ProgressWords.Duration(now.At - now.Started)})"))
            .Caption(Markup.Escape(waves));
        table.AddColumn("wave");
        table.AddColumn("service");
        table.AddColumn("batch");
        table.AddColumn("time");
        table.AddColumn("state");
        table.AddColumn("hosts");
        foreach (var s in now.Services)
        {
            var hosts = string.Join("\n", s.Hosts.Values.Select(h => $"{h.Host}: {ProgressWords.Host(h, now.At)}"));
            table.AddRow(s.Wave.ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(s.Service),
                s.Batch?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "", ProgressWords.Duration(s.Elapsed(now.At)),
                Markup.Escape(s.State), Markup.Escape(hosts));
        }
        return table;
    }
}
