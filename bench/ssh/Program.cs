// The deploy job at the SSH floor (issue 17): a new 200 KB release to N sshd hosts on 127.0.0.1 (default 50):
// upload, unpack into a release dir, render config, switch `current` atomically, restart, a command health check
// over SSH, keep 5 releases. Measured through `reconciler apply` and through the plain bash baseline
// (deploy-xargs.sh: xargs -P + two ssh connections per host), in one batch of all hosts and in 25% batches. The
// modes run interleaved round by round so machine load hits them alike; prints medians of wall time and of the
// controller's CPU (user+sys of the process and every descendant it waited for: dotnet, or bash + xargs + ssh).
// Usage: Reconciler.Bench.Ssh.dll [hosts=50] [rounds=5] [--cli "COMMAND"] [--tuned] [--driver] [--trace DIR]
//   --cli: how to start the CLI (default: dotnet + the Release build next to this bench);
//   --tuned: also the script with -o KexAlgorithms=curve25519-sha256 (the key exchange the driver negotiates);
//   --driver: also the same job through SshHostDriver in this process (no CLI start, load, plan, journal, store);
//   --trace DIR: every apply also writes its spans (`--otel console`) to DIR/apply-TAG-ROUND.txt.
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Reconciler.Bench.Ssh;
using Reconciler.Drivers;
using Reconciler.Drivers.Ssh;
using Reconciler.Engine.Tests.Infrastructure;
using Reconciler.Schema.Model;

var positional = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || args[i - 1] is not ("--cli" or "--trace"))).ToList();
var hostCount = positional.Count > 0 ? int.Parse(positional[0], CultureInfo.InvariantCulture) : 50;
var rounds = positional.Count > 1 ? int.Parse(positional[1], CultureInfo.InvariantCulture) : 5;
string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
var cli = (Option("--cli") ?? "dotnet " + Path.GetFullPath(Path.Combine(AppContext.BaseDirectory,
    "../../../../../src/Reconciler/Cli/bin/Release/net10.0/reconciler.dll"))).Split(' ', StringSplitOptions.RemoveEmptyEntries);
var traceDir = Option("--trace");
var script = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "deploy-xargs.sh"));
const string Tuned = "-o KexAlgorithms=curve25519-sha256";

Console.Error.WriteLine($"starting {hostCount} sshd hosts...");
await using var fleet = await SshdFleet.StartAsync(hostCount, "bench");
var work = Directory.CreateTempSubdirectory("reconciler-bench-").FullName;
var loadAtStart = File.ReadAllText("/proc/loadavg").Trim();
var job = new DeployJob(fleet, work);
try
{
    var knownHosts = Path.Combine(work, "known_hosts");
    await File.WriteAllLinesAsync(knownHosts, fleet.Hosts.Select(h => $"[{h.Address}]:{h.Port} {h.HostKey}"));
    var batchSize = new MaxParallel(25, IsPercent: true).Resolve(hostCount);
    var modes = new List<(string Name, Func<int, Task<Measured>> Run)>
    {
        ($"reconciler apply, 1 batch of {hostCount}", r => ApplyRunAsync(r, "100%", "ae")),
        ($"script xargs -P {hostCount}, 1 batch", r => ScriptRunAsync(r, hostCount, "se")),
        ($"reconciler apply, batches of {batchSize} (25%)", r => ApplyRunAsync(r, "25%", "ab")),
        ($"script xargs -P {batchSize}, batches of {batchSize}", r => ScriptRunAsync(r, batchSize, "sb")),
    };
    if (args.Contains("--tuned"))
    {
        modes.Add(($"script xargs -P {hostCount}, 1 batch, curve25519", r => ScriptRunAsync(r, hostCount, "te", Tuned)));
        modes.Add(($"script xargs -P {batchSize}, batches of {batchSize}, curve25519", r => ScriptRunAsync(r, batchSize, "tb", Tuned)));
    }
    if (args.Contains("--driver"))
    {
        modes.Add(($"driver only, 1 batch of {hostCount}", r => DriverRunAsync(r, hostCount, "de")));
        modes.Add(($"driver only, batches of {batchSize}", r => DriverRunAsync(r, batchSize, "db")));
    }
    var results = modes.Select(_ => new List<Measured>()).ToArray();
    for (var round = 0; round <= rounds; round++) // round 0 warms up (page cache, first releases)
        for (var m = 0; m < modes.Count; m++)
        {
            var measured = await modes[m].Run(round);
            Console.Error.WriteLine(FormattableString.Invariant($"round {round} {modes[m].Name}: {measured.Wall:0.000}s wall, {measured.Cpu:0.000}s CPU"));
            if (round > 0) results[m].Add(measured);
        }

    Console.WriteLine($"| job ({hostCount} hosts, 200 KB artifact, health check, keep 5) | median wall (s) | min | max | median controller CPU (s) | runs |");
    Console.WriteLine("|---|---:|---:|---:|---:|---:|");
    for (var m = 0; m < modes.Count; m++)
    {
        var wall = results[m].Select(r => r.Wall).Order().ToList();
        Console.WriteLine(FormattableString.Invariant(
            $"| {modes[m].Name} | {Median(wall):0.00} | {wall[0]:0.00} | {wall[^1]:0.00} | {Median(results[m].Select(r => r.Cpu)):0.00} | {wall.Count} |"));
    }
    Console.WriteLine();
    // Ratios per round (the two runs of a round saw the same load), then their median.
    void Ratio(int apply, int baseline) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{modes[apply].Name} / {modes[baseline].Name}: wall {Median(results[apply].Zip(results[baseline], (a, b) => a.Wall / b.Wall)):0.00}x, CPU {Median(results[apply].Zip(results[baseline], (a, b) => a.Cpu / b.Cpu)):0.00}x (medians of per-round ratios)"));
    Ratio(0, 1);
    Ratio(2, 3);
    if (args.Contains("--tuned")) { Ratio(0, 4); Ratio(2, 5); }
    Console.WriteLine($"load average at the start: {loadAtStart}; at the end: {File.ReadAllText("/proc/loadavg").Trim()}");
}
finally
{
    Directory.Delete(work, recursive: true);
}

