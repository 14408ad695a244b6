using System.Collections.Concurrent;
using Reconciler.Execution;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Reconciler.Execution;

/// <summary>Progress as plain lines (CI logs, pipes): one line per event, safe to call from several threads.</summary>
public sealed class PlainProgressView(TextWriter output) : IProgress<ApplyProgress>
{
    private readonly object _gate = new();

    public void Report(ApplyProgress p)
    {
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
/// Progress as a live table on a terminal (Spectre.Console): one row per service with its wave, state and the
/// last step of each host. Events are folded into a snapshot; <see cref="RunAsync"/> redraws it until the apply ends.
/// </summary>
public sealed class LiveProgressView(IAnsiConsole console) : IProgress<ApplyProgress>
{
    private sealed record Row(int Wave, string State, ConcurrentDictionary<string, string> Hosts);

    private readonly ConcurrentDictionary<string, Row> _services = new(StringComparer.Ordinal);
    private volatile string _headline = "starting";

    public void Report(ApplyProgress p)
    {
        if (p.Service is null)
        {
            _headline = p.Wave > 0 ? $"wave {p.Wave}: {p.Step} {p.Status}" : $"{p.Step} {p.Status}";
            return;
        }
        var row = _services.GetOrAdd(p.Service, _ => new Row(p.Wave, "waiting", new ConcurrentDictionary<string, string>(StringComparer.Ordinal)));
        if (p.Host is { } host) row.Hosts[host] = $"{p.Step} {p.Status}";
        else _services[p.Service] = row with { Wave = p.Wave > 0 ? p.Wave : row.Wave, State = $"{p.Step} {p.Status}" };
    }

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

    private IRenderable Render()
    {
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(_headline));
        table.AddColumn("wave");
        table.AddColumn("service");
        table.AddColumn("state");
        table.AddColumn("hosts");
        foreach (var (name, row) in _services.OrderBy(s => s.Value.Wave).ThenBy(s => s.Key, StringComparer.Ordinal))
        {
            var hosts = string.Join("\n", row.Hosts.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => $"{h.Key}: {h.Value}"));
            table.AddRow(row.Wave.ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(name),
                Markup.Escape(row.State), Markup.Escape(hosts));
        }
        return table;
    }
}
