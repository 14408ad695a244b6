// Deploys a new 200 KB release to N sshd hosts on 127.0.0.1 (default 50) through SshHostDriver and through
// the plain bash baseline (deploy-xargs.sh: xargs -P + one ssh per host), in one batch of all hosts and in
// batches of 25%. Modes are interleaved round by round so machine load hits them alike; prints the median
// of the measured rounds. Usage: dotnet run -c Release --project bench/ssh -- [hosts=50] [rounds=5]
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Reconciler.Drivers;
using Reconciler.Drivers.Ssh;
using Reconciler.Schema.Model;
using Reconciler.Engine.Tests.Infrastructure;

var hostCount = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50;
var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
var withSftp = !args.Contains("--no-sftp");
var withApply = args.Contains("--apply");
// The CLI built with this bench (ProjectReference): `reconciler apply` measured end to end when --apply is given.
var cli = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../src/Reconciler/Cli/bin/Release/net10.0/reconciler.dll"));
var script = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "deploy-xargs.sh"));
const string DriverPath = "/srv/bench/driver/api";
const string BashPath = "/srv/bench/bash/api";
const string Restart = "./bin/restart";
// The release each driver mode deployed last round: the executor knows it from live state, so no inspect.
Dictionary<string, string> previous = [];
Dictionary<string, List<double>> phases = [];

void Phase(string name, Stopwatch sw)
{
    lock (phases)
    {
        if (!phases.TryGetValue(name, out var list)) phases[name] = list = [];
        list.Add(sw.Elapsed.TotalMilliseconds);
    }
    sw.Restart();
}

Console.Error.WriteLine($"starting {hostCount} sshd hosts...");
await using var fleet = await SshdFleet.StartAsync(hostCount, "bench");
var work = Directory.CreateTempSubdirectory("reconciler-bench-").FullName;
try
{
    var knownHosts = Path.Combine(work, "known_hosts");
    await File.WriteAllLinesAsync(knownHosts, fleet.Hosts.Select(h => $"[{h.Address}]:{h.Port} {h.HostKey}"));
    var batchSize = new MaxParallel(25, IsPercent: true).Resolve(hostCount);
    var modes = new List<(string Name, Func<int, Task<double>> Run)>
    {
        ("driver, 1 batch of " + hostCount + " (exec upload)", r => DriverRunAsync(r, hostCount, SshUpload.Exec, "de")),
        ($"driver, batches of {batchSize} (25%, exec upload)", r => DriverRunAsync(r, batchSize, SshUpload.Exec, "db")),
        ("driver, 1 batch of " + hostCount + " (SFTP upload)", r => DriverRunAsync(r, hostCount, SshUpload.Sftp, "ds")),
        ($"bash xargs -P {hostCount}, 1 batch, curve25519 kex (what the driver negotiates with OpenSSH < 9.9)", r => BashRunAsync(r, hostCount, "bk", "-o KexAlgorithms=curve25519-sha256")),
        ($"bash xargs -P {hostCount}, 1 batch", r => BashRunAsync(r, hostCount, "be")),
        ($"bash xargs -P {batchSize}, batches of {batchSize}", r => BashRunAsync(r, batchSize, "bb")),
        ($"bash xargs -P {batchSize}, batches of {batchSize}, curve25519 kex", r => BashRunAsync(r, batchSize, "bc", "-o KexAlgorithms=curve25519-sha256")),
    };
    if (!withSftp) modes.RemoveAt(2);
    if (withApply)
    {
        modes.Insert(0, ($"reconciler apply, 1 batch of {hostCount}", r => ApplyRunAsync(r, "100%", "ae")));
        modes.Insert(1, ($"reconciler apply, batches of {batchSize} (25%)", r => ApplyRunAsync(r, "25%", "ab")));
    }
    var times = modes.Select(_ => new List<double>()).ToArray();
    for (var round = 0; round <= rounds; round++) // round 0 warms up (JIT, page cache, first releases)
        for (var m = 0; m < modes.Count; m++)
        {
            var seconds = await modes[m].Run(round);
            Console.Error.WriteLine($"round {round} {modes[m].Name}: {seconds:0.000}s");
            if (round > 0) times[m].Add(seconds);
        }

    Console.WriteLine($"| job ({hostCount} hosts, 200 KB artifact, keep 5) | median wall (s) | min | max | runs |");
    Console.WriteLine("|---|---:|---:|---:|---:|");
    for (var m = 0; m < modes.Count; m++)
    {
        var t = times[m].Order().ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {modes[m].Name} | {t[t.Count / 2]:0.00} | {t[0]:0.00} | {t[^1]:0.00} | {t.Count} |"));
    }
    double MedianOf(string name) => Median(times[modes.FindIndex(m => m.Name == name)]);
    Console.WriteLine();
    var sameKexOne = MedianOf($"bash xargs -P {hostCount}, 1 batch, curve25519 kex (what the driver negotiates with OpenSSH < 9.9)");
    var sameKexBatches = MedianOf($"bash xargs -P {batchSize}, batches of {batchSize}, curve25519 kex");
    Console.WriteLine(FormattableString.Invariant(
        $"driver / bash with the same key exchange: one batch {MedianOf($"driver, 1 batch of {hostCount} (exec upload)") / sameKexOne:0.00}x, batches of {batchSize} {MedianOf($"driver, batches of {batchSize} (25%, exec upload)") / sameKexBatches:0.00}x"));
    if (withApply)
        Console.WriteLine(FormattableString.Invariant(
            $"reconciler apply / bash with the same key exchange: one batch {MedianOf($"reconciler apply, 1 batch of {hostCount}") / sameKexOne:0.00}x, batches of {batchSize} {MedianOf($"reconciler apply, batches of {batchSize} (25%)") / sameKexBatches:0.00}x"));
    Console.WriteLine(FormattableString.Invariant(
        $"driver / bash with ssh's default key exchange: one batch {MedianOf($"driver, 1 batch of {hostCount} (exec upload)") / MedianOf($"bash xargs -P {hostCount}, 1 batch"):0.00}x, batches of {batchSize} {MedianOf($"driver, batches of {batchSize} (25%, exec upload)") / MedianOf($"bash xargs -P {batchSize}, batches of {batchSize}"):0.00}x"));
    Console.WriteLine($"load average at the end: {File.ReadAllText("/proc/loadavg").Trim()}");
}
finally
{
    Directory.Delete(work, recursive: true);
}

