// A simulated fleet (issue 17, "Scale"): 10,000 hosts in 3 regions, 20 services, through the real planner, the real
// executor (ReconcileService: lock, preflight, journal, batches, health gates, compare-and-set state writes) and the
// real SQLite store, with a driver and a probe that answer at once and fake time (FakeTimeProvider). What it measures
// is the engine's own cost; what the network costs is bench/ssh's.
//
// Usage: Reconciler.Bench.FleetSim.dll plan|apply [hosts=10000] [services=20] [rounds=3]
//   plan:  read live state from SQLite and plan the fleet's upgrade of every service, ROUNDS times; peak memory of the process.
//   apply: ROUNDS applies, each upgrading every service on every host; CPU per host deployment.
// Each mode runs in its own process, so the peak memory it reports is its own.
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Time.Testing;
using Reconciler;
using Reconciler.Bench.FleetSim;
using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.State;
using Reconciler.State.Sqlite;

var mode = args.Length > 0 ? args[0] : "apply";
int Arg(int i, int fallback) => args.Length > i ? int.Parse(args[i], CultureInfo.InvariantCulture) : fallback;
var fleet = new SimulatedFleet(hosts: Arg(1, 10_000), services: Arg(2, 20));
var rounds = Arg(3, 3);
var dir = Directory.CreateTempSubdirectory("reconciler-fleet-sim-").FullName;
try
{
    var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero));
    var store = new SqliteStateStore(Path.Combine(dir, "state.db"), time);
    await store.WriteAsync(SimulatedFleet.Environment, 0, fleet.Deployed("1.0.0"), CancellationToken.None);
    var options = new PlanOptions(MaxDegreeOfParallelism: CoreParallelism.Workers);
    Console.WriteLine($"fleet: {fleet.HostCount:N0} hosts in {SimulatedFleet.Regions.Length} regions, {fleet.ServiceCount} services, " +
                      $"{fleet.Deployments:N0} host deployments per upgrade; {Environment.ProcessorCount} cores");
    for (var round = 1; round <= rounds; round++)
    {
        var desired = fleet.Desired($"1.{round}.0", $"c{round}");
        GC.Collect();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var (gen0, gen1, gen2, paused) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration());
        var sw = Stopwatch.StartNew();
        string line;
        if (mode == "plan")
        {
            var live = await store.ReadAsync(SimulatedFleet.Environment, CancellationToken.None);
            var read = sw.Elapsed;
            var plan = Planner.Plan(desired, live, options);
            var hosts = plan.Services.Sum(s => s.Hosts.Length);
            if (hosts != fleet.Deployments) throw new InvalidOperationException($"the plan changes {hosts} host deployments, expected {fleet.Deployments}");
            line = $"plan (store read {read.TotalSeconds:0.000} s + planner), {plan.Waves.Length} waves";
        }
        else
        {
            var driver = new InstantHostDriver();
            var deps = new ExecutorDependencies(store, _ => driver, new InstantProbe(), new NoFetch(), new NoSecrets(), time);
            var outcome = await new ReconcileService(deps, (d, l) => Planner.Plan(d, l, options))
                .ReconcileAsync(new ReconcileRequest(desired, "bench@fleet-sim", null, null), null, CancellationToken.None);
            if (outcome.Result != ApplyResult.Succeeded) throw new InvalidOperationException(outcome.Message);
            if (driver.Activations != fleet.Deployments || driver.Stages != fleet.Deployments)
                throw new InvalidOperationException($"{driver.Stages} stages and {driver.Activations} activations, expected {fleet.Deployments} each");
            line = "apply";
        }
        var wall = sw.Elapsed.TotalSeconds;
        var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        var perHost = cpuSeconds / fleet.Deployments * 1e6;
        var megabytes = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / 1048576.0;
        // The collections and their pause: what the apply's allocations and survivors cost beyond the code itself.
        var collections = $"GCs {GC.CollectionCount(0) - gen0}/{GC.CollectionCount(1) - gen1}/{GC.CollectionCount(2) - gen2} (gen0/1/2), " +
                          $"{(GC.GetTotalPauseDuration() - paused).TotalMilliseconds:0} ms paused";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"round {round} {line}: {wall:0.000} s wall, {cpuSeconds:0.000} s CPU ({perHost:0.0} us per host deployment), {megabytes:0} MB allocated; {collections}"));
    }
    if (mode == "apply") await fleet.VerifyAsync(store, $"1.{rounds}.0");
    Console.WriteLine($"peak RSS: {PeakRssMegabytes()} MB; load average: {File.ReadAllText("/proc/loadavg").Trim()}");
}
finally
{
    Directory.Delete(dir, recursive: true);
}

static long PeakRssMegabytes() =>
    long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1],
        CultureInfo.InvariantCulture) / 1024;
