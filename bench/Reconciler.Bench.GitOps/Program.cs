// Commit -> apply-start latency of `reconciler run` (docs/benchmarks/gitops.md).
//
// A real origin repository gets a new commit; the daemon follows it through a file:// remote (bare mirror + fetch,
// the same path as an https remote) and loads the desired state of the new head. "Apply start" is the moment the daemon
// hands the loaded commit to IReconciler (the recording reconciler below returns at once, so a run measures the
// GitOps loop itself, not host work). Two modes:
//   webhook:  interval 10 min; after each commit a signed POST /hooks/git is sent; latency = commit written -> apply start.
//   interval: interval 1 s, no webhook; commits land at arbitrary phases of the timer; latency = commit written -> apply start.
// Not BenchmarkDotNet: this is an end-to-end latency of a long-running loop with its own timer, measured N times.
// Usage: dotnet run -c Release --project bench/Reconciler.Bench.GitOps -- [samples=15]
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using LibGit2Sharp;
using Reconciler.Daemon;
using Reconciler.Execution;
using Reconciler.Git;
using Reconciler.State;

var samples = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 15;
var root = Directory.CreateTempSubdirectory("reconciler-bench-gitops-").FullName;
try
{
    var webhook = await Measure(root, "webhook", samples, useWebhook: true, interval: TimeSpan.FromMinutes(10));
    var interval = await Measure(root, "interval-1s", samples, useWebhook: false, interval: TimeSpan.FromSeconds(1));
    Console.WriteLine();
    Console.WriteLine("| mode | samples | median | p90 | max |");
    Console.WriteLine("|---|---|---|---|---|");
    foreach (var (name, values) in new[] { ("webhook", webhook), ("interval 1 s", interval) })
    {
        var sorted = values.Order().ToArray();
        Console.WriteLine($"| {name} | {sorted.Length} | {Ms(Percentile(sorted, 0.5))} | {Ms(Percentile(sorted, 0.9))} | {Ms(sorted[^1])} |");
    }
}
finally
{
    Directory.Delete(root, recursive: true);
}

static string Ms(double ms) => $"{ms:0} ms";

static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

static async Task<double[]> Measure(string root, string name, int samples, bool useWebhook, TimeSpan interval)
{
    var originPath = Path.Combine(root, name, "origin");
    Repository.Init(originPath);
    using var origin = new Repository(originPath);
    origin.Refs.UpdateTarget("HEAD", "refs/heads/main");
    var counter = 0;
    Commit CommitNext()
    {
        counter++;
        var services = Path.Combine(originPath, "services");
        Directory.CreateDirectory(services);
        File.WriteAllText(Path.Combine(originPath, "reconciler.yaml"), "apiVersion: reconciler/v1\nkind: Repository\n");
        File.WriteAllText(Path.Combine(services, "api.yaml"), $"apiVersion: reconciler/v1\nkind: Service\nname: api\nversion: 1.0.{counter}\n");
        Commands.Stage(origin, "*");
        var sig = new Signature("Bench", "bench@example.com", DateTimeOffset.Now);
        return origin.Commit($"api 1.0.{counter}", sig, sig);
    }
    CommitNext();

    var starts = new ConcurrentDictionary<string, long>();
    var reconciler = new RecordingReconciler(starts);
    var follower = new GitFollower(new Uri(originPath).AbsoluteUri, "main", Path.Combine(root, name, "state"));
    const string secret = "bench-secret";
    var daemon = new GitOpsDaemon(new DaemonOptions("bench", interval, "bench@localhost"), follower, new TreeReadingLoader(),
        reconciler, store: null, TimeProvider.System, TextWriter.Null);
    using var stop = new CancellationTokenSource();
    var loop = daemon.RunAsync(stop.Token);
    await using var http = await DaemonHttp.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), daemon, secret, CancellationToken.None);
    using var client = new HttpClient();
    await WaitFor(() => starts.Count == 1, TimeSpan.FromSeconds(30));

    var latencies = new List<double>();
    var random = new Random(42);
    for (var i = 0; i < samples; i++)
    {
        if (!useWebhook) await Task.Delay(random.Next(0, 1000));    // land at a random phase of the 1 s timer
        var written = Stopwatch.GetTimestamp();
        var commit = CommitNext();
        if (useWebhook)
        {
            var body = Encoding.UTF8.GetBytes($$"""{"ref":"refs/heads/main","after":"{{commit.Sha}}"}""");
            using var content = new ByteArrayContent(body);
            content.Headers.Add(DaemonHttp.SignatureHeader, DaemonHttp.Sign(secret, body));
            using var response = await client.PostAsync(new Uri(http.Address, "/hooks/git"), content);
            response.EnsureSuccessStatusCode();
        }
        await WaitFor(() => starts.ContainsKey(commit.Sha), TimeSpan.FromSeconds(30));
        var ms = Stopwatch.GetElapsedTime(written, starts[commit.Sha]).TotalMilliseconds;
        latencies.Add(ms);
        Console.WriteLine($"{name} #{i + 1}: {ms:0.0} ms");
    }
    await stop.CancelAsync();
    await loop;
    return [.. latencies];
}

