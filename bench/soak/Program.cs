// Fault soak (issue 11): N back-to-back applies of a new release to H real sshd hosts on 127.0.0.1 while C CPU hogs
// keep the machine's cores busy, through the real executor (ReconcileService with the SSH driver, command health
// checks over SSH, the artifact fetcher, the planner and a SQLite store). Every commit is good: any quarantine is a
// false one. After every apply each host's `current` is compared with the release the store records for it.
// Prints: applies by result, failed applies, SSH reconnects, quarantined good commits, hosts differing from the store.
// dropEvery > 0 also kills, on every dropEvery-th host of each apply, the sshd process serving the reconciler's own
// connection while the restart runs (once per host and release): a dropped connection every apply, for certain.
// Usage: dotnet run -c Release --project bench/soak -- [applies=30] [hosts=50] [hogs=2] [dropEvery=0]
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Reconciler;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Drivers.Ssh;
using Reconciler.Engine.Tests.Infrastructure;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.State.Sqlite;

var applies = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 30;
var hostCount = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 50;
var hogCount = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2;
var dropEvery = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 0;
const string Env = "soak";
const string DeployPath = "/srv/soak/api";

Console.Error.WriteLine($"starting {hostCount} sshd hosts...");
await using var fleet = await SshdFleet.StartAsync(hostCount, "soak");
var work = Directory.CreateTempSubdirectory("reconciler-soak-").FullName;
// Busy loops in their own processes; `timeout` ends them even if this process dies first.
var hogs = Enumerable.Range(0, hogCount).Select(_ => Process.Start(new ProcessStartInfo("timeout")
{
    ArgumentList = { "-s", "KILL", "2h", "/bin/sh", "-c", "while :; do :; done" },
})!).ToList();
var drivers = new List<SshHostDriver>();
var results = new Dictionary<ApplyResult, int>();
var failures = new List<string>();
var differing = 0;
var durations = new List<double>();
try
{
    await using var store = new SqliteStateStore(Path.Combine(work, "state.db"), TimeProvider.System);
    var deps = new ExecutorDependencies(store, _ =>
        {
            var driver = new SshHostDriver(new SshDriverOptions { PrivateKeyPath = fleet.ClientKeyPath });
            lock (drivers) drivers.Add(driver);
            return driver;
        }, HostDrivers.Probes(ExecutorWiring.Http), HostDrivers.Artifacts(work, ExecutorWiring.Http), HostDrivers.Secrets(), TimeProvider.System);
    var reconciler = ExecutorWiring.Reconciler(deps);
    for (var round = 1; round <= applies; round++)
    {
        var desired = Desired($"c{round}", Api(round));
        var clock = Stopwatch.StartNew();
        ReconcileOutcome outcome;
        try
        {
            using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(10));
            outcome = await reconciler.ReconcileAsync(new ReconcileRequest(desired, "soak@bench", null, null, MaxParallel: hostCount), null, bound.Token);
        }
        catch (ReconcilerException e)
        {
            outcome = new ReconcileOutcome(ApplyResult.Failed, null, e.Message, e.Kind);
        }
        durations.Add(clock.Elapsed.TotalSeconds);
        results[outcome.Result] = results.GetValueOrDefault(outcome.Result) + 1;
        if (!outcome.Succeeded) failures.Add($"c{round}: {outcome.Result} ({outcome.Failure}): {outcome.Message}");
        var off = await DifferingAsync(store);
        differing += off.Count;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"apply {round}/{applies}: {outcome.Result} in {clock.Elapsed.TotalSeconds:0.0}s, reconnects so far {drivers.Sum(d => d.Reconnects)}, hosts differing from the store {off.Count}{(off.Count > 0 ? ": " + string.Join(", ", off) : "")}"));
    }
    var quarantined = await store.ReadQuarantineAsync(Env, CancellationToken.None);
    var sorted = durations.Order().ToList();
    Console.WriteLine($"| fault soak: {applies} back-to-back applies to {hostCount} sshd hosts, {hogCount} CPU hogs" +
                      (dropEvery > 0 ? $", a connection killed mid-activation on every {dropEvery}th host" : "") + " | value |");
    Console.WriteLine("|---|---:|");
    Console.WriteLine($"| applies succeeded | {results.GetValueOrDefault(ApplyResult.Succeeded)} |");
    Console.WriteLine($"| failed applies | {applies - results.GetValueOrDefault(ApplyResult.Succeeded)} ({string.Join(", ", results.Where(r => r.Key != ApplyResult.Succeeded).Select(r => $"{r.Key}: {r.Value}"))}) |");
    Console.WriteLine($"| SSH reconnects (dropped connections reopened mid-step) | {drivers.Sum(d => d.Reconnects)} |");
    Console.WriteLine($"| quarantines of good commits | {quarantined.Count} |");
    Console.WriteLine($"| hosts differing from the store, summed over all applies | {differing} |");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| apply wall time, median / max (s) | {sorted[sorted.Count / 2]:0.0} / {sorted[^1]:0.0} |"));
    Console.WriteLine($"load average at the end: {File.ReadAllText("/proc/loadavg").Trim()}");
    foreach (var f in failures) Console.WriteLine("failure: " + f);
}
finally
{
    foreach (var hog in hogs)
    {
        try { hog.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        hog.Dispose();
    }
    Directory.Delete(work, recursive: true);
}

// Each host's `current` against the release live state records for it (an unknown release counts as differing).
async Task<List<string>> DifferingAsync(IStateStore store)
{
    var live = await store.ReadAsync(Env, CancellationToken.None);
    var hosts = live.Services.TryGetValue("api", out var api) ? api.Hosts : ImmutableSortedDictionary<string, Reconciler.Diff.Live.LiveHost>.Empty;
    var off = new List<string>();
    for (var i = 0; i < fleet.Hosts.Length; i++)
    {
        var actual = new FileInfo(fleet.OnHost(i, DeployPath + "/current")).LinkTarget;
        var recorded = hosts.GetValueOrDefault(fleet.Hosts[i].Name);
        var expected = recorded is { UnknownBecause: null } ? $"releases/{recorded.ActiveRelease}" : null;
        if (actual != expected) off.Add($"{fleet.Hosts[i].Name} runs {actual ?? "nothing"}, store says {(recorded is null ? "nothing" : recorded.UnknownBecause is null ? recorded.ActiveRelease : "unknown")}");
    }
    return off;
}

// A new 200 KB artifact (new checksum, so every apply uploads) whose restart records the release; health is a
// command check over SSH that the new release answers.
ServiceSpec Api(int round)
{
    var random = new Random(round);
    var blob = new byte[200 * 1024];
    random.NextBytes(blob);
    var artifact = TestArtifact.Create(Path.Combine(work, $"r{round}"), "app.tar.gz", new Dictionary<string, string>
    {
        ["bin/restart"] = "#!/bin/sh\n" + (dropEvery > 0 ? DropConnection(round) : "") + "echo \"$RECONCILER_RELEASE\" > \"$RECONCILER_DEPLOY_PATH/restarted\"\n",
        ["data.bin"] = Convert.ToBase64String(blob),
    });
    var health = new HealthSpec([new HealthCheckSpec(HealthCheckKind.Command, null, null, null, null,
            "grep -qx ${release.id} ${deploy.path}/restarted", null, TimeSpan.FromSeconds(20))],
        TimeSpan.FromMilliseconds(200), 1, TimeSpan.Zero, TimeSpan.FromSeconds(60));
    return new ServiceSpec("api", true, $"1.{round}.0", new ArtifactSpec("file://" + artifact.Path, artifact.Sha256), [], "app",
        new DeploySpec(DriverKind.Ssh, DeployPath, "./bin/restart", null, 5), new StrategySpec(StrategyKind.Rolling, new MaxParallel(25, true), 1), health,
        ImmutableSortedDictionary<string, ConfigValue>.Empty.Add("LOG_LEVEL", new ConfigValue.Literal("info")), OnFailure.Rollback, null);
}

// On the chosen hosts, the first run of this release's restart kills the sshd process serving its own connection (the
// child of the listening sshd), as tests/Reconciler.Engine.Tests/Execution/FaultsEndToEndTests.cs does.
string DropConnection(int round) =>
    "n=${RECONCILER_HOST##*-}\n" +
    "M=\"$RECONCILER_DEPLOY_PATH/dropped-$RECONCILER_RELEASE\"\n" +
    $"if [ $(( (n + {round}) % {dropEvery} )) -eq 0 ] && [ ! -e \"$M\" ]; then\n  : > \"$M\"\n" + SshdFleet.KillOwnConnection + "fi\n";

DesiredState Desired(string commit, ServiceSpec api) =>
    new(Env, commit,
        new EnvironmentSpec(Env, [], ImmutableSortedDictionary<string, HostGroup>.Empty.Add("app", new HostGroup("app", [.. fleet.Hosts])), [], null, null),
        ImmutableSortedDictionary<string, ServiceSpec>.Empty.WithComparers(StringComparer.Ordinal).Add("api", api),
        ImmutableSortedDictionary<string, DesiredToggle>.Empty,
        new RepositorySpec(null, new Defaults(5, OnFailure.Rollback, api.Strategy, api.Health), [], null));