static double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);

// A fresh driver per run, as one apply would have: connect, stage (upload + unpack + config), activate
// (switch + restart), prune to 5, batch by batch.
async Task<double> DriverRunAsync(int round, int batch, SshUpload upload, string tag)
{
    var artifact = NewArtifact(round, tag);
    var id = $"1.{round}.0-{tag}00000000";
    var config = ImmutableSortedDictionary<string, string>.Empty.Add("LOG_LEVEL", "info");
    var sw = Stopwatch.StartNew();
    await using (var driver = new SshHostDriver(new SshDriverOptions { PrivateKeyPath = fleet.ClientKeyPath, Upload = upload }))
    {
        foreach (var hosts in fleet.Hosts.Chunk(batch))
            await Task.WhenAll(hosts.Select(async host =>
            {
                var phase = Stopwatch.StartNew();
                var session = await driver.OpenAsync(host, CancellationToken.None);
                Phase("connect", phase);
                await session.StageAsync(new ReleaseBundle("api", DriverPath, id, artifact.Path, artifact.Sha256, config), CancellationToken.None);
                Phase("stage", phase);
                await session.ActivateAsync(DriverPath, id, Restart, CancellationToken.None);
                Phase("activate", phase);
                await session.PruneAsync(DriverPath, 5, previous.TryGetValue(tag, out var p) ? [id, p] : [id], CancellationToken.None);
                Phase("prune", phase);
            }));
        if (driver.Uploads != fleet.Hosts.Length) throw new InvalidOperationException($"expected {fleet.Hosts.Length} uploads, saw {driver.Uploads}");
    }
    var seconds = sw.Elapsed.TotalSeconds;
    Verify(DriverPath, id);
    previous[tag] = id;
    lock (phases)
    {
        Console.Error.WriteLine("  per-host phase means (ms): " + string.Join(", ", phases.Select(kv => $"{kv.Key} {kv.Value.Average():0}")));
        phases.Clear();
    }
    return seconds;
}

async Task<double> BashRunAsync(int round, int batch, string tag, string sshOptions = "")
{
    var artifact = NewArtifact(round, tag);
    var id = $"1.{round}.0-{tag}00000000";
    var chunks = fleet.Hosts.Chunk(batch).Select((hosts, i) =>
    {
        var file = Path.Combine(work, $"hosts-{tag}-{i}");
        File.WriteAllLines(file, hosts.Select(h => $"{h.User}@{h.Address} {h.Port}"));
        return file;
    }).ToList();
    var sw = Stopwatch.StartNew();
    foreach (var hostsFile in chunks)
    {
        var psi = new ProcessStartInfo("/bin/bash")
        {
            ArgumentList = { script, hostsFile, fleet.ClientKeyPath, Path.Combine(work, "known_hosts"), artifact.Path, id, BashPath, batch.ToString(CultureInfo.InvariantCulture) },
            RedirectStandardError = true,
        };
        psi.Environment["SSH_EXTRA_OPTS"] = sshOptions;
        using var p = Process.Start(psi)!;
        var stderr = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"deploy-xargs.sh failed ({p.ExitCode}): {stderr}");
    }
    var seconds = sw.Elapsed.TotalSeconds;
    Verify(BashPath, id);
    return seconds;
}