static async Task WaitFor(Func<bool> condition, TimeSpan timeout)
{
    var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
    while (!condition())
    {
        if (Stopwatch.GetTimestamp() > deadline) throw new TimeoutException("the daemon did not start the apply in time");
        await Task.Delay(1);
    }
}

/// <summary>Records when the daemon hands a commit over; the apply itself is not the subject of this benchmark.</summary>
sealed class RecordingReconciler(ConcurrentDictionary<string, long> starts) : IReconciler
{
    public Task<ReconcileOutcome> ReconcileAsync(ReconcileRequest request, IProgress<ApplyProgress>? progress, CancellationToken ct)
    {
        starts.TryAdd(request.Desired.Revision, Stopwatch.GetTimestamp());
        return Task.FromResult(new ReconcileOutcome(ApplyResult.Succeeded, null, "recorded", 0));
    }
}

/// <summary>Stand-in until the schema loader is on this branch: reads every file of the commit's tree from the mirror.</summary>
sealed class TreeReadingLoader : IDesiredStateLoader
{
    public Reconciler.Schema.Model.DesiredState Load(string repositoryPath, string commit, string environment)
    {
        using var repo = new Repository(repositoryPath);
        var tree = repo.Lookup<Commit>(commit).Tree;
        var bytes = tree.Where(e => e.TargetType == TreeEntryTargetType.Blob).Sum(e => ((Blob)e.Target).Size);
        _ = bytes;
        return Minimal(environment, commit);
    }

    private static Reconciler.Schema.Model.DesiredState Minimal(string environment, string commit)
    {
        var health = new Reconciler.Schema.Model.HealthSpec([], TimeSpan.FromSeconds(1), 1, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        var defaults = new Reconciler.Schema.Model.Defaults(5, Reconciler.Schema.Model.OnFailure.Rollback,
            new Reconciler.Schema.Model.StrategySpec(Reconciler.Schema.Model.StrategyKind.Rolling, new Reconciler.Schema.Model.MaxParallel(1, false), 0), health);
        var repoSpec = new Reconciler.Schema.Model.RepositorySpec(null, defaults, [], null);
        var env = new Reconciler.Schema.Model.EnvironmentSpec(environment, [],
            System.Collections.Immutable.ImmutableSortedDictionary<string, Reconciler.Schema.Model.HostGroup>.Empty, [], null, null);
        return new Reconciler.Schema.Model.DesiredState(environment, commit, env,
            System.Collections.Immutable.ImmutableSortedDictionary<string, Reconciler.Schema.Model.ServiceSpec>.Empty,
            System.Collections.Immutable.ImmutableSortedDictionary<string, Reconciler.Schema.Model.DesiredToggle>.Empty, repoSpec);
    }
}
