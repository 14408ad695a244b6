using System.Collections.Immutable;
using System.Diagnostics;
using Reconciler.Consul;
using Reconciler.Diff.Live;
using Reconciler.State;
using Reconciler.State.Consul;
using Reconciler.State.Sqlite;
using Reconciler.Engine.Tests.State;

// Usage: dotnet run -c Release --project bench/Reconciler.Bench.Stores [-- SERVICES HOSTS_PER_SERVICE]
// Measures what an apply costs in the state store: read an environment, CAS-write one service, append a journal entry,
// take and release the lock. Median of repeated runs, wall time, one process; prints a Markdown table.
var services = args.Length > 0 ? int.Parse(args[0]) : 500;
var hosts = args.Length > 1 ? int.Parse(args[1]) : 10;
var ct = CancellationToken.None;
var dir = Directory.CreateTempSubdirectory("reconciler-bench-stores-");
Console.WriteLine($"environment: {services} services x {hosts} hosts; {Environment.ProcessorCount} cores; {DateTime.UtcNow:yyyy-MM-dd}");
Console.WriteLine();
Console.WriteLine("| store | operation | median wall | p90 wall | CPU per op | n |");
Console.WriteLine("|---|---|---|---|---|---|");
try
{
    await using (var sqlite = new SqliteStateStore(Path.Combine(dir.FullName, "state.db"), TimeProvider.System))
        await Measure("sqlite", sqlite, batchLimit: services);
    await using var server = await ConsulTestServer.StartAsync(TimeProvider.System);
    await using (var consul = new ConsulStateStore(new ConsulClient(new ConsulClientOptions(server.Address)), "bench", TimeProvider.System))
        await Measure("consul (in-process server)", consul, batchLimit: ConsulClient.MaxTxnOperations - 1);
}
finally
{
    dir.Delete(recursive: true);
}

async Task Measure(string name, IStateStore store, int batchLimit)
{
    // Fill the environment in CAS batches (Consul: at most 63 services per atomic write).
    var version = 0L;
    var all = Enumerable.Range(0, services).Select(i => Service($"svc{i:D4}", "1.0.0")).ToList();
    var fill = Stopwatch.StartNew();
    var fillCpu = Process.GetCurrentProcess().TotalProcessorTime;
    foreach (var chunk in all.Chunk(batchLimit))
        version = await store.WriteAsync("prod", version, new StateChange([.. chunk], [], [], []), ct);
    Row(name, $"initial write of {services} services ({(services + batchLimit - 1) / batchLimit} CAS writes)",
        ([fill.Elapsed.TotalMilliseconds], (Process.GetCurrentProcess().TotalProcessorTime - fillCpu).TotalMilliseconds), "1");

    Row(name, $"read environment ({services} services)", await Times(20, async () => { await store.ReadAsync("prod", ct); }));
    var n = 0;
    Row(name, "CAS write of 1 service", await Times(100, async () =>
    {
        version = await store.WriteAsync("prod", version, new StateChange([Service("svc0000", $"1.0.{++n}")], [], [], []), ct);
    }));
    var step = 0;
    Row(name, "journal append", await Times(300, async () =>
    {
        step++;
        await store.AppendJournalAsync(new JournalEntry("prod", "apply-1", "c0ffee", $"w1/svc/host/h{step}/activate", JournalStatus.Started, DateTimeOffset.UtcNow, null), ct);
    }));
    Row(name, "read open journal (300 entries)", await Times(20, async () => { await store.ReadOpenJournalAsync("prod", ct); }));
    Row(name, "lock acquire + release", await Times(50, async () =>
    {
        await store.TryAcquireLockAsync("prod", "bench", "bench", TimeSpan.FromMinutes(1), ct);
        await store.ReleaseLockAsync("prod", "bench", false, ct);
    }));
}

// Wall times per run, plus the process CPU time per run (less sensitive to a busy machine than wall time).
static async Task<(double[] Wall, double Cpu)> Times(int count, Func<Task> op)
{
    for (var i = 0; i < Math.Min(5, count); i++) await op();   // warm-up
    var times = new double[count];
    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
    for (var i = 0; i < count; i++)
    {
        var sw = Stopwatch.StartNew();
        await op();
        times[i] = sw.Elapsed.TotalMilliseconds;
    }
    return (times, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / count);
}

static void Row(string store, string op, (double[] Wall, double Cpu) m, string? n = null)
{
    var ms = m.Wall;
    Array.Sort(ms);
    var median = ms[ms.Length / 2];
    var p90 = ms[Math.Min(ms.Length - 1, (int)(ms.Length * 0.9))];
    Console.WriteLine($"| {store} | {op} | {median:0.00} ms | {p90:0.00} ms | {m.Cpu:0.00} ms | {n ?? ms.Length.ToString()} |");
}

LiveService Service(string name, string version) => new(
    name, version, $"{name}-{version}-abc123", "cfg", "c0ffee", ["db"],
    Enumerable.Range(0, 20).ToImmutableSortedDictionary(i => $"config.KEY_{i:D2}", i => $"value-{i}", StringComparer.Ordinal),
    Enumerable.Range(0, hosts).ToImmutableSortedDictionary(i => $"host-{i:D3}", i => new LiveHost($"host-{i:D3}", $"{name}-{version}-abc123", $"{name}-0.9.0-def456"), StringComparer.Ordinal));