static double Median(IEnumerable<double> xs) { var s = xs.Order().ToList(); return s[s.Count / 2]; }

async Task<Measured> ScriptRunAsync(int round, int batch, string tag, string sshOptions = "")
{
    var artifact = job.NewArtifact(round, tag);
    var id = $"1.{round}.0-{tag}00000000";
    var path = $"/srv/bench/script-{tag}/api";
    var chunks = fleet.Hosts.Chunk(batch).Select((hosts, i) =>
    {
        var file = Path.Combine(work, $"hosts-{tag}-{i}");
        File.WriteAllLines(file, hosts.Select(h => $"{h.User}@{h.Address} {h.Port}"));
        return file;
    }).ToList();
    var measured = await Measured.ChildrenAsync(async () =>
    {
        foreach (var hostsFile in chunks)
            await DeployJob.RunAsync("/bin/bash", work, [script, hostsFile, fleet.ClientKeyPath, Path.Combine(work, "known_hosts"), artifact.Path, id, path,
                batch.ToString(CultureInfo.InvariantCulture)], [("SSH_EXTRA_OPTS", sshOptions)]);
    });
    job.Verify(path, id);
    return measured;
}

// The same job through the CLI: a Git repo with the hosts pinned; each round commits a new version and artifact, then
// `reconciler apply --yes` (load, plan, lock, journal, stage/switch per batch, health gate, prune, state writes).
async Task<Measured> ApplyRunAsync(int round, string maxParallel, string tag)
{
    var repo = await job.ApplyRepoAsync(tag, maxParallel, round);
    string[] arguments = [.. cli[1..], "apply", "--repo", repo, "--env", "bench", "--yes", "--no-color", "--ssh-key", fleet.ClientKeyPath,
        // the CLI's default of 32 host steps at once would cap a batch of 50 (the script runs -P 50)
        "--max-parallel", fleet.Hosts.Length.ToString(CultureInfo.InvariantCulture)];
    if (traceDir is not null) arguments = [.. arguments, "--otel", "console"];
    var output = "";
    var measured = await Measured.ChildrenAsync(async () => output = await DeployJob.RunAsync(cli[0], repo, arguments));
    if (traceDir is not null) await File.WriteAllTextAsync(Path.Combine(traceDir, $"apply-{tag}-{round}.txt"), output);
    job.Verify(DeployJob.ApplyPath(tag), $"1.{round}.0-", prefix: true);
    return measured;
}

// The driver alone, as the executor drives it: a fresh driver per run; per host open, stage, activate, the health
// command, prune (previous release protected); all hosts of a batch in parallel, batches one after another.
async Task<Measured> DriverRunAsync(int round, int batch, string tag)
{
    var artifact = job.NewArtifact(round, tag);
    var id = $"1.{round}.0-{tag}00000000";
    var path = $"/srv/bench/driver-{tag}/api";
    var config = ImmutableSortedDictionary<string, string>.Empty.Add("LOG_LEVEL", "info");
    var measured = await Measured.ThisProcessAsync(async () =>
    {
        await using var driver = new SshHostDriver(new SshDriverOptions { PrivateKeyPath = fleet.ClientKeyPath });
        var sessions = await Task.WhenAll(fleet.Hosts.Select(h => driver.OpenAsync(h, CancellationToken.None)));
        foreach (var chunk in sessions.Chunk(batch))
        {
            await Task.WhenAll(chunk.Select(s => s.StageAsync(new ReleaseBundle("api", path, id, artifact.Path, artifact.Sha256, config), CancellationToken.None)));
            await Task.WhenAll(chunk.Select(async s =>
            {
                await s.ActivateAsync(path, id, "./bin/restart", CancellationToken.None);
                var check = await s.RunAsync($"test \"$(cat {path}/restarted)\" = {id}", TimeSpan.FromSeconds(5), CancellationToken.None);
                if (check.ExitCode != 0) throw new InvalidOperationException($"{s.Host.Name}: health check failed: {check.Output}");
                await s.PruneAsync(path, 5, [id], CancellationToken.None);
            }));
        }
    });
    job.Verify(path, id);
    return measured;
}