// The same job through the CLI: a Git repo with 50 pinned hosts; each round commits a new version and artifact,
// then `reconciler apply --yes` (load, plan, lock, stage/switch/prune per batch, health gate, state writes).
async Task<double> ApplyRunAsync(int round, string maxParallel, string tag)
{
    var repo = Path.Combine(work, "repo-" + tag);
    var deployPath = $"/srv/bench/apply-{tag}/api";
    if (!Directory.Exists(repo))
    {
        Directory.CreateDirectory(Path.Combine(repo, "environments"));
        Directory.CreateDirectory(Path.Combine(repo, "services"));
        Directory.CreateDirectory(Path.Combine(repo, "artifacts"));
        await File.WriteAllTextAsync(Path.Combine(repo, "reconciler.yaml"), $"""
            apiVersion: reconciler/v1
            kind: Repository
            state: sqlite:.reconciler/state.db
            defaults:
              keepReleases: 5
              strategy: {"{"} type: rolling, maxParallel: "{maxParallel}" {"}"}
              health: {"{"} interval: 100ms, consecutivePasses: 1, minHealthy: 0s, deadline: 10s {"}"}

            """);
        await File.WriteAllTextAsync(Path.Combine(repo, "environments", "bench.yaml"),
            "apiVersion: reconciler/v1\nkind: Environment\nname: bench\nhostGroups:\n  app:\n    hosts:\n" +
            string.Concat(fleet.Hosts.Select(h =>
                $"      - {{ name: {h.Name}, address: {h.Address}, port: {h.Port}, user: {h.User}, hostKey: \"{h.HostKey}\" }}\n")));
        await File.WriteAllTextAsync(Path.Combine(repo, ".gitignore"), ".reconciler/\n");
        await RunAsync("git", repo, "init", "-q");
    }
    var artifact = NewArtifact(round, tag);
    File.Copy(artifact.Path, Path.Combine(repo, "artifacts", $"app-{round}.tar.gz"), overwrite: true);
    await File.WriteAllTextAsync(Path.Combine(repo, "services", "api.yaml"), $"""
        apiVersion: reconciler/v1
        kind: Service
        name: api
        version: 1.{round}.0
        artifact: {"{"} url: artifacts/app-{round}.tar.gz, sha256: {artifact.Sha256} {"}"}
        hostGroup: app
        deploy: {"{"} driver: ssh, path: {deployPath}, restartCommand: ./bin/restart {"}"}
        config: {"{"} LOG_LEVEL: info {"}"}

        """);
    await RunAsync("git", repo, "add", "-A");
    await RunAsync("git", repo, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", $"api 1.{round}.0");
    var sw = Stopwatch.StartNew();
    // --max-parallel: the CLI's default of 32 host steps at once would cap a batch of 50 (bash runs -P 50).
    await RunAsync("dotnet", repo, cli, "apply", "--repo", repo, "--env", "bench", "--yes", "--no-color", "--ssh-key", fleet.ClientKeyPath,
        "--max-parallel", fleet.Hosts.Length.ToString(CultureInfo.InvariantCulture));
    var seconds = sw.Elapsed.TotalSeconds;
    Verify(deployPath, $"1.{round}.0-", prefix: true);
    return seconds;
}

static async Task RunAsync(string file, string cwd, params string[] arguments)
{
    var psi = new ProcessStartInfo(file) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var a in arguments) psi.ArgumentList.Add(a);
    using var p = Process.Start(psi)!;
    var stdout = p.StandardOutput.ReadToEndAsync();
    var stderr = p.StandardError.ReadToEndAsync();
    await p.WaitForExitAsync();
    if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {p.ExitCode}: {await stderr}{await stdout}");
}

// Both jobs must have done the whole job on every host, or the timing means nothing.
void Verify(string deployPath, string id, bool prefix = false)
{
    for (var i = 0; i < fleet.Hosts.Length; i++)
    {
        var current = new FileInfo(fleet.OnHost(i, deployPath + "/current")).LinkTarget;
        if (prefix ? current?.StartsWith($"releases/{id}", StringComparison.Ordinal) != true : current != $"releases/{id}") throw new InvalidOperationException($"host {i + 1}: current is {current}, expected releases/{id}");
        if (!File.Exists(fleet.OnHost(i, deployPath + "/restarted"))) throw new InvalidOperationException($"host {i + 1}: restart did not run");
        var releases = Directory.GetDirectories(fleet.OnHost(i, deployPath + "/releases")).Length;
        if (releases > 5) throw new InvalidOperationException($"host {i + 1}: {releases} releases kept, expected at most 5");
    }
}

// 200 KB of incompressible bytes plus the restart script: a new artifact (new checksum) every run, so every
// run uploads.
TestArtifact NewArtifact(int round, string tag)
{
    var random = new Random(round * 31 + tag.GetHashCode(StringComparison.Ordinal));
    var blob = new byte[200 * 1024];
    random.NextBytes(blob);
    return TestArtifact.Create(Path.Combine(work, $"{tag}-{round}"), "app.tar.gz", new Dictionary<string, string>
    {
        ["bin/restart"] = "#!/bin/sh\ndate +%s > \"${RECONCILER_DEPLOY_PATH:-..}/restarted\"\n",
        ["data.bin"] = Convert.ToBase64String(blob),
    });
}
