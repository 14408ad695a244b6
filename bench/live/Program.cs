// Issue 13's target: live `reconciler status` of 50 sshd hosts in <= 1.5 s wall, the whole CLI (process start, repo
// load, store read, one SSH connection per host, inspect + one command health check per host). Starts N sshd hosts on
// 127.0.0.1, deploys one service to all of them with `reconciler apply`, then runs `reconciler status` (live) and
// `reconciler status --recorded` (no hosts asked: the floor of process start + load + store) alternately, and prints the
// median, min and max of each, with the load average (the machine may be shared).
// Usage: dotnet run -c Release --project bench/live -- [hosts=50] [rounds=7]
using System.Diagnostics;
using System.Globalization;
using Reconciler.Engine.Tests.Infrastructure;

var hostCount = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50;
var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 7;
// RECONCILER_BENCH_CLI: another build's reconciler.dll (e.g. a ReadyToRun publish), or its `reconciler` executable (the
// self-contained composite build scripts/publish.sh ships, run directly); default the Release build.
var cli = Environment.GetEnvironmentVariable("RECONCILER_BENCH_CLI") is { Length: > 0 } other ? Path.GetFullPath(other)
    : Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../src/Reconciler/Cli/bin/Release/net10.0/reconciler.dll"));
// A .dll runs on `dotnet`; an executable runs itself.
string[] Cli(params string[] arguments) => cli.EndsWith(".dll", StringComparison.Ordinal) ? ["dotnet", cli, .. arguments] : [cli, .. arguments];
const string DeployPath = "/srv/bench/live/api";

Console.Error.WriteLine($"starting {hostCount} sshd hosts...");
await using var fleet = await SshdFleet.StartAsync(hostCount, "bench");
var repo = Directory.CreateTempSubdirectory("reconciler-bench-live-").FullName;
try
{
    Directory.CreateDirectory(Path.Combine(repo, "environments"));
    Directory.CreateDirectory(Path.Combine(repo, "services"));
    Directory.CreateDirectory(Path.Combine(repo, "artifacts"));
    await File.WriteAllTextAsync(Path.Combine(repo, "reconciler.yaml"), """
        apiVersion: reconciler/v1
        kind: Repository
        state: sqlite:.reconciler/state.db
        defaults:
          strategy: { type: rolling, maxParallel: "100%" }
          health: { interval: 100ms, consecutivePasses: 1, minHealthy: 0s, deadline: 20s }

        """);
    await File.WriteAllTextAsync(Path.Combine(repo, "environments", "bench.yaml"),
        "apiVersion: reconciler/v1\nkind: Environment\nname: bench\nhostGroups:\n  app:\n    hosts:\n" +
        string.Concat(fleet.Hosts.Select(h => $"      - {{ name: {h.Name}, address: {h.Address}, port: {h.Port}, user: {h.User}, hostKey: \"{h.HostKey}\" }}\n")));
    var artifact = TestArtifact.Create(Path.Combine(repo, "artifacts"), "app.tar.gz", new Dictionary<string, string>
    {
        ["bin/restart"] = "#!/bin/sh\nexit 0\n",
        ["health"] = "ok\n",
    });
    await File.WriteAllTextAsync(Path.Combine(repo, "services", "api.yaml"), $$"""
        apiVersion: reconciler/v1
        kind: Service
        name: api
        version: 1.0.0
        artifact: { url: artifacts/app.tar.gz, sha256: {{artifact.Sha256}} }
        hostGroup: app
        deploy: { driver: ssh, path: {{DeployPath}}, restartCommand: ./bin/restart }
        health:
          checks:
            - command: { run: "grep -qx ok ${deploy.path}/current/health", timeout: 5s }

        """);
    await File.WriteAllTextAsync(Path.Combine(repo, ".gitignore"), ".reconciler/\n");
    await RunAsync(["git", "init", "-q"]);
    await RunAsync(["git", "add", "-A"]);
    await RunAsync(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", "api 1.0.0"]);
    await RunAsync(Cli("apply", "--repo", repo, "--env", "bench", "--yes", "--no-color", "--ssh-key", fleet.ClientKeyPath,
        "--max-parallel", hostCount.ToString(CultureInfo.InvariantCulture)));

    var modes = new (string Name, string[] Extra)[] { ("status (live: every host asked)", []), ("status --recorded (no host asked)", ["--recorded"]) };
    var times = modes.Select(_ => new List<double>()).ToArray();
    var cpu = modes.Select(_ => new List<double>()).ToArray();   // the CLI process's user+system CPU: less sensitive to load
    var hostsCpu = modes.Select(_ => new List<double>()).ToArray();   // the 50 sshd hosts' side of the same run
    for (var round = 0; round <= rounds; round++)   // round 0 warms up (page cache, first connections' key files)
        for (var m = 0; m < modes.Length; m++)
        {
            var hostsBefore = DescendantsCpuSeconds();
            var sw = Stopwatch.StartNew();
            var (output, cpuSeconds) = await RunTimedAsync(Cli(["status", "--repo", repo, "--env", "bench", "--format", "json", "--ssh-key", fleet.ClientKeyPath, .. modes[m].Extra]));
            var seconds = sw.Elapsed.TotalSeconds;
            var hostSeconds = DescendantsCpuSeconds() - hostsBefore;
            if (m == 0)
            {
                // The timing means nothing unless every host answered healthy and without drift.
                var healthy = output.Split("\"health\": \"healthy\"").Length - 1;
                if (healthy != hostCount || output.Contains("\"drift\": [", StringComparison.Ordinal) && !output.Contains("\"drift\": []", StringComparison.Ordinal))
                    throw new InvalidOperationException($"expected {hostCount} healthy hosts without drift:\n{output}");
            }
            Console.Error.WriteLine($"round {round} {modes[m].Name}: {seconds:0.000}s (load {File.ReadAllText("/proc/loadavg").Trim()})");
            if (round > 0) times[m].Add(seconds);
            if (round > 0) cpu[m].Add(cpuSeconds);
            if (round > 0) hostsCpu[m].Add(hostSeconds);
        }

    Console.WriteLine($"| job ({hostCount} sshd hosts, whole CLI) | median wall (s) | min | max | median CLI CPU (s) | median hosts' sshd CPU (s) | runs |");
    Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
    for (var m = 0; m < modes.Length; m++)
    {
        var t = times[m].Order().ToList();
        var c = cpu[m].Order().ToList();
        var h = hostsCpu[m].Order().ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {modes[m].Name} | {t[t.Count / 2]:0.00} | {t[0]:0.00} | {t[^1]:0.00} | {c[c.Count / 2]:0.00} | {h[h.Count / 2]:0.00} | {t.Count} |"));
    }
    Console.WriteLine($"load average at the end: {File.ReadAllText("/proc/loadavg").Trim()}");
}
finally
{
    Directory.Delete(repo, recursive: true);
}

async Task<string> RunAsync(string[] command) => (await RunTimedAsync(command)).Output;

async Task<(string Output, double CpuSeconds)> RunTimedAsync(string[] command)
{
    var (file, arguments) = (command[0], command[1..]);
    var psi = new ProcessStartInfo(file) { WorkingDirectory = repo, RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var a in arguments) psi.ArgumentList.Add(a);
    var childCpuBefore = ChildrenCpuSeconds();
    using var p = Process.Start(psi)!;
    var stdout = p.StandardOutput.ReadToEndAsync();
    var stderr = p.StandardError.ReadToEndAsync();
    await p.WaitForExitAsync();
    // The runtime reaps the child, so its user+system time is added to this process's cutime+cstime.
    var cpuSeconds = ChildrenCpuSeconds() - childCpuBefore;
    if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {p.ExitCode}: {await stderr}{await stdout}");
    return (await stdout, cpuSeconds);
}

// The CPU of every process below this one (the fleet's sshd processes and, once reaped, their sessions), own and reaped
// children's: what the hosts' side of a run costs. The CLI itself is this process's reaped child, so it is not in here.
static double DescendantsCpuSeconds()
{
    var stats = new List<(int Pid, int Parent, long Ticks)>();
    foreach (var dir in Directory.EnumerateDirectories("/proc"))
    {
        if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
        try
        {
            var stat = File.ReadAllText(Path.Combine(dir, "stat"));
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            stats.Add((pid, int.Parse(f[1], CultureInfo.InvariantCulture),
                long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)
                + long.Parse(f[13], CultureInfo.InvariantCulture) + long.Parse(f[14], CultureInfo.InvariantCulture)));
        }
        catch (IOException) { }   // gone meanwhile
    }
    var children = stats.ToLookup(s => s.Parent);
    long total = 0;
    var todo = new Stack<int>([Environment.ProcessId]);
    while (todo.Count > 0)
        foreach (var child in children[todo.Pop()])
        {
            total += child.Ticks;
            todo.Push(child.Pid);
        }
    return total / 100.0;
}

// cutime + cstime of this process (fields 16 and 17 of /proc/self/stat, clock ticks of 1/100 s): the CPU of reaped children.
static double ChildrenCpuSeconds()
{
    var stat = File.ReadAllText("/proc/self/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return (long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture)) / 100.0;
}
